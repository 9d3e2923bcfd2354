//! The expression tree of the one expression grammar: what the parser
//! ([`super::parser`]) makes of a formula's statement or a network file's
//! equation before anything is built into a graph.
//!
//! Nodes live in an [`ExprArena`] and refer to their operands by
//! [`ExprId`]. The parser pushes a node when it reduces it, so every
//! operand has a smaller id than its user and the nodes of one expression
//! are contiguous: lowering to a graph is one forward loop over ids, with no
//! recursion however long a sum is, and it builds graph nodes in the order
//! the text gives them (the order in which the formula parser used to build
//! them directly). Every node keeps the span of its text; a node that the
//! layer shorthand generates gets the span of the shorthand line.

use crate::error::Span;
use crate::num::Num;

/// An expression node's index in its arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExprId(u32);

impl ExprId {
    /// Its position in the arena.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    /// `^`, `**` or a superscript.
    Pow,
    /// `@`, the matrix product (network equations only).
    MatMul,
}

impl BinOp {
    /// How it is written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Pow => "^",
            BinOp::MatMul => "@",
        }
    }

    /// Binding strength for printing; higher binds tighter (unary minus
    /// sits at 3, between products and powers).
    fn prec(self) -> u8 {
        match self {
            BinOp::Add | BinOp::Sub => 1,
            BinOp::Mul | BinOp::Div | BinOp::MatMul => 2,
            BinOp::Pow => 4,
        }
    }
}

/// `name = value` inside a call's parentheses (`sum(a, axis = 1)`;
/// network equations only).
#[derive(Clone, Debug, PartialEq)]
pub struct Keyword {
    pub name: Box<str>,
    /// The span of the keyword's name.
    pub span: Span,
    pub value: ExprId,
}

/// What an expression node is.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Num(Num),
    /// A name that is not called: a variable, binding, declaration,
    /// equation or constant, resolved when the tree is lowered.
    Name(Box<str>),
    Neg(ExprId),
    Binary {
        op: BinOp,
        /// The operator's own span (a point for an implicit product).
        op_span: Span,
        lhs: ExprId,
        rhs: ExprId,
    },
    /// `( inner )`: the same value, with the span of the parentheses.
    Paren(ExprId),
    /// `name(args, keyword = value)`.
    Call {
        name: Box<str>,
        name_span: Span,
        args: Vec<ExprId>,
        keywords: Vec<Keyword>,
        /// Where the first implicit product between space-separated factors
        /// inside the parentheses is (formulas only), for the message
        /// "missing ','".
        gap: Option<Span>,
    },
    /// `base[index]`, constant indexing along the first axis (network
    /// equations only: `v[0]`, `h[t-1]`).
    Index {
        base: ExprId,
        index: ExprId,
    },
}

/// An expression node and the span of its text.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

/// The nodes of one or more expressions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExprArena {
    nodes: Vec<Expr>,
}

impl ExprArena {
    pub fn new() -> ExprArena {
        ExprArena::default()
    }

    /// Adds a node whose operands are already in the arena.
    pub fn push(&mut self, kind: ExprKind, span: Span) -> ExprId {
        let id = ExprId(u32::try_from(self.nodes.len()).unwrap_or(u32::MAX));
        self.nodes.push(Expr { kind, span });
        id
    }

    pub fn get(&self, id: ExprId) -> &Expr {
        &self.nodes[id.index()]
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// A number node.
    pub fn num(&mut self, n: Num, span: Span) -> ExprId {
        self.push(ExprKind::Num(n), span)
    }

    /// A name node.
    pub fn name(&mut self, name: &str, span: Span) -> ExprId {
        self.push(ExprKind::Name(name.into()), span)
    }

    /// `lhs op rhs`, spanned over both (the operator at `span` too, for
    /// generated nodes that have no text of their own).
    pub fn binary(&mut self, op: BinOp, lhs: ExprId, rhs: ExprId, span: Span) -> ExprId {
        self.push(
            ExprKind::Binary {
                op,
                op_span: span,
                lhs,
                rhs,
            },
            span,
        )
    }

    /// `name(args)`, all at `span`.
    pub fn call(&mut self, name: &str, args: Vec<ExprId>, span: Span) -> ExprId {
        self.push(
            ExprKind::Call {
                name: name.into(),
                name_span: span,
                args,
                keywords: Vec::new(),
                gap: None,
            },
            span,
        )
    }

    /// The ids of the subtree at `root`, in increasing order (operands
    /// before users), found with an explicit stack.
    pub fn subtree(&self, root: ExprId) -> Vec<ExprId> {
        let mut seen = Vec::new();
        let mut stack = vec![root];
        while let Some(id) = stack.pop() {
            seen.push(id);
            stack.extend(self.operands(id));
        }
        seen.sort_unstable();
        seen.dedup();
        seen
    }

    /// The direct operands of a node.
    pub fn operands(&self, id: ExprId) -> Vec<ExprId> {
        match &self.get(id).kind {
            ExprKind::Num(_) | ExprKind::Name(_) => Vec::new(),
            ExprKind::Neg(a) | ExprKind::Paren(a) => vec![*a],
            ExprKind::Binary { lhs, rhs, .. } => vec![*lhs, *rhs],
            ExprKind::Index { base, index } => vec![*base, *index],
            ExprKind::Call { args, keywords, .. } => args
                .iter()
                .copied()
                .chain(keywords.iter().map(|k| k.value))
                .collect(),
        }
    }

    /// The names an expression uses (not called), in source order with
    /// their nodes.
    pub fn names(&self, root: ExprId) -> Vec<(ExprId, &str)> {
        self.subtree(root)
            .into_iter()
            .filter_map(|id| match &self.get(id).kind {
                ExprKind::Name(n) => Some((id, &**n)),
                _ => None,
            })
            .collect()
    }

    /// The expression at `root` as text with as few parentheses as its
    /// structure needs: binary operators spaced (`a + b`, `W @ x`) except
    /// `^`, or all tight with `spaced = false` (`1/sqrt(784)`, the style of
    /// a constant argument). Parentheses written in the source are kept.
    /// It recurses: it prints the small expressions the layer shorthand
    /// generates, never a user's text (which is kept as written).
    pub fn print(&self, root: ExprId, spaced: bool) -> String {
        let mut out = String::new();
        self.print_into(root, spaced, &mut out);
        out
    }

    /// How tightly a node binds when printed.
    fn prec(&self, id: ExprId) -> u8 {
        match &self.get(id).kind {
            ExprKind::Binary { op, .. } => op.prec(),
            ExprKind::Neg(_) => 3,
            ExprKind::Num(n) if n.is_negative() => 3,
            _ => 5,
        }
    }

    fn print_into(&self, id: ExprId, spaced: bool, out: &mut String) {
        let wrapped = |this: &ExprArena, child: ExprId, parens: bool, out: &mut String| {
            if parens {
                out.push('(');
            }
            this.print_into(child, spaced, out);
            if parens {
                out.push(')');
            }
        };
        match &self.get(id).kind {
            ExprKind::Num(n) => out.push_str(&decimal(*n).unwrap_or_else(|| n.to_string())),
            ExprKind::Name(n) => out.push_str(n),
            ExprKind::Neg(a) => {
                out.push('-');
                wrapped(self, *a, self.prec(*a) < 3, out);
            }
            ExprKind::Paren(a) => wrapped(self, *a, true, out),
            ExprKind::Binary { op, lhs, rhs, .. } => {
                let p = op.prec();
                // Left-associative operators need parentheses around an
                // equally tight right operand, `^` around its base.
                let (left, right) = if *op == BinOp::Pow {
                    (self.prec(*lhs) <= p, self.prec(*rhs) < 3)
                } else {
                    (self.prec(*lhs) < p, self.prec(*rhs) <= p)
                };
                wrapped(self, *lhs, left, out);
                if spaced && *op != BinOp::Pow {
                    out.push(' ');
                    out.push_str(op.symbol());
                    out.push(' ');
                } else {
                    out.push_str(op.symbol());
                }
                wrapped(self, *rhs, right, out);
            }
            ExprKind::Call {
                name,
                args,
                keywords,
                ..
            } => {
                out.push_str(name);
                out.push('(');
                let mut first = true;
                for a in args {
                    if !first {
                        out.push_str(", ");
                    }
                    first = false;
                    self.print_into(*a, spaced, out);
                }
                for k in keywords {
                    if !first {
                        out.push_str(", ");
                    }
                    first = false;
                    out.push_str(&k.name);
                    out.push_str(" = ");
                    self.print_into(k.value, spaced, out);
                }
                out.push(')');
            }
            ExprKind::Index { base, index } => {
                wrapped(self, *base, self.prec(*base) < 5, out);
                out.push('[');
                self.print_into(*index, spaced, out);
                out.push(']');
            }
        }
    }
}

/// An exact ratio whose denominator divides a power of ten (at most 10^18),
/// written as the decimal it is (`1/4` as `0.25`), so that the text reads
/// back as the same number, and as a number rather than a division.
fn decimal(n: Num) -> Option<String> {
    let Num::Rational(r) = n else { return None };
    if r.is_integer() {
        return None;
    }
    let (p, q) = (*r.numer(), *r.denom());
    let mut ten = 1i64;
    for digits in 1..=18u32 {
        ten *= 10;
        if ten % q == 0 {
            let scaled = p.checked_mul(ten / q)?;
            let sign = if scaled < 0 { "-" } else { "" };
            let a = scaled.unsigned_abs();
            let t = ten.unsigned_abs();
            let frac = format!("{:0width$}", a % t, width = digits as usize);
            return Some(format!("{sign}{}.{}", a / t, frac.trim_end_matches('0')));
        }
    }
    None
}

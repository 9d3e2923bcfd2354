//! The typed AST of a body, and its construction from syn's tree.
//!
//! Every node keeps the syn node it came from (`syn`), so that errors found
//! later, while unrolling, are spanned on the user's tokens. Names are
//! resolved to slots here (parameters first, then every `let` and loop
//! variable in order of appearance), and every expression is typed as an
//! integer (loop variables, integer literals, index arithmetic) or a float.
//! Unsupported constructs are reported and conversion goes on, so that one
//! run reports every error in the body.

use crate::callee::Callee;
use crate::sig::Sig;
use symgrad_core::emit::Float;
use symgrad_core::Num;

/// Errors collected across all phases, reported together.
#[derive(Default)]
pub(crate) struct Errors(Vec<syn::Error>);

impl Errors {
    pub fn push(&mut self, e: syn::Error) {
        self.0.push(e);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// All errors as one `syn::Error`, or `None` when there were none.
    pub fn combined(self) -> Option<syn::Error> {
        let mut iter = self.0.into_iter();
        let mut first = iter.next()?;
        for e in iter {
            first.combine(e);
        }
        Some(first)
    }
}

const SUPPORTED: &str = "symgrad differentiates `let` bindings, `=` and `+= -= *= /=`, \
     + - * /, unary minus, float literals, parameters, constant indexing `x[i]`, \
     the float methods (powi, powf, sqrt, exp, ln, sin, ...), `std::f64::consts`, \
     `symgrad::sigmoid`/`erf`/..., and `for` loops over constant ranges";

/// The type of an expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ty {
    /// A compile-time integer: loop variables, integer literals, index arithmetic.
    Int,
    /// A float value that depends on the inputs (or a float constant).
    Float,
}

/// What a slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SlotKind {
    Float,
    Int,
    /// An array parameter of this length.
    Array(usize),
}

struct SlotInfo {
    kind: SlotKind,
    mutable: bool,
}

pub(crate) struct Block<'a> {
    pub stmts: Vec<Stmt<'a>>,
    pub result: Option<Expr<'a>>,
}

pub(crate) enum Stmt<'a> {
    /// `let x = value;` (also a reassignment `x = value;` and, with `op`,
    /// `x op= value`).
    Set {
        slot: usize,
        op: Option<Arith>,
        value: Expr<'a>,
    },
    /// `for var in start..end { body }` (`..=` when `inclusive`).
    For {
        slot: usize,
        name: String,
        start: Expr<'a>,
        end: Expr<'a>,
        inclusive: bool,
        body: Block<'a>,
        syn: &'a syn::ExprForLoop,
    },
    /// A nested `{ ... }` block, or an expression evaluated for nothing.
    Block(Block<'a>),
}

pub(crate) struct Expr<'a> {
    pub kind: Kind<'a>,
    pub ty: Ty,
    pub syn: &'a syn::Expr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    /// Integer remainder (index arithmetic only).
    Rem,
}

/// A constant of `std::f64::consts`, built exactly in the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Constant {
    Pi,
    E,
    Tau,
    /// `pi / n`.
    PiOver(i64),
    /// `n / pi`.
    OverPi(i64),
    /// `ln(n)`.
    Ln(i64),
    /// `sqrt(n)`.
    Sqrt(i64),
    /// `1 / sqrt(n)`.
    InvSqrt(i64),
    /// `1 / ln(n)`: `LOG2_E` is `1 / ln 2`.
    InvLn(i64),
}

impl Constant {
    fn from_name(name: &str) -> Option<Constant> {
        Some(match name {
            "PI" => Constant::Pi,
            "E" => Constant::E,
            "TAU" => Constant::Tau,
            "FRAC_PI_2" => Constant::PiOver(2),
            "FRAC_PI_3" => Constant::PiOver(3),
            "FRAC_PI_4" => Constant::PiOver(4),
            "FRAC_PI_6" => Constant::PiOver(6),
            "FRAC_PI_8" => Constant::PiOver(8),
            "FRAC_1_PI" => Constant::OverPi(1),
            "FRAC_2_PI" => Constant::OverPi(2),
            "LN_2" => Constant::Ln(2),
            "LN_10" => Constant::Ln(10),
            "SQRT_2" => Constant::Sqrt(2),
            "FRAC_1_SQRT_2" => Constant::InvSqrt(2),
            "LOG2_E" => Constant::InvLn(2),
            "LOG10_E" => Constant::InvLn(10),
            _ => return None,
        })
    }
}

pub(crate) enum Kind<'a> {
    /// A float constant.
    Num(Num),
    /// An integer constant.
    Int(i64),
    /// A scalar slot (parameter, `let` binding or loop variable).
    Slot(usize),
    /// `array[index]`.
    Index {
        slot: usize,
        len: usize,
        index: Box<Expr<'a>>,
    },
    Binary(Arith, Box<Expr<'a>>, Box<Expr<'a>>),
    Neg(Box<Expr<'a>>),
    Call(Callee, Vec<Expr<'a>>),
    Const(Constant),
    /// An integer used as a float (`i as f64`, or an integer literal in a
    /// float context).
    ToFloat(Box<Expr<'a>>),
    Block(Box<Block<'a>>),
}

/// A checked body, ready to expand.
pub(crate) struct Body<'a> {
    pub block: Block<'a>,
    /// How many slots the body uses (parameters first).
    pub slots: usize,
}

struct Lowerer<'a, 'e> {
    float: Float,
    slots: Vec<SlotInfo>,
    scopes: Vec<Vec<(String, usize)>>,
    errors: &'e mut Errors,
    _marker: std::marker::PhantomData<&'a ()>,
}

fn err(tokens: impl quote::ToTokens, message: impl std::fmt::Display) -> syn::Error {
    syn::Error::new_spanned(tokens, message)
}

/// Converts a function's block.
pub(crate) fn function<'a>(
    sig: &Sig<'a>,
    block: &'a syn::Block,
    errors: &mut Errors,
) -> Option<Body<'a>> {
    let mut l = Lowerer::new(sig, errors);
    let block = l.block(&block.stmts, true, block)?;
    Some(Body {
        block,
        slots: l.slots.len(),
    })
}

/// Converts a closure's body expression.
pub(crate) fn closure<'a>(
    sig: &Sig<'a>,
    body: &'a syn::Expr,
    errors: &mut Errors,
) -> Option<Body<'a>> {
    let mut l = Lowerer::new(sig, errors);
    let result = l.float_expr(body)?;
    Some(Body {
        block: Block {
            stmts: Vec::new(),
            result: Some(result),
        },
        slots: l.slots.len(),
    })
}

impl<'a, 'e> Lowerer<'a, 'e> {
    fn new(sig: &Sig<'a>, errors: &'e mut Errors) -> Self {
        let mut l = Lowerer {
            float: sig.float,
            slots: Vec::new(),
            scopes: vec![Vec::new()],
            errors,
            _marker: std::marker::PhantomData,
        };
        for p in &sig.params {
            let kind = match p.len {
                Some(n) => SlotKind::Array(n),
                None => SlotKind::Float,
            };
            l.declare(p.ident.to_string(), kind, p.mutable);
        }
        l
    }

    fn declare(&mut self, name: String, kind: SlotKind, mutable: bool) -> usize {
        let slot = self.slots.len();
        self.slots.push(SlotInfo { kind, mutable });
        if let Some(scope) = self.scopes.last_mut() {
            scope.push((name, slot));
        }
        slot
    }

    fn lookup(&self, name: &str) -> Option<usize> {
        self.scopes
            .iter()
            .rev()
            .find_map(|s| s.iter().rev().find(|(n, _)| n == name).map(|&(_, i)| i))
    }

    fn kind(&self, slot: usize) -> SlotKind {
        self.slots.get(slot).map_or(SlotKind::Float, |s| s.kind)
    }

    fn push(&mut self, e: syn::Error) {
        self.errors.push(e);
    }

    /// A block's statements. With `value`, the block must end in a float
    /// expression (bare or `return expr;`); without, it must not produce one.
    fn block(
        &mut self,
        stmts: &'a [syn::Stmt],
        value: bool,
        whole: &'a dyn quote::ToTokens,
    ) -> Option<Block<'a>> {
        self.scopes.push(Vec::new());
        let out = self.block_inner(stmts, value, whole);
        self.scopes.pop();
        out
    }

    fn block_inner(
        &mut self,
        stmts: &'a [syn::Stmt],
        value: bool,
        whole: &'a dyn quote::ToTokens,
    ) -> Option<Block<'a>> {
        let mut out = Vec::new();
        let mut result = None;
        let mut ok = true;
        // Stray `;` parse as empty verbatim statements: skip them.
        let real: Vec<&'a syn::Stmt> = stmts
            .iter()
            .filter(
                |s| !matches!(s, syn::Stmt::Expr(syn::Expr::Verbatim(t), Some(_)) if t.is_empty()),
            )
            .collect();
        let count = real.len();
        for (i, stmt) in real.into_iter().enumerate() {
            let last = i + 1 == count;
            match stmt {
                syn::Stmt::Local(local) => match self.local(local) {
                    Some(s) => out.push(s),
                    None => ok = false,
                },
                syn::Stmt::Item(item) => {
                    self.push(err(
                        item,
                        "items are not supported inside a differentiated body",
                    ));
                    ok = false;
                }
                syn::Stmt::Macro(m) => {
                    self.push(err(
                        &m.mac,
                        format!(
                            "macros are not supported inside a differentiated body: {SUPPORTED}"
                        ),
                    ));
                    ok = false;
                }
                syn::Stmt::Expr(e, semi) => {
                    if let syn::Expr::Return(r) = e {
                        if !(last && value) {
                            self.push(err(
                                r,
                                "`return` is supported only as the last statement of the function",
                            ));
                            ok = false;
                            continue;
                        }
                        match &r.expr {
                            Some(e) => match self.float_expr(e) {
                                Some(e) => result = Some(e),
                                None => ok = false,
                            },
                            None => {
                                self.push(err(r, "`return` needs a value"));
                                ok = false;
                            }
                        }
                        continue;
                    }
                    if is_statement(e) {
                        match self.statement(e) {
                            Some(s) => out.push(s),
                            None => ok = false,
                        }
                        continue;
                    }
                    if last && semi.is_none() && value {
                        match self.float_expr(e) {
                            Some(e) => result = Some(e),
                            None => ok = false,
                        }
                        continue;
                    }
                    if semi.is_none() && !value {
                        self.push(err(
                            e,
                            "a loop body cannot produce a value: end the expression with `;` \
                             or assign it (`s += ...;`)",
                        ));
                        ok = false;
                        continue;
                    }
                    // An expression statement: checked, and evaluated for nothing.
                    match self.expr(e) {
                        Some(_) => {}
                        None => ok = false,
                    }
                }
            }
        }
        if value && result.is_none() && ok {
            self.push(err(
                whole,
                "the body must end with a float expression (bare, or `return expr;`)",
            ));
            return None;
        }
        ok.then_some(Block { stmts: out, result })
    }

    fn local(&mut self, local: &'a syn::Local) -> Option<Stmt<'a>> {
        let (pat, ty) = match &local.pat {
            syn::Pat::Type(pt) => (&*pt.pat, Some(&*pt.ty)),
            other => (other, None),
        };
        let ident = match pat {
            syn::Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => p,
            other => {
                self.push(err(
                    other,
                    "only `let name = ...;` and `let mut name = ...;` are supported, not patterns",
                ));
                return None;
            }
        };
        let Some(init) = &local.init else {
            self.push(err(
                local,
                "a `let` needs a value here: write `let x = ...;`",
            ));
            return None;
        };
        if let Some((else_token, _)) = &init.diverge {
            self.push(err(else_token, "`let ... else` is not supported"));
            return None;
        }
        let declared = match ty {
            None => None,
            Some(t) => match self.type_kind(t) {
                Some(k) => Some(k),
                None => {
                    self.declare_after_error(ident);
                    return None;
                }
            },
        };
        let Some(value) = self.expr(&init.expr) else {
            self.declare_after_error(ident);
            return None;
        };
        let (value, kind) = match (declared, value.ty) {
            (Some(SlotKind::Float), _) | (None, Ty::Float) => (to_float(value), SlotKind::Float),
            (Some(_), Ty::Int) | (None, Ty::Int) => (value, SlotKind::Int),
            (Some(_), Ty::Float) => {
                self.push(err(
                    &init.expr,
                    "expected an integer: this `let` is declared with an integer type",
                ));
                return None;
            }
        };
        // Declared after the value is converted: `let x = x + 1.0;` reads the
        // outer `x`.
        let slot = self.declare(ident.ident.to_string(), kind, ident.mutability.is_some());
        Some(Stmt::Set {
            slot,
            op: None,
            value,
        })
    }

    /// Declares a `let` whose value had an error, so that its uses do not
    /// report "cannot find" as well.
    fn declare_after_error(&mut self, ident: &syn::PatIdent) {
        self.declare(ident.ident.to_string(), SlotKind::Float, true);
    }

    /// The slot kind of a `let` type annotation.
    fn type_kind(&mut self, ty: &'a syn::Type) -> Option<SlotKind> {
        if let Some(f) = crate::sig::float_type(ty) {
            if f != self.float {
                self.push(err(
                    ty,
                    "all floats in the body must share the function's float type",
                ));
                return None;
            }
            return Some(SlotKind::Float);
        }
        if is_int_type(ty) {
            return Some(SlotKind::Int);
        }
        self.push(err(
            ty,
            "unsupported type: a `let` binding holds the function's float type or an integer",
        ));
        None
    }

    /// Statements that are expressions in syn: assignments and loops.
    fn statement(&mut self, e: &'a syn::Expr) -> Option<Stmt<'a>> {
        match e {
            syn::Expr::Assign(a) => {
                let slot = self.assignee(&a.left)?;
                let value = self.expr(&a.right)?;
                let value = self.coerce(slot, value)?;
                Some(Stmt::Set {
                    slot,
                    op: None,
                    value,
                })
            }
            syn::Expr::Binary(b) => {
                let op = match b.op {
                    syn::BinOp::AddAssign(_) => Arith::Add,
                    syn::BinOp::SubAssign(_) => Arith::Sub,
                    syn::BinOp::MulAssign(_) => Arith::Mul,
                    syn::BinOp::DivAssign(_) => Arith::Div,
                    syn::BinOp::RemAssign(_) => Arith::Rem,
                    _ => {
                        self.push(err(
                            b.op,
                            "unsupported compound assignment: use `+=`, `-=`, `*=` or `/=`",
                        ));
                        return None;
                    }
                };
                let slot = self.assignee(&b.left)?;
                let value = self.expr(&b.right)?;
                if self.kind(slot) == SlotKind::Int && value.ty == Ty::Float {
                    self.push(err(
                        &b.right,
                        "expected an integer: the variable assigned to holds an integer \
                         (write its initial value as a float, `0.0`, to accumulate floats)",
                    ));
                    return None;
                }
                if op == Arith::Rem && self.kind(slot) != SlotKind::Int {
                    self.push(err(b.op, "`%=` is supported on integers only"));
                    return None;
                }
                let value = self.coerce(slot, value)?;
                Some(Stmt::Set {
                    slot,
                    op: Some(op),
                    value,
                })
            }
            syn::Expr::ForLoop(f) => self.for_loop(f),
            syn::Expr::Block(b) => {
                if let Some(label) = &b.label {
                    self.push(err(label, "labeled blocks are not supported"));
                    return None;
                }
                Some(Stmt::Block(self.block(&b.block.stmts, false, b)?))
            }
            other => {
                // `is_statement` says which expressions come here; anything
                // else is reported by `expr`.
                let e = self.expr(other)?;
                Some(Stmt::Block(Block {
                    stmts: Vec::new(),
                    result: Some(e),
                }))
            }
        }
    }

    /// The slot a `=` or `op=` writes.
    fn assignee(&mut self, left: &'a syn::Expr) -> Option<usize> {
        let name = match strip(left) {
            syn::Expr::Path(p) if p.qself.is_none() => p.path.get_ident(),
            syn::Expr::Index(_) => {
                self.push(err(
                    left,
                    "assigning to array elements is not supported: bind a new name with `let`",
                ));
                return None;
            }
            _ => None,
        };
        let Some(name) = name else {
            self.push(err(left, "only a local variable can be assigned to"));
            return None;
        };
        let Some(slot) = self.lookup(&name.to_string()) else {
            self.push(err(name, format!("cannot find `{name}` in this body")));
            return None;
        };
        let info = self.slots.get(slot);
        if !info.is_some_and(|s| s.mutable) {
            self.push(err(
                name,
                format!("cannot assign to `{name}`: declare it with `let mut {name}`"),
            ));
            return None;
        }
        if let SlotKind::Array(_) = self.kind(slot) {
            self.push(err(name, "assigning to a whole array is not supported"));
            return None;
        }
        Some(slot)
    }

    /// `value` converted to the type of `slot`.
    fn coerce(&mut self, slot: usize, value: Expr<'a>) -> Option<Expr<'a>> {
        match (self.kind(slot), value.ty) {
            (SlotKind::Float, _) => Some(to_float(value)),
            (SlotKind::Int, Ty::Int) => Some(value),
            _ => {
                self.push(err(
                    value.syn,
                    "expected an integer: the variable assigned to holds an integer",
                ));
                None
            }
        }
    }

    fn for_loop(&mut self, f: &'a syn::ExprForLoop) -> Option<Stmt<'a>> {
        if let Some(label) = &f.label {
            self.push(err(label, "labeled loops are not supported"));
            return None;
        }
        let name = match &*f.pat {
            syn::Pat::Ident(p)
                if p.by_ref.is_none() && p.subpat.is_none() && p.mutability.is_none() =>
            {
                Some(p.ident.to_string())
            }
            syn::Pat::Wild(_) => None,
            other => {
                self.push(err(
                    other,
                    "the loop variable must be a plain name: `for i in 0..n`",
                ));
                return None;
            }
        };
        let range = match strip(&f.expr) {
            syn::Expr::Range(r) => Some(r),
            _ => None,
        };
        let bounds = range.and_then(|r| match (&r.start, &r.end) {
            (Some(s), Some(e)) => Some((s, e, matches!(r.limits, syn::RangeLimits::Closed(_)))),
            _ => None,
        });
        let Some((start, end, inclusive)) = bounds else {
            self.push(err(
                &f.expr,
                "only `for` loops over constant ranges are supported: `for i in 0..N` or `0..=N`, \
                 unrolled when the macro runs",
            ));
            return None;
        };
        let start = self.int_expr(start, "a loop bound");
        let end = self.int_expr(end, "a loop bound");
        self.scopes.push(Vec::new());
        let slot = self.declare(name.clone().unwrap_or_default(), SlotKind::Int, false);
        if name.is_none() {
            // `_` binds nothing.
            if let Some(scope) = self.scopes.last_mut() {
                scope.clear();
            }
        }
        let body = self.block(&f.body.stmts, false, &f.body);
        self.scopes.pop();
        Some(Stmt::For {
            slot,
            name: name.unwrap_or_else(|| "_".to_string()),
            start: start?,
            end: end?,
            inclusive,
            body: body?,
            syn: f,
        })
    }

    /// An expression that must be a compile-time integer.
    fn int_expr(&mut self, e: &'a syn::Expr, what: &str) -> Option<Expr<'a>> {
        let x = self.expr(e)?;
        if x.ty != Ty::Int {
            self.push(err(
                e,
                format!(
                    "{what} must be a constant integer expression (integer literals, \
                     loop variables and integer `let` bindings, with + - * / %), \
                     known when the macro unrolls the body"
                ),
            ));
            return None;
        }
        Some(x)
    }

    fn float_expr(&mut self, e: &'a syn::Expr) -> Option<Expr<'a>> {
        self.expr(e).map(to_float)
    }

    fn expr(&mut self, e: &'a syn::Expr) -> Option<Expr<'a>> {
        let mk = |kind, ty| Expr { kind, ty, syn: e };
        match e {
            syn::Expr::Paren(p) => self.expr(&p.expr),
            syn::Expr::Group(g) => self.expr(&g.expr),
            syn::Expr::Lit(l) => self.literal(&l.lit, e),
            syn::Expr::Path(p) => self.path(p, e),
            syn::Expr::Unary(u) => match u.op {
                syn::UnOp::Neg(_) => {
                    let a = self.expr(&u.expr)?;
                    let ty = a.ty;
                    Some(mk(Kind::Neg(Box::new(a)), ty))
                }
                _ => {
                    self.push(err(
                        u.op,
                        format!("this operator is not supported: {SUPPORTED}"),
                    ));
                    None
                }
            },
            syn::Expr::Binary(b) => {
                let op = match b.op {
                    syn::BinOp::Add(_) => Arith::Add,
                    syn::BinOp::Sub(_) => Arith::Sub,
                    syn::BinOp::Mul(_) => Arith::Mul,
                    syn::BinOp::Div(_) => Arith::Div,
                    syn::BinOp::Rem(_) => Arith::Rem,
                    syn::BinOp::AddAssign(_)
                    | syn::BinOp::SubAssign(_)
                    | syn::BinOp::MulAssign(_)
                    | syn::BinOp::DivAssign(_) => {
                        self.push(err(e, "an assignment is a statement here: end it with `;`"));
                        return None;
                    }
                    _ => {
                        self.push(err(
                            b.op,
                            "comparisons and logical or bitwise operators are not supported: \
                             the gradient is straight-line code over + - * / and the float \
                             methods (for piecewise functions use `max`, `min`, `abs` or \
                             `symgrad::relu`)",
                        ));
                        return None;
                    }
                };
                let a = self.expr(&b.left);
                let c = self.expr(&b.right);
                let (a, c) = (a?, c?);
                let ty = if a.ty == Ty::Int && c.ty == Ty::Int {
                    Ty::Int
                } else {
                    Ty::Float
                };
                if op == Arith::Rem && ty == Ty::Float {
                    self.push(err(
                        b.op,
                        "`%` is supported on integers only (index arithmetic)",
                    ));
                    return None;
                }
                let (a, c) = if ty == Ty::Float {
                    (to_float(a), to_float(c))
                } else {
                    (a, c)
                };
                Some(mk(Kind::Binary(op, Box::new(a), Box::new(c)), ty))
            }
            syn::Expr::MethodCall(m) => self.method_call(m, e),
            syn::Expr::Call(c) => self.call(c, e),
            syn::Expr::Index(ix) => {
                let base = match strip(&ix.expr) {
                    syn::Expr::Path(p) if p.qself.is_none() => p.path.get_ident(),
                    _ => None,
                };
                let Some(base) = base else {
                    self.push(err(
                        &ix.expr,
                        "only array parameters can be indexed (`x[i]` with `x: [f64; N]`)",
                    ));
                    return None;
                };
                let Some(slot) = self.lookup(&base.to_string()) else {
                    self.push(err(base, format!("cannot find `{base}` in this body")));
                    return None;
                };
                let SlotKind::Array(len) = self.kind(slot) else {
                    self.push(err(
                        base,
                        format!(
                            "`{base}` is not an array: only `[f64; N]` parameters can be indexed"
                        ),
                    ));
                    return None;
                };
                let index = self.int_expr(&ix.index, "an index")?;
                Some(mk(
                    Kind::Index {
                        slot,
                        len,
                        index: Box::new(index),
                    },
                    Ty::Float,
                ))
            }
            syn::Expr::Cast(c) => {
                let inner = self.expr(&c.expr)?;
                if let Some(f) = crate::sig::float_type(&c.ty) {
                    if f != self.float {
                        self.push(err(
                            &c.ty,
                            "casting to another float type is not supported: \
                             the body computes in the function's float type",
                        ));
                        return None;
                    }
                    return Some(to_float(inner));
                }
                if is_int_type(&c.ty) {
                    if inner.ty == Ty::Int {
                        return Some(inner);
                    }
                    self.push(err(
                        e,
                        "casting a float to an integer is not supported: it has no derivative",
                    ));
                    return None;
                }
                self.push(err(
                    &c.ty,
                    "unsupported cast: use `as f64` (or `as f32`) on integers",
                ));
                None
            }
            syn::Expr::Block(b) => {
                if let Some(label) = &b.label {
                    self.push(err(label, "labeled blocks are not supported"));
                    return None;
                }
                let block = self.block(&b.block.stmts, true, b)?;
                Some(mk(Kind::Block(Box::new(block)), Ty::Float))
            }
            syn::Expr::If(x) => {
                self.push(err(
                    join(&x.if_token, &*x.cond),
                    "`if` expressions are not supported: the gradient is straight-line code; \
                     for piecewise functions use `max`, `min`, `abs` or `symgrad::relu`",
                ));
                None
            }
            syn::Expr::Match(x) => {
                self.push(err(
                    join(&x.match_token, &*x.expr),
                    "`match` is not supported: the gradient is straight-line code; \
                     for piecewise functions use `max`, `min`, `abs` or `symgrad::relu`",
                ));
                None
            }
            syn::Expr::While(x) => {
                self.push(err(
                    join(&x.while_token, &*x.cond),
                    "`while` loops are not supported: use a `for` loop over a constant range \
                     (`for i in 0..N`), which is unrolled",
                ));
                None
            }
            syn::Expr::Loop(x) => {
                self.push(err(
                    x.loop_token,
                    "`loop` is not supported: use a `for` loop over a constant range \
                     (`for i in 0..N`), which is unrolled",
                ));
                None
            }
            syn::Expr::Macro(m) => {
                self.push(err(
                    &m.mac,
                    format!("macros are not supported inside a differentiated body: {SUPPORTED}"),
                ));
                None
            }
            syn::Expr::Return(r) => {
                self.push(err(
                    r,
                    "`return` is supported only as the last statement of the function",
                ));
                None
            }
            syn::Expr::ForLoop(_) | syn::Expr::Assign(_) => {
                self.push(err(e, "this is a statement, not a value"));
                None
            }
            _ => {
                self.push(err(
                    e,
                    format!("this expression is not supported: {SUPPORTED}"),
                ));
                None
            }
        }
    }

    fn literal(&mut self, lit: &'a syn::Lit, e: &'a syn::Expr) -> Option<Expr<'a>> {
        let mk = |kind, ty| Expr { kind, ty, syn: e };
        match lit {
            syn::Lit::Float(f) => {
                let digits = f.base10_digits();
                let n = Num::parse_decimal(digits)
                    .or_else(|| digits.parse::<f64>().ok().map(Num::Float));
                match n {
                    Some(n) => Some(mk(Kind::Num(n), Ty::Float)),
                    None => {
                        self.push(err(f, "this float literal could not be read"));
                        None
                    }
                }
            }
            syn::Lit::Int(i) => {
                if matches!(i.suffix(), "f32" | "f64") {
                    let n = Num::parse_decimal(i.base10_digits());
                    return match n {
                        Some(n) => Some(mk(Kind::Num(n), Ty::Float)),
                        None => {
                            self.push(err(i, "this literal could not be read"));
                            None
                        }
                    };
                }
                match i.base10_parse::<i64>() {
                    Ok(n) => Some(mk(Kind::Int(n), Ty::Int)),
                    Err(_) => {
                        self.push(err(i, "integer literal out of range for `i64`"));
                        None
                    }
                }
            }
            other => {
                self.push(err(
                    other,
                    "unsupported literal: only numbers appear in a differentiated body",
                ));
                None
            }
        }
    }

    fn path(&mut self, p: &'a syn::ExprPath, e: &'a syn::Expr) -> Option<Expr<'a>> {
        let mk = |kind, ty| Expr { kind, ty, syn: e };
        if p.qself.is_none() {
            if let Some(ident) = p.path.get_ident() {
                let name = ident.to_string();
                let Some(slot) = self.lookup(&name) else {
                    self.push(err(
                        ident,
                        format!(
                            "cannot find `{name}` in this body: it may use the parameters, \
                             `let` bindings, loop variables and `std::f64::consts`"
                        ),
                    ));
                    return None;
                };
                return match self.kind(slot) {
                    SlotKind::Float => Some(mk(Kind::Slot(slot), Ty::Float)),
                    SlotKind::Int => Some(mk(Kind::Slot(slot), Ty::Int)),
                    SlotKind::Array(_) => {
                        self.push(err(
                            ident,
                            format!("`{name}` is an array: use its elements, `{name}[i]`"),
                        ));
                        None
                    }
                };
            }
            if let Some(c) = float_const_path(&p.path) {
                return Some(mk(Kind::Const(c), Ty::Float));
            }
        }
        self.push(err(
            p,
            "unsupported path: a body may name its parameters, `let` bindings, loop \
             variables and the constants of `std::f64::consts` (`PI`, `E`, `TAU`, `LN_2`, ...)",
        ));
        None
    }

    fn method_call(&mut self, m: &'a syn::ExprMethodCall, e: &'a syn::Expr) -> Option<Expr<'a>> {
        let name = m.method.to_string();
        if let Some(t) = &m.turbofish {
            self.push(err(t, "turbofish arguments are not supported here"));
            return None;
        }
        if name == "len" && m.args.is_empty() {
            if let syn::Expr::Path(p) = strip(&m.receiver) {
                if let Some(slot) = p.path.get_ident().and_then(|i| self.lookup(&i.to_string())) {
                    if let SlotKind::Array(n) = self.kind(slot) {
                        let n = i64::try_from(n).unwrap_or(i64::MAX);
                        return Some(Expr {
                            kind: Kind::Int(n),
                            ty: Ty::Int,
                            syn: e,
                        });
                    }
                }
            }
        }
        let Some(callee) = Callee::method(&name) else {
            self.push(err(
                &m.method,
                format!(
                    "`{}.{name}()` is not supported: symgrad differentiates the float methods {}",
                    quote::ToTokens::to_token_stream(&m.receiver),
                    crate::callee::methods()
                ),
            ));
            return None;
        };
        let mut args: Vec<&'a syn::Expr> = vec![&m.receiver];
        args.extend(m.args.iter());
        self.finish_call(callee, &name, &args, &m.method, e)
    }

    fn call(&mut self, c: &'a syn::ExprCall, e: &'a syn::Expr) -> Option<Expr<'a>> {
        let path = match strip(&c.func) {
            syn::Expr::Path(p) if p.qself.is_none() => Some(&p.path),
            _ => None,
        };
        let Some(path) = path else {
            self.push(err(
                &c.func,
                "only calls to the float methods (`f64::sin(x)`) and to the facade's \
                 functions (`symgrad::sigmoid(x)`) are supported",
            ));
            return None;
        };
        let names: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        let has_args = path.segments.iter().any(|s| !s.arguments.is_none());
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let callee = match names.as_slice() {
            [ty @ ("f64" | "f32"), method] if path.leading_colon.is_none() && !has_args => {
                let float = if *ty == "f64" { Float::F64 } else { Float::F32 };
                if float != self.float {
                    self.push(err(
                        path,
                        "calling the other float type's method: the body computes in the \
                         function's float type",
                    ));
                    return None;
                }
                Callee::method(method).map(|c| (c, *method))
            }
            ["symgrad", f] if !has_args => Callee::facade(f).map(|c| (c, *f)),
            _ => None,
        };
        let Some((callee, name)) = callee else {
            let shown = quote::ToTokens::to_token_stream(path)
                .to_string()
                .replace(' ', "");
            let hint = match names.as_slice() {
                [f] if Callee::facade(f).is_some() => {
                    format!("; call it as `symgrad::{f}(x)`")
                }
                [f] if Callee::method(f).is_some() => {
                    format!("; call it as a method, `x.{f}()`")
                }
                _ => String::new(),
            };
            self.push(err(
                path,
                format!(
                    "unknown function `{shown}`: symgrad differentiates the float methods \
                     ({}, as `x.sin()` or `f64::sin(x)`) and {}{hint}",
                    crate::callee::methods(),
                    crate::callee::facade_functions()
                ),
            ));
            return None;
        };
        let args: Vec<&'a syn::Expr> = c.args.iter().collect();
        let name = name.to_string();
        self.finish_call(callee, &name, &args, path, e)
    }

    fn finish_call(
        &mut self,
        callee: Callee,
        name: &str,
        args: &[&'a syn::Expr],
        at: &dyn quote::ToTokens,
        e: &'a syn::Expr,
    ) -> Option<Expr<'a>> {
        if args.len() != callee.arity() {
            let n = callee.arity().saturating_sub(1);
            self.push(err(
                at,
                format!(
                    "`{name}` takes {n} argument{} besides its receiver",
                    if n == 1 { "" } else { "s" }
                ),
            ));
            return None;
        }
        let mut out = Vec::with_capacity(args.len());
        let mut ok = true;
        for (i, a) in args.iter().enumerate() {
            let x = if callee == Callee::Powi && i == 1 {
                self.int_expr(a, "the exponent of `powi`")
            } else {
                self.float_expr(a)
            };
            match x {
                Some(x) => out.push(x),
                None => ok = false,
            }
        }
        ok.then_some(Expr {
            kind: Kind::Call(callee, out),
            ty: Ty::Float,
            syn: e,
        })
    }
}

/// Parentheses and invisible groups removed.
fn strip(e: &syn::Expr) -> &syn::Expr {
    match e {
        syn::Expr::Paren(p) => strip(&p.expr),
        syn::Expr::Group(g) => strip(&g.expr),
        other => other,
    }
}

/// Expressions that act as statements: assignments, compound assignments,
/// loops and blocks.
fn is_statement(e: &syn::Expr) -> bool {
    match e {
        syn::Expr::Assign(_) | syn::Expr::ForLoop(_) => true,
        syn::Expr::Binary(b) => matches!(
            b.op,
            syn::BinOp::AddAssign(_)
                | syn::BinOp::SubAssign(_)
                | syn::BinOp::MulAssign(_)
                | syn::BinOp::DivAssign(_)
                | syn::BinOp::RemAssign(_)
                | syn::BinOp::BitXorAssign(_)
                | syn::BinOp::BitAndAssign(_)
                | syn::BinOp::BitOrAssign(_)
                | syn::BinOp::ShlAssign(_)
                | syn::BinOp::ShrAssign(_)
        ),
        _ => false,
    }
}

fn to_float(e: Expr<'_>) -> Expr<'_> {
    match e.ty {
        Ty::Float => e,
        Ty::Int => {
            let syn = e.syn;
            Expr {
                kind: Kind::ToFloat(Box::new(e)),
                ty: Ty::Float,
                syn,
            }
        }
    }
}

fn is_int_type(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Path(p) if p.qself.is_none() => p.path.get_ident().is_some_and(|i| {
            matches!(
                i.to_string().as_str(),
                "usize" | "isize" | "i32" | "i64" | "u32" | "u64" | "i16" | "u16" | "i8" | "u8"
            )
        }),
        _ => false,
    }
}

/// `PI` in `std::f64::consts::PI`, `core::f64::consts::PI`,
/// `::std::f64::consts::PI` or `f64::consts::PI` (also `f32`).
fn float_const_path(path: &syn::Path) -> Option<Constant> {
    if path.segments.iter().any(|s| !s.arguments.is_none()) {
        return None;
    }
    let names: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let name = match names.as_slice() {
        ["std" | "core", "f64" | "f32", "consts", name] => name,
        ["f64" | "f32", "consts", name] if path.leading_colon.is_none() => name,
        _ => return None,
    };
    Constant::from_name(name)
}

/// The tokens of `a` then `b`, so that an error spans both.
fn join(a: &dyn quote::ToTokens, b: &dyn quote::ToTokens) -> proc_macro2::TokenStream {
    let mut tokens = a.to_token_stream();
    b.to_tokens(&mut tokens);
    tokens
}

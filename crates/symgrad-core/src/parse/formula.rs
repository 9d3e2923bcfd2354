//! Formulas: statements of the formula syntax read with the one expression
//! grammar ([`super::parser`], [`Dialect::Formula`]) and lowered from the
//! expression tree into a scalar graph.
//!
//! [`lower`] is the lowering of the formula syntax's expressions: names are
//! resolved by the caller (variables and bindings here; the constant
//! arguments and index formulas of network files' initializers there),
//! calls are the builtins of [`crate::graph::BUILTINS`], and a division by
//! the constant 0 is refused. It walks the tree's ids in increasing order,
//! which is the order the parser reduced them in, so the graph's nodes are
//! made in the order of the text.

use super::ast::{BinOp, ExprArena, ExprId, ExprKind};
use super::lexer::{lex, Tok};
use super::parser::{internal, syntax, Dialect, ExprParser};
use crate::error::{Error, ErrorKind, Result, Span};
use crate::formula::{Binding, Formula};
use crate::graph::{Builtin, Graph, NamedConst, NodeId};
use rustc_hash::FxHashMap;

/// The constant a name stands for, if any.
pub(crate) fn constant(name: &str) -> Option<NamedConst> {
    match name {
        "pi" | "π" => Some(NamedConst::Pi),
        "e" => Some(NamedConst::E),
        _ => None,
    }
}

/// Builds the expression at `root` of `arena` (formula syntax) into
/// `graph`, asking `resolve` for the node of each name in source order.
///
/// # Errors
/// A call with the wrong number of arguments (a
/// [`Syntax`](ErrorKind::Syntax) error over the call, or at the gap where a
/// `,` is missing) and a division by the constant 0
/// ([`InvalidValue`](ErrorKind::InvalidValue), at the `/`).
pub(crate) fn lower(
    src: &str,
    arena: &ExprArena,
    root: ExprId,
    graph: &mut Graph,
    resolve: &mut dyn FnMut(&mut Graph, &str, Span) -> NodeId,
) -> Result<NodeId> {
    let mut built: FxHashMap<ExprId, NodeId> = FxHashMap::default();
    for id in arena.subtree(root) {
        let e = arena.get(id);
        let at = |k: &ExprId| built.get(k).copied().ok_or_else(|| internal(e.span));
        let node = match &e.kind {
            ExprKind::Num(n) => graph.constant(*n),
            ExprKind::Name(name) => resolve(graph, name, e.span),
            ExprKind::Neg(a) => {
                let a = at(a)?;
                graph.neg(a)
            }
            ExprKind::Paren(a) => at(a)?,
            ExprKind::Binary {
                op,
                op_span,
                lhs,
                rhs,
            } => {
                let (a, b) = (at(lhs)?, at(rhs)?);
                match op {
                    BinOp::Add => graph.add(a, b),
                    BinOp::Sub => graph.sub(a, b),
                    BinOp::Mul => graph.mul(a, b),
                    BinOp::Div => {
                        if graph.as_const(b).is_some_and(|n| n.is_zero()) {
                            return Err(Error::at(
                                ErrorKind::InvalidValue,
                                *op_span,
                                "division by zero: the divisor is the constant 0",
                            ));
                        }
                        graph.div(a, b)
                    }
                    BinOp::Pow => graph.pow(a, b),
                    BinOp::MatMul => return Err(internal(*op_span)),
                }
            }
            ExprKind::Call {
                name,
                name_span,
                args,
                gap,
                ..
            } => {
                let callee = Builtin::from_name(name).ok_or_else(|| internal(*name_span))?;
                let args = args.iter().map(at).collect::<Result<Vec<_>>>()?;
                match callee.build(graph, &args) {
                    Some(node) => node,
                    None => {
                        if let (Some(gap), true) = (gap, args.len() < callee.arity().1) {
                            return Err(syntax(*gap, "missing ',' between arguments"));
                        }
                        let expected = match callee.arity() {
                            (1, 1) => "1 argument".to_string(),
                            (lo, hi) if lo == hi => format!("{lo} arguments"),
                            (lo, hi) => format!("{lo} or {hi} arguments"),
                        };
                        let text = src.get(name_span.start..name_span.end).unwrap_or(name);
                        return Err(syntax(
                            e.span,
                            format!("{text} takes {expected}, found {}", args.len()),
                        ));
                    }
                }
            }
            ExprKind::Index { .. } => return Err(internal(e.span)),
        };
        built.insert(id, node);
    }
    built
        .get(&root)
        .copied()
        .ok_or_else(|| internal(arena.get(root).span))
}

/// The statement loop of a formula: bindings, then the output.
pub(super) struct Parser<'s> {
    src: &'s str,
    graph: Graph,
    vars: Vec<NodeId>,
    bound: FxHashMap<String, NodeId>,
    bindings: Vec<Binding>,
}

impl<'s> Parser<'s> {
    pub(super) fn new(src: &'s str) -> Parser<'s> {
        Parser {
            src,
            graph: Graph::new(),
            vars: Vec::new(),
            bound: FxHashMap::default(),
            bindings: Vec::new(),
        }
    }

    /// Parses every statement and returns the formula.
    pub(super) fn formula(mut self) -> Result<Formula> {
        let src = self.src;
        let tokens = lex(src);
        let mut arena = ExprArena::new();
        let mut pos = 0;
        // The output node, and the span of the statement when it was a bare
        // expression (which only the last statement may be).
        let mut output: Option<(NodeId, Option<Span>)> = None;
        loop {
            let mut p = ExprParser::new(src, &tokens, Dialect::Formula, &mut arena);
            p.pos = pos;
            while p.peek().kind == Tok::Sep {
                p.pos += 1;
            }
            let first = p.peek().clone();
            if first.kind == Tok::Eof {
                break;
            }
            if let Some((_, Some(bare))) = output {
                return Err(syntax(
                    bare,
                    "expected 'name = ...': every statement before the last must bind a name",
                ));
            }
            let binding = match (&first.kind, &p.peek_at(p.pos + 1).kind) {
                (Tok::Ident, Tok::Eq) => {
                    let name = src.get(first.span.start..first.span.end).unwrap_or("");
                    self.check_binding_name(name, first.span)?;
                    p.pos += 2;
                    Some(name)
                }
                _ => None,
            };
            let intro = binding.map(|_| p.peek_at(p.pos - 1).clone());
            let root = p.expression(intro)?;
            let end = p.peek_at(p.pos.saturating_sub(1)).span.end;
            pos = p.pos;
            let node = self.lower_statement(&arena, root)?;
            arena = ExprArena::new();
            match binding {
                Some(name) => {
                    if self.graph.var_node(name).is_some() {
                        return Err(syntax(
                            first.span,
                            format!("cannot bind '{name}': its own expression uses '{name}' as a variable"),
                        ));
                    }
                    self.bound.insert(name.to_string(), node);
                    self.bindings.push(Binding {
                        name: name.to_string(),
                        node,
                        span: first.span,
                    });
                    output = Some((node, None));
                }
                None => output = Some((node, Some(Span::new(first.span.start, end)))),
            }
        }
        let Some((output, _)) = output else {
            return Err(syntax(Span::point(0), "empty formula"));
        };
        // Only the variables the output depends on are variables of f: one
        // that appears only in an unused binding is not.
        let reached = self.graph.reachable_mask(&[output]);
        self.vars.retain(|v| reached[v.index()]);
        Ok(Formula {
            graph: self.graph,
            output,
            vars: self.vars,
            bindings: self.bindings,
        })
    }

    /// One statement's expression, names being constants, bindings above
    /// or variables (new ones in order of first appearance).
    fn lower_statement(&mut self, arena: &ExprArena, root: ExprId) -> Result<NodeId> {
        let (bound, vars) = (&self.bound, &mut self.vars);
        let mut resolve = |graph: &mut Graph, name: &str, _: Span| {
            if let Some(c) = constant(name) {
                return graph.named(c);
            }
            if let Some(&node) = bound.get(name) {
                return node;
            }
            let known = graph.var_names().len();
            let node = graph.var(name);
            if graph.var_names().len() > known {
                vars.push(node);
            }
            node
        };
        lower(self.src, arena, root, &mut self.graph, &mut resolve)
    }

    fn check_binding_name(&self, name: &str, span: Span) -> Result<()> {
        let problem = if Builtin::from_name(name).is_some() {
            "it is a function name"
        } else if constant(name).is_some() {
            "it is a constant"
        } else if self.bound.contains_key(name) {
            "it is already bound"
        } else if self.graph.var_node(name).is_some() {
            "it is already used as a variable above"
        } else {
            return Ok(());
        };
        Err(syntax(span, format!("cannot bind '{name}': {problem}")))
    }
}

/// A single expression of the formula syntax, from `tokens[pos..]` of a
/// network file (an initializer's index formula or a distribution's
/// argument), as a tree in `arena`; returns its root and the position of
/// the token that ended it.
pub(crate) fn expression_at(
    src: &str,
    tokens: &[super::lexer::Token],
    pos: usize,
    arena: &mut ExprArena,
) -> Result<(ExprId, usize)> {
    let mut p = ExprParser::new(src, tokens, Dialect::Formula, arena);
    p.pos = pos;
    let intro = pos.checked_sub(1).map(|k| p.peek_at(k).clone());
    let root = p.expression(intro)?;
    Ok((root, p.pos))
}

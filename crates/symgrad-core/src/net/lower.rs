//! Network equations from their tree to tensor nodes: the network dialect
//! of the one expression grammar ([`crate::parse::ast`]) lowered with the
//! graph's `try_` builders, so that every shape error carries the span of
//! the expression it is about (`cannot multiply [30, 784] by [10]` under
//! `W @ x`).
//!
//! Names are resolved among the declarations and the equations built so
//! far (`pi`/`π` and `e` are the constants). Calls: the elementwise
//! functions of the formula syntax (`sigmoid`, `exp`, `log`/`ln`, ...),
//! `sum(a)` and `mean(a)` over all entries or `sum(a, k)` /
//! `sum(a, axis = k)` over axis `k`, `max(a)` (a reduction) and
//! `max(a, b)`/`min(a, b)` (elementwise), `pow(a, b)`, `softmax`,
//! `logsumexp`, `transpose`, `cross_entropy(p, y)` (`-sum(y * log(p))`)
//! and `mse(a, y)` (`mean((a - y)^2)`), `dropout(a, p)`
//! (`a * mask * (1/(1 - p))`, the mask a per-sample data tensor the call
//! declares, `p` a constant in `[0, 1)`), `batchnorm(a)`
//! (`(a - mean) / sqrt(var + 1e-5)`, with variables for the statistics,
//! see [`BatchNorm`](super::BatchNorm)) and `batchnorm(a, gamma, beta)`
//! (the same `⊙ gamma + beta`, `gamma` and `beta` declared parameters of
//! `a`'s shape).
//!
//! Images (NCHW per sample, `[C, H, W]`): `conv2d(x, K)` and
//! `conv2d(x, K, b)` with `stride = s` and `padding = p` (1 and 0 unless
//! given), `maxpool(x, k)`, `avgpool(x, k)` (k×k windows, stride k) and
//! `flatten(x)`; `v[t]` with a constant `t` selects along the first axis.

use super::{Defined, Implicit};
use crate::error::{Error, ErrorKind, Result, Span};
use crate::eval::Program;
use crate::graph::{Axis, Func, Graph, NamedConst, NodeId, Op};
use crate::num::Num;
use crate::parse::ast::{BinOp, ExprArena, ExprId, ExprKind, Keyword};
use rustc_hash::FxHashMap;

/// Names that are functions or constants and so cannot be defined.
pub(super) fn is_reserved(name: &str) -> bool {
    matches!(
        name,
        "sum"
            | "mean"
            | "max"
            | "min"
            | "pow"
            | "softmax"
            | "logsumexp"
            | "transpose"
            | "cross_entropy"
            | "mse"
            | "dropout"
            | "batchnorm"
            | "conv2d"
            | "maxpool"
            | "avgpool"
            | "flatten"
            | "pi"
            | "π"
            | "e"
    ) || Func::from_name(name).is_some()
}

fn syntax(span: Span, message: impl Into<String>) -> Error {
    Error::at(ErrorKind::Syntax, span, message)
}

/// A built node and the source it came from.
#[derive(Clone, Copy)]
struct Item {
    node: NodeId,
    span: Span,
}

/// Lowers equations of one file into its graph.
pub(super) struct Lowering<'a> {
    pub(super) src: &'a str,
    pub(super) exprs: &'a ExprArena,
    pub(super) graph: &'a mut Graph,
    pub(super) names: &'a FxHashMap<String, Defined>,
    pub(super) implicit: &'a mut Implicit,
    /// The indexed families (`h` of `h[0] = ...`); `h[k]` reads a step.
    pub(super) families: &'a rustc_hash::FxHashSet<&'a str>,
    /// In one step of a recurrence: its variable and value (`t = 3`).
    pub(super) step: Option<(&'a str, i64)>,
}

/// The step `(family, k)` that the expression at `id` reads, if it is
/// `h[k]` with `h` an indexed family and `k` a step number or `t ± c`
/// (`t` the recurrence's variable at `step`).
pub(super) fn step_read<'e>(
    exprs: &'e ExprArena,
    id: ExprId,
    families: &rustc_hash::FxHashSet<&str>,
    step: Option<(&str, i64)>,
) -> Option<(&'e str, i64)> {
    let ExprKind::Index { base, index } = &exprs.get(id).kind else {
        return None;
    };
    let ExprKind::Name(family) = &exprs.get(*base).kind else {
        return None;
    };
    if !families.contains(&**family) {
        return None;
    }
    Some((family, step_value(exprs, *index, step)?))
}

/// The value of an index expression: a number, the recurrence's variable,
/// or a sum or difference of them (what the syntax checks allow).
fn step_value(exprs: &ExprArena, id: ExprId, step: Option<(&str, i64)>) -> Option<i64> {
    match &exprs.get(id).kind {
        ExprKind::Num(n) => n.as_int(),
        ExprKind::Name(v) => step.filter(|(var, _)| **v == **var).map(|(_, t)| t),
        ExprKind::Paren(a) => step_value(exprs, *a, step),
        ExprKind::Neg(a) => step_value(exprs, *a, step).map(|x| -x),
        ExprKind::Binary { op, lhs, rhs, .. } => {
            let (a, b) = (
                step_value(exprs, *lhs, step)?,
                step_value(exprs, *rhs, step)?,
            );
            match op {
                BinOp::Add => a.checked_add(b),
                BinOp::Sub => a.checked_sub(b),
                _ => None,
            }
        }
        _ => None,
    }
}

impl Lowering<'_> {
    fn text(&self, span: Span) -> &str {
        self.src.get(span.start..span.end).unwrap_or("")
    }

    /// Wraps a builder's shape error with the span of the expression.
    fn built(&self, r: Result<NodeId>, span: Span) -> Result<Item> {
        match r {
            Ok(node) => Ok(Item { node, span }),
            Err(e) => Err(Error::at(e.kind(), span, e.message())),
        }
    }

    /// The node of the expression at `root`, its operands built first (in
    /// increasing id order, the order of the text).
    pub(super) fn equation(&mut self, root: ExprId) -> Result<NodeId> {
        let mut built: FxHashMap<ExprId, Item> = FxHashMap::default();
        let order = self.exprs.subtree(root);
        // The names read through an index (`h` of `h[t-1]`), found once.
        let index_bases: rustc_hash::FxHashSet<ExprId> = order
            .iter()
            .filter_map(|&u| match &self.exprs.get(u).kind {
                ExprKind::Index { base, .. } => Some(*base),
                _ => None,
            })
            .collect();
        for id in order {
            let e = self.exprs.get(id);
            let span = e.span;
            let get = |k: &ExprId| {
                built
                    .get(k)
                    .copied()
                    .ok_or_else(|| crate::parse::parser::internal(span))
            };
            let item = match &e.kind {
                ExprKind::Num(n) => Item {
                    node: self.graph.constant(*n),
                    span,
                },
                // The recurrence's variable is the step's number.
                ExprKind::Name(name) if self.step.is_some_and(|(v, _)| v == &**name) => Item {
                    node: self.graph.int(self.step.map_or(0, |(_, t)| t)),
                    span,
                },
                // A family is only read through an index (below); its name
                // alone stands for nothing.
                ExprKind::Name(name) if self.families.contains(&**name) => {
                    if !index_bases.contains(&id) {
                        return Err(syntax(
                            span,
                            format!("'{name}' is an indexed family: read one step, {name}[k]"),
                        ));
                    }
                    Item {
                        node: self.graph.int(0),
                        span,
                    }
                }
                ExprKind::Name(name) => self.name(name, span)?,
                ExprKind::Neg(a) => {
                    let a = get(a)?;
                    Item {
                        node: self.graph.neg(a.node),
                        span,
                    }
                }
                ExprKind::Paren(a) => Item {
                    node: get(a)?.node,
                    span,
                },
                ExprKind::Binary { op, lhs, rhs, .. } => {
                    let (a, b) = (get(lhs)?.node, get(rhs)?.node);
                    let r = match op {
                        BinOp::Add => self.graph.try_add(a, b),
                        BinOp::Sub => self.graph.try_sub(a, b),
                        BinOp::Mul => self.graph.try_mul(a, b),
                        BinOp::Div => self.graph.try_div(a, b),
                        BinOp::Pow => self.graph.try_pow(a, b),
                        BinOp::MatMul => self.graph.try_matmul(a, b),
                    };
                    self.built(r, span)?
                }
                ExprKind::Call {
                    name,
                    name_span,
                    args,
                    keywords,
                    ..
                } => {
                    let args = args.iter().map(get).collect::<Result<Vec<_>>>()?;
                    let keywords = keywords
                        .iter()
                        .map(|k| Ok((k, get(&k.value)?)))
                        .collect::<Result<Vec<_>>>()?;
                    self.call(name, *name_span, span, &args, &keywords)?
                }
                ExprKind::Index { base, index } => {
                    match step_read(self.exprs, id, self.families, self.step) {
                        // `h[k]`: the step's own node.
                        Some((family, k)) => match self.names.get(&format!("{family}[{k}]")) {
                            Some(d) => Item { node: d.node, span },
                            None => {
                                return Err(syntax(
                                    span,
                                    format!("this reads {family}[{k}], which no equation defines"),
                                ))
                            }
                        },
                        // `v[k]`: a slice along the first axis.
                        None => {
                            let (base, index) = (get(base)?, get(index)?);
                            let at = self.count(&index, "an index")?;
                            let r = self.graph.try_select(base.node, 0, at);
                            self.built(r, span)?
                        }
                    }
                }
            };
            built.insert(id, item);
        }
        built
            .get(&root)
            .map(|i| i.node)
            .ok_or_else(|| crate::parse::parser::internal(self.exprs.get(root).span))
    }

    fn name(&mut self, name: &str, span: Span) -> Result<Item> {
        match name {
            "pi" | "π" => {
                let node = self.graph.named(NamedConst::Pi);
                return Ok(Item { node, span });
            }
            "e" if !self.names.contains_key("e") => {
                let node = self.graph.named(NamedConst::E);
                return Ok(Item { node, span });
            }
            _ => {}
        }
        match self.names.get(name) {
            Some(d) => Ok(Item { node: d.node, span }),
            None if is_reserved(name) => Err(syntax(
                span,
                format!("expected '(' after the function name '{name}'"),
            )),
            None => Err(Error::at(
                ErrorKind::UnknownVariable,
                span,
                format!(
                    "unknown name '{name}': declare it (input, target, param) \
                     or define it by an equation"
                ),
            )),
        }
    }

    /// `name(args, keywords)` over `span`.
    fn call(
        &mut self,
        name: &str,
        name_span: Span,
        span: Span,
        args: &[Item],
        keywords: &[(&Keyword, Item)],
    ) -> Result<Item> {
        let arity = |n: usize| -> Result<()> {
            if args.len() == n {
                Ok(())
            } else {
                Err(syntax(
                    span,
                    format!(
                        "{name} takes {n} argument{}, found {}",
                        if n == 1 { "" } else { "s" },
                        args.len()
                    ),
                ))
            }
        };
        // `axis = k`, the keyword form of a reduction's axis; `stride = s`
        // and `padding = p` of a convolution.
        let mut axis_kw: Option<(Item, Span)> = None;
        let mut conv = crate::graph::conv::Conv {
            stride: 1,
            padding: 0,
        };
        for (k, item) in keywords {
            if name == "conv2d" && matches!(&*k.name, "stride" | "padding") {
                let n = self.count(item, &format!("the {}", k.name))?;
                match &*k.name {
                    "stride" => conv.stride = n,
                    _ => conv.padding = n,
                }
                continue;
            }
            if &*k.name != "axis" {
                return Err(syntax(
                    k.span,
                    format!("{name}(...) takes no argument '{} = ...'", k.name),
                ));
            }
            if axis_kw.is_some() {
                return Err(syntax(k.span, "'axis =' is given twice"));
            }
            axis_kw = Some((*item, k.span));
        }
        // A reduction: `sum(a)`, `sum(a, k)`, `sum(a, axis = k)`, and the same
        // for `mean`; `max(a)` and `max(a, axis = k)` (`max(a, b)` is the
        // elementwise larger).
        let reduction = match (&axis_kw, name, args.len()) {
            (Some((item, _)), "sum" | "mean" | "max", 1) => Some(self.axis(item)?),
            (Some((_, at)), _, _) => {
                return Err(syntax(
                    *at,
                    format!(
                        "'axis =' goes with sum, mean or max of one tensor, \
                         as in sum(a, axis = k), not with {name}(...)"
                    ),
                ))
            }
            (None, "sum" | "mean", 2) => Some(self.axis(&args[1])?),
            (None, "sum" | "mean" | "max", 1) => Some(Axis::All),
            _ => None,
        };
        if let Some(axis) = reduction {
            let a = args[0].node;
            let r = match name {
                "sum" => self.graph.try_sum(a, axis),
                "mean" => self.graph.try_mean(a, axis),
                _ => self.graph.try_max_reduce(a, axis),
            };
            return self.built(r, span);
        }
        let r = match name {
            "sum" | "mean" => Err(syntax(
                span,
                format!(
                    "{name} takes 1 argument, or 2 with an axis, found {}",
                    args.len()
                ),
            )),
            "max" | "min" => {
                arity(2)?;
                let op = if name == "max" { Op::Max } else { Op::Min };
                self.graph.try_extremum(op, args[0].node, args[1].node)
            }
            "pow" => {
                arity(2)?;
                self.graph.try_pow(args[0].node, args[1].node)
            }
            "softmax" => {
                arity(1)?;
                self.graph.try_softmax(args[0].node)
            }
            "logsumexp" => {
                arity(1)?;
                self.graph.try_logsumexp(args[0].node)
            }
            "transpose" => {
                arity(1)?;
                self.graph.try_transpose(args[0].node)
            }
            "cross_entropy" => {
                // -sum(y * log(p)), written out so that its derivative is
                // the rule table's.
                arity(2)?;
                let log_p = self.ln(args[0].node);
                self.graph
                    .try_mul(args[1].node, log_p)
                    .and_then(|t| self.graph.try_sum(t, Axis::All))
                    .map(|s| self.graph.neg(s))
            }
            "mse" => {
                // mean((a - y)^2), from the same builders.
                arity(2)?;
                let two = self.graph.int(2);
                self.graph
                    .try_sub(args[0].node, args[1].node)
                    .and_then(|d| self.graph.try_pow(d, two))
                    .and_then(|s| self.graph.try_mean(s, Axis::All))
            }
            "dropout" => {
                // a * mask * (1/(1 - p)): inverted dropout, the mask drawn
                // per sample by the evaluators.
                arity(2)?;
                let p = self.probability(&args[1])?;
                let scale = match Num::int(1).div(Num::int(1).sub(p)) {
                    Some(s) => s,
                    None => Num::from(1.0 / (1.0 - p.to_f64())),
                };
                let scale = self.graph.constant(scale);
                self.implicit
                    .dropout(self.graph, args[0].node, (p.to_f64(), scale), span)
            }
            "conv2d" => {
                // conv2d(x, K) or conv2d(x, K, b); stride and padding by keyword.
                if !(2..=3).contains(&args.len()) {
                    return Err(syntax(
                        span,
                        format!(
                            "conv2d takes 2 arguments, conv2d(x, K), or 3, conv2d(x, K, b) \
                             (then stride = s, padding = p if not 1 and 0), found {}",
                            args.len()
                        ),
                    ));
                }
                match args.get(2) {
                    Some(b) => self
                        .graph
                        .try_conv2d_bias(args[0].node, args[1].node, b.node, conv),
                    None => self.graph.try_conv2d(args[0].node, args[1].node, conv),
                }
            }
            "maxpool" | "avgpool" => {
                arity(2)?;
                let k = self.count(&args[1], "a pooling window")?;
                match name {
                    "maxpool" => self.graph.try_maxpool(args[0].node, k),
                    _ => self.graph.try_avgpool(args[0].node, k),
                }
            }
            "flatten" => {
                arity(1)?;
                self.graph.try_flatten(args[0].node)
            }
            "batchnorm" => {
                let affine = match args.len() {
                    1 => None,
                    3 => Some(self.affine(args, span)?),
                    n => {
                        return Err(syntax(
                            span,
                            format!(
                                "batchnorm takes 1 argument, batchnorm(a), or 3, \
                                 batchnorm(a, gamma, beta), found {n}"
                            ),
                        ))
                    }
                };
                self.implicit
                    .batchnorm(self.graph, args[0].node, affine, span)
            }
            _ => match Func::from_name(name) {
                Some(Func::Ln) if args.len() == 1 => Ok(self.ln(args[0].node)),
                Some(f) => {
                    arity(1)?;
                    Ok(self.graph.func(f, args[0].node))
                }
                None => {
                    return Err(Error::at(
                        ErrorKind::UnknownFunction,
                        name_span,
                        format!("unknown function '{name}'"),
                    ))
                }
            },
        };
        self.built(r, span)
    }

    /// The `gamma` and `beta` of `batchnorm(a, gamma, beta)` at `call`:
    /// declared parameters shaped like one feature vector of `a` (its
    /// shape, since each entry of `a` is a feature).
    fn affine(&self, args: &[Item], call: Span) -> Result<(NodeId, NodeId)> {
        // An image [C, H, W] has one feature per channel (BatchNorm2d).
        let feature = match self.graph.shape(args[0].node).dims() {
            &[c, _, _] => crate::graph::Shape::new(vec![c]),
            _ => self.graph.shape(args[0].node).clone(),
        };
        for (item, what) in [(&args[1], "gamma"), (&args[2], "beta")] {
            let is_param = self.names.values().any(|d| d.param && d.node == item.node);
            if !is_param {
                return Err(Error::at(
                    ErrorKind::InvalidValue,
                    item.span,
                    format!(
                        "batchnorm(a, gamma, beta): {what} must be a declared param \
                         (`param {what}{feature} = ...`), found '{}'",
                        self.text(item.span)
                    ),
                ));
            }
            let shape = self.graph.shape(item.node);
            if *shape != feature {
                return Err(Error::at(
                    ErrorKind::Shape,
                    call,
                    format!(
                        "batchnorm(a, gamma, beta): {what} '{}' has shape {shape}, but a \
                         feature vector of a is {feature} (one {what} per feature)",
                        self.text(item.span)
                    ),
                ));
            }
        }
        Ok((args[1].node, args[2].node))
    }

    /// The probability argument of `dropout`: a constant in `[0, 1)`.
    fn probability(&self, item: &Item) -> Result<Num> {
        let value = match self.graph.as_const(item.node) {
            Some(n) => Some(n),
            None if self.graph.is_scalar(item.node)
                && !self
                    .graph
                    .reachable(&[item.node])
                    .into_iter()
                    .any(|v| self.graph.var_name(v).is_some()) =>
            {
                Program::compile(self.graph, &[], &[item.node])
                    .ok()
                    .and_then(|p| p.run(&[]).first().copied())
                    .map(Num::from)
            }
            None => None,
        };
        let Some(p) = value else {
            return Err(Error::at(
                ErrorKind::InvalidValue,
                item.span,
                "the probability of dropout(a, p) must be a constant number",
            ));
        };
        let x = p.to_f64();
        if !(0.0..1.0).contains(&x) {
            return Err(Error::at(
                ErrorKind::InvalidValue,
                item.span,
                format!("dropout(a, p): p is the probability of dropping an entry, from 0 up to (not including) 1, found {x}"),
            ));
        }
        Ok(p)
    }

    /// `ln(p)`, and `log(softmax(z))` as `z - logsumexp(z)` (the log-sum-exp kept as a
    /// 1 on the last axis so that it broadcasts): the same function, but
    /// finite where the softmax underflows to 0, one `ln` per row instead of
    /// per entry, and a derivative without division by the probabilities.
    fn ln(&mut self, p: NodeId) -> NodeId {
        if self.graph.op(p) != Op::Softmax || self.graph.is_scalar(p) {
            return self.graph.func(Func::Ln, p);
        }
        let z = self.graph.args(p)[0];
        let shape = self.graph.shape(z).clone();
        let lse = self.graph.logsumexp(z);
        let lse = if shape.rank() >= 2 {
            let mut kept = shape.dims().to_vec();
            if let Some(last) = kept.last_mut() {
                *last = 1;
            }
            self.graph.reshape(lse, &crate::graph::Shape::new(kept))
        } else {
            lse
        };
        self.graph.sub(z, lse)
    }

    /// An axis argument: a non-negative integer literal.
    /// A constant non-negative integer (an index, a stride, a window).
    fn count(&self, item: &Item, what: &str) -> Result<u32> {
        match self.graph.as_const(item.node).and_then(|n| n.as_int()) {
            Some(k) if (0..=i64::from(u32::MAX)).contains(&k) => Ok(k as u32),
            _ => Err(syntax(
                item.span,
                format!("{what} must be a non-negative integer constant"),
            )),
        }
    }

    fn axis(&self, item: &Item) -> Result<Axis> {
        match self.graph.as_const(item.node).and_then(|n| n.as_int()) {
            Some(k) if (0..=i64::from(u32::MAX)).contains(&k) => Ok(Axis::Dim(k as u32)),
            _ => Err(syntax(item.span, "an axis must be a non-negative integer")),
        }
    }
}

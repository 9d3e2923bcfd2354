//! The equation parser of network files: precedence climbing over the
//! formula lexer's tokens, building tensor nodes with the `try_` builders.
//!
//! Precedence, loosest first: `+ -`; `* / @` (left-associative); unary
//! minus; `^` (right-associative, the exponent may carry a sign) and a
//! postfix superscript power. Calls: the elementwise functions of the
//! formula syntax (`sigmoid`, `exp`, `log`/`ln`, ...), `sum(a)` and
//! `mean(a)` over all entries or `sum(a, k)` over axis `k`, `max(a)` (a
//! reduction) and `max(a, b)`/`min(a, b)` (elementwise), `pow(a, b)`,
//! `softmax`, `logsumexp`, `transpose`, `cross_entropy(p, y)`
//! (`-sum(y * log(p))`) and `mse(a, y)` (`mean((a - y)^2)`), `dropout(a, p)`
//! (`a * mask * (1/(1 - p))`, the mask a per-sample data tensor the call
//! declares, `p` a constant in `[0, 1)`), `batchnorm(a)` (`(a - mean) /
//! sqrt(var + 1e-5)`, with variables for the statistics, see
//! [`BatchNorm`](super::BatchNorm)) and `batchnorm(a, gamma, beta)` (the
//! same `⊙ gamma + beta`, `gamma` and `beta` declared parameters of `a`'s
//! shape). Images (NCHW per sample, `[C, H, W]`): `conv2d(x, K)` and
//! `conv2d(x, K, b)` with `stride = s` and `padding = p` (1 and 0 unless
//! given), `maxpool(x, k)`, `avgpool(x, k)` (k×k windows, stride k) and
//! `flatten(x)`; `v[t]` selects along the first axis (`t` a constant).
//! There is no implicit multiplication.
//! The recursion is capped at [`MAX_DEPTH`] levels.

use super::{Defined, Implicit};
use crate::error::{Error, ErrorKind, Result, Span};
use crate::eval::Program;
use crate::graph::{Axis, Func, Graph, NamedConst, NodeId, Op};
use crate::num::Num;
use crate::parse::lexer::{Tok, Token};
use crate::parse::MAX_DEPTH;
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

fn join(a: Span, b: Span) -> Span {
    Span::new(a.start, b.end)
}

pub(super) struct Parser<'a> {
    src: &'a str,
    /// The statement's tokens after `=`, ending with a separator or end of input.
    tokens: &'a [Token],
    pos: usize,
    graph: &'a mut Graph,
    names: &'a FxHashMap<String, Defined>,
    implicit: &'a mut Implicit,
    depth: usize,
}

impl<'a> Parser<'a> {
    pub(super) fn new(
        src: &'a str,
        tokens: &'a [Token],
        graph: &'a mut Graph,
        names: &'a FxHashMap<String, Defined>,
        implicit: &'a mut Implicit,
    ) -> Parser<'a> {
        Parser {
            src,
            tokens,
            pos: 0,
            graph,
            names,
            implicit,
            depth: 0,
        }
    }

    fn peek(&self) -> &'a Token {
        let last = self.tokens.len() - 1;
        &self.tokens[self.pos.min(last)]
    }

    fn text(&self, span: Span) -> &'a str {
        self.src.get(span.start..span.end).unwrap_or("")
    }

    /// The whole statement: one expression, then the end of the line.
    pub(super) fn statement(mut self) -> Result<NodeId> {
        let item = self.sum()?;
        let t = self.peek();
        match t.kind {
            Tok::Sep | Tok::Eof => Ok(item.node),
            Tok::RParen => Err(syntax(t.span, "unexpected ')'")),
            _ => Err(syntax(
                t.span,
                format!(
                    "expected an operator or the end of the line, found '{}' \
                     (network files have no implicit multiplication)",
                    self.text(t.span)
                ),
            )),
        }
    }

    fn deeper(&mut self, at: Span) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Error::at(
                ErrorKind::TooDeep,
                at,
                format!("the equation nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    /// Wraps a builder's shape error with the span of the expression.
    fn built(&self, r: Result<NodeId>, span: Span) -> Result<Item> {
        match r {
            Ok(node) => Ok(Item { node, span }),
            Err(e) => Err(Error::at(e.kind(), span, e.message())),
        }
    }

    fn sum(&mut self) -> Result<Item> {
        let mut a = self.product()?;
        loop {
            let op = match self.peek().kind {
                Tok::Plus => Op::Add,
                Tok::Minus => Op::Sub,
                _ => return Ok(a),
            };
            self.pos += 1;
            let b = self.product()?;
            let span = join(a.span, b.span);
            let r = if op == Op::Add {
                self.graph.try_add(a.node, b.node)
            } else {
                self.graph.try_sub(a.node, b.node)
            };
            a = self.built(r, span)?;
        }
    }

    fn product(&mut self) -> Result<Item> {
        let mut a = self.unary()?;
        loop {
            let kind = self.peek().kind.clone();
            if !matches!(kind, Tok::Star | Tok::Slash | Tok::At) {
                return Ok(a);
            }
            self.pos += 1;
            let b = self.unary()?;
            let span = join(a.span, b.span);
            let r = match kind {
                Tok::Star => self.graph.try_mul(a.node, b.node),
                Tok::Slash => self.graph.try_div(a.node, b.node),
                _ => self.graph.try_matmul(a.node, b.node),
            };
            a = self.built(r, span)?;
        }
    }

    fn unary(&mut self) -> Result<Item> {
        let t = self.peek();
        match t.kind {
            Tok::Minus => {
                self.deeper(t.span)?;
                self.pos += 1;
                let a = self.unary()?;
                self.depth -= 1;
                let node = self.graph.neg(a.node);
                Ok(Item {
                    node,
                    span: join(t.span, a.span),
                })
            }
            Tok::Plus => {
                self.pos += 1;
                self.unary()
            }
            _ => self.power(),
        }
    }

    fn power(&mut self) -> Result<Item> {
        let mut base = self.indexed()?;
        if let Tok::Sup(n) = self.peek().kind {
            let t = self.peek();
            self.pos += 1;
            let e = self.graph.constant(n);
            let span = join(base.span, t.span);
            let r = self.graph.try_pow(base.node, e);
            base = self.built(r, span)?;
        }
        let t = self.peek();
        if t.kind != Tok::Caret {
            return Ok(base);
        }
        self.deeper(t.span)?;
        self.pos += 1;
        let e = self.unary()?;
        self.depth -= 1;
        let span = join(base.span, e.span);
        let r = self.graph.try_pow(base.node, e.node);
        self.built(r, span)
    }

    /// A primary followed by constant indices, `v[t]`: each selects along
    /// the first axis of what it follows.
    fn indexed(&mut self) -> Result<Item> {
        let mut base = self.primary()?;
        while self.peek().kind == Tok::LBracket {
            let open = self.peek().span;
            self.pos += 1;
            let index = self.sum()?;
            let close = self.peek().clone();
            if close.kind != Tok::RBracket {
                return Err(syntax(open, "unclosed '[' opened here"));
            }
            self.pos += 1;
            let at = self.count(&index, "an index")?;
            let span = join(base.span, close.span);
            let r = self.graph.try_select(base.node, 0, at);
            base = self.built(r, span)?;
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<Item> {
        let t = self.peek();
        match t.kind {
            Tok::Num(n) => {
                self.pos += 1;
                let node = self.graph.constant(n);
                Ok(Item { node, span: t.span })
            }
            Tok::LParen => {
                self.deeper(t.span)?;
                self.pos += 1;
                let inner = self.sum()?;
                let close = self.peek();
                if close.kind != Tok::RParen {
                    return Err(syntax(t.span, "unclosed '(' opened here"));
                }
                self.pos += 1;
                self.depth -= 1;
                Ok(Item {
                    node: inner.node,
                    span: join(t.span, close.span),
                })
            }
            Tok::Ident => {
                let name = self.text(t.span);
                self.pos += 1;
                if self.peek().kind == Tok::LParen {
                    return self.call(name, t.span);
                }
                match name {
                    "pi" | "π" => {
                        let node = self.graph.named(NamedConst::Pi);
                        return Ok(Item { node, span: t.span });
                    }
                    "e" if !self.names.contains_key("e") => {
                        let node = self.graph.named(NamedConst::E);
                        return Ok(Item { node, span: t.span });
                    }
                    _ => {}
                }
                match self.names.get(name) {
                    Some(d) => Ok(Item {
                        node: d.node,
                        span: t.span,
                    }),
                    None if is_reserved(name) => Err(syntax(
                        t.span,
                        format!("expected '(' after the function name '{name}'"),
                    )),
                    None => Err(Error::at(
                        ErrorKind::UnknownVariable,
                        t.span,
                        format!(
                            "unknown name '{name}': declare it (input, target, param) \
                             or define it by an equation"
                        ),
                    )),
                }
            }
            Tok::Sep | Tok::Eof => Err(syntax(t.span, "expected an expression")),
            _ => Err(syntax(
                t.span,
                format!("expected an expression, found '{}'", self.text(t.span)),
            )),
        }
    }

    /// `name(args)`, with the `(` next.
    fn call(&mut self, name: &str, name_span: Span) -> Result<Item> {
        let open = self.peek().span;
        self.deeper(open)?;
        self.pos += 1;
        let mut args = Vec::new();
        // `axis = k`, the keyword form of a reduction's axis; `stride = s`
        // and `padding = p` of a convolution.
        let mut axis_kw: Option<(Item, Span)> = None;
        let mut conv_kw: Vec<(&str, Item, Span)> = Vec::new();
        if self.peek().kind != Tok::RParen {
            loop {
                let t = self.peek().clone();
                let keyword = t.kind == Tok::Ident
                    && self.tokens.get(self.pos + 1).map(|n| &n.kind) == Some(&Tok::Eq);
                let word = self.text(t.span);
                if keyword && word == "axis" {
                    self.pos += 2;
                    let item = self.sum()?;
                    axis_kw = Some((item, t.span));
                } else if keyword && matches!(word, "stride" | "padding") {
                    self.pos += 2;
                    let item = self.sum()?;
                    if name != "conv2d" {
                        return Err(syntax(
                            t.span,
                            format!("'{word} =' goes with conv2d(...), not with {name}(...)"),
                        ));
                    }
                    conv_kw.push((word, item, t.span));
                } else {
                    args.push(self.sum()?);
                }
                match self.peek().kind {
                    Tok::Comma => self.pos += 1,
                    Tok::RParen => break,
                    _ => return Err(syntax(open, "unclosed '(' opened here")),
                }
            }
        }
        let close = self.peek().span;
        self.pos += 1;
        self.depth -= 1;
        let span = join(name_span, close);
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
                // conv2d(x, K) or conv2d(x, K, b), stride and padding by keyword.
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
                let mut conv = crate::graph::conv::Conv {
                    stride: 1,
                    padding: 0,
                };
                for (word, item, _) in &conv_kw {
                    let n = self.count(item, &format!("the {word}"))?;
                    match *word {
                        "stride" => conv.stride = n,
                        _ => conv.padding = n,
                    }
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
                    3 => Some(self.affine(&args, span)?),
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
        let feature = self.graph.shape(args[0].node).clone();
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

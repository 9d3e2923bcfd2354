//! The notation graph of an explanation: copying an adjoint's expression
//! with named quantities as variables, and printing it in matrix notation
//! (`W2^T δ2`, `⊙`, `δ1 x^T`) as text or LaTeX.
//!
//! Both are loops over topological order; the printer builds each node's
//! text from its operands' and caps the length of a fragment, so a shared
//! subexpression repeated in print cannot grow without bound.

use super::{Named, Style};
use crate::error::{Error, ErrorKind, Result};
use crate::graph::{Axis, Func, Graph, NodeId, Op};
use crate::num::Num;
use crate::print::{latex_func, latex_name};

/// Copies the expression of `root` (a node of `g`) into `n`, stopping at
/// nodes that `name_of` names, which become `vars[k]`. Constant factors
/// are multiplied out, a constant broadcast to a tensor stands for itself in
/// an elementwise operation, and `x * (1/p)` becomes `x / p`; every copied
/// node keeps its shape.
pub(super) fn copy(
    g: &Graph,
    root: NodeId,
    name_of: &dyn Fn(NodeId) -> Option<usize>,
    vars: &[NodeId],
    n: &mut Graph,
) -> Result<NodeId> {
    let len = root.index() + 1;
    let mut marked = vec![false; len];
    marked[root.index()] = true;
    for id in (0..len).rev() {
        let v = NodeId::from_index(id);
        if marked[id] && name_of(v).is_none() {
            for &a in g.args(v) {
                marked[a.index()] = true;
            }
        }
    }
    let mut new: Vec<Option<NodeId>> = vec![None; len];
    for id in (0..len).filter(|&id| marked[id]) {
        let v = NodeId::from_index(id);
        new[id] = Some(match name_of(v).and_then(|k| vars.get(k)) {
            Some(&var) => var,
            None => build(g, v, &new, n)?,
        });
    }
    new[root.index()].ok_or_else(|| internal("the root was not copied"))
}

fn internal(message: &str) -> Error {
    Error::new(ErrorKind::Shape, format!("explain: {message}"))
}

/// Node `v` of `g` rebuilt in `n` over its copied operands.
fn build(g: &Graph, v: NodeId, new: &[Option<NodeId>], n: &mut Graph) -> Result<NodeId> {
    let node = g.node(v);
    let args: Vec<NodeId> = node
        .args
        .iter()
        .map(|a| new[a.index()].ok_or_else(|| internal("an operand was not copied")))
        .collect::<Result<_>>()?;
    let shape = g.shape(v).clone();
    let r = match node.op {
        Op::Const(c) => n.constant(c),
        Op::Named(c) => n.named(c),
        Op::Var(_) => n.try_tensor_var(g.var_name(v).unwrap_or("?"), shape.clone())?,
        // A sum down to a scalar reads better as the sum it is.
        Op::SumTo(_) if shape.is_scalar() => n.try_sum(args[0], crate::graph::Axis::All)?,
        Op::SumTo(_) => n.try_sum_to(args[0], &shape)?,
        Op::BroadcastTo(_) => n.try_broadcast_to(args[0], &shape)?,
        Op::Reshape(_) => n.try_reshape(args[0], &shape)?,
        Op::Mul => product(n, &args)?,
        op if op.is_elementwise() => {
            let args: Vec<NodeId> = args.iter().map(|&a| bare_constant(n, a)).collect();
            n.try_apply(op, &args)?
        }
        // A shape inside the operation belongs to `g`'s table.
        op => {
            let op = n.op_from(g, op);
            n.try_apply(op, &args)?
        }
    };
    // A fold may give a scalar where the graph had a tensor: put the shape back.
    if *n.shape(r) == shape {
        Ok(r)
    } else {
        n.try_broadcast_to(r, &shape)
    }
}

/// A constant broadcast to a tensor, as the bare constant.
fn bare_constant(n: &Graph, a: NodeId) -> NodeId {
    match n.op(a) {
        Op::BroadcastTo(_) if n.as_const(n.args(a)[0]).is_some() => n.args(a)[0],
        _ => a,
    }
}

/// A product with its constant factors multiplied into one coefficient.
fn product(n: &mut Graph, args: &[NodeId]) -> Result<NodeId> {
    let mut coef = Num::int(1);
    let mut factors: Vec<NodeId> = Vec::new();
    for &a in args {
        let a = bare_constant(n, a);
        let (c, rest) = match (n.op(a), n.args(a)) {
            (Op::Const(c), _) => (c, None),
            (Op::Neg, &[t]) => (Num::int(-1), Some(t)),
            (Op::Mul, &[c, t]) if n.as_const(c).is_some() => {
                (n.as_const(c).unwrap_or(Num::int(1)), Some(t))
            }
            _ => (Num::int(1), Some(a)),
        };
        coef = coef.mul(c);
        if let Some(t) = rest {
            // x * (1/p) is x / p.
            match (n.op(t), n.args(t), factors.pop()) {
                (Op::Div, &[one, p], Some(x)) if n.is_int(one, 1) => {
                    factors.push(n.try_div(x, p)?);
                }
                (_, _, prev) => {
                    factors.extend(prev);
                    factors.push(t);
                }
            }
        }
    }
    let mut body: Option<NodeId> = None;
    for f in factors {
        body = Some(match body {
            None => f,
            Some(b) => n.try_mul(b, f)?,
        });
    }
    Ok(match body {
        None => n.constant(coef),
        Some(b) if coef.is_exact() && coef.is_int(1) => b,
        Some(b) if coef.is_exact() && coef.is_int(-1) => n.neg(b),
        Some(b) => {
            let c = n.constant(coef);
            n.try_mul(c, b)?
        }
    })
}

// Binding strength, weakest first.
const SUM: u8 = 1;
/// Matrix products and outer products, written by juxtaposition.
const MATMUL: u8 = 2;
/// `⊙`, `·` and `/`.
const PROD: u8 = 3;
const NEG: u8 = 4;
const POW: u8 = 5;
/// A LaTeX `\frac`: an operand of anything but a power base or a transpose,
/// which need parentheses around it (`\left(\frac{x}{16}\right)^{\top}`).
const FRAC: u8 = 6;
const ATOM: u8 = 7;

/// The longest fragment printed; longer ones become `…`.
const MAX_FRAGMENT: usize = 20_000;

#[derive(Clone)]
struct Shown {
    text: String,
    prec: u8,
}

/// The tokens of one style.
struct Tokens {
    style: Style,
}

impl Tokens {
    fn paren(&self, s: &Shown) -> String {
        match self.style {
            Style::Text => format!("({})", s.text),
            Style::Latex => format!("\\left({}\\right)", s.text),
        }
    }

    /// `s`, parenthesized when `wrap` says so.
    fn wrap(&self, s: &Shown, wrap: bool) -> String {
        if wrap {
            self.paren(s)
        } else {
            s.text.clone()
        }
    }

    fn call(&self, name: &str, args: &[&Shown], extra: &str) -> Shown {
        let inner: Vec<&str> = args.iter().map(|a| a.text.as_str()).collect();
        let inner = inner.join(", ");
        let text = match self.style {
            Style::Text => format!("{name}({inner}{extra})"),
            Style::Latex => format!(
                "\\operatorname{{{}}}\\left({inner}{extra}\\right)",
                name.replace('_', "\\_")
            ),
        };
        Shown { text, prec: ATOM }
    }

    fn transpose(&self, a: &Shown) -> String {
        let t = match self.style {
            Style::Text => "^T",
            Style::Latex => "^{\\top}",
        };
        format!("{}{t}", self.wrap(a, a.prec < ATOM))
    }

    fn constant(&self, c: Num) -> Shown {
        let text = c.to_string();
        let (sign, body) = match text.strip_prefix('-') {
            Some(b) => ("-", b.to_string()),
            None => ("", text.clone()),
        };
        let (body, prec) = match (self.style, body.split_once('/')) {
            (Style::Latex, Some((p, q))) => (format!("\\frac{{{p}}}{{{q}}}"), FRAC),
            // `1/50` binds loosely in text: `(1/50)·W1`.
            (Style::Text, Some(_)) => (body, SUM),
            (_, None) => (body, ATOM),
        };
        let prec = if sign.is_empty() { prec } else { NEG };
        Shown {
            text: format!("{sign}{body}"),
            prec,
        }
    }
}

/// `root`, a node of the notation graph `n`, in matrix notation.
pub(super) fn render(n: &Graph, root: NodeId, names: &[Named], style: Style) -> String {
    let t = Tokens { style };
    let mut shown: Vec<Option<Shown>> = vec![None; root.index() + 1];
    for v in n.reachable(&[root]) {
        let args: Vec<&Shown> = n
            .args(v)
            .iter()
            .filter_map(|a| shown[a.index()].as_ref())
            .collect();
        let mut s = if args.len() == n.args(v).len() {
            node(n, v, &args, &shown, names, &t)
        } else {
            Shown {
                text: "?".to_string(),
                prec: ATOM,
            }
        };
        if s.text.len() > MAX_FRAGMENT {
            s = Shown {
                text: "…".to_string(),
                prec: ATOM,
            };
        }
        shown[v.index()] = Some(s);
    }
    shown[root.index()]
        .take()
        .map(|s| s.text)
        .unwrap_or_default()
}

fn node(
    n: &Graph,
    v: NodeId,
    a: &[&Shown],
    shown: &[Option<Shown>],
    names: &[Named],
    t: &Tokens,
) -> Shown {
    let make = |text: String, prec: u8| Shown { text, prec };
    let latex = t.style == Style::Latex;
    match n.op(v) {
        Op::Const(c) => t.constant(c),
        Op::Named(c) => make(
            match (c.name(), latex) {
                ("pi", true) => "\\pi".to_string(),
                (name, _) => name.to_string(),
            },
            ATOM,
        ),
        Op::Var(_) => {
            let name = n.var_name(v).unwrap_or("?");
            let named = name
                .strip_prefix('q')
                .and_then(|k| k.parse::<usize>().ok())
                .and_then(|k| names.get(k));
            let text = match (named, latex) {
                (Some(q), false) => q.text.clone(),
                (Some(q), true) => q.latex.clone(),
                (None, false) => name.to_string(),
                (None, true) => latex_name(name),
            };
            make(text, ATOM)
        }
        Op::Add => {
            let mut text = a[0].text.clone();
            for x in &a[1..] {
                text.push_str(" + ");
                text.push_str(&t.wrap(x, x.prec <= SUM || x.prec == NEG));
            }
            make(text, SUM)
        }
        Op::Sub => make(
            format!(
                "{} - {}",
                a[0].text,
                t.wrap(a[1], a[1].prec <= SUM || a[1].prec == NEG)
            ),
            SUM,
        ),
        Op::Neg => make(
            format!("-{}", t.wrap(a[0], a[0].prec <= SUM || a[0].prec == NEG)),
            NEG,
        ),
        Op::Mul => {
            let args = n.args(v);
            if let Some(u) = outer_column(n, args).and_then(|u| shown[u.index()].as_ref()) {
                return make(
                    format!("{} {}", t.wrap(u, u.prec < POW), t.transpose(a[1])),
                    MATMUL,
                );
            }
            let mut text = t.wrap(a[0], a[0].prec < PROD);
            for (i, x) in a.iter().enumerate().skip(1) {
                let scalar = n.is_scalar(args[i]) || n.is_scalar(args[i - 1]);
                let sep = match (scalar, latex) {
                    (true, false) => "·",
                    (true, true) => " \\cdot ",
                    (false, false) => " ⊙ ",
                    (false, true) => " \\odot ",
                };
                text.push_str(sep);
                text.push_str(&t.wrap(x, x.prec <= PROD || x.prec == NEG));
            }
            make(text, PROD)
        }
        Op::Div if latex => make(format!("\\frac{{{}}}{{{}}}", a[0].text, a[1].text), FRAC),
        Op::Div => make(
            format!(
                "{} / {}",
                t.wrap(a[0], a[0].prec < PROD),
                t.wrap(a[1], a[1].prec <= PROD || a[1].prec == NEG)
            ),
            PROD,
        ),
        Op::Pow => {
            let base = t.wrap(a[0], a[0].prec < ATOM);
            let text = if latex {
                format!("{base}^{{{}}}", a[1].text)
            } else {
                format!("{base}^{}", t.wrap(a[1], a[1].prec < ATOM))
            };
            make(text, POW)
        }
        Op::Func(f) => match (f, latex) {
            (Func::Sigmoid, false) => t.call("σ", a, ""),
            (f, false) => t.call(f.name(), a, ""),
            (Func::Sqrt, true) => make(format!("\\sqrt{{{}}}", a[0].text), ATOM),
            (Func::Abs, true) => make(format!("\\left|{}\\right|", a[0].text), ATOM),
            (f, true) => make(
                format!("{}\\left({}\\right)", latex_func(f), a[0].text),
                ATOM,
            ),
        },
        Op::Max => t.call("max", a, ""),
        Op::Atan2 => t.call("atan2", a, ""),
        Op::Min => t.call("min", a, ""),
        Op::MatMul => make(
            format!(
                "{} {}",
                t.wrap(a[0], a[0].prec < POW && a[0].prec != MATMUL),
                t.wrap(a[1], a[1].prec < POW)
            ),
            MATMUL,
        ),
        Op::Transpose => make(t.transpose(a[0]), POW),
        Op::Sum(axis) => t.call("sum", a, &axis_note(axis)),
        Op::Mean(axis) => t.call("mean", a, &axis_note(axis)),
        Op::MaxReduce(axis) => t.call("max", a, &axis_note(axis)),
        Op::ArgMaxMask(axis) => t.call("argmax_mask", a, &axis_note(axis)),
        Op::SumTo(_) => t.call("sum_to", a, &format!(", {}", n.shape(v))),
        // A scalar broadcast to a tensor stands for itself.
        Op::BroadcastTo(_) if n.is_scalar(n.args(v)[0]) => a[0].clone(),
        Op::BroadcastTo(_) => t.call("broadcast", a, &format!(", {}", n.shape(v))),
        Op::Reshape(_) => t.call("reshape", a, &format!(", {}", n.shape(v))),
        Op::Softmax => t.call("softmax", a, ""),
        Op::LogSumExp => t.call("logsumexp", a, ""),
        Op::Conv2d(c) => t.call("conv2d", a, &conv_note(c)),
        Op::Conv2dInputGrad(c, _) => t.call("conv2d_input_grad", a, &conv_note(c)),
        Op::Conv2dKernelGrad(c, _) => t.call("conv2d_kernel_grad", a, &conv_note(c)),
        Op::MaxPool(k) => t.call("maxpool", a, &format!(", {k}")),
        Op::MaxPoolMask(k) => t.call("maxpool_mask", a, &format!(", {k}")),
        Op::SumPool(k) => t.call("sumpool", a, &format!(", {k}")),
        Op::Upsample(k, _) => t.call("upsample", a, &format!(", {k}, {}", n.shape(v))),
        Op::Select { axis: 0, at } => {
            make(format!("{}[{at}]", t.wrap(a[0], a[0].prec < ATOM)), ATOM)
        }
        Op::Select { axis, at } => t.call("select", a, &format!(", axis={axis}, {at}")),
        Op::Embed { axis, at, .. } => {
            t.call("embed", a, &format!(", axis={axis}, {at}, {}", n.shape(v)))
        }
    }
}

fn conv_note(c: crate::graph::conv::Conv) -> String {
    format!(", stride={}, padding={}", c.stride, c.padding)
}

fn axis_note(axis: Axis) -> String {
    match axis {
        Axis::All => String::new(),
        Axis::Dim(k) => format!(", axis={k}"),
    }
}

/// The vector `u` when `args` of a product are a column and a vector: the
/// outer product `u v^T` as reverse mode builds it (`reshape(u, [m, 1]) * v`).
fn outer_column(n: &Graph, args: &[NodeId]) -> Option<NodeId> {
    let &[col, row] = args else { return None };
    let u = *n.args(col).first()?;
    let is_col = matches!(n.op(col), Op::Reshape(_))
        && n.shape(col).dims().get(1) == Some(&1)
        && n.shape(u).rank() == 1;
    (is_col && n.shape(row).rank() == 1).then_some(u)
}

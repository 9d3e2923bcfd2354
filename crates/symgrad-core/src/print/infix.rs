//! Formula text and LaTeX with minimal parentheses, precedence and
//! associativity aware, and shared subexpressions written once as bindings.

use super::rope::{f, s, Piece, Rope};
use super::Printed;
use crate::graph::{Axis, Func, Graph, NamedConst, NodeId, Op};
use crate::num::Num;
use std::collections::HashSet;

/// Which language to print.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Text,
    Latex,
}

// Binding strength, weakest first. Unary minus binds tighter than a product
// and looser than a power (`-x^2` is `-(x^2)`). A negated product is written
// `-2*x*y` and ranks as a product: whichever way a parser groups it, it is
// the same product with a negative coefficient.
const SUM: u8 = 1;
const PROD: u8 = 2;
const NEG: u8 = 3;
const POW: u8 = 4;
/// A LaTeX fraction: an operand of anything but a power base.
const FRAC: u8 = 5;
const ATOM: u8 = 6;

/// A node's printed form: its fragment, its precedence, and for something
/// printed as a negation, the form without the minus sign.
#[derive(Clone, Copy)]
struct Shown {
    frag: usize,
    prec: u8,
    neg: Option<(usize, u8)>,
}

struct Printer<'g> {
    g: &'g Graph,
    style: Style,
    rope: Rope,
}

pub(crate) fn print(g: &Graph, roots: &[NodeId], style: Style) -> Printed {
    print_named(g, roots, style, &[])
}

/// [`print`], with `names` for some nodes: the user's bindings.
pub(crate) fn print_named(
    g: &Graph,
    roots: &[NodeId],
    style: Style,
    names: &[(NodeId, String)],
) -> Printed {
    let mut counts = g.use_counts(roots);
    for r in roots {
        counts[r.index()] += 1;
    }
    // A shared `b^-k` is printed inside each user's denominator as `.../b^k`,
    // so it is its base that would be repeated: bind the base instead.
    for id in g.reachable(roots).into_iter().rev() {
        if counts[id.index()] > 1 && g.op(id) == Op::Pow {
            let (base, e) = (g.args(id)[0], g.args(id)[1]);
            if g.as_const(e).is_some_and(|k| k.is_negative()) && !g.op(base).is_leaf() {
                counts[base.index()] += counts[id.index()] - 1;
                counts[id.index()] = 1;
            }
        }
    }
    let mut taken: HashSet<&str> = g.var_names().iter().map(String::as_str).collect();
    let mut user_name: std::collections::HashMap<NodeId, &str> = Default::default();
    for (id, name) in names {
        taken.insert(name.as_str());
        if id.index() < g.len() && !g.op(*id).is_leaf() {
            // The first name wins when two bindings are the same expression.
            user_name.entry(*id).or_insert(name.as_str());
        }
    }
    let is_root: HashSet<NodeId> = roots.iter().copied().collect();
    let mut p = Printer {
        g,
        style,
        rope: Rope::default(),
    };
    let mut shown: Vec<Option<Shown>> = vec![None; g.len()];
    let mut bindings = Vec::new();
    let mut next = 1;
    for id in print_order(g, roots) {
        let sh = p.node(id, &shown);
        let named = user_name
            .get(&id)
            .filter(|_| counts[id.index()] > 1 || !is_root.contains(&id));
        let sh = if let Some(&name) = named {
            let shown_name = match style {
                Style::Text => name.to_string(),
                Style::Latex => latex_name(name),
            };
            bindings.push((shown_name.clone(), p.rope.render(sh.frag)));
            p.atom(shown_name)
        } else if counts[id.index()] > 1 && !tiny(g, id) {
            let name = loop {
                let name = format!("t{next}");
                next += 1;
                if !taken.contains(name.as_str()) {
                    break name;
                }
            };
            let shown_name = match style {
                Style::Text => name.clone(),
                Style::Latex => format!("t_{{{}}}", &name[1..]),
            };
            bindings.push((shown_name.clone(), p.rope.render(sh.frag)));
            p.atom(shown_name)
        } else {
            sh
        };
        shown[id.index()] = Some(sh);
    }
    let exprs = roots
        .iter()
        .map(|r| {
            p.rope
                .render(shown[r.index()].expect("roots are reachable").frag)
        })
        .collect();
    Printed { bindings, exprs }
}

/// The nodes the roots reach, operands before users, in the order a
/// depth-first walk from the roots (in order, each node's operands in
/// operand order) finishes them. Bindings are numbered in this order, so
/// that they depend on the expression only (canonical operands are sorted
/// structurally), not on the order in which a mode happened to create the
/// nodes: every mode prints `t1`, `t2`, ... for the same subexpressions.
/// The walk keeps its own stack, so deep graphs need no deep call stack.
fn print_order(g: &Graph, roots: &[NodeId]) -> Vec<NodeId> {
    let mut done = vec![false; g.len()];
    let mut order = Vec::new();
    let mut stack: Vec<(NodeId, usize)> = Vec::new();
    for &r in roots {
        if done[r.index()] {
            continue;
        }
        stack.push((r, 0));
        while let Some(&mut (id, ref mut next)) = stack.last_mut() {
            let args = g.args(id);
            if *next < args.len() {
                let a = args[*next];
                *next += 1;
                if !done[a.index()] {
                    // Mark on entry too, so a node reached twice on the way
                    // down is walked once.
                    done[a.index()] = true;
                    stack.push((a, 0));
                }
            } else {
                done[id.index()] = true;
                order.push(id);
                stack.pop();
            }
        }
    }
    order
}

/// Whether a node is small enough to repeat at every use rather than bind:
/// a leaf, or a negation, function or power of leaves, or a product of two
/// leaves (`x`, `-x`, `x^2`, `sin(x)`, `2*x`).
fn tiny(g: &Graph, id: NodeId) -> bool {
    let args = g.args(id);
    let leaves = args.iter().all(|&a| g.op(a).is_leaf());
    match g.op(id) {
        op if op.is_leaf() => true,
        Op::Neg | Op::Func(_) | Op::Pow => leaves,
        Op::Mul => leaves && args.len() == 2,
        _ => false,
    }
}

impl Printer<'_> {
    fn atom(&mut self, text: String) -> Shown {
        Shown {
            frag: self.rope.text(text),
            prec: ATOM,
            neg: None,
        }
    }

    fn make(&mut self, pieces: Vec<Piece>, prec: u8) -> Shown {
        Shown {
            frag: self.rope.push(pieces),
            prec,
            neg: None,
        }
    }

    fn paren(&mut self, frag: usize) -> usize {
        match self.style {
            Style::Text => self.rope.push(vec![s("("), f(frag), s(")")]),
            Style::Latex => self.rope.push(vec![s("\\left("), f(frag), s("\\right)")]),
        }
    }

    /// `x`'s fragment, parenthesized when its precedence is below `min`.
    fn at_least(&mut self, x: Shown, min: u8) -> usize {
        if x.prec < min {
            self.paren(x.frag)
        } else {
            x.frag
        }
    }

    /// `x` as a right operand of a left-associative operator of precedence
    /// `op`: parenthesized unless it binds tighter, and never a bare negation.
    fn right(&mut self, x: Shown, op: u8) -> usize {
        if x.prec <= op || x.prec == NEG {
            self.paren(x.frag)
        } else {
            x.frag
        }
    }

    fn negated(&mut self, body: Shown) -> Shown {
        if body.prec == PROD && body.neg.is_none() {
            return Shown {
                frag: self.rope.push(vec![s("-"), f(body.frag)]),
                prec: PROD,
                neg: Some((body.frag, body.prec)),
            };
        }
        let inner = self.at_least(body, POW);
        Shown {
            frag: self.rope.push(vec![s("-"), f(inner)]),
            prec: NEG,
            neg: Some((body.frag, body.prec)),
        }
    }

    fn constant(&mut self, n: Num) -> Shown {
        if n.is_negative() {
            let body = self.constant(n.neg());
            return Shown {
                frag: self.rope.push(vec![s("-"), f(body.frag)]),
                prec: NEG,
                neg: Some((body.frag, body.prec)),
            };
        }
        match n {
            Num::Rational(r) if !r.is_integer() => match self.style {
                Style::Text => self.make(vec![s(n.to_string())], PROD),
                Style::Latex => self.make(
                    vec![s(format!("\\frac{{{}}}{{{}}}", r.numer(), r.denom()))],
                    FRAC,
                ),
            },
            Num::Float(x) if x.is_nan() => match self.style {
                Style::Text => self.atom("(0.0/0.0)".to_string()),
                Style::Latex => self.atom("\\mathrm{NaN}".to_string()),
            },
            Num::Float(x) if x.is_infinite() => match self.style {
                Style::Text => self.atom("1e999".to_string()),
                Style::Latex => self.atom("\\infty".to_string()),
            },
            _ => self.atom(n.to_string()),
        }
    }

    fn var(&mut self, name: &str) -> Shown {
        let text = match self.style {
            Style::Text => name.to_string(),
            Style::Latex => latex_name(name),
        };
        self.atom(text)
    }

    fn node(&mut self, id: NodeId, shown: &[Option<Shown>]) -> Shown {
        let g = self.g;
        let args = g.args(id);
        let arg = |i: usize| shown[args[i].index()].expect("operands come first");
        let op = g.op(id);
        match op {
            Op::Var(_) => self.var(g.var_name(id).unwrap_or("?")),
            Op::Const(n) => self.constant(n),
            Op::Named(c) => match (self.style, c) {
                (Style::Latex, NamedConst::Pi) => self.atom("\\pi".to_string()),
                _ => self.atom(c.name().to_string()),
            },
            Op::Add => {
                // Read better with a positive term first: `1 - x^2`, not
                // `-x^2 + 1`. Only the display order changes.
                let mut order: Vec<usize> = (0..args.len()).collect();
                if arg(0).neg.is_some() {
                    if let Some(k) = (1..args.len()).find(|&k| arg(k).neg.is_none()) {
                        order.remove(k);
                        order.insert(0, k);
                    }
                }
                let mut pieces = vec![f(arg(order[0]).frag)];
                for &i in &order[1..] {
                    let a = arg(i);
                    match a.neg {
                        Some((frag, prec)) => {
                            let body = Shown {
                                frag,
                                prec,
                                neg: None,
                            };
                            pieces.push(s(" - "));
                            pieces.push(f(self.right(body, SUM)));
                        }
                        None => {
                            pieces.push(s(" + "));
                            pieces.push(f(self.right(a, SUM)));
                        }
                    }
                }
                self.make(pieces, SUM)
            }
            Op::Sub => {
                let r = self.right(arg(1), SUM);
                self.make(vec![f(arg(0).frag), s(" - "), f(r)], SUM)
            }
            Op::Mul => self.product(id, shown),
            Op::Div => self.fraction(vec![arg(0)], vec![arg(1)]),
            Op::Neg => self.negated(arg(0)),
            Op::Pow => self.power(arg(0), args[1], arg(1)),
            Op::Func(func) => self.call(func, arg(0)),
            // `@` binds like a sum when printed, so that it is parenthesized
            // as an operand of `*` or `^` and never read as `(x*W) @ v`.
            Op::MatMul => {
                let l = self.at_least(arg(0), POW);
                let r = self.at_least(arg(1), POW);
                self.make(vec![f(l), s(" @ "), f(r)], SUM)
            }
            Op::Transpose if self.style == Style::Latex => {
                let a = self.at_least(arg(0), ATOM);
                self.make(vec![s("{"), f(a), s("}^{\\top}")], ATOM)
            }
            Op::Conv2d(c) | Op::Conv2dInputGrad(c, _) | Op::Conv2dKernelGrad(c, _) => {
                let name = match op {
                    Op::Conv2d(_) => "conv2d",
                    Op::Conv2dInputGrad(..) => "conv2d_input_grad",
                    _ => "conv2d_kernel_grad",
                };
                let mut extra = format!(", stride={}, padding={}", c.stride, c.padding);
                if let Op::Conv2dInputGrad(_, sh) | Op::Conv2dKernelGrad(_, sh) = op {
                    extra.push_str(&format!(", {}", g.shape_by_id(sh)));
                }
                let (a, b) = (arg(0), arg(1));
                let b = self.make(vec![s(", "), f(b.frag)], ATOM);
                let joined = self.make(vec![f(a.frag), f(b.frag)], ATOM);
                self.tensor_call(name, joined, extra)
            }
            Op::MaxPool(k) | Op::MaxPoolMask(k) | Op::SumPool(k) | Op::Upsample(k, _) => {
                let name = match op {
                    Op::MaxPool(_) => "maxpool",
                    Op::MaxPoolMask(_) => "maxpool_mask",
                    Op::SumPool(_) => "sumpool",
                    _ => "upsample",
                };
                let extra = match op {
                    Op::Upsample(_, sh) => format!(", {k}, {}", g.shape_by_id(sh)),
                    _ => format!(", {k}"),
                };
                self.tensor_call(name, arg(0), extra)
            }
            Op::Select { axis: 0, at } => {
                let a = self.at_least(arg(0), ATOM);
                self.make(vec![f(a), s(format!("[{at}]"))], ATOM)
            }
            Op::Select { axis, at } => {
                self.tensor_call("select", arg(0), format!(", axis={axis}, {at}"))
            }
            Op::Embed { axis, at, shape } => {
                let extra = format!(", axis={axis}, {at}, {}", g.shape_by_id(shape));
                self.tensor_call("embed", arg(0), extra)
            }
            op if op.is_tensor() => {
                let extra = match op {
                    Op::Sum(Axis::Dim(k))
                    | Op::Mean(Axis::Dim(k))
                    | Op::MaxReduce(Axis::Dim(k))
                    | Op::ArgMaxMask(Axis::Dim(k)) => format!(", axis={k}"),
                    Op::SumTo(sh) | Op::BroadcastTo(sh) | Op::Reshape(sh) => {
                        format!(", {}", g.shape_by_id(sh))
                    }
                    _ => String::new(),
                };
                let name = match op {
                    Op::Sum(_) => "sum",
                    Op::Mean(_) => "mean",
                    Op::MaxReduce(_) => "max",
                    Op::ArgMaxMask(_) => "argmax_mask",
                    _ => return self.tensor_call(&op.label(), arg(0), extra),
                };
                self.tensor_call(name, arg(0), extra)
            }
            op => {
                let name = match op {
                    Op::Max => "max",
                    Op::Min => "min",
                    _ => "atan2",
                };
                let (open, close) = match (self.style, op) {
                    (Style::Text, _) => (format!("{name}("), ")"),
                    (Style::Latex, Op::Atan2) => {
                        ("\\operatorname{atan2}\\left(".to_string(), "\\right)")
                    }
                    (Style::Latex, _) => (format!("\\{name}\\left("), "\\right)"),
                };
                self.make(
                    vec![s(open), f(arg(0).frag), s(", "), f(arg(1).frag), s(close)],
                    ATOM,
                )
            }
        }
    }

    /// A product, with a leading numeric coefficient and factors with negative
    /// exponents moved to a denominator: `-(3*x/(2*y^2))`.
    fn product(&mut self, id: NodeId, shown: &[Option<Shown>]) -> Shown {
        let g = self.g;
        let mut args = g.args(id);
        let mut coef = Num::int(1);
        if let Some(c) = g.as_const(args[0]) {
            coef = c;
            args = &args[1..];
        }
        let negative = coef.is_negative();
        if negative {
            coef = coef.neg();
        }
        let mut num = Vec::new();
        let mut den = Vec::new();
        if let Num::Rational(r) = coef {
            if *r.numer() != 1 {
                num.push(self.constant(Num::int(*r.numer())));
            }
            if *r.denom() != 1 {
                den.push(self.constant(Num::int(*r.denom())));
            }
        } else {
            num.push(self.constant(coef));
        }
        for &a in args {
            let e = (g.op(a) == Op::Pow)
                .then(|| g.as_const(g.args(a)[1]))
                .flatten()
                .filter(|e| e.is_exact() && e.is_negative());
            match e {
                Some(e) => {
                    let [b, _] = g.args(a) else { unreachable!() };
                    let base = shown[b.index()].expect("operands come first");
                    let k = e.neg();
                    den.push(if k.is_one() {
                        base
                    } else {
                        let kn = self.constant(k);
                        self.power_num(base, k, kn)
                    });
                }
                None => num.push(shown[a.index()].expect("operands come first")),
            }
        }
        let body = if den.is_empty() {
            self.juxtapose(num)
        } else {
            self.fraction(num, den)
        };
        if negative {
            self.negated(body)
        } else {
            body
        }
    }

    /// `items` multiplied; one item stands alone, none is `1`.
    fn juxtapose(&mut self, items: Vec<Shown>) -> Shown {
        match items.len() {
            0 => return self.atom("1".to_string()),
            1 => return items[0],
            _ => {}
        }
        let mut pieces = Vec::new();
        for (i, x) in items.into_iter().enumerate() {
            if i == 0 {
                pieces.push(f(self.at_least(x, PROD)));
                continue;
            }
            let frag = self.right(x, PROD);
            let sep = match self.style {
                Style::Text => "*",
                Style::Latex => {
                    let starts_with_digit = self
                        .rope
                        .render(frag)
                        .starts_with(|c: char| c.is_ascii_digit() || c == '.');
                    if starts_with_digit {
                        " \\cdot "
                    } else {
                        " "
                    }
                }
            };
            pieces.push(s(sep));
            pieces.push(f(frag));
        }
        self.make(pieces, PROD)
    }

    fn fraction(&mut self, num: Vec<Shown>, den: Vec<Shown>) -> Shown {
        let n = self.juxtapose(num);
        let d = self.juxtapose(den);
        match self.style {
            Style::Text => {
                let n = self.at_least(n, PROD);
                let d = self.right(d, PROD);
                self.make(vec![f(n), s("/"), f(d)], PROD)
            }
            Style::Latex => self.make(
                vec![s("\\frac{"), f(n.frag), s("}{"), f(d.frag), s("}")],
                FRAC,
            ),
        }
    }

    fn power(&mut self, base: Shown, e: NodeId, exp: Shown) -> Shown {
        match self.g.as_const(e) {
            Some(k) if k.is_exact() && k.is_negative() => {
                let one = self.atom("1".to_string());
                let kn = self.constant(k.neg());
                let d = if k.neg().is_one() {
                    base
                } else {
                    self.power_num(base, k.neg(), kn)
                };
                self.fraction(vec![one], vec![d])
            }
            Some(k) => self.power_num(base, k, exp),
            None => self.power_shown(base, exp),
        }
    }

    /// `base ^ k` for a constant exponent, with `k = 1/2` as a square root.
    fn power_num(&mut self, base: Shown, k: Num, exp: Shown) -> Shown {
        if k == Num::ratio(1, 2).unwrap_or(k) && k.is_exact() && !k.is_one() {
            return self.call(Func::Sqrt, base);
        }
        self.power_shown(base, exp)
    }

    fn power_shown(&mut self, base: Shown, exp: Shown) -> Shown {
        let b = self.at_least(base, ATOM);
        match self.style {
            Style::Text => {
                // Right-associative: a power exponent needs no parentheses.
                let e = if exp.prec < POW || exp.prec == NEG {
                    self.paren(exp.frag)
                } else {
                    exp.frag
                };
                self.make(vec![f(b), s("^"), f(e)], POW)
            }
            Style::Latex => self.make(vec![f(b), s("^{"), f(exp.frag), s("}")], POW),
        }
    }

    /// A tensor operation written as a call: `sum(x, axis=1)`, `softmax(z)`.
    fn tensor_call(&mut self, name: &str, a: Shown, extra: String) -> Shown {
        let (open, close) = match self.style {
            Style::Text => (format!("{name}("), ")"),
            Style::Latex => (
                format!("\\operatorname{{{}}}\\left(", name.replace('_', "\\_")),
                "\\right)",
            ),
        };
        self.make(vec![s(open), f(a.frag), s(extra), s(close)], ATOM)
    }

    fn call(&mut self, func: Func, a: Shown) -> Shown {
        let (open, close): (String, &str) = match (self.style, func) {
            (Style::Text, _) => (format!("{}(", func.name()), ")"),
            (Style::Latex, Func::Sqrt) => ("\\sqrt{".to_string(), "}"),
            (Style::Latex, Func::Abs) => ("\\left|".to_string(), "\\right|"),
            (Style::Latex, Func::Cbrt) => ("\\sqrt[3]{".to_string(), "}"),
            (Style::Latex, Func::Floor) => ("\\left\\lfloor ".to_string(), "\\right\\rfloor"),
            (Style::Latex, Func::Ceil) => ("\\left\\lceil ".to_string(), "\\right\\rceil"),
            (Style::Latex, func) => (format!("{}\\left(", latex_func(func)), "\\right)"),
        };
        self.make(vec![s(open), f(a.frag), s(close)], ATOM)
    }
}

/// The LaTeX command of a function's name: `\sigma`, `\sin`, `\arctan`,
/// `\operatorname{relu}`.
pub(crate) fn latex_func(func: Func) -> String {
    match func {
        Func::Sigmoid => "\\sigma".to_string(),
        Func::Sin
        | Func::Cos
        | Func::Tan
        | Func::Exp
        | Func::Ln
        | Func::Sinh
        | Func::Cosh
        | Func::Tanh
        | Func::Sec
        | Func::Csc
        | Func::Cot => format!("\\{}", func.name()),
        Func::Log10 => "\\log_{10}".to_string(),
        Func::Log2 => "\\log_{2}".to_string(),
        Func::Asin => "\\arcsin".to_string(),
        Func::Acos => "\\arccos".to_string(),
        Func::Atan => "\\arctan".to_string(),
        _ => format!("\\operatorname{{{}}}", func.name()),
    }
}

const GREEK: [&str; 24] = [
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi",
    "psi", "omega",
];

/// A variable name in LaTeX: Greek letters (by name or as a Unicode letter)
/// as commands, a trailing number as a subscript (`x1` is `x_{1}`), longer
/// names upright.
pub(crate) fn latex_name(name: &str) -> String {
    // A step of a recurrence, `h1[6]`: the family's name, then the step.
    if let Some((base, step)) = name.strip_suffix(']').and_then(|n| n.split_once('[')) {
        if !base.is_empty() && !step.is_empty() && step.bytes().all(|b| b.is_ascii_digit()) {
            return format!("{}[{step}]", latex_name(base));
        }
    }
    let greek = |c: char| -> Option<&'static str> {
        let lower = ('α'..='ω').contains(&c).then(|| c as u32 - 'α' as u32)?;
        // 'ς' (final sigma) sits between rho and sigma in Unicode.
        let i = match lower {
            0..=16 => lower,
            17 => return Some("sigma"),
            _ => lower - 1,
        };
        GREEK.get(i as usize).copied()
    };
    let digits = name.trim_end_matches(|c: char| c.is_ascii_digit());
    let (stem, sub) = if digits.is_empty() {
        (name, "")
    } else {
        (digits, &name[digits.len()..])
    };
    let mut chars = stem.chars();
    let stem = match (chars.next(), chars.next()) {
        (Some(c), None) => match greek(c) {
            Some(g) => format!("\\{g}"),
            None => c.to_string(),
        },
        _ if GREEK.contains(&stem) => format!("\\{stem}"),
        _ => format!("\\mathrm{{{}}}", stem.replace('_', "\\_")),
    };
    if sub.is_empty() {
        stem
    } else {
        format!("{stem}_{{{sub}}}")
    }
}

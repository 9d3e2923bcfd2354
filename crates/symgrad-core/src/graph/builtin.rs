//! The one list of callable names: every function that formulas, network
//! files and `#[gradient]` accept, under each spelling, with how Rust code
//! spells it and how it is built into a graph.
//!
//! NumPy's and SymPy's spellings (`arcsin`, `arctan2`, `heaviside`) sit beside
//! the canonical ones (`asin`, `atan2`, `step`); a name maps to a [`Builtin`],
//! which [`Builtin::build`] turns into nodes. Some builtins are sugar over
//! other operations, documented on their variant.

use super::{Func, Graph, NamedConst, NodeId, Op};
use crate::num::Num;

/// What a callable name computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Builtin {
    /// An elementwise function of one argument.
    Func(Func),
    /// `max(a, b)`.
    Max,
    /// `min(a, b)`.
    Min,
    /// `pow(a, b)` = `a^b`.
    Pow,
    /// `atan2(y, x)`: the angle of the point (x, y).
    Atan2,
    /// `hypot(x, y)` = `sqrt(x^2 + y^2)` (built as that formula, so it can
    /// overflow where `f64::hypot` would not).
    Hypot,
    /// `log(x)` is the natural logarithm; `log(x, b)` the base-`b` one
    /// (`log10`/`log2` for b = 10 or 2, otherwise `ln(x)/ln(b)`).
    Log,
    /// `exp2(x)` = `2^x`.
    Exp2,
}

/// How a builtin is called from Rust code under `#[gradient]` and `grad!`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RustName {
    /// A float method of the same name: `x.sin()`, `y.atan2(x)`, `x.log(b)`.
    Method,
    /// A function of the facade: `symgrad::erf(x)`.
    Facade,
    /// Formula syntax only (an alias such as `arcsin`, or `σ`).
    None,
}

/// One spelling of a builtin.
#[derive(Clone, Copy, Debug)]
pub struct BuiltinName {
    pub name: &'static str,
    pub builtin: Builtin,
    pub rust: RustName,
}

const fn entry(name: &'static str, builtin: Builtin, rust: RustName) -> BuiltinName {
    BuiltinName {
        name,
        builtin,
        rust,
    }
}

const fn func(name: &'static str, f: Func, rust: RustName) -> BuiltinName {
    entry(name, Builtin::Func(f), rust)
}

use RustName::{Facade, Method, None as Formula};

/// Every callable name. The first spelling of a function is its canonical
/// name ([`Func::name`]), the one printers use.
pub const BUILTINS: &[BuiltinName] = &[
    func("sin", Func::Sin, Method),
    func("cos", Func::Cos, Method),
    func("tan", Func::Tan, Method),
    func("sec", Func::Sec, Facade),
    func("csc", Func::Csc, Facade),
    func("cot", Func::Cot, Facade),
    func("asin", Func::Asin, Method),
    func("arcsin", Func::Asin, Formula),
    func("acos", Func::Acos, Method),
    func("arccos", Func::Acos, Formula),
    func("atan", Func::Atan, Method),
    func("arctan", Func::Atan, Formula),
    entry("atan2", Builtin::Atan2, Method),
    entry("arctan2", Builtin::Atan2, Formula),
    func("sinh", Func::Sinh, Method),
    func("cosh", Func::Cosh, Method),
    func("tanh", Func::Tanh, Method),
    func("asinh", Func::Asinh, Method),
    func("arcsinh", Func::Asinh, Formula),
    func("acosh", Func::Acosh, Method),
    func("arccosh", Func::Acosh, Formula),
    func("atanh", Func::Atanh, Method),
    func("arctanh", Func::Atanh, Formula),
    func("exp", Func::Exp, Method),
    entry("exp2", Builtin::Exp2, Method),
    func("ln", Func::Ln, Method),
    entry("log", Builtin::Log, Method),
    func("log10", Func::Log10, Method),
    func("log2", Func::Log2, Method),
    func("sqrt", Func::Sqrt, Method),
    func("cbrt", Func::Cbrt, Method),
    entry("hypot", Builtin::Hypot, Method),
    entry("pow", Builtin::Pow, Formula),
    func("abs", Func::Abs, Method),
    func("sign", Func::Sign, Facade),
    func("step", Func::Step, Facade),
    func("heaviside", Func::Step, Facade),
    func("floor", Func::Floor, Method),
    func("ceil", Func::Ceil, Method),
    func("erf", Func::Erf, Facade),
    func("erfc", Func::Erfc, Facade),
    func("sigmoid", Func::Sigmoid, Facade),
    func("σ", Func::Sigmoid, Formula),
    func("relu", Func::Relu, Facade),
    func("softplus", Func::Softplus, Facade),
    entry("max", Builtin::Max, Method),
    entry("min", Builtin::Min, Method),
];

impl Builtin {
    /// The builtin a name stands for, under any of its spellings.
    pub fn from_name(name: &str) -> Option<Builtin> {
        BUILTINS.iter().find(|b| b.name == name).map(|b| b.builtin)
    }

    /// The fewest and the most arguments it takes.
    pub fn arity(self) -> (usize, usize) {
        match self {
            Builtin::Func(_) | Builtin::Exp2 => (1, 1),
            Builtin::Log => (1, 2),
            Builtin::Max | Builtin::Min | Builtin::Pow | Builtin::Atan2 | Builtin::Hypot => (2, 2),
        }
    }

    /// The call's nodes, or `None` when the number of arguments is wrong.
    /// Scalars only: shapes are the network parser's business.
    pub fn build(self, g: &mut Graph, args: &[NodeId]) -> Option<NodeId> {
        Some(match (self, args) {
            (Builtin::Func(f), &[a]) => g.func(f, a),
            (Builtin::Log, &[a]) => g.func(Func::Ln, a),
            (Builtin::Log, &[a, base]) => log_base(g, a, base),
            (Builtin::Exp2, &[a]) => {
                let two = g.int(2);
                g.pow(two, a)
            }
            (Builtin::Max, &[a, b]) => g.max(a, b),
            (Builtin::Min, &[a, b]) => g.min(a, b),
            (Builtin::Pow, &[a, b]) => g.pow(a, b),
            (Builtin::Atan2, &[y, x]) => g.atan2(y, x),
            (Builtin::Hypot, &[a, b]) => {
                let a2 = g.powi(a, 2);
                let b2 = g.powi(b, 2);
                let s = g.add(a2, b2);
                g.func(Func::Sqrt, s)
            }
            _ => return None,
        })
    }
}

impl Func {
    /// Whether `f32`/`f64` have a method of this function's name that
    /// computes it as symgrad does; the others (`sigmoid`, `sign`, `erf`,
    /// `sec`, ...) are runtime helpers of the same name, in stable forms and
    /// with symgrad's conventions at 0. Generated code calls one or the other.
    pub fn is_float_method(self) -> bool {
        BUILTINS
            .iter()
            .find(|b| b.builtin == Builtin::Func(self))
            .is_some_and(|b| b.rust == RustName::Method)
    }
}

/// `log(a, base)`: the named logarithm for the bases that have one.
fn log_base(g: &mut Graph, a: NodeId, base: NodeId) -> NodeId {
    match g.op(base) {
        Op::Const(n) if n.is_int(10) => return g.func(Func::Log10, a),
        Op::Const(n) if n.is_int(2) => return g.func(Func::Log2, a),
        Op::Named(NamedConst::E) => return g.func(Func::Ln, a),
        _ => {}
    }
    let ln_a = g.func(Func::Ln, a);
    let ln_b = g.func(Func::Ln, base);
    g.div(ln_a, ln_b)
}

/// The known names closest to `name` (at most three, nearest first, ties in
/// table order), for "did you mean" hints; empty when none is close.
pub fn nearest_names(name: &str) -> Vec<&'static str> {
    let len = name.chars().count();
    // One edit for short names, two for longer ones: `sinn` -> `sin`,
    // `arcsine` -> `arcsin`, but `f` suggests nothing.
    let limit = if len <= 4 { 1 } else { 2 };
    let mut found: Vec<(usize, &'static str)> = BUILTINS
        .iter()
        .map(|b| (edit_distance(name, b.name), b.name))
        .filter(|&(d, _)| d <= limit && len > 1)
        .collect();
    found.sort_by_key(|&(d, _)| d);
    found.dedup_by_key(|&mut (_, n)| n);
    found.into_iter().take(3).map(|(_, n)| n).collect()
}

/// Levenshtein distance over characters, with a swap of two neighbours
/// counting as one edit (`atna` is one edit from `atan`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}

/// `atan2(y, x)` of two exact constants, where the result is exact.
pub(super) fn exact_atan2(y: Num, x: Num) -> Option<Num> {
    (y.is_zero() && !x.is_negative() && !x.is_zero()).then(|| Num::int(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_has_its_canonical_name_first() {
        for f in Func::ALL {
            let first = BUILTINS
                .iter()
                .find(|b| b.builtin == Builtin::Func(f))
                .map(|b| b.name);
            assert_eq!(first, Some(f.name()), "{f:?}");
        }
    }

    #[test]
    fn names_are_unique() {
        for (i, a) in BUILTINS.iter().enumerate() {
            assert!(
                BUILTINS[i + 1..].iter().all(|b| b.name != a.name),
                "{} twice",
                a.name
            );
        }
    }

    #[test]
    fn nearest_names_for_typos() {
        assert_eq!(nearest_names("arcsine"), ["arcsin", "arcsinh"]);
        assert_eq!(nearest_names("sinn"), ["sin", "sinh", "sign"]);
        assert_eq!(nearest_names("atna"), ["atan"]);
        assert_eq!(nearest_names("f"), Vec::<&str>::new());
        assert_eq!(nearest_names("foo"), Vec::<&str>::new());
    }
}

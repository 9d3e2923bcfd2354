//! Parameter initializers: `= <index formula>` (evaluated when the file is
//! read) and the random ones, `~ normal(mean, std)`, `~ uniform(a, b)`,
//! `~ xavier` and `~ he`, drawn by [`Network::init_params`](super::Network::init_params).
//!
//! The arguments of `normal` and `uniform` are constant formulas in the
//! formula syntax (`1/sqrt(784)`), evaluated once. `xavier` and `he` take
//! no arguments and read the fans from the parameter's shape:
//!
//! - a matrix `W[out, in]` (it maps `in` values to `out`, as in `W @ x`):
//!   fan-in = `in` (the last dimension, the columns), fan-out = `out`;
//!   a convolution kernel `K[F, C, kh, kw]`: fan-in = `C·kh·kw`, fan-out =
//!   `F·kh·kw` (PyTorch's); another higher-rank tensor: fan-in = the last
//!   dimension, fan-out = the product of the others;
//! - a vector `b[n]`: fan-in = fan-out = `n`; a scalar: both 1.
//!
//! Then `xavier` (Glorot and Bengio, 2010) is uniform on
//! `±sqrt(6 / (fan_in + fan_out))` and `he` (He et al., 2015) is
//! `normal(0, sqrt(2 / fan_in))`.
//!
//! Random numbers come from [`SplitMix64`], one stream per parameter seeded
//! from the run's seed and the parameter's name; `uniform(a, b)` draws from
//! `[a, b)` with 53 random bits and `normal` uses the Box–Muller transform.

use super::constant_formula;
use super::syntax::{syntax, Ident};
use crate::error::{Error, ErrorKind, Result, Span};
use crate::eval::{Program, Tensor};
use crate::graph::Shape;
use crate::parse::ast::{ExprArena, ExprId};
use crate::workloads::SplitMix64;

/// How a parameter gets its initial value.
#[derive(Clone, Debug, PartialEq)]
pub enum Init {
    /// A fixed value: `= 0`, an index formula, or values loaded from a file.
    Value(Tensor),
    /// `~ normal(mean, std)`: independent normal entries.
    Normal { mean: f64, std: f64 },
    /// `~ uniform(lo, hi)`: independent uniform entries in `[lo, hi)`.
    Uniform { lo: f64, hi: f64 },
    /// `~ xavier`: uniform on `±sqrt(6 / (fan_in + fan_out))`.
    Xavier,
    /// `~ he`: `normal(0, sqrt(2 / fan_in))`.
    He,
}

/// `(fan_in, fan_out)` of a parameter of `shape` (see the module documentation).
pub fn fans(shape: &Shape) -> (usize, usize) {
    match shape.dims() {
        [] => (1, 1),
        [n] => (*n, *n),
        // A convolution kernel [F, C, kh, kw]: each output sums C·kh·kw
        // inputs, each input reaches F·kh·kw outputs (PyTorch's fans).
        [f, c, kh, kw] => (c * kh * kw, f * kh * kw),
        [rest @ .., last] => (*last, rest.iter().product()),
    }
}

impl Init {
    /// A value of `shape`, drawing random entries from `rng`.
    pub fn draw(&self, shape: &Shape, rng: &mut SplitMix64) -> Tensor {
        let n = shape.numel();
        let (fan_in, fan_out) = fans(shape);
        let data = match *self {
            Init::Value(ref t) => return t.clone(),
            Init::Normal { mean, std } => normals(n, mean, std, rng),
            Init::He => normals(n, 0.0, (2.0 / fan_in as f64).sqrt(), rng),
            Init::Uniform { lo, hi } => uniforms(n, lo, hi, rng),
            Init::Xavier => {
                let r = (6.0 / (fan_in + fan_out) as f64).sqrt();
                uniforms(n, -r, r, rng)
            }
        };
        Tensor::new(shape.clone(), data)
    }
}

pub(super) use symgrad_runtime::random::stream;
use symgrad_runtime::random::{normals, uniforms};

/// The initializer `~ dist(args)` of the tree (`call`: the span from the
/// distribution's name to its `)`; the parser has checked the name and the
/// number of arguments): the arguments evaluated as constant formulas and
/// checked.
pub(super) fn random(
    src: &str,
    exprs: &ExprArena,
    dist: &Ident,
    args: &[ExprId],
    call: Span,
) -> Result<Init> {
    let name = dist.name.as_str();
    let arity = if matches!(name, "normal" | "uniform") {
        2
    } else {
        0
    };
    if args.len() != arity {
        return Err(syntax(
            call,
            format!("'{name}' takes {arity} arguments, found {}", args.len()),
        ));
    }
    let values = args
        .iter()
        .map(|&a| constant(src, exprs, a, name))
        .collect::<Result<Vec<f64>>>()?;
    let invalid = |k: usize, what: &str| {
        Error::at(
            ErrorKind::InvalidValue,
            exprs.get(args[k]).span,
            format!("{name}(...): {what}, found {}", values[k]),
        )
    };
    for (k, v) in values.iter().enumerate() {
        if !v.is_finite() {
            return Err(invalid(k, "the arguments must be finite"));
        }
    }
    Ok(match name {
        "normal" => {
            if values[1] < 0.0 {
                return Err(invalid(1, "the standard deviation must not be negative"));
            }
            Init::Normal {
                mean: values[0],
                std: values[1],
            }
        }
        "uniform" => {
            if values[1] < values[0] {
                return Err(invalid(1, "the upper bound must not be below the lower"));
            }
            Init::Uniform {
                lo: values[0],
                hi: values[1],
            }
        }
        "xavier" => Init::Xavier,
        _ => Init::He,
    })
}

/// The value of the constant formula at `root`.
fn constant(src: &str, exprs: &ExprArena, root: ExprId, dist: &str) -> Result<f64> {
    let span = exprs.get(root).span;
    let super::ConstantFormula {
        graph,
        output,
        vars,
    } = constant_formula(src, exprs, root)?;
    if let Some(&(v, at)) = vars.first() {
        let name = graph.var_name(v).unwrap_or("");
        return Err(Error::at(
            ErrorKind::UnknownVariable,
            at,
            format!("the arguments of {dist}(...) must be constants, but '{name}' is a name"),
        ));
    }
    let program = Program::compile(&graph, &[], &[output])
        .map_err(|e| Error::at(e.kind(), span, e.message()))?;
    Ok(program.run(&[])[0])
}

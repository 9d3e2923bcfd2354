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

use super::{formula_at, name_span, syntax, text};
use crate::error::{Error, ErrorKind, Result, Span};
use crate::eval::{Program, Tensor};
use crate::graph::Shape;
use crate::parse::lexer::{Tok, Token};
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

/// A random initializer, from `~` (`toks[0]`) to the end of the statement
/// (the last token, a separator or the end of input).
pub(super) fn random(src: &str, toks: &[Token]) -> Result<Init> {
    let tilde = toks[0].span;
    const KNOWN: &str = "normal(mean, std), uniform(a, b), xavier or he";
    let Some(name_tok) = toks.get(1).filter(|t| t.kind == Tok::Ident) else {
        let at = toks.get(1).map_or(tilde, |t| t.span);
        return Err(syntax(
            at,
            format!("expected a distribution after '~': {KNOWN}"),
        ));
    };
    let name = text(src, name_tok);
    let arity = match name {
        "normal" | "uniform" => 2,
        "xavier" | "he" => 0,
        _ => {
            return Err(Error::at(
                ErrorKind::UnknownFunction,
                name_tok.span,
                format!("unknown distribution '{name}': expected {KNOWN}"),
            ))
        }
    };
    // The arguments: spans of the source between top-level commas.
    let mut args: Vec<Span> = Vec::new();
    let mut k = 2;
    let mut call = name_tok.span;
    if toks.get(k).map(|t| &t.kind) == Some(&Tok::LParen) {
        let open = toks[k].span;
        k += 1;
        let mut depth = 0usize;
        // The current argument's span, once it has a token.
        let mut arg: Option<Span> = None;
        loop {
            let Some(t) = toks.get(k) else {
                return Err(syntax(open, "unclosed '(' opened here"));
            };
            k += 1;
            match t.kind {
                Tok::Sep | Tok::Eof => return Err(syntax(open, "unclosed '(' opened here")),
                Tok::LParen => depth += 1,
                Tok::RParen if depth > 0 => depth -= 1,
                Tok::RParen | Tok::Comma if depth == 0 => {
                    let done = t.kind == Tok::RParen;
                    match arg.take() {
                        Some(a) => args.push(a),
                        None if done && args.is_empty() => {}
                        None => return Err(syntax(t.span, "expected an argument")),
                    }
                    if done {
                        call = Span::new(name_tok.span.start, t.span.end);
                        break;
                    }
                    continue;
                }
                _ => {}
            }
            arg = Some(arg.map_or(t.span, |a| Span::new(a.start, t.span.end)));
        }
    }
    if let Some(t) = toks
        .get(k)
        .filter(|t| !matches!(t.kind, Tok::Sep | Tok::Eof))
    {
        return Err(syntax(
            t.span,
            format!("expected the end of the line after the initializer '{name}'"),
        ));
    }
    if args.len() != arity {
        let takes = match arity {
            0 => format!("'{name}' takes no arguments (it reads the fans from the shape)"),
            _ => format!("'{name}' takes {arity} arguments"),
        };
        return Err(syntax(call, format!("{takes}, found {}", args.len())));
    }
    let values = args
        .iter()
        .map(|&s| constant(src, s, name))
        .collect::<Result<Vec<f64>>>()?;
    let invalid = |k: usize, what: &str| {
        Error::at(
            ErrorKind::InvalidValue,
            args[k],
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

/// The value of the constant formula at `span` of `src`.
fn constant(src: &str, span: Span, dist: &str) -> Result<f64> {
    let f = formula_at(src, span.start, span.end)?;
    if let Some(&v) = f.vars.first() {
        let name = f.graph.var_name(v).unwrap_or("");
        return Err(Error::at(
            ErrorKind::UnknownVariable,
            name_span(src, span.start, span.end, name),
            format!("the arguments of {dist}(...) must be constants, but '{name}' is a name"),
        ));
    }
    let program = Program::compile(&f.graph, &[], &[f.output])
        .map_err(|e| Error::at(e.kind(), span, e.message()))?;
    Ok(program.run(&[])[0])
}

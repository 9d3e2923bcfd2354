//! Rust tokens for an SSA [`Function`], built with `quote` (never by gluing
//! strings). The macros splice them into the user's crate; the command line
//! formats them with prettyplease.
//!
//! Generated code is straight-line `let` statements over one float type,
//! with no allocation and no tape. Elementwise functions that `f32`/`f64` do
//! not have, or whose plain formula is unstable (`sigmoid`, `softplus`,
//! `relu`, `sign`, `step`), are calls into `::symgrad::__private`, which
//! re-exports `symgrad-runtime`.

use super::ssa::{Function, Instr, Operand};
use crate::graph::{Func, Graph, NodeId};
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};

/// The float type of generated code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Float {
    F32,
    F64,
}

impl Float {
    /// The type's tokens: `f32` or `f64`.
    pub fn tokens(self) -> TokenStream {
        match self {
            Float::F32 => quote!(f32),
            Float::F64 => quote!(f64),
        }
    }

    /// A literal of this type for `x` (`2.0`, `(-1.5)`, `f64::NAN`), unsuffixed
    /// so that the surrounding `let` or parameter types it.
    pub fn literal(self, x: f64) -> TokenStream {
        let ty = self.tokens();
        if x.is_nan() {
            return quote!(#ty::NAN);
        }
        if x.is_infinite() {
            return if x > 0.0 {
                quote!(#ty::INFINITY)
            } else {
                quote!(#ty::NEG_INFINITY)
            };
        }
        // Unsuffixed (`2.0`): every use is typed by a `let` or a parameter.
        let lit = match self {
            Float::F32 => Literal::f32_unsuffixed(x.abs() as f32),
            Float::F64 => Literal::f64_unsuffixed(x.abs()),
        };
        if x.is_sign_negative() {
            quote!((-#lit))
        } else {
            quote!(#lit)
        }
    }
}

/// A parameter of a generated function: a scalar, or an array of `len` values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// The parameter's name.
    pub name: String,
    /// `Some(n)` for `[F; n]`, `None` for a scalar.
    pub len: Option<usize>,
}

impl Param {
    /// How many inputs the parameter contributes.
    pub fn width(&self) -> usize {
        self.len.unwrap_or(1)
    }
}

/// The statements computing a function's locals, and an expression per output.
pub struct Body {
    /// `let t0: f64 = ...;` statements.
    pub statements: TokenStream,
    /// One expression per output (a local, an input or a constant).
    pub outputs: Vec<TokenStream>,
}

/// Prints `f` as statements and output expressions. `inputs[i]` is the
/// expression that reads input `i` (a parameter `x` or an element `x[3]`);
/// locals are named `{prefix}{i}`.
pub fn body(f: &Function, float: Float, inputs: &[TokenStream], prefix: &str) -> Body {
    let Statements {
        declarations,
        each,
        outputs,
    } = statements(f, float, inputs, prefix);
    Body {
        statements: declarations
            .into_iter()
            .chain(each.into_iter().flatten())
            .collect(),
        outputs,
    }
}

/// [`body`] with one statement per instruction, for callers that interleave
/// them with code of their own (the macros put loops between them).
pub struct Statements {
    /// Declarations that must come before every statement (empty for short
    /// functions, whose statements are `let`s).
    pub declarations: TokenStream,
    /// `each[i]` defines local `i`.
    pub each: Vec<TokenStream>,
    /// One expression per output (a local, an input or a constant).
    pub outputs: Vec<TokenStream>,
}

/// Prints `f` one statement per instruction; see [`body`].
pub fn statements(f: &Function, float: Float, inputs: &[TokenStream], prefix: &str) -> Statements {
    let ty = float.tokens();
    let local = |i: u32| format_ident!("{}{}", prefix, i);
    let operand = |o: Operand| -> TokenStream {
        match o {
            Operand::Input(i) => inputs[i as usize].clone(),
            Operand::Local(i) => {
                let id = local(i);
                quote!(#id)
            }
            Operand::Const(c) => float.literal(c),
        }
    };
    let private = quote!(::symgrad::__private);
    let mut each = Vec::with_capacity(f.instrs.len());
    // Each `let` opens a debug-info scope nested in the previous one, and
    // rustc's LLVM backend overflows its stack on some ten thousand nested
    // scopes (Rosenbrock n = 1000 has 18,000 locals) in any build with debug
    // info. Long bodies therefore declare their locals up front, a few
    // hundred per tuple pattern, and assign each once.
    let chunked = f.instrs.len() > CHUNK;
    for (i, instr) in f.instrs.iter().enumerate() {
        let value = match *instr {
            Instr::Add(a, b) => binary(operand(a), quote!(+), operand(b)),
            Instr::Sub(a, b) => binary(operand(a), quote!(-), operand(b)),
            Instr::Mul(a, b) => binary(operand(a), quote!(*), operand(b)),
            Instr::Div(a, b) => binary(operand(a), quote!(/), operand(b)),
            Instr::Neg(a) => {
                let a = operand(a);
                quote!(-#a)
            }
            Instr::Powi(a, n) => {
                let a = operand(a);
                let n = Literal::i32_unsuffixed(n);
                quote!(#ty::powi(#a, #n))
            }
            Instr::Powf(a, b) => {
                let (a, b) = (operand(a), operand(b));
                quote!(#ty::powf(#a, #b))
            }
            Instr::Sqrt(a) => {
                let a = operand(a);
                quote!(#ty::sqrt(#a))
            }
            Instr::Max(a, b) => {
                let (a, b) = (operand(a), operand(b));
                quote!(#private::max(#a, #b))
            }
            Instr::Min(a, b) => {
                let (a, b) = (operand(a), operand(b));
                quote!(#private::min(#a, #b))
            }
            Instr::Atan2(a, b) => {
                let (a, b) = (operand(a), operand(b));
                quote!(#ty::atan2(#a, #b))
            }
            Instr::Call(func, a) => {
                let a = operand(a);
                // The method and the runtime helper carry the function's own name.
                let name = Ident::new(func.name(), Span::call_site());
                if has_std_method(func) {
                    quote!(#ty::#name(#a))
                } else {
                    quote!(#private::#name(#a))
                }
            }
        };
        let name = local(i as u32);
        each.push(if chunked {
            quote!(#name = #value;)
        } else {
            quote!(let #name: #ty = #value;)
        });
    }
    let declarations = if chunked {
        declarations(f.instrs.len(), &ty, local)
    } else {
        TokenStream::new()
    };
    let outputs = f.outputs.iter().map(|&o| operand(o)).collect();
    Statements {
        declarations,
        each,
        outputs,
    }
}

/// Bodies with more locals than this declare them in tuple patterns of this
/// many (see [`body`]).
const CHUNK: usize = 256;

/// `let (t0, t1, ...): (f64, f64, ...);` for `n` locals, `CHUNK` per pattern.
fn declarations(n: usize, ty: &TokenStream, local: impl Fn(u32) -> Ident) -> TokenStream {
    let mut out = TokenStream::new();
    let mut start = 0;
    while start < n {
        let end = (start + CHUNK).min(n);
        let names = (start..end).map(|i| local(i as u32));
        let types = (start..end).map(|_| ty);
        out.extend(quote!(let (#(#names,)*): (#(#types,)*);));
        start = end;
    }
    out
}

fn binary(a: TokenStream, op: TokenStream, b: TokenStream) -> TokenStream {
    quote!(#a #op #b)
}

/// Whether `f32`/`f64` have a method named like `func` ([`Func::is_float_method`]).
fn has_std_method(func: Func) -> bool {
    func.is_float_method()
}

/// What a generated gradient function returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Returns {
    /// `(value, [gradient; n])`.
    Gradient,
    /// `(value, [gradient; n], [[hessian; n]; n])`.
    Hessian,
}

/// A whole function `name(params) -> (F, [F; n])` (or with the Hessian)
/// computing `output` of `g` and its gradient by reverse mode (the Hessian by
/// forward over reverse). `inputs` are the variable nodes in parameter order,
/// flattened (an array parameter of length n contributes n inputs).
pub fn gradient_fn(
    g: &mut Graph,
    output: NodeId,
    inputs: &[NodeId],
    name: &str,
    params: &[Param],
    float: Float,
    returns: Returns,
) -> crate::Result<TokenStream> {
    let (signature, block) = gradient_parts(g, output, inputs, params, float, returns)?;
    let name = format_ident!("{}", name);
    let (args, ret) = signature;
    Ok(quote! {
        #[allow(clippy::all, clippy::pedantic, unused_parens, unused_variables, non_snake_case)]
        pub fn #name(#args) -> #ret #block
    })
}

/// The parameter list, return type and body block of a gradient function,
/// for callers that assemble the item themselves (the macros).
pub fn gradient_parts(
    g: &mut Graph,
    output: NodeId,
    inputs: &[NodeId],
    params: &[Param],
    float: Float,
    returns: Returns,
) -> crate::Result<((TokenStream, TokenStream), TokenStream)> {
    let n = inputs.len();
    let (grad, _) = crate::diff::reverse::gradient(g, output, inputs);
    let mut outputs = vec![output];
    outputs.extend(&grad);
    if returns == Returns::Hessian {
        let (rows, _) = crate::diff::forward::jacobian(g, &grad, inputs);
        outputs.extend(rows.into_iter().flatten());
    }
    let function = Function::lower(g, inputs, &outputs)?;
    let ty = float.tokens();
    let input_exprs = input_expressions(params);
    let prefix = local_prefix(params);
    let Body {
        statements,
        outputs,
    } = body(&function, float, &input_exprs, &prefix);
    let value = &outputs[0];
    let gradient = &outputs[1..=n];
    let nl = Literal::usize_unsuffixed(n);
    let args = param_list(params, float);
    let (ret, result) = match returns {
        Returns::Gradient => (
            quote!((#ty, [#ty; #nl])),
            quote!((#value, [#(#gradient),*])),
        ),
        Returns::Hessian => {
            let rows = outputs[n + 1..]
                .chunks(n.max(1))
                .map(|row| quote!([#(#row),*]));
            (
                quote!((#ty, [#ty; #nl], [[#ty; #nl]; #nl])),
                quote!((#value, [#(#gradient),*], [#(#rows),*])),
            )
        }
    };
    Ok(((args, ret), quote!({ #statements #result })))
}

/// The parameter list `x: f64, v: [f64; 3]` of a generated function.
pub fn param_list(params: &[Param], float: Float) -> TokenStream {
    let ty = float.tokens();
    let args = params.iter().map(|p| {
        let name = format_ident!("{}", p.name);
        match p.len {
            Some(len) => {
                let len = Literal::usize_unsuffixed(len);
                quote!(#name: [#ty; #len])
            }
            None => quote!(#name: #ty),
        }
    });
    quote!(#(#args),*)
}

/// The expression reading each flattened input: `x` or `x[3]`.
pub fn input_expressions(params: &[Param]) -> Vec<TokenStream> {
    let mut exprs = Vec::new();
    for p in params {
        let name = format_ident!("{}", p.name);
        match p.len {
            Some(len) => exprs.extend((0..len).map(|i| {
                let i = Literal::usize_unsuffixed(i);
                quote!(#name[#i])
            })),
            None => exprs.push(quote!(#name)),
        }
    }
    exprs
}

/// A prefix for locals that no parameter name can collide with: `t`, or `t_`,
/// `t__`, ... when a parameter is itself named like `t0`.
pub fn local_prefix(params: &[Param]) -> String {
    let mut prefix = String::from("t");
    while params.iter().any(|p| {
        p.name
            .strip_prefix(prefix.as_str())
            .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit()))
    }) {
        prefix.push('_');
    }
    prefix
}

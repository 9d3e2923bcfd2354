//! Signatures: the parameters and float type of a `#[gradient]` function or
//! a `grad!` closure, checked and typed.

use crate::body::Errors;
use proc_macro2::Span;
use symgrad_core::emit::Float;
use syn::spanned::Spanned;

/// A parameter as the body sees it.
pub(crate) struct Param<'a> {
    pub ident: &'a syn::Ident,
    /// `Some(n)` for `[F; n]`.
    pub len: Option<usize>,
    /// Declared `mut x: f64`.
    pub mutable: bool,
}

/// A checked signature.
pub(crate) struct Sig<'a> {
    pub params: Vec<Param<'a>>,
    pub float: Float,
}

impl Sig<'_> {
    /// The number of inputs (entries of the gradient).
    pub fn width(&self) -> usize {
        self.params.iter().map(|p| p.len.unwrap_or(1)).sum()
    }

    /// The parameters as `symgrad_core::emit` takes them.
    pub fn emit_params(&self) -> Vec<symgrad_core::emit::Param> {
        self.params
            .iter()
            .map(|p| symgrad_core::emit::Param {
                name: p.ident.to_string(),
                len: p.len,
            })
            .collect()
    }
}

const PARAM_TYPES: &str = "parameters must be `f64` or `[f64; N]` (or all `f32`)";

/// `f64` or `f32`, when `ty` is one of them.
pub(crate) fn float_type(ty: &syn::Type) -> Option<Float> {
    match ty {
        syn::Type::Path(p) if p.qself.is_none() => {
            let ident = p.path.get_ident()?;
            if ident == "f64" {
                Some(Float::F64)
            } else if ident == "f32" {
                Some(Float::F32)
            } else {
                None
            }
        }
        syn::Type::Group(g) => float_type(&g.elem),
        syn::Type::Paren(p) => float_type(&p.elem),
        _ => None,
    }
}

fn float_name(f: Float) -> &'static str {
    match f {
        Float::F32 => "f32",
        Float::F64 => "f64",
    }
}

/// Types one parameter: its length (`None` for a scalar) and float type.
fn param_type(ty: &syn::Type, errors: &mut Errors) -> Option<(Option<usize>, Float)> {
    if let Some(f) = float_type(ty) {
        return Some((None, f));
    }
    match ty {
        syn::Type::Array(a) => {
            let Some(f) = float_type(&a.elem) else {
                errors.push(syn::Error::new_spanned(
                    &a.elem,
                    format!("unsupported array element type: {PARAM_TYPES}"),
                ));
                return None;
            };
            // A length passed through `macro_rules!` arrives wrapped in an
            // invisible group (or parentheses); look through them.
            let mut len_expr = &a.len;
            while let syn::Expr::Group(syn::ExprGroup { expr, .. })
            | syn::Expr::Paren(syn::ExprParen { expr, .. }) = len_expr
            {
                len_expr = expr;
            }
            let len = match len_expr {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Int(n),
                    ..
                }) => n.base10_parse::<usize>().ok(),
                _ => None,
            };
            match len {
                Some(len) => Some((Some(len), f)),
                None => {
                    errors.push(syn::Error::new_spanned(
                        &a.len,
                        "the array length must be an integer literal, so that \
                         the gradient's length is known when the macro runs",
                    ));
                    None
                }
            }
        }
        syn::Type::Reference(r) => {
            let what = if r.mutability.is_some() {
                "`&mut` parameters are not supported"
            } else {
                "reference parameters are not supported"
            };
            errors.push(syn::Error::new_spanned(
                r,
                format!("{what}: {PARAM_TYPES}, taken by value"),
            ));
            None
        }
        _ => {
            errors.push(syn::Error::new_spanned(
                ty,
                format!("unsupported parameter type: {PARAM_TYPES}"),
            ));
            None
        }
    }
}

/// Checks one `name: type` parameter and adds it to `params`.
fn typed_param<'a>(
    pt: &'a syn::PatType,
    float: &mut Option<(Float, Span)>,
    params: &mut Vec<Param<'a>>,
    errors: &mut Errors,
) {
    let ident = match &*pt.pat {
        syn::Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => Some(p),
        other => {
            errors.push(syn::Error::new_spanned(
                other,
                "parameters must be plain names (`x: f64`), not patterns",
            ));
            None
        }
    };
    let Some((len, f)) = param_type(&pt.ty, errors) else {
        return;
    };
    match *float {
        Some((expected, _)) if expected != f => errors.push(syn::Error::new_spanned(
            &pt.ty,
            format!(
                "all parameters and the return type must share one float type: \
                 expected `{}`, found `{}`",
                float_name(expected),
                float_name(f)
            ),
        )),
        Some(_) => {}
        None => *float = Some((f, pt.ty.span())),
    }
    if let Some(p) = ident {
        params.push(Param {
            ident: &p.ident,
            len,
            mutable: p.mutability.is_some(),
        });
    }
}

/// Checks a function signature for `#[gradient]`.
pub(crate) fn function<'a>(sig: &'a syn::Signature, errors: &mut Errors) -> Option<Sig<'a>> {
    let before = errors.len();
    if let Some(a) = &sig.asyncness {
        errors.push(syn::Error::new_spanned(
            a,
            "`async fn` is not supported: #[gradient] differentiates plain float functions",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            "generic functions are not supported: #[gradient] needs concrete `f64` or `f32` types",
        ));
    }
    if let Some(v) = &sig.variadic {
        errors.push(syn::Error::new_spanned(
            v,
            "variadic functions are not supported",
        ));
    }
    // The return type fixes the float type; parameters must agree with it.
    let mut float = None;
    match &sig.output {
        syn::ReturnType::Default => errors.push(syn::Error::new(
            sig.paren_token.span.close(),
            "missing return type: #[gradient] needs a function returning `f64` or `f32`",
        )),
        syn::ReturnType::Type(_, ty) => match float_type(ty) {
            Some(f) => float = Some((f, ty.span())),
            None => errors.push(syn::Error::new_spanned(
                ty,
                "unsupported return type: #[gradient] needs a function returning `f64` or `f32`",
            )),
        },
    }
    let mut params = Vec::new();
    for arg in &sig.inputs {
        match arg {
            syn::FnArg::Receiver(r) => errors.push(syn::Error::new_spanned(
                r,
                "methods are not supported: #[gradient] needs a free function",
            )),
            syn::FnArg::Typed(pt) => typed_param(pt, &mut float, &mut params, errors),
        }
    }
    let (float, _) = float?;
    (errors.len() == before).then_some(Sig { params, float })
}

/// Checks a closure's parameters (and return type, if written) for `grad!`.
pub(crate) fn closure<'a>(c: &'a syn::ExprClosure, errors: &mut Errors) -> Option<Sig<'a>> {
    let before = errors.len();
    for (tokens, what) in [
        (c.asyncness.as_ref().map(|t| t.span), "`async` closures"),
        (c.constness.as_ref().map(|t| t.span), "`const` closures"),
        (c.capture.as_ref().map(|t| t.span), "`move` closures"),
    ] {
        if let Some(span) = tokens {
            errors.push(syn::Error::new(
                span,
                format!("{what} are not supported: grad! takes `|x: f64, y: f64| expr`"),
            ));
        }
    }
    let mut float = None;
    if let syn::ReturnType::Type(_, ty) = &c.output {
        match float_type(ty) {
            Some(f) => float = Some((f, ty.span())),
            None => errors.push(syn::Error::new_spanned(
                ty,
                "unsupported return type: grad! needs a closure returning `f64` or `f32`",
            )),
        }
    }
    let mut params = Vec::new();
    for pat in &c.inputs {
        match pat {
            syn::Pat::Type(pt) => typed_param(pt, &mut float, &mut params, errors),
            other => errors.push(syn::Error::new_spanned(
                other,
                "closure parameters need a type: write `|x: f64, y: f64| ...` \
                 (or `[f64; N]`, or `f32`)",
            )),
        }
    }
    if c.inputs.is_empty() {
        let [bar] = c.inputs_end.spans;
        errors.push(syn::Error::new(
            bar,
            "grad! needs at least one parameter to differentiate with respect to",
        ));
    }
    let float = float.map_or(Float::F64, |(f, _)| f);
    (errors.len() == before).then_some(Sig { params, float })
}

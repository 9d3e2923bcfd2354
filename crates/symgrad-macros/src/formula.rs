//! The formula form of `grad!`: `grad!("x²y + y + 2", wrt = [x, y])`.
//!
//! The string is parsed by `symgrad_core::parse::parse`, the very parser the
//! command line uses, so the macro and the CLI agree on every formula.

use crate::body::Errors;
use crate::emit::{closure_stub, generate_parts, item_expr};
use crate::expand::Expanded;
use proc_macro2::{Span, TokenStream};
use symgrad_core::emit::{Float, Param};
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;

struct Input {
    formula: syn::LitStr,
    wrt: Vec<syn::Ident>,
    /// `wrt` itself, for errors about the list as a whole.
    wrt_key: syn::Ident,
}

fn parse_input(input: ParseStream) -> syn::Result<Input> {
    let formula: syn::LitStr = input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            "grad! takes a closure, `grad!(|x: f64| ...)`, or a formula string, \
             `grad!(\"x^2*y\", wrt = [x, y])`",
        )
    })?;
    let expected = "expected `, wrt = [x, y]` after the formula: the variables to \
                    differentiate with respect to, in parameter order";
    if input.is_empty() {
        return Err(syn::Error::new(formula.span(), expected));
    }
    input
        .parse::<syn::Token![,]>()
        .map_err(|e| syn::Error::new(e.span(), expected))?;
    let key: syn::Ident = input
        .parse()
        .map_err(|e| syn::Error::new(e.span(), expected))?;
    if key != "wrt" {
        return Err(syn::Error::new(key.span(), expected));
    }
    input
        .parse::<syn::Token![=]>()
        .map_err(|e| syn::Error::new(e.span(), expected))?;
    let content;
    syn::bracketed!(content in input);
    let names: Punctuated<syn::Ident, syn::Token![,]> = Punctuated::parse_terminated(&content)?;
    if input.peek(syn::Token![,]) {
        input.parse::<syn::Token![,]>()?;
    }
    if !input.is_empty() {
        return Err(input.error("unexpected tokens after `wrt = [...]`"));
    }
    Ok(Input {
        formula,
        wrt: names.into_iter().collect(),
        wrt_key: key,
    })
}

/// The span of bytes `start..end` of the string's value inside the literal,
/// when the compiler can give one (nightly) and the literal has no escapes.
fn inner_span(lit: &syn::LitStr, value: &str, start: usize, end: usize) -> Option<Span> {
    let token = lit.token();
    let repr = token.to_string();
    let body_start = if repr.starts_with('"') {
        1
    } else if let Some(rest) = repr.strip_prefix('r') {
        rest.find('"')? + 2
    } else {
        return None;
    };
    // Offsets map one to one only when the literal's text is its value.
    let body = repr.get(body_start..body_start + value.len())?;
    if body != value {
        return None;
    }
    let end = end.max(start + 1).min(value.len().max(start + 1));
    token.subspan(body_start + start..body_start + end)
}

pub(crate) fn grad(tokens: TokenStream) -> TokenStream {
    let input = match parse_input.parse2(tokens) {
        Ok(i) => i,
        Err(e) => return e.into_compile_error(),
    };
    let params: Vec<Param> = input
        .wrt
        .iter()
        .map(|w| Param {
            name: w.to_string(),
            len: None,
        })
        .collect();
    let mut errors = Errors::default();
    match build(&input, &mut errors) {
        Some(mut ex) if errors.len() == 0 => {
            match generate_parts(&mut ex, &params, Float::F64, &input.formula) {
                Ok(g) => return item_expr(g),
                Err(e) => errors.push(e),
            }
        }
        _ => {}
    }
    let e = errors
        .combined()
        .unwrap_or_else(|| syn::Error::new(input.formula.span(), "symgrad: internal error"));
    closure_stub(e.into_compile_error(), &params, Float::F64)
}

fn build(input: &Input, errors: &mut Errors) -> Option<Expanded> {
    let value = input.formula.value();
    let f = match symgrad_core::parse::parse(&value) {
        Ok(f) => f,
        Err(e) => {
            let (start, end) = e.span().map_or((0, value.len()), |s| (s.start, s.end));
            let err = match inner_span(&input.formula, &value, start, end) {
                Some(span) => syn::Error::new(span, e.message()),
                None => syn::Error::new(
                    input.formula.span(),
                    format!("invalid formula:\n{}", e.render(&value)),
                ),
            };
            errors.push(err);
            return None;
        }
    };
    if input.wrt.is_empty() {
        errors.push(syn::Error::new(
            input.wrt_key.span(),
            "`wrt` lists no variables: name the formula's variables, in parameter order",
        ));
    }
    let names: Vec<String> = input.wrt.iter().map(|w| w.to_string()).collect();
    for (i, w) in input.wrt.iter().enumerate() {
        if names.iter().take(i).any(|n| *w == n) {
            errors.push(syn::Error::new(
                w.span(),
                format!("`{w}` is listed twice in `wrt`"),
            ));
        } else if f.graph.var_node(&w.to_string()).is_none() {
            errors.push(syn::Error::new(
                w.span(),
                format!(
                    "`{w}` is not a variable of the formula, which uses: {}",
                    f.var_names().join(", ")
                ),
            ));
        }
    }
    let missing: Vec<&str> = f
        .var_names()
        .into_iter()
        .filter(|v| !names.iter().any(|n| n == v))
        .collect();
    if !missing.is_empty() {
        let list = missing
            .iter()
            .map(|m| format!("`{m}`"))
            .collect::<Vec<_>>()
            .join(", ");
        errors.push(syn::Error::new(
            input.formula.span(),
            format!(
                "the formula uses {list}, which {} not listed in `wrt`: every variable \
                 must be a parameter",
                if missing.len() == 1 { "is" } else { "are" }
            ),
        ));
    }
    let inputs = names.iter().filter_map(|n| f.graph.var_node(n)).collect();
    Some(Expanded {
        graph: f.graph,
        output: f.output,
        inputs,
        loops: Vec::new(),
    })
}

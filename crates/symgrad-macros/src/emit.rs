//! The macros' entry points: parse, check, expand, and print the generated
//! functions (or, after an error, the error and a typed stub).

use crate::body::{self, Errors};
use crate::expand::{self, Expanded, Loops};
use crate::sig::{self, Sig};
use proc_macro2::TokenStream;
use quote::{format_ident, quote, ToTokens};
use symgrad_core::emit::rust::gradient_parts;
use symgrad_core::emit::{Float, Param, Returns};

/// Lints generated code must not trip in the user's crate.
fn allow() -> TokenStream {
    quote! {
        #[allow(
            clippy::all,
            clippy::pedantic,
            clippy::nursery,
            unused_parens,
            unused_variables,
            unused_mut,
            non_snake_case
        )]
    }
}

/// The parameter list, return type and body of a gradient function.
pub(crate) struct Generated {
    args: TokenStream,
    ret: TokenStream,
    block: TokenStream,
}

fn generate(
    ex: &mut Expanded,
    params: &[Param],
    float: Float,
    returns: Returns,
    at: &dyn ToTokens,
) -> Result<Generated, syn::Error> {
    let parts = if ex.loops.is_empty() || returns == Returns::Hessian {
        gradient_parts(&mut ex.graph, ex.output, &ex.inputs, params, float, returns)
    } else {
        crate::looped::gradient_parts(
            &mut ex.graph,
            ex.output,
            &ex.inputs,
            &ex.loops,
            params,
            float,
        )
    };
    parts
        .map(|((args, ret), block)| Generated { args, ret, block })
        .map_err(|e| {
            syn::Error::new_spanned(
                at,
                format!("symgrad could not generate the gradient: {}", e.message()),
            )
        })
}

/// The return type of a gradient (or Hessian) function of `n` inputs.
fn return_type(float: Float, n: usize, returns: Returns) -> TokenStream {
    let ty = float.tokens();
    let n = proc_macro2::Literal::usize_unsuffixed(n);
    match returns {
        Returns::Gradient => quote!((#ty, [#ty; #n])),
        Returns::Hessian => quote!((#ty, [#ty; #n], [[#ty; #n]; #n])),
    }
}

// ---------------------------------------------------------------- #[gradient]

/// What `#[gradient(...)]` asks for.
fn attribute_args(args: TokenStream, errors: &mut Errors) -> bool {
    let mut hessian = false;
    for tt in args {
        match &tt {
            proc_macro2::TokenTree::Ident(i) if i == "hessian" && !hessian => hessian = true,
            proc_macro2::TokenTree::Punct(p) if p.as_char() == ',' => {}
            other => errors.push(syn::Error::new_spanned(
                other,
                "unknown #[gradient] argument: write `#[gradient]` or `#[gradient(hessian)]`",
            )),
        }
    }
    hessian
}

pub(crate) fn gradient(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let hessian = attribute_args(args, &mut errors);
    let func: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            let e = syn::Error::new(e.span(), format!("#[gradient] applies to a function: {e}"));
            let e = e.into_compile_error();
            return quote!(#e #item);
        }
    };
    let wants: &[Returns] = if hessian {
        &[Returns::Gradient, Returns::Hessian]
    } else {
        &[Returns::Gradient]
    };
    let checked = sig::function(&func.sig, &mut errors);
    let body = checked
        .as_ref()
        .and_then(|s| body::function(s, &func.block, &mut errors));
    let mut generated = Vec::new();
    if let (Some(s), Some(b), 0) = (&checked, &body, errors.len()) {
        let params = s.emit_params();
        for &returns in wants {
            // The Hessian is built from the unrolled graph: only the
            // gradient keeps accumulation loops as loops.
            let mode = match returns {
                Returns::Gradient => Loops::Keep,
                Returns::Hessian => Loops::Unroll,
            };
            let made = expand::expand(s, b, mode)
                .and_then(|mut ex| generate(&mut ex, &params, s.float, returns, &func.sig.ident));
            match made {
                Ok(g) => generated.push((returns, g)),
                Err(e) => {
                    errors.push(e);
                    break;
                }
            }
        }
    }
    let vis = &func.vis;
    let name = &func.sig.ident;
    let allow = allow();
    let mut out = func.to_token_stream();
    if let Some(e) = errors.combined() {
        out.extend(e.into_compile_error());
        for &returns in wants {
            out.extend(stub(&func, checked.as_ref(), returns));
        }
        return out;
    }
    for (returns, g) in generated {
        let (suffix, what) = match returns {
            Returns::Gradient => ("gradient", "value and gradient"),
            Returns::Hessian => ("hessian", "value, gradient and Hessian"),
        };
        let ident = format_ident!("{}_{}", name, suffix, span = name.span());
        let doc = format!(
            "The {what} of [`{name}`], generated by `#[symgrad::gradient]`: \
             straight-line code (with loops that only accumulate kept as loops), \
             with the gradient in parameter order."
        );
        let Generated { args, ret, block } = g;
        out.extend(quote! {
            #[doc = #doc]
            #allow
            #[must_use]
            #vis fn #ident(#args) -> #ret #block
        });
    }
    out
}

/// A function with the generated one's name and signature whose body never
/// runs, so that the user sees the real error and not "cannot find
/// function" at every call.
fn stub(func: &syn::ItemFn, checked: Option<&Sig<'_>>, returns: Returns) -> TokenStream {
    let suffix = match returns {
        Returns::Gradient => "gradient",
        Returns::Hessian => "hessian",
    };
    let name = &func.sig.ident;
    let ident = format_ident!("{}_{}", name, suffix, span = name.span());
    let vis = &func.vis;
    let allow = allow();
    let mut sig = func.sig.clone();
    sig.ident = ident;
    // The return type is known when the signature was fine; otherwise `!`
    // fits any use.
    let ret = match checked {
        Some(s) => return_type(s.float, s.width(), returns),
        None => quote!(!),
    };
    sig.output = syn::ReturnType::Type(Default::default(), Box::new(syn::Type::Verbatim(ret)));
    quote! {
        #allow
        #[allow(unreachable_code, dead_code)]
        #vis #sig {
            ::core::unreachable!()
        }
    }
}

// ---------------------------------------------------------------- grad!

pub(crate) fn grad(input: TokenStream) -> TokenStream {
    let is_formula = starts_with_literal(&input);
    if is_formula {
        return crate::formula::grad(input);
    }
    let closure: syn::ExprClosure = match syn::parse2(input) {
        Ok(c) => c,
        Err(e) => {
            let e = syn::Error::new(
                e.span(),
                format!(
                    "grad! takes a closure, `grad!(|x: f64, y: f64| expr)`, or a formula, \
                     `grad!(\"x^2*y\", wrt = [x, y])`: {e}"
                ),
            );
            return e.into_compile_error();
        }
    };
    let mut errors = Errors::default();
    let checked = sig::closure(&closure, &mut errors);
    let body = checked
        .as_ref()
        .and_then(|s| body::closure(s, &closure.body, &mut errors));
    let mut generated = None;
    if let (Some(s), Some(b), 0) = (&checked, &body, errors.len()) {
        match expand::expand(s, b, Loops::Keep) {
            Ok(mut ex) => {
                let params = s.emit_params();
                match generate(&mut ex, &params, s.float, Returns::Gradient, &closure) {
                    Ok(g) => generated = Some(g),
                    Err(e) => errors.push(e),
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if let Some(e) = errors.combined() {
        let e = e.into_compile_error();
        return match &checked {
            Some(s) => {
                let params = s.emit_params();
                closure_stub(e, &params, s.float)
            }
            None => raw_closure_stub(e, &closure),
        };
    }
    match generated {
        Some(g) => item_expr(g),
        None => quote!(::core::compile_error!(
            "symgrad: no gradient was generated (a bug in symgrad-macros)"
        )),
    }
}

/// Whether the input starts with a literal, looking into the invisible
/// groups that `macro_rules!` wraps a `$x:literal` in.
fn starts_with_literal(input: &TokenStream) -> bool {
    match input.clone().into_iter().next() {
        Some(proc_macro2::TokenTree::Literal(_)) => true,
        Some(proc_macro2::TokenTree::Group(g)) if g.delimiter() == proc_macro2::Delimiter::None => {
            starts_with_literal(&g.stream())
        }
        _ => false,
    }
}

/// A block that defines the generated function and evaluates to it.
pub(crate) fn item_expr(g: Generated) -> TokenStream {
    let allow = allow();
    let Generated { args, ret, block } = g;
    quote! {
        {
            #allow
            fn __symgrad_gradient(#args) -> #ret #block
            __symgrad_gradient
        }
    }
}

/// After an error in `grad!`: the error, and a function of the right type.
pub(crate) fn closure_stub(error: TokenStream, params: &[Param], float: Float) -> TokenStream {
    let allow = allow();
    let ty = float.tokens();
    let n: usize = params.iter().map(Param::width).sum();
    let ret = return_type(float, n, Returns::Gradient);
    let args = params.iter().map(|p| {
        let name = format_ident!("{}", p.name);
        match p.len {
            Some(len) => {
                let len = proc_macro2::Literal::usize_unsuffixed(len);
                quote!(#name: [#ty; #len])
            }
            None => quote!(#name: #ty),
        }
    });
    quote! {
        {
            #error
            #allow
            #[allow(unreachable_code, dead_code)]
            fn __symgrad_gradient(#(#args),*) -> #ret {
                ::core::unreachable!()
            }
            __symgrad_gradient
        }
    }
}

/// After an error in a closure's parameters: the error, and a function
/// taking the parameters as written (untyped ones as the default float)
/// and returning `!`, which fits any use.
fn raw_closure_stub(error: TokenStream, closure: &syn::ExprClosure) -> TokenStream {
    let allow = allow();
    let args = closure.inputs.iter().filter_map(|pat| match pat {
        syn::Pat::Type(pt) => match &*pt.pat {
            syn::Pat::Ident(p) => {
                let (name, ty) = (&p.ident, &pt.ty);
                Some(quote!(#name: #ty))
            }
            _ => None,
        },
        syn::Pat::Ident(p) => {
            let name = &p.ident;
            Some(quote!(#name: f64))
        }
        _ => None,
    });
    quote! {
        {
            #error
            #allow
            #[allow(unreachable_code, dead_code)]
            fn __symgrad_gradient(#(#args),*) -> ! {
                ::core::unreachable!()
            }
            __symgrad_gradient
        }
    }
}

/// Generates a gradient function for a graph built elsewhere (the formula
/// form).
pub(crate) fn generate_parts(
    ex: &mut Expanded,
    params: &[Param],
    float: Float,
    at: &dyn ToTokens,
) -> Result<Generated, syn::Error> {
    generate(ex, params, float, Returns::Gradient, at)
}

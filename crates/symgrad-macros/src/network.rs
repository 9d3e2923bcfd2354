//! `network!(Name, "file.sg")`: a network file compiled into a struct at
//! build time.
//!
//! The file is read relative to the crate's `CARGO_MANIFEST_DIR` and parsed
//! by `symgrad_core::net::parse_network`, the parser the command line uses;
//! a bad file is a compile error on the path literal whose message shows the
//! file, line and column with a caret under the problem (a literal has no
//! sub-spans on stable Rust to point into another file). The items come
//! from `symgrad_core::emit::network`, and an `include_bytes!` of the file
//! makes cargo rebuild when it changes.

use proc_macro2::TokenStream;
use quote::quote;
use symgrad_core::emit::Float;
use syn::parse::{Parse, ParseStream};

struct Input {
    vis: syn::Visibility,
    name: syn::Ident,
    path: syn::LitStr,
    float: Float,
}

const USAGE: &str = "network! takes a struct name and a network file, \
                     `network!(Mnist, \"nets/mnist.sg\")`, optionally `pub` before the name \
                     and `, f32` after the path";

impl Parse for Input {
    fn parse(input: ParseStream) -> syn::Result<Input> {
        let vis: syn::Visibility = input.parse()?;
        let name: syn::Ident = input
            .parse()
            .map_err(|e| syn::Error::new(e.span(), USAGE))?;
        input
            .parse::<syn::Token![,]>()
            .map_err(|e| syn::Error::new(e.span(), USAGE))?;
        let path: syn::LitStr = input
            .parse()
            .map_err(|e| syn::Error::new(e.span(), USAGE))?;
        let mut float = Float::F64;
        if input.peek(syn::Token![,]) {
            input.parse::<syn::Token![,]>()?;
            if !input.is_empty() {
                let ty: syn::Ident = input.parse()?;
                float = match ty.to_string().as_str() {
                    "f64" => Float::F64,
                    "f32" => Float::F32,
                    _ => {
                        return Err(syn::Error::new(
                            ty.span(),
                            "the float type is `f32` or `f64`",
                        ))
                    }
                };
                if input.peek(syn::Token![,]) {
                    input.parse::<syn::Token![,]>()?;
                }
            }
        }
        if !input.is_empty() {
            return Err(input.error(USAGE));
        }
        Ok(Input {
            vis,
            name,
            path,
            float,
        })
    }
}

/// Expands `network!`; every failure is a spanned compile error.
pub fn network(input: TokenStream) -> TokenStream {
    match expand(input) {
        Ok(tokens) => tokens,
        Err(e) => e.to_compile_error(),
    }
}

fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let input: Input = syn::parse2(input)?;
    let relative = input.path.value();
    let base = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_string());
    let path = std::path::Path::new(&base).join(&relative);
    let src = std::fs::read_to_string(&path).map_err(|e| {
        syn::Error::new(
            input.path.span(),
            format!(
                "cannot read the network file {} ({e}); the path is relative to the crate's directory",
                path.display()
            ),
        )
    })?;
    let fail = |e: symgrad_core::Error| {
        syn::Error::new(
            input.path.span(),
            format!("in {relative}: {}", e.render(&src)),
        )
    };
    let net = symgrad_core::net::parse_network(&src).map_err(fail)?;
    let vis = &input.vis;
    let vis = quote!(#vis);
    let items = symgrad_core::emit::network::network(&input.name, &vis, &net, &src, input.float)
        .map_err(fail)?;
    let full = path.to_string_lossy().into_owned();
    Ok(quote! {
        #items
        const _: &[u8] = include_bytes!(#full);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(input: TokenStream) -> String {
        // An expansion that succeeds gives "", which fails every check.
        expand(input)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn a_shape_error_names_the_file_line_and_column() {
        let e = error(quote!(Bad, "tests/nets/bad_shape.sg"));
        assert!(e.contains("in tests/nets/bad_shape.sg"), "{e}");
        assert!(e.contains("cannot multiply [30, 784] by [10]"), "{e}");
        assert!(e.contains("line 3"), "{e}");
        assert!(e.contains("loss = sum(W @ x)"), "{e}");
        assert!(e.contains("^^^^^"), "{e}");
    }

    #[test]
    fn a_missing_file_and_bad_arguments_are_errors() {
        let e = error(quote!(Net, "tests/nets/no_such_file.sg"));
        assert!(e.contains("cannot read the network file"), "{e}");
        assert!(e.contains("relative to the crate's directory"), "{e}");
        assert!(error(quote!("file.sg")).contains("network! takes a struct name"));
        assert!(error(quote!(Net)).contains("network! takes a struct name"));
        let e = error(quote!(Net, "tests/nets/bad_shape.sg", f16));
        assert!(e.contains("`f32` or `f64`"), "{e}");
        let e = error(quote!(Net, "tests/nets/no_data.sg"));
        assert!(e.contains("needs an input or a target"), "{e}");
    }

    #[test]
    fn a_good_file_expands_to_the_struct_and_its_methods() {
        let out = expand(quote!(pub Tiny, "../../tests/data/networks/net232.sg"))
            .map(|t| t.to_string())
            .unwrap_or_default();
        for item in [
            "pub struct Tiny",
            "TinyParams",
            "TinyGradient",
            "fn loss_and_gradient",
            "fn forward",
            "include_bytes",
        ] {
            assert!(out.contains(item), "{item} missing");
        }
    }
}

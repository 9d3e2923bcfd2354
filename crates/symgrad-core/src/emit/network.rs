//! Rust tokens for a whole network: the struct that `network!` defines, with
//! its parameters, `init`, `forward`, `loss` and `loss_and_gradient`.
//!
//! Each method runs a [`Plan`] (from [`crate::net::batch::plan`]) as
//! straight-line calls of `symgrad_runtime::kernels`: the same kernels, in
//! the same order, as the interpreter, without its dispatch. Buffers live
//! in a workspace struct per plan, one field per buffer, sized on the first
//! call for a batch size and reused after; sizes that depend on the batch
//! are expressions in `m`. Parameters start from the file's initializers:
//! index formulas are evaluated here and embedded as arrays, random ones
//! are drawn at run time by `symgrad_runtime::random`, exactly as
//! `symgrad net init` draws them.

use super::rust::Float;
use crate::error::Result;
use crate::graph::Func;
use crate::net::batch::{plan, prediction, Outputs};
use crate::net::{fans, Init, Network, Role};
use crate::plan::{Binary, Instr, Plan, Size, Src, Unary, View};
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};

/// The items `network!(Name, "file.sg")` expands to, for `net` in `float`.
/// `vis` is the visibility of the struct and its companions.
///
/// # Errors
/// When the network cannot be batched or lowered.
pub fn network(
    name: &Ident,
    vis: &TokenStream,
    net: &Network,
    float: Float,
) -> Result<TokenStream> {
    if net
        .with_role(Role::Input)
        .chain(net.with_role(Role::Target))
        .next()
        .is_none()
    {
        return Err(crate::error::Error::new(
            crate::error::ErrorKind::InvalidValue,
            "network! needs an input or a target: the batch size is read from the data",
        ));
    }
    let ty = float.tokens();
    let params: Vec<_> = net.with_role(Role::Param).collect();
    let data: Vec<_> = net
        .with_role(Role::Input)
        .chain(net.with_role(Role::Target))
        .collect();
    let inputs: Vec<_> = net.with_role(Role::Input).collect();
    let params_ty = format_ident!("{}Params", name);
    let grad_ty = format_ident!("{}Gradient", name);
    let field = rust_name;
    let p_fields: Vec<Ident> = params.iter().map(|p| field(&p.name)).collect();
    let d_args: Vec<Ident> = data.iter().map(|d| field(&d.name)).collect();
    let in_args: Vec<Ident> = inputs.iter().map(|d| field(&d.name)).collect();
    let per_sample: Vec<usize> = data.iter().map(|d| d.shape.numel()).collect();
    let in_sizes: Vec<usize> = inputs.iter().map(|d| d.shape.numel()).collect();

    let grad_plan = plan(net, Outputs::LossAndGradient)?;
    let loss_plan = plan(net, Outputs::Loss)?;
    // Without an input there is nothing to predict from.
    let fwd_plan = match inputs.is_empty() {
        true => None,
        false => prediction(net).and_then(|_| plan(net, Outputs::Prediction).ok()),
    };

    // Dropout masks: drawn by the struct before each training-mode run.
    let masks: Vec<_> = net.with_role(Role::Mask).collect();
    let n_masks = masks.len();
    let n_masks_lit = Literal::usize_unsuffixed(n_masks);
    // Sources of a plan: data (inputs, targets), masks, params, then 1/m.
    let n_data = data.len();
    let source = |k: usize| -> TokenStream {
        if k < n_data {
            let a = &d_args[k];
            quote!(#a)
        } else if k < n_data + n_masks {
            let i = k - n_data;
            quote!(&__masks[#i][..])
        } else if k < n_data + n_masks + params.len() {
            let f = &p_fields[k - n_data - n_masks];
            quote!(&__params.#f[..])
        } else {
            quote!(&__weight[..])
        }
    };
    let (grad_ws, grad_run) = workspace(
        &format_ident!("{}GradientWs", name),
        &grad_plan,
        float,
        &source,
    );
    let (loss_ws, loss_run) =
        workspace(&format_ident!("{}LossWs", name), &loss_plan, float, &source);
    let grad_ws_ty = format_ident!("{}GradientWs", name);
    let loss_ws_ty = format_ident!("{}LossWs", name);
    let loss_out = buf(grad_plan.outputs[0].0);
    let grad_outs: Vec<Ident> = grad_plan.outputs[1..]
        .iter()
        .map(|(b, _)| buf(*b))
        .collect();
    let loss_only = buf(loss_plan.outputs[0].0);

    // The batch size from the first data argument, checked against the rest.
    let batch_size = |args: &[Ident], sizes: &[usize]| -> TokenStream {
        let (Some(first), Some(&n0)) = (args.first(), sizes.first()) else {
            return TokenStream::new();
        };
        let checks = args.iter().zip(sizes).map(|(a, &n)| {
            let msg =
                format!("`{a}` must hold m samples of {n} entries each (m = {{}}), it has {{}}");
            quote!(assert!(#a.len() == __m * #n && __m > 0, #msg, __m, #a.len());)
        });
        quote! {
            let __m = #first.len() / #n0;
            #(#checks)*
        }
    };
    let m_data = batch_size(&d_args, &per_sample);
    let m_inputs = batch_size(&in_args, &in_sizes);

    // The forward workspace's items, `forward`, its field and initializer.
    let (fwd_items, fwd_method, fwd_field, fwd_init) = match &fwd_plan {
        Some(p) => {
            let ws_ty = format_ident!("{}ForwardWs", name);
            // The prediction plan reads no target: give targets empty slices.
            let n_inputs = inputs.len();
            let fwd_source = |k: usize| -> TokenStream {
                if k < n_inputs {
                    let a = &in_args[k];
                    quote!(#a)
                } else if k < n_data {
                    quote!(&[][..])
                } else {
                    source(k)
                }
            };
            let (ws, run) = workspace(&ws_ty, p, float, &fwd_source);
            let out = buf(p.outputs[0].0);
            let e = prediction(net).map(|e| e.name.clone()).unwrap_or_default();
            let doc = format!(
                " The prediction `{e}` for each of the `m` samples in `{}` (row-major, samples first).",
                in_args.iter().map(ToString::to_string).collect::<Vec<_>>().join("`, `")
            );
            (
                ws,
                quote! {
                    #[doc = #doc]
                    pub fn forward(&mut self, #(#in_args: &[#ty]),*) -> &[#ty] {
                        #m_inputs
                        self.draw_masks(__m, false);
                        let __masks = &self.dropout_masks;
                        let __ws = self.forward_ws.get_or_insert_with(|| #ws_ty::new(__m));
                        __ws.resize(__m);
                        let __params = &self.params;
                        let __weight = [1.0 as #ty / __m as #ty];
                        #run
                        &__ws.#out
                    }
                },
                quote!(forward_ws: Option<#ws_ty>,),
                quote!(forward_ws: None,),
            )
        }
        None => Default::default(),
    };

    let mask_index: Vec<usize> = (0..n_masks).collect();
    let mask_sizes: Vec<usize> = masks.iter().map(|d| d.shape.numel()).collect();
    let mask_names: Vec<&str> = masks.iter().map(|d| d.name.as_str()).collect();
    let mask_ps: Vec<f64> = masks.iter().map(|d| d.dropout.unwrap_or(0.0)).collect();
    let inits = params
        .iter()
        .map(|p| init_tokens(p.name.as_str(), &p.shape, p.init.as_ref(), float));
    let shapes = params.iter().map(|p| {
        let dims = p.shape.dims().iter().map(|&d| Literal::usize_unsuffixed(d));
        quote!(&[#(#dims),*])
    });
    let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
    let p_docs = params
        .iter()
        .map(|p| format!(" `{}{}`, row-major.", p.name, p.shape));
    let g_docs = params
        .iter()
        .map(|p| format!(" `∂C/∂{}`, shaped like `{}{}`.", p.name, p.name, p.shape));
    let doc_struct = format!(
        " The network `{name}`: its parameters and compiled forward pass, loss and gradient \
         (generated by `symgrad::network!`). Data arguments are row-major slices of `m` samples: {}.",
        data.iter()
            .map(|d| format!("`{}` ({} each)", d.name, d.shape))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let doc_params = format!(" The parameters of `{name}`, each a row-major `Vec` of its shape.");
    let doc_grad = format!(" The gradient of `{name}`'s mean loss, one slice per parameter.");
    Ok(quote! {
        #[doc = #doc_params]
        #[allow(non_snake_case)]
        #[derive(Clone, Debug, PartialEq)]
        #vis struct #params_ty {
            #(#[doc = #p_docs] pub #p_fields: ::std::vec::Vec<#ty>,)*
        }

        impl #params_ty {
            /// The parameters' names, in file order.
            pub const NAMES: &'static [&'static str] = &[#(#names),*];
            /// The parameters' shapes, in file order.
            pub const SHAPES: &'static [&'static [usize]] = &[#(#shapes),*];
        }

        #[doc = #doc_grad]
        #[allow(non_snake_case)]
        #[derive(Clone, Copy, Debug)]
        #vis struct #grad_ty<'a> {
            #(#[doc = #g_docs] pub #p_fields: &'a [#ty],)*
        }

        #[doc = #doc_struct]
        #vis struct #name {
            /// The parameters, which `loss_and_gradient` differentiates.
            pub params: #params_ty,
            gradient_ws: Option<#grad_ws_ty>,
            loss_ws: Option<#loss_ws_ty>,
            #fwd_field
            dropout_masks: [::std::vec::Vec<#ty>; #n_masks_lit],
            dropout_seed: u64,
            dropout_draws: u64,
        }

        #grad_ws
        #loss_ws
        #fwd_items

        #[allow(clippy::all, unused_variables, non_snake_case)]
        impl #name {
            /// The network with its parameters drawn from the file's
            /// initializers (`seed` seeds the random ones, as in
            /// `symgrad net init --seed`).
            pub fn init(seed: u64) -> #name {
                let mut net = Self::with_params(#params_ty { #(#p_fields: #inits,)* });
                net.dropout_seed = seed;
                net
            }

            /// The network with the given parameters.
            pub fn with_params(params: #params_ty) -> #name {
                #name {
                    params,
                    gradient_ws: None,
                    loss_ws: None,
                    #fwd_init
                    dropout_masks: ::core::array::from_fn(|_| ::std::vec::Vec::new()),
                    dropout_seed: 0,
                    dropout_draws: 0,
                }
            }

            /// Seeds the dropout masks: the next training-mode call (`loss`
            /// or `loss_and_gradient`) draws the masks that `symgrad net grad
            /// --seed SEED` draws, and each call after it the masks of the
            /// seed after (`SEED + 1`, ...). Nothing changes without dropout.
            pub fn set_dropout_seed(&mut self, seed: u64) {
                self.dropout_seed = seed;
                self.dropout_draws = 0;
            }

            /// Fills the dropout masks for `m` samples: drawn (training), or
            /// `1 - p` everywhere (prediction: the expected mask, so that
            /// inverted dropout is the identity).
            fn draw_masks(&mut self, m: usize, training: bool) {
                let seed = self.dropout_seed.wrapping_add(self.dropout_draws);
                if training && #n_masks > 0 {
                    self.dropout_draws += 1;
                }
                let mut scratch: ::std::vec::Vec<f64> = ::std::vec::Vec::new();
                #(
                    let mask = &mut self.dropout_masks[#mask_index];
                    mask.resize(m * #mask_sizes, 0.0);
                    if training {
                        scratch.resize(#mask_sizes, 0.0);
                        for (sample, chunk) in mask.chunks_exact_mut(#mask_sizes).enumerate() {
                            ::symgrad::__private::random::dropout_mask(
                                seed, #mask_names, sample, #mask_ps, &mut scratch,
                            );
                            for (d, s) in chunk.iter_mut().zip(&scratch) {
                                *d = *s as #ty;
                            }
                        }
                    } else {
                        mask.fill((1.0 - #mask_ps) as #ty);
                    }
                )*
            }

            /// The mean loss over the `m` samples in the data arguments.
            pub fn loss(&mut self, #(#d_args: &[#ty]),*) -> #ty {
                #m_data
                self.draw_masks(__m, true);
                let __masks = &self.dropout_masks;
                let __ws = self.loss_ws.get_or_insert_with(|| #loss_ws_ty::new(__m));
                __ws.resize(__m);
                let __params = &self.params;
                let __weight = [1.0 as #ty / __m as #ty];
                #loss_run
                __ws.#loss_only[0]
            }

            /// The mean loss over the `m` samples in the data arguments and
            /// its gradient with respect to every parameter, in one
            /// backward pass.
            pub fn loss_and_gradient(&mut self, #(#d_args: &[#ty]),*) -> (#ty, #grad_ty<'_>) {
                #m_data
                self.draw_masks(__m, true);
                let __masks = &self.dropout_masks;
                let __ws = self.gradient_ws.get_or_insert_with(|| #grad_ws_ty::new(__m));
                __ws.resize(__m);
                let __params = &self.params;
                let __weight = [1.0 as #ty / __m as #ty];
                #grad_run
                (__ws.#loss_out[0], #grad_ty { #(#p_fields: &__ws.#grad_outs,)* })
            }

            #fwd_method
        }
    })
}

/// A file's name as a Rust identifier: raw (`r#type`) where it is a Rust
/// keyword, so that any name the file may use is a field and a parameter.
fn rust_name(name: &str) -> Ident {
    const KEYWORDS: &[&str] = &[
        "as", "break", "const", "continue", "else", "enum", "extern", "false", "fn", "for", "if",
        "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
        "static", "struct", "trait", "true", "type", "unsafe", "use", "where", "while", "async",
        "await", "dyn", "abstract", "become", "box", "do", "final", "macro", "override", "priv",
        "typeof", "unsized", "virtual", "yield", "try", "gen",
    ];
    if KEYWORDS.contains(&name) {
        Ident::new_raw(name, Span::call_site())
    } else {
        Ident::new(name, Span::call_site())
    }
}

fn buf(b: usize) -> Ident {
    format_ident!("b{}", b)
}

/// A size as a `usize` expression in `m`.
fn size(s: Size) -> TokenStream {
    let c = Literal::usize_unsuffixed(s.coef);
    match s.pow {
        0 => quote!(#c),
        1 if s.coef == 1 => quote!(__m),
        1 => quote!((#c * __m)),
        p => {
            let p = Literal::u32_unsuffixed(p);
            quote!((#c * __m.pow(#p)))
        }
    }
}

fn sizes<const N: usize>(s: [Size; N]) -> TokenStream {
    let each = s.iter().map(|&x| size(x));
    quote!([#(#each),*])
}

/// The workspace struct of a plan (one `Vec` per buffer) and the
/// statements that run the plan over it (`ws`, `params`, `weight` and the
/// data arguments in scope).
fn workspace(
    ty_name: &Ident,
    plan: &Plan,
    float: Float,
    source: &dyn Fn(usize) -> TokenStream,
) -> (TokenStream, TokenStream) {
    let ty = float.tokens();
    let fields: Vec<Ident> = (0..plan.buffers.len()).map(buf).collect();
    let lens: Vec<TokenStream> = plan.buffers.iter().map(|&n| size(n)).collect();
    let src = |s: Src| match s {
        Src::Input(k) => source(k),
        Src::Buf(b) => {
            let f = buf(b);
            quote!(&__ws.#f[..])
        }
    };
    let view = |v: &View| (src(v.src), sizes(v.strides));
    let kernels = quote!(::symgrad::__private::kernels);
    let private = quote!(::symgrad::__private);
    let instr = |i: &Instr| -> TokenStream {
        let out = buf(i.out());
        match i {
            Instr::Fill { value, .. } => {
                let v = float.literal(*value);
                quote!(__ws.#out[0] = #v;)
            }
            Instr::Map { f, dims, a, .. } => {
                let (a, sa) = view(a);
                let d = sizes(*dims);
                let body = match *f {
                    Unary::Copy => quote!(x),
                    Unary::Neg => quote!(-x),
                    Unary::Powi(2) => quote!(x * x),
                    Unary::Powi(e) => quote!(#ty::powi(x, #e)),
                    Unary::Func(func) => func_call(func, &ty, &private),
                };
                quote!(#kernels::map(#d, #a, #sa, &mut __ws.#out, |x: #ty| #body);)
            }
            Instr::Zip { op, dims, a, b, .. } => {
                let (a, sa) = view(a);
                let (b, sb) = view(b);
                let d = sizes(*dims);
                let body = match op {
                    Binary::Add => quote!(x + y),
                    Binary::Sub => quote!(x - y),
                    Binary::Mul => quote!(x * y),
                    Binary::Div => quote!(x / y),
                    Binary::Pow => quote!(#ty::powf(x, y)),
                    Binary::Max => quote!(#private::max(x, y)),
                    Binary::Min => quote!(#private::min(x, y)),
                    Binary::Atan2 => quote!(#ty::atan2(x, y)),
                };
                quote!(#kernels::zip(#d, #a, #sa, #b, #sb, &mut __ws.#out, |x: #ty, y: #ty| #body);)
            }
            Instr::SoftmaxLogSumExp {
                rows,
                cols,
                a,
                softmax,
                lse,
            } => {
                let (r, c, a) = (size(*rows), size(*cols), src(*a));
                let (p, l) = (buf(*softmax), buf(*lse));
                quote!(#kernels::softmax_logsumexp_rows(#r, #c, #a, &mut __ws.#p, &mut __ws.#l);)
            }
            Instr::SigmoidPair { dims, a, pos, neg } => {
                let (a, sa) = view(a);
                let d = sizes(*dims);
                let (p, q) = (buf(*pos), buf(*neg));
                quote!(#kernels::sigmoid_pair(#d, #a, #sa, &mut __ws.#p, &mut __ws.#q);)
            }
            Instr::SumInto {
                dims,
                a,
                out_strides,
                ..
            } => {
                let (a, sa) = view(a);
                let (d, so) = (sizes(*dims), sizes(*out_strides));
                quote!(#kernels::sum_into(#d, #a, #sa, &mut __ws.#out, #so);)
            }
            Instr::Reduce {
                kind,
                outer,
                len,
                inner,
                a,
                ..
            } => {
                let kind = Ident::new(&format!("{kind:?}"), Span::call_site());
                let (o, l, n) = (size(*outer), size(*len), size(*inner));
                let a = src(*a);
                quote!(#kernels::reduce(#kernels::Reduction::#kind, #o, #l, #n, #a, &mut __ws.#out, #l as #ty);)
            }
            Instr::ArgMaxMask {
                outer,
                len,
                inner,
                a,
                ..
            } => {
                let (o, l, n) = (size(*outer), size(*len), size(*inner));
                let a = src(*a);
                quote!(#kernels::argmax_mask(#o, #l, #n, #a, &mut __ws.#out);)
            }
            Instr::Softmax { rows, cols, a, .. } => {
                let (r, c, a) = (size(*rows), size(*cols), src(*a));
                quote!(#kernels::softmax_rows(#r, #c, #a, &mut __ws.#out);)
            }
            Instr::LogSumExp { rows, cols, a, .. } => {
                let (r, c, a) = (size(*rows), size(*cols), src(*a));
                quote!(#kernels::logsumexp_rows(#r, #c, #a, &mut __ws.#out);)
            }
            Instr::MatMul {
                m: rows,
                k,
                n,
                a,
                b,
                out_strides,
                ..
            } => {
                let (r, k, n) = (size(*rows), size(*k), size(*n));
                let (sa, sb, sc) = (sizes(a.1), sizes(b.1), sizes(*out_strides));
                let (a, b) = (src(a.0), src(b.0));
                quote!(#kernels::matmul(#r, #k, #n, #a, #sa, #b, #sb, &mut __ws.#out, #sc);)
            }
        }
    };
    let setup: Vec<TokenStream> = plan.setup.iter().map(instr).collect();
    let run: Vec<TokenStream> = plan.instrs.iter().map(instr).collect();
    let items = quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        struct #ty_name {
            m: usize,
            #(#fields: ::std::vec::Vec<#ty>,)*
        }

        #[allow(clippy::all, unused_variables)]
        impl #ty_name {
            fn new(m: usize) -> Self {
                let mut ws = #ty_name { m: 0, #(#fields: ::std::vec::Vec::new(),)* };
                ws.resize(m);
                ws
            }

            /// Sizes every buffer for batch size `m` and fills the constants.
            fn resize(&mut self, __m: usize) {
                if self.m == __m {
                    return;
                }
                self.m = __m;
                let __ws = self;
                #(__ws.#fields.resize(#lens, 0.0);)*
                #(#setup)*
            }
        }
    };
    (items, quote!(#(#run)*))
}

/// `f(x)` for the float type `ty`: the std method, or the runtime's stable
/// helper (as the scalar emitter does).
fn func_call(func: Func, ty: &TokenStream, private: &TokenStream) -> TokenStream {
    let name = Ident::new(func.name(), Span::call_site());
    if func.is_float_method() {
        quote!(#ty::#name(x))
    } else {
        quote!(#private::#name(x))
    }
}

/// The expression that gives a parameter its initial value.
fn init_tokens(
    name: &str,
    shape: &crate::graph::Shape,
    init: Option<&Init>,
    float: Float,
) -> TokenStream {
    let ty = float.tokens();
    let n = shape.numel();
    let random = quote!(::symgrad::__private::random);
    let (fan_in, fan_out) = fans(shape);
    let cast = quote!(.into_iter().map(|v: f64| v as #ty).collect());
    match init {
        None => quote!(::std::vec![0.0; #n]),
        Some(Init::Value(t)) if t.data.iter().all(|&v| v == 0.0 && v.is_sign_positive()) => {
            quote!(::std::vec![0.0; #n])
        }
        Some(Init::Value(t)) => {
            let values = t.data.iter().map(|&v| float.literal(v));
            quote!({
                static VALUES: [#ty; #n] = [#(#values),*];
                VALUES.to_vec()
            })
        }
        Some(Init::Normal { mean, std }) => {
            quote!(#random::normals(#n, #mean, #std, &mut #random::stream(seed, #name))#cast)
        }
        Some(Init::He) => {
            let std = (2.0 / fan_in as f64).sqrt();
            quote!(#random::normals(#n, 0.0, #std, &mut #random::stream(seed, #name))#cast)
        }
        Some(Init::Uniform { lo, hi }) => {
            quote!(#random::uniforms(#n, #lo, #hi, &mut #random::stream(seed, #name))#cast)
        }
        Some(Init::Xavier) => {
            let r = (6.0 / (fan_in + fan_out) as f64).sqrt();
            let lo = -r;
            quote!(#random::uniforms(#n, #lo, #r, &mut #random::stream(seed, #name))#cast)
        }
    }
}

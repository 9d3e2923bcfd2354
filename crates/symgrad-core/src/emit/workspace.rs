//! A lowered [`Plan`] as Rust for `network!`: a workspace struct with one
//! `Vec` per buffer, sized for a batch size `m` and reused, and the
//! straight-line calls of `symgrad_runtime::kernels` that run the plan over
//! it, one per instruction, with sizes as expressions in `m`. A plan with
//! convolutions also gets one scratch `Vec` that its image instructions
//! share (unfolded columns), reserved with the buffers, so a training step
//! allocates nothing.

use super::rust::Float;
use crate::graph::Func;
use crate::plan::{Binary, ConvShape, ImageOp, Instr, Plan, PoolShape, Size, Src, Unary, View};
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};

/// The workspace field of buffer `b`.
pub(super) fn buf(b: usize) -> Ident {
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

/// An image instruction's operation as a constant expression.
fn image_op(op: &ImageOp) -> TokenStream {
    let conv = quote!(::symgrad::__private::kernels::conv);
    let n = |x: usize| Literal::usize_unsuffixed(x);
    let conv_shape = |g: &ConvShape| {
        let (c, h, w, f) = (n(g.c), n(g.h), n(g.w), n(g.f));
        let (kh, kw, s, p) = (n(g.kh), n(g.kw), n(g.stride), n(g.padding));
        quote!(#conv::ConvShape { n: 0, c: #c, h: #h, w: #w, f: #f, kh: #kh, kw: #kw, stride: #s, padding: #p })
    };
    let pool_shape = |g: &PoolShape| {
        let (h, w, k) = (n(g.h), n(g.w), n(g.k));
        quote!(#conv::PoolShape { planes: 0, h: #h, w: #w, k: #k })
    };
    let (variant, geometry) = match op {
        ImageOp::Conv2d(g) => ("Conv2d", conv_shape(g)),
        ImageOp::Conv2dInputGrad(g) => ("Conv2dInputGrad", conv_shape(g)),
        ImageOp::Conv2dKernelGrad(g) => ("Conv2dKernelGrad", conv_shape(g)),
        ImageOp::MaxPool(g) => ("MaxPool", pool_shape(g)),
        ImageOp::MaxPoolMask(g) => ("MaxPoolMask", pool_shape(g)),
        ImageOp::MaxPoolAdjoint(g) => ("MaxPoolAdjoint", pool_shape(g)),
        ImageOp::SumPool(g) => ("SumPool", pool_shape(g)),
        ImageOp::Upsample(g) => ("Upsample", pool_shape(g)),
        ImageOp::Select { len, inner, at } | ImageOp::Embed { len, inner, at } => {
            let variant = format_ident!(
                "{}",
                if matches!(op, ImageOp::Select { .. }) {
                    "Select"
                } else {
                    "Embed"
                }
            );
            let (l, i, a) = (n(*len), n(*inner), n(*at));
            return quote!(#conv::ImageOp::#variant { len: #l, inner: #i, at: #a });
        }
    };
    let variant = format_ident!("{variant}");
    quote!(#conv::ImageOp::#variant(#geometry))
}

fn sizes<const N: usize>(s: [Size; N]) -> TokenStream {
    let each = s.iter().map(|&x| size(x));
    quote!([#(#each),*])
}

/// The workspace struct of a plan (one `Vec` per buffer) and the
/// statements that run the plan over it (`ws`, `params`, `weight` and the
/// data arguments in scope).
pub(super) fn workspace(
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
    let instr = |i: &Instr, ops: &Ops| -> TokenStream {
        let out = buf(i.out());
        match i {
            Instr::Image {
                op, samples, a, b, ..
            } => {
                let op = image_op(op);
                let n = size(*samples);
                let a = src(*a);
                let b = match b {
                    Some(b) => {
                        let b = src(*b);
                        quote!(Some(#b))
                    }
                    None => quote!(None),
                };
                quote!(#kernels::conv::run_in(#op, #n, #a, #b, &mut __ws.#out, &mut __ws.scratch);)
            }
            Instr::Fill { value, .. } => {
                let v = float.literal(*value);
                quote!(__ws.#out[0] = #v;)
            }
            Instr::Map {
                f: Unary::Func(Func::Sigmoid),
                dims,
                a,
                ..
            } => {
                // The vector σ, with the bits training's σ pair gives.
                let (a, sa) = view(a);
                let d = sizes(*dims);
                quote!(#kernels::sigmoid(#d, #a, #sa, &mut __ws.#out);)
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
                let f = ops.function(quote!((x: #ty) -> #ty { #body }));
                quote!(#kernels::map(#d, #a, #sa, &mut __ws.#out, #f);)
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
                    Binary::StepMul => quote!(#private::step(x) * y),
                };
                let f = ops.function(quote!((x: #ty, y: #ty) -> #ty { #body }));
                quote!(#kernels::zip(#d, #a, #sa, #b, #sb, &mut __ws.#out, #f);)
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
    // The convolutions' shared scratch, reserved for the most any image
    // instruction needs at the batch size.
    let scratch_lens: Vec<TokenStream> = plan
        .setup
        .iter()
        .chain(&plan.instrs)
        .filter_map(|i| match i {
            Instr::Image { op, samples, .. } => {
                let (op, n) = (image_op(op), size(*samples));
                Some(quote!(.max(#op.scratch_len(#n))))
            }
            _ => None,
        })
        .collect();
    // A plan without image instructions gets no scratch field at all.
    let (scratch_field, scratch_init, scratch_reserve) = if scratch_lens.is_empty() {
        (quote!(), quote!(), quote!())
    } else {
        (
            quote!(scratch: ::std::vec::Vec<#ty>,),
            quote!(scratch: ::std::vec::Vec::new(),),
            quote! {
                let __scratch = 0usize #(#scratch_lens)*;
                if __ws.scratch.len() < __scratch {
                    __ws.scratch.resize(__scratch, 0.0);
                }
            },
        )
    };
    let (setup_ops, run_ops) = (Ops::default(), Ops::default());
    let setup: Vec<TokenStream> = plan.setup.iter().map(|i| instr(i, &setup_ops)).collect();
    let run: Vec<TokenStream> = plan.instrs.iter().map(|i| instr(i, &run_ops)).collect();
    let (setup_fns, run_fns) = (setup_ops.items(), run_ops.items());
    let items = quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        struct #ty_name {
            m: usize,
            #scratch_field
            #(#fields: ::std::vec::Vec<#ty>,)*
        }

        #[allow(clippy::all, unused_variables)]
        impl #ty_name {
            fn new(m: usize) -> Self {
                let mut ws = #ty_name { m: 0, #scratch_init #(#fields: ::std::vec::Vec::new(),)* };
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
                #scratch_reserve
                #setup_fns
                #(#setup)*
            }
        }
    };
    (items, quote!(#run_fns #(#run)*))
}

/// The elementwise functions a block of kernel calls passes to `map` and
/// `zip`, each defined once as a local `fn` and named by every call that
/// uses it. A closure per call would be a type per call, and so one
/// instantiation of the generic kernel (with its vector paths) per call:
/// the residual tower's 370 calls took 20 s of a release build; with one
/// function per distinct body the kernel is instantiated once per body.
#[derive(Default)]
struct Ops {
    /// Each function's signature and body as text, and its tokens.
    defined: std::cell::RefCell<Vec<(String, TokenStream)>>,
}

impl Ops {
    /// The name of the local function `fn __op_k sig_and_body`.
    fn function(&self, sig_and_body: TokenStream) -> Ident {
        let key = sig_and_body.to_string();
        let mut defined = self.defined.borrow_mut();
        let k = match defined.iter().position(|(text, _)| *text == key) {
            Some(k) => k,
            None => {
                defined.push((key, sig_and_body));
                defined.len() - 1
            }
        };
        format_ident!("__op_{}", k)
    }

    /// The definitions, to put at the top of the block.
    fn items(&self) -> TokenStream {
        let defs = self.defined.borrow();
        let each = defs.iter().enumerate().map(|(k, (_, body))| {
            let name = format_ident!("__op_{}", k);
            quote!(#[inline(always)] fn #name #body)
        });
        quote!(#(#each)*)
    }
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

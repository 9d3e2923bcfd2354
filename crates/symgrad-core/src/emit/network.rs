//! Rust tokens for a whole network: the struct that `network!` defines, with
//! its parameters, batch norm's running statistics, `init`, the training
//! `loss_and_gradient`, the inference `loss`, `forward` and
//! `loss_and_forward` (both in one pass, for validation), and (for `f64`)
//! its `symgrad::nn::Model` implementation.
//!
//! Each method runs a [`Plan`] (from [`crate::net::batch::plan_in`]) as
//! straight-line calls of `symgrad_runtime::kernels`: the same kernels, in
//! the same order, as the interpreter, without its dispatch. Buffers live
//! in a workspace struct per plan, one field per buffer, sized on the first
//! call for a batch size and reused after; sizes that depend on the batch
//! are expressions in `m`. Parameters start from the file's initializers:
//! index formulas are evaluated here and embedded as arrays, random ones
//! are drawn at run time by `symgrad_runtime::random`, exactly as
//! `symgrad net init` draws them.
//!
//! The gradient is returned owned (`NameGradient`, one `Vec` per
//! parameter) or copied into one the caller keeps
//! (`loss_and_gradient_into`, which allocates nothing once it is sized),
//! so that it holds no borrow of the network and the parameters can be
//! updated while it is alive. Training calls draw fresh dropout masks and
//! update the running statistics from the batch's (PyTorch's rule,
//! `symgrad_runtime::update_running_stats`); `loss` and `forward` run in
//! inference mode (dropout off, batch norm on the running statistics).

use super::rust::Float;
use super::workspace::{buf, workspace};
use crate::error::Result;
use crate::net::batch::{plan_in, plan_inputs, prediction, Mode, Outputs, PlanInput};
use crate::net::{fans, Init, Network, Role};
use crate::plan::Plan;
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};

/// The items `network!(Name, "file.sg")` expands to, for `net` (parsed
/// from `source`, which the struct embeds) in `float`. `vis` is the
/// visibility of the struct and its companions.
///
/// # Errors
/// When the network cannot be batched or lowered.
pub fn network(
    name: &Ident,
    vis: &TokenStream,
    net: &Network,
    source: &str,
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
    let p_sizes: Vec<usize> = params.iter().map(|p| p.shape.numel()).collect();
    let n_inputs = inputs.len();

    let grad_plan = plan_in(net, Outputs::LossAndGradient, Mode::Training)?;
    let loss_plan = plan_in(net, Outputs::Loss, Mode::Inference)?;
    // Without an input there is nothing to predict from.
    let fwd_plan = match inputs.is_empty() {
        true => None,
        false => {
            prediction(net).and_then(|_| plan_in(net, Outputs::Prediction, Mode::Inference).ok())
        }
    };
    // Validation's loss and prediction in one pass, where there is a prediction.
    let both_plan = match fwd_plan {
        Some(_) => Some(plan_in(net, Outputs::LossAndPrediction, Mode::Inference)?),
        None => None,
    };

    // What each plan input reads, by the layout of `plan_inputs`.
    let read = |input: PlanInput| -> TokenStream {
        match input {
            PlanInput::Input(k) => {
                let a = &d_args[k];
                quote!(#a)
            }
            PlanInput::Target(k) => {
                let a = &d_args[n_inputs + k];
                quote!(#a)
            }
            PlanInput::Mask(k) => quote!(&__masks[#k][..]),
            PlanInput::Param(k) => {
                let f = &p_fields[k];
                quote!(&__params.#f[..])
            }
            PlanInput::RunningMean(k) => {
                let k = 2 * k;
                quote!(&__running[#k][..])
            }
            PlanInput::RunningVar(k) => {
                let k = 2 * k + 1;
                quote!(&__running[#k][..])
            }
            PlanInput::Weight => quote!(&__weight[..]),
        }
    };
    let reader = |outputs: Outputs, mode: Mode| {
        let layout = plan_inputs(net, outputs, mode);
        move |k: usize| read(layout[k])
    };
    let grad_ws_ty = format_ident!("{}GradientWs", name);
    let loss_ws_ty = format_ident!("{}LossWs", name);
    let (grad_ws, grad_run) = workspace(
        &grad_ws_ty,
        &grad_plan,
        float,
        &reader(Outputs::LossAndGradient, Mode::Training),
    );
    let (loss_ws, loss_run) = workspace(
        &loss_ws_ty,
        &loss_plan,
        float,
        &reader(Outputs::Loss, Mode::Inference),
    );
    let loss_out = buf(grad_plan.outputs[0].0);
    let n_params = params.len();
    let grad_outs: Vec<Ident> = grad_plan.outputs[1..=n_params]
        .iter()
        .map(|(b, _)| buf(*b))
        .collect();
    let stat_outs: Vec<Ident> = grad_plan.outputs[1 + n_params..]
        .iter()
        .map(|(b, _)| buf(*b))
        .collect();
    let loss_only = buf(loss_plan.outputs[0].0);
    let grad_k: Vec<usize> = (0..n_params).collect();

    // Batch norm's running statistics: a mean and a variance per call.
    let n_state = 2 * net.batchnorms.len();
    let n_state_lit = Literal::usize_unsuffixed(n_state);
    let state_names: Vec<String> = net
        .batchnorms
        .iter()
        .flat_map(|bn| bn.running_names())
        .collect();
    let state_inits = net.batchnorms.iter().flat_map(|bn| {
        let n = bn.stat_len(&net.graph);
        [
            quote!(::std::vec![0.0 as #ty; #n]),
            quote!(::std::vec![1.0 as #ty; #n]),
        ]
    });
    let updates = stat_outs.chunks_exact(2).enumerate().map(|(k, pair)| {
        let (mean, var) = (&pair[0], &pair[1]);
        // The entries each statistic averages: m samples times the positions.
        let positions = Literal::usize_unsuffixed(net.batchnorms[k].positions(&net.graph));
        let (even, odd) = (2 * k, 2 * k + 1);
        quote! {
            {
                let (__lo, __hi) = self.running.split_at_mut(#odd);
                ::symgrad::__private::update_running_stats(
                    &mut __lo[#even], &mut __hi[0], &__ws.#mean, &__ws.#var, __m * #positions,
                );
            }
        }
    });

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
            let (ws, run) = workspace(
                &ws_ty,
                p,
                float,
                &reader(Outputs::Prediction, Mode::Inference),
            );
            let out = buf(p.outputs[0].0);
            let e = prediction(net).map(|e| e.name.clone()).unwrap_or_default();
            let doc =
                format!(
                " The prediction `{e}` for each of the `m` samples in `{}` (row-major, samples \
                 first), in inference mode: dropout off, batch norm on the running statistics.",
                in_args.iter().map(ToString::to_string).collect::<Vec<_>>().join("`, `")
            );
            (
                ws,
                quote! {
                    #[doc = #doc]
                    pub fn forward(&mut self, #(#in_args: &[#ty]),*) -> &[#ty] {
                        #m_inputs
                        let __running = &self.running;
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

    // The same for the loss and the prediction in one pass.
    let (both_items, both_method, both_field, both_init) = match &both_plan {
        Some(p) => {
            let ws_ty = format_ident!("{}LossForwardWs", name);
            let (ws, run) = workspace(
                &ws_ty,
                p,
                float,
                &reader(Outputs::LossAndPrediction, Mode::Inference),
            );
            let (loss, out) = (buf(p.outputs[0].0), buf(p.outputs[1].0));
            (
                ws,
                quote! {
                    /// `loss` and `forward` in one inference pass, which
                    /// computes the prediction on the way to the loss: the
                    /// same two results, bit for bit, for half the work.
                    pub fn loss_and_forward(&mut self, #(#d_args: &[#ty]),*) -> (#ty, &[#ty]) {
                        #m_data
                        let __running = &self.running;
                        let __ws = self.loss_forward_ws.get_or_insert_with(|| #ws_ty::new(__m));
                        __ws.resize(__m);
                        let __params = &self.params;
                        let __weight = [1.0 as #ty / __m as #ty];
                        #run
                        (__ws.#loss[0], &__ws.#out)
                    }
                },
                quote!(loss_forward_ws: Option<#ws_ty>,),
                quote!(loss_forward_ws: None,),
            )
        }
        None => Default::default(),
    };

    // Dropout masks: drawn by the struct before each training call.
    let masks: Vec<_> = net.with_role(Role::Mask).collect();
    let n_masks = masks.len();
    let n_masks_lit = Literal::usize_unsuffixed(n_masks);
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
    let p_dims: Vec<TokenStream> = params
        .iter()
        .map(|p| {
            let dims = p.shape.dims();
            quote!(::std::vec::Vec::<usize>::from([#(#dims),*]))
        })
        .collect();
    let p_docs: Vec<String> = params
        .iter()
        .map(|p| format!(" `{}{}`, row-major.", p.name, p.shape))
        .collect();
    let g_docs = params
        .iter()
        .map(|p| format!(" `∂C/∂{}`, shaped like `{}{}`.", p.name, p.name, p.shape));
    let model_note = match float {
        Float::F64 => " It implements `symgrad::nn::Model`, so `symgrad::nn`'s trainer drives it.",
        Float::F32 => {
            " Being `f32`, it does not implement `symgrad::nn::Model`, whose slices are `f64`: \
             train an `f64` network with `symgrad::nn`."
        }
    };
    let doc_struct = format!(
        " The network `{name}`: its parameters, batch norm's running statistics and compiled \
         forward pass, loss and gradient (generated by `symgrad::network!`). Data arguments are \
         row-major slices of `m` samples: {}.{model_note}",
        data.iter()
            .map(|d| format!("`{}` ({} each)", d.name, d.shape))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let doc_params = format!(" The parameters of `{name}`, each a row-major `Vec` of its shape.");
    let doc_grad = format!(
        " The gradient of `{name}`'s mean loss, one row-major `Vec` per parameter: owned, so \
         that the parameters can be updated while it is alive."
    );
    let doc_into = format!(
        " `loss_and_gradient`, with the gradient copied into one the caller keeps: no \
         allocation once `gradient` is sized (`{grad_ty}::zeros()`)."
    );
    let model_impl = match float {
        Float::F64 => model_impl(
            name,
            &p_fields,
            &grad_outs,
            &per_sample,
            n_inputs,
            fwd_plan.as_ref().map_or(0, plan_output_size),
            both_plan.is_some(),
        ),
        Float::F32 => TokenStream::new(),
    };
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
        #[derive(Clone, Debug, PartialEq)]
        #vis struct #grad_ty {
            #(#[doc = #g_docs] pub #p_fields: ::std::vec::Vec<#ty>,)*
        }

        impl #grad_ty {
            /// A gradient of zeros, sized for every parameter.
            pub fn zeros() -> #grad_ty {
                #grad_ty { #(#p_fields: ::std::vec![0.0; #p_sizes],)* }
            }
        }

        impl ::core::default::Default for #grad_ty {
            fn default() -> #grad_ty {
                #grad_ty::zeros()
            }
        }

        #[doc = #doc_struct]
        #vis struct #name {
            /// The parameters, which `loss_and_gradient` differentiates.
            pub params: #params_ty,
            /// Batch norm's running mean and variance, per call, in the
            /// order of `STATE_NAMES`.
            running: [::std::vec::Vec<#ty>; #n_state_lit],
            gradient_ws: Option<#grad_ws_ty>,
            loss_ws: Option<#loss_ws_ty>,
            #fwd_field
            #both_field
            dropout_masks: [::std::vec::Vec<#ty>; #n_masks_lit],
            dropout_scratch: ::std::vec::Vec<f64>,
            dropout_seed: u64,
            dropout_draws: u64,
        }

        #grad_ws
        #loss_ws
        #fwd_items
        #both_items

        #[allow(clippy::all, unused_variables, non_snake_case)]
        impl #name {
            /// The names of batch norm's running statistics
            /// (`batchnorm1.running_mean`, `batchnorm1.running_var`, ...).
            pub const STATE_NAMES: &'static [&'static str] = &[#(#state_names),*];
            /// The network file's text.
            pub const SOURCE: &'static str = #source;

            /// The network with its parameters drawn from the file's
            /// initializers (`seed` seeds the random ones, as in
            /// `symgrad net init --seed`, and the dropout masks).
            pub fn init(seed: u64) -> #name {
                let mut net = Self::with_params(#params_ty { #(#p_fields: #inits,)* });
                net.dropout_seed = seed;
                net
            }

            /// The network with the given parameters, every running mean
            /// 0 and running variance 1.
            pub fn with_params(params: #params_ty) -> #name {
                #name {
                    params,
                    running: [#(#state_inits),*],
                    gradient_ws: None,
                    loss_ws: None,
                    #fwd_init
                    #both_init
                    dropout_masks: ::core::array::from_fn(|_| ::std::vec::Vec::new()),
                    dropout_scratch: ::std::vec::Vec::new(),
                    dropout_seed: 0,
                    dropout_draws: 0,
                }
            }

            /// Seeds the dropout masks: the next training call draws the
            /// masks that `symgrad net grad --seed SEED` draws, and each
            /// call after it the masks of the seed after (`SEED + 1`, ...).
            /// Nothing changes without dropout.
            pub fn set_dropout_seed(&mut self, seed: u64) {
                self.dropout_seed = seed;
                self.dropout_draws = 0;
            }

            /// Batch norm's running statistics, in the order of `STATE_NAMES`.
            pub fn running_statistics(&self) -> &[::std::vec::Vec<#ty>] {
                &self.running
            }

            /// The same, to restore them.
            pub fn running_statistics_mut(&mut self) -> &mut [::std::vec::Vec<#ty>] {
                &mut self.running
            }

            /// Draws fresh dropout masks for a training call on `m` samples.
            fn draw_masks(&mut self, m: usize) {
                if #n_masks == 0 {
                    return;
                }
                let seed = self.dropout_seed.wrapping_add(self.dropout_draws);
                self.dropout_draws += 1;
                let scratch = &mut self.dropout_scratch;
                #(
                    let mask = &mut self.dropout_masks[#mask_index];
                    mask.resize(m * #mask_sizes, 0.0);
                    scratch.resize(#mask_sizes, 0.0);
                    for (sample, chunk) in mask.chunks_exact_mut(#mask_sizes).enumerate() {
                        ::symgrad::__private::random::dropout_mask(
                            seed, #mask_names, sample, #mask_ps, scratch,
                        );
                        for (d, s) in chunk.iter_mut().zip(scratch.iter()) {
                            *d = *s as #ty;
                        }
                    }
                )*
            }

            /// The mean loss over the `m` samples in the data arguments in
            /// inference mode (dropout off, batch norm on the running
            /// statistics): the validation loss.
            pub fn loss(&mut self, #(#d_args: &[#ty]),*) -> #ty {
                #m_data
                let __running = &self.running;
                let __ws = self.loss_ws.get_or_insert_with(|| #loss_ws_ty::new(__m));
                __ws.resize(__m);
                let __params = &self.params;
                let __weight = [1.0 as #ty / __m as #ty];
                #loss_run
                __ws.#loss_only[0]
            }

            /// Runs the training-mode gradient plan (fresh masks, batch
            /// statistics) and updates the running statistics.
            fn run_gradient(&mut self, #(#d_args: &[#ty]),*) -> (#ty, &#grad_ws_ty) {
                #m_data
                self.draw_masks(__m);
                let __masks = &self.dropout_masks;
                let __running = &self.running;
                let __ws = self.gradient_ws.get_or_insert_with(|| #grad_ws_ty::new(__m));
                __ws.resize(__m);
                let __params = &self.params;
                let __weight = [1.0 as #ty / __m as #ty];
                #grad_run
                #(#updates)*
                (__ws.#loss_out[0], __ws)
            }

            /// Training mode: the mean loss over the `m` samples in the
            /// data arguments and its gradient with respect to every
            /// parameter, in one backward pass. Dropout draws fresh masks;
            /// batch norm normalizes with the batch's statistics and
            /// updates the running ones.
            pub fn loss_and_gradient(&mut self, #(#d_args: &[#ty]),*) -> (#ty, #grad_ty) {
                let (__loss, __ws) = self.run_gradient(#(#d_args),*);
                (__loss, #grad_ty { #(#p_fields: __ws.#grad_outs.clone(),)* })
            }

            #[doc = #doc_into]
            pub fn loss_and_gradient_into(
                &mut self,
                #(#d_args: &[#ty],)*
                gradient: &mut #grad_ty,
            ) -> #ty {
                let (__loss, __ws) = self.run_gradient(#(#d_args),*);
                #(
                    gradient.#p_fields.clear();
                    gradient.#p_fields.extend_from_slice(&__ws.#grad_outs);
                )*
                __loss
            }

            /// `loss_and_gradient` without copying the gradient: calls
            /// `update(k, param, gradient)` for every parameter `k` in file
            /// order (`NAMES`), with the gradient read in place from the
            /// network's workspace, so that a step allocates and copies
            /// nothing.
            pub fn loss_and_gradient_with(
                &mut self,
                #(#d_args: &[#ty],)*
                mut update: impl FnMut(usize, &mut [#ty], &[#ty]),
            ) -> #ty {
                let _ = self.run_gradient(#(#d_args),*);
                let __ws = match self.gradient_ws.as_ref() {
                    Some(ws) => ws,
                    None => unreachable!("run_gradient fills the workspace"),
                };
                #(update(#grad_k, &mut self.params.#p_fields, &__ws.#grad_outs);)*
                __ws.#loss_out[0]
            }

            /// The parameters as a parameter file: the JSON that `symgrad
            /// net init -o` writes and `symgrad net grad --params` reads.
            ///
            /// # Errors
            /// A parameter whose `Vec` no longer holds its shape's number
            /// of entries.
            pub fn params_to_json(&self) -> ::core::result::Result<::std::string::String, ::symgrad::Error> {
                let __net = ::symgrad::net::parse_network(Self::SOURCE)?;
                let mut __values = ::std::vec::Vec::new();
                #(
                    if self.params.#p_fields.len() != #p_sizes {
                        return Err(::symgrad::Error::new(
                            ::symgrad::ErrorKind::InvalidValue,
                            format!(
                                "the parameter '{}' has {} entries, its shape {}",
                                #names, self.params.#p_fields.len(), #p_sizes
                            ),
                        ));
                    }
                    __values.push(::symgrad::eval::Tensor::new(
                        #p_dims,
                        self.params.#p_fields.iter().map(|&v| v as f64).collect(),
                    ));
                )*
                Ok(::symgrad::net::params::to_json(&__net, &__values))
            }

            /// Sets the parameters from a parameter file (the JSON that
            /// `params_to_json` and `symgrad net init -o` write).
            ///
            /// # Errors
            /// Text that is not a parameter file of this network: not JSON,
            /// an unknown or missing parameter, a wrong shape (the message
            /// names it). The parameters are unchanged then.
            pub fn load_params_json(&mut self, text: &str) -> ::core::result::Result<(), ::symgrad::Error> {
                let __net = ::symgrad::net::parse_network(Self::SOURCE)?;
                let mut __values = ::symgrad::net::params::from_json(&__net, text)?.into_iter();
                #(
                    if let Some(__t) = __values.next() {
                        self.params.#p_fields = __t.data.into_iter().map(|v| v as #ty).collect();
                    }
                )*
                Ok(())
            }

            #fwd_method
            #both_method
        }

        #model_impl
    })
}

/// The per-sample number of entries of a prediction plan's output.
fn plan_output_size(p: &Plan) -> usize {
    // The output is `[m, ...]`: its size at m = 1.
    p.outputs[0].1.iter().map(|s| s.at(1)).product()
}

/// `impl symgrad::nn::Model` for an `f64` network `name`, through its own
/// methods.
fn model_impl(
    name: &Ident,
    p_fields: &[Ident],
    grad_outs: &[Ident],
    per_sample: &[usize],
    n_inputs: usize,
    output_size: usize,
    has_forward: bool,
) -> TokenStream {
    let params_ty = format_ident!("{}Params", name);
    let n0 = per_sample[0];
    let data_k: Vec<usize> = (0..per_sample.len()).collect();
    let in_k: Vec<usize> = (0..n_inputs).collect();
    let grad_k: Vec<usize> = (0..p_fields.len()).collect();
    let in_n0 = per_sample.first().copied().unwrap_or(1);
    let predict = if has_forward {
        quote! {
            if __inputs[0].len() / #in_n0 == 0 {
                return;
            }
            let __p = #name::forward(self, #(__inputs[#in_k]),*);
            __out.extend_from_slice(__p);
        }
    } else {
        TokenStream::new()
    };
    // Without a prediction the trait's default (`loss`, then nothing) serves.
    let loss_and_predict = if has_forward {
        quote! {
            fn loss_and_predict(
                &mut self,
                __data: &[&[f64]],
                __out: &mut ::std::vec::Vec<f64>,
            ) -> f64 {
                __out.clear();
                if __data[0].len() / #n0 == 0 {
                    return f64::NAN;
                }
                let (__loss, __p) = #name::loss_and_forward(self, #(__data[#data_k]),*);
                __out.extend_from_slice(__p);
                __loss
            }
        }
    } else {
        TokenStream::new()
    };
    quote! {
        #[allow(clippy::all, unused_variables, non_snake_case)]
        impl ::symgrad::nn::Model for #name {
            fn param_names(&self) -> ::std::vec::Vec<::std::string::String> {
                #params_ty::NAMES.iter().map(|s| s.to_string()).collect()
            }
            fn param_shapes(&self) -> ::std::vec::Vec<::std::vec::Vec<usize>> {
                #params_ty::SHAPES.iter().map(|s| s.to_vec()).collect()
            }
            fn params(&self) -> ::std::vec::Vec<&[f64]> {
                ::std::vec![#(&self.params.#p_fields[..]),*]
            }
            fn params_mut(&mut self) -> ::std::vec::Vec<&mut [f64]> {
                ::std::vec![#(&mut self.params.#p_fields[..]),*]
            }
            fn data_sizes(&self) -> ::std::vec::Vec<usize> {
                ::std::vec![#(#per_sample),*]
            }
            fn n_inputs(&self) -> usize {
                #n_inputs
            }
            fn output_size(&self) -> usize {
                #output_size
            }
            fn loss_and_gradient(
                &mut self,
                __data: &[&[f64]],
                __grad: &mut [::std::vec::Vec<f64>],
            ) -> f64 {
                assert_eq!(__grad.len(), #params_ty::NAMES.len(), "one gradient vector per parameter");
                if __data[0].len() / #n0 == 0 {
                    for (__g, __shape) in __grad.iter_mut().zip(#params_ty::SHAPES) {
                        __g.clear();
                        __g.resize(__shape.iter().product(), 0.0);
                    }
                    return f64::NAN;
                }
                let (__loss, __ws) = self.run_gradient(#(__data[#data_k]),*);
                #(
                    __grad[#grad_k].clear();
                    __grad[#grad_k].extend_from_slice(&__ws.#grad_outs);
                )*
                __loss
            }
            fn loss(&mut self, __data: &[&[f64]]) -> f64 {
                if __data[0].len() / #n0 == 0 {
                    return f64::NAN;
                }
                #name::loss(self, #(__data[#data_k]),*)
            }
            fn predict(&mut self, __inputs: &[&[f64]], __out: &mut ::std::vec::Vec<f64>) {
                __out.clear();
                #predict
            }
            #loss_and_predict
            fn state_names(&self) -> ::std::vec::Vec<::std::string::String> {
                Self::STATE_NAMES.iter().map(|s| s.to_string()).collect()
            }
            fn state(&self) -> ::std::vec::Vec<&[f64]> {
                self.running.iter().map(|v| v.as_slice()).collect()
            }
            fn state_mut(&mut self) -> ::std::vec::Vec<&mut [f64]> {
                self.running.iter_mut().map(|v| v.as_mut_slice()).collect()
            }
            fn set_seed(&mut self, seed: u64) {
                self.set_dropout_seed(seed);
            }
            fn source(&self) -> Option<&str> {
                Some(Self::SOURCE)
            }
        }
    }
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

//! The eight optimizers of the training contract behind one trait, each
//! with its state.
//!
//! Every rule is written as DESIGN.md's "Contract: training" states it, with
//! `g` the gradient after clipping and penalties, `α` the learning rate of
//! the epoch (after the schedule), `t` the step from 1 and all state
//! starting at 0:
//!
//! | optimizer | update | defaults |
//! |---|---|---|
//! | [`Sgd`] | θ -= α g | |
//! | [`Momentum`] | v = β v - α g; θ += v | β = 0.9 |
//! | [`Nesterov`] | g taken at θ + β v; v = β v - α g; θ += v | β = 0.9 |
//! | [`AdaGrad`] | A += g²; θ -= α g / (√A + ε) | ε = 1e-8 |
//! | [`RmsProp`] | A = ρ A + (1-ρ) g²; θ -= α g / (√A + ε) | ρ = 0.9, ε = 1e-8 |
//! | [`AdaDelta`] | A = ρ A + (1-ρ) g²; Δ = -(√(D+ε) / √(A+ε)) g; D = ρ D + (1-ρ) Δ²; θ += α Δ | ρ = 0.9, ε = 1e-6 |
//! | [`Adam`] | m = β1 m + (1-β1) g; v = β2 v + (1-β2) g²; θ -= α (m/(1-β1^t)) / (√(v/(1-β2^t)) + ε) | β1 = 0.9, β2 = 0.999, ε = 1e-8 |
//! | [`Nadam`] | m, v as adam; θ -= α (β1 m/(1-β1^(t+1)) + (1-β1) g/(1-β1^t)) / (√(v/(1-β2^t)) + ε) | as adam |
//!
//! ρ = 0.9 for RMSProp and AdaDelta is the value Hinton's lecture and
//! Zeiler's paper use (PyTorch's RMSprop defaults to 0.99 and its Adadelta
//! to 0.9); AdaDelta's ε = 1e-6 is Zeiler's and PyTorch's, since with
//! 1e-8 the first steps (√ε / √(A+ε)) are a hundred times smaller.
//!
//! The scalar factors of a step (bias corrections, their roots) are
//! computed once per step, so that each entry costs at most one square
//! root and one division; this groups the same arithmetic differently from
//! the formulas as printed (as PyTorch does), which changes results in the
//! last bits only; so does Adam's and Nadam's division on a CPU with
//! AVX-512, which is a reciprocal refined by Newton's method, within 1 ulp
//! of the quotient (the divider's throughput bounded the step). A step
//! allocates nothing after the first, which sizes the state to the
//! parameters.

// Index loops over slices cut to one length: no bounds checks, and the
// compiler vectorizes them.
#![allow(clippy::needless_range_loop)]

mod named;

pub use named::{optimizer_from_name, Hyper, OPTIMIZERS};

/// An update rule with its state.
///
/// The trainer calls, for each step: [`Optimizer::look_ahead`] (which moves
/// the parameters to the point where the gradient is to be taken, for
/// Nesterov; nothing for the others), evaluates the gradient there, calls
/// [`Optimizer::undo_look_ahead`] (θ back exactly, for the penalties to
/// read), clips and penalizes the gradient, then calls
/// [`Optimizer::step`] with it. `step` after a look-ahead without the undo
/// undoes it first.
pub trait Optimizer {
    /// The contract's name (`"adam"`, ...).
    fn name(&self) -> &'static str;
    /// The base learning rate α (before a schedule).
    fn learning_rate(&self) -> f64;
    /// The number of steps taken so far (the next step's `t` is one more).
    fn steps(&self) -> u64;
    /// Moves `params` to where the next gradient is to be taken. Only
    /// Nesterov moves them (to θ + β v, keeping θ to return to in `step`).
    fn look_ahead(&mut self, params: &mut [&mut [f64]]) {
        let _ = params;
    }
    /// Undoes [`Optimizer::look_ahead`] without a step (when the gradient
    /// there could not be used).
    fn undo_look_ahead(&mut self, params: &mut [&mut [f64]]) {
        let _ = params;
    }
    /// One update of `params` by `grad` (one vector per parameter, in the
    /// same order) at learning rate `lr`, after [`Optimizer::look_ahead`].
    fn step(&mut self, params: &mut [&mut [f64]], grad: &[Vec<f64>], lr: f64);
    /// Forgets all state (step count and accumulators).
    fn reset(&mut self);
}

impl<O: Optimizer + ?Sized> Optimizer for Box<O> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn learning_rate(&self) -> f64 {
        (**self).learning_rate()
    }
    fn steps(&self) -> u64 {
        (**self).steps()
    }
    fn look_ahead(&mut self, params: &mut [&mut [f64]]) {
        (**self).look_ahead(params);
    }
    fn undo_look_ahead(&mut self, params: &mut [&mut [f64]]) {
        (**self).undo_look_ahead(params);
    }
    fn step(&mut self, params: &mut [&mut [f64]], grad: &[Vec<f64>], lr: f64) {
        (**self).step(params, grad, lr);
    }
    fn reset(&mut self) {
        (**self).reset();
    }
}

/// One state vector per parameter, sized on first use.
#[derive(Clone, Debug, Default)]
struct Slots(Vec<Vec<f64>>);

impl Slots {
    fn fit(&mut self, params: &[&mut [f64]]) {
        let fits = self.0.len() == params.len()
            && self.0.iter().zip(params).all(|(s, p)| s.len() == p.len());
        if !fits {
            self.0 = params.iter().map(|p| vec![0.0; p.len()]).collect();
        }
    }
}

macro_rules! common {
    ($name:literal) => {
        fn name(&self) -> &'static str {
            $name
        }
        fn learning_rate(&self) -> f64 {
            self.lr
        }
        fn steps(&self) -> u64 {
            self.t
        }
    };
}

/// Plain gradient descent: θ -= α g.
#[derive(Clone, Debug)]
pub struct Sgd {
    lr: f64,
    t: u64,
}

impl Sgd {
    /// Learning rate `lr`.
    pub fn new(lr: f64) -> Sgd {
        Sgd { lr, t: 0 }
    }
}

fn sgd_entries(p: &mut [f64], g: &[f64], lr: f64) {
    symgrad_runtime::dispatch!(fn(p: &mut [f64], g: &[f64], lr: f64) {
        for (p, &g) in p.iter_mut().zip(g) {
            *p -= lr * g;
        }
    })
}

/// θ += β v: Nesterov's look-ahead.
fn look_ahead_entries(p: &mut [f64], v: &[f64], beta: f64) {
    symgrad_runtime::dispatch!(fn(p: &mut [f64], v: &[f64], beta: f64) {
        let n = p.len();
        let v = &v[..n];
        for i in 0..n {
            p[i] += beta * v[i];
        }
    })
}

impl Optimizer for Sgd {
    common!("sgd");
    fn step(&mut self, params: &mut [&mut [f64]], grad: &[Vec<f64>], lr: f64) {
        self.t += 1;
        for (p, g) in params.iter_mut().zip(grad) {
            sgd_entries(p, g, lr);
        }
    }
    fn reset(&mut self) {
        self.t = 0;
    }
}

/// Momentum: v = β v - α g; θ += v.
#[derive(Clone, Debug)]
pub struct Momentum {
    lr: f64,
    beta: f64,
    t: u64,
    v: Slots,
}

impl Momentum {
    /// Learning rate `lr`, β = 0.9.
    pub fn new(lr: f64) -> Momentum {
        Momentum {
            lr,
            beta: 0.9,
            t: 0,
            v: Slots::default(),
        }
    }
    /// The momentum β.
    pub fn momentum(mut self, beta: f64) -> Momentum {
        self.beta = beta;
        self
    }
}

fn momentum_step(v: &mut Slots, beta: f64, params: &mut [&mut [f64]], grad: &[Vec<f64>], lr: f64) {
    v.fit(params);
    for ((p, g), v) in params.iter_mut().zip(grad).zip(&mut v.0) {
        momentum_entries(p, g, v, beta, lr);
    }
}

// The per-entry loops are functions of their own so that the compiler
// knows the slices do not overlap (and vectorizes them). `dispatch!`
// compiles each a second time for AVX2 and picks that build at run time on
// a CPU that has it: the same operations (no fused multiply-adds), so the
// same bits, in 4-wide instead of 2-wide registers.
fn momentum_entries(p: &mut [f64], g: &[f64], v: &mut [f64], beta: f64, lr: f64) {
    symgrad_runtime::dispatch!(fn(p: &mut [f64], g: &[f64], v: &mut [f64], beta: f64, lr: f64) {
        let n = p.len();
        let (g, v) = (&g[..n], &mut v[..n]);
        for i in 0..n {
            v[i] = beta * v[i] - lr * g[i];
            p[i] += v[i];
        }
    })
}

impl Optimizer for Momentum {
    common!("momentum");
    fn step(&mut self, params: &mut [&mut [f64]], grad: &[Vec<f64>], lr: f64) {
        self.t += 1;
        momentum_step(&mut self.v, self.beta, params, grad, lr);
    }
    fn reset(&mut self) {
        self.t = 0;
        self.v = Slots::default();
    }
}

/// Nesterov momentum: the gradient is taken at θ + β v
/// ([`Optimizer::look_ahead`]), then v = β v - α g; θ += v.
#[derive(Clone, Debug)]
pub struct Nesterov {
    lr: f64,
    beta: f64,
    t: u64,
    v: Slots,
    /// θ before the look-ahead, restored exactly before the update.
    theta: Slots,
    looked_ahead: bool,
}

impl Nesterov {
    /// Learning rate `lr`, β = 0.9.
    pub fn new(lr: f64) -> Nesterov {
        Nesterov {
            lr,
            beta: 0.9,
            t: 0,
            v: Slots::default(),
            theta: Slots::default(),
            looked_ahead: false,
        }
    }
    /// The momentum β.
    pub fn momentum(mut self, beta: f64) -> Nesterov {
        self.beta = beta;
        self
    }
}

impl Optimizer for Nesterov {
    common!("nesterov");
    fn look_ahead(&mut self, params: &mut [&mut [f64]]) {
        self.v.fit(params);
        self.theta.fit(params);
        for ((p, v), saved) in params.iter_mut().zip(&self.v.0).zip(&mut self.theta.0) {
            saved.copy_from_slice(p);
            look_ahead_entries(p, v, self.beta);
        }
        self.looked_ahead = true;
    }
    fn undo_look_ahead(&mut self, params: &mut [&mut [f64]]) {
        if self.looked_ahead {
            for (p, saved) in params.iter_mut().zip(&self.theta.0) {
                p.copy_from_slice(saved);
            }
            self.looked_ahead = false;
        }
    }
    fn step(&mut self, params: &mut [&mut [f64]], grad: &[Vec<f64>], lr: f64) {
        // A step without a look-ahead takes the gradient as given at θ.
        self.undo_look_ahead(params);
        self.t += 1;
        momentum_step(&mut self.v, self.beta, params, grad, lr);
    }
    fn reset(&mut self) {
        self.t = 0;
        self.v = Slots::default();
        self.looked_ahead = false;
    }
}

/// AdaGrad: A += g²; θ -= α g / (√A + ε).
#[derive(Clone, Debug)]
pub struct AdaGrad {
    lr: f64,
    eps: f64,
    t: u64,
    a: Slots,
}

impl AdaGrad {
    /// Learning rate `lr`, ε = 1e-8.
    pub fn new(lr: f64) -> AdaGrad {
        AdaGrad {
            lr,
            eps: 1e-8,
            t: 0,
            a: Slots::default(),
        }
    }
    /// The ε added to the root.
    pub fn eps(mut self, eps: f64) -> AdaGrad {
        self.eps = eps;
        self
    }
}

fn adagrad_entries(p: &mut [f64], g: &[f64], a: &mut [f64], lr: f64, eps: f64) {
    symgrad_runtime::dispatch!(fn(p: &mut [f64], g: &[f64], a: &mut [f64], lr: f64, eps: f64) {
        let n = p.len();
        let (g, a) = (&g[..n], &mut a[..n]);
        for i in 0..n {
            a[i] += g[i] * g[i];
            p[i] -= lr * g[i] / (a[i].sqrt() + eps);
        }
    })
}

impl Optimizer for AdaGrad {
    common!("adagrad");
    fn step(&mut self, params: &mut [&mut [f64]], grad: &[Vec<f64>], lr: f64) {
        self.t += 1;
        self.a.fit(params);
        let eps = self.eps;
        for ((p, g), a) in params.iter_mut().zip(grad).zip(&mut self.a.0) {
            adagrad_entries(p, g, a, lr, eps);
        }
    }
    fn reset(&mut self) {
        self.t = 0;
        self.a = Slots::default();
    }
}

/// RMSProp: A = ρ A + (1-ρ) g²; θ -= α g / (√A + ε).
#[derive(Clone, Debug)]
pub struct RmsProp {
    lr: f64,
    rho: f64,
    eps: f64,
    t: u64,
    a: Slots,
}

impl RmsProp {
    /// Learning rate `lr`, ρ = 0.9, ε = 1e-8.
    pub fn new(lr: f64) -> RmsProp {
        RmsProp {
            lr,
            rho: 0.9,
            eps: 1e-8,
            t: 0,
            a: Slots::default(),
        }
    }
    /// The decay ρ of the mean square.
    pub fn rho(mut self, rho: f64) -> RmsProp {
        self.rho = rho;
        self
    }
    /// The ε added to the root.
    pub fn eps(mut self, eps: f64) -> RmsProp {
        self.eps = eps;
        self
    }
}

fn rmsprop_entries(p: &mut [f64], g: &[f64], a: &mut [f64], lr: f64, rho: f64, eps: f64) {
    symgrad_runtime::dispatch!(fn(p: &mut [f64], g: &[f64], a: &mut [f64], lr: f64, rho: f64, eps: f64) {
        let n = p.len();
        let (g, a) = (&g[..n], &mut a[..n]);
        for i in 0..n {
            a[i] = rho * a[i] + (1.0 - rho) * g[i] * g[i];
            p[i] -= lr * g[i] / (a[i].sqrt() + eps);
        }
    })
}

impl Optimizer for RmsProp {
    common!("rmsprop");
    fn step(&mut self, params: &mut [&mut [f64]], grad: &[Vec<f64>], lr: f64) {
        self.t += 1;
        self.a.fit(params);
        let (rho, eps) = (self.rho, self.eps);
        for ((p, g), a) in params.iter_mut().zip(grad).zip(&mut self.a.0) {
            rmsprop_entries(p, g, a, lr, rho, eps);
        }
    }
    fn reset(&mut self) {
        self.t = 0;
        self.a = Slots::default();
    }
}

/// AdaDelta: A = ρ A + (1-ρ) g²; Δ = -(√(D+ε) / √(A+ε)) g;
/// D = ρ D + (1-ρ) Δ²; θ += α Δ.
#[derive(Clone, Debug)]
pub struct AdaDelta {
    lr: f64,
    rho: f64,
    eps: f64,
    t: u64,
    a: Slots,
    d: Slots,
}

impl AdaDelta {
    /// Learning rate `lr` (1.0 is Zeiler's rule unscaled), ρ = 0.9, ε = 1e-6.
    pub fn new(lr: f64) -> AdaDelta {
        AdaDelta {
            lr,
            rho: 0.9,
            eps: 1e-6,
            t: 0,
            a: Slots::default(),
            d: Slots::default(),
        }
    }
    /// The decay ρ of both mean squares.
    pub fn rho(mut self, rho: f64) -> AdaDelta {
        self.rho = rho;
        self
    }
    /// The ε inside both roots.
    pub fn eps(mut self, eps: f64) -> AdaDelta {
        self.eps = eps;
        self
    }
}

fn adadelta_entries(p: &mut [f64], g: &[f64], a: &mut [f64], d: &mut [f64], scalars: [f64; 3]) {
    symgrad_runtime::dispatch!(fn(p: &mut [f64], g: &[f64], a: &mut [f64], d: &mut [f64], scalars: [f64; 3]) {
        let [lr, rho, eps] = scalars;
        let n = p.len();
        let (g, a, d) = (&g[..n], &mut a[..n], &mut d[..n]);
        for i in 0..n {
            a[i] = rho * a[i] + (1.0 - rho) * g[i] * g[i];
            // √(D+ε) / √(A+ε) as one root of the quotient.
            let delta = -((d[i] + eps) / (a[i] + eps)).sqrt() * g[i];
            d[i] = rho * d[i] + (1.0 - rho) * delta * delta;
            p[i] += lr * delta;
        }
    })
}

impl Optimizer for AdaDelta {
    common!("adadelta");
    fn step(&mut self, params: &mut [&mut [f64]], grad: &[Vec<f64>], lr: f64) {
        self.t += 1;
        self.a.fit(params);
        self.d.fit(params);
        let (rho, eps) = (self.rho, self.eps);
        for (((p, g), a), d) in params
            .iter_mut()
            .zip(grad)
            .zip(&mut self.a.0)
            .zip(&mut self.d.0)
        {
            adadelta_entries(p, g, a, d, [lr, rho, eps]);
        }
    }
    fn reset(&mut self) {
        self.t = 0;
        self.a = Slots::default();
        self.d = Slots::default();
    }
}

/// Adam's and Nadam's shared settings and moments.
#[derive(Clone, Debug)]
struct Moments {
    beta1: f64,
    beta2: f64,
    eps: f64,
    m: Slots,
    v: Slots,
}

impl Moments {
    fn new() -> Moments {
        Moments {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            m: Slots::default(),
            v: Slots::default(),
        }
    }

    /// Step `t` of Adam or Nadam: m and v updated, then
    /// θ -= (a m + b g) / (√v/√(1-β2^t) + ε) with `[a, b]` from
    /// `direction(β1)`, computed once per step.
    fn step(
        &mut self,
        params: &mut [&mut [f64]],
        grad: &[Vec<f64>],
        t: u64,
        direction: impl Fn(f64) -> [f64; 2],
    ) {
        self.m.fit(params);
        self.v.fit(params);
        let inv_root_bias2 = 1.0 / (1.0 - self.beta2.powf(t as f64)).sqrt();
        let scalars = [self.beta1, self.beta2, self.eps, inv_root_bias2];
        let factors = direction(self.beta1);
        for (((p, g), m), v) in params
            .iter_mut()
            .zip(grad)
            .zip(&mut self.m.0)
            .zip(&mut self.v.0)
        {
            // The runtime's loop: on AVX-512 it divides by Newton's
            // reciprocal, within 1 ulp of the quotient.
            symgrad_runtime::kernels::adam::adam_entries(p, g, m, v, scalars, factors);
        }
    }

    fn reset(&mut self) {
        self.m = Slots::default();
        self.v = Slots::default();
    }
}

/// Adam: m = β1 m + (1-β1) g; v = β2 v + (1-β2) g²;
/// θ -= α (m/(1-β1^t)) / (√(v/(1-β2^t)) + ε).
#[derive(Clone, Debug)]
pub struct Adam {
    lr: f64,
    t: u64,
    moments: Moments,
}

/// Nadam: m, v as Adam;
/// θ -= α (β1 m/(1-β1^(t+1)) + (1-β1) g/(1-β1^t)) / (√(v/(1-β2^t)) + ε).
#[derive(Clone, Debug)]
pub struct Nadam {
    lr: f64,
    t: u64,
    moments: Moments,
}

macro_rules! moment_setters {
    ($ty:ident) => {
        impl $ty {
            /// Learning rate `lr`, β1 = 0.9, β2 = 0.999, ε = 1e-8.
            pub fn new(lr: f64) -> $ty {
                $ty {
                    lr,
                    t: 0,
                    moments: Moments::new(),
                }
            }
            /// The decay β1 of the first moment.
            pub fn beta1(mut self, beta1: f64) -> $ty {
                self.moments.beta1 = beta1;
                self
            }
            /// The decay β2 of the second moment.
            pub fn beta2(mut self, beta2: f64) -> $ty {
                self.moments.beta2 = beta2;
                self
            }
            /// The ε added to the root.
            pub fn eps(mut self, eps: f64) -> $ty {
                self.moments.eps = eps;
                self
            }
        }
    };
}
moment_setters!(Adam);
moment_setters!(Nadam);

impl Optimizer for Adam {
    common!("adam");
    fn step(&mut self, params: &mut [&mut [f64]], grad: &[Vec<f64>], lr: f64) {
        self.t += 1;
        let t = self.t as f64;
        // α (m/(1-β1^t)) / (√(v/(1-β2^t)) + ε) as (α/(1-β1^t)) m / (√v/√(1-β2^t) + ε):
        // one root and one division per entry (PyTorch's grouping).
        self.moments.step(params, grad, self.t, |beta1| {
            [lr / (1.0 - beta1.powf(t)), 0.0]
        });
    }
    fn reset(&mut self) {
        self.t = 0;
        self.moments.reset();
    }
}

impl Optimizer for Nadam {
    common!("nadam");
    fn step(&mut self, params: &mut [&mut [f64]], grad: &[Vec<f64>], lr: f64) {
        self.t += 1;
        let t = self.t as f64;
        // β1 m/(1-β1^(t+1)) + (1-β1) g/(1-β1^t) with the scalar factors
        // computed once; the root and division as in Adam.
        self.moments.step(params, grad, self.t, |beta1| {
            let m_factor = beta1 / (1.0 - beta1.powf(t + 1.0));
            let g_factor = (1.0 - beta1) / (1.0 - beta1.powf(t));
            [lr * m_factor, lr * g_factor]
        });
    }
    fn reset(&mut self) {
        self.t = 0;
        self.moments.reset();
    }
}

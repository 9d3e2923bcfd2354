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
//! A step allocates nothing after the first, which sizes the state to the
//! parameters.

use crate::error::{invalid_option, Error, ErrorKind, Result};

/// An update rule with its state.
///
/// The trainer calls, for each step: [`Optimizer::look_ahead`] (which moves
/// the parameters to the point where the gradient is to be taken, for
/// Nesterov; nothing for the others), then evaluates the gradient there,
/// then [`Optimizer::step`] with that gradient.
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

impl Optimizer for Sgd {
    common!("sgd");
    fn step(&mut self, params: &mut [&mut [f64]], grad: &[Vec<f64>], lr: f64) {
        self.t += 1;
        for (p, g) in params.iter_mut().zip(grad) {
            for (p, &g) in p.iter_mut().zip(g) {
                *p -= lr * g;
            }
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
        for ((p, &g), v) in p.iter_mut().zip(g).zip(v.iter_mut()) {
            *v = beta * *v - lr * g;
            *p += *v;
        }
    }
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
            for (p, &v) in p.iter_mut().zip(v) {
                *p += self.beta * v;
            }
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

impl Optimizer for AdaGrad {
    common!("adagrad");
    fn step(&mut self, params: &mut [&mut [f64]], grad: &[Vec<f64>], lr: f64) {
        self.t += 1;
        self.a.fit(params);
        let eps = self.eps;
        for ((p, g), a) in params.iter_mut().zip(grad).zip(&mut self.a.0) {
            for ((p, &g), a) in p.iter_mut().zip(g).zip(a.iter_mut()) {
                *a += g * g;
                *p -= lr * g / (a.sqrt() + eps);
            }
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

impl Optimizer for RmsProp {
    common!("rmsprop");
    fn step(&mut self, params: &mut [&mut [f64]], grad: &[Vec<f64>], lr: f64) {
        self.t += 1;
        self.a.fit(params);
        let (rho, eps) = (self.rho, self.eps);
        for ((p, g), a) in params.iter_mut().zip(grad).zip(&mut self.a.0) {
            for ((p, &g), a) in p.iter_mut().zip(g).zip(a.iter_mut()) {
                *a = rho * *a + (1.0 - rho) * g * g;
                *p -= lr * g / (a.sqrt() + eps);
            }
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
            for (((p, &g), a), d) in p.iter_mut().zip(g).zip(a.iter_mut()).zip(d.iter_mut()) {
                *a = rho * *a + (1.0 - rho) * g * g;
                let delta = -((*d + eps).sqrt() / (*a + eps).sqrt()) * g;
                *d = rho * *d + (1.0 - rho) * delta * delta;
                *p += lr * delta;
            }
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
        let Moments {
            beta1,
            beta2,
            eps,
            m,
            v,
        } = &mut self.moments;
        let (beta1, beta2, eps) = (*beta1, *beta2, *eps);
        m.fit(params);
        v.fit(params);
        let t = self.t as f64;
        let bias1 = 1.0 - beta1.powf(t);
        let bias2 = 1.0 - beta2.powf(t);
        for (((p, g), m), v) in params.iter_mut().zip(grad).zip(&mut m.0).zip(&mut v.0) {
            for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                *m = beta1 * *m + (1.0 - beta1) * g;
                *v = beta2 * *v + (1.0 - beta2) * g * g;
                *p -= lr * (*m / bias1) / ((*v / bias2).sqrt() + eps);
            }
        }
    }
    fn reset(&mut self) {
        self.t = 0;
        self.moments.m = Slots::default();
        self.moments.v = Slots::default();
    }
}

impl Optimizer for Nadam {
    common!("nadam");
    fn step(&mut self, params: &mut [&mut [f64]], grad: &[Vec<f64>], lr: f64) {
        self.t += 1;
        let Moments {
            beta1,
            beta2,
            eps,
            m,
            v,
        } = &mut self.moments;
        let (beta1, beta2, eps) = (*beta1, *beta2, *eps);
        m.fit(params);
        v.fit(params);
        let t = self.t as f64;
        let bias1_next = 1.0 - beta1.powf(t + 1.0);
        let bias1 = 1.0 - beta1.powf(t);
        let bias2 = 1.0 - beta2.powf(t);
        for (((p, g), m), v) in params.iter_mut().zip(grad).zip(&mut m.0).zip(&mut v.0) {
            for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                *m = beta1 * *m + (1.0 - beta1) * g;
                *v = beta2 * *v + (1.0 - beta2) * g * g;
                let direction = beta1 * *m / bias1_next + (1.0 - beta1) * g / bias1;
                *p -= lr * direction / ((*v / bias2).sqrt() + eps);
            }
        }
    }
    fn reset(&mut self) {
        self.t = 0;
        self.moments.m = Slots::default();
        self.moments.v = Slots::default();
    }
}

/// The optimizer settings the command line takes; `None` is the
/// optimizer's default.
#[derive(Clone, Debug, PartialEq)]
pub struct Hyper {
    /// α (`--lr`).
    pub lr: f64,
    /// β of momentum and Nesterov (`--momentum`).
    pub momentum: Option<f64>,
    /// ρ of RMSProp and AdaDelta (`--rho`).
    pub rho: Option<f64>,
    /// β1 of Adam and Nadam (`--beta1`).
    pub beta1: Option<f64>,
    /// β2 of Adam and Nadam (`--beta2`).
    pub beta2: Option<f64>,
    /// ε of AdaGrad, RMSProp, AdaDelta, Adam and Nadam (`--eps`).
    pub eps: Option<f64>,
}

impl Hyper {
    /// Rate `lr`, every other setting at the optimizer's default.
    pub fn new(lr: f64) -> Hyper {
        Hyper {
            lr,
            momentum: None,
            rho: None,
            beta1: None,
            beta2: None,
            eps: None,
        }
    }

    /// The settings given (`Some`) that optimizer `name` does not use, as
    /// the CLI spells them (`"--rho"`), for a warning or an error.
    pub fn unused_by(&self, name: &str) -> Vec<&'static str> {
        let uses = |flag: &str| -> bool {
            match flag {
                "--momentum" => matches!(name, "momentum" | "nesterov"),
                "--rho" => matches!(name, "rmsprop" | "adadelta"),
                "--beta1" | "--beta2" => matches!(name, "adam" | "nadam"),
                _ => !matches!(name, "sgd" | "momentum" | "nesterov"),
            }
        };
        [
            ("--momentum", self.momentum),
            ("--rho", self.rho),
            ("--beta1", self.beta1),
            ("--beta2", self.beta2),
            ("--eps", self.eps),
        ]
        .into_iter()
        .filter(|(flag, v)| v.is_some() && !uses(flag))
        .map(|(flag, _)| flag)
        .collect()
    }

    fn check(&self) -> Result<()> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(invalid_option(format!(
                "the learning rate must be a positive number, not {}",
                self.lr
            )));
        }
        let unit = |flag: &str, v: Option<f64>| -> Result<()> {
            match v {
                Some(v) if !(0.0..1.0).contains(&v) => Err(invalid_option(format!(
                    "{flag} must be at least 0 and below 1, not {v}"
                ))),
                _ => Ok(()),
            }
        };
        unit("--momentum", self.momentum)?;
        unit("--rho", self.rho)?;
        unit("--beta1", self.beta1)?;
        unit("--beta2", self.beta2)?;
        match self.eps {
            Some(e) if !(e.is_finite() && e > 0.0) => Err(invalid_option(format!(
                "--eps must be a positive number, not {e}"
            ))),
            _ => Ok(()),
        }
    }
}

/// The optimizer names of the contract, in its order.
pub const OPTIMIZERS: [&str; 8] = [
    "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "nadam",
];

/// Builds the optimizer called `name` (one of [`OPTIMIZERS`]) with the
/// settings of `hyper`; settings it does not use are ignored (see
/// [`Hyper::unused_by`]).
///
/// # Errors
/// [`ErrorKind::InvalidOption`] for an unknown name, a rate that is not
/// positive, a β or ρ outside [0, 1), or an ε that is not positive.
pub fn optimizer_from_name(name: &str, hyper: &Hyper) -> Result<Box<dyn Optimizer>> {
    hyper.check()?;
    let lr = hyper.lr;
    let mut opt: Box<dyn Optimizer> = match name {
        "sgd" => Box::new(Sgd::new(lr)),
        "momentum" => {
            let o = Momentum::new(lr);
            Box::new(match hyper.momentum {
                Some(b) => o.momentum(b),
                None => o,
            })
        }
        "nesterov" => {
            let o = Nesterov::new(lr);
            Box::new(match hyper.momentum {
                Some(b) => o.momentum(b),
                None => o,
            })
        }
        "adagrad" => {
            let o = AdaGrad::new(lr);
            Box::new(match hyper.eps {
                Some(e) => o.eps(e),
                None => o,
            })
        }
        "rmsprop" => {
            let mut o = RmsProp::new(lr);
            if let Some(r) = hyper.rho {
                o = o.rho(r);
            }
            if let Some(e) = hyper.eps {
                o = o.eps(e);
            }
            Box::new(o)
        }
        "adadelta" => {
            let mut o = AdaDelta::new(lr);
            if let Some(r) = hyper.rho {
                o = o.rho(r);
            }
            if let Some(e) = hyper.eps {
                o = o.eps(e);
            }
            Box::new(o)
        }
        "adam" | "nadam" => {
            let mut m = Moments::new();
            if let Some(b) = hyper.beta1 {
                m.beta1 = b;
            }
            if let Some(b) = hyper.beta2 {
                m.beta2 = b;
            }
            if let Some(e) = hyper.eps {
                m.eps = e;
            }
            if name == "adam" {
                Box::new(Adam {
                    lr,
                    t: 0,
                    moments: m,
                })
            } else {
                Box::new(Nadam {
                    lr,
                    t: 0,
                    moments: m,
                })
            }
        }
        _ => {
            return Err(Error::new(
                ErrorKind::InvalidOption,
                format!(
                    "unknown optimizer '{name}': expected one of {}",
                    OPTIMIZERS.join(", ")
                ),
            ))
        }
    };
    opt.reset();
    Ok(opt)
}

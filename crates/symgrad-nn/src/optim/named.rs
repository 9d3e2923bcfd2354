//! Optimizers by name, as the command line and search spaces give them:
//! [`optimizer_from_name`] with the settings of [`Hyper`].

use super::{AdaDelta, AdaGrad, Adam, Moments, Momentum, Nadam, Nesterov, Optimizer, RmsProp, Sgd};
use crate::error::{invalid_option, Error, ErrorKind, Result};

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

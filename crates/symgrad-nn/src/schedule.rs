//! Learning-rate schedules: the rate of each epoch from the base rate α.
//!
//! `--decay exp:k` gives epoch `e` (counted from 0) the rate α e^(-k e);
//! `--decay inverse:k` gives it α / (1 + k e). Without a schedule every
//! epoch uses α.

use crate::error::{invalid_option, Result};

/// How the learning rate changes from epoch to epoch.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Decay {
    /// α in every epoch.
    #[default]
    Constant,
    /// α e^(-k e).
    Exp(f64),
    /// α / (1 + k e).
    Inverse(f64),
}

impl Decay {
    /// Parses the CLI's `exp:K` or `inverse:K` (K a finite number >= 0).
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidOption`] for anything else.
    pub fn parse(spec: &str) -> Result<Decay> {
        let bad = || {
            invalid_option(format!(
                "'{spec}' is not a decay: write exp:K (rate α·e^(-K·epoch)) or inverse:K \
                 (rate α/(1+K·epoch)), K a number >= 0"
            ))
        };
        let (kind, k) = spec.trim().split_once(':').ok_or_else(bad)?;
        let k: f64 = k.trim().parse().map_err(|_| bad())?;
        if !(k.is_finite() && k >= 0.0) {
            return Err(bad());
        }
        match kind.trim() {
            "exp" => Ok(Decay::Exp(k)),
            "inverse" => Ok(Decay::Inverse(k)),
            _ => Err(bad()),
        }
    }

    /// The rate of epoch `epoch` (from 0) for base rate `lr`.
    pub fn rate(&self, lr: f64, epoch: usize) -> f64 {
        let e = epoch as f64;
        match *self {
            Decay::Constant => lr,
            Decay::Exp(k) => lr * (-k * e).exp(),
            Decay::Inverse(k) => lr / (1.0 + k * e),
        }
    }
}

impl std::fmt::Display for Decay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Decay::Constant => f.write_str("none"),
            Decay::Exp(k) => write!(f, "exp:{k}"),
            Decay::Inverse(k) => write!(f, "inverse:{k}"),
        }
    }
}

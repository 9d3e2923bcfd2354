//! The functions a differentiated body may call, read from the core's one
//! list of callable names (`symgrad_core::graph::BUILTINS`), so that the
//! formula language and `#[gradient]` accept the same functions.

use symgrad_core::graph::{Builtin, RustName, BUILTINS};

/// A function of the body, by what it computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Callee {
    /// A function of the formula language, called as a float method or a
    /// facade function of the same name.
    Builtin(Builtin),
    /// `x.powi(n)`, with a constant integer `n`.
    Powi,
    /// `x.powf(y)`.
    Powf,
    /// `x.recip()`.
    Recip,
}

impl Callee {
    /// How many arguments the call takes, the receiver of a method included.
    pub(crate) fn arity(self) -> usize {
        match self {
            Callee::Powi | Callee::Powf => 2,
            Callee::Recip => 1,
            // Rust's `log` always takes its base: `x.log(b)`.
            Callee::Builtin(Builtin::Log) => 2,
            Callee::Builtin(b) => b.arity().1,
        }
    }

    /// A float method by name (`x.sin()`, `f64::sin(x)`).
    pub(crate) fn method(name: &str) -> Option<Callee> {
        Some(match name {
            "powi" => Callee::Powi,
            "powf" => Callee::Powf,
            "recip" => Callee::Recip,
            _ => return spelled(name, RustName::Method).map(Callee::Builtin),
        })
    }

    /// A function of the facade (`symgrad::sigmoid(x)`).
    pub(crate) fn facade(name: &str) -> Option<Callee> {
        spelled(name, RustName::Facade).map(Callee::Builtin)
    }
}

fn spelled(name: &str, rust: RustName) -> Option<Builtin> {
    BUILTINS
        .iter()
        .find(|b| b.name == name && b.rust == rust)
        .map(|b| b.builtin)
}

/// The supported float methods, for error messages: `powi, powf, recip, sin, ...`.
pub(crate) fn methods() -> String {
    let mut names = vec!["powi", "powf", "recip"];
    names.extend(
        BUILTINS
            .iter()
            .filter(|b| b.rust == RustName::Method)
            .map(|b| b.name),
    );
    names.join(", ")
}

/// The facade functions, for error messages: `` `symgrad::sigmoid`, ... ``.
pub(crate) fn facade_functions() -> String {
    let names: Vec<String> = BUILTINS
        .iter()
        .filter(|b| b.rust == RustName::Facade)
        .map(|b| format!("`symgrad::{}`", b.name))
        .collect();
    names.join(", ")
}

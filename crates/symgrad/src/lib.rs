//! symgrad turns mathematics into derivatives.
//!
//! A formula becomes a shared expression graph (a DAG); derivatives are
//! computed on it by reverse mode (backpropagation), forward mode, or path
//! enumeration (the exponential baseline), and are themselves graphs that can
//! be simplified, printed, evaluated and differentiated again.
//!
//! For programs that build or load formulas at run time, [`Expr`] does the
//! common jobs in a few calls:
//!
//! ```
//! use symgrad::{Expr, Mode};
//!
//! let f = Expr::parse("x²y + y + 2")?;
//! assert_eq!(f.vars(), ["x", "y"]);
//! assert_eq!(f.eval(&[3.0, 4.0])?, 42.0);
//!
//! let grad = f.gradient(Mode::Reverse)?;
//! assert_eq!(grad.exprs(), ["2*x*y", "x^2 + 1"]);
//! assert_eq!(grad.eval(&[3.0, 4.0])?, [24.0, 10.0]);
//!
//! let hessian = f.hessian()?;
//! assert_eq!(hessian.eval(&[3.0, 4.0])?, [[8.0, 6.0], [6.0, 0.0]]);
//! # Ok::<(), symgrad::Error>(())
//! ```
//!
//! The engine's pieces (graph, differentiation modes, simplifier, printers,
//! interpreter) are re-exported from `symgrad-core` for finer control.

mod expr;

pub use expr::{Derivatives, Expr, Hessian};
pub use symgrad_core::diff::{Mode, Options, Stats};
pub use symgrad_core::{
    diff, emit, eval, explain, graph, net, num, parse, plan, print, simplify, workloads, Binding,
    Error, ErrorKind, Formula, Func, Graph, NamedConst, Node, NodeId, Num, Op, Result, Shape, Span,
};
/// Compile-time gradients: `grad!` (a closure or a formula) and
/// `#[gradient]` (a function). See the `symgrad-macros` crate.
pub use symgrad_macros::{grad, gradient, network};
/// Training: data sets, optimizers, the training loop, model files. See
/// the `symgrad-nn` crate.
pub use symgrad_nn as nn;
/// The functions that `f32` and `f64` lack as methods (activations in
/// numerically stable forms, `erf`, `sec`, `sign` with sign(0) = 0, ...).
/// Bodies under `#[gradient]` call them as `symgrad::sigmoid(x)`, so that
/// the original function compiles as ordinary Rust; the list of them is the
/// `Facade` entries of `graph::BUILTINS`.
pub use symgrad_runtime::{
    cot, csc, erf, erfc, heaviside, relu, sec, sigmoid, sign, softplus, step, Real,
};

/// What generated code calls. Not a public API: paths here may change with
/// any release of the macros that use them.
#[doc(hidden)]
pub mod __private {
    pub use symgrad_runtime::*;
}

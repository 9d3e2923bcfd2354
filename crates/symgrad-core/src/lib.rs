//! The symgrad engine: formulas become a shared expression graph, and
//! derivatives are computed on it by reverse mode, forward mode and path
//! enumeration, then simplified, printed and evaluated.
//!
//! This crate has no dependency on `syn` or `clap`: the macros and the command
//! line are built on top of it.

pub mod diff;
pub mod emit;
pub mod error;
pub mod eval;
pub mod explain;
pub mod formula;
pub mod graph;
pub mod net;
pub mod num;
pub mod parse;
pub mod plan;
pub mod print;
pub mod simplify;
pub mod workloads;

pub use error::{Error, ErrorKind, Result, Span};
pub use formula::{Binding, Formula};
pub use graph::{Func, Graph, NamedConst, Node, NodeId, Op, Shape};
pub use num::Num;
pub use parse::parse;

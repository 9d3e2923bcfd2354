//! Code generation: graphs lowered to a typed SSA form ([`ssa`]), then
//! printed as Rust tokens ([`rust`]). The macros splice the tokens into user
//! code; the command line formats them with prettyplease.

pub mod network;
pub mod rust;
pub mod ssa;
mod workspace;

pub use rust::{gradient_fn, Float, Param, Returns};
pub use ssa::{Function, Instr, Operand};

//! Generated code for every formula of `tests/data/reference.jsonl`, in f64
//! and f32, written by `build.rs` through `symgrad_core::emit` (the same code
//! path as the macros and `symgrad emit`). The tests compare it with SymPy's
//! values and with the interpreter.

#![allow(clippy::all)]

include!(concat!(env!("OUT_DIR"), "/reference_fns.rs"));

//! The interpreter: a graph lowered to a flat list of instructions over slots.
//!
//! Lowering keeps only the nodes the outputs depend on, in topological order,
//! so running is one loop over a vector with no recursion and no hashing.
//! Used by `--at`, `eval`, finite differences, `explain` and the tests.
//!
//! [`Program`] is the fast path for scalar formulas and refuses tensor
//! nodes; [`TensorProgram`] runs any graph, tensors included (see its module).

mod image;
mod tensor;

pub use tensor::{Tensor, TensorProgram};

use crate::error::{Error, ErrorKind, Result};
use crate::graph::{Func, Graph, NodeId, Op};

/// One instruction: computes slot `dst` from earlier slots.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Instr {
    Const(f64),
    Input(usize),
    Add(u32, u32),
    Sub(u32, u32),
    Mul(u32, u32),
    Div(u32, u32),
    Neg(u32),
    Pow(u32, u32),
    Powi(u32, i32),
    Max(u32, u32),
    Min(u32, u32),
    Atan2(u32, u32),
    Func(Func, u32),
}

/// A compiled evaluator for some outputs of a graph as functions of some inputs.
#[derive(Clone, Debug)]
pub struct Program {
    /// Instruction `i` writes slot `i`; n-ary sums and products are unrolled into
    /// extra slots, so slots can outnumber graph nodes.
    instrs: Vec<Instr>,
    outputs: Vec<u32>,
    n_inputs: usize,
}

impl Program {
    /// Lowers the nodes that `outputs` depend on. Every variable they depend
    /// on must be one of `inputs`, which fixes the order of `run`'s arguments.
    pub fn compile(g: &Graph, inputs: &[NodeId], outputs: &[NodeId]) -> Result<Program> {
        let order = g.reachable(outputs);
        let mut slot_of: Vec<u32> = vec![u32::MAX; g.len()];
        let input_of = input_positions(g, inputs);
        let mut instrs: Vec<Instr> = Vec::with_capacity(order.len());
        let push = |instrs: &mut Vec<Instr>, i: Instr| -> u32 {
            instrs.push(i);
            (instrs.len() - 1) as u32
        };
        for &v in &order {
            let node = g.node(v);
            if node.op.is_tensor() || node.shape != crate::graph::ShapeId::SCALAR {
                return Err(Error::new(
                    ErrorKind::Shape,
                    format!(
                        "'{}' has shape {}: evaluate tensor graphs with eval::TensorProgram",
                        node.op.label(),
                        g.shape(v)
                    ),
                ));
            }
            let a = |k: usize| slot_of[node.args[k].index()];
            let slot = match node.op {
                Op::Const(n) => push(&mut instrs, Instr::Const(n.to_f64())),
                Op::Named(c) => push(&mut instrs, Instr::Const(c.value())),
                Op::Var(_) => {
                    let Some(pos) = input_of[v.index()] else {
                        return Err(no_value(g, v));
                    };
                    push(&mut instrs, Instr::Input(pos))
                }
                Op::Add | Op::Mul => {
                    let mut acc = a(0);
                    for k in 1..node.args.len() {
                        let i = if node.op == Op::Add {
                            Instr::Add(acc, a(k))
                        } else {
                            Instr::Mul(acc, a(k))
                        };
                        acc = push(&mut instrs, i);
                    }
                    acc
                }
                Op::Sub => push(&mut instrs, Instr::Sub(a(0), a(1))),
                Op::Div => push(&mut instrs, Instr::Div(a(0), a(1))),
                Op::Neg => push(&mut instrs, Instr::Neg(a(0))),
                Op::Pow => {
                    let exponent = g.as_const(node.args[1]).and_then(|n| n.as_int());
                    match exponent.and_then(|e| i32::try_from(e).ok()) {
                        Some(e) => push(&mut instrs, Instr::Powi(a(0), e)),
                        None => push(&mut instrs, Instr::Pow(a(0), a(1))),
                    }
                }
                Op::Max => push(&mut instrs, Instr::Max(a(0), a(1))),
                Op::Min => push(&mut instrs, Instr::Min(a(0), a(1))),
                Op::Atan2 => push(&mut instrs, Instr::Atan2(a(0), a(1))),
                Op::Func(f) => push(&mut instrs, Instr::Func(f, a(0))),
                _ => unreachable!("tensor operations are refused above"),
            };
            slot_of[v.index()] = slot;
        }
        Ok(Program {
            instrs,
            outputs: outputs.iter().map(|o| slot_of[o.index()]).collect(),
            n_inputs: inputs.len(),
        })
    }

    /// The number of instructions.
    pub fn len(&self) -> usize {
        self.instrs.len()
    }

    /// Whether the program has no instructions.
    pub fn is_empty(&self) -> bool {
        self.instrs.is_empty()
    }

    /// Evaluates the outputs at `inputs`, using `slots` as scratch space (reuse
    /// it across calls to avoid allocating).
    ///
    /// # Panics
    /// When `inputs` is shorter than the inputs the program was compiled with.
    pub fn run_with(&self, inputs: &[f64], slots: &mut Vec<f64>, out: &mut Vec<f64>) {
        assert!(inputs.len() >= self.n_inputs, "too few inputs");
        slots.clear();
        slots.reserve(self.instrs.len());
        for &instr in &self.instrs {
            let s = |k: u32| slots[k as usize];
            let value = match instr {
                Instr::Const(c) => c,
                Instr::Input(i) => inputs[i],
                Instr::Add(a, b) => s(a) + s(b),
                Instr::Sub(a, b) => s(a) - s(b),
                Instr::Mul(a, b) => s(a) * s(b),
                Instr::Div(a, b) => s(a) / s(b),
                Instr::Neg(a) => -s(a),
                Instr::Pow(a, b) => s(a).powf(s(b)),
                Instr::Powi(a, n) => s(a).powi(n),
                Instr::Max(a, b) => {
                    if s(b) > s(a) {
                        s(b)
                    } else {
                        s(a)
                    }
                }
                Instr::Min(a, b) => {
                    if s(b) < s(a) {
                        s(b)
                    } else {
                        s(a)
                    }
                }
                Instr::Atan2(a, b) => s(a).atan2(s(b)),
                Instr::Func(f, a) => f.eval(s(a)),
            };
            slots.push(value);
        }
        out.clear();
        out.extend(self.outputs.iter().map(|&o| slots[o as usize]));
    }

    /// Evaluates the outputs at `inputs`.
    pub fn run(&self, inputs: &[f64]) -> Vec<f64> {
        let mut slots = Vec::new();
        let mut out = Vec::new();
        self.run_with(inputs, &mut slots, &mut out);
        out
    }
}

/// The error for a variable the outputs need but the inputs do not list.
pub(crate) fn no_value(g: &Graph, v: NodeId) -> Error {
    let name = g.var_name(v).unwrap_or("?");
    Error::new(
        ErrorKind::UnknownVariable,
        format!("no value given for variable '{name}'"),
    )
}

/// Each node's position among `inputs` (the first, if it is listed twice),
/// so that compiling finds a variable's input in constant time.
pub(crate) fn input_positions(g: &Graph, inputs: &[NodeId]) -> Vec<Option<usize>> {
    let mut input_of: Vec<Option<usize>> = vec![None; g.len()];
    for (pos, x) in inputs.iter().enumerate() {
        if let Some(entry) = input_of.get_mut(x.index()) {
            entry.get_or_insert(pos);
        }
    }
    input_of
}

/// The value of every node that `outputs` depend on, at a point giving each
/// variable a value (`values[i]` for the variable node `vars[i]`). Nodes the
/// outputs do not depend on are NaN. Used to explain a computation node by node.
pub fn node_values(
    g: &Graph,
    vars: &[NodeId],
    values: &[f64],
    outputs: &[NodeId],
) -> Result<Vec<f64>> {
    let order = g.reachable(outputs);
    let results = Program::compile(g, vars, &order)?.run(values);
    let mut value = vec![f64::NAN; g.len()];
    for (v, x) in order.into_iter().zip(results) {
        value[v.index()] = x;
    }
    Ok(value)
}

#![allow(dead_code)] // each test crate uses some of these
//! The finite-difference harness of the tensor rules: a seeded generator,
//! a case (a graph, its inputs and values, an output), and [`check`], which
//! tests reverse and forward mode on `L = sum(w ⊙ out)` against central
//! differences of the tensor interpreter.

use symgrad_core::diff::{forward, reverse};
use symgrad_core::eval::{Tensor, TensorProgram};
use symgrad_core::graph::Axis;
use symgrad_core::workloads::SplitMix64;
use symgrad_core::{Graph, NodeId, Shape};

/// A seeded generator (the workloads' SplitMix64), so failures reproduce.
pub struct Rng(pub SplitMix64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        self.0.uniform(lo, hi)
    }
    /// A dimension in 1..=4.
    pub fn dim(&mut self) -> usize {
        1 + (self.next() % 4) as usize
    }
    pub fn tensor(&mut self, shape: &Shape, lo: f64, hi: f64) -> Tensor {
        let data = (0..shape.numel()).map(|_| self.uniform(lo, hi)).collect();
        Tensor::new(shape.clone(), data)
    }
}

/// One case: a graph, its tensor inputs with values, and the output node.
pub struct Case {
    pub g: Graph,
    pub inputs: Vec<NodeId>,
    pub values: Vec<Tensor>,
    pub out: NodeId,
}

impl Case {
    /// A graph with inputs of the given shapes, values uniform in [lo, hi).
    pub fn new(rng: &mut Rng, shapes: &[Shape], lo: f64, hi: f64) -> Case {
        let mut g = Graph::new();
        let inputs = shapes
            .iter()
            .enumerate()
            .map(|(i, s)| g.tensor_var(&format!("x{i}"), s.clone()))
            .collect();
        let values = shapes.iter().map(|s| rng.tensor(s, lo, hi)).collect();
        let out = NodeId::from_index(0);
        Case {
            g,
            inputs,
            values,
            out,
        }
    }
}

pub fn eval_scalar(g: &Graph, inputs: &[NodeId], values: &[Tensor], out: NodeId) -> f64 {
    TensorProgram::compile(g, inputs, &[out])
        .unwrap()
        .run(values)
        .unwrap()[0]
        .item()
}

/// Checks reverse and forward mode on `L = sum(w ⊙ out)` against central
/// differences; `what` names the case in failure messages.
pub fn check(mut case: Case, rng: &mut Rng, what: &str) {
    let g = &mut case.g;
    let out_shape = g.shape(case.out).clone();
    let w = g.tensor_var("w_check", out_shape.clone());
    let weighted = g.mul(w, case.out);
    let loss = g.sum(weighted, Axis::All);
    assert!(g.is_scalar(loss));
    let mut inputs = case.inputs.clone();
    inputs.push(w);
    let mut values = case.values.clone();
    values.push(rng.tensor(&out_shape, -1.0, 1.0));

    // Reverse mode: every entry of every input's gradient.
    let (grad, _) = reverse::gradient(g, loss, &case.inputs);
    for (i, (&x, &gx)) in case.inputs.iter().zip(&grad).enumerate() {
        assert_eq!(
            g.shape(gx),
            g.shape(x),
            "{what}: gradient {i} has the input's shape"
        );
    }
    let program = TensorProgram::compile(g, &inputs, &grad).unwrap();
    let exact = program.run(&values).unwrap();
    let h = 1e-6;
    for (i, gx) in exact.iter().enumerate() {
        for j in 0..gx.data.len() {
            let mut plus = values.clone();
            plus[i].data[j] += h;
            let mut minus = values.clone();
            minus[i].data[j] -= h;
            let fd = (eval_scalar(g, &inputs, &plus, loss) - eval_scalar(g, &inputs, &minus, loss))
                / (2.0 * h);
            close(gx.data[j], fd, &format!("{what}: reverse ∂L/∂x{i}[{j}]"));
        }
    }

    // Forward mode along a random direction d: seeds are tensor variables.
    let mut seeds = Vec::new();
    let mut dir_values = Vec::new();
    for (i, &x) in case.inputs.iter().enumerate() {
        let shape = g.shape(x).clone();
        let d = g.tensor_var(&format!("d{i}"), shape.clone());
        seeds.push((x, d));
        dir_values.push(rng.tensor(&shape, -1.0, 1.0));
    }
    let (tangents, _) = forward::directional(g, &[loss], &seeds);
    let tangent = tangents[0].unwrap_or_else(|| g.int(0));
    let mut all_inputs = inputs.clone();
    all_inputs.extend(seeds.iter().map(|s| s.1));
    let mut all_values = values.clone();
    all_values.extend(dir_values.iter().cloned());
    let jvp = eval_scalar(g, &all_inputs, &all_values, tangent);
    let shifted = |sign: f64| {
        let mut v = values.clone();
        for (i, d) in dir_values.iter().enumerate() {
            for (x, dx) in v[i].data.iter_mut().zip(&d.data) {
                *x += sign * h * dx;
            }
        }
        eval_scalar(g, &inputs, &v, loss)
    };
    let fd = (shifted(1.0) - shifted(-1.0)) / (2.0 * h);
    close(jvp, fd, &format!("{what}: forward along a direction"));
    // And the two exact modes agree with each other: ⟨∇L, d⟩ = L̇.
    let dot: f64 = exact
        .iter()
        .zip(&dir_values)
        .map(|(gx, d)| gx.data.iter().zip(&d.data).map(|(a, b)| a * b).sum::<f64>())
        .sum();
    close(jvp, dot, &format!("{what}: forward = ⟨reverse, d⟩"));
}

pub fn close(a: f64, b: f64, what: &str) {
    let tol = 1e-6 * (1.0 + a.abs().max(b.abs()));
    assert!((a - b).abs() <= tol, "{what}: {a} vs {b}");
}

pub fn shape(dims: &[usize]) -> Shape {
    Shape::new(dims.to_vec())
}

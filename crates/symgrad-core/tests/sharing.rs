//! Sharing in large graphs: hash-consing finds every node again however big
//! the graph, and reverse mode's gradient graphs stay small (W6) without
//! losing agreement with the other modes.

use symgrad_core::diff::{self, numeric, reverse, Mode, Options};
use symgrad_core::eval::Program;
use symgrad_core::graph::Op;
use symgrad_core::{workloads, Graph, NodeId};

fn values(g: &Graph, vars: &[NodeId], nodes: &[NodeId], point: &[f64]) -> Vec<f64> {
    Program::compile(g, vars, nodes).unwrap().run(point)
}

fn assert_close(actual: &[f64], expected: &[f64], tolerance: f64, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= tolerance * e.abs().max(1.0),
            "{what}[{i}]: {a} vs {e}"
        );
    }
}

/// Building every node of a graph again, in any order, gives the node that
/// is there: the table is split by newest operand, and a graph this size
/// spans many of its parts and has grown each of them several times.
#[test]
fn every_node_of_a_large_graph_is_found_again() {
    let w = workloads::random_dag(50_000, 3);
    let mut g = w.graph.clone();
    reverse::gradient(&mut g, w.output, &w.inputs);
    let len = g.len();
    assert!(len > 150_000, "{len}");
    // Backwards, so that lookups do not follow insertion order.
    for id in g.ids().rev().collect::<Vec<_>>() {
        let node = g.node(id).clone();
        assert_eq!(g.intern(node.op, node.args), id);
    }
    assert_eq!(g.len(), len, "no node was added twice");
}

/// W6: `Π sigmoid(x_i x_{i+1} + 1)`. The gradient graph reuses the
/// function's nodes (the prefix products `p_{k-1}`) and builds, per factor,
/// one adjoint of the chain, `-a` and `σ(-a)`, one product for the
/// factor's argument (`p̄_k·p_{k-1}·σ(a)·σ(-a)`), two products for the
/// partials of `x_i x_{i+1}` and one sum per variable: 12 nodes per factor
/// with the function's 5, a ratio of 2.4 (it was 2.8, with `σ(a)·σ(-a)`
/// and `p̄_k·p_{k-1}` as nodes of their own).
#[test]
fn w6_gradient_graph_stays_within_2_4_times_the_function() {
    for n in [10, 100, 1000] {
        let mut w = workloads::cyclic_sigmoid_product(n);
        let nodes_f = w.graph.reachable(&[w.output]).len();
        assert_eq!(nodes_f, 5 * n);
        let (grad, _) = reverse::gradient(&mut w.graph, w.output, &w.inputs);
        let nodes_g = w.graph.reachable(&grad).len();
        let ratio = nodes_g as f64 / nodes_f as f64;
        assert!(ratio <= 2.4, "n = {n}: nodes_g / nodes_f = {ratio}");
        // No product of the gradient has more than four factors.
        for id in w.graph.reachable(&grad) {
            if w.graph.op(id) == Op::Mul {
                assert!(w.graph.args(id).len() <= 4, "n = {n}");
            }
        }
    }
}

#[test]
fn w6_modes_agree_with_each_other_and_finite_differences() {
    let n = 12;
    let w = workloads::cyclic_sigmoid_product(n);
    // A point where the factors differ, so that a wrong pairing shows.
    let point: Vec<f64> = (0..n).map(|i| 0.3 + 0.11 * i as f64).collect();
    let mut results = Vec::new();
    for mode in Mode::EXACT {
        let mut g = w.graph.clone();
        let (grad, _) = diff::gradient(&mut g, w.output, &w.inputs, mode, Options::default())
            .unwrap_or_else(|e| panic!("{mode}: {e}"));
        results.push((mode, values(&g, &w.inputs, &grad, &point)));
    }
    let program = Program::compile(&w.graph, &w.inputs, &[w.output]).unwrap();
    let (fd, _) = numeric::gradient(&program, &point);
    for (mode, v) in &results {
        assert_close(v, &results[1].1, 1e-12, &format!("{mode} vs forward"));
        assert_close(v, &fd, 1e-6, &format!("{mode} vs finite differences"));
    }
}

/// A chain of functions: the adjoint of each link is folded into the next
/// product at most twice, so products stay small and the result is right.
#[test]
fn function_chains_keep_small_products_and_agree_with_forward_mode() {
    let w = workloads::nested_sin(60);
    let mut g = w.graph.clone();
    let (rev, _) = reverse::gradient(&mut g, w.output, &w.inputs);
    for id in g.reachable(&rev) {
        if g.op(id) == Op::Mul {
            assert!(g.args(id).len() <= 4);
        }
    }
    let r = values(&g, &w.inputs, &rev, &w.point);
    let mut h = w.graph.clone();
    let (fwd, _) = diff::gradient(
        &mut h,
        w.output,
        &w.inputs,
        Mode::Forward,
        Options::default(),
    )
    .unwrap();
    let f = values(&h, &w.inputs, &fwd, &w.point);
    assert_close(&r, &f, 1e-13, "nested sin");
}

/// W7's random DAG over several table segments: reverse mode agrees with
/// forward mode, and adds a bounded number of nodes per node.
#[test]
fn random_dag_reverse_agrees_with_forward_and_grows_linearly() {
    let w = workloads::random_dag(20_000, 5);
    let mut g = w.graph.clone();
    let (rev, _) = reverse::gradient(&mut g, w.output, &w.inputs);
    // Measured: 2.74 new nodes per node at 10^4, 10^5 and 10^6 nodes.
    let added = (g.len() - w.graph.len()) as f64 / w.graph.len() as f64;
    assert!(added < 3.0, "{added} new nodes per node");
    let r = values(&g, &w.inputs, &rev, &w.point);
    let mut h = w.graph.clone();
    let (fwd, _) = diff::gradient(
        &mut h,
        w.output,
        &w.inputs,
        Mode::Forward,
        Options::default(),
    )
    .unwrap();
    let f = values(&h, &w.inputs, &fwd, &w.point);
    assert_close(&r, &f, 1e-9, "random DAG");
}

/// A product of many operands: each operand's adjoint is the shared prefix
/// product before it times the shared suffix product after it, so the
/// gradient has about 3k nodes, not k products of k - 1 operands.
#[test]
fn long_products_share_prefix_and_suffix_products() {
    let k = 40;
    let mut g = Graph::new();
    let xs: Vec<NodeId> = (0..k).map(|i| g.var(&format!("x{i}"))).collect();
    let f = g.intern(Op::Mul, xs.iter().copied().collect());
    let before = g.len();
    let (rev, _) = reverse::gradient(&mut g, f, &xs);
    assert!(g.len() - before <= 3 * k, "{} new nodes", g.len() - before);
    let operands: usize = g.reachable(&rev).iter().map(|&id| g.args(id).len()).sum();
    assert!(operands <= 6 * k, "{operands} operand slots");
    let point: Vec<f64> = (0..k).map(|i| 0.9 + 0.01 * i as f64).collect();
    let r = values(&g, &xs, &rev, &point);
    let expected: Vec<f64> = (0..k)
        .map(|i| (0..k).filter(|&j| j != i).map(|j| point[j]).product())
        .collect();
    assert_close(&r, &expected, 1e-13, "long product");
    let mut h = Graph::new();
    let ys: Vec<NodeId> = (0..k).map(|i| h.var(&format!("x{i}"))).collect();
    let f = h.intern(Op::Mul, ys.iter().copied().collect());
    let (fwd, _) = diff::gradient(&mut h, f, &ys, Mode::Forward, Options::default()).unwrap();
    assert_close(&r, &values(&h, &ys, &fwd, &point), 1e-13, "forward");
}

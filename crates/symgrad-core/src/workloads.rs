//! The benchmark workloads of `docs/WORKLOADS.md`, built with the [`Graph`]
//! builder so that benchmarks, examples and tests measure the same graphs.
//!
//! Each function returns a [`Workload`]: the graph, its one output, its input
//! variables in order, and the point the workload is evaluated at. Nothing here
//! parses text, so the figures measure the engine alone.

use crate::graph::{Func, Graph, NodeId, Op};

/// A function graph to differentiate: `output` as a function of `inputs`.
#[derive(Clone, Debug)]
pub struct Workload {
    /// The graph holding the function (and, after differentiation, its derivatives).
    pub graph: Graph,
    /// The node computing the function's value.
    pub output: NodeId,
    /// The input variables, in the order `point` gives their values.
    pub inputs: Vec<NodeId>,
    /// The point the workload is evaluated at, one value per input.
    pub point: Vec<f64>,
}

/// W1 seed: `f(x, y) = x^2*y + y + 2` at `(3, 4)` (value 42, gradient (24, 10)).
pub fn seed() -> Workload {
    let mut g = Graph::new();
    let x = g.var("x");
    let y = g.var("y");
    let x2 = g.powi(x, 2);
    let x2y = g.mul(x2, y);
    let s = g.add(x2y, y);
    let two = g.int(2);
    let output = g.add(s, two);
    Workload {
        graph: g,
        output,
        inputs: vec![x, y],
        point: vec![3.0, 4.0],
    }
}

/// W2 rosenbrock(n): `Σ_{i=0}^{n-2} 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2`,
/// at `x[i] = -1.2` for even `i` and `1.0` for odd `i`. For `n < 2` the sum is
/// empty and the output is the constant 0.
pub fn rosenbrock(n: usize) -> Workload {
    let mut g = Graph::new();
    let inputs: Vec<NodeId> = (0..n).map(|i| g.var(&format!("x{i}"))).collect();
    let hundred = g.int(100);
    let one = g.int(1);
    let mut sum: Option<NodeId> = None;
    for w in inputs.windows(2) {
        let (xi, xj) = (w[0], w[1]);
        let xi2 = g.powi(xi, 2);
        let d = g.sub(xj, xi2);
        let d2 = g.powi(d, 2);
        let a = g.mul(hundred, d2);
        let e = g.sub(one, xi);
        let e2 = g.powi(e, 2);
        let term = g.add(a, e2);
        sum = Some(match sum {
            None => term,
            Some(s) => g.add(s, term),
        });
    }
    let output = sum.unwrap_or_else(|| g.int(0));
    let point = (0..n)
        .map(|i| if i % 2 == 0 { -1.2 } else { 1.0 })
        .collect();
    Workload {
        graph: g,
        output,
        inputs,
        point,
    }
}

/// W4 product network(d): `h(0,1) = h(0,2) = w`, `h(i,j) = h(i-1,1) * h(i-1,2)`,
/// output `h(d,1)`, at `w = 1.0001`.
///
/// Hash-consing makes both units of a layer one node `h*h` with two edges to
/// the layer below, which is the same function and keeps the `2^d` paths from
/// `w` to the output: `do/dw = 2^d * w^(2^d - 1)`.
pub fn product_network(d: usize) -> Workload {
    let mut g = Graph::new();
    let w = g.var("w");
    let mut h = w;
    for _ in 0..d {
        h = g.mul(h, h);
    }
    Workload {
        graph: g,
        output: h,
        inputs: vec![w],
        point: vec![1.0001],
    }
}

/// W5 nested sin: `sin(sin(...sin(x)...))` with `m` sines, at `x = 0.5`.
pub fn nested_sin(m: usize) -> Workload {
    let mut g = Graph::new();
    let x = g.var("x");
    let mut v = x;
    for _ in 0..m {
        v = g.func(Func::Sin, v);
    }
    Workload {
        graph: g,
        output: v,
        inputs: vec![x],
        point: vec![0.5],
    }
}

/// W6 swell: `Π_{i=1}^{n} sigmoid(x_i * x_{(i mod n)+1} + 1)`, a left-to-right
/// chain of products, at `x_i = 0.5`.
///
/// # Panics
/// When `n` is zero.
pub fn cyclic_sigmoid_product(n: usize) -> Workload {
    assert!(n > 0, "the cyclic product needs at least one variable");
    let mut g = Graph::new();
    let inputs: Vec<NodeId> = (1..=n).map(|i| g.var(&format!("x{i}"))).collect();
    let one = g.int(1);
    let mut product: Option<NodeId> = None;
    for i in 0..n {
        let xy = g.mul(inputs[i], inputs[(i + 1) % n]);
        let arg = g.add(xy, one);
        let s = g.func(Func::Sigmoid, arg);
        product = Some(match product {
            None => s,
            Some(p) => g.mul(p, s),
        });
    }
    Workload {
        graph: g,
        output: product.expect("n > 0"),
        inputs,
        point: vec![0.5; n],
    }
}

/// The number of input variables of [`random_dag`].
pub const RANDOM_DAG_INPUTS: usize = 8;

/// W7 scale: a deterministic random DAG of exactly `max(n_nodes, 8)` nodes over
/// 8 inputs `x0..x7`, using `+ - * / sin exp ln tanh sigmoid`, evaluated at all
/// inputs `0.5`. The output is the last node.
///
/// The same `(n_nodes, seed)` always gives the same graph (the generator is
/// splitmix64, with no dependency). Operands are mostly among the 16 newest
/// nodes, which makes the DAG deep, and sometimes among the 1024 newest or the
/// inputs, which makes it wide. From 15 nodes on, every node except the output
/// is used by a later node (the oldest unused node is taken as an operand once
/// 64 are waiting, and the last steps join the rest), so the output depends on
/// all of them and differentiating it visits the whole graph.
///
/// Values are tracked at the point while building, and each operation is
/// chosen so that its value there stays finite and moderate: `ln` only of
/// values above 0.05, `exp` of values below 4, `/` only by values of magnitude
/// above 0.5, and any result beyond ±100 replaced by a `tanh`. Tracking uses
/// the interpreter's arithmetic, so evaluating the output at the point gives
/// the same finite number.
pub fn random_dag(n_nodes: usize, seed: u64) -> Workload {
    const RECENT: usize = 16;
    const WIDE: usize = 1024;
    // Past this many unused nodes, the oldest one becomes the next operand.
    const MAX_UNUSED: usize = 64;
    const BOUND: f64 = 100.0;

    let mut rng = SplitMix64(seed);
    let mut g = Graph::new();
    let inputs: Vec<NodeId> = (0..RANDOM_DAG_INPUTS)
        .map(|i| g.var(&format!("x{i}")))
        .collect();
    let total = n_nodes.max(RANDOM_DAG_INPUTS);
    let mut value = vec![0.5; RANDOM_DAG_INPUTS];
    value.reserve(total - RANDOM_DAG_INPUTS);
    let mut used = vec![false; total];
    // Nodes not yet used as an operand, oldest first (entries that have been
    // used since are skipped lazily).
    let mut unused: std::collections::VecDeque<NodeId> = inputs.iter().copied().collect();
    let mut n_unused = RANDOM_DAG_INPUTS;

    while g.len() < total {
        let len = g.len();
        let remaining = total - len;
        // Every step changes `n_unused - remaining` by 0, 1 or 2, and it must
        // end at 1 (only the output unused). So once it reaches 0, the next
        // step consumes exactly one unused node (`tanh` of it), and from 1 on,
        // every step consumes two unused nodes and leaves itself.
        let draining = n_unused > remaining;
        let consume_one = n_unused == remaining;
        let pick = |rng: &mut SplitMix64| -> NodeId {
            let r = rng.next_u64();
            let span = match r % 16 {
                0 => return inputs[(r >> 8) as usize % RANDOM_DAG_INPUTS],
                1..=3 => WIDE,
                _ => RECENT,
            };
            NodeId::from_index(len - 1 - (r >> 8) as usize % span.min(len))
        };
        let mut oldest_unused = |used: &[bool]| -> NodeId {
            while let Some(&v) = unused.front() {
                if used[v.index()] {
                    unused.pop_front();
                } else {
                    return v;
                }
            }
            unreachable!("the count of unused nodes is positive")
        };
        let a = if draining || consume_one || n_unused > MAX_UNUSED {
            oldest_unused(&used)
        } else {
            pick(&mut rng)
        };
        let (v, x) = if consume_one {
            // No node uses `a` yet, so `tanh(a)` is new.
            (g.func(Func::Tanh, a), Func::Tanh.eval(value[a.index()]))
        } else if draining {
            // Two unused nodes: take the oldest two. `a + b` of two unused
            // nodes cannot exist yet, so this always adds a node.
            used[a.index()] = true;
            let b = oldest_unused(&used);
            used[a.index()] = false;
            let x = value[a.index()] + value[b.index()];
            if x.abs() <= BOUND {
                (g.add(a, b), x)
            } else {
                (g.sub(a, b), value[a.index()] - value[b.index()])
            }
        } else {
            let b = pick(&mut rng);
            let (va, vb) = (value[a.index()], value[b.index()]);
            // Choose by the value first: building a node is not undone.
            let candidate = match rng.next_u64() % 9 {
                0 => Some((Op::Add, va + vb)),
                1 => Some((Op::Sub, va - vb)),
                2 => Some((Op::Mul, va * vb)),
                3 if vb.abs() > 0.5 => Some((Op::Div, va / vb)),
                4 => Some((Op::Func(Func::Sin), Func::Sin.eval(va))),
                5 if va < 4.0 => Some((Op::Func(Func::Exp), Func::Exp.eval(va))),
                6 if va > 0.05 => Some((Op::Func(Func::Ln), Func::Ln.eval(va))),
                7 => Some((Op::Func(Func::Tanh), Func::Tanh.eval(va))),
                8 => Some((Op::Func(Func::Sigmoid), Func::Sigmoid.eval(va))),
                _ => None,
            };
            let (op, x) = match candidate {
                Some((op, x)) if x.is_finite() && x.abs() <= BOUND => (op, x),
                // Out of range or not allowed: squash the first operand instead.
                _ => (Op::Func(Func::Tanh), Func::Tanh.eval(va)),
            };
            let v = match op {
                Op::Func(_) => g.apply(op, &[a]),
                _ => g.apply(op, &[a, b]),
            };
            (v, x)
        };
        if g.len() == len {
            // Hash-consing found an existing node; draw again.
            continue;
        }
        debug_assert_eq!(v.index(), len, "one node added per step");
        value.push(x);
        for &arg in g.args(v) {
            if !used[arg.index()] {
                used[arg.index()] = true;
                n_unused -= 1;
            }
        }
        unused.push_back(v);
        n_unused += 1;
    }
    Workload {
        output: NodeId::from_index(g.len() - 1),
        graph: g,
        inputs,
        point: vec![0.5; RANDOM_DAG_INPUTS],
    }
}

/// The splitmix64 generator (kept in `symgrad-runtime`, which generated
/// code shares).
pub use symgrad_runtime::random::SplitMix64;

/// The size of the expression tree each node would expand to (every shared
/// node copied at each use): `tree_size(v) = 1 + Σ tree_size(args)`, by one
/// pass in topological order, saturating at `u64::MAX`. No tree is built.
pub fn tree_sizes(g: &Graph) -> Vec<u64> {
    let mut size = vec![0u64; g.len()];
    for id in g.ids() {
        size[id.index()] = g
            .args(id)
            .iter()
            .fold(1u64, |acc, a| acc.saturating_add(size[a.index()]));
    }
    size
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::{self, paths, Mode, Options};
    use crate::eval::Program;

    fn value_and_gradient(w: &mut Workload, mode: Mode) -> Vec<f64> {
        let (grad, _) =
            diff::gradient(&mut w.graph, w.output, &w.inputs, mode, Options::default()).unwrap();
        let mut outputs = vec![w.output];
        outputs.extend(grad);
        Program::compile(&w.graph, &w.inputs, &outputs)
            .unwrap()
            .run(&w.point)
    }

    fn assert_close(actual: &[f64], expected: &[f64]) {
        assert_eq!(actual.len(), expected.len());
        for (a, e) in actual.iter().zip(expected) {
            assert!((a - e).abs() <= 1e-12 * e.abs().max(1.0), "{a} != {e}");
        }
    }

    #[test]
    fn seed_value_and_gradient() {
        // f = x²y + y + 2 = 42; ∂f/∂x = 2xy = 24, ∂f/∂y = x² + 1 = 10 at (3, 4)
        assert_close(
            &value_and_gradient(&mut seed(), Mode::Reverse),
            &[42.0, 24.0, 10.0],
        );
    }

    #[test]
    fn rosenbrock_2_value_and_gradient() {
        // f = 100(y - x²)² + (1 - x)² = 100·0.44² + 2.2² = 24.2 at (-1.2, 1)
        // ∂f/∂x = -400x(y - x²) - 2(1 - x) = -211.2 - 4.4 = -215.6
        // ∂f/∂y = 200(y - x²) = -88
        for mode in Mode::EXACT {
            assert_close(
                &value_and_gradient(&mut rosenbrock(2), mode),
                &[24.2, -215.6, -88.0],
            );
        }
    }

    #[test]
    fn rosenbrock_sizes() {
        let w = rosenbrock(10);
        assert_eq!(w.inputs.len(), 10);
        assert_eq!(w.point[..3], [-1.2, 1.0, -1.2]);
        assert_eq!(w.graph.reachable(&[w.output]).len(), w.graph.len());
    }

    #[test]
    fn product_network_5_has_32_paths() {
        let mut w = product_network(5);
        assert_eq!(paths::count_paths(&w.graph, w.output, &w.inputs), [32]);
        // One node a layer: w and five products.
        assert_eq!(w.graph.len(), 6);
        // do/dw = 32 w^31
        let v = value_and_gradient(&mut w, Mode::Paths);
        let expected = 32.0 * 1.0001f64.powi(31);
        assert!((v[1] - expected).abs() < 1e-12 * expected, "{}", v[1]);
    }

    #[test]
    fn nested_sin_value() {
        let w = nested_sin(7);
        let v = Program::compile(&w.graph, &w.inputs, &[w.output])
            .unwrap()
            .run(&w.point)[0];
        let expected = (0..7).fold(0.5f64, |x, _| x.sin());
        assert_eq!(v, expected);
    }

    #[test]
    fn cyclic_product_value_and_size() {
        let mut w = cyclic_sigmoid_product(3);
        // Three variables, x_i*x_j, one constant, +1, sigmoid per factor, two products.
        assert_eq!(w.graph.len(), 3 + 3 + 1 + 3 + 3 + 2);
        let s = Func::Sigmoid.eval(1.25);
        let v = value_and_gradient(&mut w, Mode::Reverse);
        // f = s³; ∂f/∂x_i = s²·s(1-s)·(x_{i-1} + x_{i+1}) = s³(1-s)
        assert_close(
            &v,
            &[
                s * s * s,
                s.powi(3) * (1.0 - s),
                s.powi(3) * (1.0 - s),
                s.powi(3) * (1.0 - s),
            ],
        );
    }

    #[test]
    fn random_dag_is_exact_deterministic_connected_and_finite() {
        let w = random_dag(10_000, 1);
        assert_eq!(w.graph.len(), 10_000);
        assert_eq!(w.inputs.len(), RANDOM_DAG_INPUTS);
        // The output depends on every node.
        assert_eq!(w.graph.reachable(&[w.output]).len(), 10_000);
        let again = random_dag(10_000, 1);
        assert!(w
            .graph
            .ids()
            .all(|id| w.graph.node(id) == again.graph.node(id)));
        let other = random_dag(10_000, 2);
        assert!(w
            .graph
            .ids()
            .any(|id| w.graph.node(id) != other.graph.node(id)));
        let all = w.graph.reachable(&[w.output]);
        let values = Program::compile(&w.graph, &w.inputs, &all)
            .unwrap()
            .run(&w.point);
        assert!(values.iter().all(|v| v.is_finite()));
        for f in [Func::Sin, Func::Exp, Func::Ln, Func::Tanh, Func::Sigmoid] {
            let op = Op::Func(f);
            assert!(w.graph.ids().any(|id| w.graph.op(id) == op), "{f}");
        }
    }

    #[test]
    fn random_dag_small_sizes_are_exact() {
        for n in [0, 1, 8, 9, 14] {
            assert_eq!(
                random_dag(n, 7).graph.len(),
                n.max(RANDOM_DAG_INPUTS),
                "{n}"
            );
        }
        for n in [15, 16, 17, 50, 100, 1000, 4321] {
            for seed in 0..4 {
                let w = random_dag(n, seed);
                assert_eq!(w.graph.len(), n, "{n}");
                assert_eq!(w.graph.reachable(&[w.output]).len(), n, "{n} {seed}");
            }
        }
    }

    #[test]
    fn tree_sizes_count_shared_nodes_at_each_use() {
        // w*w: 3 tree nodes; (w*w)*(w*w): 7.
        let w = product_network(2);
        assert_eq!(tree_sizes(&w.graph), [1, 3, 7]);
    }
}

//! Reverse mode (backpropagation): one backward pass over the graph gives the
//! derivative of one output with respect to every input.
//!
//! Adjoints are graph nodes: `v̄ = ∂output/∂v`, shaped like `v`. Starting from
//! `ōutput = 1`, nodes are visited in reverse topological order and each
//! operand receives its contribution from the rule table's vector-Jacobian
//! product ([`vjp`]): `ā_i += v̄ · ∂v/∂a_i` for scalars, the same summed over
//! broadcast axes for elementwise tensor operations, and the operation's own
//! rule for tensor operations (`Ā += C̄ @ Bᵀ` for `C = A @ B`). The result
//! is a gradient graph whose size is a small constant times the function's.
//!
//! A tensor output is differentiated as the sum of its entries (its seed is
//! 1 broadcast to its shape).

use super::rules::{vjp_factored, Factors};
use super::Stats;
use crate::graph::{Graph, NodeId, Op};
use smallvec::smallvec;

/// The adjoint of every node that `output` depends on, after one backward pass.
pub struct Adjoints {
    /// `adjoint[v]` is `∂output/∂v` as a node, or `None` where no path leads
    /// from `v` to the output (the derivative is zero).
    pub adjoint: Vec<Option<NodeId>>,
    /// The work done.
    pub stats: Stats,
}

/// Runs one backward pass from `output`, returning the adjoint of every node.
pub fn adjoints(g: &mut Graph, output: NodeId) -> Adjoints {
    let order = g.reachable(&[output]);
    // Nodes from here on are this pass's own (see `adjoint_factors`).
    let fresh = g.len();
    // Each node's adjoint, local derivatives and products add about three
    // nodes (measured: 3.4 on random DAGs); growing the tables once is cheaper.
    g.reserve(3 * order.len());
    let mut adjoint: Vec<Option<NodeId>> = vec![None; g.len()];
    let one = g.int(1);
    let seed = if g.is_scalar(output) {
        one
    } else {
        let shape = g.shape(output).clone();
        g.broadcast_to(one, &shape)
    };
    adjoint[output.index()] = Some(seed);
    let mut stats = Stats {
        passes: 1,
        ..Stats::default()
    };
    for &v in order.iter().rev() {
        let Some(v_bar) = adjoint[v.index()] else {
            continue;
        };
        stats.nodes_visited += 1;
        if g.args(v).is_empty() {
            continue;
        }
        let factors = adjoint_factors(g, v, v_bar, fresh);
        for (slot, contribution) in vjp_factored(g, v, &factors) {
            let a = g.args(v)[slot];
            adjoint[a.index()] = Some(match adjoint[a.index()] {
                None => contribution,
                Some(sum) => g.add(sum, contribution),
            });
        }
    }
    Adjoints { adjoint, stats }
}

/// How `v_bar`, the adjoint of `v`, enters `v`'s contributions: as its own
/// factors when it is a scalar product this pass built and `v` has one
/// operand. Such an adjoint was the one contribution `v` received, and `v`'s
/// one contribution is its only reader, so multiplying its factors into that
/// contribution costs no extra product and leaves it unread: the gradient of
/// `f(g(x))·h` is `h·f'(g)·g'`, one node, rather than `(h·f'(g))·g'`. The
/// adjoint keeps at most two factors, so products stay small (at most four
/// factors) and a chain of functions does not grow them without bound.
fn adjoint_factors(g: &Graph, v: NodeId, v_bar: NodeId, fresh: usize) -> Factors {
    let flat = g.args(v).len() == 1
        && v_bar.index() >= fresh
        && g.op(v_bar) == Op::Mul
        && g.args(v_bar).len() <= 2
        && g.is_scalar(v_bar);
    if flat {
        Factors::from_slice(g.args(v_bar))
    } else {
        smallvec![v_bar]
    }
}

/// `∂output/∂x` for each `x` in `wrt`, by one backward pass.
pub fn gradient(g: &mut Graph, output: NodeId, wrt: &[NodeId]) -> (Vec<NodeId>, Stats) {
    let Adjoints { adjoint, stats } = adjoints(g, output);
    let partials = wrt
        .iter()
        .map(|x| {
            adjoint
                .get(x.index())
                .copied()
                .flatten()
                .unwrap_or_else(|| {
                    // Zero of x's shape (the scalar 0 for a scalar).
                    let zero = g.int(0);
                    if x.index() >= g.len() || g.is_scalar(*x) {
                        return zero;
                    }
                    let shape = g.shape(*x).clone();
                    g.broadcast_to(zero, &shape)
                })
        })
        .collect();
    (partials, stats)
}

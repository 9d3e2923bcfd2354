//! Forward mode (tangents): one pass over the graph per input.
//!
//! Seeding `ẋ = 1` for one input `x` and visiting nodes in topological order,
//! each node's tangent comes from the rule table's Jacobian-vector product
//! ([`jvp`]): `v̇ = Σ_i ∂v/∂a_i · ȧ_i` for scalars and elementwise operations,
//! the operation's own rule for tensor operations (`Ċ = Ȧ @ B + A @ Ḃ`).
//! One pass gives the derivative of every output with respect to that one
//! input.
//!
//! For a tensor input, the seed `ẋ = 1` is the direction of all ones (1
//! broadcast to `x`'s shape), so [`jacobian`] gives the derivative along
//! that direction; [`directional`] takes any direction as a node (for
//! example a tensor variable whose value is the direction).

use super::rules::{jvp, Partials};
use super::Stats;
use crate::graph::{Graph, NodeId};

/// `∂outputs[o]/∂wrt[i]` as `result[o][i]`, by one forward pass per input.
pub fn jacobian(g: &mut Graph, outputs: &[NodeId], wrt: &[NodeId]) -> (Vec<Vec<NodeId>>, Stats) {
    let order = g.reachable(outputs);
    let n = g.len();
    // Local derivatives are built once and shared by every pass.
    let mut partials: Vec<Option<Partials>> = vec![None; n];
    let mut stats = Stats::default();
    let zero = g.int(0);
    let mut result = vec![vec![zero; wrt.len()]; outputs.len()];
    let mut tangent: Vec<Option<NodeId>> = vec![None; n];
    for (i, &x) in wrt.iter().enumerate() {
        stats.passes += 1;
        tangent.iter_mut().for_each(|t| *t = None);
        if x.index() < n {
            let one = g.int(1);
            let seed = if g.is_scalar(x) {
                one
            } else {
                let shape = g.shape(x).clone();
                g.broadcast_to(one, &shape)
            };
            tangent[x.index()] = Some(seed);
        }
        sweep(g, &order, &mut tangent, &mut partials, &mut stats);
        for (o, &out) in outputs.iter().enumerate() {
            if let Some(t) = tangent[out.index()] {
                result[o][i] = t;
            }
        }
    }
    (result, stats)
}

/// One forward pass over `order`: each node's tangent from its operands'.
fn sweep(
    g: &mut Graph,
    order: &[NodeId],
    tangent: &mut [Option<NodeId>],
    partials: &mut [Option<Partials>],
    stats: &mut Stats,
) {
    let mut operand_tangents: Vec<Option<NodeId>> = Vec::new();
    for &v in order {
        let args = g.args(v);
        if args.is_empty() || args.iter().all(|a| tangent[a.index()].is_none()) {
            continue;
        }
        stats.nodes_visited += 1;
        operand_tangents.clear();
        operand_tangents.extend(args.iter().map(|a| tangent[a.index()]));
        tangent[v.index()] = jvp(g, v, &operand_tangents, &mut partials[v.index()]);
    }
}

/// The derivative of each of `outputs` along a direction: each `(x, ẋ)` in
/// `seeds` gives input `x` the tangent `ẋ` (a node of `x`'s shape, or a
/// scalar, which is broadcast). One forward pass; `None` where an output does
/// not depend on the seeded inputs (the derivative is zero).
pub fn directional(
    g: &mut Graph,
    outputs: &[NodeId],
    seeds: &[(NodeId, NodeId)],
) -> (Vec<Option<NodeId>>, Stats) {
    let order = g.reachable(outputs);
    let n = g.len();
    let mut tangent: Vec<Option<NodeId>> = vec![None; n];
    let mut partials: Vec<Option<Partials>> = vec![None; n];
    for &(x, dx) in seeds {
        let dx = if g.shape_id(dx) == g.shape_id(x) {
            dx
        } else {
            let shape = g.shape(x).clone();
            g.broadcast_to(dx, &shape)
        };
        if x.index() < n {
            tangent[x.index()] = Some(dx);
        }
    }
    let mut stats = Stats {
        passes: 1,
        ..Stats::default()
    };
    sweep(g, &order, &mut tangent, &mut partials, &mut stats);
    let result = outputs.iter().map(|o| tangent[o.index()]).collect();
    (result, stats)
}

/// `∂output/∂x` for each `x` in `wrt`, by one forward pass per input.
pub fn gradient(g: &mut Graph, output: NodeId, wrt: &[NodeId]) -> (Vec<NodeId>, Stats) {
    let (mut rows, stats) = jacobian(g, &[output], wrt);
    (rows.pop().unwrap_or_default(), stats)
}

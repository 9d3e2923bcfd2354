//! Forward mode (tangents): one pass over the graph per input.
//!
//! Seeding `ẋ = 1` for one input `x` and visiting nodes in topological order,
//! each node's tangent is `v̇ = Σ_i ∂v/∂a_i · ȧ_i` from the rule table. One pass
//! gives the derivative of every output with respect to that one input.

use super::rules::{local_derivatives, Partials};
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
            tangent[x.index()] = Some(g.int(1));
        }
        for &v in &order {
            let args = g.args(v);
            if args.is_empty() || args.iter().all(|a| tangent[a.index()].is_none()) {
                continue;
            }
            stats.nodes_visited += 1;
            let local = match &partials[v.index()] {
                Some(p) => p.clone(),
                None => {
                    let p = local_derivatives(g, v);
                    partials[v.index()] = Some(p.clone());
                    p
                }
            };
            let mut sum: Option<NodeId> = None;
            for (slot, &d) in local.iter().enumerate() {
                let a = g.args(v)[slot];
                let Some(a_dot) = tangent[a.index()] else {
                    continue;
                };
                let term = g.mul(d, a_dot);
                if g.is_int(term, 0) {
                    continue;
                }
                sum = Some(match sum {
                    None => term,
                    Some(s) => g.add(s, term),
                });
            }
            tangent[v.index()] = sum;
        }
        for (o, &out) in outputs.iter().enumerate() {
            if let Some(t) = tangent[out.index()] {
                result[o][i] = t;
            }
        }
    }
    (result, stats)
}

/// `∂output/∂x` for each `x` in `wrt`, by one forward pass per input.
pub fn gradient(g: &mut Graph, output: NodeId, wrt: &[NodeId]) -> (Vec<NodeId>, Stats) {
    let (mut rows, stats) = jacobian(g, &[output], wrt);
    (rows.pop().unwrap_or_default(), stats)
}

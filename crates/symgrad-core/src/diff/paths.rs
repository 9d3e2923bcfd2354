//! Path enumeration: the derivative as a sum over every path from an input to
//! the output of the product of the local derivatives on its edges,
//! `∂o/∂x = Σ_{paths x→o} Π_{edges (a→v)} ∂v/∂a`.
//!
//! This is the exponential baseline that shows why forward and reverse mode
//! matter: the product network of depth d has 2^d paths. It works on the graph
//! as the input built it, with one edge per operand slot, so `h*h` contributes
//! two paths through `h`. Paths are counted first, in linear time, and
//! enumeration is refused past a limit.

use super::rules::{local_derivatives, Partials};
use super::Stats;
use crate::error::{Error, ErrorKind, Result};
use crate::graph::{Graph, NodeId};

/// The default path limit: 2^20.
pub const DEFAULT_MAX_PATHS: u128 = 1 << 20;

/// The number of paths from each of `wrt` to `output`, by one dynamic-programming
/// pass over the graph (saturating at `u128::MAX`).
pub fn count_paths(g: &Graph, output: NodeId, wrt: &[NodeId]) -> Vec<u128> {
    // paths_to_output[v]: the number of paths from v to the output, counted
    // from the output down, since users come after operands.
    let order = g.reachable(&[output]);
    let mut to_output = vec![0u128; g.len()];
    to_output[output.index()] = 1;
    for &v in order.iter().rev() {
        let n = to_output[v.index()];
        if n == 0 {
            continue;
        }
        for &a in g.args(v) {
            to_output[a.index()] = to_output[a.index()].saturating_add(n);
        }
    }
    wrt.iter()
        .map(|x| to_output.get(x.index()).copied().unwrap_or(0))
        .collect()
}

/// `∂output/∂x` for each `x` in `wrt`, as the sum over paths of products of edge
/// derivatives. Refused with [`ErrorKind::PathLimit`] when there are more than
/// `max_paths` paths in all.
pub fn gradient(
    g: &mut Graph,
    output: NodeId,
    wrt: &[NodeId],
    max_paths: u128,
) -> Result<(Vec<NodeId>, Stats)> {
    if let Some(v) = g
        .reachable(&[output])
        .into_iter()
        .find(|&v| !g.is_scalar(v) || g.op(v).is_tensor())
    {
        return Err(Error::new(
            ErrorKind::Shape,
            format!(
                "path enumeration needs scalar nodes, and this graph has a tensor of shape {} \
                 ('{}'); expand the tensors into scalar neurons first \
                 (graph::scalarize, as `symgrad net grad --mode paths` does), \
                 or use --mode reverse or forward",
                g.shape(v),
                g.op(v).label()
            ),
        ));
    }
    let counts = count_paths(g, output, wrt);
    let total = counts.iter().fold(0u128, |acc, &c| acc.saturating_add(c));
    if total > max_paths {
        let shown = if total == u128::MAX {
            "more than 2^128".to_string()
        } else {
            total.to_string()
        };
        return Err(Error::new(
            ErrorKind::PathLimit,
            format!(
                "path enumeration would visit {shown} paths, more than the limit of {max_paths}; \
                 raise it with --max-paths, or use --mode reverse or forward, which are linear"
            ),
        ));
    }
    let order = g.reachable(&[output]);
    let n = g.len();
    // users[a] lists (user, slot) for every edge a -> user on a path to the output.
    let mut users: Vec<Vec<(NodeId, usize)>> = vec![Vec::new(); n];
    for &v in &order {
        for (slot, &a) in g.args(v).iter().enumerate() {
            users[a.index()].push((v, slot));
        }
    }
    let mut partials: Vec<Option<Partials>> = vec![None; n];
    let mut stats = Stats {
        passes: wrt.len(),
        ..Stats::default()
    };
    let mut result = Vec::with_capacity(wrt.len());
    for &x in wrt {
        let mut sum: Option<NodeId> = None;
        // Depth-first over edges, with an explicit stack: (node, next user to
        // try, product of the edge labels from x to node).
        let one = g.int(1);
        let mut stack: Vec<(NodeId, usize, NodeId)> = Vec::new();
        if x.index() < n {
            stack.push((x, 0, one));
        }
        while let Some(top) = stack.last_mut() {
            let (v, next, prefix) = *top;
            if v == output {
                stats.paths += 1;
                sum = Some(match sum {
                    None => prefix,
                    Some(s) => g.add(s, prefix),
                });
                stack.pop();
                continue;
            }
            let Some(&(user, slot)) = users[v.index()].get(next) else {
                stack.pop();
                continue;
            };
            top.1 += 1;
            stats.nodes_visited += 1;
            let label = match &partials[user.index()] {
                Some(p) => p[slot],
                None => {
                    let p = local_derivatives(g, user)?;
                    let label = p[slot];
                    partials[user.index()] = Some(p);
                    label
                }
            };
            let product = g.mul(prefix, label);
            stack.push((user, 0, product));
        }
        result.push(sum.unwrap_or_else(|| g.int(0)));
    }
    Ok((result, stats))
}

//! Differentiation on the graph, in three exact modes that must agree, plus
//! central finite differences as the approximate baseline.
//!
//! - [`reverse`]: backpropagation, one pass for all inputs;
//! - [`forward`]: tangents, one pass per input;
//! - [`paths`]: the sum over paths of products of edge derivatives (exponential);
//! - [`numeric`]: central finite differences, evaluated only at a point.
//!
//! All three exact modes read their local derivatives from [`rules`], and all
//! of them append derivative nodes to the function's own graph, so that
//! derivatives share the function's nodes and can be differentiated again.

pub mod forward;
pub mod numeric;
pub mod paths;
pub mod reverse;
pub mod rules;

use crate::error::Result;
use crate::graph::{Graph, NodeId};
use std::fmt;
use std::str::FromStr;

/// A way of computing derivatives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Reverse mode (backpropagation, adjoints).
    Reverse,
    /// Forward mode (tangents).
    Forward,
    /// Path enumeration.
    Paths,
    /// Central finite differences (numeric only, needs a point).
    Numeric,
}

impl Mode {
    /// The three exact modes, in the order they are shown side by side.
    pub const EXACT: [Mode; 3] = [Mode::Reverse, Mode::Forward, Mode::Paths];

    /// The name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Reverse => "reverse",
            Mode::Forward => "forward",
            Mode::Paths => "paths",
            Mode::Numeric => "numeric",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Mode, String> {
        Ok(match s {
            "reverse" => Mode::Reverse,
            "forward" => Mode::Forward,
            "paths" => Mode::Paths,
            "numeric" => Mode::Numeric,
            _ => {
                return Err(format!(
                    "unknown mode '{s}': expected reverse, forward, paths or numeric"
                ))
            }
        })
    }
}

/// The work a differentiation did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Passes over the graph (1 for reverse mode, one per input for forward mode).
    pub passes: usize,
    /// Nodes (or, for path enumeration, edges) visited.
    pub nodes_visited: usize,
    /// Paths enumerated (path enumeration only).
    pub paths: u128,
    /// Evaluations of the function (finite differences only).
    pub evaluations: usize,
}

/// Options for symbolic differentiation.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// The most paths path enumeration may visit before it refuses.
    pub max_paths: u128,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            max_paths: paths::DEFAULT_MAX_PATHS,
        }
    }
}

/// `∂output/∂x` for each `x` in `wrt`, as nodes appended to `g`, by an exact
/// mode. [`Mode::Numeric`] has no symbolic result and is computed like
/// reverse mode here; use [`numeric::gradient`] for finite differences.
pub fn gradient(
    g: &mut Graph,
    output: NodeId,
    wrt: &[NodeId],
    mode: Mode,
    options: Options,
) -> Result<(Vec<NodeId>, Stats)> {
    Ok(match mode {
        Mode::Reverse | Mode::Numeric => reverse::gradient(g, output, wrt),
        Mode::Forward => forward::gradient(g, output, wrt),
        Mode::Paths => paths::gradient(g, output, wrt, options.max_paths)?,
    })
}

/// The Hessian `∂²output/∂wrt[i]∂wrt[j]` as `result[i][j]`: forward mode over
/// the gradient graph that `mode` builds (forward over reverse by default).
pub fn hessian(
    g: &mut Graph,
    output: NodeId,
    wrt: &[NodeId],
    mode: Mode,
    options: Options,
) -> Result<(Vec<NodeId>, Vec<Vec<NodeId>>, Stats)> {
    let (grad, mut stats) = gradient(g, output, wrt, mode, options)?;
    let (rows, second) = match mode {
        Mode::Paths => {
            let mut rows = Vec::with_capacity(grad.len());
            for &d in &grad {
                let (row, s) = paths::gradient(g, d, wrt, options.max_paths)?;
                add_stats(&mut stats, s);
                rows.push(row);
            }
            (rows, Stats::default())
        }
        _ => forward::jacobian(g, &grad, wrt),
    };
    add_stats(&mut stats, second);
    Ok((grad, rows, stats))
}

/// The `k`-th derivative of `output` in the one variable `x`, by differentiating
/// `k` times with `mode`.
pub fn nth_derivative(
    g: &mut Graph,
    output: NodeId,
    x: NodeId,
    k: usize,
    mode: Mode,
    options: Options,
) -> Result<(NodeId, Stats)> {
    let mut d = output;
    let mut stats = Stats::default();
    for _ in 0..k {
        let (next, s) = gradient(g, d, &[x], mode, options)?;
        add_stats(&mut stats, s);
        d = next[0];
    }
    Ok((d, stats))
}

fn add_stats(total: &mut Stats, more: Stats) {
    total.passes += more.passes;
    total.nodes_visited += more.nodes_visited;
    total.paths = total.paths.saturating_add(more.paths);
    total.evaluations += more.evaluations;
}

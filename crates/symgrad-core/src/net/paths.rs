//! Path enumeration over a network (issue 4, part 7): the per-sample loss is
//! expanded into scalar neurons ([`scalarize`]), and the gradient with
//! respect to every parameter entry is the sum over paths of the products of
//! the local derivatives on their edges ([`crate::diff::paths`]), refused past
//! the path limit like any other graph. The symbolic gradient is built once,
//! compiled to the scalar interpreter, and run per sample; the mean over the
//! batch is formed as in [`super::batch`]. Dropout masks are drawn as the
//! other evaluators draw them ([`super::dropout`]); `batchnorm` is refused,
//! as by [`super::batch::PerSample`].

use super::batch::{initial_params, refuse_batchnorm, LossAndGradient};
use super::dropout::Masks;
use super::{Network, Role};
use crate::diff::paths::{count_paths, gradient};
use crate::error::{Error, ErrorKind, Result};
use crate::eval::{Program, Tensor};
use crate::graph::scalarize::scalarize;
use crate::graph::NodeId;

/// A network's per-sample loss and its gradient by path enumeration, compiled once.
pub struct PathEvaluator {
    program: Program,
    /// Each parameter's name and initial value, in declaration order.
    params: Vec<(String, Tensor)>,
    /// How many input and target tensors a sample has, and their entries.
    n_data: usize,
    n_data_entries: usize,
    /// The number of paths from each parameter's entries to the loss.
    pub paths: Vec<(String, u128)>,
    /// The number of nodes of the scalar graph before differentiation.
    pub scalar_nodes: usize,
    masks: Masks,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidValue, message)
}

impl PathEvaluator {
    /// Expands `net` into scalars (at most about `max_scalars` nodes) and
    /// differentiates its loss by path enumeration (at most `max_paths` paths).
    ///
    /// # Errors
    /// [`ErrorKind::TooLarge`] past the size limit, [`ErrorKind::PathLimit`]
    /// past the path limit (both messages name the count and the limit), and
    /// a spanned [`ErrorKind::Shape`] error for `batchnorm`.
    pub fn new(net: &Network, max_scalars: usize, max_paths: u128) -> Result<PathEvaluator> {
        refuse_batchnorm(net)?;
        let mut s = scalarize(&net.graph, &[net.loss], max_scalars)?;
        let scalar_nodes = s.graph.len();
        let Some(&loss) = s.entries(net.loss).first() else {
            return Err(invalid("the loss has no scalar value"));
        };
        let data: Vec<_> = net
            .with_role(Role::Input)
            .chain(net.with_role(Role::Target))
            .collect();
        let params: Vec<_> = net.with_role(Role::Param).collect();
        let wrt: Vec<NodeId> = params
            .iter()
            .flat_map(|p| s.entries(p.node).to_vec())
            .collect();
        let counts = count_paths(&s.graph, loss, &wrt);
        let (grads, _) = gradient(&mut s.graph, loss, &wrt, max_paths).map_err(|e| {
            // A network has no forward mode to fall back on: name reverse.
            Error::new(
                e.kind(),
                e.message().replace(
                    "--mode reverse or forward, which are linear",
                    "--mode reverse, which is linear",
                ),
            )
        })?;
        let mut inputs: Vec<NodeId> = data
            .iter()
            .flat_map(|d| s.entries(d.node).to_vec())
            .collect();
        let n_data_entries = inputs.len();
        let masks = Masks::new(net);
        for m in net.with_role(Role::Mask) {
            inputs.extend(s.entries(m.node));
        }
        inputs.extend(&wrt);
        let mut outputs = vec![loss];
        outputs.extend(grads);
        let program = Program::compile(&s.graph, &inputs, &outputs)?;
        let mut at = 0;
        let mut paths = Vec::with_capacity(params.len());
        for p in &params {
            let n = p.shape.numel();
            let total = counts[at..at + n]
                .iter()
                .fold(0u128, |acc, &c| acc.saturating_add(c));
            paths.push((p.name.clone(), total));
            at += n;
        }
        let params = initial_params(net);
        Ok(PathEvaluator {
            program,
            params,
            n_data: data.len(),
            n_data_entries,
            paths,
            scalar_nodes,
            masks,
        })
    }

    /// Draws the dropout masks from `seed` (0 until set; see [`super::dropout`]).
    pub fn set_seed(&mut self, seed: u64) {
        self.masks.set_seed(seed);
    }

    /// The number of paths in all.
    pub fn total_paths(&self) -> u128 {
        self.paths
            .iter()
            .fold(0u128, |acc, (_, c)| acc.saturating_add(*c))
    }

    /// The mean loss and gradient over `rows` (each one sample's inputs then
    /// targets, as [`super::batch::read_csv`] gives them), at the parameters'
    /// initial values.
    ///
    /// # Errors
    /// For an empty batch or a row of the wrong length.
    pub fn loss_and_gradient(&self, rows: &[Vec<Tensor>]) -> Result<LossAndGradient> {
        if rows.is_empty() {
            return Err(invalid("the batch is empty: select at least one row"));
        }
        let weights: Vec<f64> = self
            .params
            .iter()
            .flat_map(|(_, t)| t.data.iter().copied())
            .collect();
        let mut totals: Vec<f64> = Vec::new();
        let mut point = Vec::with_capacity(self.n_data_entries + weights.len());
        for (k, row) in rows.iter().enumerate() {
            point.clear();
            point.extend(row.iter().flat_map(|t| t.data.iter().copied()));
            if row.len() != self.n_data || point.len() != self.n_data_entries {
                return Err(invalid(format!(
                    "a sample has {} values, the network {}",
                    point.len(),
                    self.n_data_entries
                )));
            }
            for mask in self.masks.draw(k) {
                point.extend(&mask.data);
            }
            point.extend(&weights);
            let out = self.program.run(&point);
            totals.resize(out.len(), 0.0);
            totals.iter_mut().zip(&out).for_each(|(s, x)| *s += x);
        }
        let m = rows.len() as f64;
        let mut means = totals.into_iter().map(|s| s / m);
        let loss = means.next().unwrap_or(f64::NAN);
        let gradient = self
            .params
            .iter()
            .map(|(name, t)| {
                let data: Vec<f64> = means.by_ref().take(t.data.len()).collect();
                (name.clone(), Tensor::new(t.shape.clone(), data))
            })
            .collect();
        Ok(LossAndGradient {
            loss,
            batch: rows.len(),
            gradient,
        })
    }
}

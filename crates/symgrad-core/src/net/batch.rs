//! The mean loss over a batch of samples and its gradient with respect to
//! every parameter, and the CSV data that fills inputs and targets.
//!
//! [`Evaluator`] is the batched evaluation: the network is rewritten with a
//! leading batch axis ([`super::batched`]), reverse mode runs once over the
//! mean loss `C = (1/m) Σ C_x`, and the result is lowered to a
//! [`Plan`] of kernel calls that runs for any batch size, so matrix-vector
//! products become matrix-matrix products and a batch costs one backward
//! pass. [`PerSample`] is the straightforward reference it is tested
//! against: the gradient of the per-sample loss, run once per row with the
//! tensor interpreter, averaged.
//!
//! Both evaluate in training mode: `dropout` draws its masks afresh for each
//! sample ([`super::dropout`], seeded by `set_seed`), and `batchnorm`
//! normalizes with the statistics of the batch being evaluated, which only
//! the batched [`Evaluator`] can do ([`PerSample::new`] refuses it).
//! [`plan_in`] also lowers the inference mode that prediction and
//! validation use ([`Mode::Inference`]: dropout off, batchnorm on running
//! statistics), and the training-mode gradient plan gives each batchnorm's
//! batch statistics, from which the caller updates the running ones
//! ([`symgrad_runtime::update_running_stats`]).

use super::dropout::Masks;
use super::{batched, Network, Role};
use crate::diff::reverse::gradient;
use crate::error::{Error, ErrorKind, Result};
use crate::eval::{Tensor, TensorProgram};
use crate::graph::{NodeId, Shape};
use crate::plan::{BatchAxis, Plan, Runner};

pub use super::batched::Mode;

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidValue, message)
}

/// Data rows: each row holds one sample's inputs then targets, flattened.
#[derive(Clone, Debug)]
pub struct Data {
    /// The CSV header.
    pub columns: Vec<String>,
    /// One tensor per input and target of the network, in declaration order.
    pub rows: Vec<Vec<Tensor>>,
}

/// Reads CSV `text` (a header, then one sample per line) for `net`.
///
/// The first line must be the header: a first line whose every field is a
/// number is refused, since it is data that would silently be taken for
/// column names.
///
/// The columns fill the inputs, then the targets, in declaration order and
/// row-major. When the targets are a single vector and exactly one column is
/// left for them, that column is an integer class index that fills the
/// target one-hot (the digits file: 64 pixels, then `label`). Dropout
/// masks are not columns: the evaluators draw them.
///
/// # Errors
/// An [`InvalidValue`](ErrorKind::InvalidValue) error for a missing
/// header, and naming the line (and column) for a wrong number of columns,
/// a value that is not a number or not finite (NaN, inf), or a label out
/// of range.
pub fn read_csv(net: &Network, text: &str) -> Result<Data> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(invalid("the data file is empty (it needs a header line)"));
    };
    let columns: Vec<String> = header.split(',').map(|c| c.trim().to_string()).collect();
    if columns.iter().all(|c| c.parse::<f64>().is_ok()) {
        return Err(invalid(
            "the data file has no header line: its first line is all numbers \
             (the first line names the columns)",
        ));
    }
    let inputs: Vec<_> = net.with_role(Role::Input).collect();
    let targets: Vec<_> = net.with_role(Role::Target).collect();
    let n_in: usize = inputs.iter().map(|d| d.shape.numel()).sum();
    let n_tgt: usize = targets.iter().map(|d| d.shape.numel()).sum();
    let one_hot = targets.len() == 1
        && targets[0].shape.rank() == 1
        && n_tgt != 1
        && columns.len() == n_in + 1;
    let expected = if one_hot { n_in + 1 } else { n_in + n_tgt };
    if columns.len() != expected {
        return Err(invalid(format!(
            "the data has {} columns, but the network needs {} ({n_in} for the inputs, \
             then {n_tgt} for the targets, or one integer label for a one-hot target)",
            columns.len(),
            n_in + n_tgt
        )));
    }
    let mut rows = Vec::new();
    for (line, row) in lines {
        let line = line + 1;
        let mut values = Vec::with_capacity(expected);
        for (col, field) in row.split(',').enumerate() {
            let v: f64 = field.trim().parse().map_err(|_| {
                invalid(format!(
                    "line {line}, column {}: '{}' is not a number",
                    col + 1,
                    field.trim()
                ))
            })?;
            if !v.is_finite() {
                return Err(invalid(format!(
                    "line {line}, column {}: '{}' is not a finite number",
                    col + 1,
                    field.trim()
                )));
            }
            values.push(v);
        }
        if values.len() != expected {
            return Err(invalid(format!(
                "line {line} has {} values, the header {expected}",
                values.len()
            )));
        }
        let mut tensors = Vec::with_capacity(inputs.len() + targets.len());
        let mut at = 0;
        for d in &inputs {
            let n = d.shape.numel();
            tensors.push(Tensor::new(d.shape.clone(), values[at..at + n].to_vec()));
            at += n;
        }
        if one_hot {
            let label = values[at];
            let classes = n_tgt;
            if label.fract() != 0.0 || label < 0.0 || label >= classes as f64 {
                return Err(invalid(format!(
                    "line {line}: the label {label} is not a class index from 0 to {}",
                    classes - 1
                )));
            }
            let mut data = vec![0.0; classes];
            data[label as usize] = 1.0;
            tensors.push(Tensor::new(targets[0].shape.clone(), data));
        } else {
            for d in &targets {
                let n = d.shape.numel();
                tensors.push(Tensor::new(d.shape.clone(), values[at..at + n].to_vec()));
                at += n;
            }
        }
        rows.push(tensors);
    }
    Ok(Data { columns, rows })
}

/// The mean loss over a batch and its gradient.
#[derive(Clone, Debug)]
pub struct LossAndGradient {
    /// `C = (1/m) Σ C_x`.
    pub loss: f64,
    /// The number of samples `m`.
    pub batch: usize,
    /// `(name, ∂C/∂param)` for every parameter in declaration order.
    pub gradient: Vec<(String, Tensor)>,
}

/// What a plan of a network computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outputs {
    /// The network's prediction for each sample ([`prediction`]), `[m, ...]`.
    Prediction,
    /// The mean loss only (the forward pass).
    Loss,
    /// The mean loss, then the prediction ([`prediction`]), `[m, ...]`:
    /// validation's two results from one forward pass, which computes the
    /// prediction on the way to the loss anyway.
    LossAndPrediction,
    /// The mean loss, then its gradient with respect to every parameter in
    /// declaration order, each of its parameter's shape; in training mode
    /// then each batchnorm's batch mean and biased batch variance, in the
    /// order of [`Network::batchnorms`](super::Network::batchnorms).
    LossAndGradient,
}

/// The equation that is the network's prediction: the last one before
/// `loss` that does not depend on a target (`a2` in a two-layer network).
pub fn prediction(net: &Network) -> Option<&super::Equation> {
    let targets: Vec<_> = net.with_role(Role::Target).map(|d| d.node).collect();
    net.equations
        .iter()
        .rev()
        .filter(|e| e.node != net.loss)
        .find(|e| {
            let mask = net.graph.reachable_mask(&[e.node]);
            !targets.iter().any(|t| mask[t.index()])
        })
}

/// Lowers `net`'s mean loss over a batch (or its gradient, or its
/// prediction) in training mode: [`plan_in`] with [`Mode::Training`].
///
/// # Errors
/// As [`plan_in`].
pub fn plan(net: &Network, outputs: Outputs) -> Result<Plan> {
    plan_in(net, outputs, Mode::Training)
}

/// One input of a plan that [`plan_in`] lowers, in the order of the plan's
/// inputs ([`plan_inputs`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanInput {
    /// Input `k` of the network (declaration order), `[m, ...]`.
    Input(usize),
    /// Target `k`, `[m, ...]`.
    Target(usize),
    /// Dropout mask `k` ([`Role::Mask`] order), `[m, ...]`.
    Mask(usize),
    /// Parameter `k`.
    Param(usize),
    /// The running mean of batchnorm `k`, of its operand's per-sample shape.
    RunningMean(usize),
    /// The running variance of batchnorm `k`.
    RunningVar(usize),
    /// The scalar `1/m` ([`batched::WEIGHT`]).
    Weight,
}

/// The inputs of the plan that [`plan_in`] lowers for `outputs` in `mode`,
/// in order: the network's inputs, then its targets (not for a
/// prediction, which reads none), then in training mode the dropout masks,
/// each with a leading batch axis; then the parameters; then in inference
/// mode each batchnorm's running mean and running variance; last `1/m`.
pub fn plan_inputs(net: &Network, outputs: Outputs, mode: Mode) -> Vec<PlanInput> {
    let count = |r| net.with_role(r).count();
    let mut out: Vec<PlanInput> = (0..count(Role::Input)).map(PlanInput::Input).collect();
    if outputs != Outputs::Prediction {
        out.extend((0..count(Role::Target)).map(PlanInput::Target));
    }
    if mode == Mode::Training {
        out.extend((0..count(Role::Mask)).map(PlanInput::Mask));
    }
    out.extend((0..count(Role::Param)).map(PlanInput::Param));
    if mode == Mode::Inference {
        for k in 0..net.batchnorms.len() {
            out.extend([PlanInput::RunningMean(k), PlanInput::RunningVar(k)]);
        }
    }
    out.push(PlanInput::Weight);
    out
}

/// Lowers `net`'s mean loss over a batch (or its gradient, or its
/// prediction) in `mode` to a plan whose inputs are [`plan_inputs`] and
/// whose outputs are described by [`Outputs`].
///
/// # Errors
/// An operation that cannot be batched or lowered, or a network without a
/// prediction when one is asked for.
pub fn plan_in(net: &Network, outputs: Outputs, mode: Mode) -> Result<Plan> {
    let b = batched::batch_in(net, mode)?;
    let mut g = b.graph;
    let predicted = || -> Result<NodeId> {
        let e = prediction(net).ok_or_else(|| {
            invalid("the network has no prediction (an equation before 'loss' that does not use a target)")
        })?;
        b.map[e.node.index()]
            .ok_or_else(|| invalid(format!("the loss does not depend on '{}'", e.name)))
    };
    let outs = match outputs {
        Outputs::Prediction => vec![predicted()?],
        Outputs::Loss => vec![b.loss],
        Outputs::LossAndPrediction => vec![b.loss, predicted()?],
        Outputs::LossAndGradient => {
            let (grads, _) = gradient(&mut g, b.loss, &b.params);
            let mut outs = vec![b.loss];
            for (d, p) in grads.into_iter().zip(&b.params) {
                // A parameter the loss does not depend on has gradient 0,
                // a scalar: give it the parameter's shape.
                let shape = g.shape(*p).clone();
                outs.push(if *g.shape(d) == shape {
                    d
                } else {
                    g.try_broadcast_to(d, &shape)?
                });
            }
            outs.extend(&b.stats);
            outs
        }
    };
    // A prediction reads no target: leave them out.
    let (n_inputs, n_targets) = (
        net.with_role(Role::Input).count(),
        net.with_role(Role::Target).count(),
    );
    let data: Vec<NodeId> = match outputs {
        Outputs::Prediction => b.data[..n_inputs]
            .iter()
            .chain(&b.data[n_inputs + n_targets..])
            .copied()
            .collect(),
        _ => b.data.clone(),
    };
    let inputs: Vec<_> = data
        .iter()
        .chain(&b.params)
        .chain(&b.running)
        .chain([&b.weight])
        .copied()
        .collect();
    Plan::lower(
        &g,
        &inputs,
        &outs,
        BatchAxis {
            batch: Some(b.batch),
        },
    )
}

/// The parameters' initial values (random initializers drawn with seed
/// 0), in declaration order, with their names.
pub fn initial_params(net: &Network) -> Vec<(String, Tensor)> {
    net.with_role(Role::Param)
        .zip(net.init_params(0))
        .map(|(p, init)| (p.name.clone(), init))
        .collect()
}

/// The mean loss and its gradient over a batch, in one backward pass (see
/// the module documentation), compiled once and run for any batch size.
pub struct Evaluator {
    runner: Runner,
    params: Vec<(String, Tensor)>,
    /// The per-sample shape of each input and target.
    data: Vec<Shape>,
    masks: Masks,
}

impl Evaluator {
    /// Batches `net`, differentiates its mean loss with respect to every
    /// parameter and lowers the result.
    ///
    /// # Errors
    /// An operation that cannot be batched or lowered.
    pub fn new(net: &Network) -> Result<Evaluator> {
        let plan = plan(net, Outputs::LossAndGradient)?;
        let data = net
            .with_role(Role::Input)
            .chain(net.with_role(Role::Target))
            .map(|d| d.shape.clone())
            .collect();
        Ok(Evaluator {
            runner: Runner::new(plan, 1),
            params: initial_params(net),
            data,
            masks: Masks::new(net),
        })
    }

    /// Draws the dropout masks from `seed` (0 until set; see [`super::dropout`]).
    pub fn set_seed(&mut self, seed: u64) {
        self.masks.set_seed(seed);
    }

    /// The mean loss and gradient over `rows` (each one sample's inputs then
    /// targets, as [`read_csv`] gives them), at the parameters' initial values.
    ///
    /// # Errors
    /// For an empty batch or a row of the wrong length or shapes.
    pub fn loss_and_gradient(&mut self, rows: &[Vec<Tensor>]) -> Result<LossAndGradient> {
        if rows.is_empty() {
            return Err(invalid("the batch is empty: select at least one row"));
        }
        // One batched tensor per input and target: the rows stacked.
        let mut stacked: Vec<Vec<f64>> = self
            .data
            .iter()
            .chain(self.masks.shapes())
            .map(|s| Vec::with_capacity(s.numel() * rows.len()))
            .collect();
        for (k, row) in rows.iter().enumerate() {
            if row.len() != self.data.len() {
                return Err(invalid(format!(
                    "a sample has {} tensors, the network {}",
                    row.len(),
                    self.data.len()
                )));
            }
            for ((t, shape), out) in row.iter().zip(&self.data).zip(&mut stacked) {
                if t.shape != *shape {
                    return Err(invalid(format!(
                        "a sample tensor has shape {}, the network needs {shape}",
                        t.shape
                    )));
                }
                out.extend_from_slice(&t.data);
            }
            let masks = stacked[self.data.len()..].iter_mut();
            for (out, mask) in masks.zip(self.masks.draw(k)) {
                out.extend_from_slice(&mask.data);
            }
        }
        self.runner.resize(rows.len());
        let weight = [1.0 / rows.len() as f64];
        let inputs: Vec<&[f64]> = stacked
            .iter()
            .map(Vec::as_slice)
            .chain(self.params.iter().map(|(_, t)| t.data.as_slice()))
            .chain([&weight[..]])
            .collect();
        let out = self.runner.run(&inputs)?;
        let gradient = self
            .params
            .iter()
            .zip(&out[1..])
            .map(|((name, p), g)| (name.clone(), Tensor::new(p.shape.clone(), g.to_vec())))
            .collect();
        Ok(LossAndGradient {
            loss: out[0].first().copied().unwrap_or(f64::NAN),
            batch: rows.len(),
            gradient,
        })
    }
}

/// A network's per-sample loss and gradient, compiled once and run once per
/// sample: the reference that the batched [`Evaluator`] is tested against.
pub struct PerSample {
    program: TensorProgram,
    params: Vec<(String, Tensor)>,
    /// How many input and target tensors a sample has.
    n_data: usize,
    masks: Masks,
}

impl PerSample {
    /// Differentiates `net`'s per-sample loss with respect to every
    /// parameter (one reverse pass) and compiles the loss and the gradients.
    ///
    /// # Errors
    /// When the graph cannot be compiled (an operation without a rule), and
    /// a [`Shape`](ErrorKind::Shape) error at the call for a network that
    /// uses `batchnorm`, which has no value for one sample.
    pub fn new(net: &Network) -> Result<PerSample> {
        refuse_batchnorm(net)?;
        let mut g = net.graph.clone();
        let data: Vec<_> = net
            .with_role(Role::Input)
            .chain(net.with_role(Role::Target))
            .chain(net.with_role(Role::Mask))
            .collect();
        let params: Vec<_> = net.with_role(Role::Param).collect();
        let wrt: Vec<_> = params.iter().map(|p| p.node).collect();
        let (grads, _) = gradient(&mut g, net.loss, &wrt);
        let inputs: Vec<_> = data.iter().map(|d| d.node).chain(wrt).collect();
        let mut outputs = vec![net.loss];
        outputs.extend(grads);
        let program = TensorProgram::compile(&g, &inputs, &outputs)?;
        let masks = Masks::new(net);
        Ok(PerSample {
            program,
            params: initial_params(net),
            n_data: data.len() - masks.len(),
            masks,
        })
    }

    /// Draws the dropout masks from `seed` (0 until set; see [`super::dropout`]).
    pub fn set_seed(&mut self, seed: u64) {
        self.masks.set_seed(seed);
    }

    /// The mean loss and gradient over `rows` (each one sample's inputs then
    /// targets, as [`read_csv`] gives them), at the parameters' initial values.
    ///
    /// # Errors
    /// For an empty batch or a row of the wrong length or shapes.
    pub fn loss_and_gradient(&self, rows: &[Vec<Tensor>]) -> Result<LossAndGradient> {
        if rows.is_empty() {
            return Err(invalid("the batch is empty: select at least one row"));
        }
        let mut loss = 0.0;
        let mut sums: Vec<Vec<f64>> = self
            .params
            .iter()
            .map(|(_, t)| vec![0.0; t.data.len()])
            .collect();
        let mut args: Vec<Tensor> =
            Vec::with_capacity(self.n_data + self.masks.len() + self.params.len());
        for (k, row) in rows.iter().enumerate() {
            if row.len() != self.n_data {
                return Err(invalid(format!(
                    "a sample has {} tensors, the network {}",
                    row.len(),
                    self.n_data
                )));
            }
            args.clear();
            args.extend(row.iter().cloned());
            args.extend(self.masks.draw(k));
            args.extend(self.params.iter().map(|(_, t)| t.clone()));
            let out = self.program.run(&args)?;
            loss += out[0].item();
            for (sum, g) in sums.iter_mut().zip(&out[1..]) {
                if g.data.len() == sum.len() {
                    for (s, x) in sum.iter_mut().zip(&g.data) {
                        *s += x;
                    }
                } else if g.data.len() == 1 {
                    // A gradient given as one value for every entry.
                    let x = g.item();
                    for s in sum.iter_mut() {
                        *s += x;
                    }
                } else {
                    return Err(invalid(format!(
                        "a gradient has {} entries, its parameter {}",
                        g.data.len(),
                        sum.len()
                    )));
                }
            }
        }
        let m = rows.len() as f64;
        let gradient = self
            .params
            .iter()
            .zip(sums)
            .map(|((name, t), s)| {
                let data = s.into_iter().map(|x| x / m).collect();
                (name.clone(), Tensor::new(t.shape.clone(), data))
            })
            .collect();
        Ok(LossAndGradient {
            loss: loss / m,
            batch: rows.len(),
            gradient,
        })
    }
}

/// A [`Shape`](ErrorKind::Shape) error at the first `batchnorm` call of
/// `net`, if any, for evaluators that run one sample at a time: batch
/// statistics have no value for one sample.
pub fn refuse_batchnorm(net: &Network) -> Result<()> {
    match net.batchnorms.first() {
        Some(bn) => Err(Error::at(
            ErrorKind::Shape,
            bn.span,
            "batchnorm normalizes over the samples of a batch; it cannot be \
             evaluated one sample at a time (use the batched evaluator)",
        )),
        None => Ok(()),
    }
}

/// A compensated (Neumaier) sum, so that summaries of large gradients do not
/// depend on the order of the entries beyond the last bit.
pub fn compensated_sum(xs: impl Iterator<Item = f64>) -> f64 {
    let (mut s, mut c) = (0.0f64, 0.0f64);
    for x in xs {
        let t = s + x;
        c += if s.abs() >= x.abs() {
            (s - t) + x
        } else {
            (x - t) + s
        };
        s = t;
    }
    s + c
}

//! The mean loss over a batch of samples and its gradient with respect to
//! every parameter, and the CSV data that fills inputs and targets.
//!
//! The evaluation is per sample: the reverse-mode gradient of the per-sample
//! `loss` is built once, one [`TensorProgram`] computes the loss and every
//! gradient, and it runs once per row; the results are averaged,
//! `C = (1/m) Σ C_x` and `∇C = (1/m) Σ ∇C_x`. True batching (a leading batch
//! axis, matrix-vector products becoming matrix-matrix products, one
//! backward pass for the whole batch) is not done yet.

use super::{Network, Role};
use crate::diff::reverse::gradient;
use crate::error::{Error, ErrorKind, Result};
use crate::eval::{Tensor, TensorProgram};

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
/// The columns fill the inputs, then the targets, in declaration order and
/// row-major. When the targets are a single vector and exactly one column is
/// left for them, that column is an integer class index that fills the
/// target one-hot (the digits file: 64 pixels, then `label`).
///
/// # Errors
/// An [`InvalidValue`](ErrorKind::InvalidValue) error naming the line for a
/// wrong number of columns, a value that is not a number, or a label out of
/// range.
pub fn read_csv(net: &Network, text: &str) -> Result<Data> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(invalid("the data file is empty (it needs a header line)"));
    };
    let columns: Vec<String> = header.split(',').map(|c| c.trim().to_string()).collect();
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

/// A network's per-sample loss and gradient, compiled once.
pub struct Evaluator {
    program: TensorProgram,
    params: Vec<(String, Tensor)>,
    /// How many input and target tensors a sample has.
    n_data: usize,
}

impl Evaluator {
    /// Differentiates `net`'s loss with respect to every parameter (one
    /// reverse pass) and compiles the loss and the gradients.
    ///
    /// # Errors
    /// When the graph cannot be compiled (an operation without a rule).
    pub fn new(net: &Network) -> Result<Evaluator> {
        let mut g = net.graph.clone();
        let data: Vec<_> = net
            .with_role(Role::Input)
            .chain(net.with_role(Role::Target))
            .collect();
        let params: Vec<_> = net.with_role(Role::Param).collect();
        let wrt: Vec<_> = params.iter().map(|p| p.node).collect();
        let (grads, _) = gradient(&mut g, net.loss, &wrt);
        let inputs: Vec<_> = data.iter().map(|d| d.node).chain(wrt).collect();
        let mut outputs = vec![net.loss];
        outputs.extend(grads);
        let program = TensorProgram::compile(&g, &inputs, &outputs)?;
        let params = initial_params(net);
        Ok(Evaluator {
            program,
            params,
            n_data: data.len(),
        })
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
        let mut args: Vec<Tensor> = Vec::with_capacity(self.n_data + self.params.len());
        for row in rows {
            if row.len() != self.n_data {
                return Err(invalid(format!(
                    "a sample has {} tensors, the network {}",
                    row.len(),
                    self.n_data
                )));
            }
            args.clear();
            args.extend(row.iter().cloned());
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

/// Each parameter's name and initial value (zeros where none is given), in
/// declaration order.
pub fn initial_params(net: &Network) -> Vec<(String, Tensor)> {
    net.with_role(Role::Param)
        .map(|p| {
            let init = p
                .init
                .clone()
                .unwrap_or_else(|| Tensor::new(p.shape.clone(), vec![0.0; p.shape.numel()]));
            (p.name.clone(), init)
        })
        .collect()
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

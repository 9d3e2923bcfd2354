//! Feature preprocessing, fitted on the training rows' inputs only (never
//! the targets) and applied to any rows: the validation rows, a fold, the
//! rows given to `predict`. It is stored in the model file
//! ([`Preprocessor::to_json`]).
//!
//! With the `n` training rows `x_i` and the population statistics (divided
//! by `n`, as scikit-learn's scalers do) mean μ, standard deviation σ and
//! covariance C = (1/n) Σ (x_i - μ)(x_i - μ)ᵀ:
//!
//! | kind | each row's inputs become |
//! |---|---|
//! | `center` | x - μ |
//! | `standardize` | (x - μ) / σ |
//! | `minmax` | (x - min) / (max - min), in [0, 1] on the training rows |
//! | `whiten` | Λ^(-1/2) Uᵀ (x - μ), C = U Λ Uᵀ: decorrelated, unit variance |
//! | `pca:K` | U_Kᵀ (x - μ): the coordinates on the K principal components of largest variance |
//!
//! A feature that is constant on the training rows (σ = 0, max = min) is
//! only shifted, never divided by 0: it becomes 0 on the training rows. For
//! `whiten`, a direction whose variance is zero to rounding (an eigenvalue
//! at most λ_max · D · ε, the cutoff NumPy's `matrix_rank` uses) carries no
//! information in the training rows and is mapped to 0 instead of being
//! scaled up. Components are in order of decreasing variance, each
//! eigenvector's sign chosen so that its largest entry is positive.
//!
//! `pca:K` changes the number of inputs: the network's inputs must have
//! `K` entries ([`Preprocess::input_columns`] checks it).

use nalgebra::{DMatrix, SymmetricEigen};
use serde_json::{json, Value};

use crate::data::Dataset;
use crate::error::{invalid_option, Error, ErrorKind, Result};
use crate::model::Model;

/// Which preprocessing (`--preprocess`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preprocess {
    /// x - μ.
    Center,
    /// (x - μ) / σ.
    Standardize,
    /// (x - min) / (max - min).
    MinMax,
    /// PCA whitening.
    Whiten,
    /// Projection onto the top K principal components.
    Pca(usize),
}

impl Preprocess {
    /// Parses `center`, `standardize`, `minmax`, `whiten` or `pca:K`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidOption`] for anything else, or `pca:0`.
    pub fn parse(spec: &str) -> Result<Preprocess> {
        let spec = spec.trim();
        let bad = || {
            invalid_option(format!(
                "unknown preprocessing '{spec}': expected center, standardize, minmax, whiten \
                 or pca:K (K the number of components, at least 1)"
            ))
        };
        match spec {
            "center" => Ok(Preprocess::Center),
            "standardize" => Ok(Preprocess::Standardize),
            "minmax" => Ok(Preprocess::MinMax),
            "whiten" => Ok(Preprocess::Whiten),
            _ => {
                let k = spec.strip_prefix("pca:").ok_or_else(bad)?;
                match k.trim().parse::<usize>() {
                    Ok(k) if k >= 1 => Ok(Preprocess::Pca(k)),
                    _ => Err(bad()),
                }
            }
        }
    }

    /// The name [`Preprocess::parse`] reads.
    pub fn name(&self) -> String {
        match self {
            Preprocess::Center => "center".into(),
            Preprocess::Standardize => "standardize".into(),
            Preprocess::MinMax => "minmax".into(),
            Preprocess::Whiten => "whiten".into(),
            Preprocess::Pca(k) => format!("pca:{k}"),
        }
    }

    /// How many of `data`'s first columns are inputs to preprocess for
    /// `model`. For every kind but `pca:K` it is the model's number of input
    /// entries. For `pca:K` the model's inputs must have `K` entries, and
    /// the inputs are the columns before the targets: the model's target
    /// entries, or one class label column for a single vector target. When
    /// both would fit, the targets are taken to be written out entry by
    /// entry if the last columns are one-hot in every row, else to be a
    /// label.
    ///
    /// # Errors
    /// [`ErrorKind::Mismatch`] when the model's inputs do not have `K`
    /// entries for `pca:K`, or the data has too few columns.
    pub fn input_columns<M: Model + ?Sized>(&self, model: &M, data: &Dataset) -> Result<usize> {
        let sizes = model.data_sizes();
        let n_inputs = model.n_inputs().min(sizes.len());
        let n_in: usize = sizes[..n_inputs].iter().sum();
        let n_tgt: usize = sizes[n_inputs..].iter().sum();
        let cols = data.n_columns();
        let Preprocess::Pca(k) = *self else {
            return Ok(n_in.min(cols));
        };
        if n_in != k {
            return Err(Error::new(
                ErrorKind::Mismatch,
                format!(
                    "pca:{k} projects the inputs onto {k} principal components, so the network's \
                     inputs must have {k} entries, but they have {n_in}"
                ),
            ));
        }
        let single_vector = sizes.len() == n_inputs + 1 && n_tgt > 1;
        let spelled_out = (cols > n_tgt).then(|| cols - n_tgt);
        let label = (single_vector && cols > 1).then(|| cols - 1);
        let d = match (spelled_out, label) {
            (Some(a), Some(b)) if a != b => {
                let one_hot_tail = (0..data.n_rows()).all(|i| {
                    let tail = &data.row(i)[a..];
                    tail.iter().all(|&v| v == 0.0 || v == 1.0)
                        && tail.iter().filter(|&&v| v == 1.0).count() == 1
                });
                if one_hot_tail {
                    a
                } else {
                    b
                }
            }
            (Some(a), _) => a,
            (None, Some(b)) => b,
            (None, None) => {
                return Err(Error::new(
                    ErrorKind::Mismatch,
                    format!(
                        "the data has {cols} columns, too few for inputs and the network's \
                         {n_tgt} target entries"
                    ),
                ))
            }
        };
        if d < k {
            return Err(Error::new(
                ErrorKind::Mismatch,
                format!("pca:{k} needs at least {k} input columns, but the data has {d}"),
            ));
        }
        Ok(d)
    }

    /// Fits this preprocessing on the first `input_columns` columns of the
    /// training rows.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidOption`] when there are no rows, `input_columns`
    /// is 0 or more than the data has, `pca:K` asks for more components
    /// than inputs, or the inputs are so large (near 1e154 and up) that
    /// their statistics overflow.
    pub fn fit(&self, train: &Dataset, input_columns: usize) -> Result<Preprocessor> {
        let d = input_columns;
        if d == 0 || d > train.n_columns() {
            return Err(invalid_option(format!(
                "cannot preprocess {d} input columns of data with {} columns",
                train.n_columns()
            )));
        }
        let n = train.n_rows();
        if n == 0 {
            return Err(invalid_option("cannot fit preprocessing on no rows"));
        }
        let mut mean = vec![0.0; d];
        let mut min = vec![f64::INFINITY; d];
        let mut max = vec![f64::NEG_INFINITY; d];
        for i in 0..n {
            for (j, &x) in train.row(i)[..d].iter().enumerate() {
                mean[j] += x;
                min[j] = min[j].min(x);
                max[j] = max[j].max(x);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let too_large = || {
            invalid_option(
                "the inputs are too large for their statistics to be finite; scale them first",
            )
        };
        if mean.iter().any(|m| !m.is_finite()) {
            return Err(too_large());
        }
        let linear = |shift: Vec<f64>, scale: Vec<f64>| Transform::Scale { shift, scale };
        let transform = match *self {
            Preprocess::Center => linear(mean, vec![1.0; d]),
            Preprocess::Standardize => {
                let mut var = vec![0.0; d];
                for i in 0..n {
                    for (j, &x) in train.row(i)[..d].iter().enumerate() {
                        var[j] += (x - mean[j]) * (x - mean[j]);
                    }
                }
                if var.iter().any(|v| !v.is_finite()) {
                    return Err(too_large());
                }
                let scale = (0..d)
                    .map(|j| {
                        if min[j] == max[j] {
                            1.0
                        } else {
                            1.0 / (var[j] / n as f64).sqrt()
                        }
                    })
                    .collect();
                linear(mean, scale)
            }
            Preprocess::MinMax => {
                if (0..d).any(|j| !(max[j] - min[j]).is_finite()) {
                    return Err(too_large());
                }
                let scale = (0..d)
                    .map(|j| {
                        if min[j] == max[j] {
                            1.0
                        } else {
                            1.0 / (max[j] - min[j])
                        }
                    })
                    .collect();
                linear(min, scale)
            }
            Preprocess::Whiten | Preprocess::Pca(_) => {
                let k = match *self {
                    Preprocess::Pca(k) => k,
                    _ => d,
                };
                if k > d {
                    return Err(invalid_option(format!(
                        "pca:{k} asks for more components than the {d} inputs"
                    )));
                }
                principal_components(train, &mean, k, *self == Preprocess::Whiten)?
            }
        };
        Ok(Preprocessor {
            kind: *self,
            inputs: d,
            transform,
        })
    }
}

/// The covariance's top `k` eigenvectors as rows of a k × d projection,
/// scaled by 1/√λ when `whiten`.
fn principal_components(
    train: &Dataset,
    mean: &[f64],
    k: usize,
    whiten: bool,
) -> Result<Transform> {
    let d = mean.len();
    let n = train.n_rows() as f64;
    let mut cov = DMatrix::<f64>::zeros(d, d);
    let mut centered = vec![0.0; d];
    for i in 0..train.n_rows() {
        for (c, (&x, &m)) in centered.iter_mut().zip(train.row(i).iter().zip(mean)) {
            *c = x - m;
        }
        for a in 0..d {
            for b in a..d {
                cov[(a, b)] += centered[a] * centered[b];
            }
        }
    }
    for a in 0..d {
        for b in a..d {
            cov[(a, b)] /= n;
            cov[(b, a)] = cov[(a, b)];
        }
    }
    // Inputs near 1e154 overflow their squares; the eigensolver must not
    // see an infinite matrix (it would not converge).
    if cov.iter().any(|v| !v.is_finite()) {
        return Err(invalid_option(
            "the inputs are too large for their covariance to be finite; scale them first",
        ));
    }
    let eigen = SymmetricEigen::new(cov);
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
    let largest = eigen.eigenvalues[order[0]].max(0.0);
    let cutoff = largest * d as f64 * f64::EPSILON;
    let mut projection = Vec::with_capacity(k * d);
    let mut variances = Vec::with_capacity(k);
    for &c in &order[..k] {
        let lambda = eigen.eigenvalues[c].max(0.0);
        let column = eigen.eigenvectors.column(c);
        let biggest = column
            .iter()
            .copied()
            .fold(0.0f64, |m, v| if v.abs() > m.abs() { v } else { m });
        let sign = if biggest < 0.0 { -1.0 } else { 1.0 };
        let scale = if !whiten {
            1.0
        } else if lambda > cutoff {
            1.0 / lambda.sqrt()
        } else {
            0.0
        };
        projection.extend(column.iter().map(|v| sign * scale * v));
        variances.push(lambda);
    }
    Ok(Transform::Project {
        mean: mean.to_vec(),
        components: k,
        projection,
        variances,
    })
}

#[derive(Clone, Debug, PartialEq)]
enum Transform {
    /// `(x - shift) * scale`, entry by entry.
    Scale { shift: Vec<f64>, scale: Vec<f64> },
    /// `projection (x - mean)`, projection `components × d` row-major.
    Project {
        mean: Vec<f64>,
        components: usize,
        projection: Vec<f64>,
        /// The variance (eigenvalue) of each component on the training rows.
        variances: Vec<f64>,
    },
}

/// A fitted preprocessing: applies to the first [`Preprocessor::inputs`]
/// columns of any rows and copies the other columns (the targets).
#[derive(Clone, Debug, PartialEq)]
pub struct Preprocessor {
    kind: Preprocess,
    inputs: usize,
    transform: Transform,
}

impl Preprocessor {
    /// Which preprocessing this is.
    pub fn kind(&self) -> Preprocess {
        self.kind
    }

    /// The number of input columns it reads.
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// The number of input columns it writes (`K` for `pca:K`).
    pub fn outputs(&self) -> usize {
        match &self.transform {
            Transform::Scale { .. } => self.inputs,
            Transform::Project { components, .. } => *components,
        }
    }

    /// The per-component variances on the training rows, for `whiten` and
    /// `pca:K` (largest first).
    pub fn variances(&self) -> Option<&[f64]> {
        match &self.transform {
            Transform::Scale { .. } => None,
            Transform::Project { variances, .. } => Some(variances),
        }
    }

    /// Transforms one row's inputs (`inputs()` entries) into `out`
    /// (`outputs()` entries).
    pub fn transform(&self, x: &[f64], out: &mut [f64]) {
        match &self.transform {
            Transform::Scale { shift, scale } => {
                for (((o, &x), &s), &c) in out.iter_mut().zip(x).zip(shift).zip(scale) {
                    *o = (x - s) * c;
                }
            }
            Transform::Project {
                mean, projection, ..
            } => {
                for (o, row) in out.iter_mut().zip(projection.chunks(self.inputs)) {
                    *o = row
                        .iter()
                        .zip(x)
                        .zip(mean)
                        .map(|((p, x), m)| p * (x - m))
                        .sum();
                }
            }
        }
    }

    /// The rows of `data` with their inputs transformed and the other
    /// columns as they were. For `whiten` and `pca:K` the input columns are
    /// renamed `pc1`, `pc2`, ...
    ///
    /// # Errors
    /// [`ErrorKind::Mismatch`] when `data` has fewer columns than the
    /// inputs this was fitted on.
    pub fn apply(&self, data: &Dataset) -> Result<Dataset> {
        if data.n_columns() < self.inputs {
            return Err(Error::new(
                ErrorKind::Mismatch,
                format!(
                    "the preprocessing was fitted on {} input columns, but the data has {} columns",
                    self.inputs,
                    data.n_columns()
                ),
            ));
        }
        let out_inputs = self.outputs();
        let rest = data.n_columns() - self.inputs;
        let mut columns: Vec<String> = match self.transform {
            Transform::Scale { .. } => data.columns()[..self.inputs].to_vec(),
            Transform::Project { .. } => (1..=out_inputs).map(|i| format!("pc{i}")).collect(),
        };
        columns.extend_from_slice(&data.columns()[self.inputs..]);
        let mut values = vec![0.0; data.n_rows() * (out_inputs + rest)];
        for (i, out) in values.chunks_mut(out_inputs + rest).enumerate() {
            let row = data.row(i);
            self.transform(&row[..self.inputs], &mut out[..out_inputs]);
            out[out_inputs..].copy_from_slice(&row[self.inputs..]);
        }
        Dataset::new(columns, values)
    }

    /// The JSON a model file stores:
    /// `{"kind": "standardize", "inputs": D, "shift": [...], "scale": [...]}`
    /// for the entry-by-entry kinds, and `{"kind": "pca:K", "inputs": D,
    /// "mean": [...], "projection": [...], "variances": [...]}` (the
    /// projection `K × D`, row-major) for `whiten` and `pca:K`.
    pub fn to_json(&self) -> Value {
        match &self.transform {
            Transform::Scale { shift, scale } => json!({
                "kind": self.kind.name(),
                "inputs": self.inputs,
                "shift": shift,
                "scale": scale,
            }),
            Transform::Project {
                mean,
                projection,
                variances,
                ..
            } => json!({
                "kind": self.kind.name(),
                "inputs": self.inputs,
                "mean": mean,
                "projection": projection,
                "variances": variances,
            }),
        }
    }

    /// Reads what [`Preprocessor::to_json`] writes.
    ///
    /// # Errors
    /// [`ErrorKind::Format`] naming the field that is missing, of the
    /// wrong length, or not finite.
    pub fn from_json(value: &Value) -> Result<Preprocessor> {
        let bad = |m: String| Error::new(ErrorKind::Format, format!("preprocessing: {m}"));
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no \"kind\"".into()))?;
        let kind = Preprocess::parse(kind).map_err(|e| bad(e.to_string()))?;
        let inputs = value
            .get("inputs")
            .and_then(Value::as_u64)
            .filter(|&d| d >= 1)
            .ok_or_else(|| bad("\"inputs\" must be a positive integer".into()))?
            as usize;
        let numbers = |field: &str, len: usize| -> Result<Vec<f64>> {
            let list = value
                .get(field)
                .and_then(Value::as_array)
                .ok_or_else(|| bad(format!("no list \"{field}\"")))?;
            let v: Vec<f64> = list.iter().filter_map(Value::as_f64).collect();
            if v.len() != list.len() || v.iter().any(|x| !x.is_finite()) {
                return Err(bad(format!("\"{field}\" must hold finite numbers only")));
            }
            if v.len() != len {
                return Err(bad(format!(
                    "\"{field}\" has {} numbers, not {len}",
                    v.len()
                )));
            }
            Ok(v)
        };
        let transform = match kind {
            Preprocess::Whiten | Preprocess::Pca(_) => {
                let k = match kind {
                    Preprocess::Pca(k) => k,
                    _ => inputs,
                };
                if k > inputs {
                    return Err(bad(format!(
                        "{} components of {inputs} inputs",
                        kind.name()
                    )));
                }
                Transform::Project {
                    mean: numbers("mean", inputs)?,
                    components: k,
                    projection: numbers("projection", k * inputs)?,
                    variances: numbers("variances", k)?,
                }
            }
            _ => Transform::Scale {
                shift: numbers("shift", inputs)?,
                scale: numbers("scale", inputs)?,
            },
        };
        Ok(Preprocessor {
            kind,
            inputs,
            transform,
        })
    }
}

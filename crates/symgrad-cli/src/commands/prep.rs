//! Preprocessing as the training commands use it (`--preprocess`): fitted
//! on the training rows only, applied to every row set, and stored in the
//! model file so that `predict` transforms new rows the same way.
//!
//! Unfinished: this waits for the training library's preprocessing
//! (`symgrad_nn::Preprocess`, being written); until it lands every
//! `--preprocess` is refused with a message saying so, and nothing
//! pretends to transform the data.

use crate::Failure;
use serde_json::Value;
use symgrad_nn::Dataset;

/// Fitted preprocessing (none yet: see the module documentation).
#[derive(Clone, Debug)]
pub enum Fitted {}

/// Checks a `--preprocess` spec.
pub fn check(spec: &str) -> Result<(), Failure> {
    Err(Failure::input(format!(
        "error: --preprocess {spec}: preprocessing is not available in this build yet"
    )))
}

/// Fits `spec` on the input columns (the first `n_input_columns`) of `train`.
pub fn fit(
    spec: Option<&str>,
    _train: &Dataset,
    _n_input_columns: usize,
) -> Result<Option<Fitted>, Failure> {
    match spec {
        None => Ok(None),
        Some(spec) => check(spec).map(|()| None),
    }
}

/// Transforms the input columns of `data`.
pub fn apply(fitted: &Fitted, _data: &Dataset) -> Result<Dataset, Failure> {
    match *fitted {}
}

/// As a model file stores it (`null` for none).
pub fn to_json(fitted: Option<&Fitted>) -> Value {
    match fitted {
        None => Value::Null,
        Some(f) => match *f {},
    }
}

/// Read back from a model file.
pub fn from_json(value: &Value) -> Result<Option<Fitted>, Failure> {
    match value {
        Value::Null => Ok(None),
        _ => Err(Failure::input(
            "error: the model file has preprocessing, which this build cannot apply yet",
        )),
    }
}

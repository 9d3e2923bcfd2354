//! Preprocessing as the training commands use it (`--preprocess`, the
//! training library's `Preprocess`): fitted on the training rows' input
//! columns only, applied to every row set (validation rows, a fold, the
//! rows given to `predict`), and stored in the model file so that `predict`
//! transforms new rows the same way.

use crate::Failure;
use serde_json::Value;
use symgrad_nn::{Dataset, Model, Preprocess, Preprocessor};

/// Fitted preprocessing.
pub type Fitted = Preprocessor;

fn failure(e: symgrad_nn::Error) -> Failure {
    Failure::input(format!("error: --preprocess: {e}"))
}

/// Checks a `--preprocess` spec.
pub fn check(spec: &str) -> Result<Preprocess, Failure> {
    Preprocess::parse(spec).map_err(failure)
}

/// Checks that `spec` fits `model` and `data` (`pca:K` needs a network
/// with K inputs), before any training.
pub fn check_fit(spec: &str, model: &dyn Model, data: &Dataset) -> Result<(), Failure> {
    check(spec)?
        .input_columns(model, data)
        .map(|_| ())
        .map_err(failure)
}

/// Fits `spec` on the input columns of `train`.
pub fn fit(
    spec: Option<&str>,
    model: &dyn Model,
    train: &Dataset,
) -> Result<Option<Fitted>, Failure> {
    let Some(spec) = spec else {
        return Ok(None);
    };
    let kind = check(spec)?;
    let columns = kind.input_columns(model, train).map_err(failure)?;
    kind.fit(train, columns).map(Some).map_err(failure)
}

/// Transforms the input columns of `data`.
pub fn apply(fitted: &Fitted, data: &Dataset) -> Result<Dataset, Failure> {
    fitted.apply(data).map_err(failure)
}

/// As a model file stores it (`null` for none).
pub fn to_json(fitted: Option<&Fitted>) -> Value {
    fitted.map_or(Value::Null, Preprocessor::to_json)
}

/// Read back from a model file.
pub fn from_json(value: &Value) -> Result<Option<Fitted>, Failure> {
    match value {
        Value::Null => Ok(None),
        v => Preprocessor::from_json(v)
            .map(Some)
            .map_err(|e| Failure::input(format!("error: the model file's {e}"))),
    }
}

//! Parameter files: a network's parameter values as JSON, written by
//! `symgrad net init` and read by `symgrad net grad --params`.
//!
//! ```json
//! {"format": "symgrad-params", "version": 1, "params": {
//!   "W1": {"shape": [30, 784], "data": [0.0123, -0.0456, ...]},
//!   "b1": {"shape": [30], "data": [...]}
//! }}
//! ```
//!
//! `params` has one entry per parameter of the network, in file order when
//! written (any order is read); `data` holds the entries row-major. Numbers
//! are written in the shortest form that reads back as the same `f64` and
//! read back exactly (bit for bit, `-0.0` included); a value that is not
//! finite is the string `"NaN"`, `"inf"` or `"-inf"`.
//!
//! Reading checks the file against the network: an unknown or a missing
//! parameter, a shape other than the declared one, or a wrong number of
//! entries is an [`InvalidValue`](ErrorKind::InvalidValue) error naming the
//! parameter; text that is not JSON is a [`Syntax`](ErrorKind::Syntax)
//! error spanned at the line and column where the JSON parser stopped.

use super::{Network, Role};
use crate::error::{Error, ErrorKind, Result, Span};
use crate::eval::Tensor;
use crate::graph::Shape;
use serde_json::{Map, Value};

/// The value of the `format` key.
pub const FORMAT: &str = "symgrad-params";
/// The version of the format this code writes and reads.
pub const VERSION: u64 = 1;

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidValue, message)
}

/// One number as JSON: the shortest round-tripping form, or a string for a
/// value that is not finite.
fn number(x: f64) -> String {
    if x.is_nan() {
        "\"NaN\"".to_string()
    } else if x.is_infinite() {
        if x > 0.0 { "\"inf\"" } else { "\"-inf\"" }.to_string()
    } else {
        Value::from(x).to_string()
    }
}

/// The parameter file of `values` (one tensor per parameter of `net`, in
/// file order, as [`Network::init_params`] gives them).
pub fn to_json(net: &Network, values: &[Tensor]) -> String {
    let mut entries = Vec::new();
    for (d, t) in net.with_role(Role::Param).zip(values) {
        let data: Vec<String> = t.data.iter().map(|&x| number(x)).collect();
        let dims: Vec<String> = t.shape.dims().iter().map(usize::to_string).collect();
        entries.push(format!(
            "  {}: {{\"shape\": [{}], \"data\": [{}]}}",
            Value::from(d.name.as_str()),
            dims.join(", "),
            data.join(", ")
        ));
    }
    format!(
        "{{\"format\": \"{FORMAT}\", \"version\": {VERSION}, \"params\": {{\n{}\n}}}}\n",
        entries.join(",\n")
    )
}

/// The byte offset of the 1-based `line` and `column` of `text`.
fn offset(text: &str, line: usize, column: usize) -> usize {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let mut at = (start + column.saturating_sub(1)).min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Reads a parameter file for `net`: one tensor per parameter, in file
/// order, ready for [`Network::set_params`].
///
/// # Errors
/// See the module documentation.
pub fn from_json(net: &Network, text: &str) -> Result<Vec<Tensor>> {
    let root: Value = serde_json::from_str(text).map_err(|e| {
        let at = offset(text, e.line(), e.column());
        Error::at(
            ErrorKind::Syntax,
            Span::new(at, at),
            format!("the parameter file is not valid JSON: {e}"),
        )
    })?;
    let root = root
        .as_object()
        .ok_or_else(|| invalid("the parameter file must be a JSON object"))?;
    if root.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(invalid(format!(
            "the parameter file must have \"format\": \"{FORMAT}\""
        )));
    }
    match root.get("version").and_then(Value::as_u64) {
        Some(VERSION) => {}
        Some(v) => {
            return Err(invalid(format!(
                "parameter file version {v} is not supported (this symgrad reads version {VERSION})"
            )))
        }
        None => {
            return Err(invalid(
                "the parameter file must have \"version\": 1 (a number)",
            ))
        }
    }
    let params = root
        .get("params")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("the parameter file must have a \"params\" object"))?;
    let declared: Vec<_> = net.with_role(Role::Param).collect();
    if let Some(unknown) = params
        .keys()
        .find(|k| !declared.iter().any(|d| &d.name == *k))
    {
        let names: Vec<&str> = declared.iter().map(|d| d.name.as_str()).collect();
        return Err(invalid(format!(
            "unknown parameter '{unknown}': the network's parameters are {}",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        )));
    }
    declared
        .iter()
        .map(|d| {
            let entry = params.get(&d.name).ok_or_else(|| {
                invalid(format!(
                    "missing parameter '{}' (shape {})",
                    d.name, d.shape
                ))
            })?;
            tensor(&d.name, &d.shape, entry)
        })
        .collect()
}

/// One entry `{"shape": [...], "data": [...]}`, checked against `shape`.
fn tensor(name: &str, shape: &Shape, entry: &Value) -> Result<Tensor> {
    let empty = Map::new();
    let entry = entry.as_object().unwrap_or(&empty);
    let dims: Option<Vec<usize>> = entry.get("shape").and_then(Value::as_array).and_then(|a| {
        a.iter()
            .map(|v| v.as_u64().and_then(|n| usize::try_from(n).ok()))
            .collect()
    });
    let Some(dims) = dims else {
        return Err(invalid(format!(
            "parameter '{name}' needs \"shape\": a list of dimensions, here {}",
            Value::from(shape.dims().to_vec())
        )));
    };
    if dims != shape.dims() {
        return Err(invalid(format!(
            "parameter '{name}' has shape {} in the file, but the network declares {shape}",
            Shape::new(dims)
        )));
    }
    let Some(data) = entry.get("data").and_then(Value::as_array) else {
        return Err(invalid(format!(
            "parameter '{name}' needs \"data\": a list of its {} entries",
            shape.numel()
        )));
    };
    if data.len() != shape.numel() {
        return Err(invalid(format!(
            "parameter '{name}' has {} entries in the file; its shape {shape} needs {}",
            data.len(),
            shape.numel()
        )));
    }
    let values = data
        .iter()
        .enumerate()
        .map(|(k, v)| {
            let x = match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => match s.as_str() {
                    "NaN" => Some(f64::NAN),
                    "inf" => Some(f64::INFINITY),
                    "-inf" => Some(f64::NEG_INFINITY),
                    _ => None,
                },
                _ => None,
            };
            x.ok_or_else(|| {
                invalid(format!(
                    "parameter '{name}', entry {k}: {v} is not a number \
                     (nor \"NaN\", \"inf\" or \"-inf\")"
                ))
            })
        })
        .collect::<Result<Vec<f64>>>()?;
    Ok(Tensor::new(shape.clone(), values))
}

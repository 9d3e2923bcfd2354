//! Model files: a trained network saved as one JSON document that
//! prediction needs nothing beside (`symgrad train --save`, `symgrad predict`).
//!
//! ```json
//! {"format": "symgrad-model", "version": 1,
//! "network": "input x[2]\ntarget y[1]\n...",
//! "params": {
//!   "W1": {"shape": [3, 2], "data": [0.12, -0.5, ...]},
//!   "b1": {"shape": [3], "data": [...]}
//! },
//! "state": {"bn1.mean": {"shape": [3], "data": [...]}},
//! "preprocess": null,
//! "training": {"optimizer": "adam", "lr": 0.01, ...},
//! "history": {"param_names": ["W1", "b1"], "best_epoch": 20, "stopped": null,
//!   "epochs": [{"epoch": 1, "lr": 0.01, "train_loss": 0.7, "val_loss": 0.69,
//!               "val_accuracy": 0.5, "train_accuracy": 0.5, "grad_norms": [0.3, 0.1]}]}}
//! ```
//!
//! - `network` is the network file's text, so the model can be rebuilt from
//!   the file alone ([`ModelFile::build`]).
//! - `params` has exactly the form `symgrad net init -o` writes: one entry
//!   per parameter in the network's order, `data` row-major. `state` is the
//!   same for what else inference needs (batch norm's running statistics,
//!   [`Model::state`]), each a vector.
//! - Numbers are written in the shortest form that reads back as the same
//!   `f64` and are read back bit for bit; a value that is not finite is the
//!   string `"NaN"`, `"inf"` or `"-inf"` (as in parameter files).
//! - `preprocess` and `training` are whatever the caller stores (the fitted
//!   preprocessing and the options of the run), kept as JSON values.
//! - `history` has every epoch of the run except its wall-clock `seconds`:
//!   a model file depends only on the network, the data, the options and
//!   the seed, so the same run writes the same bytes. Read back, `seconds`
//!   is 0.
//!
//! [`save`] writes the file whole or not at all: into a temporary file in
//! the same directory, flushed to disk, then renamed over the target.

use crate::model::{Epoch, History, Model};
use crate::network::NetworkModel;
use serde_json::{Map, Value};
use std::fmt;
use std::io::Write;
use std::path::Path;

/// The value of the `format` key.
pub const FORMAT: &str = "symgrad-model";
/// The version of the format this code writes and reads.
pub const VERSION: u64 = 1;

/// What went wrong with a model file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file could not be read or written.
    Io,
    /// The text is not JSON.
    Syntax,
    /// JSON, but not a model file of this version.
    Format,
    /// The embedded network does not parse (any more) or cannot be built.
    Network,
    /// The parameters or state do not fit the network.
    Mismatch,
}

/// A model file error: the message users see is its `Display`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }

    fn format(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Format, message)
    }

    fn mismatch(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Mismatch, message)
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without the file's name.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// One named tensor of a model file.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    /// Row-major, `shape`'s product entries.
    pub data: Vec<f64>,
}

/// The contents of a model file.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelFile {
    /// The network file's text.
    pub network: String,
    /// Every parameter: in the network's order when taken from a model,
    /// in name order when read from a file (JSON objects are unordered;
    /// [`ModelFile::apply`] matches by name).
    pub params: Vec<NamedTensor>,
    /// What else inference needs ([`Model::state`]), each a vector.
    pub state: Vec<NamedTensor>,
    /// The fitted preprocessing, as its owner writes it (`null` for none).
    pub preprocess: Value,
    /// The options of the run that trained it (`null` when not recorded).
    pub training: Value,
    /// The run's history.
    pub history: History,
}

impl ModelFile {
    /// Takes the parameters and state of `model`. The network's text is
    /// `source`, or the model's own ([`Model::source`]) when `None`.
    ///
    /// # Errors
    /// A [`Format`](ErrorKind::Format) error when neither gives the text.
    pub fn from_model(model: &dyn Model, source: Option<&str>) -> Result<ModelFile, Error> {
        let network = source.or(model.source()).ok_or_else(|| {
            Error::format("a model file embeds its network's text, and this model has none")
        })?;
        let params = model
            .param_names()
            .into_iter()
            .zip(model.param_shapes())
            .zip(model.params())
            .map(|((name, shape), data)| NamedTensor {
                name,
                shape,
                data: data.to_vec(),
            })
            .collect();
        let state = model
            .state_names()
            .into_iter()
            .zip(model.state())
            .map(|(name, data)| NamedTensor {
                name,
                shape: vec![data.len()],
                data: data.to_vec(),
            })
            .collect();
        Ok(ModelFile {
            network: network.to_string(),
            params,
            state,
            preprocess: Value::Null,
            training: Value::Null,
            history: History::default(),
        })
    }

    /// Copies the parameters and state into `model`, which must have the
    /// same parameters (names and shapes) and state (names and sizes),
    /// matched by name.
    ///
    /// # Errors
    /// A [`Mismatch`](ErrorKind::Mismatch) error naming the first
    /// parameter or state entry that is missing, unknown or of another shape.
    pub fn apply(&self, model: &mut dyn Model) -> Result<(), Error> {
        let params = in_order("parameter", &model.param_names(), &self.params)?;
        for (t, shape) in params.iter().zip(model.param_shapes()) {
            if t.shape != shape {
                return Err(Error::mismatch(format!(
                    "parameter '{}' has shape {:?} in the model file, but the network declares {:?}",
                    t.name, t.shape, shape
                )));
            }
        }
        let state = in_order("state entry", &model.state_names(), &self.state)?;
        for (t, slot) in state.iter().zip(model.state()) {
            if t.data.len() != slot.len() {
                return Err(Error::mismatch(format!(
                    "state entry '{}' has {} values in the model file, but the network needs {}",
                    t.name,
                    t.data.len(),
                    slot.len()
                )));
            }
        }
        for (t, slot) in params.iter().zip(model.params_mut()) {
            slot.copy_from_slice(&t.data);
        }
        for (t, slot) in state.iter().zip(model.state_mut()) {
            slot.copy_from_slice(&t.data);
        }
        Ok(())
    }

    /// Rebuilds the model from the embedded network with `build` (for a
    /// network file loaded at run time, `|src| NetworkModel::from_source(src, 0)`,
    /// the error rendered against `src`), then applies the parameters and
    /// state.
    ///
    /// # Errors
    /// A [`Network`](ErrorKind::Network) error with `build`'s message when
    /// the network no longer builds; a [`Mismatch`](ErrorKind::Mismatch)
    /// error as [`ModelFile::apply`].
    pub fn build<M: Model>(
        &self,
        build: impl FnOnce(&str) -> Result<M, String>,
    ) -> Result<M, Error> {
        let mut model = build(&self.network).map_err(|e| {
            Error::new(
                ErrorKind::Network,
                format!("the model file's network does not build:\n{e}"),
            )
        })?;
        self.apply(&mut model)?;
        Ok(model)
    }

    /// Rebuilds the network file's [`NetworkModel`] from the embedded
    /// source and applies the parameters and state: a model file loaded
    /// for prediction with nothing else.
    ///
    /// # Errors
    /// As [`ModelFile::build`]; a network that no longer parses shows the
    /// parser's error against the embedded text, with its line and a caret.
    pub fn network_model(&self) -> Result<NetworkModel, Error> {
        self.build(|src| NetworkModel::from_source(src, 0).map_err(|e| e.render(src)))
    }

    /// The file's text. Deterministic: the same contents give the same bytes.
    pub fn to_json(&self) -> String {
        let mut s = format!(
            "{{\"format\": \"{FORMAT}\", \"version\": {VERSION},\n\"network\": {},\n\"params\": {},\n\"state\": {},\n",
            Value::from(self.network.as_str()),
            tensors_json(&self.params),
            tensors_json(&self.state),
        );
        s.push_str(&format!("\"preprocess\": {},\n", self.preprocess));
        s.push_str(&format!("\"training\": {},\n", self.training));
        s.push_str(&format!("\"history\": {}}}\n", history_json(&self.history)));
        s
    }

    /// Reads a model file's text.
    ///
    /// # Errors
    /// [`Syntax`](ErrorKind::Syntax) with the line and column for text
    /// that is not JSON; [`Format`](ErrorKind::Format) naming the key for a
    /// wrong `format` or `version` or a missing or malformed entry.
    pub fn parse(text: &str) -> Result<ModelFile, Error> {
        let root: Value = serde_json::from_str(text).map_err(|e| {
            Error::new(
                ErrorKind::Syntax,
                format!(
                    "not a model file: the JSON is malformed at line {}, column {}: {e}",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        let root = root
            .as_object()
            .ok_or_else(|| Error::format("not a model file: it must be a JSON object"))?;
        if root.get("format").and_then(Value::as_str) != Some(FORMAT) {
            return Err(Error::format(format!(
                "not a model file: it must have \"format\": \"{FORMAT}\"{}",
                match root.get("format").and_then(Value::as_str) {
                    Some("symgrad-params") => " (this is a parameter file, as `symgrad net init` writes; train with --params FILE to start from it)".to_string(),
                    Some(other) => format!(", not \"{other}\""),
                    None => String::new(),
                }
            )));
        }
        match root.get("version").and_then(Value::as_u64) {
            Some(VERSION) => {}
            Some(v) => {
                return Err(Error::format(format!(
                    "model file version {v} is not supported (this symgrad reads version {VERSION})"
                )))
            }
            None => {
                return Err(Error::format(
                    "the model file must have \"version\": 1 (a number)",
                ))
            }
        }
        let network = root
            .get("network")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Error::format("the model file must have \"network\": the network file's text")
            })?
            .to_string();
        let params = tensors("params", root.get("params"))?;
        let state = match root.get("state") {
            None | Some(Value::Null) => Vec::new(),
            some => tensors("state", some)?,
        };
        let history = match root.get("history") {
            None | Some(Value::Null) => History::default(),
            Some(h) => read_history(h)?,
        };
        Ok(ModelFile {
            network,
            params,
            state,
            preprocess: root.get("preprocess").cloned().unwrap_or(Value::Null),
            training: root.get("training").cloned().unwrap_or(Value::Null),
            history,
        })
    }
}

/// The entries of `entries` in the order of `names`: each name once,
/// nothing else.
fn in_order<'a>(
    what: &str,
    names: &[String],
    entries: &'a [NamedTensor],
) -> Result<Vec<&'a NamedTensor>, Error> {
    if let Some(unknown) = entries.iter().find(|t| !names.contains(&t.name)) {
        return Err(Error::mismatch(format!(
            "the model file has a {what} '{}' that the network does not have (its {what}s: {})",
            unknown.name,
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        )));
    }
    names
        .iter()
        .map(|n| {
            let mut found = entries.iter().filter(|t| &t.name == n);
            match (found.next(), found.next()) {
                (Some(t), None) => Ok(t),
                (None, _) => Err(Error::mismatch(format!(
                    "the model file has no {what} '{n}', which the network needs"
                ))),
                (Some(_), Some(_)) => Err(Error::mismatch(format!(
                    "the model file has the {what} '{n}' twice"
                ))),
            }
        })
        .collect()
}

/// One number: the shortest round-tripping form, or a string when not finite.
fn number(x: f64) -> String {
    if x.is_nan() {
        "\"NaN\"".to_string()
    } else if x.is_infinite() {
        if x > 0.0 { "\"inf\"" } else { "\"-inf\"" }.to_string()
    } else {
        Value::from(x).to_string()
    }
}

fn optional(x: Option<f64>) -> String {
    x.map_or("null".to_string(), number)
}

fn read_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "inf" => Some(f64::INFINITY),
            "-inf" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

fn tensors_json(list: &[NamedTensor]) -> String {
    if list.is_empty() {
        return "{}".to_string();
    }
    let entries: Vec<String> = list
        .iter()
        .map(|t| {
            let dims: Vec<String> = t.shape.iter().map(usize::to_string).collect();
            let data: Vec<String> = t.data.iter().map(|&x| number(x)).collect();
            format!(
                "  {}: {{\"shape\": [{}], \"data\": [{}]}}",
                Value::from(t.name.as_str()),
                dims.join(", "),
                data.join(", ")
            )
        })
        .collect();
    format!("{{\n{}\n}}", entries.join(",\n"))
}

/// The entries of the `key` object, in the file's order.
fn tensors(key: &str, value: Option<&Value>) -> Result<Vec<NamedTensor>, Error> {
    let object = value.and_then(Value::as_object).ok_or_else(|| {
        Error::format(format!(
            "the model file must have \"{key}\": an object of {{\"shape\": [...], \"data\": [...]}} entries"
        ))
    })?;
    object
        .iter()
        .map(|(name, entry)| tensor(key, name, entry))
        .collect()
}

fn tensor(key: &str, name: &str, entry: &Value) -> Result<NamedTensor, Error> {
    let empty = Map::new();
    let entry = entry.as_object().unwrap_or(&empty);
    let shape: Option<Vec<usize>> = entry.get("shape").and_then(Value::as_array).and_then(|a| {
        a.iter()
            .map(|v| v.as_u64().and_then(|n| usize::try_from(n).ok()))
            .collect()
    });
    let shape = shape.ok_or_else(|| {
        Error::format(format!(
            "{key} '{name}' needs \"shape\": a list of dimensions"
        ))
    })?;
    let data = entry.get("data").and_then(Value::as_array).ok_or_else(|| {
        Error::format(format!("{key} '{name}' needs \"data\": a list of numbers"))
    })?;
    let numel: usize = shape.iter().product();
    if data.len() != numel {
        return Err(Error::format(format!(
            "{key} '{name}' has {} entries; its shape {shape:?} needs {numel}",
            data.len()
        )));
    }
    let data = data
        .iter()
        .enumerate()
        .map(|(k, v)| {
            read_number(v).ok_or_else(|| {
                Error::format(format!(
                    "{key} '{name}', entry {k}: {v} is not a number (nor \"NaN\", \"inf\" or \"-inf\")"
                ))
            })
        })
        .collect::<Result<Vec<f64>, Error>>()?;
    Ok(NamedTensor {
        name: name.to_string(),
        shape,
        data,
    })
}

fn history_json(h: &History) -> String {
    let names = Value::from(h.param_names.clone());
    let epochs: Vec<String> = h
        .epochs
        .iter()
        .map(|e| {
            let norms: Vec<String> = e.grad_norms.iter().map(|&x| number(x)).collect();
            format!(
                "  {{\"epoch\": {}, \"lr\": {}, \"train_loss\": {}, \"val_loss\": {}, \"val_accuracy\": {}, \"train_accuracy\": {}, \"grad_norms\": [{}]}}",
                e.epoch,
                number(e.lr),
                number(e.train_loss),
                optional(e.val_loss),
                optional(e.val_accuracy),
                optional(e.train_accuracy),
                norms.join(", ")
            )
        })
        .collect();
    format!(
        "{{\"param_names\": {names}, \"best_epoch\": {}, \"stopped\": {}, \"epochs\": [{}{}{}]}}",
        h.best_epoch.map_or("null".to_string(), |b| b.to_string()),
        h.stopped.as_deref().map_or(Value::Null, Value::from),
        if epochs.is_empty() { "" } else { "\n" },
        epochs.join(",\n"),
        if epochs.is_empty() { "" } else { "\n" },
    )
}

fn read_history(v: &Value) -> Result<History, Error> {
    let bad = |what: &str| Error::format(format!("the model file's \"history\": {what}"));
    let h = v.as_object().ok_or_else(|| bad("must be an object"))?;
    let param_names = match h.get("param_names") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|n| n.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("\"param_names\" must be a list of names"))?,
        _ => return Err(bad("needs \"param_names\", a list of names")),
    };
    let best_epoch = match h.get("best_epoch") {
        None | Some(Value::Null) => None,
        Some(b) => Some(
            b.as_u64()
                .and_then(|b| usize::try_from(b).ok())
                .ok_or_else(|| bad("\"best_epoch\" must be an epoch number"))?,
        ),
    };
    let stopped = match h.get("stopped") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(bad("\"stopped\" must be a string or null")),
    };
    let epochs = h
        .get("epochs")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("needs \"epochs\", a list"))?
        .iter()
        .enumerate()
        .map(|(i, e)| read_epoch(e).ok_or_else(|| bad(&format!("epoch entry {i} is malformed"))))
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(History {
        param_names,
        epochs,
        best_epoch,
        stopped,
    })
}

fn read_epoch(v: &Value) -> Option<Epoch> {
    let e = v.as_object()?;
    let opt = |key: &str| -> Option<Option<f64>> {
        match e.get(key) {
            None | Some(Value::Null) => Some(None),
            Some(x) => read_number(x).map(Some),
        }
    };
    Some(Epoch {
        epoch: usize::try_from(e.get("epoch")?.as_u64()?).ok()?,
        lr: read_number(e.get("lr")?)?,
        train_loss: read_number(e.get("train_loss")?)?,
        val_loss: opt("val_loss")?,
        val_accuracy: opt("val_accuracy")?,
        train_accuracy: opt("train_accuracy")?,
        grad_norms: e
            .get("grad_norms")?
            .as_array()?
            .iter()
            .map(read_number)
            .collect::<Option<Vec<_>>>()?,
        seconds: 0.0,
    })
}

/// Reads the model file at `path`.
///
/// # Errors
/// [`Io`](ErrorKind::Io) for a file that cannot be read; otherwise as
/// [`ModelFile::parse`]. Messages name the file.
pub fn load(path: &Path) -> Result<ModelFile, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("cannot read the model file {}: {e}", path.display()),
        )
    })?;
    ModelFile::parse(&text).map_err(|e| Error::new(e.kind, format!("{}: {}", path.display(), e)))
}

/// Writes `file` to `path` whole or not at all: the text goes to a
/// temporary file beside `path`, is flushed to disk, and is renamed over
/// `path`; on any failure the temporary file is removed and `path` is left
/// as it was.
///
/// # Errors
/// [`Io`](ErrorKind::Io) naming the file.
pub fn save(path: &Path, file: &ModelFile) -> Result<(), Error> {
    write_atomically(path, file.to_json().as_bytes()).map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("cannot write the model file {}: {e}", path.display()),
        )
    })
}

/// `bytes` into `path` by a temporary file in the same directory and a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the path names no file"))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = dir.join(temp_name);
    let result = (|| {
        let mut f = std::fs::File::create(&temp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests;

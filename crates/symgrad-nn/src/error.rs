//! The training library's error: a documented kind and the message a user
//! sees, and for a run that diverged, the history up to that point.

use std::fmt;
use std::path::Path;

use crate::model::History;

/// What kind of thing went wrong. More kinds may be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file could not be read or written.
    Io,
    /// A data file is malformed: no header, a cell that is not a finite
    /// number, a row of the wrong length, a label that is not a class.
    Data,
    /// The data's columns do not fit the model's inputs and targets.
    Mismatch,
    /// An option or hyperparameter is out of range or unknown (a rate that
    /// is not positive, a batch size of 0, more folds than rows, ...).
    InvalidOption,
    /// Stored state (preprocessing, optimizer) is malformed.
    Format,
    /// Training stopped because the loss or the gradient was not finite;
    /// [`Error::history`] holds the epochs until then.
    Diverged,
    /// An error from the engine (a network file that does not parse, ...).
    Core,
}

/// An error from reading data, preparing or training a model.
///
/// `Display` is the message a user sees; it names the file, row, column,
/// option, epoch or step it is about.
#[derive(Clone, Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    history: Option<Box<History>>,
}

impl Error {
    /// An error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            history: None,
        }
    }

    /// An I/O error about the file at `path`, naming it.
    pub fn io(path: &Path, err: &std::io::Error) -> Error {
        Error::new(ErrorKind::Io, format!("{}: {err}", path.display()))
    }

    /// A diverged run: the message names the epoch and step, `history`
    /// holds every epoch completed before it (its `stopped` set).
    pub fn diverged(message: impl Into<String>, history: History) -> Error {
        Error {
            kind: ErrorKind::Diverged,
            message: message.into(),
            history: Some(Box::new(history)),
        }
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The training history of a [`ErrorKind::Diverged`] run.
    pub fn history(&self) -> Option<&History> {
        self.history.as_deref()
    }

    /// The same error with `context: ` put before its message (the file or
    /// fold it is about).
    pub fn context(mut self, context: impl fmt::Display) -> Error {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<symgrad_core::Error> for Error {
    fn from(e: symgrad_core::Error) -> Error {
        Error::new(ErrorKind::Core, e.to_string())
    }
}

/// An I/O error without a path; prefer [`Error::io`], which names the file.
impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::new(ErrorKind::Io, e.to_string())
    }
}

/// The training library's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// An [`ErrorKind::InvalidOption`] error.
pub(crate) fn invalid_option(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOption, message)
}

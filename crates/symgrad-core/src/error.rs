//! The library's error type: a documented kind, a message, and where in the
//! input it happened.

use std::fmt;

/// A byte range in the text the error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    /// Byte offset of the first character.
    pub start: usize,
    /// Byte offset one past the last character (equal to `start` for a point).
    pub end: usize,
}

impl Span {
    /// The span `start..end`.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// An empty span at `at`.
    pub fn point(at: usize) -> Span {
        Span { start: at, end: at }
    }
}

/// What kind of thing went wrong. More kinds may be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The text is not in the formula syntax.
    Syntax,
    /// The input nests deeper than the parser's depth limit.
    TooDeep,
    /// A name is used as a function but no function has that name.
    UnknownFunction,
    /// A variable was asked for (`--wrt`, `--at`) that the formula does not have,
    /// or a variable needed for evaluation has no value.
    UnknownVariable,
    /// A value given for evaluation is not a number, or is given twice.
    InvalidValue,
    /// Path enumeration was asked for more paths than its limit allows.
    PathLimit,
    /// An operation has no derivative rule.
    NoRule,
    /// Operand shapes do not fit the operation.
    Shape,
    /// A graph is too large for what was asked (expanding tensors into
    /// scalar neurons past its limit).
    TooLarge,
}

/// An error from parsing, differentiating or evaluating.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    span: Option<Span>,
}

impl Error {
    /// An error of `kind` with a message and no position.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            span: None,
        }
    }

    /// An error of `kind` at `span` of the input.
    pub fn at(kind: ErrorKind, span: Span, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            span: Some(span),
        }
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without position information.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Where in the input the error is, when it is about input text.
    pub fn span(&self) -> Option<Span> {
        self.span
    }

    /// The message followed by the input line and a caret under the error's
    /// position, as the command line prints it.
    pub fn render(&self, source: &str) -> String {
        let Some(span) = self.span else {
            return format!("error: {}", self.message);
        };
        let start = span.start.min(source.len());
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        let line_no = source[..start].matches('\n').count() + 1;
        let column = source[line_start..start].chars().count();
        let end = span.end.clamp(start, line_end);
        let width = source[start..end].chars().count().max(1);
        format!(
            "error: {}\n --> line {}, column {}\n  |\n  | {}\n  | {}{}",
            self.message,
            line_no,
            column + 1,
            &source[line_start..line_end],
            " ".repeat(column),
            "^".repeat(width)
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.span {
            Some(s) => write!(f, "{} (at byte {})", self.message, s.start),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {}

/// The library's result type.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_puts_a_caret_under_the_span() {
        let e = Error::at(ErrorKind::Syntax, Span::new(4, 5), "expected an operand");
        assert_eq!(
            e.render("x + * y"),
            "error: expected an operand\n --> line 1, column 5\n  |\n  | x + * y\n  |     ^"
        );
    }
}

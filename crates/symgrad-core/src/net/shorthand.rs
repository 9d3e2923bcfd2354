//! The layer shorthand of network files, expanded source to source.
//!
//! ```text
//! input x[784]; target y[10]
//! dense 30 sigmoid
//! dense 10 sigmoid
//! loss quadratic
//! ```
//!
//! Layer `k` (the `k`-th `dense` line, from 1), `dense N activation` with an
//! input `v` of length `n`, becomes
//!
//! ```text
//! # dense N activation
//! param Wk[N, n] ~ normal(0, 1/sqrt(n))
//! param bk[N] ~ normal(0, 1)
//! zk = Wk @ v + bk
//! ak = activation(zk)
//! ```
//!
//! The weights follow Nielsen's "improved" initialization (standard deviation
//! `1/sqrt(fan-in)`), the biases his default `normal(0, 1)`. The activation is
//! one of `sigmoid`, `tanh`, `relu`, `softplus`, `softmax`, or `identity`
//! (also `linear`: `ak = zk`). The input `v` of a layer is the most recent
//! layer output (`a(k-1)`) or `input` declaration above it, whichever comes
//! later in the file; it must be a vector.
//!
//! `loss quadratic`, `loss cross_entropy` and `loss mse` use the most recent
//! layer output `aL` and the most recent `target` declaration `y` above them
//! and become `loss = sum((aL - y)^2) / 2`, `loss = cross_entropy(aL, y)`
//! (the categorical `-sum(y * log(aL))`, for a softmax output) and
//! `loss = mse(aL, y)` (`mean((aL - y)^2)`).
//!
//! Every other line is copied unchanged, comments included, so shorthand
//! and equations mix: an equation may use `a1`, and a `dense` layer after it
//! still takes the last layer output. The names a layer defines (`Wk`, `bk`,
//! `zk`, `ak`, and `loss`) must not be defined by the file itself.
//!
//! [`parse_network`](super::parse_network) reads the expansion; spans inside
//! a generated line map back to the shorthand line it came from, and spans
//! elsewhere to the same text in the original file.

use super::{read_shape, statement_span, statements, syntax, text};
use crate::error::{Error, Result, Span};
use crate::graph::Shape;
use crate::parse::lexer::{lex, Tok, Token};
use rustc_hash::FxHashMap;
use std::borrow::Cow;

/// The activations `dense` accepts.
const ACTIVATIONS: [&str; 7] = [
    "sigmoid", "tanh", "relu", "softplus", "softmax", "identity", "linear",
];

/// Expands the layer shorthand of a network file into declarations and
/// equations (see the module documentation). A file without shorthand comes
/// back unchanged.
///
/// # Errors
/// A spanned error for a malformed shorthand line, a layer without an input
/// vector before it, a `loss` shorthand without a layer or a target before
/// it or whose target does not fit, and a name the shorthand would define
/// that the file defines too.
pub fn expand(src: &str) -> Result<String> {
    expand_mapped(src).map(|e| e.text.into_owned())
}

/// A piece of the expansion: copied from the original, or generated from
/// one shorthand statement.
#[derive(Clone, Copy, Debug)]
struct Segment {
    /// Where it starts in the expansion.
    out: usize,
    /// Where its source starts in the original, and how long that is.
    orig: usize,
    orig_len: usize,
    generated: bool,
}

/// An expanded file and the map from its offsets back to the original.
pub(crate) struct Expansion<'a> {
    pub(crate) text: Cow<'a, str>,
    src: &'a str,
    /// In order of `out`, covering the expansion from 0.
    segments: Vec<Segment>,
}

impl Expansion<'_> {
    /// The offset in the original of offset `at` of the expansion: the same
    /// text when it was copied, the start (or, for `end`, the end) of the
    /// shorthand statement when it was generated.
    fn offset(&self, at: usize, end: bool) -> usize {
        let k = self.segments.partition_point(|s| s.out <= at).max(1) - 1;
        let Some(s) = self.segments.get(k) else {
            return at;
        };
        if s.generated {
            s.orig + if end { s.orig_len } else { 0 }
        } else {
            s.orig + (at - s.out.min(at)).min(s.orig_len)
        }
    }

    /// A span of the expansion as a span of the original: a span that starts
    /// in generated text covers the whole shorthand statement.
    pub(crate) fn span(&self, s: Span) -> Span {
        let start = self.offset(s.start, false);
        let k = self.segments.partition_point(|g| g.out <= s.start).max(1) - 1;
        if self.segments.get(k).is_some_and(|g| g.generated) {
            return Span::new(start, self.offset(s.start, true));
        }
        Span::new(start, self.offset(s.end, true).max(start))
    }

    /// `e` with its span mapped into the original.
    pub(crate) fn error(&self, e: Error) -> Error {
        match e.span() {
            Some(s) => Error::at(e.kind(), self.span(s), e.message()),
            None => e,
        }
    }

    /// The line (from 1) of the original where span `s` of the expansion is.
    pub(crate) fn line_of(&self, s: Span) -> usize {
        line(self.src, self.span(s))
    }
}

fn line(src: &str, s: Span) -> usize {
    src.get(..s.start).map_or(0, |p| p.matches('\n').count()) + 1
}

/// A vector a layer can take: an input or a layer's output.
struct Source {
    name: String,
    /// Its shape, or why it could not be read.
    shape: Result<Shape>,
    /// Whether a `dense` line made it.
    layer: bool,
}

impl Source {
    fn declared(src: &str, stmt: &[Token]) -> Source {
        let name = text(src, &stmt[1]).to_string();
        let shape = read_shape(stmt, &name).map(|(s, _)| s);
        Source {
            name,
            shape,
            layer: false,
        }
    }

    /// Its length, or an error at `at` when it is not a vector.
    fn len(&self, at: Span, what: &str) -> Result<usize> {
        match &self.shape {
            Ok(s) if s.rank() == 1 => Ok(s.numel()),
            Ok(s) => Err(syntax(
                at,
                format!("{what} needs a vector, but '{}' has shape {s}", self.name),
            )),
            Err(e) => Err(e.clone()),
        }
    }
}

/// What the shorthand tracks while reading the file top-down.
struct State<'s> {
    src: &'s str,
    /// The names the file defines, and where.
    defined: FxHashMap<String, Span>,
    /// The most recent input or layer output.
    current: Option<Source>,
    /// The most recent target.
    target: Option<Source>,
    layers: usize,
}

impl State<'_> {
    /// Claims the names a shorthand line defines, refusing any the file
    /// defines too.
    fn claim(&mut self, names: &[String], span: Span, what: &str) -> Result<()> {
        for name in names {
            if let Some(&prev) = self.defined.get(name) {
                return Err(syntax(
                    span,
                    format!(
                        "{what} defines {}, but '{name}' is already defined on line {}; \
                         rename it",
                        names.join(", "),
                        line(self.src, prev)
                    ),
                ));
            }
        }
        for name in names {
            self.defined.insert(name.clone(), span);
        }
        Ok(())
    }

    /// `dense N activation`.
    fn dense(&mut self, stmt: &[Token]) -> Result<String> {
        let src = self.src;
        let span = statement_span(stmt);
        let width = match stmt[1].kind {
            Tok::Num(n) => Some(n.to_f64()).filter(|n| *n >= 1.0 && n.fract() == 0.0 && *n < 1e12),
            _ => None,
        };
        let Some(width) = width.map(|n| n as usize) else {
            return Err(syntax(
                stmt[1].span,
                "expected the layer's width, a positive integer: 'dense N activation' \
                 (e.g. 'dense 30 sigmoid')",
            ));
        };
        let act = &stmt[2];
        if act.kind != Tok::Ident || !ACTIVATIONS.contains(&text(src, act)) {
            return Err(syntax(
                act.span,
                format!(
                    "expected an activation after 'dense {width}': {}",
                    ACTIVATIONS.join(", ")
                ),
            ));
        }
        end_of_statement(stmt, 3)?;
        let Some(input) = &self.current else {
            return Err(syntax(
                span,
                "'dense' needs an input vector above it: declare 'input x[n]' first",
            ));
        };
        let n = input.len(span, "a dense layer")?;
        let v = input.name.clone();
        self.layers += 1;
        let k = self.layers;
        let names = ["W", "b", "z", "a"].map(|p| format!("{p}{k}"));
        self.claim(&names, span, &format!("layer {k} ('dense')"))?;
        let act = text(src, act);
        let out = match act {
            "identity" | "linear" => format!("z{k}"),
            _ => format!("{act}(z{k})"),
        };
        self.current = Some(Source {
            name: format!("a{k}"),
            shape: Ok(Shape::new(vec![width])),
            layer: true,
        });
        Ok(format!(
            "# {}\nparam W{k}[{width}, {n}] ~ normal(0, 1/sqrt({n}))\n\
             param b{k}[{width}] ~ normal(0, 1)\nz{k} = W{k} @ {v} + b{k}\na{k} = {out}",
            text_of(src, span)
        ))
    }

    /// `loss quadratic|cross_entropy|mse`.
    fn loss(&mut self, stmt: &[Token]) -> Result<String> {
        let src = self.src;
        let span = statement_span(stmt);
        let kind = text(src, &stmt[1]);
        if !matches!(kind, "quadratic" | "cross_entropy" | "mse") {
            return Err(syntax(
                stmt[1].span,
                format!(
                    "unknown loss '{kind}': expected 'loss quadratic', 'loss cross_entropy', \
                     'loss mse' or an equation 'loss = ...'"
                ),
            ));
        }
        end_of_statement(stmt, 2)?;
        let what = format!("'loss {kind}'");
        let Some(out) = self.current.as_ref().filter(|c| c.layer) else {
            return Err(syntax(
                span,
                format!("{what} needs a 'dense' layer above it, whose output it scores"),
            ));
        };
        let Some(target) = &self.target else {
            return Err(syntax(
                span,
                format!("{what} needs a 'target y[n]' declaration above it"),
            ));
        };
        let width = out.len(span, &what)?;
        let n = target.len(span, &what)?;
        if n != width {
            return Err(syntax(
                span,
                format!(
                    "{what}: the last layer's output '{}' has {width} entries, \
                     but the target '{}' has {n}",
                    out.name, target.name
                ),
            ));
        }
        let (a, y) = (out.name.clone(), target.name.clone());
        self.claim(&["loss".to_string()], span, &what)?;
        let body = match kind {
            "quadratic" => format!("sum(({a} - {y})^2) / 2"),
            _ => format!("{kind}({a}, {y})"),
        };
        Ok(format!("# {}\nloss = {body}", text_of(src, span)))
    }
}

fn text_of(src: &str, s: Span) -> &str {
    src.get(s.start..s.end).unwrap_or("")
}

/// Refuses tokens after `stmt[k]`'s position but before the terminator.
fn end_of_statement(stmt: &[Token], k: usize) -> Result<()> {
    match stmt.get(k) {
        Some(t) if !matches!(t.kind, Tok::Sep | Tok::Eof) => Err(syntax(
            t.span,
            "expected the end of the line after the layer shorthand",
        )),
        _ => Ok(()),
    }
}

/// The name a statement defines, if any: a declaration's or an equation's.
fn defines<'s>(src: &'s str, stmt: &[Token]) -> Option<(&'s str, Span)> {
    let (first, second) = (&stmt[0], stmt.get(1)?);
    let keyword = text(src, first);
    match (&first.kind, &second.kind) {
        (Tok::Ident, Tok::Ident) if matches!(keyword, "input" | "target" | "param") => {
            Some((text(src, second), second.span))
        }
        (Tok::Ident, Tok::Eq) => Some((keyword, first.span)),
        _ => None,
    }
}

/// [`expand`], with the map from the expansion back to `src`.
pub(crate) fn expand_mapped(src: &str) -> Result<Expansion<'_>> {
    let tokens = lex(src);
    let stmts = statements(&tokens);
    let mut defined = FxHashMap::default();
    for stmt in &stmts {
        if let Some((name, span)) = defines(src, stmt) {
            defined.entry(name.to_string()).or_insert(span);
        }
    }
    let mut state = State {
        src,
        defined,
        current: None,
        target: None,
        layers: 0,
    };
    let mut out = String::new();
    let mut segments = Vec::new();
    let mut copied = 0;
    for stmt in &stmts {
        let (first, second) = (&stmt[0], &stmt[1]);
        if first.kind != Tok::Ident {
            continue;
        }
        let generated = match (text(src, first), &second.kind) {
            ("input", Tok::Ident) => {
                state.current = Some(Source::declared(src, stmt));
                continue;
            }
            ("target", Tok::Ident) => {
                state.target = Some(Source::declared(src, stmt));
                continue;
            }
            ("dense", kind) if *kind != Tok::Eq => state.dense(stmt)?,
            ("loss", Tok::Ident) => state.loss(stmt)?,
            _ => continue,
        };
        let span = statement_span(stmt);
        segments.push(Segment {
            out: out.len(),
            orig: copied,
            orig_len: span.start - copied,
            generated: false,
        });
        out.push_str(text_of(src, Span::new(copied, span.start)));
        segments.push(Segment {
            out: out.len(),
            orig: span.start,
            orig_len: span.end - span.start,
            generated: true,
        });
        out.push_str(&generated);
        copied = span.end;
    }
    segments.push(Segment {
        out: out.len(),
        orig: copied,
        orig_len: src.len() - copied,
        generated: false,
    });
    let text = if copied == 0 {
        Cow::Borrowed(src)
    } else {
        out.push_str(text_of(src, Span::new(copied, src.len())));
        Cow::Owned(out)
    };
    Ok(Expansion {
        text,
        src,
        segments,
    })
}

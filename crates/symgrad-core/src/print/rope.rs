//! Text built bottom-up from pieces that refer to earlier pieces, so that a
//! printer never copies a subexpression's text and never recurses to render it.

use std::borrow::Cow;

/// One piece of a fragment: literal text or a reference to another fragment.
pub(crate) enum Piece {
    Str(Cow<'static, str>),
    Frag(usize),
}

/// An arena of fragments; a fragment only refers to fragments made before it.
#[derive(Default)]
pub(crate) struct Rope {
    frags: Vec<Vec<Piece>>,
}

impl Rope {
    /// Adds a fragment and returns its index.
    pub(crate) fn push(&mut self, pieces: Vec<Piece>) -> usize {
        self.frags.push(pieces);
        self.frags.len() - 1
    }

    /// A fragment holding one literal.
    pub(crate) fn text(&mut self, s: impl Into<Cow<'static, str>>) -> usize {
        self.push(vec![Piece::Str(s.into())])
    }

    /// The text of fragment `frag`, rendered with an explicit stack.
    pub(crate) fn render(&self, frag: usize) -> String {
        let mut out = String::new();
        let mut stack = vec![(frag, 0usize)];
        while let Some((f, i)) = stack.pop() {
            let Some(piece) = self.frags[f].get(i) else {
                continue;
            };
            stack.push((f, i + 1));
            match piece {
                Piece::Str(s) => out.push_str(s),
                Piece::Frag(g) => stack.push((*g, 0)),
            }
        }
        out
    }
}

/// Shorthand for a literal piece.
pub(crate) fn s(text: impl Into<Cow<'static, str>>) -> Piece {
    Piece::Str(text.into())
}

/// Shorthand for a reference piece.
pub(crate) fn f(frag: usize) -> Piece {
    Piece::Frag(frag)
}

//! The formula parser and the one expression grammar: text in the formula
//! syntax (see the "formula syntax" contract in DESIGN.md) becomes a
//! [`Formula`] whose graph keeps the structure the text gave it, and the
//! equations of network files are read by the same grammar.
//!
//! Lexing uses nom's character parsers (`lexer.rs`). The grammar
//! (`parser.rs`) is an operator-precedence loop with explicit stacks, so no
//! input, however long or deeply nested, can overflow the stack; nesting
//! past [`MAX_DEPTH`] is a [`TooDeep`](crate::ErrorKind::TooDeep) error
//! instead. It builds an expression tree ([`ast`]) in one of two dialects,
//! formulas and network equations; `formula.rs` reads a formula's
//! statements and lowers each tree into the graph, and `net` lowers the
//! network dialect's trees into tensor nodes.
//!
//! Precedence, loosest first: `+ -`; `* / · ×` and implicit multiplication
//! (left-associative); unary minus; `^` and `**` (right-associative, and the
//! exponent may carry a sign: `x^-2`); postfix superscripts (`x²`), which apply
//! to the operand just before them.

pub mod ast;
mod formula;
pub(crate) mod lexer;
pub(crate) mod parser;

pub(crate) use formula::{constant, expression_at, lower};

#[cfg(test)]
mod tests;

use crate::error::Result;
use crate::formula::Formula;

/// The deepest nesting the parser accepts, counting open parentheses and
/// function calls, pending unary minus signs and pending powers in a chain
/// (`x^x^x` nests two). Deeper input is an
/// [`ErrorKind::TooDeep`](crate::ErrorKind::TooDeep) error spanned where the
/// limit was passed.
pub const MAX_DEPTH: usize = 256;

/// Parses a formula: `;`- or newline-separated statements, every one but the
/// last a binding `name = expr`, the last the output (bare, or a binding whose
/// expression is the output).
///
/// ```
/// let f = symgrad_core::parse("u = x*y; sin(u) + u²")?;
/// assert_eq!(f.var_names(), ["x", "y"]);
/// assert_eq!(f.bindings.len(), 1);
/// # Ok::<(), symgrad_core::Error>(())
/// ```
///
/// # Errors
/// A [`Syntax`](crate::ErrorKind::Syntax),
/// [`UnknownFunction`](crate::ErrorKind::UnknownFunction) or
/// [`TooDeep`](crate::ErrorKind::TooDeep) error spanned on the byte range of
/// `src` it is about; [`Error::render`](crate::Error::render) shows it.
pub fn parse(src: &str) -> Result<Formula> {
    formula::Parser::new(src).formula()
}

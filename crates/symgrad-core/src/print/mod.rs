//! Printers for graphs: formula text and LaTeX with minimal parentheses and
//! shared subexpressions written once as bindings, a fully parenthesized form
//! for tests, and Graphviz DOT.
//!
//! Architecture invariant: no printer recurses over graph depth. Text is built
//! bottom-up in topological order as fragments that refer to their operands'
//! fragments (`rope`), and rendered with an explicit stack.

mod dot;
mod infix;
mod parens;
mod rope;
mod svg;
#[cfg(test)]
mod tests;

pub use dot::{dot, DotOptions};
pub(crate) use infix::{latex_func, latex_name};
pub use parens::parens;
pub use svg::{svg, MAX_SVG_NODES};

use crate::graph::{Graph, NodeId};

/// Printed expressions and the bindings they share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Printed {
    /// `(name, expression)` for each shared subexpression, in an order where a
    /// binding only refers to earlier ones.
    pub bindings: Vec<(String, String)>,
    /// One expression per root, in the order of the roots.
    pub exprs: Vec<String>,
}

impl Printed {
    /// Root `i` with the bindings it uses before it: `t1 = ...; t2 = ...; expr`,
    /// which for [`text`] is valid input for the formula parser.
    pub fn formula(&self, i: usize) -> String {
        let mut out = String::new();
        for k in self.needed(i) {
            let (name, expr) = &self.bindings[k];
            out.push_str(name);
            out.push_str(" = ");
            out.push_str(expr);
            out.push_str("; ");
        }
        out.push_str(&self.exprs[i]);
        out
    }

    /// The indices of the bindings that root `i` uses, directly or through
    /// other bindings, in binding order.
    pub fn needed(&self, i: usize) -> Vec<usize> {
        let index: std::collections::HashMap<&str, usize> = self
            .bindings
            .iter()
            .enumerate()
            .map(|(k, (n, _))| (n.as_str(), k))
            .collect();
        let mut used = vec![false; self.bindings.len()];
        let mark = |text: &str, used: &mut Vec<bool>| {
            for word in identifiers(text) {
                if let Some(&k) = index.get(word) {
                    used[k] = true;
                }
            }
        };
        mark(&self.exprs[i], &mut used);
        // A binding refers only to earlier ones, so one backward sweep closes the set.
        for k in (0..self.bindings.len()).rev() {
            if used[k] {
                mark(&self.bindings[k].1, &mut used);
            }
        }
        (0..self.bindings.len()).filter(|&k| used[k]).collect()
    }
}

/// The identifiers in printed text: maximal runs of letters, digits and `_`
/// that start with a letter or `_`.
fn identifiers(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| {
            w.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
        })
}

/// The roots in the formula syntax, with minimal parentheses. Subtraction,
/// division and negation are printed where the graph holds negative
/// coefficients and exponents (`x - 2*y`, `x/y^2`, `3*x/2`), `a^(1/2)` as
/// `sqrt(a)`, and a nontrivial subexpression used more than once as a binding
/// `tN` (skipping names of the graph's variables).
pub fn text(g: &Graph, roots: &[NodeId]) -> Printed {
    infix::print(g, roots, infix::Style::Text)
}

/// The roots in LaTeX (`\frac{a}{b}`, `x^{2}`, `\sin\left(x\right)`,
/// `\sqrt{x}`, Greek names as `\theta`), with the bindings of [`text`] named
/// `t_{N}`.
pub fn latex(g: &Graph, roots: &[NodeId]) -> Printed {
    infix::print(g, roots, infix::Style::Latex)
}

/// [`text`], keeping the user's names: a node of `names` (a binding of the
/// formula, as its simplified node) that the roots reach is printed as its
/// binding under the user's name wherever it occurs (unless it is a leaf, or
/// only a root), instead of being repeated or named `tN`.
pub fn text_named(g: &Graph, roots: &[NodeId], names: &[(NodeId, String)]) -> Printed {
    infix::print_named(g, roots, infix::Style::Text, names)
}

/// [`latex`] with the user's names, as [`text_named`].
pub fn latex_named(g: &Graph, roots: &[NodeId], names: &[(NodeId, String)]) -> Printed {
    infix::print_named(g, roots, infix::Style::Latex, names)
}

//! A parsed formula: its graph, its output node, its free variables and its
//! `let`-style bindings.

use crate::error::Span;
use crate::graph::{Graph, NodeId};

/// A named intermediate result written as `name = expr` in a formula.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The bound name.
    pub name: String,
    /// The node the name stands for.
    pub node: NodeId,
    /// Where the name is written in the source.
    pub span: Span,
}

/// A formula as the parser returns it.
#[derive(Clone, Debug)]
pub struct Formula {
    /// The graph holding every node of the formula (and, later, of its derivatives).
    pub graph: Graph,
    /// The node whose value is the formula's value (the last line).
    pub output: NodeId,
    /// The free variables, in order of first appearance in the source.
    pub vars: Vec<NodeId>,
    /// The bindings, in source order.
    pub bindings: Vec<Binding>,
}

impl Formula {
    /// The names of the free variables, in order of first appearance.
    pub fn var_names(&self) -> Vec<&str> {
        self.vars
            .iter()
            .map(|&v| self.graph.var_name(v).unwrap_or("?"))
            .collect()
    }
}

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

    /// The formula with some variables replaced by numbers (SymPy's `subs`):
    /// a new graph, folded where the numbers make it constant. Its variables
    /// are the others that the output still depends on; bindings keep their
    /// names.
    pub fn substitute(&self, values: &[(&str, crate::num::Num)]) -> Formula {
        let mut graph = Graph::new();
        let mut roots = vec![self.output];
        roots.extend(self.bindings.iter().map(|b| b.node));
        let value = |name: &str| values.iter().find(|(n, _)| *n == name).map(|&(_, v)| v);
        let new = graph.import_substituted(&self.graph, &roots, value);
        let output = new[0];
        let reached = graph.reachable_mask(&[output]);
        let vars = self
            .var_names()
            .into_iter()
            .filter_map(|name| graph.var_node(name))
            .filter(|v| reached[v.index()])
            .collect();
        let bindings = self
            .bindings
            .iter()
            .zip(&new[1..])
            .map(|(b, &node)| Binding {
                name: b.name.clone(),
                node,
                span: b.span,
            })
            .collect();
        Formula {
            graph,
            output,
            vars,
            bindings,
        }
    }
}

//! Graphviz DOT output of a graph, with caller-supplied notes on nodes (such
//! as values and adjoints) and labels on edges (such as local derivatives).

use crate::graph::{Graph, NodeId, Op};
use std::collections::HashMap;
use std::fmt::Write;

/// Annotations for [`dot`].
#[derive(Clone, Debug, Default)]
pub struct DotOptions {
    /// The graph's title, shown as its label.
    pub title: Option<String>,
    /// Labels that replace a node's own (its operation, or a variable's name).
    pub labels: HashMap<NodeId, String>,
    /// Extra lines under a node's label (`"value = 3, adjoint = 24"`).
    pub node_notes: HashMap<NodeId, String>,
    /// A label for the edge into `(user, slot)` (a local derivative such as `"2*x"`).
    pub edge_labels: HashMap<(NodeId, usize), String>,
}

/// The nodes reachable from `roots` as a Graphviz digraph: one node per graph
/// node labeled with its operation (variables by name, constants by value),
/// edges from operand to user, labeled by slot when the operation is not
/// commutative, and the caller's annotations. Roots are drawn with a double
/// border.
pub fn dot(g: &Graph, roots: &[NodeId], options: &DotOptions) -> String {
    let mut out = String::from("digraph symgrad {\n  rankdir=BT;\n  node [shape=box];\n");
    if let Some(title) = &options.title {
        let _ = writeln!(out, "  label=\"{}\";\n  labelloc=t;", escape(title));
    }
    for id in g.reachable(roots) {
        let mut label = match (options.labels.get(&id), g.op(id)) {
            (Some(l), _) => l.clone(),
            (None, Op::Var(_)) => g.var_name(id).unwrap_or("?").to_string(),
            (None, op) => op.label(),
        };
        if let Some(note) = options.node_notes.get(&id) {
            label.push('\n');
            label.push_str(note);
        }
        let border = if roots.contains(&id) {
            ", peripheries=2"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  n{} [label=\"{}\"{border}];",
            id.index(),
            escape(&label)
        );
        let ordered = matches!(
            g.op(id),
            Op::Sub | Op::Div | Op::Pow | Op::Max | Op::Min | Op::Atan2
        );
        for (slot, a) in g.args(id).iter().enumerate() {
            let mut parts = Vec::new();
            if ordered {
                parts.push(slot.to_string());
            }
            if let Some(l) = options.edge_labels.get(&(id, slot)) {
                parts.push(l.clone());
            }
            let _ = write!(out, "  n{} -> n{}", a.index(), id.index());
            if !parts.is_empty() {
                let _ = write!(out, " [label=\"{}\"]", escape(&parts.join(": ")));
            }
            out.push_str(";\n");
        }
    }
    out.push_str("}\n");
    out
}

/// `text` as the inside of a DOT string: quotes and backslashes escaped,
/// newlines as `\n`.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

//! The graph as a `petgraph` graph, for callers who want its algorithms
//! (traversals, dominators, layouts) on a formula or a derivative.
//!
//! The engine itself keeps nodes in its own arena (see ARCHITECTURE.md for
//! why); this view is a copy with one petgraph edge per operand slot, from
//! operand to user, weighted by the slot number, so `w*w` has two edges.

use super::{Graph, NodeId};
use petgraph::graph::{DiGraph, NodeIndex};

impl Graph {
    /// The nodes that `roots` depend on as a petgraph `DiGraph`: each node's
    /// weight is its [`NodeId`], each edge goes from an operand to its user and
    /// carries the operand's slot. Node indices follow topological order.
    pub fn to_petgraph(&self, roots: &[NodeId]) -> DiGraph<NodeId, usize> {
        let order = self.reachable(roots);
        let mut view = DiGraph::with_capacity(order.len(), order.len() * 2);
        let mut index: Vec<Option<NodeIndex>> = vec![None; self.len()];
        for &v in &order {
            let i = view.add_node(v);
            index[v.index()] = Some(i);
            for (slot, &a) in self.args(v).iter().enumerate() {
                if let Some(from) = index[a.index()] {
                    view.add_edge(from, i, slot);
                }
            }
        }
        view
    }
}

#[cfg(test)]
mod tests {
    use crate::graph::{Func, Graph};
    use petgraph::algo::{is_cyclic_directed, toposort};

    #[test]
    fn the_view_is_acyclic_and_insertion_order_is_topological() {
        let mut g = Graph::new();
        let x = g.var("x");
        let y = g.var("y");
        let xy = g.mul(x, y);
        let s = g.func(Func::Sin, xy);
        let ww = g.mul(s, s);
        let out = g.add(ww, x);
        let view = g.to_petgraph(&[out]);
        assert!(!is_cyclic_directed(&view));
        // `s*s` keeps both operand slots as parallel edges.
        assert_eq!(view.edge_count(), 2 + 1 + 2 + 2);
        // petgraph's own topological sort agrees that operands precede users.
        let sorted = toposort(&view, None).expect("a DAG");
        let position = |id| sorted.iter().position(|&i| view[i] == id).expect("present");
        for i in view.node_indices() {
            let v = view[i];
            for &a in g.args(v) {
                assert!(position(a) < position(v));
                assert!(a < v, "ids grow from operands to users");
            }
        }
    }
}

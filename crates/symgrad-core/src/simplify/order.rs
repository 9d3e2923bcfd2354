//! The stable operand order of canonical sums and products.
//!
//! The order depends only on the structure of the operands, never on node ids
//! or on the order the input was built in, so equal expressions built in
//! different orders simplify to the same node. Per-node facts (a structural
//! hash and a polynomial degree) are computed bottom-up in id order, so nothing
//! here recurses over depth.

use crate::graph::{Graph, NodeId, Op};
use crate::num::Num;
use rustc_hash::FxHasher;
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

/// Structural facts about one node, used to order operands.
#[derive(Clone, Copy, Debug)]
struct Info {
    /// A hash of the expression's structure (variable names, constant values,
    /// operations), independent of node ids.
    hash: u64,
    /// The total polynomial degree (1 for a variable, exponents multiply,
    /// products add, sums take the largest, anything else counts as 0).
    degree: f64,
    /// The variable with the alphabetically first name in the expression, so
    /// that `exp(a)` comes before `exp(b)`.
    first_var: Option<NodeId>,
    /// The height of the expression tree (1 for a leaf), so that the factors
    /// of a chain `cos(x)·cos(sin(x))·cos(sin(sin(x)))` keep the chain's order.
    height: u32,
}

/// Per-node ordering facts for a graph that grows while it is simplified.
#[derive(Default)]
pub(crate) struct Order {
    info: Vec<Info>,
}

impl Order {
    /// Brings the table up to date with every node of `g`: each node's facts
    /// depend only on its operands, which come before it.
    fn update(&mut self, g: &Graph) {
        for i in self.info.len()..g.len() {
            let id = NodeId::from_index(i);
            let mut h = FxHasher::default();
            let args = g.args(id);
            let degree = match g.op(id) {
                Op::Var(_) => {
                    0u8.hash(&mut h);
                    g.var_name(id).unwrap_or("").hash(&mut h);
                    1.0
                }
                Op::Const(n) => {
                    1u8.hash(&mut h);
                    n.hash(&mut h);
                    0.0
                }
                Op::Named(c) => {
                    2u8.hash(&mut h);
                    c.hash(&mut h);
                    0.0
                }
                op => {
                    3u8.hash(&mut h);
                    op.hash(&mut h);
                    for a in args {
                        self.info[a.index()].hash.hash(&mut h);
                    }
                    let d = |a: &NodeId| self.info[a.index()].degree;
                    match op {
                        Op::Mul => args.iter().map(d).sum(),
                        Op::Add => args.iter().map(d).fold(0.0, f64::max),
                        Op::Pow => match g.as_const(args[1]) {
                            Some(e) => d(&args[0]) * e.to_f64(),
                            None => 0.0,
                        },
                        _ => 0.0,
                    }
                }
            };
            let first_var = match g.op(id) {
                Op::Var(_) => Some(id),
                _ => args
                    .iter()
                    .filter_map(|a| self.info[a.index()].first_var)
                    .min_by(|&a, &b| g.var_name(a).cmp(&g.var_name(b))),
            };
            let height = 1 + args
                .iter()
                .map(|a| self.info[a.index()].height)
                .max()
                .unwrap_or(0);
            self.info.push(Info {
                hash: h.finish(),
                degree,
                first_var,
                height,
            });
        }
    }

    fn get(&mut self, g: &Graph, id: NodeId) -> Info {
        if id.index() >= self.info.len() {
            self.update(g);
        }
        self.info[id.index()]
    }

    /// The order of factors `base^exp` in a product: named constants, then
    /// variables alphabetically, then other factors by operation and structure.
    pub(crate) fn cmp_factor(
        &mut self,
        g: &Graph,
        (b1, e1): (NodeId, Num),
        (b2, e2): (NodeId, Num),
    ) -> Ordering {
        let class = |id: NodeId| match g.op(id) {
            Op::Named(_) => 0,
            Op::Var(_) => 1,
            Op::Func(_) => 2,
            Op::Add => 3,
            _ => 4,
        };
        let by_base = class(b1)
            .cmp(&class(b2))
            .then_with(|| match (g.op(b1), g.op(b2)) {
                (Op::Named(a), Op::Named(b)) => a.cmp(&b),
                (Op::Var(_), Op::Var(_)) => g.var_name(b1).cmp(&g.var_name(b2)),
                (Op::Func(f1), Op::Func(f2)) => f1.cmp(&f2),
                _ => Ordering::Equal,
            });
        let first_var =
            |s: &mut Self, id: NodeId| s.get(g, id).first_var.and_then(|v| g.var_name(v));
        let (v1, v2) = (first_var(self, b1), first_var(self, b2));
        // Expressions of earlier variables first; constant expressions last.
        let by_var = match (v1, v2) {
            (Some(a), Some(b)) => a.cmp(b),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        let by_height = self.get(g, b1).height.cmp(&self.get(g, b2).height);
        by_base
            .then(by_var)
            // Inner links of a chain before outer ones.
            .then(by_height)
            // Higher powers first, so that x^2*y comes before x*y^2 in a sum.
            .then_with(|| e2.partial_cmp(&e1).unwrap_or(Ordering::Equal))
            .then_with(|| self.get(g, b1).hash.cmp(&self.get(g, b2).hash))
    }

    /// The order of terms `coef * mono` in a sum: higher degree first, then
    /// graded-lexicographic on the factors, then by structure.
    pub(crate) fn cmp_term(&mut self, g: &Graph, m1: NodeId, m2: NodeId) -> Ordering {
        let (i1, i2) = (self.get(g, m1), self.get(g, m2));
        let by_degree = i2.degree.partial_cmp(&i1.degree).unwrap_or(Ordering::Equal);
        if by_degree != Ordering::Equal {
            return by_degree;
        }
        let f1 = factors_of(g, m1);
        let f2 = factors_of(g, m2);
        for (a, b) in f1.iter().zip(&f2) {
            let o = self.cmp_factor(g, *a, *b);
            if o != Ordering::Equal {
                return o;
            }
        }
        f1.len().cmp(&f2.len()).then(i1.hash.cmp(&i2.hash))
    }
}

/// A canonical monomial's factors as `(base, exponent)` pairs.
fn factors_of(g: &Graph, mono: NodeId) -> Vec<(NodeId, Num)> {
    let one = |id| split_pow(g, id);
    match g.op(mono) {
        Op::Mul => g.args(mono).iter().map(|&a| one(a)).collect(),
        _ => vec![one(mono)],
    }
}

/// `(b, e)` for a power `b^e` with a numeric exponent, `(id, 1)` otherwise.
pub(crate) fn split_pow(g: &Graph, id: NodeId) -> (NodeId, Num) {
    if g.op(id) == Op::Pow {
        let args = g.args(id);
        if let Some(e) = g.as_const(args[1]) {
            return (args[0], e);
        }
    }
    (id, Num::int(1))
}

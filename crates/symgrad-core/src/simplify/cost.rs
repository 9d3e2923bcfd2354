//! The operation count by which simplification chooses between forms of
//! an expression: SymPy's `count_ops` of the expression tree, every shared
//! node counted at each use, as a printed derivative with its bindings
//! inlined is counted against SymPy's.

use super::order::split_pow;
use crate::graph::{Graph, NodeId, Op};
use crate::num::Num;

/// The operation count of every node's expression tree, shared nodes
/// counted at each use, kept up to date as the graph grows.
#[derive(Default)]
pub(super) struct Cost {
    ops: Vec<f64>,
}

impl Cost {
    /// Counts as SymPy's `count_ops` does, closely enough to choose between
    /// forms: a subtraction costs what an addition does, a division what a
    /// multiplication does (`x/y` is one operation, not a product and a
    /// power), and a coefficient of -1 is a negation, not a product.
    fn update(&mut self, g: &Graph) {
        for i in self.ops.len()..g.len() {
            let id = NodeId::from_index(i);
            let args = g.args(id);
            let own = match g.op(id) {
                Op::Var(_) | Op::Named(_) => 0.0,
                Op::Const(c) => const_cost(c),
                Op::Add => {
                    let mut total = args.len() as f64 - 1.0;
                    let mut negatives = 0;
                    for &a in args {
                        total += self.ops[a.index()];
                        if leads_negative(g, a) {
                            // `a - b`: the sign is the subtraction.
                            total -= 1.0;
                            negatives += 1;
                        }
                    }
                    if negatives == args.len() {
                        total += 1.0;
                    }
                    total
                }
                Op::Mul => {
                    let (mut num, mut den, mut total) = (0usize, 0usize, 0.0);
                    for &a in args {
                        if let Some(c) = g.as_const(a) {
                            total += const_cost(c);
                            if !c.is_int(1) && !c.is_int(-1) {
                                num += 1;
                            }
                            continue;
                        }
                        match split_pow(g, a) {
                            (b, e) if e.is_negative() => {
                                den += 1;
                                total += self.ops[b.index()];
                                if !e.is_int(-1) {
                                    total += 1.0 + const_cost(e.neg());
                                }
                            }
                            _ => {
                                num += 1;
                                total += self.ops[a.index()];
                            }
                        }
                    }
                    total += num.saturating_sub(1) as f64;
                    if den > 0 {
                        total += den as f64;
                    }
                    total
                }
                _ => 1.0 + args.iter().map(|a| self.ops[a.index()]).sum::<f64>(),
            };
            self.ops.push(own);
        }
    }

    /// The operation count of `id`'s tree.
    pub(super) fn of(&mut self, g: &Graph, id: NodeId) -> f64 {
        self.update(g);
        self.ops[id.index()]
    }
}

/// As SymPy counts a number: a sign and a division.
fn const_cost(c: Num) -> f64 {
    let neg = if c.is_negative() { 1.0 } else { 0.0 };
    let frac = if c.is_exact() && c.as_int().is_none() {
        1.0
    } else {
        0.0
    };
    neg + frac
}

/// Whether a term is a negative number or a product with a negative
/// coefficient.
pub(super) fn leads_negative(g: &Graph, id: NodeId) -> bool {
    match g.op(id) {
        Op::Const(c) => c.is_negative(),
        Op::Mul => g.as_const(g.args(id)[0]).is_some_and(|c| c.is_negative()),
        _ => false,
    }
}

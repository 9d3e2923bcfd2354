//! The sign of a sum factor. `S` and `-S` are one expression up to sign,
//! so a product keeps each sum factor with a positive leading term (an odd
//! power's sign going to the coefficient): `-(x - y)` and `(y - x)` meet,
//! and so do `1/(v - c)²` and `1/(c - v)²`. Then a negative coefficient
//! goes back into one sum with terms of both signs, which saves its
//! negation; the choice depends on the product's value alone.

use super::{cost, Pass, Sum};
use crate::graph::{Args, NodeId, Op};
use crate::num::Num;
use rustc_hash::FxHashMap;
use std::cmp::Ordering;

impl Pass<'_> {
    /// Whether the first term of canonical sum `id` has a negative coefficient.
    pub(super) fn leads_negative(&self, id: NodeId) -> bool {
        let first = self.g.args(id)[0];
        match self.g.op(first) {
            Op::Const(c) => c.is_negative(),
            Op::Mul => self
                .g
                .as_const(self.g.args(first)[0])
                .is_some_and(|c| c.is_negative()),
            _ => false,
        }
    }

    /// The canonical sum `-id` for a canonical sum node `id`.
    pub(super) fn negated_sum(&mut self, id: NodeId) -> NodeId {
        let mut s = Sum::new();
        let args: Args = self.g.args(id).into();
        for a in args {
            self.add_node_to_sum(&mut s, a);
        }
        s.neg = true;
        self.build_sum(s)
    }

    /// Sum factors raised to integer powers with a positive leading term,
    /// before the product's other rules look for equal bases: a sum whose
    /// sign went to a coefficient (see [`Pass::sign_into_sum`]) meets its
    /// normalized form here (`(b - 1)²·(1 - b)⁻¹` is `-(b - 1)`).
    pub(super) fn sums_leading_positive(
        &mut self,
        coef: &mut Num,
        factors: &mut FxHashMap<NodeId, Num>,
    ) {
        let flip: Vec<(NodeId, Num)> = factors
            .iter()
            .filter(|&(&b, e)| {
                self.g.op(b) == Op::Add
                    && e.is_exact()
                    && e.as_int().is_some()
                    && self.leads_negative(b)
            })
            .map(|(&b, &e)| (b, e))
            .collect();
        for (b, e) in flip {
            factors.remove(&b);
            let flipped = self.negated_sum(b);
            let entry = factors.entry(flipped).or_insert(Num::int(0));
            *entry = entry.add(e);
            if e.as_int().is_some_and(|k| k % 2 != 0) {
                *coef = coef.neg();
            }
        }
        factors.retain(|_, e| !e.is_zero());
    }

    /// A negative coefficient moved into a sum factor with terms of both
    /// signs raised to an odd power, the first such in the factor order:
    /// `-k·(x·t - y)` is `k·(y - x·t)`, one negation fewer, and the sum's
    /// own cost does not depend on which of its terms are subtracted. The
    /// factors have positive leading terms (see [`Pass::monomial`]), so
    /// the choice depends on the product's value alone, and `-c·S` and
    /// `c·(-S)` still meet.
    pub(super) fn sign_into_sum(&mut self, coef: &mut Num, factors: &mut [(NodeId, Num)]) {
        let g = &*self.g;
        let mixed = |b: NodeId| {
            let negatives = g
                .args(b)
                .iter()
                .filter(|&&t| cost::leads_negative(g, t))
                .count();
            negatives > 0 && negatives < g.args(b).len()
        };
        let mut pick: Option<usize> = None;
        for (i, &(b, e)) in factors.iter().enumerate() {
            let odd = e.is_exact() && e.as_int().is_some_and(|k| k % 2 != 0);
            if g.op(b) != Op::Add || !odd || !mixed(b) {
                continue;
            }
            let first =
                pick.is_none_or(|p| self.order.cmp_factor(g, (b, e), factors[p]) == Ordering::Less);
            if first {
                pick = Some(i);
            }
        }
        if let Some(i) = pick {
            factors[i].0 = self.negated_sum(factors[i].0);
            *coef = coef.neg();
        }
    }
}

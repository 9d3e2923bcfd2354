//! Terms that the canonical form spread out of a small sum, gathered back
//! into it: a candidate step before [`super::group`] groups a sum as built.
//!
//! The canonical form merges a number times a small sum into the sum that
//! contains it (`4t·x - 4t + 1/4` with `t = x² + y² - 2x` becomes `4t·x -
//! 4x² - 4y² + 8x + 1/4`), so that like terms meet. But the same sum
//! elsewhere in the term list stays a factor (`4t·x`), and once the merged
//! copy is spread out nothing can take `t` out of both: forward mode, which
//! built `2t·(2x - 2) + 1/4`, prints `4(x - 1)·t + 1/4`, reverse mode a
//! longer form. Where the terms contain a multiple `c·t` of every term of a
//! sum `t` that is a factor of some term, they are put back as the one term
//! `c·t`, and grouping can then take `t` out (`4t·(x - 1) + 1/4`).
//!
//! Candidates are tried in the structural order of [`Order`], never by
//! node id, so the result does not depend on how a mode built the graph.

use super::expand::{self, Poly};
use super::order::Order;
use crate::graph::{Graph, NodeId, Op};
use crate::num::Num;
use rustc_hash::FxHashSet;

/// How deep a sum is expanded to find its spread terms.
const FULL_DEPTH: usize = 12;

/// The polynomial `p` (a sum as built, expanded to depth 0: products are
/// monomials of their operands) with every multiple of a sum that is an
/// atom of `p` gathered into one term of that sum; `None` when there is
/// none.
pub(super) fn sum_regrouped(g: &Graph, order: &mut Order, p: &Poly) -> Option<Poly> {
    let mut sums: Vec<NodeId> = p
        .keys()
        .flat_map(|m| m.iter().map(|&(b, _)| b))
        .filter(|&b| g.op(b) == Op::Add)
        .collect::<FxHashSet<NodeId>>()
        .into_iter()
        .collect();
    if sums.is_empty() {
        return None;
    }
    sums.sort_by(|&a, &b| order.cmp_term(g, a, b));
    let none = FxHashSet::default();
    let mut out = p.clone();
    let mut changed = false;
    for s in sums {
        // The sum's own terms, or its expansion: the sum that stayed a
        // factor has been improved already (`x·(x - 2) + y²`), the spread
        // copy is its terms as first built (`x² + y² - 2x`).
        let found = [0, FULL_DEPTH].into_iter().find_map(|depth| {
            let terms = expand::expand(g, s, depth, &none)?;
            multiple(&out, &terms).map(|c| (terms, c))
        });
        let Some((terms, c)) = found else {
            continue;
        };
        for m in terms.keys() {
            out.remove(m);
        }
        let key = vec![(s, 1)];
        let now = out.get(&key).copied().unwrap_or(Num::int(0)).add(c);
        if now.is_zero() {
            out.remove(&key);
        } else {
            out.insert(key, now);
        }
        changed = true;
    }
    changed.then_some(out)
}

/// The exact number `c` with `c·terms` among the terms of `p`, each with
/// exactly its coefficient there (a term of `p` that also holds more of the
/// same monomial is left alone: gathering would split it).
fn multiple(p: &Poly, terms: &Poly) -> Option<Num> {
    if terms.len() < 2 {
        return None;
    }
    let mut ratio: Option<Num> = None;
    for (m, &k) in terms {
        let &pc = p.get(m)?;
        let r = pc.div(k)?;
        if !r.is_exact() || r.is_zero() {
            return None;
        }
        match ratio {
            None => ratio = Some(r),
            Some(q) if q.sub(r).is_zero() => {}
            Some(_) => return None,
        }
    }
    ratio
}

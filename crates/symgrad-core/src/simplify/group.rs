//! Groups of terms that share a factor, factored out: a candidate form of a
//! sum's normal form (its full expansion) for [`super::factor`] to weigh.
//!
//! The normal form of a derivative is the same whatever mode built it, but
//! it is often longer than a form one mode happens to build (`4x³ + 4xy² -
//! 12x² - 4y² + 8x` against `2t·(2x - 2)`), and then the modes keep their
//! own shorter forms and print differently. A form derived from the normal
//! form alone is as mode-independent as the normal form, so it can win
//! where the expansion loses: here the atom found in the most terms is
//! taken out of those terms (`x·(4x² + 4y² - 12x + 8) - 4y²`), again
//! within the group and within the rest, a multivariate Horner scheme.
//!
//! It works on the polynomial of [`super::expand`] (atoms with integer
//! exponents), never on the graph's sharing, and every choice is by
//! structure ([`Order`]), never by node id, so the modes meet. It costs one
//! pass over the terms per level and builds at most one node per term and
//! level: no candidate is canonicalized here.

use super::expand::{build_terms, power, Poly};
use super::order::Order;
use crate::graph::{Graph, NodeId, Op};
use crate::num::Num;
use rustc_hash::FxHashMap;
use smallvec::smallvec;
use std::cmp::Ordering;

/// A term: coefficient and atoms with their (nonzero) integer exponents.
type Term = (Num, Vec<(NodeId, i64)>);

/// The normal form `p` with shared factors grouped out, as (non-canonical)
/// graph nodes, or `None` when no two terms share a factor that not every
/// term has (then grouping is the common factor, which `factor` tries).
pub(super) fn grouped(g: &mut Graph, order: &mut Order, p: &Poly) -> Option<NodeId> {
    let terms: Vec<Term> = p.iter().map(|(m, &c)| (c, m.clone())).collect();
    if terms.len() < 3 {
        return None;
    }
    // A polynomial in one atom would only be rewritten by Horner's rule
    // (`x² + 3x + 2` as `x·(x + 3) + 2`): one operation shorter, harder to
    // read, and no help to the modes, which meet on its expansion anyway.
    let first = terms.iter().find_map(|(_, m)| m.first().map(|&(b, _)| b));
    if terms
        .iter()
        .all(|(_, m)| m.iter().all(|&(b, _)| Some(b) == first))
    {
        return None;
    }
    let (atom, _) = best_atom(g, order, &terms)?;
    let shared = terms
        .iter()
        .filter(|(_, m)| m.iter().any(|&(b, _)| b == atom))
        .count();
    if shared == terms.len() {
        return None;
    }
    Some(group(g, order, terms))
}

/// The atom (with the sign of its exponents) found in the most terms, at
/// least two; ties go to the first in the canonical factor order.
fn best_atom(g: &Graph, order: &mut Order, terms: &[Term]) -> Option<(NodeId, bool)> {
    let mut counts: FxHashMap<(NodeId, bool), usize> = FxHashMap::default();
    for (_, m) in terms {
        for &(b, k) in m {
            *counts.entry((b, k > 0)).or_insert(0) += 1;
        }
    }
    let mut best: Option<((NodeId, bool), usize)> = None;
    for (&key, &n) in &counts {
        if n < 2 {
            continue;
        }
        let better = match best {
            None => true,
            Some((bk, bn)) => {
                n > bn
                    || (n == bn
                        && order.cmp_factor(g, (key.0, sign(key.1)), (bk.0, sign(bk.1)))
                            == Ordering::Less)
            }
        };
        if better {
            best = Some((key, n));
        }
    }
    best.map(|(k, _)| k)
}

fn sign(positive: bool) -> Num {
    Num::int(if positive { 1 } else { -1 })
}

/// `Σ terms` with the most shared atom taken out of the terms that have it,
/// recursively in the group and in the rest. Each level removes one atom
/// from the group's terms, so the depth is at most the number of atoms and
/// factors per term.
fn group(g: &mut Graph, order: &mut Order, terms: Vec<Term>) -> NodeId {
    let Some((atom, positive)) = best_atom(g, order, &terms) else {
        // No atom is shared by two terms: a plain sum.
        return build_terms(g, terms.iter().map(|(c, m)| (*c, m.as_slice())));
    };
    let (mut with, rest): (Vec<Term>, Vec<Term>) = terms
        .into_iter()
        .partition(|(_, m)| m.iter().any(|&(b, k)| b == atom && (k > 0) == positive));
    // The exponent every grouped term has at least (nearest zero).
    let least = with
        .iter()
        .filter_map(|(_, m)| m.iter().find(|&&(b, _)| b == atom).map(|&(_, k)| k))
        .min_by_key(|k| k.abs())
        .unwrap_or(1);
    for (_, m) in &mut with {
        for f in m.iter_mut() {
            if f.0 == atom {
                f.1 -= least;
            }
        }
        m.retain(|&(_, k)| k != 0);
    }
    let inner = group(g, order, with);
    let factor = power(g, atom, least);
    let grouped = g.intern(Op::Mul, smallvec![factor, inner]);
    if rest.is_empty() {
        return grouped;
    }
    let rest = group(g, order, rest);
    g.intern(Op::Add, smallvec![grouped, rest])
}

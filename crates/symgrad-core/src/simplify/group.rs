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

/// A term: coefficient and atoms with their (nonzero) integer exponents.
type Term = (Num, Vec<(NodeId, i64)>);

/// The normal form `p` with shared factors grouped out, as (non-canonical)
/// graph nodes: the grouping by the most shared atom first, then, for a
/// sum of at most [`EACH_ATOM_TERMS`] terms, one grouping for each other
/// atom that two terms share, that atom taken out first. Empty when no two
/// terms share a factor that not every term has (then grouping is the
/// common factor, which `factor` tries), unless `common` is set: then a
/// factor of every term is grouped too (for a sum no other step factors).
///
/// The most shared atom is not always the best first choice (`2t₅·(t₂·c +
/// t₄·t₇) - x·t₂·t₄` takes out `t₅`, which ties with `t₂` and `t₄`), and the
/// mode that built the sum may have found the other one: trying each lets
/// every mode reach the shortest.
pub(super) fn grouped(g: &mut Graph, order: &mut Order, p: &Poly, common: bool) -> Vec<NodeId> {
    let terms: Vec<Term> = p.iter().map(|(m, &c)| (c, m.clone())).collect();
    if terms.len() < if common { 2 } else { 3 } {
        return Vec::new();
    }
    // A polynomial in one atom would only be rewritten by Horner's rule
    // (`x² + 3x + 2` as `x·(x + 3) + 2`): one operation shorter, harder to
    // read, and no help to the modes, which meet on its expansion anyway.
    let first = terms.iter().find_map(|(_, m)| m.first().map(|&(b, _)| b));
    if terms
        .iter()
        .all(|(_, m)| m.iter().all(|&(b, _)| Some(b) == first))
    {
        return Vec::new();
    }
    let mut atoms = shared_atoms(g, order, &terms);
    atoms.retain(|&(_, n)| common || n < terms.len());
    let Some(&(best, _)) = atoms.first() else {
        return Vec::new();
    };
    let mut out = vec![group(g, order, terms.clone(), Some(best))];
    if terms.len() <= EACH_ATOM_TERMS {
        for &(atom, _) in &atoms[1..] {
            out.push(group(g, order, terms.clone(), Some(atom)));
        }
    }
    out
}

/// Sums of at most this many terms are also grouped by each shared atom
/// first (see [`grouped`]); larger ones by the most shared only, which
/// keeps the candidates linear in the number of terms.
const EACH_ATOM_TERMS: usize = 8;

/// The atoms (with the sign of their exponents) found in at least two
/// terms, with how many, the most shared first; ties go to the first in the
/// canonical factor order.
fn shared_atoms(g: &Graph, order: &mut Order, terms: &[Term]) -> Vec<((NodeId, bool), usize)> {
    let mut counts: FxHashMap<(NodeId, bool), usize> = FxHashMap::default();
    for (_, m) in terms {
        for &(b, k) in m {
            *counts.entry((b, k > 0)).or_insert(0) += 1;
        }
    }
    let mut atoms: Vec<((NodeId, bool), usize)> =
        counts.into_iter().filter(|&(_, n)| n >= 2).collect();
    atoms.sort_by(|&(a, na), &(b, nb)| {
        nb.cmp(&na)
            .then_with(|| order.cmp_factor(g, (a.0, sign(a.1)), (b.0, sign(b.1))))
    });
    atoms
}

/// The atom (with the sign of its exponents) found in the most terms, at
/// least two; ties go to the first in the canonical factor order.
fn best_atom(g: &Graph, order: &mut Order, terms: &[Term]) -> Option<(NodeId, bool)> {
    shared_atoms(g, order, terms).first().map(|&(k, _)| k)
}

fn sign(positive: bool) -> Num {
    Num::int(if positive { 1 } else { -1 })
}

/// `Σ terms` with `first` (or else the most shared atom) taken out of the
/// terms that have it, recursively, by the most shared atom, in the group
/// and in the rest. Each level removes one atom from the group's terms, so
/// the depth is at most the number of atoms and factors per term.
fn group(
    g: &mut Graph,
    order: &mut Order,
    terms: Vec<Term>,
    first: Option<(NodeId, bool)>,
) -> NodeId {
    let Some((atom, positive)) = first.or_else(|| best_atom(g, order, &terms)) else {
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
    let inner = group(g, order, with, None);
    let factor = power(g, atom, least);
    let grouped = g.intern(Op::Mul, smallvec![factor, inner]);
    if rest.is_empty() {
        return grouped;
    }
    let rest = group(g, order, rest, None);
    g.intern(Op::Add, smallvec![grouped, rest])
}

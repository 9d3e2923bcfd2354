//! Bounded expansion of sums into (Laurent) polynomials, for [`super::factor`]
//! to try beside the canonical form: `g²·(t/g² + 1) - 2t` is `g² - t` once
//! the product is distributed, and the derivative of a polynomial is shortest
//! expanded (`2y·(y·(y+1) - 14) + ...` is `12y⁵ - 40y⁴ + ...`).
//!
//! Anything that is not a sum, a product, a number or an integer power is an
//! atom, and so is everything deeper than the depth asked for; atoms carry
//! integer exponents, negative ones included, so that `g²·g⁻²` cancels.
//! Expansion gives up (returns `None`) past [`MAX_POLY_TERMS`] terms at any
//! step, so its cost is bounded whatever the input.

use super::order::split_pow;
use crate::graph::{Args, Graph, NodeId, Op};
use crate::num::Num;
use rustc_hash::{FxHashMap, FxHashSet};
use smallvec::smallvec;

/// Past this many terms an expansion is abandoned.
pub(super) const MAX_POLY_TERMS: usize = 48;
/// Integer powers of sums up to this exponent are multiplied out.
const MAX_POWER: i64 = 6;

/// A monomial: atoms (node ids) with nonzero integer exponents, sorted by id.
type Monomial = Vec<(NodeId, i64)>;
/// A polynomial: monomials with their (nonzero) coefficients.
pub(super) type Poly = FxHashMap<Monomial, Num>;

fn constant(c: Num) -> Poly {
    let mut p = Poly::default();
    if !c.is_zero() {
        p.insert(Vec::new(), c);
    }
    p
}

fn atom(g: &Graph, id: NodeId) -> Poly {
    let (base, e) = split_pow(g, id);
    let mono = match e.as_int() {
        Some(k) if e.is_exact() => vec![(base, k)],
        _ => vec![(id, 1)],
    };
    let mut p = Poly::default();
    p.insert(mono, Num::int(1));
    p
}

fn add_into(acc: &mut Poly, p: &Poly) -> Option<()> {
    for (m, &c) in p {
        let entry = acc.entry(m.clone()).or_insert(Num::int(0));
        *entry = entry.add(c);
        if entry.is_zero() {
            acc.remove(m);
        }
    }
    (acc.len() <= MAX_POLY_TERMS).then_some(())
}

fn mul_mono(a: &Monomial, b: &Monomial) -> Monomial {
    let mut out: Monomial = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let take_a = j >= b.len() || (i < a.len() && a[i].0 < b[j].0);
        let take_b = i >= a.len() || (j < b.len() && b[j].0 < a[i].0);
        if take_a {
            out.push(a[i]);
            i += 1;
        } else if take_b {
            out.push(b[j]);
            j += 1;
        } else {
            let k = a[i].1 + b[j].1;
            if k != 0 {
                out.push((a[i].0, k));
            }
            i += 1;
            j += 1;
        }
    }
    out
}

fn mul(a: &Poly, b: &Poly) -> Option<Poly> {
    if a.len() * b.len() > 4 * MAX_POLY_TERMS * MAX_POLY_TERMS {
        return None;
    }
    let mut out = Poly::default();
    for (ma, &ca) in a {
        for (mb, &cb) in b {
            let m = mul_mono(ma, mb);
            let entry = out.entry(m.clone()).or_insert(Num::int(0));
            *entry = entry.add(ca.mul(cb));
            if entry.is_zero() {
                out.remove(&m);
            }
        }
    }
    (out.len() <= MAX_POLY_TERMS).then_some(out)
}

/// `id` expanded down to `depth` levels of products (sums at one level are
/// one polynomial), or `None` when that is too large.
/// A sum in `keep` other than `id` itself is an atom: a large sum used
/// more than once stays one shared node, as the canonical form keeps it.
pub(super) fn expand(
    g: &Graph,
    id: NodeId,
    depth: usize,
    keep: &FxHashSet<NodeId>,
) -> Option<Poly> {
    let mut memo: FxHashMap<(NodeId, usize), Poly> = FxHashMap::default();
    let mut cx = Cx {
        g,
        keep,
        top: id,
        memo: &mut memo,
    };
    cx.poly(id, depth)
}

struct Cx<'a> {
    g: &'a Graph,
    keep: &'a FxHashSet<NodeId>,
    top: NodeId,
    memo: &'a mut FxHashMap<(NodeId, usize), Poly>,
}

impl Cx<'_> {
    fn poly(&mut self, id: NodeId, depth: usize) -> Option<Poly> {
        let g = self.g;
        if let Some(p) = self.memo.get(&(id, depth)) {
            return Some(p.clone());
        }
        let p = match g.op(id) {
            Op::Add if id != self.top && self.keep.contains(&id) => atom(g, id),
            Op::Const(c) => constant(c),
            Op::Add => {
                let mut acc = Poly::default();
                for &a in g.args(id) {
                    let pa = self.poly(a, depth)?;
                    add_into(&mut acc, &pa)?;
                }
                acc
            }
            Op::Mul if depth > 0 => {
                let mut acc = constant(Num::int(1));
                for &a in g.args(id) {
                    let pa = self.poly(a, depth - 1)?;
                    acc = mul(&acc, &pa)?;
                }
                acc
            }
            Op::Mul => {
                // Past the depth a product is still a monomial in its operands
                // (so `g²·g⁻²` cancels), with sums among them as atoms.
                let mut acc = constant(Num::int(1));
                for &a in g.args(id) {
                    let pa = match g.as_const(a) {
                        Some(c) => constant(c),
                        None => atom(g, a),
                    };
                    acc = mul(&acc, &pa)?;
                }
                acc
            }
            Op::Pow if depth > 0 => {
                let (base, e) = split_pow(g, id);
                match e.as_int() {
                    Some(k) if e.is_exact() && (1..=MAX_POWER).contains(&k) => {
                        let pb = self.poly(base, depth - 1)?;
                        let mut acc = pb.clone();
                        for _ in 1..k {
                            acc = mul(&acc, &pb)?;
                        }
                        acc
                    }
                    _ => atom(g, id),
                }
            }
            _ => atom(g, id),
        };
        self.memo.insert((id, depth), p.clone());
        Some(p)
    }
}

/// The polynomial as (non-canonical) graph nodes.
pub(super) fn build(g: &mut Graph, p: &Poly) -> NodeId {
    build_terms(g, p.iter().map(|(m, &c)| (c, m.as_slice())))
}

/// A sum of terms, each a coefficient times atoms to nonzero integer
/// powers, as (non-canonical) graph nodes.
pub(super) fn build_terms<'a>(
    g: &mut Graph,
    terms: impl IntoIterator<Item = (Num, &'a [(NodeId, i64)])>,
) -> NodeId {
    let mut args = Args::new();
    for (c, m) in terms {
        if m.is_empty() {
            args.push(g.constant(c));
            continue;
        }
        let mut margs: Args = smallvec![g.constant(c)];
        for &(b, k) in m {
            margs.push(power(g, b, k));
        }
        // A lone factor stays itself (a one-factor product would be taken
        // for a product to flatten into the sum).
        args.push(if margs.len() == 2 && c.is_exact() && c.is_one() {
            margs[1]
        } else {
            g.intern(Op::Mul, margs)
        });
    }
    match args.len() {
        0 => g.int(0),
        1 => args[0],
        _ => g.intern(Op::Add, args),
    }
}

/// `b^k` as a node, `b` itself for k = 1.
pub(super) fn power(g: &mut Graph, b: NodeId, k: i64) -> NodeId {
    if k == 1 {
        return b;
    }
    let kn = g.int(k);
    g.intern(Op::Pow, smallvec![b, kn])
}

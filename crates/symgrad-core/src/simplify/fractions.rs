//! Quotients within one canonical product: a shared product kept as one
//! factor is opened where its factors meet others (so common factors of a
//! quotient cancel), and a small sum of fractions is put over its common
//! denominator. Each takes the product's coefficient and factor map (base
//! to exponent) and rewrites them in place.

use super::order::split_pow;
use super::{Pass, Prod, Repr, Sum, OPEN_LIMIT, SMALL};
use crate::graph::{Args, NodeId, Op};
use crate::num::Num;
use rustc_hash::FxHashMap;

impl Pass<'_> {
    /// Quotients of products cancel common factors: a shared product kept
    /// as one factor (it has more than [`SMALL`] operands) is opened into
    /// the product that uses it when one of its own factors meets another
    /// factor there, so that `(T*V1*kb*n/V2) * V2/V1^2` is `T*kb*n/V1`
    /// whichever mode built it; and so is a shared product that is the only
    /// factor. Products only: no sum is expanded.
    pub(super) fn open_shared_products(
        &mut self,
        coef: &mut Num,
        factors: &mut FxHashMap<NodeId, Num>,
    ) {
        loop {
            let mut opened = None;
            for (&b, &e) in factors.iter() {
                if self.g.op(b) != Op::Mul || !e.is_exact() || e.as_int().is_none() {
                    continue;
                }
                // A product that stays small with the shared product opened
                // opens it too, so that `-r*t` with `t = 2*g*u/v^2` is
                // `-2*g*r*u/v^2` whether or not another root shares `t`
                // (reverse mode shares such products, forward mode does
                // not); the bound keeps printing linear.
                let alone = factors.len() + self.g.args(b).len() <= OPEN_LIMIT;
                let meets = alone
                    || self.g.args(b).iter().any(|&a| {
                        let (base, _) = split_pow(self.g, a);
                        base != b && factors.contains_key(&base)
                    });
                if meets {
                    opened = Some((b, e));
                    break;
                }
            }
            let Some((b, e)) = opened else {
                return;
            };
            factors.remove(&b);
            let args: Args = self.g.args(b).into();
            for a in args {
                if let Some(c) = self.g.as_const(a) {
                    let k = self.g.constant(e);
                    let c = self.g.constant(c);
                    let v = self.g.pow(c, k);
                    match self.g.as_const(v) {
                        Some(v) => *coef = coef.mul(v),
                        None => {
                            let entry = factors.entry(c).or_insert(Num::int(0));
                            *entry = entry.add(e);
                        }
                    }
                    continue;
                }
                let (base, k) = split_pow(self.g, a);
                let entry = factors.entry(base).or_insert(Num::int(0));
                *entry = entry.add(k.mul(e));
            }
            factors.retain(|_, e| !e.is_zero());
        }
    }

    /// Sums of fractions over a common denominator, as SymPy's `together`
    /// does, where that shortens them: a factor `S^k` of the product whose
    /// sum `S` (at most [`SMALL`] terms) has terms with denominators becomes
    /// `N^k · D^-k` with `S = N/D`, when `D` is made of denominators that
    /// every term shares (`exp(a)/t^2 - 1/t` is `(exp(a) - t)/t^2`), or, for a
    /// sum in a denominator (`k < 0`), of all its terms' denominators
    /// (`1/(v/c - 1)` is `c/(v - c)`). `N` is built as a sum, so the terms it
    /// gains meet and cancel (`t` merges into it when it is a small sum).
    pub(super) fn combine_fractions(
        &mut self,
        coef: &mut Num,
        factors: &mut FxHashMap<NodeId, Num>,
    ) {
        let candidates: Vec<(NodeId, Num)> = factors
            .iter()
            .filter(|&(&b, e)| {
                self.g.op(b) == Op::Add && self.g.args(b).len() <= SMALL && e.as_int().is_some()
            })
            .map(|(&b, &e)| (b, e))
            .collect();
        for (s, k) in candidates {
            let terms: Vec<NodeId> = self.g.args(s).into();
            // Each term's denominators: bases with negative exponents.
            let dens: Vec<Vec<(NodeId, Num)>> = terms
                .iter()
                .map(|&t| {
                    let fs: Vec<NodeId> = match self.g.op(t) {
                        Op::Mul => self.g.args(t).into(),
                        _ => vec![t],
                    };
                    fs.into_iter()
                        .map(|f| split_pow(self.g, f))
                        .filter(|(_, e)| e.is_negative())
                        .collect()
                })
                .collect();
            // D as base -> exponent (positive): the denominators every term
            // shares, or for a denominator sum all of them, at their largest
            // power (the least common denominator).
            let mut d: FxHashMap<NodeId, Num> = FxHashMap::default();
            if k.is_negative() {
                for (b, e) in dens.iter().flatten() {
                    let p = e.neg();
                    let entry = d.entry(*b).or_insert(p);
                    if p.to_f64() > entry.to_f64() {
                        *entry = p;
                    }
                }
            } else if let Some(first) = dens.first() {
                for &(b, e) in first {
                    let mut p = e.neg();
                    let mut everywhere = true;
                    for other in &dens[1..] {
                        match other.iter().find(|(ob, _)| *ob == b) {
                            Some((_, oe)) if oe.neg().to_f64() > p.to_f64() => p = oe.neg(),
                            Some(_) => {}
                            None => everywhere = false,
                        }
                    }
                    if everywhere {
                        d.insert(b, p);
                    }
                }
            }
            if d.is_empty() || d.len() > SMALL {
                continue;
            }
            // N = S·D, term by term, as a pending sum so that terms cancel.
            let mut n = Sum::new();
            for &t in &terms {
                let mut p = Prod::new();
                self.add_node_to_prod(&mut p, t);
                for (&b, &e) in &d {
                    p.mul_factor(b, e);
                }
                self.add_to_sum(&mut n, Repr::Prod(Box::new(p)));
            }
            let numerator = self.build_sum(n);
            factors.remove(&s);
            let add = |base: NodeId, e: Num, factors: &mut FxHashMap<NodeId, Num>| {
                let entry = factors.entry(base).or_insert(Num::int(0));
                *entry = entry.add(e);
            };
            match self.g.as_const(numerator) {
                Some(c) => {
                    let kn = self.g.constant(k);
                    let cn = self.g.constant(c);
                    let v = self.g.pow(cn, kn);
                    match self.g.as_const(v) {
                        Some(v) => *coef = coef.mul(v),
                        None => add(cn, k, factors),
                    }
                }
                None => {
                    // A numerator that is one product joins this product.
                    let (nc, nfs) = match self.g.op(numerator) {
                        Op::Mul => {
                            let args: Vec<NodeId> = self.g.args(numerator).into();
                            match self.g.as_const(args[0]) {
                                Some(c) => (Some(c), args[1..].to_vec()),
                                None => (None, args),
                            }
                        }
                        _ => (None, vec![numerator]),
                    };
                    if let Some(c) = nc {
                        let kn = self.g.constant(k);
                        let cn = self.g.constant(c);
                        let v = self.g.pow(cn, kn);
                        match self.g.as_const(v) {
                            Some(v) => *coef = coef.mul(v),
                            None => add(cn, k, factors),
                        }
                    }
                    for f in nfs {
                        let (b, e) = split_pow(self.g, f);
                        add(b, e.mul(k), factors);
                    }
                }
            }
            for (&b, &e) in &d {
                add(b, e.mul(k).neg(), factors);
            }
            factors.retain(|_, e| !e.is_zero());
        }
    }
}

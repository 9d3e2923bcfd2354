//! More rules for the factors of one canonical product, beside those in the
//! parent module: `abs(u)·sign(u) = u`, a power of a product divided by its
//! own factors, powers of one base with symbolic exponents merged, and
//! `exp(u)/(exp(u) + c) = 1/(1 + c·exp(-u))`. Each takes the product's
//! factor map (base to exponent) and rewrites it in place.

use super::order::split_pow;
use super::{Pass, Repr, Sum};
use crate::graph::{Func, NodeId, Op};
use crate::num::Num;
use rustc_hash::FxHashMap;
use smallvec::smallvec;

impl Pass<'_> {
    /// `abs(u)·sign(u)` is `u` (for every real u, 0 included): the derivative
    /// of `abs(x)^2` is `2*x`, not `2*abs(x)*sign(x)`.
    pub(super) fn abs_times_sign(&mut self, factors: &mut FxHashMap<NodeId, Num>) {
        let pairs: Vec<(NodeId, NodeId, NodeId)> = factors
            .keys()
            .filter(|&&a| self.g.op(a) == Op::Func(Func::Abs))
            .filter_map(|&a| {
                let u = self.g.args(a)[0];
                let sign = factors
                    .keys()
                    .copied()
                    .find(|&s| self.g.op(s) == Op::Func(Func::Sign) && self.g.args(s)[0] == u)?;
                Some((a, sign, u))
            })
            .collect();
        for (a, sign, u) in pairs {
            let (Some(ka), Some(ks)) = (
                factors.get(&a).and_then(|e| e.as_int()),
                factors.get(&sign).and_then(|e| e.as_int()),
            ) else {
                continue;
            };
            let m = ka.min(ks);
            if m <= 0 {
                continue;
            }
            for (f, k) in [(a, ka), (sign, ks)] {
                if k == m {
                    factors.remove(&f);
                } else {
                    factors.insert(f, Num::int(k - m));
                }
            }
            let (base, e) = split_pow(self.g, u);
            let entry = factors.entry(base).or_insert(Num::int(0));
            *entry = entry.add(e.mul(Num::int(m)));
            factors.retain(|_, e| !e.is_zero());
        }
    }

    /// `P^q · P's own factors` is `P^(q+1)` when the product holds every
    /// factor of the product node `P` (kept whole because its exponent is
    /// not an integer) at least at its power: `a³/(G·M²·sqrt(a³/(G·M)))`
    /// is `sqrt(a³/(G·M))/M`. The inverse too (`P^q / P's factors`).
    pub(super) fn cancel_product_powers(&mut self, factors: &mut FxHashMap<NodeId, Num>) {
        let candidates: Vec<(NodeId, Num)> = factors
            .iter()
            .filter(|&(&b, e)| self.g.op(b) == Op::Mul && e.as_int().is_none())
            .map(|(&b, &e)| (b, e))
            .collect();
        for (p, _) in candidates {
            let inner: Vec<(NodeId, Num)> = self
                .g
                .args(p)
                .iter()
                .map(|&a| split_pow(self.g, a))
                .collect();
            if inner.iter().any(|&(b, _)| self.g.as_const(b).is_some()) {
                continue;
            }
            for sign in [1i64, -1] {
                let covered = inner.iter().all(|&(b, e)| {
                    let want = e.mul(Num::int(sign));
                    factors.get(&b).is_some_and(|&have| {
                        have.is_exact()
                            && want.is_exact()
                            && have.is_negative() == want.is_negative()
                            && have.to_f64().abs() >= want.to_f64().abs()
                    })
                });
                if !covered {
                    continue;
                }
                for &(b, e) in &inner {
                    let entry = factors.entry(b).or_insert(Num::int(0));
                    *entry = entry.sub(e.mul(Num::int(sign)));
                }
                let entry = factors.entry(p).or_insert(Num::int(0));
                *entry = entry.add(Num::int(sign));
                factors.retain(|_, e| !e.is_zero());
                break;
            }
        }
    }

    /// Powers of one base with symbolic exponents are one power:
    /// `b^(1/n - 1) · (b^(1/n))^-2` is `b^(-1/n - 1)`, and a numeric power
    /// of `b` itself joins them.
    pub(super) fn merge_symbolic_powers(&mut self, factors: &mut FxHashMap<NodeId, Num>) {
        // base -> [(factor node, its exponent node, its outer exponent)]
        let mut groups: FxHashMap<NodeId, Vec<(NodeId, NodeId, Num)>> = FxHashMap::default();
        for (&f, &k) in factors.iter() {
            if self.g.op(f) == Op::Pow && k.is_exact() {
                let args = self.g.args(f);
                if self.g.as_const(args[1]).is_none() && self.g.as_const(args[0]).is_none() {
                    groups.entry(args[0]).or_default().push((f, args[1], k));
                }
            }
        }
        let mut bases: Vec<NodeId> = groups.keys().copied().collect();
        bases.sort();
        for b in bases {
            let members = &groups[&b];
            let plain = factors.get(&b).copied().filter(|e| e.is_exact());
            if members.len() + usize::from(plain.is_some()) < 2 {
                continue;
            }
            let mut sum = Sum::new();
            for &(f, e, k) in members {
                factors.remove(&f);
                let mut p = super::Prod::new();
                p.coef = k;
                self.add_node_to_prod(&mut p, e);
                self.add_to_sum(&mut sum, Repr::Prod(Box::new(p)));
            }
            if let Some(k) = plain {
                factors.remove(&b);
                sum.add_const(k);
            }
            let e = self.build_sum(sum);
            match self.g.as_const(e) {
                Some(k) => {
                    let entry = factors.entry(b).or_insert(Num::int(0));
                    *entry = entry.add(k);
                }
                None => {
                    let power = self.g.intern(Op::Pow, smallvec![b, e]);
                    let entry = factors.entry(power).or_insert(Num::int(0));
                    *entry = entry.add(Num::int(1));
                }
            }
            factors.retain(|_, e| !e.is_zero());
        }
    }

    /// `exp(u) · (exp(u) + c)^-1` is `(1 + c·exp(-u))^-1` when `u` leads
    /// with a minus sign, so that the logistic loss's derivative
    /// `-y·exp(-y·t)/(exp(-y·t) + 1)` is `-y/(exp(y·t) + 1)`.
    pub(super) fn exp_over_exp_sum(&mut self, factors: &mut FxHashMap<NodeId, Num>) {
        let found: Vec<(NodeId, NodeId, NodeId, Num)> = factors
            .iter()
            .filter(|&(&s, e)| self.g.op(s) == Op::Add && e.is_int(-1))
            .filter_map(|(&s, _)| {
                let args = self.g.args(s);
                if args.len() != 2 {
                    return None;
                }
                let c = self.g.as_const(args[1])?;
                let ex = args[0];
                if self.g.op(ex) != Op::Func(Func::Exp) || !factors.get(&ex)?.is_int(1) {
                    return None;
                }
                let u = self.g.args(ex)[0];
                let leads_negative = match self.g.op(u) {
                    Op::Mul => self
                        .g
                        .as_const(self.g.args(u)[0])
                        .is_some_and(|k| k.is_negative()),
                    Op::Add => self.leads_negative(u),
                    _ => false,
                };
                leads_negative.then_some((s, ex, u, c))
            })
            .collect();
        for (s, ex, u, c) in found {
            if !factors.contains_key(&s) || !factors.contains_key(&ex) {
                continue;
            }
            factors.remove(&s);
            factors.remove(&ex);
            let neg = self.negate(Repr::Node(u));
            let minus_u = self.build(neg);
            let e = self.g.func(Func::Exp, minus_u);
            let mut sum = Sum::new();
            self.add_scaled_node_to_sum(&mut sum, e, c);
            sum.add_const(Num::int(1));
            let d = self.build_sum(sum);
            let entry = factors.entry(d).or_insert(Num::int(0));
            *entry = entry.add(Num::int(-1));
            factors.retain(|_, e| !e.is_zero());
        }
    }
}

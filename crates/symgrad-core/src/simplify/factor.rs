//! Common factors out of sums, where that shortens the expression: SymPy's
//! `factor_terms`, with its `together` for denominators every term shares.
//!
//! For a canonical sum `Σ cᵢ·Πⱼ bⱼ^eᵢⱼ`, the common part is the greatest
//! common divisor of the exact coefficients times every base that all terms
//! have with exponents of one sign, at the smallest of those exponents (for
//! a denominator that is its largest power, the least common denominator).
//! The sum becomes `common · Σ (term / common)`, and that product is put in
//! canonical form again, so the inner sum's terms meet and cancel
//! (`V/t - S·V/t²` with `t = K + S` is `V·(t - S)/t²`, which is `K·V/t²`). The
//! rewrite is kept only when it lowers the operation count of the
//! expression tree with every shared node counted at each use ([`Cost`]):
//! that is how a printed derivative with its bindings inlined is counted.
//!
//! The pass runs bottom-up over the topological order (no recursion over
//! depth), on scalar graphs only: a graph with tensor nodes is left alone.

use super::cost::Cost;
use super::order::{split_pow, Order};
use super::{expand, group, regroup};
use crate::graph::{Args, Graph, NodeId, Op};
use crate::num::Num;
use rustc_hash::{FxHashMap, FxHashSet};
use smallvec::smallvec;

/// Sums with more terms than this are left as they are (the common part of
/// a huge sum is rarely more than a number, and the search is quadratic in
/// the number of distinct bases).
const MAX_TERMS: usize = 64;

/// Puts a new expression in canonical form, keeping the given sums shared.
pub(super) type Canonical<'a> =
    dyn FnMut(&mut Graph, &mut Order, NodeId, &FxHashSet<NodeId>) -> NodeId + 'a;

/// How deep "expanded in full" goes (products within products).
const FULL_DEPTH: usize = 12;

/// One term of a sum: its coefficient and its factors as base and exponent.
struct Term {
    coef: Num,
    factors: Vec<(NodeId, Num)>,
}

fn term_of(g: &Graph, id: NodeId) -> Term {
    if let Some(c) = g.as_const(id) {
        return Term {
            coef: c,
            factors: Vec::new(),
        };
    }
    let mut coef = Num::int(1);
    let mut factors: Vec<(NodeId, Num)> = Vec::new();
    // Factors of nested products (a factored sum inside a product) too.
    let mut stack = vec![(id, Num::int(1))];
    while let Some((f, k)) = stack.pop() {
        if g.op(f) == Op::Mul && k.is_one() {
            for &a in g.args(f) {
                stack.push((a, k));
            }
            continue;
        }
        if let Some(c) = g.as_const(f) {
            match c.pow_exact(k) {
                Some(v) => coef = coef.mul(v),
                None => factors.push((f, k)),
            }
            continue;
        }
        let (b, e) = split_pow(g, f);
        let e = e.mul(k);
        match factors.iter_mut().find(|(fb, _)| *fb == b) {
            Some((_, fe)) => *fe = fe.add(e),
            None => factors.push((b, e)),
        }
    }
    Term { coef, factors }
}

fn gcd(a: i64, b: i64) -> i64 {
    let (mut a, mut b) = (a.unsigned_abs(), b.unsigned_abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a as i64
}

/// The positive rational gcd of exact coefficients (gcd of numerators over
/// lcm of denominators), or 1 when one of them is not exact.
fn coefficient_gcd(terms: &[Term]) -> Num {
    let mut num = 0i64;
    let mut den = 1i64;
    for t in terms {
        let Num::Rational(r) = t.coef else {
            return Num::int(1);
        };
        num = gcd(num, *r.numer());
        let d = *r.denom();
        let Some(l) = (den / gcd(den, d)).checked_mul(d) else {
            return Num::int(1);
        };
        den = l;
    }
    if num == 0 {
        return Num::int(1);
    }
    Num::ratio(num, den).unwrap_or(Num::int(1))
}

/// The common part of the terms: the coefficient gcd and the shared bases
/// at their smallest exponent.
fn common_part(terms: &[Term]) -> (Num, Vec<(NodeId, Num)>) {
    let coef = coefficient_gcd(terms);
    let mut common = Vec::new();
    if let Some(first) = terms.first() {
        'bases: for &(b, e0) in &first.factors {
            if !e0.is_exact() || e0.is_zero() {
                continue;
            }
            let mut least = e0;
            for t in &terms[1..] {
                match t.factors.iter().find(|(tb, _)| *tb == b) {
                    Some(&(_, e))
                        if e.is_exact() && !e.is_zero() && e.is_negative() == e0.is_negative() =>
                    {
                        if e.to_f64() < least.to_f64() {
                            least = e;
                        }
                    }
                    _ => continue 'bases,
                }
            }
            common.push((b, least));
        }
    }
    (coef, common)
}

/// The least common denominator of the terms: every base with a negative
/// integer exponent in some term, at its most negative (a term without it
/// counting as exponent 0), with the coefficient gcd. Taking it out puts
/// the sum over one denominator, as SymPy's `together` does.
fn denominator_part(terms: &[Term]) -> (Num, Vec<(NodeId, Num)>) {
    let coef = coefficient_gcd(terms);
    let mut common: Vec<(NodeId, Num)> = Vec::new();
    for t in terms {
        for &(b, e) in &t.factors {
            if !e.is_exact() || e.as_int().is_none() || !e.is_negative() {
                continue;
            }
            match common.iter_mut().find(|(cb, _)| *cb == b) {
                Some((_, ce)) if e.to_f64() < ce.to_f64() => *ce = e,
                Some(_) => {}
                None => common.push((b, e)),
            }
        }
    }
    // A base also raised to a positive or fractional power in another
    // term would leave that term with a power that is not simpler.
    common.retain(|&(b, _)| {
        terms.iter().all(|t| {
            t.factors
                .iter()
                .all(|&(tb, te)| tb != b || (te.is_negative() && te.as_int().is_some()))
        })
    });
    (coef, common)
}

/// Whether `id` is a number times a sum and nothing else.
fn bare_multiple(g: &Graph, id: NodeId) -> bool {
    let args = g.args(id);
    g.op(id) == Op::Mul
        && args.len() == 2
        && g.as_const(args[0]).is_some()
        && g.op(args[1]) == Op::Add
}

/// How many sums at the top of `id` (itself, or the operands of a product)
/// have a numeric content, a coefficient gcd other than 1.
fn content(g: &Graph, id: NodeId) -> usize {
    let has = |s: NodeId| {
        if g.op(s) != Op::Add {
            return false;
        }
        let terms: Vec<Term> = g.args(s).iter().map(|&t| term_of(g, t)).collect();
        !coefficient_gcd(&terms).is_one()
    };
    match g.op(id) {
        Op::Add => usize::from(has(id)),
        Op::Mul => g.args(id).iter().filter(|&&a| has(a)).count(),
        _ => 0,
    }
}

/// The product `id` with the numeric content of each of its sum factors
/// (raised to a positive integer power) moved to its coefficient:
/// `-(20·sin(u) + 6·sin(v))·S` is `-2·(10·sin(u) + 3·sin(v))·S`. Not yet in
/// canonical form; `None` when no sum factor has a content.
fn content_out(g: &mut Graph, id: NodeId) -> Option<NodeId> {
    let args: Args = g.args(id).into();
    let mut coef = Num::int(1);
    let mut out = Args::new();
    let mut changed = false;
    for a in args {
        let (b, e) = split_pow(g, a);
        let k = e.as_int().filter(|&k| k > 0 && e.is_exact());
        let (Some(k), Op::Add) = (k, g.op(b)) else {
            out.push(a);
            continue;
        };
        let terms: Vec<Term> = g.args(b).iter().map(|&t| term_of(g, t)).collect();
        let c = coefficient_gcd(&terms);
        let Some(ck) = c.pow_exact(Num::int(k)) else {
            out.push(a);
            continue;
        };
        if c.is_one() {
            out.push(a);
            continue;
        }
        let mut inner = Args::new();
        for t in &terms {
            let tc = g.constant(t.coef.div(c)?);
            if t.factors.is_empty() {
                inner.push(tc);
                continue;
            }
            let mut margs: Args = smallvec![tc];
            for &(tb, te) in &t.factors {
                margs.extend(power(g, tb, te));
            }
            inner.push(g.intern(Op::Mul, margs));
        }
        let inner = g.intern(Op::Add, inner);
        out.extend(power(g, inner, e));
        coef = coef.mul(ck);
        changed = true;
    }
    if !changed {
        return None;
    }
    out.insert(0, g.constant(coef));
    Some(g.intern(Op::Mul, out))
}

fn power(g: &mut Graph, b: NodeId, e: Num) -> Option<NodeId> {
    if e.is_zero() {
        return None;
    }
    if e.is_exact() && e.is_one() {
        return Some(b);
    }
    let en = g.constant(e);
    Some(g.intern(Op::Pow, smallvec![b, en]))
}

/// Which common part [`factored`] takes out of a sum.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The coefficient gcd and the shared bases ([`common_part`]).
    Common,
    /// The shared bases alone, the coefficients left inside.
    Bases,
    /// The least common denominator ([`denominator_part`]).
    Together,
}

/// `common · Σ (term / common)` for the canonical sum `s`, when the terms
/// have a common part; not yet in canonical form.
fn factored(g: &mut Graph, s: NodeId, part: Part) -> Option<NodeId> {
    let args: Args = g.args(s).into();
    if args.len() < 2 || args.len() > MAX_TERMS {
        return None;
    }
    let terms: Vec<Term> = args.iter().map(|&t| term_of(g, t)).collect();
    let (coef, common) = match part {
        Part::Together => denominator_part(&terms),
        Part::Common => common_part(&terms),
        Part::Bases => {
            // Only where it differs from `Common`: `x·(4y + 6)` is shorter
            // than `2x·(2y + 3)`, the coefficient being multiplied anyway.
            let (coef, common) = common_part(&terms);
            if coef.is_one() || common.is_empty() {
                return None;
            }
            (Num::int(1), common)
        }
    };
    if part != Part::Common && common.is_empty() {
        return None;
    }
    if common.is_empty() && coef.is_one() {
        return None;
    }
    let mut inner = Args::new();
    for t in &terms {
        let c = t.coef.div(coef)?;
        let mut margs: Args = smallvec![g.constant(c)];
        for &(b, e) in &t.factors {
            let left = match common.iter().find(|(cb, _)| *cb == b) {
                Some(&(_, ce)) => e.sub(ce),
                None => e,
            };
            if let Some(p) = power(g, b, left) {
                margs.push(p);
            }
        }
        // A common base the term lacks (a denominator of the other terms)
        // multiplies it: the term over the common denominator.
        for &(b, ce) in &common {
            if !t.factors.iter().any(|&(tb, _)| tb == b) {
                if let Some(p) = power(g, b, ce.neg()) {
                    margs.push(p);
                }
            }
        }
        // A lone factor stays itself (a one-factor product would be taken
        // for a product to flatten into the sum).
        inner.push(if margs.len() == 2 && c.is_exact() && c.is_one() {
            margs[1]
        } else {
            g.intern(Op::Mul, margs)
        });
    }
    let inner = g.intern(Op::Add, inner);
    let mut outer: Args = smallvec![g.constant(coef)];
    for &(b, e) in &common {
        if let Some(p) = power(g, b, e) {
            outer.push(p);
        }
    }
    outer.push(inner);
    Some(g.intern(Op::Mul, outer))
}

/// The roots with common factors taken out of their sums where that
/// shortens them; `canonical` puts a new expression in canonical form.
pub(super) fn factor_sums(
    g: &mut Graph,
    order: &mut Order,
    roots: &[NodeId],
    canonical: &mut Canonical<'_>,
) -> Vec<NodeId> {
    // Each candidate is canonicalized by a pass over the whole graph's
    // arrays, so large graphs (which no one reads printed) are left in
    // their canonical form.
    if g.len() > MAX_GRAPH {
        return roots.to_vec();
    }
    let reachable = g.reachable(roots);
    if reachable.len() > MAX_REACHABLE
        || reachable
            .iter()
            .any(|&v| g.op(v).is_tensor() || !g.is_scalar(v))
    {
        return roots.to_vec();
    }
    let counts = g.use_counts(roots);
    let keep = reachable
        .iter()
        .copied()
        .filter(|&v| g.op(v) == Op::Add && counts[v.index()] > 1 && g.args(v).len() > super::SMALL)
        .collect();
    let mut f = Factorer {
        budget: BUDGET,
        cost: Cost::default(),
        best: FxHashMap::default(),
        keep,
        canonical,
        canonical_of: FxHashMap::default(),
    };
    f.run(g, order, roots, NESTING)
}

/// Graphs with more nodes than this, or roots reaching more than
/// `MAX_REACHABLE` nodes, keep their canonical form.
const MAX_GRAPH: usize = 200_000;
const MAX_REACHABLE: usize = 5_000;

/// At most this many sums (and products over sums) are improved in one
/// simplification, so that its cost stays bounded on large graphs (each
/// candidate is put in canonical form, which visits what it reaches):
/// past the budget, sums keep their canonical form. Which sums are tried
/// depends only on the graph, so the result is deterministic.
const BUDGET: usize = 200;

/// The common parts tried on a sum as built, and on its normal form.
const BUILT_PARTS: &[Part] = &[Part::Common, Part::Bases, Part::Together];
const NORMAL_PARTS: &[Part] = &[Part::Common, Part::Bases, Part::Together];

/// How much more than the best form a grouped candidate may cost as
/// built and still be canonicalized (see [`Factorer::best_grouped`]).
const GROUP_SLACK: f64 = 2.0;

/// How many times the inner sum of a factored candidate is itself improved
/// (`n·(t·S^(n-1) - S^(2n-1))` with `t = K^n + S^n` is `n·K^n·S^(n-1)` once
/// its inner sum is distributed).
const NESTING: usize = 1;

struct Factorer<'c> {
    /// Candidate sums still to try (see [`BUDGET`]).
    budget: usize,
    cost: Cost,
    /// The best form found for each node already visited.
    best: FxHashMap<NodeId, NodeId>,
    /// Sums of more than [`super::SMALL`] terms used more than once: they
    /// stay shared (expansion treats them as atoms).
    keep: FxHashSet<NodeId>,
    canonical: &'c mut Canonical<'c>,
    /// Canonical forms already computed (with `keep` kept shared): one
    /// sum's candidates often repeat another's (a sum already in normal
    /// form is its own expansion), and each costs a pass.
    canonical_of: FxHashMap<NodeId, NodeId>,
}

impl Factorer<'_> {
    /// The canonical form of `raw`, with the sums of `keep` kept shared.
    fn canonical(&mut self, g: &mut Graph, order: &mut Order, raw: NodeId) -> NodeId {
        if let Some(&c) = self.canonical_of.get(&raw) {
            return c;
        }
        let c = (self.canonical)(g, order, raw, &self.keep);
        self.canonical_of.insert(raw, c);
        self.canonical_of.insert(c, c);
        c
    }

    /// Visits the nodes below `roots` not visited before, operands first,
    /// and returns the roots' best forms.
    fn run(
        &mut self,
        g: &mut Graph,
        order: &mut Order,
        roots: &[NodeId],
        nesting: usize,
    ) -> Vec<NodeId> {
        for id in self.unvisited(g, roots) {
            let args: Args = g.args(id).into();
            let mapped: Args = args
                .iter()
                .map(|a| *self.best.get(a).unwrap_or(a))
                .collect();
            let node = if mapped == args {
                id
            } else {
                g.intern(g.op(id), mapped)
            };
            // Sums, and products over a sum (`(4x³ - 32x + 5)/2` has the
            // normal form `2x³ - 16x + 5/2`).
            let over_sum =
                g.op(node) == Op::Mul && g.args(node).iter().any(|&a| g.op(a) == Op::Add);
            let best = if g.op(node) == Op::Add || over_sum {
                self.best_sum(g, order, node, nesting)
            } else {
                node
            };
            self.best.insert(id, best);
            self.best.entry(best).or_insert(best);
        }
        roots
            .iter()
            .map(|r| *self.best.get(r).unwrap_or(r))
            .collect()
    }

    /// The best form of a sum. When it expands in full within bounds, the
    /// expansion is a normal form (a polynomial over canonical atoms), the
    /// same however the sum was built; the cheapest of it and its factored
    /// forms wins unless a form derived from the sum as built is strictly
    /// cheaper, so that the modes, which build one derivative differently,
    /// print the same form wherever the normal form is as short. Otherwise
    /// the candidates are the sum, the sum distributed one level, and each
    /// with common factors taken out (their inner sums improved in turn);
    /// the cheapest wins, the sum as it is on ties.
    fn best_sum(
        &mut self,
        g: &mut Graph,
        order: &mut Order,
        node: NodeId,
        nesting: usize,
    ) -> NodeId {
        if self.budget == 0 {
            return node;
        }
        self.budget -= 1;
        let poly = expand::expand(g, node, FULL_DEPTH, &self.keep);
        let mut normal = Vec::new();
        if let Some(p) = &poly {
            let raw = expand::build(g, p);
            normal.push(self.canonical(g, order, raw));
        }
        let mut built = vec![node];
        if let Some(p) = expand::expand(g, node, 1, &self.keep) {
            let raw = expand::build(g, &p);
            let c = self.canonical(g, order, raw);
            if c != node {
                built.push(c);
            }
        }
        // A product's sums with their numeric contents moved to its coefficient,
        // which win ties (see `pick`): the modes reach such a tie from
        // either side.
        if let Some(raw) = (g.op(node) == Op::Mul)
            .then(|| content_out(g, node))
            .flatten()
        {
            let c = self.canonical(g, order, raw);
            if c != node {
                built.push(c);
            }
        }
        let (mut best, mut best_cost) = self.cheapest(g, order, built, BUILT_PARTS, nesting);
        // The sum as built with its shared factors grouped out, its sums
        // and products left as atoms: reverse mode's `4t·x - 4t + 1/4`
        // (each product rule's term apart) is forward mode's
        // `4t·(x - 1) + 1/4`, which the normal form, expanding `t`, never
        // reaches. And the same with the multiples of small sums that the
        // canonical form spread out gathered back first (see `regroup`).
        if let Some(p) = (g.op(node) == Op::Add)
            .then(|| expand::expand(g, node, 0, &self.keep))
            .flatten()
        {
            // The regrouped sum is not factored elsewhere (its canonical
            // form would spread the sums out again), so its common factors
            // are grouped here too.
            let regrouped = regroup::sum_regrouped(g, order, &p);
            let polys = std::iter::once((p, false)).chain(regrouped.map(|r| (r, true)));
            for (p, common) in polys {
                let raws = group::grouped(g, order, &p, common);
                (best, best_cost) = self.best_grouped(g, order, raws, best, best_cost);
            }
        }
        if !normal.is_empty() {
            let (mut best_normal, mut normal_cost) =
                self.cheapest(g, order, normal, NORMAL_PARTS, nesting);
            // The normal form with shared factors grouped out (see
            // `group`), weighed as it is: its groups are not factored again.
            if let Some(p) = &poly {
                let raws = group::grouped(g, order, p, false);
                (best_normal, normal_cost) =
                    self.best_grouped(g, order, raws, best_normal, normal_cost);
            }
            if normal_cost <= best_cost {
                (best, best_cost) = (best_normal, normal_cost);
            }
        }
        // Shared sums expanded too, only where that is strictly shorter
        // (the sharing is worth a tie).
        if !self.keep.is_empty() {
            let none = FxHashSet::default();
            if let Some(p) = expand::expand(g, node, FULL_DEPTH, &none) {
                let raw = expand::build(g, &p);
                let n = (self.canonical)(g, order, raw, &none);
                let (best_open, open_cost) = self.cheapest(g, order, vec![n], BUILT_PARTS, nesting);
                if open_cost < best_cost {
                    best = best_open;
                }
            }
        }
        best
    }

    /// The cheapest of `best` and the canonical forms of the grouped
    /// candidates `raws` (`best` on ties, else the first). A candidate is
    /// canonicalized only if it can win: the canonical form merges no terms
    /// of the groups, so it costs about what they do, at most
    /// [`GROUP_SLACK`] less (a coefficient folded into a product).
    fn best_grouped(
        &mut self,
        g: &mut Graph,
        order: &mut Order,
        raws: Vec<NodeId>,
        mut best: NodeId,
        mut best_cost: f64,
    ) -> (NodeId, f64) {
        for raw in raws {
            if self.cost.of(g, raw) < best_cost + GROUP_SLACK {
                let c = self.canonical(g, order, raw);
                let k = self.cost.of(g, c);
                if k < best_cost {
                    (best, best_cost) = (c, k);
                }
            }
        }
        (best, best_cost)
    }

    /// The cheapest of `candidates` and their factored forms (the first
    /// candidate on ties), with its cost.
    fn cheapest(
        &mut self,
        g: &mut Graph,
        order: &mut Order,
        mut candidates: Vec<NodeId>,
        parts: &[Part],
        nesting: usize,
    ) -> (NodeId, f64) {
        let mut deferred = Vec::new();
        for k in 0..candidates.len() {
            let c = candidates[k];
            if g.op(c) != Op::Add {
                continue;
            }
            for &part in parts {
                let Some(raw) = factored(g, c, part) else {
                    continue;
                };
                if part == Part::Bases {
                    // Its inner sum is that of `Common` times a number
                    // (improved there already), and dividing the terms by
                    // their shared bases merges none of them, so the form
                    // as built costs what its canonical form does: it is
                    // canonicalized only if it can win (below).
                    deferred.push(raw);
                    continue;
                }
                let f = self.canonical(g, order, raw);
                candidates.push(f);
                if nesting > 0 {
                    let better = self.run(g, order, &[f], nesting - 1)[0];
                    if better != f {
                        let c = self.canonical(g, order, better);
                        candidates.push(c);
                    }
                }
            }
        }
        let (mut best, mut best_cost) = self.pick(g, &candidates);
        for raw in deferred {
            if self.cost.of(g, raw) <= best_cost {
                let f = self.canonical(g, order, raw);
                (best, best_cost) = self.pick(g, &[best, f]);
            }
        }
        (best, best_cost)
    }

    /// The cheapest of `candidates` (the first on ties, unless another
    /// takes out a numeric content the first keeps and is more than a
    /// number times a sum), with its cost.
    fn pick(&mut self, g: &Graph, candidates: &[NodeId]) -> (NodeId, f64) {
        let mut best = candidates[0];
        let mut best_cost = self.cost.of(g, best);
        for &c in &candidates[1..] {
            let k = self.cost.of(g, c);
            // On a tie, a form whose sums keep a numeric content loses to
            // one with it taken out (`2x·(2t + 1)`, not `4x·t + 2x`): the
            // modes reach a tie from different sides, and this picks one.
            if k < best_cost
                || (k == best_cost && !bare_multiple(g, c) && content(g, c) < content(g, best))
            {
                best = c;
                best_cost = k;
            }
        }
        (best, best_cost)
    }

    /// The nodes below `roots` not yet visited, operands before users (a
    /// walk with its own stack that stops at visited nodes, so that nested
    /// runs cost only their new nodes).
    fn unvisited(&self, g: &Graph, roots: &[NodeId]) -> Vec<NodeId> {
        let mut seen: FxHashSet<NodeId> = Default::default();
        let mut out = Vec::new();
        let mut stack: Vec<(NodeId, usize)> = Vec::new();
        for &r in roots {
            if self.best.contains_key(&r) || !seen.insert(r) {
                continue;
            }
            stack.push((r, 0));
            while let Some(&mut (id, ref mut next)) = stack.last_mut() {
                let args = g.args(id);
                if *next < args.len() {
                    let a = args[*next];
                    *next += 1;
                    if !self.best.contains_key(&a) && seen.insert(a) {
                        stack.push((a, 0));
                    }
                } else {
                    out.push(id);
                    stack.pop();
                }
            }
        }
        out
    }
}

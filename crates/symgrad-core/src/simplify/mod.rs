//! Simplification: rewrites a graph into the canonical form used for printing
//! and code.
//!
//! Canonical form: `a - b` is `a + (-1)*b`, `-a` is `(-1)*a`, `a / b` is
//! `a * b^-1` and `sqrt(a)` is `a^(1/2)`; sums and products are flat n-ary
//! nodes with like terms and equal factors combined and constants folded
//! exactly; a product's numeric coefficient is its first operand and a sum's
//! constant term its last; operands are in the stable order of `order`.
//! Products are never expanded over sums, and a sum or product used more than
//! once stays one shared node.
//!
//! The pass is a loop over the topological order. A sum or product used once
//! is not built as a node: it is carried up to its user as a pending map of
//! terms (or factors), and the user merges the smaller map into the larger, so
//! a chain of 100,000 additions costs linear time, not quadratic.
//!
//! Tensor nodes (tensor operations, and elementwise operations of rank 1 or
//! more) are left structurally alone: their operands are simplified and the
//! node is rebuilt with the same operation through the graph's builders. The
//! canonical rules apply to scalar nodes only, where a scalar result of a
//! tensor operation (such as `sum(W)`) is an opaque factor.

mod cost;
mod expand;
mod factor;
mod fractions;
mod group;
mod order;
mod products;
mod regroup;
mod signs;
#[cfg(test)]
mod tests;

use crate::graph::{Args, Func, Graph, NodeId, Op};
use crate::num::Num;
use order::{split_pow, Order};
use rustc_hash::{FxHashMap, FxHashSet};
use smallvec::smallvec;

/// Passes run at most this many times; one pass almost always reaches the
/// canonical form and the next confirms it.
const MAX_PASSES: usize = 8;

/// Appends the canonical form of each root to `g` and returns the new roots,
/// in the order of `roots`.
///
/// The result is idempotent (`simplify` of its output returns the same ids)
/// and does not depend on the order in which commutative operands were built.
pub fn simplify(g: &mut Graph, roots: &[NodeId]) -> Vec<NodeId> {
    // Each root on its own, so that a root's form does not depend on the
    // other roots: how the roots share nodes differs between the modes
    // (reverse mode's adjoints are shared by every derivative, forward
    // mode's tangents by none), and a node used by two roots is kept
    // shared where one used once would be merged into its user. Simplified
    // apart, one derivative comes out the same whichever mode built it,
    // and equal subexpressions of different roots are still one node (the
    // graph interns them). Each root costs a simplification of what it
    // reaches and a few passes over the graph's arrays, so large graphs,
    // and graphs with very many roots, are simplified all at once.
    let separate =
        g.len() <= SEPARATE_LIMIT && g.len().saturating_mul(roots.len()) <= SEPARATE_WORK;
    if roots.len() > 1 && separate {
        let mut done: FxHashMap<NodeId, NodeId> = FxHashMap::default();
        return roots
            .iter()
            .map(|&r| {
                if let Some(&s) = done.get(&r) {
                    return s;
                }
                let s = simplify_together(g, &[r])[0];
                done.insert(r, s);
                s
            })
            .collect();
    }
    simplify_together(g, roots)
}

/// Graphs of at most this many nodes have their roots simplified one by
/// one (see [`simplify`]).
const SEPARATE_LIMIT: usize = 20_000;
/// ... and at most this many nodes times roots (a Hessian of 100 variables
/// in a graph of 1,000 nodes).
const SEPARATE_WORK: usize = 10_000_000;

/// [`simplify`] of all the roots at once: nodes they share stay shared.
fn simplify_together(g: &mut Graph, roots: &[NodeId]) -> Vec<NodeId> {
    // Factoring a sum can leave a form whose canonical form factors
    // differently again (an expanded product on a tie); rounds until
    // nothing changes keep the result idempotent. A round that changes
    // nothing costs one canonical-form walk of already canonical nodes.
    let mut current = simplify_round(g, roots);
    for _ in 0..MAX_ROUNDS {
        let next = simplify_round(g, &current);
        if next == current {
            break;
        }
        current = next;
    }
    current
}

/// Rounds of [`simplify_round`] after the first, at most.
const MAX_ROUNDS: usize = 4;

/// One round: the canonical form, then common factors out of sums.
fn simplify_round(g: &mut Graph, roots: &[NodeId]) -> Vec<NodeId> {
    let mut order = Order::default();
    let none = FxHashSet::default();
    let canonical = canonical_form(g, &mut order, roots, &none);
    // Then common factors out of sums where that is shorter, and the
    // canonical form of the result (nested products flattened).
    let mut one = |g: &mut Graph, order: &mut Order, id: NodeId, keep: &FxHashSet<NodeId>| {
        canonical_form(g, order, &[id], keep)[0]
    };
    let factored = factor::factor_sums(g, &mut order, &canonical, &mut one);

    if factored == canonical {
        return canonical;
    }
    canonical_form(g, &mut order, &factored, &none)
}

/// The canonical form of each root (the passes of [`Pass`] until they stop
/// changing anything), with the nodes of `keep` kept shared as if other
/// users outside `roots` had them.
fn canonical_form(
    g: &mut Graph,
    order: &mut Order,
    roots: &[NodeId],
    keep: &FxHashSet<NodeId>,
) -> Vec<NodeId> {
    let mut current = roots.to_vec();
    // A pass can expose more flattening (a shared sum whose users merged
    // becomes used once), so repeat until the roots stop changing.
    for _ in 0..MAX_PASSES {
        let next = Pass::run(g, order, &current, keep);
        if next == current {
            break;
        }
        current = next;
    }
    current
}

/// A pending sum: `sum(coef * mono) + constant`, negated when `neg` is set
/// (negation is lazy so that nested subtractions stay linear).
struct Sum {
    terms: FxHashMap<NodeId, Num>,
    constant: Num,
    neg: bool,
}

impl Sum {
    fn new() -> Sum {
        Sum {
            terms: FxHashMap::default(),
            constant: Num::int(0),
            neg: false,
        }
    }

    fn signed(&self, c: Num) -> Num {
        if self.neg {
            c.neg()
        } else {
            c
        }
    }

    fn add_term(&mut self, mono: NodeId, c: Num) {
        let c = self.signed(c);
        self.terms
            .entry(mono)
            .and_modify(|v| *v = v.add(c))
            .or_insert(c);
    }

    fn add_const(&mut self, c: Num) {
        self.constant = self.constant.add(self.signed(c));
    }

    fn merge(&mut self, mut other: Sum) {
        if other.terms.len() > self.terms.len() {
            std::mem::swap(self, &mut other);
        }
        let constant = other.signed(other.constant);
        let neg = other.neg;
        for (m, c) in other.terms {
            self.add_term(m, if neg { c.neg() } else { c });
        }
        self.add_const(constant);
    }
}

/// A pending product: `coef * prod(base ^ (exp * scale))` (the exponent
/// scale is lazy so that nested divisions and powers stay linear; it is never
/// zero).
struct Prod {
    coef: Num,
    factors: FxHashMap<NodeId, Num>,
    scale: Num,
}

impl Prod {
    fn new() -> Prod {
        Prod {
            coef: Num::int(1),
            factors: FxHashMap::default(),
            scale: Num::int(1),
        }
    }

    fn factor(base: NodeId, e: Num) -> Prod {
        let mut p = Prod::new();
        p.factors.insert(base, e);
        p
    }

    fn mul_factor(&mut self, base: NodeId, e: Num) {
        let e = e.div(self.scale).unwrap_or(e);
        self.factors
            .entry(base)
            .and_modify(|v| *v = v.add(e))
            .or_insert(e);
    }

    fn merge(&mut self, mut other: Prod) {
        if other.factors.len() > self.factors.len() {
            std::mem::swap(self, &mut other);
        }
        self.coef = self.coef.mul(other.coef);
        for (b, e) in other.factors.drain() {
            self.mul_factor(b, e.mul(other.scale));
        }
    }
}

/// Shared sums and products with at most this many operands are merged into
/// the sums and products that use them; larger ones stay shared.
const SMALL: usize = 4;

/// A shared product is opened into a product that uses it when the two
/// together have at most this many factors.
const OPEN_LIMIT: usize = 9;

/// What a node of the input has become so far.
enum Repr {
    /// A canonical node.
    Node(NodeId),
    /// A sum not yet built (its node is used once).
    Sum(Box<Sum>),
    /// A product not yet built (its node is used once).
    Prod(Box<Prod>),
    /// Moved into its only user, or not reached.
    Taken,
}

struct Pass<'a> {
    g: &'a mut Graph,
    order: &'a mut Order,
    /// Each reachable node's place in `repr`.
    local: FxHashMap<NodeId, usize>,
    repr: Vec<Repr>,
}

impl Pass<'_> {
    fn run(
        g: &mut Graph,
        order: &mut Order,
        roots: &[NodeId],
        keep: &FxHashSet<NodeId>,
    ) -> Vec<NodeId> {
        // The pass's arrays are over the nodes the roots reach, not over the
        // graph: factoring canonicalizes hundreds of small candidates inside
        // one large graph, and arrays of the graph's size made that
        // quadratic (Rosenbrock of 120 terms: 2.5 s instead of 0.06 s).
        let reachable = g.reachable_sparse(roots);
        let local: FxHashMap<NodeId, usize> = reachable
            .iter()
            .enumerate()
            .map(|(i, &id)| (id, i))
            .collect();
        let mut counts = vec![0u32; reachable.len()];
        for &id in &reachable {
            for a in g.args(id) {
                counts[local[a]] += 1;
            }
        }
        for k in keep {
            if let Some(&i) = local.get(k) {
                counts[i] += 2;
            }
        }
        // Roots must come out as nodes, so they never stay pending.
        for r in roots {
            counts[local[r]] += 2;
        }
        let repr = (0..reachable.len()).map(|_| Repr::Taken).collect();
        let mut pass = Pass {
            g,
            order,
            local,
            repr,
        };
        for (i, &id) in reachable.iter().enumerate() {
            let r = pass.rewrite(id);
            let r = if counts[i] > 1 {
                Repr::Node(pass.build(r))
            } else {
                r
            };
            pass.repr[i] = r;
        }
        roots
            .iter()
            .map(|&r| {
                let t = pass.take(r);
                pass.build(t)
            })
            .collect()
    }

    /// The representation of operand `id`, moved out when it is pending (its
    /// node has exactly one user, the caller).
    fn take(&mut self, id: NodeId) -> Repr {
        let i = self.local[&id];
        match &self.repr[i] {
            Repr::Node(n) => Repr::Node(*n),
            _ => std::mem::replace(&mut self.repr[i], Repr::Taken),
        }
    }

    fn rewrite(&mut self, id: NodeId) -> Repr {
        let op = self.g.op(id);
        let args: Args = self.g.args(id).into();
        if op.is_tensor() || !self.g.is_scalar(id) {
            // Tensor nodes keep their structure: only their operands are
            // simplified (the canonical rules are for scalars).
            let mut new_args: Args = Args::new();
            for &a in &args {
                let r = self.take(a);
                new_args.push(self.build(r));
            }
            return Repr::Node(self.g.apply(op, &new_args));
        }
        match op {
            Op::Var(_) | Op::Const(_) | Op::Named(_) => Repr::Node(id),
            Op::Add | Op::Sub => {
                let mut s = Sum::new();
                for (slot, &a) in args.iter().enumerate() {
                    let r = self.take(a);
                    let r = if op == Op::Sub && slot == 1 {
                        self.negate(r)
                    } else {
                        r
                    };
                    self.add_to_sum(&mut s, r);
                }
                Repr::Sum(Box::new(s))
            }
            Op::Mul | Op::Div => {
                let mut p = Prod::new();
                for (slot, &a) in args.iter().enumerate() {
                    let r = self.take(a);
                    let r = if op == Op::Div && slot == 1 {
                        let minus_one = self.g.int(-1);
                        self.power(r, minus_one)
                    } else {
                        r
                    };
                    self.add_to_prod(&mut p, r);
                }
                Repr::Prod(Box::new(p))
            }
            Op::Neg => {
                let r = self.take(args[0]);
                self.negate(r)
            }
            Op::Pow => {
                let base = self.take(args[0]);
                let e = self.take(args[1]);
                let e = self.build(e);
                self.power(base, e)
            }
            Op::Func(Func::Sqrt) => {
                let base = self.take(args[0]);
                let half = self.g.constant(Num::ratio(1, 2).unwrap_or(Num::Float(0.5)));
                // sqrt of an exact constant keeps the builder's folding.
                if let Repr::Node(b) = base {
                    if self.g.as_const(b).is_some() {
                        let f = self.g.func(Func::Sqrt, b);
                        if self.g.as_const(f).is_some() {
                            return Repr::Node(f);
                        }
                    }
                }
                self.power(base, half)
            }
            Op::Func(f) => {
                let a = self.take(args[0]);
                let a = self.build(a);
                Repr::Node(self.g.func(f, a))
            }
            Op::Max | Op::Min | Op::Atan2 => {
                let a = self.take(args[0]);
                let a = self.build(a);
                let b = self.take(args[1]);
                let b = self.build(b);
                Repr::Node(self.g.apply(op, &[a, b]))
            }
            _ => unreachable!("tensor operations keep their structure"),
        }
    }

    fn negate(&mut self, r: Repr) -> Repr {
        match r {
            Repr::Sum(mut s) => {
                s.neg = !s.neg;
                Repr::Sum(s)
            }
            Repr::Prod(mut p) => {
                p.coef = p.coef.neg();
                Repr::Prod(p)
            }
            Repr::Node(id) => {
                let mut p = Prod::new();
                self.add_node_to_prod(&mut p, id);
                p.coef = p.coef.neg();
                Repr::Prod(Box::new(p))
            }
            Repr::Taken => unreachable!("an operand is taken once"),
        }
    }

    /// `base ^ e` for a canonical exponent node `e`.
    fn power(&mut self, base: Repr, e: NodeId) -> Repr {
        let Some(n) = self.g.as_const(e) else {
            let b = self.build(base);
            return Repr::Node(self.g.pow(b, e));
        };
        let Some(k) = n.as_int() else {
            // (x^a)^q is not x^(a*q) for a fractional q ((x^2)^(1/2) = |x|),
            // so the base stays one factor.
            let b = self.build(base);
            if self.g.as_const(b).is_some() {
                return Repr::Node(self.g.pow(b, e));
            }
            return Repr::Prod(Box::new(Prod::factor(b, n)));
        };
        if k == 0 {
            return Repr::Node(self.g.int(1));
        }
        match base {
            Repr::Prod(mut p) => {
                let coef = match p.coef.pow_exact(n) {
                    Some(c) => Some(c),
                    None if !p.coef.is_exact() => Some(Num::Float(p.coef.to_f64().powf(k as f64))),
                    None => None,
                };
                match coef {
                    Some(c) => {
                        p.coef = c;
                        p.scale = p.scale.mul(n);
                        Repr::Prod(p)
                    }
                    None => {
                        let b = self.build(Repr::Prod(p));
                        Repr::Node(self.g.pow(b, e))
                    }
                }
            }
            Repr::Sum(s) => {
                let b = self.build(Repr::Sum(s));
                self.power(Repr::Node(b), e)
            }
            Repr::Node(b) => {
                if self.g.as_const(b).is_some() {
                    return Repr::Node(self.g.pow(b, e));
                }
                // A small shared product is raised factor by factor, as a
                // pending one is, so that (-z)^2 is z^2 either way.
                if self.g.op(b) == Op::Mul && self.g.args(b).len() <= SMALL {
                    let mut p = Prod::new();
                    self.add_node_to_prod(&mut p, b);
                    return self.power(Repr::Prod(Box::new(p)), e);
                }
                let (base, exp) = split_pow(self.g, b);
                Repr::Prod(Box::new(Prod::factor(base, exp.mul(n))))
            }
            Repr::Taken => unreachable!("an operand is taken once"),
        }
    }

    fn add_to_sum(&mut self, s: &mut Sum, r: Repr) {
        match r {
            Repr::Sum(o) => s.merge(*o),
            Repr::Prod(p) => {
                let (c, factors) = self.monomial(*p);
                match factors[..] {
                    [] => s.add_const(c),
                    // A product that collapsed to a lone sum (times a number)
                    // joins this sum, when it is small or this is its one use.
                    [f] if self.g.op(f) == Op::Add
                        && ((c.is_exact() && c.is_one()) || self.g.args(f).len() <= SMALL) =>
                    {
                        let args: Args = self.g.args(f).into();
                        for a in args {
                            self.add_scaled_node_to_sum(s, a, c);
                        }
                    }
                    [f] => s.add_term(f, c),
                    _ => {
                        let m = self.g.intern(Op::Mul, factors.into_iter().collect());
                        s.add_term(m, c);
                    }
                }
            }
            Repr::Node(id) => self.add_node_to_sum(s, id),
            Repr::Taken => unreachable!("an operand is taken once"),
        }
    }

    fn add_node_to_sum(&mut self, s: &mut Sum, id: NodeId) {
        self.add_scaled_node_to_sum(s, id, Num::int(1));
    }

    /// Adds `k * id` to the sum.
    fn add_scaled_node_to_sum(&mut self, s: &mut Sum, id: NodeId, k: Num) {
        if let Some(c) = self.g.as_const(id) {
            return s.add_const(c.mul(k));
        }
        // Likewise a small shared sum merges into the sums that use it.
        if self.g.op(id) == Op::Add && self.g.args(id).len() <= SMALL {
            let args: Args = self.g.args(id).into();
            for a in args {
                self.add_scaled_node_to_sum(s, a, k);
            }
            return;
        }
        if self.g.op(id) == Op::Mul {
            let args = self.g.args(id);
            if let Some(c) = self.g.as_const(args[0]) {
                let rest: Args = args[1..].into();
                let mono = if rest.len() == 1 {
                    rest[0]
                } else {
                    self.g.intern(Op::Mul, rest)
                };
                return s.add_term(mono, c.mul(k));
            }
        }
        s.add_term(id, k);
    }

    fn add_to_prod(&mut self, p: &mut Prod, r: Repr) {
        match r {
            Repr::Prod(o) => p.merge(*o),
            Repr::Sum(s) => {
                let id = self.build(Repr::Sum(s));
                // A sum that collapsed to one product joins this product.
                if self.g.op(id) == Op::Mul {
                    let args: Args = self.g.args(id).into();
                    for a in args {
                        self.add_node_to_prod(p, a);
                    }
                } else {
                    self.add_node_to_prod(p, id);
                }
            }
            Repr::Node(id) => self.add_node_to_prod(p, id),
            Repr::Taken => unreachable!("an operand is taken once"),
        }
    }

    fn add_node_to_prod(&mut self, p: &mut Prod, id: NodeId) {
        if let Some(c) = self.g.as_const(id) {
            p.coef = p.coef.mul(c);
            return;
        }
        // A small shared product still merges into its users, so that a
        // monomial prints the same whether or not another root shares it
        // (`2*x*y`, not `y*(2*x)`); only larger ones stay one factor.
        if self.g.op(id) == Op::Mul && self.g.args(id).len() <= SMALL {
            let args: Args = self.g.args(id).into();
            for a in args {
                self.add_node_to_prod(p, a);
            }
            return;
        }
        let (base, e) = split_pow(self.g, id);
        p.mul_factor(base, e);
    }

    /// The coefficient and the canonically ordered factor nodes of a product.
    fn monomial(&mut self, p: Prod) -> (Num, Vec<NodeId>) {
        let mut coef = p.coef;
        let mut scaled: FxHashMap<NodeId, Num> = p
            .factors
            .into_iter()
            .map(|(b, e)| (b, e.mul(p.scale)))
            .filter(|(_, e)| !e.is_zero())
            .collect();
        self.open_shared_products(&mut coef, &mut scaled);
        self.sums_leading_positive(&mut coef, &mut scaled);
        self.combine_fractions(&mut coef, &mut scaled);
        self.abs_times_sign(&mut scaled);
        self.cancel_product_powers(&mut scaled);
        self.merge_symbolic_powers(&mut scaled);
        self.exp_over_exp_sum(&mut scaled);
        // The product's factors, sums with a positive leading term (see
        // below), each base once: a sum factor whose sign moved into the
        // coefficient (see `sign_into_sum`) meets its normalized form.
        let mut merged: FxHashMap<NodeId, Num> = FxHashMap::default();
        for (b, e) in scaled {
            if e.is_zero() {
                continue;
            }
            if self.g.as_const(b).is_some() {
                let en = self.g.constant(e);
                let v = self.g.pow(b, en);
                if let Some(v) = self.g.as_const(v) {
                    coef = coef.mul(v);
                    continue;
                }
            }
            // S and -S are one expression up to sign: a sum factor raised to
            // an integer power is kept with a positive leading term (an odd
            // power's sign going to the coefficient), so that -(x - y) and
            // (y - x) meet, and so do 1/(v - c)^2 and 1/(c - v)^2.
            if self.g.op(b) == Op::Add && e.as_int().is_some() && self.leads_negative(b) {
                let flipped = self.negated_sum(b);
                let entry = merged.entry(flipped).or_insert(Num::int(0));
                *entry = entry.add(e);
                if e.as_int().is_some_and(|k| k % 2 != 0) {
                    coef = coef.neg();
                }
                continue;
            }
            let entry = merged.entry(b).or_insert(Num::int(0));
            *entry = entry.add(e);
        }
        let mut factors: Vec<(NodeId, Num)> =
            merged.into_iter().filter(|(_, e)| !e.is_zero()).collect();
        if coef.is_zero() {
            return (coef, Vec::new());
        }
        if coef.is_negative() {
            self.sign_into_sum(&mut coef, &mut factors);
        }
        let g = &*self.g;
        factors.sort_by(|&a, &b| self.order.cmp_factor(g, a, b));
        let nodes = factors
            .into_iter()
            .map(|(b, e)| {
                if e.is_exact() && e.is_one() {
                    b
                } else {
                    let en = self.g.constant(e);
                    self.g.intern(Op::Pow, smallvec![b, en])
                }
            })
            .collect();
        (coef, nodes)
    }

    /// The canonical node for a representation.
    fn build(&mut self, r: Repr) -> NodeId {
        match r {
            Repr::Node(id) => id,
            Repr::Prod(p) => {
                let (coef, factors) = self.monomial(*p);
                if factors.is_empty() {
                    return self.g.constant(coef);
                }
                if coef.is_exact()
                    && coef.is_int(-1)
                    && factors.len() == 1
                    && self.g.op(factors[0]) == Op::Add
                {
                    // -S alone is the sum with every sign flipped.
                    return self.negated_sum(factors[0]);
                }
                if coef.is_exact() && coef.is_one() {
                    if factors.len() == 1 {
                        return factors[0];
                    }
                    return self.g.intern(Op::Mul, factors.into_iter().collect());
                }
                let c = self.g.constant(coef);
                let args: Args = std::iter::once(c).chain(factors).collect();
                self.g.intern(Op::Mul, args)
            }
            Repr::Sum(s) => self.build_sum(*s),
            Repr::Taken => unreachable!("an operand is taken once"),
        }
    }

    fn build_sum(&mut self, s: Sum) -> NodeId {
        let constant = s.signed(s.constant);
        let neg = s.neg;
        let mut terms: Vec<(NodeId, Num)> = s
            .terms
            .into_iter()
            .map(|(m, c)| (m, if neg { c.neg() } else { c }))
            .filter(|(_, c)| !c.is_zero())
            .collect();
        let g = &*self.g;
        terms.sort_by(|a, b| self.order.cmp_term(g, a.0, b.0));
        let mut args = Args::new();
        for (m, c) in terms {
            if c.is_exact() && c.is_one() {
                args.push(m);
                continue;
            }
            let cn = self.g.constant(c);
            let mut margs: Args = smallvec![cn];
            if self.g.op(m) == Op::Mul {
                margs.extend_from_slice(self.g.args(m));
            } else {
                margs.push(m);
            }
            args.push(self.g.intern(Op::Mul, margs));
        }
        if args.is_empty() || !(constant.is_exact() && constant.is_zero()) {
            args.push(self.g.constant(constant));
        }
        if args.len() == 1 {
            return args[0];
        }
        self.g.intern(Op::Add, args)
    }
}

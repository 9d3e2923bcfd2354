//! The one table of derivatives. A new operation is added here, in one place.
//!
//! The table has two kinds of entry:
//!
//! - **Elementwise operations** (arithmetic, `max`, `min`, functions; scalars
//!   are the rank-0 case) have *local partials*: for `v = op(a_0, a_1, ...)`,
//!   [`local_derivatives`] builds `∂v/∂a_i` as a node for each operand slot
//!   `i`, of (at most) `v`'s shape. Every mode derives its rule from them:
//!   forward mode as tangents (`v̇ = Σ ∂v/∂a_i ⊙ ȧ_i`), reverse mode as
//!   adjoints (`ā_i += sum_to(v̄ ⊙ ∂v/∂a_i, shape(a_i))`, where `sum_to`
//!   undoes broadcasting and is absent for scalars), path enumeration as
//!   edge labels. [`vjp`] and [`jvp`] do exactly this for them.
//! - **Tensor operations** (`@`, transpose, reductions, broadcasts, softmax,
//!   logsumexp) have no partial that is a node of the graph (it is a
//!   Jacobian), so [`local_derivatives`] refuses them with a typed
//!   [`ErrorKind::NoRule`] error naming the operation. Their rules are
//!   written directly as a vector-Jacobian product in [`vjp`] (reverse mode)
//!   and a Jacobian-vector product in [`jvp`] (forward mode), side by side in
//!   `tensor_vjp` and `tensor_jvp`.
//!
//! `vjp` and `jvp` match every [`Op`] exhaustively, so the compiler checks
//! that a new operation gets both rules; neither can fail.
//!
//! Conventions at non-smooth points: `|x|'(0) = sign(0) = 0`,
//! `relu'(0) = step(0) = 0`; `floor` and `ceil` have derivative 0 (also
//! at their jumps, where none exists); `max(a, b)` sends the whole derivative to `a`
//! on a tie (the operand its value takes), and `min` likewise. `sign` and
//! `step` have derivative 0 (everywhere they have one). A reduction `max`
//! sends the whole adjoint to the *first* largest entry in row-major order
//! (through [`Op::ArgMaxMask`]), so ties do not double the gradient; the
//! mask itself is piecewise constant and has derivative 0.

use crate::error::{Error, ErrorKind, Result};
use crate::graph::{Axis, Func, Graph, NodeId, Op, Shape};
use smallvec::{smallvec, SmallVec};

/// The partials of one node with respect to its operand slots, in slot order.
pub type Partials = SmallVec<[NodeId; 2]>;

/// Builds `∂v/∂args[i]` for every operand slot of node `v`.
///
/// Leaves (constants, variables) have no operands and give an empty list.
/// Elementwise operations always have partials; tensor operations give an
/// [`ErrorKind::NoRule`] error (their derivatives are in [`vjp`] and [`jvp`]).
pub fn local_derivatives(g: &mut Graph, v: NodeId) -> Result<Partials> {
    // Copied out (a memcpy, cheaper than cloning the node), since the
    // builders below need the graph mutably.
    let op = g.op(v);
    let args: &[NodeId] = &crate::graph::Args::from_slice(g.args(v));
    Ok(match op {
        Op::Const(_) | Op::Named(_) | Op::Var(_) => SmallVec::new(),
        op if op.is_tensor() => {
            return Err(Error::new(
                ErrorKind::NoRule,
                format!(
                    "'{}' has no local partial derivative (its derivative is a Jacobian); \
                     differentiate it by reverse or forward mode",
                    op.label()
                ),
            ))
        }
        Op::Add => args.iter().map(|_| g.int(1)).collect(),
        Op::Sub => smallvec![g.int(1), g.int(-1)],
        Op::Neg => smallvec![g.int(-1)],
        // ∂(a_0 a_1 ... a_n)/∂a_i is the product of the other operands.
        Op::Mul => (0..args.len())
            .map(|i| product_of_others(g, args, i))
            .collect(),
        // v = a/b: ∂v/∂a = 1/b, ∂v/∂b = -a/b² = -v/b.
        Op::Div => {
            let b = args[1];
            let one = g.int(1);
            let inv_b = g.div(one, b);
            let v_over_b = g.div(v, b);
            smallvec![inv_b, g.neg(v_over_b)]
        }
        Op::Pow => {
            let (a, b) = (args[0], args[1]);
            // ∂(a^b)/∂a = b·a^(b-1)
            let one = g.int(1);
            let b_minus_1 = g.sub(b, one);
            let a_pow = g.pow(a, b_minus_1);
            let da = g.mul(b, a_pow);
            // ∂(a^b)/∂b = a^b·ln(a); zero when the exponent is a constant, so
            // that x^2 does not bring ln(x) into its derivative, and zero
            // for the base 0, since 0^b is 0 for every b > 0 (where it has
            // a derivative) rather than 0·ln(0) = NaN.
            let db = if matches!(g.op(b), Op::Const(_) | Op::Named(_)) || g.is_int(a, 0) {
                g.int(0)
            } else {
                let ln_a = g.func(Func::Ln, a);
                g.mul(v, ln_a)
            };
            smallvec![da, db]
        }
        Op::Max | Op::Min => {
            let (a, b) = (args[0], args[1]);
            // max: the derivative goes to b when b > a, else to a.
            // min: the derivative goes to b when b < a, else to a.
            let diff = if op == Op::Max {
                g.sub(b, a)
            } else {
                g.sub(a, b)
            };
            let to_b = g.func(Func::Step, diff);
            let one = g.int(1);
            let to_a = g.sub(one, to_b);
            smallvec![to_a, to_b]
        }
        Op::Func(f) => smallvec![func_derivative(g, f, v, args[0])],
        // v = atan2(y, x): ∂v/∂y = x/(x² + y²), ∂v/∂x = -y/(x² + y²).
        Op::Atan2 => {
            let (y, x) = (args[0], args[1]);
            let x2 = g.powi(x, 2);
            let y2 = g.powi(y, 2);
            let r2 = g.add(x2, y2);
            let dy = g.div(x, r2);
            let y_over = g.div(y, r2);
            smallvec![dy, g.neg(y_over)]
        }
        _ => unreachable!("tensor operations are refused above"),
    })
}

/// The adjoint contributions of one node: `(slot, ā)` with `ā` shaped like
/// the operand in that slot. Slots whose contribution is zero are left out.
pub type Contributions = SmallVec<[(usize, NodeId); 2]>;

/// The vector-Jacobian product of node `v` with its adjoint `v_bar` (shaped
/// like `v`): what each operand's adjoint receives. Reverse mode's one rule.
pub fn vjp(g: &mut Graph, v: NodeId, v_bar: NodeId) -> Contributions {
    vjp_factored(g, v, &[v_bar])
}

/// [`vjp`] with the adjoint given as the product of `v_bar`'s factors.
///
/// For a scalar `v`, each contribution is one product of those factors and
/// the local partial's own factors (`v̄·σ(a)·σ(-a)` for a sigmoid, `v̄·b·c`
/// for `a·b·c`), so that no node is built for a partial that only this
/// product reads. Reverse mode passes the factors of an adjoint that is
/// itself a product read by nothing else (see `reverse.rs`). Tensor nodes
/// and broadcasting operations take the product first and follow their
/// rules as before.
pub fn vjp_factored(g: &mut Graph, v: NodeId, v_bar: &[NodeId]) -> Contributions {
    let op = g.op(v);
    if op.is_leaf() {
        return SmallVec::new();
    }
    if op.is_tensor() || !g.is_scalar(v) {
        let v_bar = product(g, v_bar);
        return if op.is_tensor() {
            tensor_vjp(g, v, v_bar)
        } else {
            elementwise_vjp(g, v, v_bar)
        };
    }
    // A scalar result has scalar operands (broadcasting never shrinks).
    // Each contribution is `v_bar`'s factors times the partial's: the other
    // operands of a product, `σ(a)` and `σ(-a)` for a sigmoid, `sec(a)` and
    // `tan(a)` for a secant, the partial of [`local_derivatives`] otherwise.
    let mut out = Contributions::new();
    let mut factors = Factors::new();
    match op {
        // Past three operands, the others of slot i are the prefix product
        // of the operands before it times the suffix product of those after
        // it, both shared between slots: 3k nodes, not k products of k - 1.
        Op::Mul if g.args(v).len() > 3 => {
            let args = crate::graph::Args::from_slice(g.args(v));
            let k = args.len();
            let mut suffix = vec![None; k];
            for i in (0..k - 1).rev() {
                suffix[i] = Some(match suffix[i + 1] {
                    None => args[i + 1],
                    Some(s) => g.mul(args[i + 1], s),
                });
            }
            let mut prefix: Option<NodeId> = None;
            for (slot, &a) in args.iter().enumerate() {
                factors.clear();
                factors.extend_from_slice(v_bar);
                factors.extend(prefix);
                factors.extend(suffix[slot]);
                let c = product(g, &factors);
                push_nonzero(g, &mut out, slot, c);
                prefix = Some(match prefix {
                    None => a,
                    Some(p) => g.mul(p, a),
                });
            }
        }
        Op::Mul => {
            for slot in 0..g.args(v).len() {
                factors.clear();
                factors.extend_from_slice(v_bar);
                for (j, &a) in g.args(v).iter().enumerate() {
                    if j != slot {
                        factors.push(a);
                    }
                }
                let c = product(g, &factors);
                push_nonzero(g, &mut out, slot, c);
            }
        }
        Op::Func(f @ (Func::Sigmoid | Func::Sec)) => {
            let a = g.args(v)[0];
            factors.extend_from_slice(v_bar);
            factors.extend_from_slice(&func_factors(g, f, v, a));
            let c = product(g, &factors);
            push_nonzero(g, &mut out, 0, c);
        }
        _ => {
            let partials = local_derivatives(g, v).expect("elementwise operations have partials");
            for (slot, &d) in partials.iter().enumerate() {
                let c = if let [b] = *v_bar {
                    g.mul(b, d)
                } else {
                    factors.clear();
                    factors.extend_from_slice(v_bar);
                    factors.push(d);
                    product(g, &factors)
                };
                push_nonzero(g, &mut out, slot, c);
            }
        }
    }
    out
}

/// Records the contribution `c` to operand `slot`, unless it is zero.
#[inline]
fn push_nonzero(g: &Graph, out: &mut Contributions, slot: usize, c: NodeId) {
    if !g.is_zero(c) {
        out.push((slot, c));
    }
}

/// The rule of [`vjp`] for elementwise operations on tensors.
fn elementwise_vjp(g: &mut Graph, v: NodeId, v_bar: NodeId) -> Contributions {
    let partials = local_derivatives(g, v).expect("elementwise operations have partials");
    let mut out = Contributions::new();
    for (slot, &d) in partials.iter().enumerate() {
        let a = g.args(v)[slot];
        let contribution = g.mul(v_bar, d);
        if g.is_zero(contribution) {
            continue;
        }
        // A broadcast operand receives the sum over the axes it was repeated on.
        let contribution = sum_to_operand(g, contribution, a);
        out.push((slot, contribution));
    }
    out
}

/// The factors of a product of a few nodes.
pub type Factors = SmallVec<[NodeId; 4]>;

/// The product of `factors`: exact ones dropped, 0 if one is exactly 0,
/// two factors (or several constants, which fold) through [`Graph::mul`],
/// and more as one n-ary product, in the order given.
pub fn product(g: &mut Graph, factors: &[NodeId]) -> NodeId {
    match *factors {
        [] => return g.int(1),
        [a] => return a,
        [a, b] => return g.mul(a, b),
        _ => {}
    }
    let mut kept: Factors = SmallVec::new();
    let mut constants = 0;
    for &f in factors {
        if let Some(c) = g.as_const(f) {
            if c.is_exact() && c.is_one() {
                continue;
            }
            if c.is_exact() && c.is_zero() && g.is_scalar(f) {
                return f;
            }
            constants += 1;
        }
        kept.push(f);
    }
    match kept.len() {
        0 => g.int(1),
        1 => kept[0],
        n if n == 2 || constants > 1 || !kept.iter().all(|&f| g.is_scalar(f)) => {
            let mut acc = kept[0];
            for &f in &kept[1..] {
                acc = g.mul(acc, f);
            }
            acc
        }
        _ => g.intern(Op::Mul, kept.into_iter().collect()),
    }
}

/// The Jacobian-vector product of node `v` with its operands' tangents
/// (`None` for zero, otherwise shaped like the operand): `v`'s tangent,
/// shaped like `v`, or `None` when it is zero. Forward mode's one rule.
///
/// `partials` caches elementwise partials between calls for the same node
/// (forward mode makes one pass per input); it is filled on first use.
pub fn jvp(
    g: &mut Graph,
    v: NodeId,
    tangents: &[Option<NodeId>],
    partials: &mut Option<Partials>,
) -> Option<NodeId> {
    let op = g.op(v);
    if op.is_leaf() {
        return None;
    }
    if op.is_tensor() {
        return tensor_jvp(g, v, tangents);
    }
    let local = match partials {
        Some(p) => p.clone(),
        None => {
            let p = local_derivatives(g, v).expect("elementwise operations have partials");
            *partials = Some(p.clone());
            p
        }
    };
    let mut sum: Option<NodeId> = None;
    for (slot, &d) in local.iter().enumerate() {
        let Some(a_dot) = tangents[slot] else {
            continue;
        };
        let term = g.mul(d, a_dot);
        if g.is_zero(term) {
            continue;
        }
        sum = Some(match sum {
            None => term,
            Some(s) => g.add(s, term),
        });
    }
    // `x + c` with only `c` varying: the tangent of a scalar operand still
    // has `v`'s shape.
    sum.map(|s| fill_to(g, s, v))
}

/// `x` (an adjoint contribution of `v`'s shape) summed down to operand `a`'s shape.
fn sum_to_operand(g: &mut Graph, x: NodeId, a: NodeId) -> NodeId {
    if g.shape_id(x) == g.shape_id(a) {
        return x;
    }
    let shape = g.shape(a).clone();
    g.sum_to(x, &shape)
}

/// `x` broadcast to node `like`'s shape.
fn fill_to(g: &mut Graph, x: NodeId, like: NodeId) -> NodeId {
    if g.shape_id(x) == g.shape_id(like) {
        return x;
    }
    let shape = g.shape(like).clone();
    g.broadcast_to(x, &shape)
}

/// The axis a reduction removes from a shape of rank `rank` (`None`: all).
fn axis_index(axis: Axis) -> Option<usize> {
    match axis {
        Axis::All => None,
        Axis::Dim(k) => Some(k as usize),
    }
}

/// `x`, the result of reducing a tensor of shape `full` over `axis`, with the
/// reduced axis put back as a 1, so that it broadcasts against `full`
/// (`[m]` from `[m, n]` over axis 1 becomes `[m, 1]`). A scalar stays a scalar.
fn keep_axis(g: &mut Graph, x: NodeId, axis: Option<usize>, full: &Shape) -> NodeId {
    let Some(k) = axis else {
        return x;
    };
    if g.is_scalar(x) {
        return x;
    }
    let mut dims = full.dims().to_vec();
    dims[k] = 1;
    g.reshape(x, &Shape::new(dims))
}

/// `x` (reduced over `axis` from `full`) repeated back to `full`.
fn unreduce(g: &mut Graph, x: NodeId, axis: Option<usize>, full: &Shape) -> NodeId {
    let kept = keep_axis(g, x, axis, full);
    g.broadcast_to(kept, full)
}

/// The number of entries a reduction over `axis` combines.
fn reduced_count(full: &Shape, axis: Option<usize>) -> i64 {
    let n = match axis {
        None => full.numel(),
        Some(k) => full.dims()[k],
    };
    i64::try_from(n).expect("tensor sizes fit in i64")
}

/// The sum of `x` over its last axis, kept as a 1 so that it broadcasts back.
fn sum_last_kept(g: &mut Graph, x: NodeId) -> NodeId {
    let full = g.shape(x).clone();
    let last = full.rank() - 1;
    let s = g.sum(x, Axis::Dim(last as u32));
    keep_axis(g, s, Some(last), &full)
}

/// Reverse-mode rules of the tensor operations, `v̄` shaped like `v`.
fn tensor_vjp(g: &mut Graph, v: NodeId, v_bar: NodeId) -> Contributions {
    let node = g.node(v).clone();
    let a = node.args[0];
    let a_shape = g.shape(a).clone();
    let one = |c: NodeId| -> Contributions { smallvec![(0, c)] };
    match node.op {
        // C = A @ B: Ā = C̄ @ Bᵀ, B̄ = Aᵀ @ C̄, with outer products where a
        // vector operand stands for a one-column or one-row matrix.
        Op::MatMul => {
            let b = node.args[1];
            let b_shape = g.shape(b).clone();
            let (a_bar, b_bar) = match (a_shape.rank(), b_shape.rank()) {
                (2, 2) => {
                    let bt = g.transpose(b);
                    let at = g.transpose(a);
                    (g.matmul(v_bar, bt), g.matmul(at, v_bar))
                }
                // [m, k] @ [k] -> [m]: Ā = C̄ bᵀ (outer), b̄ = Aᵀ C̄.
                (2, 1) => {
                    let m = a_shape.dims()[0];
                    let col = g.reshape(v_bar, &Shape::new(vec![m, 1]));
                    let at = g.transpose(a);
                    (g.mul(col, b), g.matmul(at, v_bar))
                }
                // [k] @ [k, n] -> [n]: ā = B C̄, B̄ = a C̄ᵀ (outer).
                (1, 2) => {
                    let k = a_shape.dims()[0];
                    let col = g.reshape(a, &Shape::new(vec![k, 1]));
                    (g.matmul(b, v_bar), g.mul(col, v_bar))
                }
                // The dot product: C̄ is a scalar.
                _ => (g.mul(v_bar, b), g.mul(v_bar, a)),
            };
            smallvec![(0, a_bar), (1, b_bar)]
        }
        Op::Transpose => one(g.transpose(v_bar)),
        Op::Sum(axis) => one(unreduce(g, v_bar, axis_index(axis), &a_shape)),
        Op::Mean(axis) => {
            let k = axis_index(axis);
            let n = g.int(reduced_count(&a_shape, k));
            let spread = unreduce(g, v_bar, k, &a_shape);
            one(g.div(spread, n))
        }
        // The adjoint goes to the first largest entry (see the module doc).
        Op::MaxReduce(axis) => {
            let k = axis_index(axis);
            let mask = g.argmax_mask(a, axis);
            let kept = keep_axis(g, v_bar, k, &a_shape);
            one(g.mul(mask, kept))
        }
        Op::ArgMaxMask(_) => SmallVec::new(),
        Op::SumTo(_) => one(g.broadcast_to(v_bar, &a_shape)),
        Op::BroadcastTo(_) => one(g.sum_to(v_bar, &a_shape)),
        Op::Reshape(_) => one(g.reshape(v_bar, &a_shape)),
        // s = softmax(a): ā = s ⊙ (v̄ - sum_last(v̄ ⊙ s)).
        Op::Softmax => {
            let vs = g.mul(v_bar, v);
            let dot = sum_last_kept(g, vs);
            let centered = g.sub(v_bar, dot);
            one(g.mul(v, centered))
        }
        // l = logsumexp(a): ā = v̄ ⊙ softmax(a), v̄ repeated along the last axis.
        Op::LogSumExp => {
            let s = g.softmax(a);
            let last = a_shape.rank() - 1;
            let kept = keep_axis(g, v_bar, Some(last), &a_shape);
            one(g.mul(kept, s))
        }
        // y = conv(x, K), linear in each: x̄ = convᵀ(ȳ, K), K̄ = Σ ȳ ⋆ x.
        Op::Conv2d(c) => {
            let k = node.args[1];
            let k_shape = g.shape(k).clone();
            let x_bar = g.conv2d_input_grad(v_bar, k, c, &a_shape);
            let k_bar = g.conv2d_kernel_grad(a, v_bar, c, &k_shape);
            smallvec![(0, x_bar), (1, k_bar)]
        }
        // y = convᵀ(w, K): ⟨ȳ, convᵀ(w, K)⟩ = ⟨conv(ȳ, K), w⟩ = ⟨Σ w ⋆ ȳ, K⟩.
        Op::Conv2dInputGrad(c, _) => {
            let k = node.args[1];
            let k_shape = g.shape(k).clone();
            let w_bar = g.conv2d(v_bar, k, c);
            let k_bar = g.conv2d_kernel_grad(v_bar, a, c, &k_shape);
            smallvec![(0, w_bar), (1, k_bar)]
        }
        // y = Σ w ⋆ x: ⟨ȳ, y⟩ = ⟨convᵀ(w, ȳ), x⟩ = ⟨conv(x, ȳ), w⟩.
        Op::Conv2dKernelGrad(c, _) => {
            let w = node.args[1];
            let x_bar = g.conv2d_input_grad(w, v_bar, c, &a_shape);
            let w_bar = g.conv2d(a, v_bar, c);
            smallvec![(0, x_bar), (1, w_bar)]
        }
        // The adjoint goes to the first largest entry of each window.
        Op::MaxPool(k) => {
            let mask = g.maxpool_mask(a, k);
            let spread = g.upsample(v_bar, k, &a_shape);
            one(g.mul(mask, spread))
        }
        Op::MaxPoolMask(_) => SmallVec::new(),
        Op::SumPool(k) => one(g.upsample(v_bar, k, &a_shape)),
        Op::Upsample(k, _) => one(g.sumpool(v_bar, k)),
        Op::Select { axis, at } => one(g.embed(v_bar, axis, at, &a_shape)),
        Op::Embed { axis, at, .. } => one(g.select(v_bar, axis, at)),
        op => unreachable!("{op:?} is not a tensor operation"),
    }
}

/// Forward-mode rules of the tensor operations, tangents shaped like operands.
fn tensor_jvp(g: &mut Graph, v: NodeId, tangents: &[Option<NodeId>]) -> Option<NodeId> {
    let node = g.node(v).clone();
    let a = node.args[0];
    let a_dot = tangents[0];
    let a_shape = g.shape(a).clone();
    match node.op {
        // Ċ = Ȧ @ B + A @ Ḃ
        Op::MatMul => {
            let b = node.args[1];
            let left = a_dot.map(|t| g.matmul(t, b));
            let right = tangents[1].map(|t| g.matmul(a, t));
            match (left, right) {
                (Some(l), Some(r)) => Some(g.add(l, r)),
                (l, r) => l.or(r),
            }
        }
        Op::Transpose => a_dot.map(|t| g.transpose(t)),
        Op::Sum(axis) => a_dot.map(|t| g.sum(t, axis)),
        Op::Mean(axis) => a_dot.map(|t| g.mean(t, axis)),
        Op::MaxReduce(axis) => a_dot.map(|t| {
            let mask = g.argmax_mask(a, axis);
            let picked = g.mul(mask, t);
            g.sum(picked, axis)
        }),
        Op::ArgMaxMask(_) => None,
        Op::SumTo(_) | Op::BroadcastTo(_) | Op::Reshape(_) => {
            let shape = g.shape(v).clone();
            a_dot.map(|t| match node.op {
                Op::SumTo(_) => g.sum_to(t, &shape),
                Op::BroadcastTo(_) => g.broadcast_to(t, &shape),
                _ => g.reshape(t, &shape),
            })
        }
        // ṡ = s ⊙ (ȧ - sum_last(ȧ ⊙ s)): the softmax Jacobian is symmetric.
        Op::Softmax => a_dot.map(|t| {
            let ts = g.mul(t, v);
            let dot = sum_last_kept(g, ts);
            let centered = g.sub(t, dot);
            g.mul(v, centered)
        }),
        // l̇ = sum_last(softmax(a) ⊙ ȧ)
        Op::LogSumExp => a_dot.map(|t| {
            let s = g.softmax(a);
            let st = g.mul(s, t);
            let last = a_shape.rank() - 1;
            g.sum(st, Axis::Dim(last as u32))
        }),
        // The three convolutions are bilinear: the product rule, term by term.
        Op::Conv2d(_) | Op::Conv2dInputGrad(..) | Op::Conv2dKernelGrad(..) => {
            let b = node.args[1];
            let apply = |g: &mut Graph, x: NodeId, y: NodeId| match node.op {
                Op::Conv2d(c) => g.conv2d(x, y, c),
                Op::Conv2dInputGrad(c, s) => {
                    let s = g.shape_by_id(s).clone();
                    g.conv2d_input_grad(x, y, c, &s)
                }
                Op::Conv2dKernelGrad(c, s) => {
                    let s = g.shape_by_id(s).clone();
                    g.conv2d_kernel_grad(x, y, c, &s)
                }
                _ => unreachable!(),
            };
            let left = a_dot.map(|t| apply(g, t, b));
            let right = tangents[1].map(|t| apply(g, a, t));
            match (left, right) {
                (Some(l), Some(r)) => Some(g.add(l, r)),
                (l, r) => l.or(r),
            }
        }
        // Each window's first largest entry moves with its tangent.
        Op::MaxPool(k) => a_dot.map(|t| {
            let mask = g.maxpool_mask(a, k);
            let picked = g.mul(mask, t);
            g.sumpool(picked, k)
        }),
        Op::MaxPoolMask(_) => None,
        Op::SumPool(k) => a_dot.map(|t| g.sumpool(t, k)),
        Op::Upsample(k, s) => {
            let s = g.shape_by_id(s).clone();
            a_dot.map(|t| g.upsample(t, k, &s))
        }
        Op::Select { axis, at } => a_dot.map(|t| g.select(t, axis, at)),
        Op::Embed { axis, at, shape } => {
            let s = g.shape_by_id(shape).clone();
            a_dot.map(|t| g.embed(t, axis, at, &s))
        }
        op => unreachable!("{op:?} is not a tensor operation"),
    }
}

/// The product of every operand of a product node except slot `i`.
fn product_of_others(g: &mut Graph, args: &[NodeId], i: usize) -> NodeId {
    let mut acc: Option<NodeId> = None;
    for (j, &a) in args.iter().enumerate() {
        if j != i {
            acc = Some(match acc {
                None => a,
                Some(p) => g.mul(p, a),
            });
        }
    }
    acc.unwrap_or_else(|| g.int(1))
}

/// The two factors of `f'(a)` for the functions whose derivative is a
/// product with `v = f(a)` in it (the sigmoid and the secant).
fn func_factors(g: &mut Graph, f: Func, v: NodeId, a: NodeId) -> [NodeId; 2] {
    match f {
        // σ' = σ(a)·σ(-a) (= σ(1 - σ), whose 1 - σ loses all accuracy
        // once σ(a) rounds near 1, e.g. a relative error of 1e-3 at a = 30)
        Func::Sigmoid => {
            let minus_a = g.neg(a);
            [v, g.func(Func::Sigmoid, minus_a)]
        }
        // sec' = sec·tan
        Func::Sec => [v, g.func(Func::Tan, a)],
        _ => unreachable!("{f:?}' is not a product with f in it"),
    }
}

/// `f'(a)` for `v = f(a)`, reusing `v` where the derivative is a function of the value.
fn func_derivative(g: &mut Graph, f: Func, v: NodeId, a: NodeId) -> NodeId {
    let one = g.int(1);
    match f {
        Func::Sin => g.func(Func::Cos, a),
        Func::Cos => {
            let s = g.func(Func::Sin, a);
            g.neg(s)
        }
        // tan' = 1 + tan²
        Func::Tan => {
            let t2 = g.powi(v, 2);
            g.add(one, t2)
        }
        Func::Exp => v,
        Func::Ln => g.div(one, a),
        // sqrt' = 1 / (2 sqrt(a))
        Func::Sqrt => {
            let two = g.int(2);
            let d = g.mul(two, v);
            g.div(one, d)
        }
        // tanh' = 1/cosh² (= 1 - tanh², which cancels to 0 for large |a|
        // where the true value is tiny but representable)
        Func::Tanh => {
            let c = g.func(Func::Cosh, a);
            let c2 = g.powi(c, 2);
            g.div(one, c2)
        }
        Func::Sinh => g.func(Func::Cosh, a),
        Func::Cosh => g.func(Func::Sinh, a),
        // asin' = 1/sqrt(1 - a²), acos' = -1/sqrt(1 - a²)
        Func::Asin | Func::Acos => {
            let a2 = g.powi(a, 2);
            let r = g.sub(one, a2);
            let s = g.func(Func::Sqrt, r);
            let d = g.div(one, s);
            if f == Func::Asin {
                d
            } else {
                g.neg(d)
            }
        }
        // atan' = 1/(1 + a²)
        Func::Atan => {
            let a2 = g.powi(a, 2);
            let d = g.add(one, a2);
            g.div(one, d)
        }
        // asinh' = 1/sqrt(a² + 1)
        Func::Asinh => {
            let a2 = g.powi(a, 2);
            let r = g.add(a2, one);
            let s = g.func(Func::Sqrt, r);
            g.div(one, s)
        }
        // acosh' = 1/sqrt(a² - 1)
        Func::Acosh => {
            let a2 = g.powi(a, 2);
            let r = g.sub(a2, one);
            let s = g.func(Func::Sqrt, r);
            g.div(one, s)
        }
        // atanh' = 1/(1 - a²)
        Func::Atanh => {
            let a2 = g.powi(a, 2);
            let d = g.sub(one, a2);
            g.div(one, d)
        }
        // log_b' = 1/(a ln b)
        Func::Log10 | Func::Log2 => {
            let base = g.int(if f == Func::Log10 { 10 } else { 2 });
            let ln_b = g.func(Func::Ln, base);
            let d = g.mul(a, ln_b);
            g.div(one, d)
        }
        // cbrt' = 1/(3 cbrt(a)²)
        Func::Cbrt => {
            let three = g.int(3);
            let v2 = g.powi(v, 2);
            let d = g.mul(three, v2);
            g.div(one, d)
        }
        Func::Sec | Func::Sigmoid => {
            let [x, y] = func_factors(g, f, v, a);
            g.mul(x, y)
        }
        // csc' = -csc·cot
        Func::Csc => {
            let c = g.func(Func::Cot, a);
            let d = g.mul(v, c);
            g.neg(d)
        }
        // cot' = -1 - cot²
        Func::Cot => {
            let c2 = g.powi(v, 2);
            let d = g.add(one, c2);
            g.neg(d)
        }
        // erf' = 2/sqrt(pi)·exp(-a²), erfc' = -erf'
        Func::Erf | Func::Erfc => {
            let a2 = g.powi(a, 2);
            let minus = g.neg(a2);
            let e = g.func(Func::Exp, minus);
            let pi = g.named(crate::graph::NamedConst::Pi);
            let root = g.func(Func::Sqrt, pi);
            let two = g.int(if f == Func::Erf { 2 } else { -2 });
            let c = g.div(two, root);
            g.mul(c, e)
        }
        Func::Abs => g.func(Func::Sign, a),
        Func::Relu => g.func(Func::Step, a),
        Func::Softplus => g.func(Func::Sigmoid, a),
        Func::Sign | Func::Step | Func::Floor | Func::Ceil => g.int(0),
    }
}

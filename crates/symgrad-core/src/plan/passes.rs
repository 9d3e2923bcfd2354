//! Passes over a lowered plan: products whose transpose is copied out are
//! computed transposed, max pooling's adjoint is one pass instead of three,
//! `relu`'s adjoint one instead of two, and instructions nothing reads are
//! dropped.

use super::{Binary, ImageOp, Instr, Plan, Size, Src, Unary, View, RANK};
use crate::graph::Func;

/// How many instructions (and outputs) read each buffer.
fn read_counts(plan: &Plan) -> Vec<usize> {
    let mut reads = vec![0usize; plan.buffers.len()];
    for i in &plan.instrs {
        for s in i.reads() {
            if let Src::Buf(b) = s {
                reads[b] += 1;
            }
        }
    }
    for (b, _) in &plan.outputs {
        reads[*b] += 1;
    }
    reads
}

/// Removes instructions whose results nothing reads (a `-z` that only fed
/// a sigmoid now computed in a pair, for one).
pub(super) fn drop_dead_instructions(plan: &mut Plan) {
    let mut needed = vec![false; plan.buffers.len()];
    for (b, _) in &plan.outputs {
        needed[*b] = true;
    }
    let mut keep = vec![false; plan.instrs.len()];
    for (k, i) in plan.instrs.iter().enumerate().rev() {
        if i.writes().iter().any(|&b| needed[b]) {
            keep[k] = true;
            for s in i.reads() {
                if let Src::Buf(b) = s {
                    needed[b] = true;
                }
            }
        }
    }
    let mut k = 0;
    plan.instrs.retain(|_| {
        k += 1;
        keep[k - 1]
    });
}

/// Rewrites `t = a @ b; out = copy(tᵀ)` into one product `out = bᵀ @ aᵀ`
/// (operands transposed by strides), when the product is read nowhere else.
pub(super) fn fuse_transposed_products(plan: &mut Plan) {
    let reads = read_counts(plan);
    let mut k = 0;
    while k < plan.instrs.len() {
        let fused = match plan.instrs[k] {
            Instr::Map {
                f: Unary::Copy,
                a,
                out,
                ..
            } => match a.src {
                Src::Buf(t) if reads[t] == 1 => {
                    let producer = plan.instrs[..k].iter().position(|i| i.out() == t);
                    match producer.map(|p| (p, &plan.instrs[p])) {
                        Some((
                            p,
                            &Instr::MatMul {
                                m, n, out_strides, ..
                            },
                        )) if out_strides == [n, Size::ONE]
                            && a.dims[..RANK - 2].iter().all(|&d| d == Size::ONE)
                            && a.dims[RANK - 2] == n
                            && a.dims[RANK - 1] == m
                            && a.strides[RANK - 2] == Size::ONE
                            && a.strides[RANK - 1] == n =>
                        {
                            Some((p, out, m))
                        }
                        _ => None,
                    }
                }
                _ => None,
            },
            _ => None,
        };
        if let Some((p, new_out, rows)) = fused {
            // (A B)ᵀ = Bᵀ Aᵀ: swap and transpose the operands (free, by
            // strides) so that the result is written row-major, which the
            // kernel does faster than through column strides.
            if let Instr::MatMul {
                m,
                n,
                a,
                b,
                out,
                out_strides,
                ..
            } = &mut plan.instrs[p]
            {
                let (sa, sb) = (a.1, b.1);
                (*a, *b) = ((b.0, [sb[1], sb[0]]), (a.0, [sa[1], sa[0]]));
                std::mem::swap(m, n);
                *out = new_out;
                *out_strides = [rows, Size::ONE];
            }
            plan.instrs.remove(k);
        } else {
            k += 1;
        }
    }
}

/// Rewrites reverse mode's adjoint of max pooling, `mask = maxpool_mask(x);
/// up = upsample(dy); out = mask · up`, into one pass `out =
/// max_pool_adjoint(x, dy)` when the mask and the upsampled adjoint are
/// read nowhere else. The graph keeps the three operations (they are what
/// `net explain` shows and the reference evaluator computes); the plan
/// saves two image-sized buffers and two passes over them, about a twelfth
/// of the digits convolutional network's gradient.
pub(super) fn fuse_max_pool_adjoints(plan: &mut Plan) {
    let reads = read_counts(plan);
    let mut producer = vec![None; plan.buffers.len()];
    for (k, i) in plan.instrs.iter().enumerate() {
        producer[i.out()] = Some(k);
    }
    // The pooling geometry, sample count and operand of a buffer written
    // by a mask or an upsampling, read only by the product.
    let image = |plan: &Plan, v: &View, dims: &[Size; RANK]| match v.src {
        Src::Buf(b) if reads[b] == 1 && v.dims == *dims && v.is_contiguous() => {
            match plan.instrs[producer[b]?] {
                Instr::Image {
                    op: op @ (ImageOp::MaxPoolMask(_) | ImageOp::Upsample(_)),
                    samples,
                    a,
                    ..
                } => Some((op, samples, a, b)),
                _ => None,
            }
        }
        _ => None,
    };
    let mut dead = Vec::new();
    for k in 0..plan.instrs.len() {
        let Instr::Zip {
            op: Binary::Mul,
            dims,
            a,
            b,
            out,
        } = plan.instrs[k]
        else {
            continue;
        };
        let (Some(p), Some(q)) = (image(plan, &a, &dims), image(plan, &b, &dims)) else {
            continue;
        };
        let ((mask, up), (mask_buf, up_buf)) = match (p.0, q.0) {
            (ImageOp::MaxPoolMask(_), ImageOp::Upsample(_)) => ((p, q), (p.3, q.3)),
            (ImageOp::Upsample(_), ImageOp::MaxPoolMask(_)) => ((q, p), (q.3, p.3)),
            _ => continue,
        };
        let (ImageOp::MaxPoolMask(g), ImageOp::Upsample(h)) = (mask.0, up.0) else {
            continue;
        };
        if g != h || mask.1 != up.1 {
            continue;
        }
        plan.instrs[k] = Instr::Image {
            op: ImageOp::MaxPoolAdjoint(g),
            samples: mask.1,
            a: mask.2,
            b: Some(up.2),
            out,
        };
        dead.extend([mask_buf, up_buf]);
    }
    // Nothing reads the two intermediates now: `drop_dead_instructions`
    // removes their instructions, and they need no memory.
    for b in dead {
        plan.buffers[b] = Size::ZERO;
    }
}

/// Rewrites `s = step(z); out = s · g` (or `g · s`), reverse mode's adjoint
/// through `relu`, into one pass `out = step_mul(z, g)` when `s` is read
/// nowhere else: the same arithmetic, one image-sized buffer and one pass
/// fewer.
pub(super) fn fuse_step_products(plan: &mut Plan) {
    let reads = read_counts(plan);
    let mut producer = vec![None; plan.buffers.len()];
    for (k, i) in plan.instrs.iter().enumerate() {
        producer[i.out()] = Some(k);
    }
    // The operand of a step read only by the product, whole.
    let step_of = |plan: &Plan, v: &View, dims: &[Size; RANK]| match v.src {
        Src::Buf(b) if reads[b] == 1 && v.dims == *dims && v.is_contiguous() => {
            match plan.instrs[producer[b]?] {
                Instr::Map {
                    f: Unary::Func(Func::Step),
                    dims: d,
                    a,
                    ..
                } if d == *dims => Some((a, b)),
                _ => None,
            }
        }
        _ => None,
    };
    let mut dead = Vec::new();
    for k in 0..plan.instrs.len() {
        let Instr::Zip {
            op: Binary::Mul,
            dims,
            a,
            b,
            out,
        } = plan.instrs[k]
        else {
            continue;
        };
        // x · y = y · x in floating point, so either operand may be the step.
        let fused = match (step_of(plan, &a, &dims), step_of(plan, &b, &dims)) {
            (Some((z, s)), _) => Some((z, b, s)),
            (None, Some((z, s))) => Some((z, a, s)),
            _ => None,
        };
        if let Some((z, g, s)) = fused {
            plan.instrs[k] = Instr::Zip {
                op: Binary::StepMul,
                dims,
                a: z,
                b: g,
                out,
            };
            dead.push(s);
        }
    }
    for b in dead {
        plan.buffers[b] = Size::ZERO;
    }
}

//! Passes over a lowered plan: products whose transpose is copied out are
//! computed transposed, and instructions nothing reads are dropped.

use super::{Instr, Plan, Size, Src, Unary, RANK};

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

//! The convolutions as matrix products over the unfolded input ("im2col":
//! one column per output position holding the `C·kh·kw` entries its window
//! reads), through [`crate::matmul::matmul`], with every intermediate in a
//! caller's scratch vector so that a plan run repeatedly allocates nothing.
//!
//! The forward product and the input gradient run one sample at a time,
//! `out_n [F, Ho·Wo] = K @ cols_n` and `cols_n = Kᵀ @ w_n`, reading `K`,
//! `w_n` and `out_n` where they are (`Kᵀ` is a strided view). Unfolding
//! several samples side by side into one wider product was measured slower
//! for both on the digits network's shapes (32 × 16×8×8 → 32 filters: about
//! 0.9 against 0.64 ms forward, `benches/conv.rs`), since the per-sample
//! products already take the runtime's direct path and the wide one also
//! pays a copy of the output.
//!
//! The kernel gradient `dK = Σ_n w_n @ cols_nᵀ` is different: one sample's
//! product has only `Ho·Wo` terms per entry, so the samples are unfolded
//! in chunks side by side, `cols [C·kh·kw, S·Ho·Wo]`, with `S` as large as
//! keeps the product on the direct path ([`DIRECT_MAX_B`] entries of
//! unfolded columns; about 0.8 against 1.1 ms per sample on the same shape).
//! The chunk's adjoint `w [S, F, Ho·Wo]` must then be read as
//! `[F, S·Ho·Wo]`, which no strided view expresses (the sample axis is
//! outside the filter axis), so it is copied once (`1/(C·kh·kw)` of the
//! product's arithmetic). A large image (AlphaGo Zero's 256×19×19) is one
//! sample per chunk and copies nothing. A 1×1 kernel with stride 1 and no
//! padding unfolds to the image itself, which is read in place.
//!
//! With stride 1 and "same" padding (the networks' 3×3 with padding 1),
//! unfolding and folding back move each window offset's rows as one
//! shifted run (`im2col_same`); short per-row copies cost a call each.

use super::ConvShape;
use crate::matmul::{matmul, Gemm, DIRECT_MAX_B};

/// The scratch layout of the kernel gradient over `n` samples (the most
/// scratch of the three products): samples per chunk, then the lengths of
/// the unfolded columns, of the adjoint's `[F, S·Ho·Wo]` staging copy (0
/// with one sample per chunk) and of the partial sum (0 with one chunk).
#[derive(Clone, Copy, Debug)]
struct Layout {
    chunk: usize,
    cols: usize,
    stage: usize,
    part: usize,
}

impl ConvShape {
    /// Whether the unfolded input of a sample is the sample itself.
    fn unfolds_to_itself(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == 1 && self.padding == 0
    }

    /// How [`conv2d_kernel_grad_in`] splits `self.n` samples; the forward
    /// product and the input gradient use the first `ck·Ho·Wo` entries of
    /// its columns, one sample at a time.
    fn layout(&self) -> Layout {
        let (_, ck, _, hw) = self.sizes();
        let n = self.n.max(1);
        let chunk = if self.unfolds_to_itself() {
            1
        } else {
            (DIRECT_MAX_B / (ck * hw).max(1)).clamp(1, n)
        };
        let cols = if self.unfolds_to_itself() {
            0
        } else {
            ck * chunk * hw
        };
        let stage = if chunk > 1 { self.f * chunk * hw } else { 0 };
        let part = if n > chunk { self.f * ck } else { 0 };
        Layout {
            chunk,
            cols,
            stage,
            part,
        }
    }

    /// The scratch entries [`conv2d_unfolded`], [`conv2d_input_grad_unfolded`]
    /// and [`conv2d_kernel_grad_unfolded`] use for this geometry (the most
    /// of the three).
    pub fn unfolded_scratch_len(&self) -> usize {
        let l = self.layout();
        l.cols + l.stage + l.part
    }
}

/// The first `len` entries of `scratch`, grown (never shrunk) to that.
fn reserve<T: Gemm>(scratch: &mut Vec<T>, len: usize) -> &mut [T] {
    if scratch.len() < len {
        scratch.resize(len, T::ZERO);
    }
    &mut scratch[..len]
}

/// The output columns `oj` whose window entry at offset `q` lies inside a
/// row of `len`, as a range (stride 1): `oj + q - pad ∈ [0, len)`.
fn inside(g: &ConvShape, q: usize, len: usize, wo: usize) -> (usize, usize) {
    let lo = g.padding.saturating_sub(q).min(wo);
    let hi = (len + g.padding).saturating_sub(q).clamp(lo, wo);
    (lo, hi)
}

/// Unfolds one sample into `cols`, whose rows are `ld` apart:
/// `cols[(c·kh + p)·kw + q, oi·Wo + oj] = x[c, oi·s + p - pad, oj·s + q -
/// pad]`, 0 in the padding.
fn im2col<T: Gemm>(g: &ConvShape, x: &[T], cols: &mut [T], ld: usize) {
    let (ho, wo) = g.out_hw();
    if g.stride == 1 && wo == g.w && g.padding < g.w {
        return im2col_same(g, x, cols, ld);
    }
    for c in 0..g.c {
        for p in 0..g.kh {
            for q in 0..g.kw {
                let row = &mut cols[((c * g.kh + p) * g.kw + q) * ld..][..ho * wo];
                let (lo, hi) = inside(g, q, g.w, wo);
                for oi in 0..ho {
                    let out = &mut row[oi * wo..][..wo];
                    let Some(i) = g.source(oi, p, g.h) else {
                        out.fill(T::ZERO);
                        continue;
                    };
                    let src = &x[(c * g.h + i) * g.w..][..g.w];
                    if g.stride == 1 {
                        // A run of the source row between two runs of padding.
                        out[..lo].fill(T::ZERO);
                        if hi > lo {
                            out[lo..hi].copy_from_slice(&src[lo + q - g.padding..][..hi - lo]);
                        }
                        out[hi..].fill(T::ZERO);
                    } else {
                        for (oj, o) in out.iter_mut().enumerate() {
                            *o = g.source(oj, q, g.w).map_or(T::ZERO, |j| src[j]);
                        }
                    }
                }
            }
        }
    }
}

/// [`im2col`] for stride 1 and an output as wide as the input ("same"
/// padding, `2·pad = kw - 1`, the networks' 3×3 with padding 1): then the
/// window offset `(p, q)` reads the valid rows of a channel as one
/// contiguous run shifted by `q - pad`, so each row of `cols` is one copy
/// (rather than one per output row, each a call for a handful of entries)
/// followed by zeroing the few columns the shift wrapped into the
/// neighbouring row.
fn im2col_same<T: Gemm>(g: &ConvShape, x: &[T], cols: &mut [T], ld: usize) {
    let (ho, w) = (g.out_hw().0, g.w);
    let pad = g.padding;
    for c in 0..g.c {
        for p in 0..g.kh {
            // The output rows whose input row `oi + p - pad` is inside.
            let oi_lo = pad.saturating_sub(p).min(ho);
            let oi_hi = (g.h + pad).saturating_sub(p).clamp(oi_lo, ho);
            for q in 0..g.kw {
                let row = &mut cols[((c * g.kh + p) * g.kw + q) * ld..][..ho * w];
                row[..oi_lo * w].fill(T::ZERO);
                row[oi_hi * w..].fill(T::ZERO);
                let block = &mut row[oi_lo * w..oi_hi * w];
                if block.is_empty() {
                    continue;
                }
                // block[t] = x[c, first row, t + shift] with shift = q - pad
                // in [-pad, pad]; the copy covers the t whose source is
                // inside the channel's valid rows.
                let base = (c * g.h + oi_lo + p - pad) * w;
                let len = block.len();
                let (left, right) = (pad.saturating_sub(q), q.saturating_sub(pad));
                let src = &x[base..base + len];
                block[left..len - right].copy_from_slice(&src[right..len - left]);
                // Columns whose source is in the padding (|shift| < w).
                for r in block.chunks_exact_mut(w) {
                    r[..left].fill(T::ZERO);
                    r[w - right..].fill(T::ZERO);
                }
            }
        }
    }
}

/// Adds the unfolded columns (rows `ld` apart) back onto one sample's
/// image: the adjoint of [`im2col`].
fn col2im_add<T: Gemm>(g: &ConvShape, cols: &mut [T], ld: usize, dx: &mut [T]) {
    let (ho, wo) = g.out_hw();
    if g.stride == 1 && wo == g.w && g.padding < g.w {
        return col2im_same_add(g, cols, ld, dx);
    }
    for c in 0..g.c {
        for p in 0..g.kh {
            for q in 0..g.kw {
                let row = &cols[((c * g.kh + p) * g.kw + q) * ld..][..ho * wo];
                let (lo, hi) = inside(g, q, g.w, wo);
                for oi in 0..ho {
                    let Some(i) = g.source(oi, p, g.h) else {
                        continue;
                    };
                    let dst = &mut dx[(c * g.h + i) * g.w..][..g.w];
                    let src = &row[oi * wo..][..wo];
                    if g.stride == 1 {
                        if hi > lo {
                            let dst = &mut dst[lo + q - g.padding..][..hi - lo];
                            for (d, &v) in dst.iter_mut().zip(&src[lo..hi]) {
                                *d = *d + v;
                            }
                        }
                    } else {
                        for (oj, &v) in src.iter().enumerate() {
                            if let Some(j) = g.source(oj, q, g.w) {
                                dst[j] = dst[j] + v;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// [`col2im_add`] for the geometry of [`im2col_same`]: the columns whose
/// source is in the padding are zeroed in `cols` (scratch, read once), so
/// that each row of `cols` adds onto the image as one contiguous run.
fn col2im_same_add<T: Gemm>(g: &ConvShape, cols: &mut [T], ld: usize, dx: &mut [T]) {
    let (ho, w) = (g.out_hw().0, g.w);
    let pad = g.padding;
    for c in 0..g.c {
        for p in 0..g.kh {
            let oi_lo = pad.saturating_sub(p).min(ho);
            let oi_hi = (g.h + pad).saturating_sub(p).clamp(oi_lo, ho);
            if oi_hi == oi_lo {
                continue;
            }
            for q in 0..g.kw {
                let row = &mut cols[((c * g.kh + p) * g.kw + q) * ld..][..ho * w];
                let block = &mut row[oi_lo * w..oi_hi * w];
                let (left, right) = (pad.saturating_sub(q), q.saturating_sub(pad));
                for r in block.chunks_exact_mut(w) {
                    r[..left].fill(T::ZERO);
                    r[w - right..].fill(T::ZERO);
                }
                let base = (c * g.h + oi_lo + p - pad) * w;
                let len = block.len();
                let dst = &mut dx[base + right..base + len - left];
                for (d, &v) in dst.iter_mut().zip(&block[left..len - right]) {
                    *d = *d + v;
                }
            }
        }
    }
}

/// The samples `n0..n0 + s` of `x`, unfolded side by side into `cols`
/// (`[C·kh·kw, s·Ho·Wo]`, rows `ld = s·Ho·Wo` apart).
fn unfold_chunk<T: Gemm>(g: &ConvShape, x: &[T], n0: usize, s: usize, cols: &mut [T]) {
    let (xs, _, _, hw) = g.sizes();
    for t in 0..s {
        im2col(g, &x[(n0 + t) * xs..][..xs], &mut cols[t * hw..], s * hw);
    }
}

/// Copies `[s, F, hw]` samples into `[F, s·hw]` (each filter's rows of
/// the samples side by side).
fn gather<T: Gemm>(f: usize, s: usize, hw: usize, samples: &[T], stage: &mut [T]) {
    for t in 0..s {
        for fi in 0..f {
            stage[(fi * s + t) * hw..][..hw].copy_from_slice(&samples[(t * f + fi) * hw..][..hw]);
        }
    }
}

/// [`super::conv2d_direct`] as one product per sample over its unfolded
/// columns, `out_n [F, Ho·Wo] = K [F, C·kh·kw] @ cols_n`, the columns in
/// `scratch` (grown to [`ConvShape::unfolded_scratch_len`] on the first
/// call).
pub fn conv2d_unfolded<T: Gemm>(
    g: &ConvShape,
    x: &[T],
    k: &[T],
    out: &mut [T],
    scratch: &mut Vec<T>,
) {
    let (xs, ck, os, hw) = g.sizes();
    assert!(x.len() == g.n * xs && k.len() == g.f * ck && out.len() == g.n * os);
    let cols = reserve(scratch, if g.unfolds_to_itself() { 0 } else { ck * hw });
    for n in 0..g.n {
        let xn = &x[n * xs..][..xs];
        let b: &[T] = if g.unfolds_to_itself() {
            xn
        } else {
            im2col(g, xn, cols, hw);
            cols
        };
        let o = &mut out[n * os..][..os];
        matmul(g.f, ck, hw, k, [ck, 1], b, [hw, 1], o, [hw, 1]);
    }
}

/// [`super::conv2d_input_grad_direct`] as one product per sample: the
/// columns `Kᵀ @ w_n` (in `scratch`) folded back onto the image.
pub fn conv2d_input_grad_unfolded<T: Gemm>(
    g: &ConvShape,
    w: &[T],
    k: &[T],
    dx: &mut [T],
    scratch: &mut Vec<T>,
) {
    let (xs, ck, os, hw) = g.sizes();
    assert!(dx.len() == g.n * xs && k.len() == g.f * ck && w.len() == g.n * os);
    let cols = reserve(scratch, if g.unfolds_to_itself() { 0 } else { ck * hw });
    for n in 0..g.n {
        let wn = &w[n * os..][..os];
        let d = &mut dx[n * xs..][..xs];
        if g.unfolds_to_itself() {
            // The columns are the image's own entries: write them there.
            matmul(ck, g.f, hw, k, [1, ck], wn, [hw, 1], d, [hw, 1]);
        } else {
            matmul(ck, g.f, hw, k, [1, ck], wn, [hw, 1], cols, [hw, 1]);
            d.fill(T::ZERO);
            col2im_add(g, cols, hw, d);
        }
    }
}

/// [`super::conv2d_kernel_grad_direct`] as products: `dK = w @ colsᵀ`
/// summed over the chunks, intermediates in `scratch`.
pub fn conv2d_kernel_grad_unfolded<T: Gemm>(
    g: &ConvShape,
    x: &[T],
    w: &[T],
    dk: &mut [T],
    scratch: &mut Vec<T>,
) {
    let (xs, ck, os, hw) = g.sizes();
    assert!(x.len() == g.n * xs && dk.len() == g.f * ck && w.len() == g.n * os);
    let l = g.layout();
    if g.n == 0 {
        dk.fill(T::ZERO);
        return;
    }
    let scratch = reserve(scratch, l.cols + l.stage + l.part);
    let (cols, rest) = scratch.split_at_mut(l.cols);
    let (stage, part) = rest.split_at_mut(l.stage);
    let mut n0 = 0;
    while n0 < g.n {
        let s = l.chunk.min(g.n - n0);
        let width = s * hw;
        let wn = &w[n0 * os..][..s * os];
        let a: &[T] = if s == 1 {
            wn
        } else {
            let st = &mut stage[..g.f * width];
            gather(g.f, s, hw, wn, st);
            &*st
        };
        let b: &[T] = if g.unfolds_to_itself() {
            &x[n0 * xs..][..xs]
        } else {
            unfold_chunk(g, x, n0, s, cols);
            &cols[..ck * width]
        };
        // The first chunk writes dK directly; the others add a product.
        let target = if n0 == 0 { &mut *dk } else { &mut *part };
        matmul(
            g.f,
            width,
            ck,
            a,
            [width, 1],
            b,
            [1, width],
            target,
            [ck, 1],
        );
        if n0 > 0 {
            for (d, p) in dk.iter_mut().zip(part.iter()) {
                *d = *d + *p;
            }
        }
        n0 += s;
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::agree_with;
    use super::*;

    /// The three unfolded products against the direct loops.
    fn agree(g: ConvShape) {
        agree_with(
            g,
            g.unfolded_scratch_len(),
            [
                conv2d_unfolded,
                conv2d_input_grad_unfolded,
                conv2d_kernel_grad_unfolded,
            ],
        );
    }

    fn shape(
        n: usize,
        c: usize,
        hw: [usize; 2],
        f: usize,
        k: [usize; 2],
        s: usize,
        p: usize,
    ) -> ConvShape {
        ConvShape {
            n,
            c,
            h: hw[0],
            w: hw[1],
            f,
            kh: k[0],
            kw: k[1],
            stride: s,
            padding: p,
        }
    }

    #[test]
    fn several_samples_per_chunk() {
        let g = shape(5, 3, [6, 7], 4, [3, 2], 1, 1);
        assert_eq!(g.layout().chunk, 5);
        agree(g);
        agree(shape(4, 2, [7, 6], 3, [3, 3], 2, 1));
    }

    #[test]
    fn one_sample_per_chunk_and_uneven_chunks() {
        // 4·9 rows × 30·30 positions = 32,400 entries per sample: two fit
        // the direct path's 65,536, so 3 samples make chunks of 2 and 1.
        let g = shape(3, 4, [30, 30], 5, [3, 3], 1, 1);
        assert_eq!(g.layout().chunk, 2);
        agree(g);
        // One sample over the limit on its own: chunks of 1.
        let g = shape(2, 16, [30, 30], 3, [3, 3], 1, 1);
        assert_eq!(g.layout().chunk, 1);
        agree(g);
    }

    #[test]
    fn a_one_by_one_kernel_reads_the_image_in_place() {
        let g = shape(3, 4, [5, 3], 6, [1, 1], 1, 0);
        assert_eq!(
            g.unfolded_scratch_len(),
            6 * 4,
            "only the kernel gradient's partial sum"
        );
        agree(g);
        // With padding or stride it unfolds as any other kernel.
        agree(shape(3, 4, [5, 3], 6, [1, 1], 1, 1));
        agree(shape(3, 4, [5, 3], 6, [1, 1], 2, 0));
    }

    #[test]
    fn same_padding_unfolds_by_shifted_runs() {
        // 3×3 with padding 1 on non-square images, 5×5 with padding 2 on
        // an image 3 wide (shifts up to ±2), 1×3 with padding 1 (whole
        // output rows of padding above and below),
        // and a 5-wide kernel with padding 2 on a 2-wide image (padding
        // not below the width: the general unfolding).
        agree(shape(3, 2, [5, 4], 3, [3, 3], 1, 1));
        agree(shape(2, 3, [4, 3], 2, [5, 5], 1, 2));
        agree(shape(2, 2, [3, 6], 2, [1, 3], 1, 1));
        agree(shape(2, 1, [2, 2], 2, [5, 5], 1, 2));
    }

    #[test]
    fn padding_wider_than_the_kernel_reach_and_empty_batches() {
        // Padding 3 with a 2-wide kernel: whole output columns see only zeros.
        agree(shape(2, 2, [3, 2], 2, [2, 2], 1, 3));
        agree(shape(0, 2, [4, 4], 3, [3, 3], 1, 1));
    }
}

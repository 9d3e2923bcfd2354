//! The 3×3 convolutions with stride 1 and padding 1 (the networks' "same"
//! convolutions) by Winograd's minimal filtering F(2×2, 3×3): each 2×2
//! block of the output comes from a 4×4 block of the input through 16
//! products per channel pair instead of 36, so the matrix products, which
//! are nearly all of a convolution's time, do 2.25 times less arithmetic.
//!
//! With `d` a 4×4 input tile of channel `c` (zero outside the image) and
//! `g` the 3×3 kernel of filter `f` and channel `c`, the output tile is
//! `Y = Aᵀ [ Σ_c (G g Gᵀ) ⊙ (Bᵀ d B) ] A`: the kernel transform `U = G g
//! Gᵀ` and the tile transform `V = Bᵀ d B` are 4×4, and for each of the 16
//! positions `ξ` of a 4×4 block the sum over channels is one matrix
//! product `M_ξ [F × tiles] = U_ξ [F × C] · V_ξ [C × tiles]`, run through
//! [`crate::matmul::matmul`] over a chunk of tiles at a time (so that `V`
//! and `M` stay in cache). The matrices (Lavin and Gray, "Fast Algorithms
//! for Convolutional Neural Networks", 2016):
//!
//! ```text
//! Bᵀ = [1  0 -1  0]    G = [ 1    0    0 ]    Aᵀ = [1 1  1  0]
//!      [0  1  1  0]        [1/2  1/2  1/2]         [0 1 -1 -1]
//!      [0 -1  1  0]        [1/2 -1/2  1/2]
//!      [0  1  0 -1]        [ 0    0    1 ]
//! ```
//!
//! Their entries are 0, ±1 and ±1/2, so the transforms add and halve
//! exactly; the results differ from the direct sums only by the order of
//! the additions (the tests compare with the direct loops to 1e-10).
//!
//! The two backward products reuse it. The input gradient of a stride-1,
//! padding-1 3×3 convolution is itself one, of the adjoint with the kernel
//! flipped and its two channel axes swapped (`K̃[c, f, p, q] = K[f, c, 2 -
//! p, 2 - q]`). The kernel gradient is the adjoint of the forward
//! computation: `dM = A dY Aᵀ` per tile, `dU_ξ [F × C] = dM_ξ · V_ξᵀ`
//! summed over the chunks, and `dK = Gᵀ dU G`.

// Index loops over the four columns of a 4×4 block read several arrays
// at once.
#![allow(clippy::needless_range_loop)]

use super::ConvShape;
use crate::matmul::{matmul, Gemm};

/// Whether the kernels take this path for `g`: 3×3, stride 1, padding 1,
/// and channels enough that the products outweigh the transforms. Per tile
/// the products cost `16 C F` multiply-adds and the transforms about `16
/// (C + F)` additions, so the saving pays where `C F / (C + F)` is large:
/// at least 32 (64 channels and 64 filters, or 48 and 96). Measured
/// (`cargo bench --bench conv`, 2 December 2026): AlphaGo Zero's 256 → 256
/// on 19×19 takes 0.66x to 0.8x the unfolded products' time, but the digits
/// network's 16 → 32 on 8×8 (`C F / (C + F)` = 10.7) takes 1.2x and a
/// 16 → 16 block 1.5x, the transforms' short rows of 4 tiles costing more
/// than the products they save.
pub fn applies(g: &ConvShape) -> bool {
    g.kh == 3
        && g.kw == 3
        && g.stride == 1
        && g.padding == 1
        && g.c * g.f >= 32 * (g.c + g.f)
        && g.h >= 1
        && g.w >= 1
}

/// The 16 positions of a transformed 4×4 block.
pub(super) const XI: usize = 16;

/// The geometry's tiles and how the scratch is laid out. Tiles are
/// numbered by sample, tile row and tile column, and a chunk is a run of
/// whole tile rows, so that the transforms run along a row of tiles as
/// vectors.
#[derive(Clone, Copy, Debug)]
struct Plan {
    /// Tiles per sample along the height and the width (2×2 output each).
    th: usize,
    tw: usize,
    /// Tile rows per chunk, and the chunk's tiles (`rows · tw`, the
    /// leading dimension of its `V` and `M`).
    rows: usize,
    chunk: usize,
}

impl Plan {
    /// At least `target` tiles per chunk (whole rows of them) where the
    /// batch has them.
    fn new(g: &ConvShape, target: usize) -> Plan {
        let (th, tw) = (g.h.div_ceil(2), g.w.div_ceil(2));
        let rows = target.div_ceil(tw).clamp(1, (g.n * th).max(1));
        Plan {
            th,
            tw,
            rows,
            chunk: rows * tw,
        }
    }

    /// The forward product's chunks: `V` and `M`, 16 · (C + F) · chunk
    /// entries, in about 256 KiB of f64, so that the products read and
    /// write in the L2 cache.
    fn forward(g: &ConvShape) -> Plan {
        Plan::new(g, (4096 / (g.c + g.f).max(1)).clamp(16, 256))
    }

    /// The kernel gradient's chunks: each ends with adding an `F × C × 16`
    /// partial sum, so a chunk has at least 256 tiles (the products'
    /// inner dimension).
    fn kernel_grad(g: &ConvShape) -> Plan {
        Plan::new(g, (4096 / (g.c + g.f).max(1)).max(256))
    }

    /// Tile rows in the whole batch.
    fn tile_rows(&self, g: &ConvShape) -> usize {
        g.n * self.th
    }

    /// The entries of the per-row work lines (padded rows and their
    /// combinations).
    fn lines(&self) -> usize {
        12 * (2 * self.tw + 2)
    }
}

/// The scratch entries the three products use for `g` (the most of them:
/// the transformed kernels, two transformed-kernel sums for the kernel
/// gradient, the flipped kernel for the input gradient, a chunk's `V` and
/// `M`, and the work lines).
pub fn scratch_len(g: &ConvShape) -> usize {
    let (c, f) = (g.c, g.f);
    let u = XI * f * c;
    let (fw, kg) = (Plan::forward(g), Plan::kernel_grad(g));
    let chunk = |p: Plan| XI * (c + f) * p.chunk + p.lines();
    // Forward: U + chunk. Input gradient: the flipped kernel (9 f c) + its
    // U + chunk. Kernel gradient: dU + partial dU + chunk.
    (9 * f * c + u + chunk(fw)).max(2 * u + chunk(kg))
}

/// Panics unless an image batch, a kernel and an output (or their
/// adjoints) have `g`'s sizes: a bug in the caller, as in the other
/// convolution kernels.
pub(super) fn check(g: &ConvShape, image: usize, kernel: usize, output: usize) {
    let plane = g.h * g.w;
    assert!(
        image == g.n * g.c * plane && kernel == g.f * g.c * 9 && output == g.n * g.f * plane,
        "symgrad kernel: winograd convolution sizes"
    );
}

/// The first `len` entries of `scratch`, grown (never shrunk) to that.
pub(super) fn reserve<T: Gemm>(scratch: &mut Vec<T>, len: usize) -> &mut [T] {
    if scratch.len() < len {
        scratch.resize(len, T::ZERO);
    }
    &mut scratch[..len]
}

/// `flipped[c, f, p, q] = k[f, c, 2 - p, 2 - q]`: the kernel of the input
/// gradient's convolution (both Winograd modules take it that way).
pub(super) fn flip_kernel<T: Gemm>(f: usize, c: usize, k: &[T], flipped: &mut [T]) {
    for fi in 0..f {
        for ci in 0..c {
            for q in 0..9 {
                flipped[(ci * f + fi) * 9 + (8 - q)] = k[(fi * c + ci) * 9 + q];
            }
        }
    }
}

/// `u[ξ][f][c] = (G k[f, c] Gᵀ)[ξ]` for a kernel `[F, C, 3, 3]`.
fn transform_kernel<T: Gemm>(f: usize, c: usize, k: &[T], u: &mut [T]) {
    transform_kernel_at(f, c, k, u, |xi, fi, ci| (xi * f + fi) * c + ci);
}

/// [`transform_kernel`] with `u[ξ, f, c]` at `at(ξ, f, c)`.
pub(super) fn transform_kernel_at<T: Gemm>(
    f: usize,
    c: usize,
    k: &[T],
    u: &mut [T],
    at: impl Fn(usize, usize, usize) -> usize,
) {
    let half = T::from_f64(0.5);
    for fi in 0..f {
        for ci in 0..c {
            let g = &k[(fi * c + ci) * 9..][..9];
            // t = G g (4 × 3), by rows of g.
            let mut t = [[T::ZERO; 3]; 4];
            for j in 0..3 {
                let (g0, g1, g2) = (g[j], g[3 + j], g[6 + j]);
                t[0][j] = g0;
                t[1][j] = (g0 + g1 + g2) * half;
                t[2][j] = (g0 - g1 + g2) * half;
                t[3][j] = g2;
            }
            for (i, row) in t.iter().enumerate() {
                let [a, b, cc] = *row;
                let vals = [a, (a + b + cc) * half, (a - b + cc) * half, cc];
                for (j, v) in vals.into_iter().enumerate() {
                    u[at(i * 4 + j, fi, ci)] = v;
                }
            }
        }
    }
}

/// `dk[f, c] = Gᵀ du[·][f][c] G` (the adjoint of [`transform_kernel`]).
fn transform_kernel_adjoint<T: Gemm>(f: usize, c: usize, du: &[T], dk: &mut [T]) {
    transform_kernel_adjoint_at(f, c, du, dk, |xi, fi, ci| (xi * f + fi) * c + ci);
}

/// [`transform_kernel_adjoint`] with `du[ξ, f, c]` at `at(ξ, f, c)`.
pub(super) fn transform_kernel_adjoint_at<T: Gemm>(
    f: usize,
    c: usize,
    du: &[T],
    dk: &mut [T],
    index: impl Fn(usize, usize, usize) -> usize,
) {
    let half = T::from_f64(0.5);
    for fi in 0..f {
        for ci in 0..c {
            let at = |xi: usize| du[index(xi, fi, ci)];
            // r = Gᵀ dU (3 × 4), by columns of dU.
            let mut r = [[T::ZERO; 4]; 3];
            for j in 0..4 {
                let (d0, d1, d2, d3) = (at(j), at(4 + j), at(8 + j), at(12 + j));
                r[0][j] = d0 + (d1 + d2) * half;
                r[1][j] = (d1 - d2) * half;
                r[2][j] = (d1 + d2) * half + d3;
            }
            let out = &mut dk[(fi * c + ci) * 9..][..9];
            for (i, row) in r.iter().enumerate() {
                let [a, b, cc, d] = *row;
                out[i * 3] = a + (b + cc) * half;
                out[i * 3 + 1] = (b - cc) * half;
                out[i * 3 + 2] = (b + cc) * half + d;
            }
        }
    }
}

/// `out[t] = entry(t)` for every `t`: one row of a transformed block's
/// entry over a row of tiles.
#[inline(always)]
fn fill_with<T: Gemm>(out: &mut [T], entry: impl Fn(usize) -> T) {
    for (t, o) in out.iter_mut().enumerate() {
        *o = entry(t);
    }
}

/// `v[ξ][c][k] = (Bᵀ d B)[ξ]` for the tiles of the tile rows `row0..row0 +
/// rows` of `x` (`[n, C, H, W]`; `k` counts from the chunk's first tile),
/// `d` the 4×4 block at rows `2 ti - 1 ..`, columns `2 tj - 1 ..` of
/// channel `c`, zero outside the image. Along a tile row, the four input
/// rows are copied with their padding, combined by `Bᵀ` as whole rows,
/// then by `B` as vectors over the tiles.
#[allow(clippy::too_many_arguments)]
fn transform_tiles<T: Gemm>(
    g: &ConvShape,
    p: &Plan,
    x: &[T],
    row0: usize,
    rows: usize,
    v: &mut [T],
    lines: &mut [T],
) {
    let (c, h, w, tw, ld) = (g.c, g.h, g.w, p.tw, p.chunk);
    let wp = 2 * tw + 2;
    let (padded, comb) = lines[..8 * wp].split_at_mut(4 * wp);
    for r in 0..rows {
        let (s, ti) = ((row0 + r) / p.th, (row0 + r) % p.th);
        let k0 = r * tw;
        for ci in 0..c {
            let plane = &x[(s * c + ci) * h * w..][..h * w];
            for (i, line) in padded.chunks_exact_mut(wp).enumerate() {
                // Input row 2 ti + i - 1 at columns -1 .. 2 tw + 1.
                match (2 * ti + i).checked_sub(1).filter(|&y| y < h) {
                    Some(y) => {
                        line[0] = T::ZERO;
                        line[1..1 + w].copy_from_slice(&plane[y * w..][..w]);
                        line[1 + w..].fill(T::ZERO);
                    }
                    None => line.fill(T::ZERO),
                }
            }
            let (d0, rest) = padded.split_at(wp);
            let (d1, rest) = rest.split_at(wp);
            let (d2, d3) = rest.split_at(wp);
            let (b0, rest) = comb.split_at_mut(wp);
            let (b1, rest) = rest.split_at_mut(wp);
            let (b2, b3) = rest.split_at_mut(wp);
            // Bᵀ d: rows 0 - 2, 1 + 2, 2 - 1, 1 - 3.
            for j in 0..wp {
                b0[j] = d0[j] - d2[j];
                b1[j] = d1[j] + d2[j];
                b2[j] = d2[j] - d1[j];
                b3[j] = d1[j] - d3[j];
            }
            // (Bᵀ d) B on each row's columns 2t .. 2t + 3.
            for (i, b) in [&*b0, &*b1, &*b2, &*b3].into_iter().enumerate() {
                let b = &b[..wp];
                let at = |j: usize| ((i * 4 + j) * c + ci) * ld + k0;
                fill_with(&mut v[at(0)..][..tw], |t| b[2 * t] - b[2 * t + 2]);
                fill_with(&mut v[at(1)..][..tw], |t| b[2 * t + 1] + b[2 * t + 2]);
                fill_with(&mut v[at(2)..][..tw], |t| b[2 * t + 2] - b[2 * t + 1]);
                fill_with(&mut v[at(3)..][..tw], |t| b[2 * t + 1] - b[2 * t + 3]);
            }
        }
    }
}

/// The output tiles `Aᵀ m A` of the chunk's `m[ξ][f][k]` (tile rows
/// `row0..row0 + rows`), written into `out` (`[n, F, H, W]`, the 2×2
/// blocks cut at the image's edge).
#[allow(clippy::too_many_arguments)]
fn untransform_tiles<T: Gemm>(
    g: &ConvShape,
    p: &Plan,
    m: &[T],
    row0: usize,
    rows: usize,
    out: &mut [T],
    lines: &mut [T],
) {
    let (f, h, w, tw, ld) = (g.f, g.h, g.w, p.tw, p.chunk);
    let lines = &mut lines[..8 * tw];
    for r in 0..rows {
        let (s, ti) = ((row0 + r) / p.th, (row0 + r) % p.th);
        let k0 = r * tw;
        for fi in 0..f {
            let at = |xi: usize| &m[(xi * f + fi) * ld + k0..][..tw];
            // Aᵀ m: rows 0 + 1 + 2 and 1 - 2 - 3, column by column.
            for j in 0..4 {
                let (m0, m1, m2, m3) = (at(j), at(4 + j), at(8 + j), at(12 + j));
                let (top, bottom) = lines.split_at_mut(4 * tw);
                let (a0, a1) = (&mut top[j * tw..][..tw], &mut bottom[j * tw..][..tw]);
                for t in 0..tw {
                    a0[t] = m0[t] + m1[t] + m2[t];
                    a1[t] = m1[t] - m2[t] - m3[t];
                }
            }
            let plane = &mut out[(s * f + fi) * h * w..][..h * w];
            for i in 0..2 {
                let y = 2 * ti + i;
                if y >= h {
                    break;
                }
                let a = &lines[i * 4 * tw..][..4 * tw];
                let (a0, a1, a2, a3) = (&a[..tw], &a[tw..2 * tw], &a[2 * tw..3 * tw], &a[3 * tw..]);
                let dst = &mut plane[y * w..][..w];
                let (pairs, odd) = dst.split_at_mut(w / 2 * 2);
                for (t, pair) in pairs.chunks_exact_mut(2).enumerate() {
                    pair[0] = a0[t] + a1[t] + a2[t];
                    pair[1] = a1[t] - a2[t] - a3[t];
                }
                if let Some(last) = odd.first_mut() {
                    let t = tw - 1;
                    *last = a0[t] + a1[t] + a2[t];
                }
            }
        }
    }
}

/// `dm[ξ][f][k] = (A dY Aᵀ)[ξ]` for the chunk's tiles, `dY` the 2×2 block
/// of `dy` (`[n, F, H, W]`), 0 past the image's edge.
#[allow(clippy::too_many_arguments)]
fn transform_adjoints<T: Gemm>(
    g: &ConvShape,
    p: &Plan,
    dy: &[T],
    row0: usize,
    rows: usize,
    dm: &mut [T],
    lines: &mut [T],
) {
    let (f, h, w, tw, ld) = (g.f, g.h, g.w, p.tw, p.chunk);
    let wt = 2 * tw;
    let lines = &mut lines[..6 * wt];
    for r in 0..rows {
        let (s, ti) = ((row0 + r) / p.th, (row0 + r) % p.th);
        let k0 = r * tw;
        for fi in 0..f {
            let plane = &dy[(s * f + fi) * h * w..][..h * w];
            let (ys, ps) = lines.split_at_mut(2 * wt);
            for (i, line) in ys.chunks_exact_mut(wt).enumerate() {
                let y = 2 * ti + i;
                if y < h {
                    line[..w].copy_from_slice(&plane[y * w..][..w]);
                    line[w..].fill(T::ZERO);
                } else {
                    line.fill(T::ZERO);
                }
            }
            let (y0, y1) = ys.split_at(wt);
            // A dY: rows y0, y0 + y1, y0 - y1, -y1 (the first is y0 itself).
            let (p1, rest) = ps.split_at_mut(wt);
            let (p2, p3) = rest.split_at_mut(wt);
            for j in 0..wt {
                p1[j] = y0[j] + y1[j];
                p2[j] = y0[j] - y1[j];
                p3[j] = T::ZERO - y1[j];
            }
            // (A dY) Aᵀ on each row's column pairs: a, a + b, a - b, -b.
            for (i, q) in [y0, &*p1, &*p2, &*p3].into_iter().enumerate() {
                let q = &q[..wt];
                let at = |j: usize| ((i * 4 + j) * f + fi) * ld + k0;
                fill_with(&mut dm[at(0)..][..tw], |t| q[2 * t]);
                fill_with(&mut dm[at(1)..][..tw], |t| q[2 * t] + q[2 * t + 1]);
                fill_with(&mut dm[at(2)..][..tw], |t| q[2 * t] - q[2 * t + 1]);
                fill_with(&mut dm[at(3)..][..tw], |t| T::ZERO - q[2 * t + 1]);
            }
        }
    }
}

/// The convolution of `x` (`[n, C, H, W]`) with `k` (`[F, C, 3, 3]`),
/// stride 1, padding 1, into `out` (`[n, F, H, W]`). The geometry must
/// satisfy [`applies`].
pub fn conv2d<T: Gemm>(g: &ConvShape, x: &[T], k: &[T], out: &mut [T], scratch: &mut Vec<T>) {
    check(g, x.len(), k.len(), out.len());
    let p = Plan::forward(g);
    let u_len = XI * g.f * g.c;
    let scratch = reserve(scratch, u_len + XI * (g.c + g.f) * p.chunk + p.lines());
    let (u, rest) = scratch.split_at_mut(u_len);
    transform_kernel(g.f, g.c, k, u);
    forward_with(g, &p, x, u, out, rest);
}

/// The forward pass over the transformed kernels `u`, with a chunk's `V`
/// and `M` and the work lines in `rest`.
fn forward_with<T: Gemm>(g: &ConvShape, p: &Plan, x: &[T], u: &[T], out: &mut [T], rest: &mut [T]) {
    let (c, f, ld) = (g.c, g.f, p.chunk);
    let (v, rest) = rest.split_at_mut(XI * c * ld);
    let (m, lines) = rest.split_at_mut(XI * f * ld);
    let total = p.tile_rows(g);
    let mut row0 = 0;
    while row0 < total {
        let rows = p.rows.min(total - row0);
        let len = rows * p.tw;
        transform_tiles(g, p, x, row0, rows, v, lines);
        for xi in 0..XI {
            matmul(
                f,
                c,
                len,
                &u[xi * f * c..][..f * c],
                [c, 1],
                &v[xi * c * ld..][..c * ld],
                [ld, 1],
                &mut m[xi * f * ld..][..f * ld],
                [ld, 1],
            );
        }
        untransform_tiles(g, p, m, row0, rows, out, lines);
        row0 += rows;
    }
}

/// The input gradient: `w` (`[n, F, H, W]`) convolved with the flipped,
/// transposed kernel (`[C, F, 3, 3]`) into `dx` (`[n, C, H, W]`).
pub fn conv2d_input_grad<T: Gemm>(
    g: &ConvShape,
    w: &[T],
    k: &[T],
    dx: &mut [T],
    scratch: &mut Vec<T>,
) {
    check(g, dx.len(), k.len(), w.len());
    let (c, f) = (g.c, g.f);
    // The adjoint's geometry: F input channels, C filters.
    let adj = ConvShape { c: f, f: c, ..*g };
    let p = Plan::forward(&adj);
    let u_len = XI * f * c;
    let scratch = reserve(
        scratch,
        9 * f * c + u_len + XI * (c + f) * p.chunk + p.lines(),
    );
    let (flipped, rest) = scratch.split_at_mut(9 * f * c);
    flip_kernel(f, c, k, flipped);
    let (u, rest) = rest.split_at_mut(u_len);
    transform_kernel(c, f, flipped, u);
    forward_with(&adj, &p, w, u, dx, rest);
}

/// The kernel gradient `dK[f, c] = Σ_n` (correlation of `x[n, c]` with
/// `w[n, f]`), as the adjoint of the forward pass's arithmetic.
pub fn conv2d_kernel_grad<T: Gemm>(
    g: &ConvShape,
    x: &[T],
    w: &[T],
    dk: &mut [T],
    scratch: &mut Vec<T>,
) {
    check(g, x.len(), dk.len(), w.len());
    let p = Plan::kernel_grad(g);
    let (c, f, ld) = (g.c, g.f, p.chunk);
    let u_len = XI * f * c;
    let scratch = reserve(scratch, 2 * u_len + XI * (c + f) * ld + p.lines());
    let (du, rest) = scratch.split_at_mut(u_len);
    let (part, rest) = rest.split_at_mut(u_len);
    let (v, rest) = rest.split_at_mut(XI * c * ld);
    let (dm, lines) = rest.split_at_mut(XI * f * ld);
    let total = p.tile_rows(g);
    let mut row0 = 0;
    while row0 < total {
        let rows = p.rows.min(total - row0);
        let len = rows * p.tw;
        transform_tiles(g, &p, x, row0, rows, v, lines);
        transform_adjoints(g, &p, w, row0, rows, dm, lines);
        // The first chunk writes dU, the others a partial sum added to it.
        let target: &mut [T] = if row0 == 0 { du } else { part };
        for xi in 0..XI {
            // dU_ξ [F × C] = dM_ξ [F × len] · V_ξᵀ [len × C].
            matmul(
                f,
                len,
                c,
                &dm[xi * f * ld..][..f * ld],
                [ld, 1],
                &v[xi * c * ld..][..c * ld],
                [1, ld],
                &mut target[xi * f * c..][..f * c],
                [c, 1],
            );
        }
        if row0 > 0 {
            for (d, q) in du.iter_mut().zip(part.iter()) {
                *d = *d + *q;
            }
        }
        row0 += rows;
    }
    if total == 0 {
        du.fill(T::ZERO);
    }
    transform_kernel_adjoint(f, c, du, dk);
}

#[cfg(test)]
mod tests {
    use super::super::conv2d_direct;
    use super::super::testing::{agree_in_f32, agree_with, close, geometry, lcg};
    use super::*;

    /// The three products against the direct loops (see `agree_with`).
    fn agree(g: ConvShape) {
        agree_with(
            g,
            scratch_len(&g),
            [conv2d, conv2d_input_grad, conv2d_kernel_grad],
        );
    }

    #[test]
    fn the_three_products_equal_the_direct_loops() {
        let several = geometry(20, 16, 8, 8, 16);
        for p in [Plan::forward(&several), Plan::kernel_grad(&several)] {
            assert!(p.rows < p.tile_rows(&several), "{p:?}");
        }
        // Even and odd images (2×2 output tiles cut at the edge), one
        // pixel, more filters than channels and the reverse, an empty
        // batch, and several chunks (20 samples of 16 → 16 on 8×8 are 80
        // tile rows: chunks of 32 rows forward, 64 for the kernel
        // gradient; 6 of 64 → 64 on 6×6, 18 rows in chunks of 11).
        for g in [
            geometry(3, 8, 8, 8, 8),
            geometry(2, 9, 5, 7, 12),
            geometry(2, 3, 1, 1, 4),
            geometry(1, 16, 6, 3, 8),
            geometry(20, 4, 6, 5, 3),
            geometry(20, 16, 8, 8, 16),
            geometry(6, 64, 6, 6, 64),
            geometry(0, 8, 4, 4, 8),
        ] {
            agree(g);
        }
    }

    /// `network!`'s `f32` structs take the same path (see `agree_in_f32`).
    #[test]
    fn the_products_in_f32() {
        agree_in_f32(
            geometry(3, 12, 5, 6, 10),
            [conv2d, conv2d_input_grad, conv2d_kernel_grad],
        );
    }

    #[test]
    fn the_kernels_take_this_path_for_channel_rich_layers_only() {
        // Through the dispatching entry points, on a layer that qualifies
        // (64 → 64: C F / (C + F) = 32) on images too large for the
        // channels-last variant (which takes 16×16 and smaller).
        let g = geometry(2, 64, 18, 18, 64);
        assert!(applies(&g));
        assert_eq!(g.algorithm(), super::super::Algorithm::Winograd);
        assert_eq!(g.scratch_len(), scratch_len(&g));
        let x = lcg(4, g.n * g.c * 324);
        let k = lcg(5, g.f * g.c * 9);
        let (mut y1, mut y2) = (vec![0.0; g.n * g.f * 324], vec![0.0; g.n * g.f * 324]);
        super::super::conv2d_in(&g, &x, &k, &mut y1, &mut Vec::new());
        conv2d_direct(&g, &x, &k, &mut y2);
        assert!(close(&y1, &y2));
        for g in [
            geometry(32, 16, 8, 8, 32), // the digits network's second layer
            geometry(32, 1, 8, 8, 16),
            ConvShape { stride: 2, ..g },
            ConvShape { padding: 0, ..g },
            ConvShape {
                kh: 5,
                kw: 5,
                padding: 2,
                ..g
            },
        ] {
            assert!(!applies(&g), "{g:?}");
        }
    }
}

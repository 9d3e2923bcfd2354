//! Winograd's F(2×2, 3×3) for the small images of the digits networks
//! (8×8 planes, 16 to 32 channels), with the channels innermost.
//!
//! [`super::winograd`] transforms a plane's tiles a row at a time, as
//! vectors over the tiles of that row; on an 8×8 image a row has 4 tiles,
//! so its vector loops are a few entries long and the transforms cost more
//! than the 2.25 times fewer multiply-adds save. Here the input is first
//! copied channels-last (`[n, H+2, W+2, C]`, the padding written as
//! zeros), so that each tile's 4×4 window is 16 runs of `C` contiguous
//! entries: the transforms run as vectors over the channels, whatever the
//! image's size, and `V` and `M` are `[ξ][tile][channel]`, so that the 16
//! products `M_ξ [tiles × F] = V_ξ [tiles × C] · U_ξ [C × F]` take the
//! runtime's axpy layout (`crate::matmul`) with the transformed kernel
//! `U` stored `[ξ][c][f]`. The output tiles are written back into the NCHW
//! result entry by entry.
//!
//! The formulas and the two backward products are those of
//! [`super::winograd`] (its module comment): the input gradient is the
//! forward convolution of the adjoint by the flipped kernel with its
//! channel axes swapped, and the kernel gradient is the adjoint of the
//! forward arithmetic, `dU_ξ [C × F] = V_ξᵀ · dM_ξ` summed over chunks of
//! tiles, with `dM = A dY Aᵀ` from the adjoint copied channels-last.

// Index loops over the 4×4 block's rows and columns read several arrays.
#![allow(clippy::needless_range_loop)]

use super::winograd::{
    check, flip_kernel, reserve, transform_kernel_adjoint_at, transform_kernel_at, XI,
};
use super::ConvShape;
use crate::matmul::{matmul, Gemm, Isa};

/// Channels per block of the transforms: one 512-bit vector of `f64`.
const LANES: usize = 8;

/// Whether the kernels take this path for `g`: a 3×3 convolution with
/// stride 1 and padding 1 with at least 8 channels and 8 filters, on
/// images of at most 16×16 (larger ones take [`super::winograd`] or the
/// unfolded products, as measured in `benches/conv.rs`).
pub fn applies(g: &ConvShape) -> bool {
    g.kh == 3
        && g.kw == 3
        && g.stride == 1
        && g.padding == 1
        && g.c >= 8
        && g.f >= 8
        && (1..=16).contains(&g.h)
        && (1..=16).contains(&g.w)
}

/// The tiles of a geometry and the size of a chunk of them.
#[derive(Clone, Copy, Debug)]
struct Plan {
    /// Tiles per sample along the height and the width (2×2 output each).
    th: usize,
    tw: usize,
    /// Samples per chunk, and the chunk's tiles (the rows of its `V` and
    /// `M`, sized so that both stay in the L2 cache). A chunk is whole
    /// samples, copied channels-last just before their tiles are
    /// transformed, so that the copy is read back from the cache (copying
    /// the whole batch first left it in memory: a fifth of the time).
    samples: usize,
    chunk: usize,
}

impl Plan {
    fn new(g: &ConvShape) -> Plan {
        let (th, tw) = (g.h.div_ceil(2), g.w.div_ceil(2));
        let target = (4096 / (g.c + g.f).max(1)).clamp(16, 256);
        let samples = (target / (th * tw).max(1)).clamp(1, g.n.max(1));
        Plan {
            th,
            tw,
            samples,
            chunk: samples * th * tw,
        }
    }

    /// The padded channels-last input's height and width (the tiles'
    /// windows reach row and column `2·th + 1`).
    fn padded(&self) -> (usize, usize) {
        (2 * self.th + 2, 2 * self.tw + 2)
    }

    /// The distance between two of the 16 planes `V_ξ` (`width` = C) or
    /// `M_ξ` (`width` = F): a chunk's rows and one cache line more. Without
    /// the line, the planes of the digits network's layer are 20,480 bytes
    /// apart, a multiple of 4,096, so the 16 stores of a tile fell in one
    /// set of the L1 cache; with it, that layer's kernel gradient took 469
    /// against 623 µs (medians of 10 interleaved runs of 300 calls,
    /// 3 December 2026).
    fn plane(&self, width: usize) -> usize {
        self.chunk * width + 8
    }

    /// Sample, tile row and tile column of tile `t`.
    fn tile(&self, t: usize) -> (usize, usize, usize) {
        let per = self.th * self.tw;
        (t / per, t % per / self.tw, t % self.tw)
    }
}

/// The scratch entries of the three products for `g` (the most of them).
pub fn scratch_len(g: &ConvShape) -> usize {
    let (c, f, u) = (g.c, g.f, XI * g.c * g.f);
    let p = Plan::new(g);
    let (hp, wp) = p.padded();
    let chunk = XI * (p.plane(c) + p.plane(f));
    let ns = p.samples;
    let forward = u + ns * hp * wp * c + chunk;
    let input_grad = 9 * f * c + u + ns * hp * wp * f + chunk;
    let kernel_grad = 2 * u + ns * hp * wp * c + ns * 4 * p.th * p.tw * f + chunk;
    forward.max(input_grad).max(kernel_grad)
}

/// `dst[s, y + off, x + off, c] = src[s, c, y, x]` for `src` `[n, C, H, W]`,
/// `dst` `[n, hd, wd, C]`, zero elsewhere. Each pixel's channels are
/// written as runs of 8 gathered from 8 planes.
#[inline(always)]
fn channels_last_body<T: Gemm>(
    [n, c, h, w]: [usize; 4],
    src: &[T],
    [hd, wd]: [usize; 2],
    off: usize,
    dst: &mut [T],
) {
    const B: usize = 8;
    let plane = h * w;
    for s in 0..n {
        let sample = &mut dst[s * hd * wd * c..][..hd * wd * c];
        // Zeros where no entry of src lands: whole rows above and below,
        // and the columns left and right of each row.
        sample[..off * wd * c].fill(T::ZERO);
        sample[(off + h) * wd * c..].fill(T::ZERO);
        let src = &src[s * c * plane..][..c * plane];
        for y in 0..h {
            let row = &mut sample[(y + off) * wd * c..][..wd * c];
            row[..off * c].fill(T::ZERO);
            row[(off + w) * c..].fill(T::ZERO);
            let row = &mut row[off * c..][..w * c];
            let src = &src[y * w..];
            for (x, px) in row.chunks_exact_mut(c).enumerate() {
                // The 8 channels of a block are a plane apart in src.
                let mut c0 = 0;
                while c0 + B <= c {
                    let v: [T; B] = core::array::from_fn(|l| src[(c0 + l) * plane + x]);
                    px[c0..c0 + B].copy_from_slice(&v);
                    c0 += B;
                }
                for ci in c0..c {
                    px[ci] = src[ci * plane + x];
                }
            }
        }
    }
}

/// `s[at]` without a bounds check: the callers check each tile's whole
/// window once, before its lanes.
///
/// # Safety
/// `at < s.len()`.
#[inline(always)]
unsafe fn get<T: Gemm>(s: &[T], at: usize) -> T {
    // SAFETY: the caller's.
    unsafe { *s.get_unchecked(at) }
}

/// Copies the 16 blocks of `N` lanes of `vals` to `dst[at + ξ·stride..]`,
/// checking the bounds once rather than per copy.
#[inline(always)]
fn store<T: Gemm, const N: usize>(vals: &[[T; N]; XI], dst: &mut [T], at: usize, stride: usize) {
    assert!(at + (XI - 1) * stride + N <= dst.len());
    let base = dst.as_mut_ptr();
    for (xi, val) in vals.iter().enumerate() {
        // SAFETY: at + ξ·stride + N <= dst.len(), checked above for the
        // largest ξ.
        unsafe { core::ptr::copy_nonoverlapping(val.as_ptr(), base.add(at + xi * stride), N) };
    }
}

/// Calls `block::<N>(start)` over `0..len` in blocks of [`LANES`], then one
/// entry at a time.
macro_rules! by_blocks {
    ($len:expr, |$n:ident, $start:ident| $body:expr) => {{
        let len = $len;
        let whole = len - len % LANES;
        let mut $start = 0;
        while $start < whole {
            {
                const $n: usize = LANES;
                $body
            }
            $start += LANES;
        }
        while $start < len {
            {
                const $n: usize = 1;
                $body
            }
            $start += 1;
        }
    }};
}

/// `v[ξ][k][c] = (Bᵀ d B)[ξ]` for the tiles `t0 .. t0 + len` (`k` from 0),
/// `d` the tile's 4×4 window of the padded channels-last input `xp`.
#[inline(always)]
fn transform_tiles_body<T: Gemm>(
    g: &ConvShape,
    p: &Plan,
    xp: &[T],
    t0: usize,
    len: usize,
    v: &mut [T],
) {
    let c = g.c;
    let (hp, wp) = p.padded();
    for k in 0..len {
        let (s, ti, tj) = p.tile(t0 + k);
        let base = ((s * hp + 2 * ti) * wp + 2 * tj) * c;
        // The window's last entry, for the unchecked reads below.
        assert!(base + (3 * wp + 3) * c + c <= xp.len());
        by_blocks!(c, |N, cb| {
            let mut out = [[T::ZERO; N]; XI];
            for l in 0..N {
                // SAFETY: inside the window checked above (cb + l < c).
                let d = |i: usize, j: usize| unsafe { get(xp, base + (i * wp + j) * c + cb + l) };
                // Bᵀ d: rows 0 - 2, 1 + 2, 2 - 1, 1 - 3.
                let mut t = [[T::ZERO; 4]; 4];
                for j in 0..4 {
                    t[0][j] = d(0, j) - d(2, j);
                    t[1][j] = d(1, j) + d(2, j);
                    t[2][j] = d(2, j) - d(1, j);
                    t[3][j] = d(1, j) - d(3, j);
                }
                // (Bᵀ d) B, the same combinations of the columns.
                for i in 0..4 {
                    out[i * 4][l] = t[i][0] - t[i][2];
                    out[i * 4 + 1][l] = t[i][1] + t[i][2];
                    out[i * 4 + 2][l] = t[i][2] - t[i][1];
                    out[i * 4 + 3][l] = t[i][1] - t[i][3];
                }
            }
            store(&out, v, k * c + cb, p.plane(c));
        });
    }
}

/// The output tiles `Aᵀ m A` of the chunk's `m[ξ][k][f]` (tiles `t0 ..
/// t0 + len`) written into `out` (`[n, F, H, W]`, cut at the image's edge).
#[inline(always)]
fn untransform_tiles_body<T: Gemm>(
    g: &ConvShape,
    p: &Plan,
    m: &[T],
    t0: usize,
    len: usize,
    out: &mut [T],
) {
    let (f, h, w) = (g.f, g.h, g.w);
    for k in 0..len {
        let (s, ti, tj) = p.tile(t0 + k);
        assert!(15 * p.plane(f) + k * f + f <= m.len());
        by_blocks!(f, |N, fb| {
            let mut y = [[[T::ZERO; N]; 2]; 2];
            for l in 0..N {
                // SAFETY: ξ < 16 and fb + l < f, checked above.
                let at = |xi: usize| unsafe { get(m, xi * p.plane(f) + k * f + fb + l) };
                // Aᵀ m: rows 0 + 1 + 2 and 1 - 2 - 3, for each column j;
                // then the same combinations of the columns.
                let mut a = [[T::ZERO; 4]; 2];
                for j in 0..4 {
                    a[0][j] = at(j) + at(4 + j) + at(8 + j);
                    a[1][j] = at(4 + j) - at(8 + j) - at(12 + j);
                }
                for i in 0..2 {
                    y[i][0][l] = a[i][0] + a[i][1] + a[i][2];
                    y[i][1][l] = a[i][1] - a[i][2] - a[i][3];
                }
            }
            for (di, row) in y.iter().enumerate() {
                let yy = 2 * ti + di;
                if yy >= h {
                    break;
                }
                for (dj, vals) in row.iter().enumerate() {
                    let x = 2 * tj + dj;
                    if x >= w {
                        break;
                    }
                    for (l, &val) in vals.iter().enumerate() {
                        out[((s * f + fb + l) * h + yy) * w + x] = val;
                    }
                }
            }
        });
    }
}

/// `dm[ξ][k][f] = (A dY Aᵀ)[ξ]` for the chunk's tiles, `dY` the tile's
/// 2×2 block of the channels-last adjoint `dyt` (`[n, 2 th, 2 tw, F]`,
/// zero past the image).
#[inline(always)]
fn transform_adjoints_body<T: Gemm>(
    g: &ConvShape,
    p: &Plan,
    dyt: &[T],
    t0: usize,
    len: usize,
    dm: &mut [T],
) {
    let f = g.f;
    let (h2, w2) = (2 * p.th, 2 * p.tw);
    for k in 0..len {
        let (s, ti, tj) = p.tile(t0 + k);
        let base = ((s * h2 + 2 * ti) * w2 + 2 * tj) * f;
        assert!(base + (w2 + 1) * f + f <= dyt.len());
        by_blocks!(f, |N, fb| {
            let mut out = [[T::ZERO; N]; XI];
            for l in 0..N {
                // SAFETY: inside the 2×2 block checked above.
                let q = |i: usize, j: usize| unsafe { get(dyt, base + (i * w2 + j) * f + fb + l) };
                // A dY: rows y0, y0 + y1, y0 - y1, -y1 (columns 0 and 1);
                // then (A dY) Aᵀ: a, a + b, a - b, -b.
                let rows = [
                    [q(0, 0), q(0, 1)],
                    [q(0, 0) + q(1, 0), q(0, 1) + q(1, 1)],
                    [q(0, 0) - q(1, 0), q(0, 1) - q(1, 1)],
                    [T::ZERO - q(1, 0), T::ZERO - q(1, 1)],
                ];
                for (i, [a, b]) in rows.into_iter().enumerate() {
                    out[i * 4][l] = a;
                    out[i * 4 + 1][l] = a + b;
                    out[i * 4 + 2][l] = a - b;
                    out[i * 4 + 3][l] = T::ZERO - b;
                }
            }
            store(&out, dm, k * f + fb, p.plane(f));
        });
    }
}

/// `$name`: `$body` compiled for the widest instruction set the processor
/// has (the transforms only add, subtract and move, so every build gives
/// the same bits; the runtime crate's baseline is SSE2, two lanes).
macro_rules! widest {
    ($name:ident => $body:ident ($($arg:ident: $ty:ty),*)) => {
        fn $name<T: Gemm>($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn avx512<T: Gemm>($($arg: $ty),*) {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2<T: Gemm>($($arg: $ty),*) {
                    $body($($arg),*)
                }
                match Isa::best() {
                    // SAFETY: `Isa::best` detected the instruction set.
                    Isa::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above.
                    Isa::Avx2 => return unsafe { avx2($($arg),*) },
                    Isa::Baseline => {}
                }
            }
            $body($($arg),*)
        }
    };
    ($name:ident => $body:ident) => {
        widest!($name => $body(
            g: &ConvShape,
            p: &Plan,
            src: &[T],
            t0: usize,
            len: usize,
            dst: &mut [T]
        ));
    };
}

widest!(channels_last => channels_last_body(
    shape: [usize; 4],
    src: &[T],
    padded: [usize; 2],
    off: usize,
    dst: &mut [T]
));
widest!(transform_tiles => transform_tiles_body);
widest!(untransform_tiles => untransform_tiles_body);
widest!(transform_adjoints => transform_adjoints_body);

/// The convolution of `x` (`[n, C, H, W]`) with `k` (`[F, C, 3, 3]`),
/// stride 1, padding 1, into `out` (`[n, F, H, W]`). The geometry must
/// satisfy [`applies`].
pub fn conv2d<T: Gemm>(g: &ConvShape, x: &[T], k: &[T], out: &mut [T], scratch: &mut Vec<T>) {
    check(g, x.len(), k.len(), out.len());
    let scratch = reserve(scratch, scratch_len(g));
    let (f, c) = (g.f, g.c);
    let (u, rest) = scratch.split_at_mut(XI * f * c);
    transform_kernel_at(f, c, k, u, |xi, fi, ci| (xi * c + ci) * f + fi);
    forward_with(g, x, u, out, rest);
}

/// The forward pass over the transformed kernels `u` (`[ξ][c][f]`), with
/// the channels-last input and a chunk's `V` and `M` in `rest`.
fn forward_with<T: Gemm>(g: &ConvShape, x: &[T], u: &[T], out: &mut [T], rest: &mut [T]) {
    let p = Plan::new(g);
    let (c, f) = (g.c, g.f);
    let (hp, wp) = p.padded();
    let (xs, os) = (c * g.h * g.w, f * g.h * g.w);
    let (xp, rest) = rest.split_at_mut(p.samples * hp * wp * c);
    let (v, rest) = rest.split_at_mut(XI * p.plane(c));
    let m = &mut rest[..XI * p.plane(f)];
    for s0 in (0..g.n).step_by(p.samples) {
        let ns = p.samples.min(g.n - s0);
        let len = ns * p.th * p.tw;
        let xp = &mut xp[..ns * hp * wp * c];
        channels_last([ns, c, g.h, g.w], &x[s0 * xs..][..ns * xs], [hp, wp], 1, xp);
        transform_tiles(g, &p, xp, 0, len, v);
        for xi in 0..XI {
            matmul(
                len,
                c,
                f,
                &v[xi * p.plane(c)..][..len * c],
                [c, 1],
                &u[xi * c * f..][..c * f],
                [f, 1],
                &mut m[xi * p.plane(f)..][..len * f],
                [f, 1],
            );
        }
        untransform_tiles(g, &p, m, 0, len, &mut out[s0 * os..][..ns * os]);
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
    let scratch = reserve(scratch, scratch_len(g));
    let (flipped, rest) = scratch.split_at_mut(9 * f * c);
    flip_kernel(f, c, k, flipped);
    let (u, rest) = rest.split_at_mut(XI * f * c);
    // The adjoint's kernel is [C, F]: filters c, channels f.
    transform_kernel_at(c, f, flipped, u, |xi, ci, fi| (xi * f + fi) * c + ci);
    forward_with(&adj, w, u, dx, rest);
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
    let p = Plan::new(g);
    let (c, f) = (g.c, g.f);
    let (hp, wp) = p.padded();
    let (h2, w2) = (2 * p.th, 2 * p.tw);
    let (xs, os) = (c * g.h * g.w, f * g.h * g.w);
    let scratch = reserve(scratch, scratch_len(g));
    let (du, rest) = scratch.split_at_mut(XI * c * f);
    let (part, rest) = rest.split_at_mut(XI * c * f);
    let (xp, rest) = rest.split_at_mut(p.samples * hp * wp * c);
    let (dyt, rest) = rest.split_at_mut(p.samples * h2 * w2 * f);
    let (v, rest) = rest.split_at_mut(XI * p.plane(c));
    let dm = &mut rest[..XI * p.plane(f)];
    du.fill(T::ZERO);
    for s0 in (0..g.n).step_by(p.samples) {
        let ns = p.samples.min(g.n - s0);
        let len = ns * p.th * p.tw;
        let xp = &mut xp[..ns * hp * wp * c];
        let dyt = &mut dyt[..ns * h2 * w2 * f];
        channels_last([ns, c, g.h, g.w], &x[s0 * xs..][..ns * xs], [hp, wp], 1, xp);
        channels_last(
            [ns, f, g.h, g.w],
            &w[s0 * os..][..ns * os],
            [h2, w2],
            0,
            dyt,
        );
        transform_tiles(g, &p, xp, 0, len, v);
        transform_adjoints(g, &p, dyt, 0, len, dm);
        // The first chunk writes dU, the others a partial sum added to it.
        let target: &mut [T] = if s0 == 0 { du } else { part };
        for xi in 0..XI {
            // dU_ξ [C × F] = V_ξᵀ [C × len] · dM_ξ [len × F].
            matmul(
                c,
                len,
                f,
                &v[xi * p.plane(c)..][..len * c],
                [1, c],
                &dm[xi * p.plane(f)..][..len * f],
                [f, 1],
                &mut target[xi * c * f..][..c * f],
                [f, 1],
            );
        }
        if s0 > 0 {
            for (d, q) in du.iter_mut().zip(part.iter()) {
                *d = *d + *q;
            }
        }
    }
    transform_kernel_adjoint_at(f, c, du, dk, |xi, fi, ci| (xi * c + ci) * f + fi);
}

#[cfg(test)]
mod tests {
    use super::super::testing::{agree_in_f32, agree_with, geometry};
    use super::*;

    #[test]
    fn the_three_products_equal_the_direct_loops() {
        // The digits network's layer (several chunks: 32 samples in chunks
        // of 5), channels and filters not multiples of the 8 lanes, odd
        // images (tiles cut at the edge), one pixel, a chunk larger than
        // the batch, and an empty batch.
        let digits = geometry(32, 16, 8, 8, 32);
        assert!(Plan::new(&digits).samples < 32);
        for g in [
            digits,
            geometry(3, 9, 5, 7, 12),
            geometry(2, 8, 1, 1, 8),
            geometry(1, 17, 6, 3, 10),
            geometry(4, 16, 8, 8, 16),
            geometry(0, 8, 4, 4, 8),
        ] {
            agree_with(
                g,
                scratch_len(&g),
                [conv2d, conv2d_input_grad, conv2d_kernel_grad],
            );
        }
    }

    /// `network!`'s `f32` structs take this path too.
    #[test]
    fn the_products_in_f32() {
        agree_in_f32(
            geometry(3, 12, 5, 6, 10),
            [conv2d, conv2d_input_grad, conv2d_kernel_grad],
        );
    }

    #[test]
    fn the_kernels_choose_it_for_small_images_with_channels() {
        use super::super::Algorithm;
        // The digits network's second layer and a residual block's layer.
        for g in [geometry(32, 16, 8, 8, 32), geometry(32, 16, 8, 8, 16)] {
            assert_eq!(g.algorithm(), Algorithm::WinogradChannelsLast);
        }
        // The input gradient of a layer with more filters than channels
        // runs unfolded (the scratch fits both); with as many, this path.
        let (wide, square) = (geometry(32, 16, 8, 8, 32), geometry(32, 16, 8, 8, 16));
        assert_eq!(wide.input_grad_algorithm(), Algorithm::Unfolded);
        assert_eq!(
            wide.scratch_len(),
            scratch_len(&wide).max(wide.unfolded_scratch_len())
        );
        assert_eq!(
            square.input_grad_algorithm(),
            Algorithm::WinogradChannelsLast
        );
        assert_eq!(square.scratch_len(), scratch_len(&square));
        // Its first layer (one channel), AlphaGo Zero's 19×19 boards, and
        // other kernels or strides.
        let g = geometry(32, 1, 8, 8, 16);
        assert_eq!(g.algorithm(), Algorithm::Unfolded);
        assert_eq!(
            geometry(8, 256, 19, 19, 256).algorithm(),
            Algorithm::Winograd
        );
        for g in [
            ConvShape { stride: 2, ..g },
            ConvShape { padding: 0, ..g },
            ConvShape {
                kh: 5,
                kw: 5,
                padding: 2,
                ..g
            },
        ] {
            assert_eq!(g.algorithm(), Algorithm::Unfolded, "{g:?}");
        }
    }
}

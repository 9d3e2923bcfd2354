//! The dot layout of [`super`] written with x86-64 vector intrinsics, for
//! AVX-512F and for AVX2 with FMA, in `f64` and `f32`.
//!
//! Left to itself the compiler vectorizes the generic dot tile across the
//! wrong dimension (it gathers lanes from several rows with shuffles), so
//! these instances say which loads and fused multiply-adds they mean: a
//! tile of 2 rows × 4 columns of the result holds 8 vector accumulators,
//! each fed by one load of a row of `a` and one of a column of `b`.
//!
//! Each accumulator then holds one entry of the result spread over its
//! lanes. Reducing them one at a time (store, then add the lanes as
//! scalars) cost as much as the multiply-adds on the networks' short rows
//! (k = 32 or 64); in `f64` a whole 2 × 4 tile is instead reduced at once,
//! 8 vectors into one vector of 8 sums by unpacking and adding
//! neighbouring lanes, in the order of [`lane_sum`].

use super::{lane_sum, Product};
use core::arch::x86_64::*;

/// Defines `$all`, the dot layout over the whole result, and its tile
/// function `$tile`, for float `$t` in vectors `$v` of `$l` lanes.
macro_rules! dot_kernel {
    ($all:ident, $tile:ident, $t:ty, $v:ty, $l:expr, $feature:literal,
     $zero:ident, $load:ident, $store:ident, $fma:ident, $sums:ident) => {
        /// One `R × C` tile of the result at (`i0`, `j0`).
        ///
        /// # Safety
        /// The processor has the feature; the tile and the rows/columns it
        /// reads are inside the checked views of `p` (dot layout).
        #[target_feature(enable = $feature)]
        unsafe fn $tile<const R: usize, const C: usize>(p: &Product<$t>, i0: usize, j0: usize) {
            let k = p.k;
            let mut rows = [p.a; R];
            for (r, row) in rows.iter_mut().enumerate() {
                // SAFETY: row i0 + r < m of a's view.
                *row = unsafe { p.a.add((i0 + r) * p.sa[0]) };
            }
            let mut cols = [p.b; C];
            for (c, col) in cols.iter_mut().enumerate() {
                // SAFETY: column j0 + c < n of b's view.
                *col = unsafe { p.b.add((j0 + c) * p.sb[1]) };
            }
            let mut acc = [[$zero(); C]; R];
            let whole = k - k % $l;
            let mut q = 0;
            while q < whole {
                let mut av = [$zero(); R];
                for r in 0..R {
                    // SAFETY: q + $l <= k along a contiguous row.
                    av[r] = unsafe { $load(rows[r].add(q)) };
                }
                for c in 0..C {
                    // SAFETY: q + $l <= k along a contiguous column.
                    let bv = unsafe { $load(cols[c].add(q)) };
                    for r in 0..R {
                        acc[r][c] = $fma(av[r], bv, acc[r][c]);
                    }
                }
                q += $l;
            }
            let mut sums = [[0.0 as $t; C]; R];
            // SAFETY: the feature is enabled here too.
            unsafe { $sums::<R, C>(&acc, &mut sums) };
            for r in 0..R {
                for c in 0..C {
                    let mut s = sums[r][c];
                    for t in whole..k {
                        // SAFETY: t < k.
                        s = unsafe { (*rows[r].add(t)).mul_add(*cols[c].add(t), s) };
                    }
                    // SAFETY: (i0 + r, j0 + c) is inside the result's view.
                    unsafe { *p.c.add((i0 + r) * p.sc[0] + (j0 + c) * p.sc[1]) = s };
                }
            }
        }

        /// The dot layout over the whole result.
        ///
        /// # Safety
        /// The processor has the feature; `p` is checked and in the dot
        /// layout.
        #[target_feature(enable = $feature)]
        pub(super) unsafe fn $all(p: &Product<$t>) {
            const R: usize = 2;
            const C: usize = 4;
            let (m_main, n_main) = (p.m - p.m % R, p.n - p.n % C);
            // SAFETY (all calls): the tiles cover exactly [0, m) × [0, n).
            unsafe {
                for i in (0..m_main).step_by(R) {
                    for j in (0..n_main).step_by(C) {
                        $tile::<R, C>(p, i, j);
                    }
                    for j in n_main..p.n {
                        $tile::<R, 1>(p, i, j);
                    }
                }
                for i in m_main..p.m {
                    for j in (0..n_main).step_by(C) {
                        $tile::<1, C>(p, i, j);
                    }
                    for j in n_main..p.n {
                        $tile::<1, 1>(p, i, j);
                    }
                }
            }
        }
    };
}

dot_kernel!(
    dot_f64_avx512,
    tile_f64_avx512,
    f64,
    __m512d,
    8,
    "avx512f",
    _mm512_setzero_pd,
    _mm512_loadu_pd,
    _mm512_storeu_pd,
    _mm512_fmadd_pd,
    sums_f64_avx512
);
dot_kernel!(
    dot_f32_avx512,
    tile_f32_avx512,
    f32,
    __m512,
    16,
    "avx512f",
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_storeu_ps,
    _mm512_fmadd_ps,
    sums_f32_avx512
);
dot_kernel!(
    dot_f64_avx2,
    tile_f64_avx2,
    f64,
    __m256d,
    4,
    "avx2,fma",
    _mm256_setzero_pd,
    _mm256_loadu_pd,
    _mm256_storeu_pd,
    _mm256_fmadd_pd,
    sums_f64_avx2
);
dot_kernel!(
    dot_f32_avx2,
    tile_f32_avx2,
    f32,
    __m256,
    8,
    "avx2,fma",
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_storeu_ps,
    _mm256_fmadd_ps,
    sums_f32_avx2
);

/// `out[r][c]` = the lanes of `acc[r][c]` summed in the order of
/// [`lane_sum`], one accumulator at a time: the reduction for tiles other
/// than 2 × 4, and for `f32`.
macro_rules! sums_by_lanes {
    ($name:ident, $t:ty, $v:ty, $l:expr, $feature:literal, $store:ident) => {
        /// # Safety
        /// The processor has the feature.
        #[target_feature(enable = $feature)]
        #[inline]
        unsafe fn $name<const R: usize, const C: usize>(
            acc: &[[$v; C]; R],
            out: &mut [[$t; C]; R],
        ) {
            for r in 0..R {
                for c in 0..C {
                    let mut lanes = [0.0 as $t; $l];
                    // SAFETY: `lanes` holds one vector.
                    unsafe { $store(lanes.as_mut_ptr(), acc[r][c]) };
                    out[r][c] = lane_sum(lanes);
                }
            }
        }
    };
}

sums_by_lanes!(
    sums_f32_avx512,
    f32,
    __m512,
    16,
    "avx512f",
    _mm512_storeu_ps
);
sums_by_lanes!(sums_f32_avx2, f32, __m256, 8, "avx2,fma", _mm256_storeu_ps);
sums_by_lanes!(
    lanes_f64_avx512,
    f64,
    __m512d,
    8,
    "avx512f",
    _mm512_storeu_pd
);
sums_by_lanes!(
    lanes_f64_avx2,
    f64,
    __m256d,
    4,
    "avx2,fma",
    _mm256_storeu_pd
);

/// [`sums_by_lanes`] for `f64` on AVX-512, a 2 × 4 tile at once: pairs of
/// accumulators are unpacked and added (neighbouring lanes), then pairs of
/// those are permuted and added, then halves, which leaves the 8 sums in
/// one vector in the tile's row-major order.
///
/// # Safety
/// The processor has AVX-512F.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn sums_f64_avx512<const R: usize, const C: usize>(
    acc: &[[__m512d; C]; R],
    out: &mut [[f64; C]; R],
) {
    if R != 2 || C != 4 {
        // SAFETY: forwarded.
        return unsafe { lanes_f64_avx512(acc, out) };
    }
    // (Macros rather than closures, so that every intrinsic is compiled
    // inside this function's target features.)
    macro_rules! v {
        ($i:expr) => {
            acc[$i / C][$i % C]
        };
    }
    // [P_a0, P_b0, P_a1, P_b1, P_a2, P_b2, P_a3, P_b3] with P_x(i) the sum
    // of x's lanes 2i and 2i + 1.
    macro_rules! pair {
        ($a:expr, $b:expr) => {
            _mm512_add_pd(_mm512_unpacklo_pd($a, $b), _mm512_unpackhi_pd($a, $b))
        };
    }
    let (p01, p23) = (pair!(v!(0), v!(1)), pair!(v!(2), v!(3)));
    let (p45, p67) = (pair!(v!(4), v!(5)), pair!(v!(6), v!(7)));
    // [Q_a0, Q_b0, Q_c0, Q_d0, Q_a1, Q_b1, Q_c1, Q_d1] with Q_x(j) =
    // P_x(2j) + P_x(2j + 1).
    let even = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0);
    let odd = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
    macro_rules! quad {
        ($a:expr, $b:expr) => {
            _mm512_add_pd(
                _mm512_permutex2var_pd($a, even, $b),
                _mm512_permutex2var_pd($a, odd, $b),
            )
        };
    }
    let (q0, q1) = (quad!(p01, p23), quad!(p45, p67));
    // Halves: [Q_a0..Q_d0, Q_e0..Q_h0] + [Q_a1..Q_d1, Q_e1..Q_h1].
    let sums = _mm512_add_pd(
        _mm512_shuffle_f64x2::<0b01_00_01_00>(q0, q1),
        _mm512_shuffle_f64x2::<0b11_10_11_10>(q0, q1),
    );
    // SAFETY: `out` is 2 × 4 contiguous f64, one vector.
    unsafe { _mm512_storeu_pd(out.as_mut_ptr().cast::<f64>(), sums) };
}

/// [`sums_f64_avx512`] for AVX2: horizontal adds of neighbouring lanes,
/// then the two 128-bit halves of pairs of those, four sums per vector.
///
/// # Safety
/// The processor has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn sums_f64_avx2<const R: usize, const C: usize>(
    acc: &[[__m256d; C]; R],
    out: &mut [[f64; C]; R],
) {
    if C != 4 {
        // SAFETY: forwarded.
        return unsafe { lanes_f64_avx2(acc, out) };
    }
    for r in 0..R {
        let a = &acc[r];
        // [a0 + a1, b0 + b1, a2 + a3, b2 + b3] for the pairs (a, b).
        let (h01, h23) = (_mm256_hadd_pd(a[0], a[1]), _mm256_hadd_pd(a[2], a[3]));
        let sums = _mm256_add_pd(
            _mm256_permute2f128_pd::<0x20>(h01, h23),
            _mm256_permute2f128_pd::<0x31>(h01, h23),
        );
        // SAFETY: a row of `out` is 4 contiguous f64, one vector.
        unsafe { _mm256_storeu_pd(out[r].as_mut_ptr(), sums) };
    }
}

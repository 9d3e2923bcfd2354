//! The dot layout of [`super`] written with x86-64 vector intrinsics, for
//! AVX-512F and for AVX2 with FMA, in `f64` and `f32`.
//!
//! Left to itself the compiler vectorizes the generic dot tile across the
//! wrong dimension (it gathers lanes from several rows with shuffles), so
//! these instances say which loads and fused multiply-adds they mean: a
//! tile of 2 rows × 4 columns of the result holds 8 vector accumulators,
//! each fed by one load of a row of `a` and one of a column of `b`.

use super::{lane_sum, Product};
use core::arch::x86_64::*;

/// Defines `$all`, the dot layout over the whole result, and its tile
/// function `$tile`, for float `$t` in vectors `$v` of `$l` lanes.
macro_rules! dot_kernel {
    ($all:ident, $tile:ident, $t:ty, $v:ty, $l:expr, $feature:literal,
     $zero:ident, $load:ident, $store:ident, $fma:ident) => {
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
            for r in 0..R {
                for c in 0..C {
                    let mut lanes = [0.0 as $t; $l];
                    // SAFETY: `lanes` holds one vector.
                    unsafe { $store(lanes.as_mut_ptr(), acc[r][c]) };
                    let mut s = lane_sum(lanes);
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
    _mm512_fmadd_pd
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
    _mm512_fmadd_ps
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
    _mm256_fmadd_pd
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
    _mm256_fmadd_ps
);

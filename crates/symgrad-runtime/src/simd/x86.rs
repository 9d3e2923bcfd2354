//! AVX2 + FMA kernels for x86-64: a vector `exp` for `f64` (4 lanes) and
//! `f32` (8 lanes), and the slice loops built on it (exponentials of a
//! slice, the sigmoid pair, the sigmoid alone).
//!
//! The `exp`: `x = n ln2 + r` with `n` the integer nearest `x / ln 2` and
//! `|r| ≤ ln2 / 2`, `r` computed with `ln 2` split in two parts (the high
//! part has trailing zero bits, so `n · hi` is exact); `e^r` by its Taylor
//! polynomial to degree 13 (`f64`) or 7 (`f32`), whose truncation error is
//! below 0.05 ulp, evaluated by Horner's rule with fused multiply-adds;
//! then `e^x = e^r · 2^n1 · 2^n2` with `n = n1 + n2`, so that both powers
//! are normal numbers even where `e^x` is subnormal or overflows (the last
//! product rounds once, to a subnormal, 0 or infinity). `x` is first
//! clamped to where `e^x` goes from 0 to infinity; NaN is passed through.
//! Measured against glibc's `exp` (tests below): at most 1 ulp in `f64`
//! and `f32` over dense sweeps.
//!
//! Every function here is `unsafe` only because it needs the CPU to have
//! AVX2 and FMA: callers check with [`super::avx2_fma`].

use std::arch::x86_64::*;

/// `1/k!` for k = 13 down to 2, then 1 and 1 (Horner's order).
const TAYLOR_F64: [f64; 14] = {
    let mut c = [0.0; 14];
    let mut k = 13;
    let mut fact = 1.0;
    let mut f = 1.0;
    while f <= 13.0 {
        fact *= f;
        f += 1.0;
    }
    // fact = 13!; walk down dividing: 1/13!, 1/12!, ..., 1/1!, 1/0!.
    let mut i = 0;
    while i < 14 {
        c[i] = 1.0 / fact;
        if k > 0 {
            fact /= k as f64;
            k -= 1;
        }
        i += 1;
    }
    c
};

/// `1/k!` for k = 7 down to 0.
const TAYLOR_F32: [f32; 8] = [
    1.0 / 5040.0,
    1.0 / 720.0,
    1.0 / 120.0,
    1.0 / 24.0,
    1.0 / 6.0,
    0.5,
    1.0,
    1.0,
];

/// `ln 2` split as fdlibm splits it: the high part has 21 trailing zero
/// bits, so `n · LN2_HI` is exact for `|n| < 2^21`.
const LN2_HI_F64: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO_F64: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
/// `ln 2` for `f32`: a high part with 12 trailing zero bits and the rest.
const LN2_HI_F32: f32 = f32::from_bits(0x3f31_7200);
const LN2_LO_F32: f32 = (std::f64::consts::LN_2 - 0.693_145_751_953_125) as f32;

/// `e^x` in every lane.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn exp_f64x4(x: __m256d) -> __m256d {
    // Below -746 e^x rounds to 0, above 710 to infinity; the clamped
    // value gives exactly that through the scaling below.
    let xc = _mm256_min_pd(
        _mm256_max_pd(x, _mm256_set1_pd(-746.0)),
        _mm256_set1_pd(710.0),
    );
    let n = _mm256_round_pd::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_pd(
        xc,
        _mm256_set1_pd(std::f64::consts::LOG2_E),
    ));
    let r = _mm256_fnmadd_pd(n, _mm256_set1_pd(LN2_HI_F64), xc);
    let r = _mm256_fnmadd_pd(n, _mm256_set1_pd(LN2_LO_F64), r);
    let mut p = _mm256_set1_pd(TAYLOR_F64[0]);
    for &c in &TAYLOR_F64[1..] {
        p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(c));
    }
    // n in [-1076, 1024]: n1 = n >> 1 and n2 = n - n1 are each in
    // [-538, 512], so 2^n1 and 2^n2 are normal.
    let ni = _mm256_cvtpd_epi32(n);
    let n1 = _mm_srai_epi32::<1>(ni);
    let n2 = _mm_sub_epi32(ni, n1);
    let y = _mm256_mul_pd(_mm256_mul_pd(p, pow2_f64(n1)), pow2_f64(n2));
    // NaN in, NaN out (max/min above replaced it by a bound).
    let nan = _mm256_cmp_pd::<_CMP_UNORD_Q>(x, x);
    _mm256_blendv_pd(y, _mm256_add_pd(x, x), nan)
}

/// `2^k` for four normal exponents `k`.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn pow2_f64(k: __m128i) -> __m256d {
    let biased = _mm256_add_epi64(_mm256_cvtepi32_epi64(k), _mm256_set1_epi64x(1023));
    _mm256_castsi256_pd(_mm256_slli_epi64::<52>(biased))
}

/// `e^x` in every lane.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn exp_f32x8(x: __m256) -> __m256 {
    // Below -104 e^x rounds to 0, above 89 to infinity.
    let xc = _mm256_min_ps(
        _mm256_max_ps(x, _mm256_set1_ps(-104.0)),
        _mm256_set1_ps(89.0),
    );
    let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(
        xc,
        _mm256_set1_ps(std::f32::consts::LOG2_E),
    ));
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI_F32), xc);
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO_F32), r);
    let mut p = _mm256_set1_ps(TAYLOR_F32[0]);
    for &c in &TAYLOR_F32[1..] {
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
    }
    // n in [-150, 129]: n1 and n2 in [-75, 65], normal powers.
    let ni = _mm256_cvtps_epi32(n);
    let n1 = _mm256_srai_epi32::<1>(ni);
    let n2 = _mm256_sub_epi32(ni, n1);
    let y = _mm256_mul_ps(_mm256_mul_ps(p, pow2_f32(n1)), pow2_f32(n2));
    let nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x);
    _mm256_blendv_ps(y, _mm256_add_ps(x, x), nan)
}

#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn pow2_f32(k: __m256i) -> __m256 {
    let biased = _mm256_add_epi32(k, _mm256_set1_epi32(127));
    _mm256_castsi256_ps(_mm256_slli_epi32::<23>(biased))
}

/// The loops for one float type, written once for `f64` and `f32`.
macro_rules! slice_kernels {
    (
        $t:ty, $lanes:literal, $v:ty, $exp:ident,
        load: $load:ident, store: $store:ident, set1: $set1:ident,
        add: $add:ident, sub: $sub:ident, div: $div:ident,
        andnot: $andnot:ident, cmp: $cmp:ident, blend: $blend:ident,
        zero: $zero:ident,
        exp_all: $exp_all:ident, sigmoid_pair: $sigmoid_pair:ident,
        sigmoid: $sigmoid:ident, sigmoid_vector: $sigmoid_vector:ident $(,)?
    ) => {
        /// `xs[j] = e^(xs[j])` for every entry. The vectors are independent
        /// of each other, so over a block of many rows the core overlaps
        /// their polynomials (a row of ten alone would wait on one
        /// polynomial's latency at a time).
        ///
        /// # Safety
        /// The CPU must have AVX2 and FMA.
        #[target_feature(enable = "avx2,fma")]
        pub unsafe fn $exp_all(xs: &mut [$t]) {
            let mut chunks = xs.chunks_exact_mut($lanes);
            for c in &mut chunks {
                // SAFETY: `c` has exactly one vector's entries.
                unsafe {
                    let e = $exp($load(c.as_ptr()));
                    $store(c.as_mut_ptr(), e);
                }
            }
            let tail = chunks.into_remainder();
            if !tail.is_empty() {
                // The tail goes through the same vector code, padded.
                let mut buf = [0.0 as $t; $lanes];
                buf[..tail.len()].copy_from_slice(tail);
                // SAFETY: `buf` holds one vector.
                unsafe {
                    let e = $exp($load(buf.as_ptr()));
                    $store(buf.as_mut_ptr(), e);
                }
                tail.copy_from_slice(&buf[..tail.len()]);
            }
        }

        /// `(σ(x), σ(-x))` in every lane: with `e = e^-|x|`, `1/(1+e)` and
        /// `e/(1+e)` by the sign of `x` (the one formula of both kernels
        /// below, so that a lone σ has the bits of a pair's first half).
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn $sigmoid_vector(x: $v) -> ($v, $v) {
            let one = $set1(1.0);
            let e = $exp($sub($zero(), $andnot($set1(-0.0), x)));
            let d = $add(one, e);
            let (big, small) = ($div(one, d), $div(e, d));
            // x >= 0 (false for NaN, whose two results are NaN anyway).
            let nonneg = $cmp(x, $zero());
            ($blend(small, big, nonneg), $blend(big, small, nonneg))
        }

        /// `xs[j] = σ(xs[j])` for every entry, with the bits
        /// [`Self::sigmoid_pair`]'s `pos` gets (inference needs σ alone).
        ///
        /// # Safety
        /// The CPU must have AVX2 and FMA.
        #[target_feature(enable = "avx2,fma")]
        pub unsafe fn $sigmoid(xs: &mut [$t]) {
            let mut chunks = xs.chunks_exact_mut($lanes);
            for c in &mut chunks {
                // SAFETY: `c` has exactly one vector's entries.
                unsafe {
                    let (p, _) = $sigmoid_vector($load(c.as_ptr()));
                    $store(c.as_mut_ptr(), p);
                }
            }
            let tail = chunks.into_remainder();
            if !tail.is_empty() {
                let mut buf = [0.0 as $t; $lanes];
                buf[..tail.len()].copy_from_slice(tail);
                // SAFETY: `buf` holds one vector.
                unsafe {
                    let (p, _) = $sigmoid_vector($load(buf.as_ptr()));
                    $store(buf.as_mut_ptr(), p);
                }
                tail.copy_from_slice(&buf[..tail.len()]);
            }
        }

        /// On entry `pos` holds `x`; on exit `pos = σ(x)` and `neg = σ(-x)`,
        /// as [`crate::kernels::sigmoid_pair`] defines them: with
        /// `e = e^-|x|`, `1/(1+e)` and `e/(1+e)` by the sign of `x`.
        ///
        /// # Safety
        /// The CPU must have AVX2 and FMA.
        #[target_feature(enable = "avx2,fma")]
        pub unsafe fn $sigmoid_pair(pos: &mut [$t], neg: &mut [$t]) {
            let n = pos.len().min(neg.len());
            let (pos, neg) = (&mut pos[..n], &mut neg[..n]);
            // SAFETY (every block): each pointer is to one whole vector
            // inside `pos`, `neg` or a local buffer.
            let pair = |x: $v| unsafe { $sigmoid_vector(x) };
            let mut j = 0;
            // Two vectors per turn: each `exp` is a chain of dependent
            // multiply-adds, and two chains side by side keep both FMA
            // units busy.
            while j + 2 * $lanes <= n {
                unsafe {
                    let (p0, q0) = pair($load(pos.as_ptr().add(j)));
                    let (p1, q1) = pair($load(pos.as_ptr().add(j + $lanes)));
                    $store(pos.as_mut_ptr().add(j), p0);
                    $store(neg.as_mut_ptr().add(j), q0);
                    $store(pos.as_mut_ptr().add(j + $lanes), p1);
                    $store(neg.as_mut_ptr().add(j + $lanes), q1);
                }
                j += 2 * $lanes;
            }
            while j + $lanes <= n {
                unsafe {
                    let (p, q) = pair($load(pos.as_ptr().add(j)));
                    $store(pos.as_mut_ptr().add(j), p);
                    $store(neg.as_mut_ptr().add(j), q);
                }
                j += $lanes;
            }
            if j < n {
                let rest = n - j;
                let mut bp = [0.0 as $t; $lanes];
                let mut bq = [0.0 as $t; $lanes];
                bp[..rest].copy_from_slice(&pos[j..]);
                unsafe {
                    let (p, q) = pair($load(bp.as_ptr()));
                    $store(bp.as_mut_ptr(), p);
                    $store(bq.as_mut_ptr(), q);
                }
                pos[j..].copy_from_slice(&bp[..rest]);
                neg[j..].copy_from_slice(&bq[..rest]);
            }
        }
    };
}

#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn ge_pd(a: __m256d, b: __m256d) -> __m256d {
    _mm256_cmp_pd::<_CMP_GE_OQ>(a, b)
}

#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn ge_ps(a: __m256, b: __m256) -> __m256 {
    _mm256_cmp_ps::<_CMP_GE_OQ>(a, b)
}

slice_kernels!(
    f64, 4, __m256d, exp_f64x4,
    load: _mm256_loadu_pd, store: _mm256_storeu_pd, set1: _mm256_set1_pd,
    add: _mm256_add_pd, sub: _mm256_sub_pd, div: _mm256_div_pd,
    andnot: _mm256_andnot_pd, cmp: ge_pd, blend: _mm256_blendv_pd,
    zero: _mm256_setzero_pd,
    exp_all: exp_f64s, sigmoid_pair: sigmoid_pair_f64,
    sigmoid: sigmoid_f64, sigmoid_vector: sigmoid_f64x4,
);

slice_kernels!(
    f32, 8, __m256, exp_f32x8,
    load: _mm256_loadu_ps, store: _mm256_storeu_ps, set1: _mm256_set1_ps,
    add: _mm256_add_ps, sub: _mm256_sub_ps, div: _mm256_div_ps,
    andnot: _mm256_andnot_ps, cmp: ge_ps, blend: _mm256_blendv_ps,
    zero: _mm256_setzero_ps,
    exp_all: exp_f32s, sigmoid_pair: sigmoid_pair_f32,
    sigmoid: sigmoid_f32, sigmoid_vector: sigmoid_f32x8,
);

#[cfg(test)]
#[path = "x86_tests.rs"]
mod tests;

//! The vector `exp` against glibc's (`f64::exp`, `f32::exp`) over dense
//! sweeps and at the edges, and the slice kernels against the scalar
//! formulas.

use super::*;

/// The distance in representable values (ulps) between two floats of the
/// same sign class; 0 when both are NaN.
fn ulps_f64(a: f64, b: f64) -> u64 {
    if a.is_nan() && b.is_nan() {
        return 0;
    }
    let ord = |x: f64| {
        let b = x.to_bits() as i64;
        if b < 0 {
            i64::MIN - b
        } else {
            b
        }
    };
    ord(a).abs_diff(ord(b))
}

fn ulps_f32(a: f32, b: f32) -> u64 {
    if a.is_nan() && b.is_nan() {
        return 0;
    }
    let ord = |x: f32| {
        let b = x.to_bits() as i32;
        i64::from(if b < 0 { i32::MIN - b } else { b })
    };
    ord(a).abs_diff(ord(b))
}

fn have_avx2() -> bool {
    let ok = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
    if !ok {
        eprintln!("no AVX2 + FMA on this CPU: the vector kernels are not run");
    }
    ok
}

fn vexp_f64(xs: &[f64]) -> Vec<f64> {
    xs.chunks(4)
        .flat_map(|c| {
            let mut buf = [0.0; 4];
            buf[..c.len()].copy_from_slice(c);
            // SAFETY: the CPU has AVX2 and FMA (checked by the caller).
            unsafe { _mm256_storeu_pd(buf.as_mut_ptr(), exp_f64x4(_mm256_loadu_pd(buf.as_ptr()))) };
            buf[..c.len()].to_vec()
        })
        .collect()
}

fn vexp_f32(xs: &[f32]) -> Vec<f32> {
    xs.chunks(8)
        .flat_map(|c| {
            let mut buf = [0.0; 8];
            buf[..c.len()].copy_from_slice(c);
            // SAFETY: the CPU has AVX2 and FMA (checked by the caller).
            unsafe { _mm256_storeu_ps(buf.as_mut_ptr(), exp_f32x8(_mm256_loadu_ps(buf.as_ptr()))) };
            buf[..c.len()].to_vec()
        })
        .collect()
}

/// A deterministic stream of bit patterns (SplitMix64).
fn bits(seed: u64) -> impl Iterator<Item = u64> {
    let mut s = seed;
    std::iter::repeat_with(move || {
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

/// Measured: 1 ulp. The bound the module documents.
const MAX_ULPS_F64: u64 = 1;
const MAX_ULPS_F32: u64 = 1;

#[test]
fn exp_f64_within_an_ulp_of_libm() {
    if !have_avx2() {
        return;
    }
    // A dense even sweep over the whole finite range of e^x, ...
    let n = 1 << 20;
    let (lo, hi) = (-746.0f64, 710.0f64);
    let mut xs: Vec<f64> = (0..=n)
        .map(|i| lo + (hi - lo) * i as f64 / n as f64)
        .collect();
    // ... a dense one near 0 and the reduction's boundaries, ...
    xs.extend((0..=200_000).map(|i| -2.0 + 4.0 * i as f64 / 200_000.0));
    xs.extend((-20..=20).flat_map(|k| {
        let c = (f64::from(k) + 0.5) * std::f64::consts::LN_2;
        (-50..=50).map(move |d| c + f64::from(d) * 1e-15)
    }));
    // ... random values in the range, and the edges.
    xs.extend(
        bits(7)
            .take(200_000)
            .map(|b| lo + (hi - lo) * (b >> 11) as f64 / (1u64 << 53) as f64),
    );
    xs.extend([
        0.0,
        -0.0,
        1e-300,
        -1e-300,
        f64::MIN_POSITIVE,
        709.782_712_893_383_9,
        709.782_712_893_384_1,
        -708.396_418_532_264_1,
        -745.133_219_101_941_1,
        -745.133_219_101_941_3,
        -744.44,
        -1000.0,
        1000.0,
        f64::MAX,
        f64::MIN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        -f64::NAN,
    ]);
    let got = vexp_f64(&xs);
    let mut worst = (0, 0.0);
    for (&x, &y) in xs.iter().zip(&got) {
        let d = ulps_f64(y, x.exp());
        if d > worst.0 {
            worst = (d, x);
        }
    }
    eprintln!("f64 exp: max {} ulp (at x = {:e})", worst.0, worst.1);
    assert!(
        worst.0 <= MAX_ULPS_F64,
        "{} ulp at x = {:e}",
        worst.0,
        worst.1
    );
    let edges = vexp_f64(&[
        1000.0,
        f64::INFINITY,
        -1000.0,
        f64::NEG_INFINITY,
        -0.0,
        f64::NAN,
    ]);
    assert_eq!(edges[0], f64::INFINITY);
    assert_eq!(edges[1], f64::INFINITY);
    assert_eq!(edges[2].to_bits(), 0);
    assert_eq!(edges[3].to_bits(), 0);
    assert_eq!(edges[4], 1.0);
    assert!(edges[5].is_nan());
    // The smallest subnormal and the largest finite result are reached.
    assert_eq!(vexp_f64(&[-745.0])[0], (-745.0f64).exp());
    assert_eq!(vexp_f64(&[709.78])[0], 709.78f64.exp());
}

#[test]
fn exp_f32_within_an_ulp_of_libm() {
    if !have_avx2() {
        return;
    }
    let n = 1 << 20;
    let (lo, hi) = (-104.0f32, 89.0f32);
    let mut xs: Vec<f32> = (0..=n)
        .map(|i| lo + (hi - lo) * (i as f32 / n as f32))
        .collect();
    xs.extend((0..=200_000).map(|i| -2.0 + 4.0 * (i as f32 / 200_000.0)));
    // Every f32 in [-1, 1] with exponent ≥ 2^-10, by bit pattern.
    xs.extend(
        (0x3a80_0000u32..=0x3f80_0000)
            .step_by(7)
            .map(f32::from_bits),
    );
    xs.extend(
        (0xba80_0000u32..=0xbf80_0000)
            .step_by(7)
            .map(f32::from_bits),
    );
    xs.extend([
        0.0,
        -0.0,
        88.72,
        88.73,
        -87.33,
        -103.97,
        -103.98,
        -200.0,
        200.0,
        f32::MAX,
        f32::MIN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
    ]);
    let got = vexp_f32(&xs);
    let mut worst = (0, 0.0);
    for (&x, &y) in xs.iter().zip(&got) {
        let d = ulps_f32(y, x.exp());
        if d > worst.0 {
            worst = (d, x);
        }
    }
    eprintln!("f32 exp: max {} ulp (at x = {:e})", worst.0, worst.1);
    assert!(
        worst.0 <= MAX_ULPS_F32,
        "{} ulp at x = {:e}",
        worst.0,
        worst.1
    );
    let edges = vexp_f32(&[
        200.0,
        f32::INFINITY,
        -200.0,
        f32::NEG_INFINITY,
        -0.0,
        f32::NAN,
    ]);
    assert_eq!(edges[0], f32::INFINITY);
    assert_eq!(edges[1], f32::INFINITY);
    assert_eq!(edges[2].to_bits(), 0);
    assert_eq!(edges[3].to_bits(), 0);
    assert_eq!(edges[4], 1.0);
    assert!(edges[5].is_nan());
}

#[test]
fn exp_of_a_slice_matches_the_scalar_exp_at_every_length() {
    if !have_avx2() {
        return;
    }
    // Every length up to five vectors, so that each tail length is met.
    for len in 0..41 {
        let xs: Vec<f64> = (0..len).map(|i| f64::from(i) * 0.7 - 13.0).collect();
        let mut v = xs.clone();
        // SAFETY: checked above.
        unsafe { exp_f64s(&mut v) };
        for (&x, &y) in xs.iter().zip(&v) {
            assert!(ulps_f64(y, x.exp()) <= MAX_ULPS_F64, "e^{x}: {y}");
            // Lane-independent: the same bits as the entry alone.
            let mut one = [x];
            // SAFETY: checked above.
            unsafe { exp_f64s(&mut one) };
            assert_eq!(one[0].to_bits(), y.to_bits());
        }
        let xs32: Vec<f32> = xs.iter().map(|&x| x as f32).collect();
        let mut v32 = xs32.clone();
        // SAFETY: checked above.
        unsafe { exp_f32s(&mut v32) };
        for (&x, &y) in xs32.iter().zip(&v32) {
            assert!(ulps_f32(y, x.exp()) <= MAX_ULPS_F32, "e^{x}: {y}");
        }
    }
}

#[test]
fn sigmoid_pair_is_stable_and_matches_the_scalar_sigmoid() {
    if !have_avx2() {
        return;
    }
    let mut xs: Vec<f64> = (-4000..=4000).map(|i| f64::from(i) * 0.01).collect();
    xs.extend([
        -800.0,
        -745.5,
        -40.0,
        -0.0,
        0.0,
        40.0,
        745.5,
        800.0,
        f64::INFINITY,
    ]);
    xs.extend([f64::NEG_INFINITY, f64::MAX, f64::MIN]);
    let mut p = xs.clone();
    let mut q = vec![0.0; xs.len()];
    // SAFETY: checked above.
    unsafe { sigmoid_pair_f64(&mut p, &mut q) };
    for ((&x, &p), &q) in xs.iter().zip(&p).zip(&q) {
        assert!(p.is_finite() && q.is_finite() && (0.0..=1.0).contains(&p));
        // One ulp from exp, one from each division: within 2 ulp.
        assert!(ulps_f64(p, crate::sigmoid(x)) <= 2, "σ({x}) = {p}");
        assert!(ulps_f64(q, crate::sigmoid(-x)) <= 2, "σ(-{x}) = {q}");
    }
    let mut nan = [f64::NAN, 1.0, 2.0];
    let mut q = [0.0; 3];
    // SAFETY: checked above.
    unsafe { sigmoid_pair_f64(&mut nan, &mut q) };
    assert!(nan[0].is_nan() && q[0].is_nan());
    let xs32: Vec<f32> = xs.iter().map(|&x| x as f32).collect();
    let mut p32 = xs32.clone();
    let mut q32 = vec![0.0; xs32.len()];
    // SAFETY: checked above.
    unsafe { sigmoid_pair_f32(&mut p32, &mut q32) };
    for ((&x, &p), &q) in xs32.iter().zip(&p32).zip(&q32) {
        assert!(p.is_finite() && q.is_finite());
        assert!(ulps_f32(p, crate::sigmoid(x)) <= 2, "σ({x}) = {p}");
        assert!(ulps_f32(q, crate::sigmoid(-x)) <= 2, "σ(-{x}) = {q}");
    }
}

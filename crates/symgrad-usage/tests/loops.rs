//! Accumulation loops, which `#[gradient]` keeps as loops, and loops that
//! fall back to unrolling: every case against central differences of the
//! function itself (and Rosenbrock in `rosenbrock.rs` against the analytic
//! gradient). Which path a loop takes is checked in symgrad-macros' unit
//! tests, on the generated code.

// Indexed loops are what the macro differentiates: iterators are not supported.
#![allow(clippy::needless_range_loop)]

use symgrad::{grad, gradient};

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

/// Central differences of `f` at `x`, in the flattened parameter order.
fn numeric<const N: usize>(f: impl Fn([f64; N]) -> f64, x: [f64; N]) -> [f64; N] {
    let h = 1e-6;
    std::array::from_fn(|i| {
        let (mut up, mut down) = (x, x);
        up[i] += h;
        down[i] -= h;
        (f(up) - f(down)) / (2.0 * h)
    })
}

fn check<const N: usize>(got: (f64, [f64; N]), f: impl Fn([f64; N]) -> f64, x: [f64; N]) {
    let (value, grad) = got;
    assert!(close(value, f(x), 1e-12), "value {value} vs {}", f(x));
    let want = numeric(&f, x);
    for i in 0..N {
        assert!(
            close(grad[i], want[i], 1e-6),
            "entry {i}: {} vs {}",
            grad[i],
            want[i]
        );
    }
}

fn point<const N: usize>() -> [f64; N] {
    std::array::from_fn(|i| 0.3 + 0.17 * i as f64 - 0.01 * (i * i) as f64)
}

#[gradient]
fn two_accumulators(x: [f64; 8]) -> f64 {
    let mut a = 0.0;
    let mut b = 1.0;
    for i in 0..7 {
        a += x[i] * x[i + 1];
        b -= (x[i] - 0.5).powi(2);
    }
    a.powi(2).sqrt() + a.sqrt() + b * a
}

#[test]
fn two_accumulators_combined_after_the_loop() {
    let x = point::<8>();
    check(two_accumulators_gradient(x), two_accumulators, x);
}

#[gradient]
fn minus_equals(x: [f64; 6]) -> f64 {
    let mut s = 10.0;
    for i in 0..6 {
        s -= x[i].exp();
    }
    s
}

#[test]
fn subtracting_accumulator() {
    let x = point::<6>();
    check(minus_equals_gradient(x), minus_equals, x);
    // d/dx_i = -exp(x_i).
    let (_, g) = minus_equals_gradient(x);
    for i in 0..6 {
        assert!(close(g[i], -x[i].exp(), 1e-15));
    }
}

#[gradient]
fn scalar_inside(x: [f64; 5], y: f64, z: f64) -> f64 {
    let c = (y * z).sin();
    let mut s = y;
    for i in 0..5 {
        s += y * x[i].powi(2) + c * x[i] + z;
    }
    s * z
}

#[test]
fn scalar_parameters_and_pre_loop_values_read_inside_the_loop() {
    let x = point::<5>();
    let f = |v: [f64; 7]| {
        let mut x = [0.0; 5];
        x.copy_from_slice(&v[..5]);
        scalar_inside(x, v[5], v[6])
    };
    let mut v = [0.0; 7];
    v[..5].copy_from_slice(&x);
    v[5] = 0.8;
    v[6] = -1.3;
    let (value, g) = scalar_inside_gradient(x, 0.8, -1.3);
    check((value, g), f, v);
}

#[gradient]
fn strided(x: [f64; 9]) -> f64 {
    let mut s = 0.0;
    for i in 0..4 {
        s += x[2 * i + 1] * x[2 * i] - x[8 - 2 * i].powi(3) + (i as f64) * x[i + 4];
    }
    s
}

#[test]
fn strided_and_reversed_indices() {
    let x = point::<9>();
    check(strided_gradient(x), strided, x);
}

#[gradient]
fn with_locals(x: [f64; 10]) -> f64 {
    let mut s = 0.0;
    let k = 2;
    for i in 1..=8 {
        let j = i + 1;
        let a = x[j] - x[i - 1];
        let mut b = a * a;
        b += x[k * i - i].tanh();
        s += b.sqrt();
    }
    s.ln()
}

#[test]
fn loop_local_bindings() {
    let x = point::<10>();
    check(with_locals_gradient(x), with_locals, x);
}

#[gradient]
fn two_loops(x: [f64; 6], y: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..6 {
        s += x[i] * y;
    }
    let m = s / 6.0;
    let mut v = 0.0;
    for i in 0..6 {
        v += (x[i] - m).powi(2);
    }
    s += v.sqrt();
    for i in 0..3 {
        s += x[i];
    }
    s * m
}

#[test]
fn a_loop_reading_the_result_of_an_earlier_one() {
    let x = point::<6>();
    let f = |v: [f64; 7]| {
        let mut x = [0.0; 6];
        x.copy_from_slice(&v[..6]);
        two_loops(x, v[6])
    };
    let mut v = [0.0; 7];
    v[..6].copy_from_slice(&x);
    v[6] = 1.7;
    check(two_loops_gradient(x, 1.7), f, v);
}

#[gradient]
fn falls_back(x: [f64; 6]) -> f64 {
    let mut s = 1.0;
    let mut p = 1.0;
    for i in 0..5 {
        // Reads its accumulator: unrolled.
        s += s * x[i];
        // `*=`: unrolled.
        p *= x[i + 1];
    }
    let mut q = 0.0;
    for i in 0..3 {
        // A non-affine index: unrolled.
        q += x[i * i / 2];
    }
    let mut r = 0.0;
    for i in 0..2 {
        // A loop inside: the outer one unrolled, the inner one kept.
        for j in 0..3 {
            r += x[i + j] * x[j];
        }
    }
    s + p + q + r
}

#[test]
fn loops_outside_the_pattern_fall_back_to_unrolling() {
    let x = point::<6>();
    check(falls_back_gradient(x), falls_back, x);
}

#[gradient(hessian)]
fn hessian_unrolls(x: [f64; 4]) -> f64 {
    let mut s = 0.0;
    for i in 0..3 {
        s += x[i] * x[i + 1].powi(2);
    }
    s
}

#[test]
fn the_hessian_still_unrolls_and_agrees_with_the_gradient() {
    let x = point::<4>();
    check(hessian_unrolls_gradient(x), hessian_unrolls, x);
    let (v, g, h) = hessian_unrolls_hessian(x);
    let (v2, g2) = hessian_unrolls_gradient(x);
    assert!(close(v, v2, 1e-15));
    for i in 0..4 {
        assert!(close(g[i], g2[i], 1e-15));
    }
    // d²/dx0dx1 = 2 x1.
    assert!(close(h[0][1], 2.0 * x[1], 1e-15));
}

#[gradient]
fn f32_loop(x: [f32; 5]) -> f32 {
    let mut s = 0.0;
    for i in 0..4 {
        s += (x[i + 1] - x[i]).powi(2) * (i as f32 + 1.0);
    }
    s
}

#[test]
fn f32_loops() {
    let x: [f32; 5] = [0.1, 0.4, -0.2, 0.7, 1.0];
    let (value, g) = f32_loop_gradient(x);
    assert!((value - f32_loop(x)).abs() < 1e-6);
    // d/dx_k = 2 (x_k - x_{k-1}) k - 2 (x_{k+1} - x_k) (k + 1).
    for k in 0..5 {
        let mut want = 0.0;
        if k > 0 {
            want += 2.0 * (x[k] - x[k - 1]) * k as f32;
        }
        if k < 4 {
            want -= 2.0 * (x[k + 1] - x[k]) * (k + 1) as f32;
        }
        assert!((g[k] - want).abs() < 1e-5, "{k}: {} vs {want}", g[k]);
    }
}

#[test]
fn closures_keep_loops_too() {
    let f = grad!(|x: [f64; 4], y: f64| {
        let mut s = 0.0;
        for i in 0..4 {
            s += (x[i] * y).sin();
        }
        s
    });
    let x = point::<4>();
    let (value, g) = f(x, 0.9);
    let h = |v: [f64; 5]| (0..4).map(|i| (v[i] * v[4]).sin()).sum::<f64>();
    let mut v = [0.9; 5];
    v[..4].copy_from_slice(&x);
    check((value, g), h, v);
}

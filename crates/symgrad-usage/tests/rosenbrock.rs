//! Rosenbrock n = 1000 through `#[gradient]`, whose loop the macro keeps as a
//! loop (an accumulation loop: see symgrad-macros' `looped` module and its
//! unit test `rosenbrock_is_kept_as_a_loop`), against a hand-written
//! analytic gradient and central differences.

use symgrad::gradient;

const N: usize = 1000;

#[gradient]
fn rosenbrock(x: [f64; 1000]) -> f64 {
    let mut s = 0.0;
    for i in 0..999 {
        s += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
    }
    s
}

/// The same function for n = 10, written with `x.len()` and `return`.
#[gradient]
#[allow(clippy::needless_return)] // `return` as the last statement is part of what is tested.
pub fn rosenbrock_len(x: [f64; 10]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() - 1 {
        let a = x[i + 1] - x[i].powi(2);
        let b = 1.0 - x[i];
        s += 100.0 * a * a + b * b;
    }
    return s;
}

/// d/dx_i = -400 x_i (x_{i+1} - x_i²) - 2 (1 - x_i) + 200 (x_i - x_{i-1}²).
fn analytic(x: &[f64; N]) -> [f64; N] {
    let mut g = [0.0; N];
    for i in 0..N - 1 {
        let a = x[i + 1] - x[i] * x[i];
        g[i] += -400.0 * x[i] * a - 2.0 * (1.0 - x[i]);
        g[i + 1] += 200.0 * a;
    }
    g
}

fn start() -> [f64; N] {
    std::array::from_fn(|i| if i % 2 == 0 { -1.2 } else { 1.0 })
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn matches_the_analytic_gradient_at_the_standard_start() {
    let x = start();
    let (value, grad) = rosenbrock_gradient(x);
    // The generated sum is reassociated by the simplifier: equal up to rounding.
    assert!(close(value, rosenbrock(x), 1e-13));
    // 500 terms at (x_i, x_{i+1}) = (-1.2, 1.0): 100 * 0.44² + 2.2² = 24.2;
    // 499 at (1.0, -1.2): 100 * 2.2² = 484. Total 12,100 + 241,516.
    assert!(close(value, 253_616.0, 1e-13), "{value}");
    let expected = analytic(&x);
    for i in 0..N {
        assert!(
            close(grad[i], expected[i], 1e-12),
            "{i}: {} vs {}",
            grad[i],
            expected[i]
        );
    }
}

#[test]
fn len_and_return() {
    let x: [f64; 10] = std::array::from_fn(|i| if i % 2 == 0 { -1.2 } else { 1.0 });
    let (value, grad) = rosenbrock_len_gradient(x);
    assert!(close(value, rosenbrock_len(x), 1e-14));
    let mut big = [1.0; N];
    big[..10].copy_from_slice(&x);
    let expected = analytic(&big);
    // The first nine entries do not see the coordinates past 10.
    for i in 0..9 {
        assert!(close(grad[i], expected[i], 1e-12), "{i}");
    }
    assert!(close(grad[9], 200.0 * (x[9] - x[8] * x[8]), 1e-12));
}

#[test]
fn matches_central_differences() {
    let x = start();
    let (_, grad) = rosenbrock_gradient(x);
    let h = 1e-6;
    for i in 0..N {
        let (mut up, mut down) = (x, x);
        up[i] += h;
        down[i] -= h;
        let numeric = (rosenbrock(up) - rosenbrock(down)) / (2.0 * h);
        assert!(
            close(grad[i], numeric, 1e-6),
            "{i}: {} vs {numeric}",
            grad[i]
        );
    }
}

#[test]
fn zero_at_the_minimum() {
    let (value, grad) = rosenbrock_gradient([1.0; N]);
    assert_eq!(value, 0.0);
    assert!(grad.iter().all(|&g| g == 0.0));
}

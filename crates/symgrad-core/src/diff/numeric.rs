//! Central finite differences: the slow, approximate method that
//! backpropagation replaced, kept as an independent check and for teaching.
//!
//! `∂f/∂x_i ≈ (f(x + h e_i) - f(x - h e_i)) / 2h` with `h = ε^(1/3)·max(1, |x_i|)`,
//! which balances truncation error (O(h²)) against rounding error (O(ε/h)).

use super::Stats;
use crate::eval::Program;

/// The step for central differences at `x`.
pub fn step(x: f64) -> f64 {
    f64::EPSILON.cbrt() * x.abs().max(1.0)
}

/// The gradient of the program's first output at `point` (one value per
/// program input), by two evaluations per input.
pub fn gradient(program: &Program, point: &[f64]) -> (Vec<f64>, Stats) {
    let mut slots = Vec::new();
    let mut out = Vec::new();
    let mut x = point.to_vec();
    let mut grad = Vec::with_capacity(point.len());
    for i in 0..point.len() {
        let h = step(point[i]);
        x[i] = point[i] + h;
        program.run_with(&x, &mut slots, &mut out);
        let plus = out[0];
        x[i] = point[i] - h;
        program.run_with(&x, &mut slots, &mut out);
        let minus = out[0];
        x[i] = point[i];
        // Divide by the step actually taken, which rounding may have changed.
        grad.push((plus - minus) / ((point[i] + h) - (point[i] - h)));
    }
    let stats = Stats {
        passes: 2 * point.len(),
        evaluations: 2 * point.len(),
        ..Stats::default()
    };
    (grad, stats)
}

/// The Hessian of the program's first output at `point` by central
/// differences of second order, with the larger step `ε^(1/4)·max(1, |x|)`
/// that balances their O(h²) truncation against O(ε/h²) rounding:
/// `∂²f/∂x_i² ≈ (f(x + h e_i) - 2f(x) + f(x - h e_i)) / h²` and, off the
/// diagonal, the four-point formula (symmetric by construction).
pub fn hessian(program: &Program, point: &[f64]) -> (Vec<Vec<f64>>, Stats) {
    let n = point.len();
    let mut slots = Vec::new();
    let mut out = Vec::new();
    let mut evaluations = 0;
    let mut f = |x: &[f64]| {
        program.run_with(x, &mut slots, &mut out);
        evaluations += 1;
        out[0]
    };
    let h: Vec<f64> = point
        .iter()
        .map(|&x| f64::EPSILON.powf(0.25) * x.abs().max(1.0))
        .collect();
    let center = f(point);
    let mut rows = vec![vec![0.0; n]; n];
    let mut x = point.to_vec();
    for i in 0..n {
        x[i] = point[i] + h[i];
        let plus = f(&x);
        x[i] = point[i] - h[i];
        let minus = f(&x);
        x[i] = point[i];
        rows[i][i] = (plus - 2.0 * center + minus) / (h[i] * h[i]);
        for j in 0..i {
            let mut at = |si: f64, sj: f64| {
                x[i] = point[i] + si * h[i];
                x[j] = point[j] + sj * h[j];
                let v = f(&x);
                x[i] = point[i];
                x[j] = point[j];
                v
            };
            let d = at(1.0, 1.0) - at(1.0, -1.0) - at(-1.0, 1.0) + at(-1.0, -1.0);
            rows[i][j] = d / (4.0 * h[i] * h[j]);
            rows[j][i] = rows[i][j];
        }
    }
    let stats = Stats {
        passes: evaluations,
        evaluations,
        ..Stats::default()
    };
    (rows, stats)
}

/// The k-th derivative of the program's first output in input `i` at
/// `point`, by the central difference of order k,
/// `Σ_j (-1)^j C(k, j) f(x + (k/2 - j) h) / h^k` with `h = ε^(1/(k+2))·max(1, |x_i|)`.
/// Rounding grows like ε/h^k, so past k = 4 or so only the first few digits
/// are right: an estimate to check an exact result against, not a substitute.
pub fn derivative(program: &Program, point: &[f64], i: usize, k: usize) -> (f64, Stats) {
    let mut slots = Vec::new();
    let mut out = Vec::new();
    let mut x = point.to_vec();
    let h = f64::EPSILON.powf(1.0 / (k as f64 + 2.0)) * point[i].abs().max(1.0);
    let mut sum = 0.0;
    let mut binomial = 1.0;
    for j in 0..=k {
        x[i] = point[i] + (k as f64 / 2.0 - j as f64) * h;
        program.run_with(&x, &mut slots, &mut out);
        let sign = if j % 2 == 0 { 1.0 } else { -1.0 };
        sum += sign * binomial * out[0];
        binomial = binomial * (k - j) as f64 / (j + 1) as f64;
    }
    let stats = Stats {
        passes: k + 1,
        evaluations: k + 1,
        ..Stats::default()
    };
    (sum / h.powi(k as i32), stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    fn program(src: &str) -> Program {
        let f = parse(src).unwrap();
        Program::compile(&f.graph, &f.vars, &[f.output]).unwrap()
    }

    #[test]
    fn hessian_of_a_cubic() {
        // f = x³y + y²: H = [[6xy, 3x²], [3x², 2]] = [[12, 3], [3, 2]] at (1, 2).
        let (h, stats) = hessian(&program("x^3*y + y^2"), &[1.0, 2.0]);
        let want = [[12.0, 3.0], [3.0, 2.0]];
        for i in 0..2 {
            for j in 0..2 {
                assert!((h[i][j] - want[i][j]).abs() < 1e-6, "{h:?}");
            }
        }
        assert_eq!(stats.evaluations, 1 + 2 * 2 + 4);
    }

    #[test]
    fn third_derivative_of_sin() {
        // sin''' = -cos
        let (d, _) = derivative(&program("sin(x)"), &[0.5], 0, 3);
        assert!((d + 0.5f64.cos()).abs() < 1e-4, "{d}");
    }
}

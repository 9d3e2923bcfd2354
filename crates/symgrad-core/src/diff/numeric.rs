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

//! The hand-written test models' gradients against central finite
//! differences, so that the trainer's tests rest on correct gradients.
// Index loops keep the tests' formulas as written (a_i θ_i).
#![allow(clippy::needless_range_loop)]

mod common;

use common::{LinearRegression, LinearSoftmax};
use symgrad_nn::Model;

fn check<M: Model>(model: &mut M, data: &[&[f64]]) {
    let shapes = model.param_shapes();
    let mut grad: Vec<Vec<f64>> = shapes
        .iter()
        .map(|s| vec![0.0; s.iter().product()])
        .collect();
    model.loss_and_gradient(data, &mut grad);
    let h = 1e-6;
    for p in 0..shapes.len() {
        for i in 0..grad[p].len() {
            let x = model.params()[p][i];
            model.params_mut()[p][i] = x + h;
            let up = model.loss(data);
            model.params_mut()[p][i] = x - h;
            let down = model.loss(data);
            model.params_mut()[p][i] = x;
            let numeric = (up - down) / (2.0 * h);
            assert!(
                (numeric - grad[p][i]).abs() < 1e-7 * numeric.abs().max(1.0),
                "param {p} entry {i}: analytic {} numeric {numeric}",
                grad[p][i]
            );
        }
    }
}

#[test]
fn linear_softmax_gradient() {
    let mut m = LinearSoftmax::new(3, 4, 7);
    m.w.iter_mut()
        .enumerate()
        .for_each(|(i, w)| *w += 0.3 * (i as f64).sin());
    let x = [0.5, -1.0, 2.0, 1.5, 0.2, -0.7];
    let y = [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0];
    check(&mut m, &[&x, &y]);
}

#[test]
fn linear_regression_gradient() {
    let mut m = LinearRegression::new(2, 2);
    let x = [0.5, -1.0, 2.0, 1.5, 0.3, 0.3];
    let y = [1.0, -2.0, 0.5, 0.0, 3.0, 1.0];
    check(&mut m, &[&x, &y]);
}

//! A `network!` struct with convolution, per-channel batch norm, pooling,
//! flatten and indexing (issue 9) and the same file loaded at run time (`NetworkModel`, the
//! plans the interpreter runs) agree step by step on the loss, the
//! gradient and the prediction, through the `Model` trait; and training
//! on them lowers the loss.

#![deny(warnings)]

use symgrad::nn::{Model, NetworkModel};
use symgrad::workloads::SplitMix64;

symgrad::network!(Images, "tests/nets/images.sg");
// The scaled-down AlphaGo Zero tower, in the layer shorthand.
symgrad::network!(Tower, "../../nets/digits_tower.sg");

/// `m` random samples of `features` inputs and one-hot targets of
/// `classes`, stacked.
fn batch(seed: u64, m: usize, features: usize, classes: usize) -> Vec<Vec<f64>> {
    let mut rng = SplitMix64(seed);
    let x = (0..features * m).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let mut y = vec![0.0; classes * m];
    for k in 0..m {
        y[k * classes + (rng.next_u64() % classes as u64) as usize] = 1.0;
    }
    vec![x, y]
}

#[track_caller]
fn close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-12 * (1.0 + w.abs()),
            "{what}[{k}]: {g} vs {w}"
        );
    }
}

fn step<M: Model>(model: &mut M, data: &[Vec<f64>]) -> (f64, Vec<Vec<f64>>) {
    let slices: Vec<&[f64]> = data.iter().map(Vec::as_slice).collect();
    let mut grad = vec![Vec::new(); model.param_names().len()];
    let loss = model.loss_and_gradient(&slices, &mut grad);
    for (param, g) in model.params_mut().into_iter().zip(&grad) {
        for (w, d) in param.iter_mut().zip(g) {
            *w -= 0.1 * d;
        }
    }
    (loss, grad)
}

#[test]
fn the_compiled_convolutional_struct_trains_as_the_interpreted_model() {
    let mut compiled = Images::init(3);
    let mut interpreted = NetworkModel::from_source(Images::SOURCE, 3).unwrap();
    assert_eq!(compiled.param_shapes(), interpreted.param_shapes());
    assert_eq!(compiled.param_shapes()[0], vec![3, 2, 3, 3]);
    let data = batch(7, 6, 50, 3);
    let mut first = None;
    let mut last = 0.0;
    for _ in 0..20 {
        let (lc, gc) = step(&mut compiled, &data);
        let (li, gi) = step(&mut interpreted, &data);
        close("loss", &[lc], &[li]);
        for (k, (a, b)) in gc.iter().zip(&gi).enumerate() {
            close(&format!("gradient {k}"), a, b);
        }
        assert!(gc.iter().flatten().any(|&d| d != 0.0));
        first.get_or_insert(lc);
        last = lc;
    }
    assert!(last < first.unwrap(), "{last} after {first:?}");
    // Per-channel batch norm: 3 running means and variances, updated alike.
    assert_eq!(compiled.state()[0].len(), 3);
    for (k, (a, b)) in compiled.state().iter().zip(interpreted.state()).enumerate() {
        close(&format!("running statistic {k}"), a, b);
    }
    assert!(
        compiled.state()[1].iter().all(|&v| v != 1.0),
        "the variances moved"
    );
    let inputs = [data[0].as_slice()];
    let (mut pc, mut pi) = (Vec::new(), Vec::new());
    compiled.predict(&inputs, &mut pc);
    interpreted.predict(&inputs, &mut pi);
    assert_eq!(pc.len(), 6 * 3);
    close("prediction", &pc, &pi);
}

#[test]
fn the_compiled_residual_tower_trains_as_the_interpreted_model() {
    let mut compiled = Tower::init(5);
    let mut interpreted = NetworkModel::from_source(Tower::SOURCE, 5).unwrap();
    assert_eq!(compiled.param_shapes(), interpreted.param_shapes());
    let data = batch(11, 8, 64, 10);
    let mut losses = Vec::new();
    for _ in 0..4 {
        let (lc, gc) = step(&mut compiled, &data);
        let (li, gi) = step(&mut interpreted, &data);
        close("loss", &[lc], &[li]);
        for (k, (a, b)) in gc.iter().zip(&gi).enumerate() {
            close(&format!("gradient {k}"), a, b);
        }
        losses.push(lc);
    }
    assert!(losses[3] < losses[0], "{losses:?}");
    // Six batch norms (the stem, two per block, the head), per channel.
    assert_eq!(compiled.state().len(), 12);
    for (k, (a, b)) in compiled.state().iter().zip(interpreted.state()).enumerate() {
        close(&format!("running statistic {k}"), a, b);
    }
    let inputs = [data[0].as_slice()];
    let (mut pc, mut pi) = (Vec::new(), Vec::new());
    compiled.predict(&inputs, &mut pc);
    interpreted.predict(&inputs, &mut pi);
    close("prediction", &pc, &pi);
}

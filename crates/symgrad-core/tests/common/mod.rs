#![allow(dead_code)] // each test crate uses some of these
//! Helpers shared by the network tests: random rows for `input x[4]`,
//! `target y[3]`, and central differences of the batched mean loss.

use symgrad_core::eval::Tensor;
use symgrad_core::net::{batch, parse_network, Network};
use symgrad_core::workloads::SplitMix64;

/// `m` samples of `x[4]` in [-1, 1) and `y[3]` in [0, 1).
pub fn rows(seed: u64, m: usize) -> Vec<Vec<Tensor>> {
    let mut rng = SplitMix64(seed);
    (0..m)
        .map(|_| {
            let x: Vec<f64> = (0..4).map(|_| rng.uniform(-1.0, 1.0)).collect();
            let y: Vec<f64> = (0..3).map(|_| rng.uniform(0.0, 1.0)).collect();
            vec![Tensor::new([4], x), Tensor::new([3], y)]
        })
        .collect()
}

/// The batched mean loss and gradient over `data`, dropout masks drawn
/// from `seed`.
pub fn evaluate(net: &Network, seed: u64, data: &[Vec<Tensor>]) -> batch::LossAndGradient {
    let mut e = batch::Evaluator::new(net).unwrap();
    e.set_seed(seed);
    e.loss_and_gradient(data).unwrap()
}

/// The batched mean loss at the parameters' initial values with one entry
/// moved, masks drawn from `seed`.
pub fn loss_with(
    src: &str,
    seed: u64,
    param: usize,
    entry: usize,
    delta: f64,
    data: &[Vec<Tensor>],
) -> f64 {
    let mut net = parse_network(src).unwrap();
    let mut values = net.init_params(0);
    values[param].data[entry] += delta;
    net.set_params(values).unwrap();
    evaluate(&net, seed, data).loss
}

/// Checks the batched gradient of `src` over `data` against central
/// differences of its mean loss, at the first, middle and last entry of
/// every parameter, with the dropout masks of `seed` fixed.
#[track_caller]
pub fn check_central_differences(what: &str, src: &str, seed: u64, data: &[Vec<Tensor>]) {
    let h = 1e-5;
    let net = parse_network(src).unwrap_or_else(|e| panic!("{what}: {e:?}"));
    let got = evaluate(&net, seed, data);
    for (p, (name, g)) in got.gradient.iter().enumerate() {
        for entry in [0, g.data.len() / 2, g.data.len() - 1] {
            let up = loss_with(src, seed, p, entry, h, data);
            let down = loss_with(src, seed, p, entry, -h, data);
            let fd = (up - down) / (2.0 * h);
            let err = (fd - g.data[entry]).abs();
            assert!(
                err <= 1e-7 * (1.0 + fd.abs()),
                "{what}: d{name}[{entry}] = {} but central differences give {fd}",
                g.data[entry]
            );
        }
    }
}

/// Checks that `got` equals `want` (loss and every gradient entry) to `rel`
/// relative to each one's scale.
#[track_caller]
pub fn assert_close(
    what: &str,
    got: &batch::LossAndGradient,
    want: &batch::LossAndGradient,
    rel: f64,
) {
    assert_eq!(got.batch, want.batch);
    let tol = rel * (1.0 + want.loss.abs());
    assert!(
        (got.loss - want.loss).abs() <= tol,
        "{what}: loss {} vs {}",
        got.loss,
        want.loss
    );
    for ((name, g), (_, w)) in got.gradient.iter().zip(&want.gradient) {
        assert_eq!(g.shape, w.shape, "{what}: {name}");
        let scale = 1.0 + w.data.iter().map(|v| v.abs()).fold(0.0, f64::max);
        for (k, (a, b)) in g.data.iter().zip(&w.data).enumerate() {
            assert!(
                (a - b).abs() <= rel * scale,
                "{what}: d{name}[{k}] {a} vs {b}"
            );
        }
    }
}

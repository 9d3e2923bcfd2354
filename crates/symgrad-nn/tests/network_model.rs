//! `NetworkModel` through the `Model` trait, against independent
//! computations: the per-sample reference (`PerSample`: one sample's
//! gradient by the tensor interpreter, averaged), central differences of
//! the training-mode loss with the masks fixed, and batch norm's running
//! statistics and inference output written out by hand.
// Index loops keep the tests' formulas as written (a_i θ_i).
#![allow(clippy::needless_range_loop)]

use symgrad_core::eval::Tensor;
use symgrad_core::net::{batch, parse_network};
use symgrad_core::workloads::SplitMix64;
use symgrad_nn::{Model, NetworkModel};

const HIDDEN: &str = "input x[4]\ntarget y[3]\n\
    param W1[5, 4] ~ normal(0, 0.5)\nparam b1[5] = 0.1*cos(i + 1)\n\
    param W2[3, 5] ~ xavier\nparam b2[3] = 0.05*i\n";

/// `m` samples of `x[4]` in [-1, 1) and `y[3]` in [0, 1), stacked (one
/// slice per data tensor) and as rows of tensors for the reference.
fn data(seed: u64, m: usize) -> (Vec<Vec<f64>>, Vec<Vec<Tensor>>) {
    let mut rng = SplitMix64(seed);
    let mut stacked = vec![Vec::new(), Vec::new()];
    let mut rows = Vec::new();
    for _ in 0..m {
        let x: Vec<f64> = (0..4).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let y: Vec<f64> = (0..3).map(|_| rng.uniform(0.0, 1.0)).collect();
        stacked[0].extend_from_slice(&x);
        stacked[1].extend_from_slice(&y);
        rows.push(vec![Tensor::new([4], x), Tensor::new([3], y)]);
    }
    (stacked, rows)
}

fn slices(stacked: &[Vec<f64>]) -> Vec<&[f64]> {
    stacked.iter().map(Vec::as_slice).collect()
}

fn gradient(model: &mut NetworkModel, stacked: &[Vec<f64>]) -> (f64, Vec<Vec<f64>>) {
    let mut grad = vec![Vec::new(); model.param_names().len()];
    let loss = model.loss_and_gradient(&slices(stacked), &mut grad);
    (loss, grad)
}

#[track_caller]
fn close(what: &str, got: f64, want: f64, rel: f64) {
    assert!(
        (got - want).abs() <= rel * (1.0 + want.abs()),
        "{what}: {got} vs {want}"
    );
}

#[test]
fn the_gradient_equals_the_per_sample_reference() {
    let cases = [
        format!("{HIDDEN}a1 = sigmoid(W1 @ x + b1)\na2 = sigmoid(W2 @ a1 + b2)\nloss = sum((a2 - y)^2) / 2"),
        format!("{HIDDEN}a1 = dropout(tanh(W1 @ x + b1), 0.4)\np = softmax(W2 @ a1 + b2)\nloss = cross_entropy(p, y)"),
    ];
    for src in &cases {
        let net = parse_network(src).unwrap();
        let mut reference = batch::PerSample::new(&net).unwrap();
        // Seed 0: the reference starts from the initializers drawn with 0.
        let mut model = NetworkModel::from_source(src, 0).unwrap();
        assert_eq!(model.param_names(), ["W1", "b1", "W2", "b2"]);
        assert_eq!(
            model.param_shapes(),
            [vec![5, 4], vec![5], vec![3, 5], vec![3]]
        );
        assert_eq!(model.data_sizes(), [4, 3]);
        assert_eq!((model.n_inputs(), model.output_size()), (1, 3));
        assert_eq!(model.source(), Some(src.as_str()));
        for (seed, m) in [(3, 1), (4, 7), (5, 32)] {
            let (stacked, rows) = data(seed, m);
            model.set_seed(seed);
            reference.set_seed(seed);
            let (loss, grad) = gradient(&mut model, &stacked);
            let want = reference.loss_and_gradient(&rows).unwrap();
            close(&format!("loss, m = {m}"), loss, want.loss, 1e-12);
            for ((name, w), g) in want.gradient.iter().zip(&grad) {
                assert_eq!(g.len(), w.data.len(), "{name}");
                for (k, (a, b)) in g.iter().zip(&w.data).enumerate() {
                    close(&format!("d{name}[{k}], m = {m}"), *a, *b, 1e-12);
                }
            }
        }
    }
}

#[test]
fn random_initializers_are_drawn_as_net_init_draws_them() {
    let src = format!("{HIDDEN}a2 = W2 @ tanh(W1 @ x + b1) + b2\nloss = mse(a2, y)");
    let net = parse_network(&src).unwrap();
    for seed in [0, 9] {
        let model = NetworkModel::from_source(&src, seed).unwrap();
        let want: Vec<Vec<f64>> = net.init_params(seed).into_iter().map(|t| t.data).collect();
        let got: Vec<Vec<f64>> = model.params().into_iter().map(<[f64]>::to_vec).collect();
        assert_eq!(got, want, "seed {seed}");
    }
}

/// Checks the training-mode gradient against central differences of the
/// training-mode loss, at the first, middle and last entry of every
/// parameter, with the masks of one seed fixed.
#[track_caller]
fn check_central_differences(what: &str, src: &str, stacked: &[Vec<f64>]) {
    let h = 1e-5;
    let mut model = NetworkModel::from_source(src, 1).unwrap();
    model.set_seed(7);
    let (_, grad) = gradient(&mut model, stacked);
    for (p, g) in grad.iter().enumerate() {
        for entry in [0, g.len() / 2, g.len() - 1] {
            let at = |delta: f64| {
                let mut moved = model.clone();
                moved.params_mut()[p][entry] += delta;
                moved.set_seed(7);
                gradient(&mut moved, stacked).0
            };
            let fd = (at(h) - at(-h)) / (2.0 * h);
            assert!(
                (fd - g[entry]).abs() <= 1e-7 * (1.0 + fd.abs()),
                "{what}: gradient {p}[{entry}] = {} but central differences give {fd}",
                g[entry]
            );
        }
    }
}

#[test]
fn the_gradient_with_batchnorm_and_dropout_matches_central_differences() {
    let cases = [
        (
            "batchnorm(a, gamma, beta) of a hidden layer",
            format!(
                "{HIDDEN}param gamma[5] = 1 + 0.1*i\nparam beta[5] = 0.2*sin(i)\n\
                 z1 = W1 @ x + b1\na1 = tanh(batchnorm(z1, gamma, beta))\n\
                 a2 = W2 @ a1 + b2\nloss = mean((a2 - y)^2)"
            ),
        ),
        (
            "batchnorm with a scale and shift, then dropout",
            format!(
                "{HIDDEN}param g[5] = 1\nparam c[5] = 0\n\
                 a1 = dropout(relu(batchnorm(W1 @ x + b1, g, c)), 0.3)\n\
                 p = softmax(batchnorm(W2 @ a1 + b2))\nloss = cross_entropy(p, y)"
            ),
        ),
    ];
    for (what, src) in &cases {
        for m in [2, 9] {
            check_central_differences(what, src, &data(30 + m as u64, m).0);
        }
    }
}

/// A network whose batchnorm normalizes the input itself, so that its
/// batch statistics are those of the data.
const NORMALIZED: &str = "input x[4]\ntarget y[4]\n\
    param gamma[4] = 0.5 + 0.25*i\nparam beta[4] = 0.1*i - 0.2\n\
    h = batchnorm(x, gamma, beta)\nloss = sum((h - y)^2) / 2";

#[test]
fn running_statistics_follow_pytorchs_update_and_drive_inference() {
    let mut model = NetworkModel::from_source(NORMALIZED, 0).unwrap();
    assert_eq!(
        model.state_names(),
        ["batchnorm1.running_mean", "batchnorm1.running_var"]
    );
    assert_eq!(model.state(), [&[0.0; 4][..], &[1.0; 4][..]]);
    let (mut mean, mut var) = ([0.0f64; 4], [1.0f64; 4]);
    for (step, m) in [5usize, 8, 1, 3].into_iter().enumerate() {
        let mut rng = SplitMix64(100 + step as u64);
        let x: Vec<f64> = (0..4 * m).map(|_| rng.uniform(-2.0, 3.0)).collect();
        let y: Vec<f64> = (0..4 * m).map(|_| rng.uniform(0.0, 1.0)).collect();
        let stacked = vec![x.clone(), y];
        gradient(&mut model, &stacked);
        for j in 0..4 {
            let col: Vec<f64> = (0..m).map(|i| x[i * 4 + j]).collect();
            let mu = col.iter().sum::<f64>() / m as f64;
            mean[j] = 0.9 * mean[j] + 0.1 * mu;
            // The unbiased variance; a batch of one leaves it unchanged.
            if m > 1 {
                let s2 = col.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / (m - 1) as f64;
                var[j] = 0.9 * var[j] + 0.1 * s2;
            }
        }
        let state = model.state();
        for j in 0..4 {
            close(
                &format!("step {step}: running mean {j}"),
                state[0][j],
                mean[j],
                1e-14,
            );
            close(
                &format!("step {step}: running var {j}"),
                state[1][j],
                var[j],
                1e-14,
            );
        }
    }
    // Inference: every sample normalized with the running statistics.
    let x = [0.3, -1.0, 2.5, 0.0, 1.0, 1.0, -0.5, 4.0];
    let mut out = Vec::new();
    model.predict(&[&x], &mut out);
    assert_eq!(out.len(), 8);
    for (k, (&got, &xk)) in out.iter().zip(&x).enumerate() {
        let j = k % 4;
        let gamma = 0.5 + 0.25 * j as f64;
        let beta = 0.1 * j as f64 - 0.2;
        let want = gamma * (xk - mean[j]) / (var[j] + 1e-5).sqrt() + beta;
        close(&format!("prediction {k}"), got, want, 1e-13);
    }
    // The inference loss reads the same prediction; it changes nothing.
    let y = [0.0; 8];
    let before: Vec<Vec<f64>> = model.state().into_iter().map(<[f64]>::to_vec).collect();
    let loss = model.loss(&[&x, &y]);
    let want = out.iter().map(|h| h * h / 2.0).sum::<f64>() / 2.0;
    close("inference loss", loss, want, 1e-13);
    let after: Vec<Vec<f64>> = model.state().into_iter().map(<[f64]>::to_vec).collect();
    assert_eq!(after, before);
}

#[test]
fn dropout_is_off_at_inference_and_fresh_in_every_training_call() {
    let body = "a2 = W2 @ a1 + b2\nloss = mse(a2, y)";
    let with = format!("{HIDDEN}a1 = dropout(tanh(W1 @ x + b1), 0.5)\n{body}");
    let without = format!("{HIDDEN}a1 = tanh(W1 @ x + b1)\n{body}");
    let mut with = NetworkModel::from_source(&with, 4).unwrap();
    let mut without = NetworkModel::from_source(&without, 4).unwrap();
    let (stacked, _) = data(12, 6);
    let mut a = Vec::new();
    let mut b = Vec::new();
    with.predict(&[&stacked[0]], &mut a);
    without.predict(&[&stacked[0]], &mut b);
    assert_eq!(a, b, "the prediction is the network without dropout");
    assert_eq!(
        with.loss(&slices(&stacked)),
        without.loss(&slices(&stacked))
    );
    // Training draws masks: different from the full network, and from one
    // call to the next; the same again after reseeding.
    with.set_seed(2);
    let first = gradient(&mut with, &stacked).0;
    let second = gradient(&mut with, &stacked).0;
    assert_ne!(first, without.loss(&slices(&stacked)));
    assert_ne!(first, second);
    with.set_seed(2);
    assert_eq!(gradient(&mut with, &stacked).0, first);
}

#[test]
fn batch_sizes_can_change_and_bad_files_are_errors() {
    let src = format!("{HIDDEN}a2 = W2 @ tanh(W1 @ x + b1) + b2\nloss = mse(a2, y)");
    let mut model = NetworkModel::from_source(&src, 3).unwrap();
    let net = parse_network(&src).unwrap();
    let reference = batch::PerSample::new(&net).unwrap();
    let mut fresh = NetworkModel::from_source(&src, 0).unwrap();
    // Growing, shrinking and growing again reuse the buffers correctly.
    for m in [32, 5, 32, 1, 40] {
        let (stacked, rows) = data(m as u64, m);
        let (loss, _) = gradient(&mut fresh, &stacked);
        close(
            &format!("m = {m}"),
            loss,
            reference.loss_and_gradient(&rows).unwrap().loss,
            1e-12,
        );
    }
    let (stacked, _) = data(1, 4);
    let mut out = vec![1.0; 3];
    model.predict(&[&stacked[0][..0]], &mut out);
    assert!(out.is_empty(), "an empty batch predicts nothing");
    assert!(model.loss(&[&stacked[0][..0], &stacked[1][..0]]).is_nan());
    let e = NetworkModel::from_source("input x[2]\nloss = sum(W @ x)", 0).unwrap_err();
    assert!(e.message().contains("unknown"), "{}", e.message());
    let e = NetworkModel::from_source("param w = 1\nloss = w^2", 0).unwrap_err();
    assert!(
        e.message().contains("needs an input or a target"),
        "{}",
        e.message()
    );
}

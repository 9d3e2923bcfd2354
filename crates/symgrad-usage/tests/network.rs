//! `network!` as a user crate writes it: W3 and W3b compiled at build time,
//! checked against the interpreter (which itself matches NumPy, see
//! `symgrad-core/tests/networks.rs`), in f64 and f32; random initializers
//! against `symgrad net init`'s draws; and the prediction.

// `θ` alone is a "mixed script confusable" to rustc; here it is meant.
#![allow(mixed_script_confusables)]
// Generated items must not warn in a crate that denies warnings and
// undocumented public items (`W3f32` below is `pub`).
#![deny(warnings, missing_docs)]

use symgrad::eval::Tensor;
use symgrad::net::{batch, parse_network};

symgrad::network!(W3, "../../tests/data/networks/w3.sg");
symgrad::network!(W3b, "../../tests/data/networks/w3b.sg");
symgrad::network!(pub W3f32, "../../tests/data/networks/w3.sg", f32);
symgrad::network!(Shorthand, "tests/nets/shorthand.sg");

fn dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/networks")
}

/// The interpreter's loss and gradients, and the stacked data (inputs then
/// targets, one row-major slice each).
fn reference(sg: &str, csv: &str) -> (batch::LossAndGradient, Vec<Vec<f64>>) {
    let net = parse_network(&std::fs::read_to_string(dir().join(sg)).unwrap()).unwrap();
    let data = batch::read_csv(&net, &std::fs::read_to_string(dir().join(csv)).unwrap()).unwrap();
    let mut stacked = vec![Vec::new(); data.rows[0].len()];
    for row in &data.rows {
        for (s, t) in stacked.iter_mut().zip(row) {
            s.extend_from_slice(&t.data);
        }
    }
    let r = batch::Evaluator::new(&net)
        .unwrap()
        .loss_and_gradient(&data.rows)
        .unwrap();
    (r, stacked)
}

fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}");
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * scale, "{what}[{k}]: {g} vs {w}");
    }
}

#[test]
fn w3_compiled_equals_the_interpreter() {
    let (want, data) = reference("w3.sg", "w3_data.csv");
    let mut net = W3::init(0);
    let loss = net.loss(&data[0], &data[1]);
    let (loss2, g) = net.loss_and_gradient(&data[0], &data[1]);
    assert!((loss - want.loss).abs() <= 1e-14 * want.loss);
    assert!((loss2 - want.loss).abs() <= 1e-14 * want.loss);
    let got = [&g.W1[..], &g.b1[..], &g.W2[..], &g.b2[..]];
    for ((name, w), g) in want.gradient.iter().zip(got) {
        assert_close(name, g, &w.data, 1e-12);
    }
    assert_eq!(W3Params::NAMES, ["W1", "b1", "W2", "b2"]);
    assert_eq!(W3Params::SHAPES[0], [30, 784]);
    // The prediction: sigmoid outputs, 10 per sample.
    let a2 = net.forward(&data[0]).to_vec();
    assert_eq!(a2.len(), 10 * 10);
    assert!(a2.iter().all(|&p| p > 0.0 && p < 1.0));
    // Another batch size reuses the same code: the first 3 samples.
    let (l3, _) = net.loss_and_gradient(&data[0][..3 * 784], &data[1][..3 * 10]);
    let rows: Vec<f64> = (0..3)
        .map(|k| {
            net.loss(
                &data[0][k * 784..(k + 1) * 784],
                &data[1][k * 10..(k + 1) * 10],
            )
        })
        .collect();
    assert!((l3 - rows.iter().sum::<f64>() / 3.0).abs() < 1e-14);
}

#[test]
fn w3b_compiled_equals_the_interpreter() {
    let (want, data) = reference("w3b.sg", "w3b_data.csv");
    let mut net = W3b::init(0);
    let (loss, g) = net.loss_and_gradient(&data[0], &data[1]);
    assert!((loss - want.loss).abs() <= 1e-14 * want.loss);
    for ((name, w), g) in want
        .gradient
        .iter()
        .zip([&g.W1[..], &g.b1[..], &g.W2[..], &g.b2[..]])
    {
        assert_close(name, g, &w.data, 1e-12);
    }
    // softmax outputs sum to 1 per sample.
    let p = net.forward(&data[0]).to_vec();
    for row in p.chunks(10) {
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-14);
    }
}

#[test]
fn w3_in_f32_is_close_to_f64() {
    let (want, data) = reference("w3.sg", "w3_data.csv");
    let x: Vec<f32> = data[0].iter().map(|&v| v as f32).collect();
    let y: Vec<f32> = data[1].iter().map(|&v| v as f32).collect();
    let mut net = W3f32::init(0);
    let (loss, g) = net.loss_and_gradient(&x, &y);
    assert!((f64::from(loss) - want.loss).abs() <= 1e-5 * want.loss);
    for ((name, w), g) in want
        .gradient
        .iter()
        .zip([&g.W1[..], &g.b1[..], &g.W2[..], &g.b2[..]])
    {
        let g: Vec<f64> = g.iter().map(|&v| f64::from(v)).collect();
        assert_close(name, &g, &w.data, 1e-4);
    }
}

#[test]
fn random_initializers_match_net_init() {
    let src = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/nets/shorthand.sg"),
    )
    .unwrap();
    let net = parse_network(&src).unwrap();
    for seed in [0, 7] {
        let compiled = Shorthand::init(seed);
        let drawn = net.init_params(seed);
        let got = [
            &compiled.params.W1,
            &compiled.params.b1,
            &compiled.params.W2,
            &compiled.params.b2,
        ];
        for (g, d) in got.into_iter().zip(&drawn) {
            assert_eq!(g, &d.data);
        }
    }
    assert_ne!(Shorthand::init(0).params.W1, Shorthand::init(1).params.W1);
}

/// A network of `tests/nets` over `input x[4]`, `target y[3]`, and `m`
/// random rows (one-hot targets) from `seed`.
fn small_net(file: &str, seed: u64, m: usize) -> (symgrad::net::Network, Vec<Vec<Tensor>>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/nets")
        .join(file);
    let net = parse_network(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut rng = symgrad::workloads::SplitMix64(seed);
    let rows = (0..m)
        .map(|k| {
            let x: Vec<f64> = (0..4).map(|_| rng.uniform(-1.0, 1.0)).collect();
            let mut y = vec![0.0; 3];
            y[k % 3] = 1.0;
            vec![Tensor::new([4], x), Tensor::new([3], y)]
        })
        .collect();
    (net, rows)
}

symgrad::network!(BatchNorm, "tests/nets/batchnorm.sg");

#[test]
fn batchnorm_compiled_equals_the_interpreter() {
    let (net, rows) = small_net("batchnorm.sg", 5, 6);
    let want = batch::Evaluator::new(&net)
        .unwrap()
        .loss_and_gradient(&rows)
        .unwrap();
    let x: Vec<f64> = rows.iter().flat_map(|r| r[0].data.clone()).collect();
    let y: Vec<f64> = rows.iter().flat_map(|r| r[1].data.clone()).collect();
    let mut compiled = BatchNorm::init(0);
    let (loss, g) = compiled.loss_and_gradient(&x, &y);
    assert!((loss - want.loss).abs() <= 1e-14 * want.loss);
    for ((name, w), g) in
        want.gradient
            .iter()
            .zip([&g.W1[..], &g.scale[..], &g.shift[..], &g.W2[..]])
    {
        assert_close(name, g, &w.data, 1e-12);
    }
}

symgrad::network!(Dropout, "tests/nets/dropout.sg");

#[test]
fn dropout_compiled_draws_the_interpreters_masks() {
    let (net, rows) = small_net("dropout.sg", 11, 5);
    let x: Vec<f64> = rows.iter().flat_map(|r| r[0].data.clone()).collect();
    let y: Vec<f64> = rows.iter().flat_map(|r| r[1].data.clone()).collect();
    let mut compiled = Dropout::init(0);
    for seed in [3, 4] {
        let mut interpreter = batch::Evaluator::new(&net).unwrap();
        interpreter.set_seed(seed);
        let want = interpreter.loss_and_gradient(&rows).unwrap();
        // Seed 3 by setting it, seed 4 as the next call's.
        if seed == 3 {
            compiled.set_dropout_seed(3);
        }
        let (loss, g) = compiled.loss_and_gradient(&x, &y);
        assert!((loss - want.loss).abs() <= 1e-14 * want.loss, "seed {seed}");
        for ((name, w), g) in want.gradient.iter().zip([&g.W1[..], &g.b1[..], &g.W2[..]]) {
            assert_close(name, g, &w.data, 1e-12);
        }
    }
    // Prediction is inference mode: dropout off, the network without it,
    // computed by hand.
    let p = compiled.forward(&x).to_vec();
    let w = &compiled.params;
    let mut expected = Vec::new();
    for sample in x.chunks(4) {
        let a1: Vec<f64> = (0..6)
            .map(|i| ((0..4).map(|j| w.W1[i * 4 + j] * sample[j]).sum::<f64>() + w.b1[i]).tanh())
            .collect();
        let z2: Vec<f64> = (0..3)
            .map(|i| (0..6).map(|j| w.W2[i * 6 + j] * a1[j]).sum::<f64>())
            .collect();
        let total: f64 = z2.iter().map(|z| z.exp()).sum();
        expected.extend(z2.iter().map(|z| z.exp() / total));
    }
    assert_close("prediction", &p, &expected, 1e-14);
}

symgrad::network!(OddNames, "tests/nets/odd_names.sg");

#[test]
fn keywords_and_unicode_names_become_fields() {
    let mut net = OddNames::init(0);
    let (x, y) = ([1.0, 2.0, 3.0], [0.5, -1.0]);
    let (loss, g) = net.loss_and_gradient(&x, &y);
    // z = θ x + fn with θ = 0.1 (i + j): z = (0.8 + 0.5, 1.4 + 0.5).
    let r = [0.8 + 0.5 - 0.5, 1.4 + 0.5 + 1.0];
    assert!((loss - (r[0] * r[0] + r[1] * r[1]) / 2.0).abs() < 1e-14);
    assert_close("fn", &g.r#fn, &r, 1e-14);
    assert_eq!(g.θ.len(), 6);
    assert!((g.θ[5] - r[1] * 3.0).abs() < 1e-14);
    assert_eq!(OddNamesParams::NAMES, ["θ", "fn"]);
}

//! Inference mode and the batch statistics of training mode, at the level
//! of plans (`batch::plan_in`): the inputs each plan takes, dropout off,
//! batchnorm on running statistics given as inputs, the batch mean and
//! biased variance the gradient plan outputs, each against a hand
//! computation; and `batchnorm(a, gamma, beta)`'s errors.

use symgrad_core::error::ErrorKind;
use symgrad_core::net::batch::{plan_in, plan_inputs, Mode, Outputs, PlanInput};
use symgrad_core::net::parse_network;
use symgrad_core::plan::Runner;
use symgrad_core::workloads::SplitMix64;

/// A hidden layer with batchnorm (learned scale and shift) and dropout.
const NET: &str = "input x[3]\ntarget y[2]\n\
    param W[4, 3] = 0.3*sin(i*3 + j + 1)\nparam g[4] = 1 + 0.2*i\nparam c[4] = 0.1*i\n\
    param V[2, 4] = 0.5*cos(i*4 + j)\n\
    z = W @ x\nh = dropout(tanh(batchnorm(z, g, c)), 0.5)\n\
    a = V @ h\nloss = sum((a - y)^2) / 2";

fn params() -> [Vec<f64>; 4] {
    let w = (0..12).map(|k| 0.3 * ((k / 3 * 3 + k % 3 + 1) as f64).sin());
    let g = (0..4).map(|i| 1.0 + 0.2 * i as f64);
    let c = (0..4).map(|i| 0.1 * i as f64);
    let v = (0..8).map(|k| 0.5 * ((k / 4 * 4 + k % 4) as f64).cos());
    [w.collect(), g.collect(), c.collect(), v.collect()]
}

fn matvec(m: &[f64], v: &[f64]) -> Vec<f64> {
    m.chunks(v.len())
        .map(|row| row.iter().zip(v).map(|(a, b)| a * b).sum())
        .collect()
}

#[test]
fn every_plan_takes_the_inputs_plan_inputs_lists() {
    let net = parse_network(NET).unwrap();
    use PlanInput::*;
    let cases = [
        (Outputs::Prediction, Mode::Training, vec![Input(0), Mask(0)]),
        (
            Outputs::Loss,
            Mode::Training,
            vec![Input(0), Target(0), Mask(0)],
        ),
        (Outputs::Prediction, Mode::Inference, vec![Input(0)]),
        (Outputs::Loss, Mode::Inference, vec![Input(0), Target(0)]),
    ];
    for (outputs, mode, data) in cases {
        let mut want = data;
        want.extend([Param(0), Param(1), Param(2), Param(3)]);
        if mode == Mode::Inference {
            want.extend([RunningMean(0), RunningVar(0)]);
        }
        want.push(Weight);
        assert_eq!(
            plan_inputs(&net, outputs, mode),
            want,
            "{outputs:?} {mode:?}"
        );
        let plan = plan_in(&net, outputs, mode).unwrap();
        assert_eq!(plan.inputs.len(), want.len(), "{outputs:?} {mode:?}");
    }
    // The gradient plan's outputs: loss, 4 gradients, the batch mean and
    // variance in training mode only.
    let train = plan_in(&net, Outputs::LossAndGradient, Mode::Training).unwrap();
    assert_eq!(train.outputs.len(), 1 + 4 + 2);
    let infer = plan_in(&net, Outputs::LossAndGradient, Mode::Inference).unwrap();
    assert_eq!(infer.outputs.len(), 1 + 4);
}

#[test]
fn inference_turns_dropout_off_and_normalizes_with_the_running_statistics() {
    let net = parse_network(NET).unwrap();
    let mut runner = Runner::new(
        plan_in(&net, Outputs::Prediction, Mode::Inference).unwrap(),
        2,
    );
    let [w, g, c, v] = params();
    let x = [0.5, -1.0, 2.0, 1.5, 0.25, -0.75];
    let mean = [0.1, -0.2, 0.3, 0.0];
    let var = [0.5, 2.0, 1.0, 0.04];
    let weight = [0.5];
    let out = runner
        .run(&[&x, &w, &g, &c, &v, &mean, &var, &weight])
        .unwrap()[0]
        .to_vec();
    let mut want = Vec::new();
    for sample in x.chunks(3) {
        let z = matvec(&w, sample);
        let h: Vec<f64> = (0..4)
            .map(|i| (g[i] * (z[i] - mean[i]) / (var[i] + 1e-5).sqrt() + c[i]).tanh())
            .collect();
        want.extend(matvec(&v, &h));
    }
    assert_eq!(out.len(), want.len());
    for (k, (a, b)) in out.iter().zip(&want).enumerate() {
        assert!((a - b).abs() < 1e-14, "prediction[{k}]: {a} vs {b}");
    }
}

#[test]
fn the_training_gradient_plan_outputs_the_batch_mean_and_biased_variance() {
    let net = parse_network(NET).unwrap();
    let m = 5;
    let plan = plan_in(&net, Outputs::LossAndGradient, Mode::Training).unwrap();
    let mut runner = Runner::new(plan, m);
    let [w, g, c, v] = params();
    let mut rng = SplitMix64(3);
    let x: Vec<f64> = (0..3 * m).map(|_| rng.uniform(-1.0, 1.0)).collect();
    let y: Vec<f64> = (0..2 * m).map(|_| rng.uniform(0.0, 1.0)).collect();
    let mask: Vec<f64> = (0..4 * m).map(|k| (k % 3 != 0) as u8 as f64).collect();
    let weight = [1.0 / m as f64];
    let out = runner
        .run(&[&x, &y, &mask, &w, &g, &c, &v, &weight])
        .unwrap();
    let z: Vec<Vec<f64>> = x.chunks(3).map(|s| matvec(&w, s)).collect();
    for i in 0..4 {
        let mean = z.iter().map(|z| z[i]).sum::<f64>() / m as f64;
        let var = z.iter().map(|z| (z[i] - mean).powi(2)).sum::<f64>() / m as f64;
        assert!((out[5][i] - mean).abs() < 1e-15, "mean {i}");
        assert!((out[6][i] - var).abs() < 1e-15, "variance {i}");
    }
}

#[test]
fn dropout_and_batchnorm_of_a_scalar_and_unused_calls_lower_in_both_modes() {
    // A per-sample scalar normalized, a batchnorm nothing uses, and p = 0.
    let src = "input x[3]\ntarget y\nparam w[3] = 0.1*i + 0.2\n\
               s = batchnorm(w @ x)\nunused = batchnorm(x)\n\
               loss = (dropout(s, 0) - y)^2";
    let net = parse_network(src).unwrap();
    for mode in [Mode::Training, Mode::Inference] {
        for outputs in [Outputs::Prediction, Outputs::Loss, Outputs::LossAndGradient] {
            let plan = plan_in(&net, outputs, mode);
            assert!(plan.is_ok(), "{outputs:?} {mode:?}: {:?}", plan.err());
        }
    }
    let train = plan_in(&net, Outputs::LossAndGradient, Mode::Training).unwrap();
    // loss, dw, then two statistics for each of the two calls.
    assert_eq!(train.outputs.len(), 1 + 1 + 4);
}

#[test]
fn batchnorm_with_scale_and_shift_checks_its_arguments() {
    let head = "input x[3]\nparam g[3] = 1\nparam b[3] = 0\nparam h[2] = 1\n";
    for (body, kind, at, says) in [
        (
            "loss = sum(batchnorm(x, h, b))",
            ErrorKind::Shape,
            "batchnorm(x, h, b)",
            "gamma 'h' has shape [2], but a feature vector of a is [3]",
        ),
        (
            "loss = sum(batchnorm(x, g, h))",
            ErrorKind::Shape,
            "batchnorm(x, g, h)",
            "beta 'h' has shape [2]",
        ),
        (
            "loss = sum(batchnorm(x, 2 * g, b))",
            ErrorKind::InvalidValue,
            "2 * g",
            "gamma must be a declared param",
        ),
        (
            "loss = sum(batchnorm(x, g, x))",
            ErrorKind::InvalidValue,
            "x",
            "beta must be a declared param",
        ),
        (
            "loss = sum(batchnorm(x, g))",
            ErrorKind::Syntax,
            "batchnorm(x, g)",
            "batchnorm takes 1 argument, batchnorm(a), or 3",
        ),
    ] {
        let src = format!("{head}{body}");
        let e = match parse_network(&src) {
            Err(e) => e,
            Ok(_) => panic!("{body} was accepted"),
        };
        assert_eq!(e.kind(), kind, "{body}: {}", e.message());
        let span = e.span().unwrap();
        assert_eq!(&src[span.start..span.end], at, "{body}");
        assert!(e.message().contains(says), "{body}: {}", e.message());
    }
    let net = parse_network(&format!("{head}loss = sum(batchnorm(x, g, b))")).unwrap();
    assert_eq!(net.batchnorms.len(), 1);
    assert_eq!(net.batchnorms[0].name, "batchnorm1");
    assert!(net.batchnorms[0].affine.is_some());
}

//! `dropout(a, p)` and `batchnorm(a)` in network files.
//!
//! Dropout: with p = 0 the network is the one without dropout; with p > 0
//! the batched evaluator equals the per-sample reference drawing the same
//! masks (same seed), its gradient equals central differences with the masks
//! fixed, and the fraction of dropped entries is near p.
//!
//! Batchnorm: the batched loss and gradient equal a hand computation on
//! three samples (forward formulas and the textbook backward pass through
//! the batch statistics, written out here with loops), the normalized
//! outputs have mean 0 and variance 1 over the batch, and the gradient of
//! larger networks equals central differences of the batched mean loss.

mod common;

use common::{assert_close, check_central_differences, evaluate, rows};
use symgrad_core::error::ErrorKind;
use symgrad_core::eval::Tensor;
use symgrad_core::net::{batch, dropout, parse_network, Role};
use symgrad_core::plan::Runner;

const HIDDEN: &str = "input x[4]\ntarget y[3]\n\
    param W1[5, 4] = 0.4*sin(i*4 + j + 1)\nparam b1[5] = 0.1*cos(i + 1)\n\
    param W2[3, 5] = 0.3*cos(i*5 + j)\nparam b2[3] = 0.05*i\n";

// ---------------------------------------------------------------- dropout

#[test]
fn dropout_with_p_zero_is_the_network_without_it() {
    let with = format!(
        "{HIDDEN}a1 = dropout(tanh(W1 @ x + b1), 0)\na2 = W2 @ a1 + b2\nloss = mean((a2 - y)^2)"
    );
    let without =
        format!("{HIDDEN}a1 = tanh(W1 @ x + b1)\na2 = W2 @ a1 + b2\nloss = mean((a2 - y)^2)");
    let (with, without) = (
        parse_network(&with).unwrap(),
        parse_network(&without).unwrap(),
    );
    assert_eq!(with.with_role(Role::Mask).count(), 1);
    let data = rows(5, 6);
    for seed in [0, 7] {
        let got = evaluate(&with, seed, &data);
        let want = evaluate(&without, seed, &data);
        assert_close("p = 0", &got, &want, 1e-15);
    }
    let shape = symgrad_core::graph::Shape::new(vec![50]);
    assert!(dropout::mask(3, "dropout1", 2, &shape, 0.0)
        .data
        .iter()
        .all(|&v| v == 1.0));
}

const DROPPED: &str = "a1 = dropout(tanh(W1 @ x + b1), 0.4)\n\
    a2 = W2 @ a1 + b2\ns = dropout(sum(a2), 0.25)\n\
    loss = mean((a2 - y)^2) + 0.1*s^2";

#[test]
fn batched_dropout_equals_per_sample_with_the_same_seed() {
    let net = parse_network(&format!("{HIDDEN}{DROPPED}")).unwrap();
    let names: Vec<_> = net.with_role(Role::Mask).map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["dropout1", "dropout2"]);
    let mut batched = batch::Evaluator::new(&net).unwrap();
    let mut reference = batch::PerSample::new(&net).unwrap();
    let mut losses = Vec::new();
    for seed in [3, 11] {
        batched.set_seed(seed);
        reference.set_seed(seed);
        for m in [1, 3, 7] {
            let data = rows(seed + m as u64, m);
            let got = batched.loss_and_gradient(&data).unwrap();
            let want = reference.loss_and_gradient(&data).unwrap();
            assert_close(&format!("seed {seed}, m = {m}"), &got, &want, 1e-12);
            if m == 7 {
                losses.push(got.loss);
            }
        }
    }
    // The masks matter: another seed, another loss on the same rows.
    let data = rows(10, 7);
    assert_ne!(
        evaluate(&net, 3, &data).loss,
        evaluate(&net, 11, &data).loss
    );
    assert_eq!(evaluate(&net, 3, &data).loss, evaluate(&net, 3, &data).loss);
}

#[test]
fn dropout_gradient_matches_central_differences_with_the_masks_fixed() {
    let src = format!("{HIDDEN}{DROPPED}");
    check_central_differences("dropout", &src, 42, &rows(9, 5));
}

#[test]
fn the_fraction_of_dropped_entries_is_near_p() {
    let n = 5000;
    let m = 4;
    for p in [0.1, 0.3, 0.75] {
        let net = parse_network(&format!(
            "input x[{n}]\nparam c = 1\nloss = sum(dropout(x * c, {p}))"
        ))
        .unwrap();
        let data: Vec<Vec<Tensor>> = (0..m)
            .map(|_| vec![Tensor::new([n], vec![1.0; n])])
            .collect();
        let out = evaluate(&net, 1, &data);
        // Each kept entry contributes 1/(1 - p).
        let kept = out.loss * (1.0 - p) / n as f64;
        let dropped = 1.0 - kept;
        // 20000 draws: the standard deviation of the fraction is below 0.0035.
        assert!((dropped - p).abs() < 0.015, "p = {p}: {dropped} dropped");
        // Linear in c: the gradient is the loss.
        assert!((out.gradient[0].1.item() - out.loss).abs() <= 1e-9 * out.loss);
    }
    // Fresh per sample and per seed, fixed for (seed, sample, mask).
    let shape = symgrad_core::graph::Shape::new(vec![200]);
    let a = dropout::mask(1, "dropout1", 0, &shape, 0.5);
    assert_ne!(a, dropout::mask(1, "dropout1", 1, &shape, 0.5));
    assert_ne!(a, dropout::mask(2, "dropout1", 0, &shape, 0.5));
    assert_ne!(a, dropout::mask(1, "dropout2", 0, &shape, 0.5));
    assert_eq!(a, dropout::mask(1, "dropout1", 0, &shape, 0.5));
}

#[test]
fn dropout_needs_a_constant_probability_below_one() {
    for (body, bad) in [
        ("loss = sum(dropout(x, 1))", "1"),
        ("loss = sum(dropout(x, -0.1))", "-0.1"),
        ("loss = sum(dropout(x, sum(x)))", "sum(x)"),
    ] {
        let src = format!("input x[3]\n{body}\n");
        let e = match parse_network(&src) {
            Err(e) => e,
            Ok(_) => panic!("{body} was accepted"),
        };
        assert_eq!(e.kind(), ErrorKind::InvalidValue, "{body}");
        let span = e.span().unwrap();
        assert_eq!(&src[span.start..span.end], bad, "{body}: {}", e.message());
    }
    // A constant formula is fine; the generated name skips one the file defines.
    let net =
        parse_network("input x[3]\ndropout1 = 2 * x\nloss = sum(dropout(dropout1, 1/4))").unwrap();
    let masks: Vec<_> = net.with_role(Role::Mask).collect();
    assert_eq!(masks.len(), 1);
    assert_eq!(masks[0].name, "dropout2");
    assert_eq!(masks[0].dropout, Some(0.25));
}

#[test]
fn masks_and_a_target_declared_first_keep_the_data_order() {
    // Targets before inputs in the file: the plan still takes inputs, then
    // targets, then masks, as the evaluators pass them.
    let src = "target y[3]\ninput x[4]\nparam W[3, 4] = 0.2*sin(i + j)\n\
               loss = sum((dropout(W @ x, 0.5) - y)^2)";
    let net = parse_network(src).unwrap();
    let plan = batch::plan(&net, batch::Outputs::Loss).unwrap();
    assert_eq!(plan.inputs.len(), 5); // x, y, dropout1, W, 1/m
    let mut reference = batch::PerSample::new(&net).unwrap();
    reference.set_seed(4);
    let data = rows(6, 5);
    assert_close(
        "order",
        &evaluate(&net, 4, &data),
        &reference.loss_and_gradient(&data).unwrap(),
        1e-12,
    );
}

// -------------------------------------------------------------- batchnorm

/// Three samples of two features.
const XS: [[f64; 2]; 3] = [[0.5, -1.0], [1.5, 0.25], [-0.75, 2.0]];
const YS: [[f64; 2]; 3] = [[0.1, 0.9], [0.4, -0.3], [-0.2, 0.6]];

fn tiny_rows() -> Vec<Vec<Tensor>> {
    XS.iter()
        .zip(&YS)
        .map(|(x, y)| vec![Tensor::new([2], x.to_vec()), Tensor::new([2], y.to_vec())])
        .collect()
}

const TINY: &str = "input x[2]\ntarget y[2]\n\
    param s[2] = 1 + i\nparam g[2] = 0.5 + i\nparam b[2] = 0.1*i - 0.2\n\
    n = batchnorm(s * x)\nh = g * n + b\nloss = sum((h - y)^2) / 2";

#[test]
fn batchnorm_matches_a_hand_computation_on_three_samples() {
    let net = parse_network(TINY).unwrap();
    let got = evaluate(&net, 0, &tiny_rows());
    let (s, g, b) = ([1.0, 2.0], [0.5, 1.5], [-0.2, -0.1]);
    let m = 3.0;
    let eps = 1e-5;
    let mut loss = 0.0;
    let (mut ds, mut dg, mut db) = ([0.0; 2], [0.0; 2], [0.0; 2]);
    for j in 0..2 {
        let u: Vec<f64> = XS.iter().map(|x| s[j] * x[j]).collect();
        let mu = u.iter().sum::<f64>() / m;
        let var = u.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>() / m;
        let sigma = (var + eps).sqrt();
        let n: Vec<f64> = u.iter().map(|v| (v - mu) / sigma).collect();
        // The per-feature mean of the normalized values is 0, the variance
        // var / (var + eps).
        let r: Vec<f64> = (0..3).map(|i| g[j] * n[i] + b[j] - YS[i][j]).collect();
        loss += r.iter().map(|v| v * v / 2.0).sum::<f64>() / m;
        db[j] = r.iter().sum::<f64>() / m;
        dg[j] = (0..3).map(|i| r[i] * n[i]).sum::<f64>() / m;
        // Backward through the batch statistics: with dn = ∂C/∂n,
        // ∂C/∂u_i = (dn_i - mean(dn) - n_i mean(dn ⊙ n)) / σ.
        let dn: Vec<f64> = r.iter().map(|v| v * g[j] / m).collect();
        let mean_dn = dn.iter().sum::<f64>() / m;
        let mean_dn_n = (0..3).map(|i| dn[i] * n[i]).sum::<f64>() / m;
        ds[j] = (0..3)
            .map(|i| (dn[i] - mean_dn - n[i] * mean_dn_n) / sigma * XS[i][j])
            .sum::<f64>();
    }
    assert!(
        (got.loss - loss).abs() <= 1e-13,
        "loss {} vs {loss}",
        got.loss
    );
    for ((name, t), want) in got.gradient.iter().zip([ds, dg, db]) {
        assert_eq!(t.data.len(), 2, "{name}");
        for (k, (a, b)) in t.data.iter().zip(want).enumerate() {
            assert!((a - b).abs() <= 1e-12, "d{name}[{k}] {a} vs {b}");
        }
    }
    // Normalization makes the loss (almost) invariant to the scale s: only
    // ε keeps ∂C/∂s from 0. Without the batch statistics' own derivatives
    // it would be of the size of ∂C/∂g.
    assert!(ds.iter().all(|d| d.abs() < 1e-4), "{ds:?}");
    assert!(dg.iter().any(|d| d.abs() > 1e-2), "{dg:?}");
}

#[test]
fn normalized_outputs_have_mean_zero_and_variance_one_over_the_batch() {
    // The prediction of this network is `n`, the normalized layer.
    let src = "input x[2]\ntarget y[2]\nparam s[2] = 1 + i\n\
               n = batchnorm(s * x)\nloss = sum(n * y)";
    let net = parse_network(src).unwrap();
    let plan = batch::plan(&net, batch::Outputs::Prediction).unwrap();
    let mut runner = Runner::new(plan, 3);
    let x: Vec<f64> = XS.iter().flatten().copied().collect();
    let weight = [1.0 / 3.0];
    // A prediction reads no target: x, s, 1/m.
    let out = runner.run(&[&x, &[1.0, 2.0], &weight]).unwrap();
    let n = out[0];
    assert_eq!(n.len(), 6);
    for j in 0..2 {
        let col: Vec<f64> = (0..3).map(|i| n[i * 2 + j]).collect();
        let mean = col.iter().sum::<f64>() / 3.0;
        let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 3.0;
        assert!(mean.abs() < 1e-15, "feature {j}: mean {mean}");
        // Below 1 by the relative size of ε.
        assert!(
            (var - 1.0).abs() < 1e-4 && var < 1.0,
            "feature {j}: variance {var}"
        );
    }
}

#[test]
fn batchnorm_gradient_matches_central_differences() {
    let cases = [
        (
            "batchnorm of a hidden layer with a learned scale and shift",
            format!(
                "{HIDDEN}param g[5] = 1 + 0.1*i\nparam c[5] = 0.2*sin(i)\n\
                 z1 = W1 @ x + b1\na1 = tanh(g * batchnorm(z1) + c)\n\
                 a2 = W2 @ a1 + b2\nloss = mean((a2 - y)^2)"
            ),
        ),
        (
            "batchnorm of a per-sample scalar and of the output layer",
            format!(
                "{HIDDEN}s = sum(W1 @ x)\nt = batchnorm(s)\n\
                 p = softmax(batchnorm(W2 @ tanh(W1 @ x + b1) + b2))\n\
                 loss = cross_entropy(p, y) + t^3 / 10"
            ),
        ),
        (
            "batchnorm and dropout together",
            format!(
                "{HIDDEN}a1 = dropout(relu(batchnorm(W1 @ x) + b1), 0.3)\n\
                 a2 = sigmoid(W2 @ a1 + b2)\nloss = sum((a2 - y)^2) / 2"
            ),
        ),
    ];
    for (what, src) in &cases {
        for m in [2, 6] {
            check_central_differences(what, src, 8, &rows(20 + m as u64, m));
        }
    }
}

#[test]
fn the_per_sample_reference_refuses_batchnorm() {
    let net = parse_network(TINY).unwrap();
    let e = match batch::PerSample::new(&net) {
        Err(e) => e,
        Ok(_) => panic!("batchnorm was evaluated per sample"),
    };
    assert_eq!(e.kind(), ErrorKind::Shape);
    let span = e.span().unwrap();
    assert_eq!(&TINY[span.start..span.end], "batchnorm(s * x)");
    assert!(e.message().contains("batch"), "{}", e.message());
    // Wrong arity is a spanned syntax error.
    let e = parse_network("input x[2]\nloss = sum(batchnorm(x, 1))")
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::Syntax);
}

// ------------------------------------------------ the other evaluators

#[test]
fn path_enumeration_draws_the_same_masks_and_refuses_batchnorm() {
    use symgrad_core::graph::scalarize::DEFAULT_MAX_SCALARS;
    use symgrad_core::net::paths::PathEvaluator;
    let src = "input x[4]\ntarget y[3]\nparam W[3, 4] = 0.3*sin(i*4 + j + 1)\n\
               param b[3] = 0.1*cos(i)\na = dropout(sigmoid(W @ x + b), 0.5)\n\
               loss = sum((a - y)^2) / 2";
    let net = parse_network(src).unwrap();
    let mut by_paths = PathEvaluator::new(&net, DEFAULT_MAX_SCALARS, 1 << 20).unwrap();
    let data = rows(31, 4);
    for seed in [2, 9] {
        by_paths.set_seed(seed);
        let got = by_paths.loss_and_gradient(&data).unwrap();
        assert_close(
            &format!("paths, seed {seed}"),
            &got,
            &evaluate(&net, seed, &data),
            1e-12,
        );
    }
    let e = PathEvaluator::new(&parse_network(TINY).unwrap(), DEFAULT_MAX_SCALARS, 1 << 20)
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::Shape);
    let span = e.span().unwrap();
    assert_eq!(&TINY[span.start..span.end], "batchnorm(s * x)");
}

#[test]
fn network_code_generation_takes_dropout_and_batchnorm() {
    use symgrad_core::emit::network::network;
    use symgrad_core::emit::rust::Float;
    let name = proc_macro2::Ident::new("Net", proc_macro2::Span::call_site());
    let vis = proc_macro2::TokenStream::new();
    let src = format!("{HIDDEN}{DROPPED}");
    let code = network(&name, &vis, &parse_network(&src).unwrap(), &src, Float::F64)
        .unwrap()
        .to_string();
    assert!(code.contains("dropout_mask"), "the masks are drawn");
    assert!(network(&name, &vis, &parse_network(TINY).unwrap(), TINY, Float::F64).is_ok());
}

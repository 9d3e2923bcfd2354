//! Property test of batching: for random well-shaped network files over
//! `input x[4]`, `target y[3]` and a few parameters, the batched evaluation
//! (batch axis, one backward pass, a plan of kernel calls) equals the
//! per-sample reference for batch sizes 1 to 5. The generator builds
//! expressions by shape, so every operation meets the batch axis in every
//! combination: data with data, data with parameters, parameters alone
//! (a loss term that does not depend on the data), products, reductions,
//! softmax and log-sum-exp.

mod common;

use common::rows;
use proptest::prelude::*;
use symgrad_core::net::{batch, parse_network};

const HEADER: &str = "input x[4]\ntarget y[3]\n\
    param W[3, 4] = 0.3*sin(i*4 + j + 1)\nparam V[4, 3] = 0.2*cos(i*3 + j)\n\
    param u[4] = 0.1*i - 0.2\nparam b[3] = 0.2*cos(i + 1)\nparam c = 0.7\n";

/// An expression of shape `[]` (0), `[3]` (3), `[4]` (4) or `[3, 4]` (12),
/// `depth` deep. Per-sample matrices meet only elementwise operations and
/// reductions: a matrix product or transpose of one that depends on the
/// data is refused by batching (a documented limit), not tested here.
fn expr(shape: usize, depth: u32) -> BoxedStrategy<String> {
    let leaf = match shape {
        0 => prop_oneof![Just("c".to_string()), Just("0.5".to_string())].boxed(),
        3 => prop_oneof![Just("y".to_string()), Just("b".to_string())].boxed(),
        4 => prop_oneof![Just("x".to_string()), Just("u".to_string())].boxed(),
        _ => Just("W".to_string()).boxed(),
    };
    if depth == 0 {
        return leaf;
    }
    let same = move || expr(shape, depth - 1);
    let any_scalar = move || expr(0, depth - 1);
    let mut options: Vec<BoxedStrategy<String>> = vec![
        leaf,
        (same(), same(), prop_oneof![Just("+"), Just("-"), Just("*")])
            .prop_map(|(a, b, op)| format!("({a} {op} {b})"))
            .boxed(),
        // Broadcasting a scalar against anything.
        (same(), any_scalar())
            .prop_map(|(a, s)| format!("({a} * {s})"))
            .boxed(),
        (same(), same())
            .prop_map(|(a, b)| format!("({a} / (1 + {b}^2))"))
            .boxed(),
        (
            same(),
            prop_oneof![Just("sin"), Just("tanh"), Just("sigmoid"), Just("softplus")],
        )
            .prop_map(|(a, f)| format!("{f}({a})"))
            .boxed(),
        same().prop_map(|a| format!("exp(-({a})^2)")).boxed(),
    ];
    match shape {
        0 => {
            options.push(expr(3, depth - 1).prop_map(|a| format!("sum({a})")).boxed());
            options.push(
                expr(4, depth - 1)
                    .prop_map(|a| format!("mean({a})"))
                    .boxed(),
            );
            options.push(expr(3, depth - 1).prop_map(|a| format!("max({a})")).boxed());
            options.push(
                expr(4, depth - 1)
                    .prop_map(|a| format!("logsumexp({a})"))
                    .boxed(),
            );
            options.push(
                (expr(4, depth - 1), expr(4, depth - 1))
                    .prop_map(|(a, b)| format!("({a} @ {b})"))
                    .boxed(),
            );
            options.push(
                expr(12, depth - 1)
                    .prop_map(|a| format!("sum({a})"))
                    .boxed(),
            );
            options.push(
                expr(12, depth - 1)
                    .prop_map(|a| format!("max({a})"))
                    .boxed(),
            );
        }
        3 => {
            options.push(
                expr(4, depth - 1)
                    .prop_map(|a| format!("(W @ {a})"))
                    .boxed(),
            );
            options.push(
                expr(4, depth - 1)
                    .prop_map(|a| format!("({a} @ V)"))
                    .boxed(),
            );
            options.push(
                expr(3, depth - 1)
                    .prop_map(|a| format!("softmax({a})"))
                    .boxed(),
            );
        }
        _ => {
            options.push(
                expr(3, depth - 1)
                    .prop_map(|a| format!("(V @ {a})"))
                    .boxed(),
            );
            options.push(
                expr(3, depth - 1)
                    .prop_map(|a| format!("(transpose(W) @ {a})"))
                    .boxed(),
            );
        }
    }
    proptest::strategy::Union::new(options).boxed()
}

/// The batched loss and gradient of `net` (written `src`) over `data`
/// against the per-sample reference, each entry to `tol` relative to its
/// tensor's largest.
fn batched_matches_per_sample(
    src: &str,
    net: &symgrad_core::net::Network,
    data: &[Vec<symgrad_core::eval::Tensor>],
    tol: f64,
) -> Result<(), TestCaseError> {
    let m = data.len();
    let want = batch::PerSample::new(net)
        .unwrap()
        .loss_and_gradient(data)
        .unwrap();
    let got = batch::Evaluator::new(net)
        .unwrap_or_else(|e| panic!("{src}\n{e:?}"))
        .loss_and_gradient(data)
        .unwrap();
    prop_assert!(
        (got.loss - want.loss).abs() <= tol * (1.0 + want.loss.abs()),
        "{src}m = {m}: loss {} vs {}",
        got.loss,
        want.loss
    );
    for ((name, g), (_, w)) in got.gradient.iter().zip(&want.gradient) {
        prop_assert_eq!(&g.shape, &w.shape);
        let scale = w.data.iter().fold(0.0f64, |s, v| s.max(v.abs()));
        for (a, b) in g.data.iter().zip(&w.data) {
            prop_assert!(
                (a - b).abs() <= tol * (1.0 + scale),
                "{}m = {}: d{} {} vs {}",
                src,
                m,
                name,
                a,
                b
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn batched_equals_per_sample(body in expr(0, 4), seed in 0u64..1000, m in 1usize..6) {
        let src = format!("{HEADER}loss = {body}\n");
        let net = parse_network(&src).unwrap_or_else(|e| panic!("{src}\n{e:?}"));
        batched_matches_per_sample(&src, &net, &rows(seed, m), 1e-11)?;
    }
}

// ---- images: convolution, pooling, flatten, selection ---------------------
// Batch norm is left out: it has no per-sample reference (its statistics
// are the batch's); `tests/images_reference.rs` and the nn crate's
// `batchnorm2d_reference.rs` check it against PyTorch's BatchNorm2d.

const IMAGE_HEADER: &str = "input g[2, 4, 4]\ntarget y[3]\n\
    param K[2, 2, 3, 3] ~ normal(0, 0.4)\nparam cb[2] ~ normal(0, 0.5)\n\
    param W8[3, 8] ~ normal(0, 0.4)\nparam s = 0.7\n\
    hc = tanh(conv2d(g, K, cb, padding = 1))\n";

/// `m` samples of `g[2, 4, 4]` in [-1, 1) and `y[3]` in [0, 1).
fn image_rows(seed: u64, m: usize) -> Vec<Vec<symgrad_core::eval::Tensor>> {
    use symgrad_core::eval::Tensor;
    let mut rng = symgrad_core::workloads::SplitMix64(seed);
    (0..m)
        .map(|_| {
            let g: Vec<f64> = (0..32).map(|_| rng.uniform(-1.0, 1.0)).collect();
            let y: Vec<f64> = (0..3).map(|_| rng.uniform(0.0, 1.0)).collect();
            vec![Tensor::new([2, 4, 4], g), Tensor::new([3], y)]
        })
        .collect()
}

/// An image expression: `[2, 4, 4]` (kind 0), pooled `[2, 2, 2]` (1),
/// a plane `[4, 4]` (2) or a scalar (3), `depth` deep.
fn image_expr(kind: u8, depth: u32) -> BoxedStrategy<String> {
    let leaf = match kind {
        0 => Just("g".to_string()).boxed(),
        1 => Just("maxpool(g, 2)".to_string()).boxed(),
        2 => Just("g[1]".to_string()).boxed(),
        _ => prop_oneof![Just("s".to_string()), Just("0.5".to_string())].boxed(),
    };
    if depth == 0 {
        return leaf;
    }
    let same = move || image_expr(kind, depth - 1);
    let mut options: Vec<BoxedStrategy<String>> = vec![
        leaf,
        (same(), same(), prop_oneof![Just("+"), Just("-"), Just("*")])
            .prop_map(|(a, b, op)| format!("({a} {op} {b})"))
            .boxed(),
        (same(), image_expr(3, depth - 1))
            .prop_map(|(a, c)| format!("({a} * {c})"))
            .boxed(),
        (
            same(),
            prop_oneof![Just("tanh"), Just("sigmoid"), Just("relu")],
        )
            .prop_map(|(a, f)| format!("{f}({a})"))
            .boxed(),
    ];
    let below = |k: u8| image_expr(k, depth - 1);
    match kind {
        0 => {
            options.push(
                below(0)
                    .prop_map(|a| format!("conv2d({a}, K, padding = 1)"))
                    .boxed(),
            );
            options.push(
                below(0)
                    .prop_map(|a| format!("conv2d({a}, K, cb, padding = 1)"))
                    .boxed(),
            );
        }
        1 => {
            options.push(below(0).prop_map(|a| format!("maxpool({a}, 2)")).boxed());
            options.push(below(0).prop_map(|a| format!("avgpool({a}, 2)")).boxed());
            options.push(
                below(0)
                    .prop_map(|a| format!("conv2d({a}, K, cb, stride = 2, padding = 1)"))
                    .boxed(),
            );
        }
        2 => {
            // Only a name is indexed: an input, or an equation of the header.
            options.push(Just("g[0]".to_string()).boxed());
            options.push(Just("hc[1]".to_string()).boxed());
        }
        _ => {
            options.push(below(0).prop_map(|a| format!("sum({a})")).boxed());
            options.push(below(1).prop_map(|a| format!("mean(flatten({a}))")).boxed());
            options.push(below(2).prop_map(|a| format!("max({a})")).boxed());
            options.push(
                below(1)
                    .prop_map(|a| format!("sum(softmax(W8 @ flatten({a})) * y)"))
                    .boxed(),
            );
        }
    }
    proptest::strategy::Union::new(options).boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn batched_images_equal_per_sample(body in image_expr(3, 3), seed in 0u64..1000, m in 1usize..5) {
        let src = format!("{IMAGE_HEADER}loss = {body}\n");
        let mut net = parse_network(&src).unwrap_or_else(|e| panic!("{src}\n{e:?}"));
        let values = net.init_params(seed);
        net.set_params(values).unwrap();
        batched_matches_per_sample(&src, &net, &image_rows(seed, m), 1e-10)?;
    }
}

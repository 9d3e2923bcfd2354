//! A `network!` struct and the same file loaded at run time
//! (`symgrad::nn::NetworkModel`) are one `Model`: trained side by side
//! through the trait with the same seed, they agree on the loss, the
//! gradient, batch norm's running statistics, and the inference-mode loss
//! and prediction (dropout off). The `NetworkModel` itself is checked
//! against independent references in `symgrad-nn/tests/network_model.rs`;
//! here the compiled code is checked against it. And the loop a user
//! writes first compiles: the gradient holds no borrow of the network.

#![deny(warnings)]

use symgrad::nn::{Model, NetworkModel};
use symgrad::workloads::SplitMix64;

symgrad::network!(Trained, "tests/nets/trained.sg");

/// `m` random samples of `x[4]` and one-hot `y[3]`, stacked.
fn batch(seed: u64, m: usize) -> [Vec<f64>; 2] {
    let mut rng = SplitMix64(seed);
    let x = (0..4 * m).map(|_| rng.uniform(-2.0, 2.0)).collect();
    let mut y = vec![0.0; 3 * m];
    for k in 0..m {
        y[k * 3 + (rng.next_u64() % 3) as usize] = 1.0;
    }
    [x, y]
}

#[track_caller]
fn close(what: &str, got: &[f64], want: &[f64], rel: f64) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= rel * (1.0 + w.abs()),
            "{what}[{k}]: {g} vs {w}"
        );
    }
}

/// One step of gradient descent through the trait, whatever the model:
/// the mean training loss and the gradient it stepped with.
fn sgd_step<M: Model>(model: &mut M, data: &[Vec<f64>], rate: f64) -> (f64, Vec<Vec<f64>>) {
    let slices: Vec<&[f64]> = data.iter().map(Vec::as_slice).collect();
    let mut grad = vec![Vec::new(); model.param_names().len()];
    let loss = model.loss_and_gradient(&slices, &mut grad);
    for (param, g) in model.params_mut().into_iter().zip(&grad) {
        for (w, d) in param.iter_mut().zip(g) {
            *w -= rate * d;
        }
    }
    (loss, grad)
}

#[test]
fn the_compiled_struct_trains_as_the_interpreted_model() {
    let seed = 5;
    let mut compiled = Trained::init(seed);
    let mut interpreted = NetworkModel::from_source(Trained::SOURCE, seed).unwrap();
    assert_eq!(compiled.param_names(), interpreted.param_names());
    assert_eq!(compiled.param_shapes(), interpreted.param_shapes());
    assert_eq!(
        compiled.params(),
        interpreted.params(),
        "the same initial draws"
    );
    assert_eq!(compiled.data_sizes(), [4, 3]);
    assert_eq!(compiled.data_sizes(), interpreted.data_sizes());
    assert_eq!((compiled.n_inputs(), compiled.output_size()), (1, 3));
    assert_eq!(interpreted.output_size(), 3);
    assert_eq!(
        compiled.state_names(),
        ["batchnorm1.running_mean", "batchnorm1.running_var"]
    );
    assert_eq!(compiled.state_names(), interpreted.state_names());
    assert_eq!(compiled.state(), interpreted.state());
    assert_eq!(compiled.source(), interpreted.source());

    compiled.set_seed(11);
    interpreted.set_seed(11);
    // Batches of different sizes, the last one smaller.
    for (step, m) in [8, 8, 5, 8, 3].into_iter().enumerate() {
        let data = batch(100 + step as u64, m);
        let (lc, gc) = sgd_step(&mut compiled, &data, 0.3);
        let (li, gi) = sgd_step(&mut interpreted, &data, 0.3);
        close(&format!("step {step}: loss"), &[lc], &[li], 1e-12);
        for (k, (a, b)) in gc.iter().zip(&gi).enumerate() {
            close(&format!("step {step}: gradient {k}"), a, b, 1e-11);
        }
        for (k, (a, b)) in compiled.state().iter().zip(interpreted.state()).enumerate() {
            close(&format!("step {step}: state {k}"), a, b, 1e-12);
        }
    }
    // The running statistics moved from their start (mean 0, variance 1).
    assert!(compiled.state()[0].iter().any(|&v| v.abs() > 1e-3));
    assert!(compiled.state()[1].iter().any(|&v| (v - 1.0).abs() > 1e-3));

    // Inference: the same predictions and validation loss, and no masks
    // (two calls agree, and a sample's prediction does not depend on the
    // others in its batch, since batch norm uses the running statistics).
    let [x, y] = batch(7, 6);
    let (mut pc, mut pi) = (Vec::new(), Vec::new());
    compiled.predict(&[&x], &mut pc);
    interpreted.predict(&[&x], &mut pi);
    close("prediction", &pc, &pi, 1e-12);
    let mut again = Vec::new();
    compiled.predict(&[&x], &mut again);
    assert_eq!(again, pc);
    let mut first = Vec::new();
    compiled.predict(&[&x[..4]], &mut first);
    close("one sample alone", &first, &pc[..3], 1e-14);
    // The struct's own `loss` takes one argument per data tensor; the
    // trait's, one slice of them.
    let vc = Model::loss(&mut compiled, &[&x, &y]);
    assert_eq!(vc, compiled.loss(&x, &y));
    let vi = interpreted.loss(&[&x, &y]);
    close("validation loss", &[vc], &[vi], 1e-12);
    // The validation loss is the cross-entropy of the predictions.
    let ce: f64 = (0..6)
        .map(|k| {
            -(0..3)
                .map(|j| y[k * 3 + j] * pc[k * 3 + j].ln())
                .sum::<f64>()
        })
        .sum::<f64>()
        / 6.0;
    close("validation loss by hand", &[vc], &[ce], 1e-12);
    // Validation's one pass gives `loss` and `predict` bit for bit, for
    // both models (after training, so batch norm's running statistics are
    // not their start), and the struct's own method the same.
    same_as_loss_then_predict("compiled", &mut compiled, &x, &y);
    same_as_loss_then_predict("interpreted", &mut interpreted, &x, &y);
    let (lb, pb) = compiled.loss_and_forward(&x, &y);
    assert_eq!((lb.to_bits(), pb), (vc.to_bits(), &pc[..]));
    // Restoring the state of one into the other gives its predictions.
    let mut fresh = Trained::init(seed);
    for (to, from) in fresh.params_mut().into_iter().zip(compiled.params()) {
        to.copy_from_slice(from);
    }
    for (to, from) in fresh.state_mut().into_iter().zip(compiled.state()) {
        to.copy_from_slice(from);
    }
    let mut pf = Vec::new();
    fresh.predict(&[&x], &mut pf);
    assert_eq!(pf, pc);
}

/// `loss_and_predict` against `loss`, then `predict`, on the same rows:
/// equal to the bit, and a second call equal to the first (no masks).
#[track_caller]
fn same_as_loss_then_predict<M: Model>(what: &str, model: &mut M, x: &[f64], y: &[f64]) {
    let loss = model.loss(&[x, y]);
    let mut predicted = Vec::new();
    model.predict(&[x], &mut predicted);
    let mut both = vec![7.0; 2];
    let combined = model.loss_and_predict(&[x, y], &mut both);
    assert_eq!(combined.to_bits(), loss.to_bits(), "{what}: loss");
    assert_eq!(both.len(), predicted.len(), "{what}: prediction size");
    for (k, (a, b)) in both.iter().zip(&predicted).enumerate() {
        assert_eq!(a.to_bits(), b.to_bits(), "{what}: prediction[{k}]");
    }
    let mut again = Vec::new();
    assert_eq!(
        model.loss_and_predict(&[x, y], &mut again).to_bits(),
        loss.to_bits()
    );
    assert_eq!(again, both, "{what}: a second call");
    // An empty batch: NaN and nothing predicted.
    assert!(model.loss_and_predict(&[&[], &[]], &mut again).is_nan());
    assert!(again.is_empty(), "{what}: empty batch");
}

#[test]
fn the_natural_loop_compiles_and_every_gradient_path_agrees() {
    let mut net = Trained::init(2);
    let [x, y] = batch(3, 8);
    net.set_dropout_seed(9);
    let mut losses = Vec::new();
    for _ in 0..3 {
        // The gradient is owned: the parameters change while it is alive.
        let (loss, g) = net.loss_and_gradient(&x, &y);
        for (w, d) in net.params.W1.iter_mut().zip(&g.W1) {
            *w -= 0.1 * d;
        }
        net.params.b2[0] -= 0.1 * g.b2[0];
        losses.push(loss);
    }
    assert!(losses.iter().all(|l| l.is_finite()));

    // `_into` (caller-kept gradient) and `_with` (read in place) give what
    // the owned gradient gives, with the same masks and parameters.
    let params = net.params.clone();
    let stats: Vec<Vec<f64>> = net.running_statistics().to_vec();
    let restore = |net: &mut Trained| {
        net.params = params.clone();
        net.running_statistics_mut().clone_from_slice(&stats);
        net.set_dropout_seed(4);
    };
    restore(&mut net);
    let (owned_loss, owned) = net.loss_and_gradient(&x, &y);
    restore(&mut net);
    let mut kept = TrainedGradient::zeros();
    let into_loss = net.loss_and_gradient_into(&x, &y, &mut kept);
    assert_eq!((into_loss, &kept), (owned_loss, &owned));
    restore(&mut net);
    let mut seen = Vec::new();
    let with_loss = net.loss_and_gradient_with(&x, &y, |k, param, g| {
        assert_eq!(param.len(), g.len());
        seen.push((k, g.to_vec()));
    });
    assert_eq!(with_loss, owned_loss);
    let owned_all = [
        &owned.W1,
        &owned.b1,
        &owned.gamma,
        &owned.beta,
        &owned.W2,
        &owned.b2,
    ];
    assert_eq!(seen.len(), owned_all.len());
    for ((k, g), (j, want)) in seen.iter().zip(owned_all.iter().enumerate()) {
        assert_eq!(k, &j);
        assert_eq!(&g, want);
    }
    assert_eq!(
        TrainedParams::NAMES,
        ["W1", "b1", "gamma", "beta", "W2", "b2"]
    );
}

#[test]
fn parameters_save_and_load_as_the_files_net_init_writes() {
    let net = symgrad::net::parse_network(Trained::SOURCE).unwrap();
    let seed = 8;
    let compiled = Trained::init(seed);
    let written = compiled.params_to_json().unwrap();
    // The same text as `symgrad net init --seed 8 -o FILE` writes.
    assert_eq!(
        written,
        symgrad::net::params::to_json(&net, &net.init_params(seed))
    );
    let mut other = Trained::init(seed + 1);
    assert_ne!(other.params, compiled.params);
    other.load_params_json(&written).unwrap();
    assert_eq!(other.params, compiled.params);
    // A file of another network is refused, and nothing changes.
    let before = other.params.clone();
    let e = other
        .load_params_json(r#"{"format": "symgrad-params", "version": 1, "params": {}}"#)
        .unwrap_err();
    assert!(e.message().contains("W1"), "{}", e.message());
    assert_eq!(other.params, before);
    // A parameter resized by hand cannot be written.
    other.params.b2.push(1.0);
    let e = other.params_to_json().unwrap_err();
    assert!(
        e.message().contains("'b2' has 4 entries"),
        "{}",
        e.message()
    );
}

symgrad::network!(Scalar, "tests/nets/scalar.sg");

#[test]
fn a_scalar_parameter_trains_saves_and_has_no_prediction() {
    let mut net = Scalar::init(0);
    // C = (1/m) Σ (s·Σx - y)², dC/ds = (2/m) Σ (s·Σx - y)·Σx.
    let (x, y) = ([1.0, 2.0, -1.0, 0.5], [1.0, 0.0]);
    let (loss, g) = net.loss_and_gradient(&x, &y);
    let r = [0.5 * 3.0 - 1.0, 0.5 * -0.5];
    assert!((loss - (r[0] * r[0] + r[1] * r[1]) / 2.0).abs() < 1e-15);
    assert!((g.s[0] - (r[0] * 3.0 + r[1] * -0.5)).abs() < 1e-15);
    let mut other = Scalar::with_params(ScalarParams { s: vec![2.0] });
    other
        .load_params_json(&net.params_to_json().unwrap())
        .unwrap();
    assert_eq!(other.params.s, [0.5]);
    // The loss reads a target: there is nothing to predict.
    assert_eq!(Model::output_size(&net), 0);
    let mut out = vec![1.0];
    net.predict(&[&x], &mut out);
    assert!(out.is_empty());
    // Validation's pass: the loss alone, the same bits, nothing predicted,
    // for the struct and the interpreter.
    let mut interpreted = NetworkModel::from_source(Scalar::SOURCE, 0).unwrap();
    interpreted.params_mut()[0][0] = 0.5;
    for model in [&mut net as &mut dyn Model, &mut interpreted] {
        let loss = model.loss(&[&x, &y]);
        let mut out = vec![1.0];
        let both = model.loss_and_predict(&[&x, &y], &mut out);
        assert_eq!(both.to_bits(), loss.to_bits());
        assert!(out.is_empty());
    }
}

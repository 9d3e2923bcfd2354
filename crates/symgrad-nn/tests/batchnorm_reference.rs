//! Batch norm with a learned scale and shift, in training and inference
//! mode, against PyTorch's `BatchNorm1d` (tests/data/training/
//! batchnorm_reference.json, made by make_batchnorm_reference.py there).
//!
//! `NetworkModel` runs bn.sg through the `Model` trait: 8 plain SGD steps
//! written here (θ -= lr g through `params_mut`) on batches of 8, 8, 8 and
//! 6 rows, each step's loss and gradient compared with autograd's; then the
//! parameters, the running means and variances (`state`), and, in inference
//! mode, the predictions for all rows and for single rows and the mean loss.
//! Everything to 1e-9.

use serde_json::Value;
use symgrad_nn::{Model, NetworkModel};

const TOLERANCE: f64 = 1e-9;

fn file(name: &str) -> String {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/training")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("an array of numbers, not {v}"))
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// `‖got − want‖₂ ≤ tol · scale`, and no entry off by more than
/// `tol · max(|want|, scale/√n)`. `scale` is `‖want‖₂` unless the caller has
/// a better one (see the gradients below).
#[track_caller]
fn assert_close(what: &str, got: &[f64], want: &[f64], scale: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let diff: Vec<f64> = got.iter().zip(want).map(|(a, b)| a - b).collect();
    let normwise = norm(&diff) / scale;
    assert!(
        normwise <= TOLERANCE,
        "{what}: normwise relative difference {normwise:e}\n got  {got:?}\n want {want:?}"
    );
    let floor = scale / (want.len() as f64).sqrt();
    for (k, (a, b)) in got.iter().zip(want).enumerate() {
        let s = b.abs().max(floor);
        assert!(
            (a - b).abs() <= TOLERANCE * s,
            "{what}[{k}]: {a} vs {b} (relative {:e})",
            (a - b).abs() / s
        );
    }
}

#[track_caller]
fn assert_close_scalar(what: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= TOLERANCE * want.abs(),
        "{what}: {got} vs {want}"
    );
}

/// Rows `a..b` of the reference's data as the trait's slices: the inputs
/// `x` ([m, 4] row-major), then the one-hot targets `y` ([m, 3]).
fn batch(r: &Value, a: usize, b: usize) -> (Vec<f64>, Vec<f64>) {
    let mut x = Vec::new();
    let mut y = Vec::new();
    for k in a..b {
        x.extend(numbers(&r["x"][k]));
        let label = r["labels"][k].as_u64().unwrap() as usize;
        y.extend((0..3).map(|c| if c == label { 1.0 } else { 0.0 }));
    }
    (x, y)
}

#[test]
fn batchnorm_trains_and_predicts_as_pytorch() {
    let r: Value = serde_json::from_str(&file("batchnorm_reference.json")).unwrap();
    let source = file("bn.sg");
    let mut model = NetworkModel::from_source(&source, 0).expect("bn.sg is a valid network");

    // The network file's parameter order is the reference's.
    let names = model.param_names();
    let want_names: Vec<String> = r["param_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, want_names);
    for (name, value) in names.iter().zip(model.params()) {
        let want = numbers(&r["initial_params"][name]["data"]);
        assert_close(&format!("initial {name}"), value, &want, norm(&want));
    }
    // Two batch norms, each a running mean then a running variance.
    let state_names = model.state_names();
    assert_eq!(state_names.len(), 4, "{state_names:?}");
    for pair in state_names.chunks(2) {
        assert!(
            pair[0].contains("mean") && pair[1].contains("var"),
            "{state_names:?}"
        );
    }

    // Training mode, a plain SGD step after each batch.
    let lr = r["lr"].as_f64().unwrap();
    let mut grad: Vec<Vec<f64>> = model.params().iter().map(|p| vec![0.0; p.len()]).collect();
    for (s, step) in r["steps"].as_array().unwrap().iter().enumerate() {
        let rows = numbers(&step["rows"]);
        let (x, y) = batch(&r, rows[0] as usize, rows[1] as usize);
        let loss = model.loss_and_gradient(&[&x, &y], &mut grad);
        assert_close_scalar(
            &format!("step {s} loss"),
            loss,
            step["loss"].as_f64().unwrap(),
        );
        // Batch norm makes the gradient of a bias in front of it exactly 0
        // (b1, b2): PyTorch's there is rounding noise of 1e-16. So every
        // parameter's gradient is held to 1e-9 of the whole gradient's norm.
        let want: Vec<Vec<f64>> = names
            .iter()
            .map(|n| numbers(&step["gradient"][n]["data"]))
            .collect();
        let whole = norm(&want.concat());
        for ((name, g), w) in names.iter().zip(&grad).zip(&want) {
            assert_close(&format!("step {s} gradient {name}"), g, w, whole);
        }
        for (p, g) in model.params_mut().into_iter().zip(&grad) {
            for (theta, gk) in p.iter_mut().zip(g) {
                *theta -= lr * gk;
            }
        }
    }

    for (name, value) in names.iter().zip(model.params()) {
        let want = numbers(&r["params"][name]["data"]);
        assert_close(&format!("trained {name}"), value, &want, norm(&want));
    }
    let state = model.state();
    for (k, bn) in r["state"].as_array().unwrap().iter().enumerate() {
        for (j, key) in ["running_mean", "running_var"].iter().enumerate() {
            let want = numbers(&bn[key]);
            let what = format!("{} ({key} of batchnorm {})", state_names[2 * k + j], k + 1);
            assert_close(&what, state[2 * k + j], &want, norm(&want));
        }
    }

    // Inference mode: the running statistics, so a row predicts the same
    // alone as among the others.
    let n = r["labels"].as_array().unwrap().len();
    let (x, y) = batch(&r, 0, n);
    let mut out = Vec::new();
    model.predict(&[&x], &mut out);
    let want: Vec<f64> = r["eval"]["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(numbers)
        .collect();
    assert_close("predictions of all rows", &out, &want, norm(&want));
    for single in r["eval"]["single_rows"].as_array().unwrap() {
        let row = single["row"].as_u64().unwrap() as usize;
        let (x1, _) = batch(&r, row, row + 1);
        model.predict(&[&x1], &mut out);
        let want = numbers(&single["prediction"]);
        assert_close(
            &format!("prediction of row {row} alone"),
            &out,
            &want,
            norm(&want),
        );
    }
    let loss = model.loss(&[&x, &y]);
    assert_close_scalar("inference loss", loss, r["eval"]["loss"].as_f64().unwrap());
    // Inference changes no running statistic.
    for (k, bn) in r["state"].as_array().unwrap().iter().enumerate() {
        let want = numbers(&bn["running_var"]);
        assert_close(
            "running_var after inference",
            model.state()[2 * k + 1],
            &want,
            norm(&want),
        );
    }
}

//! Batch norm of an image per channel, after a convolution, against
//! PyTorch's `BatchNorm2d` (tests/data/images/batchnorm2d.json, made by
//! make_batchnorm2d.py there): the training-mode loss and the gradients of
//! the kernel, scale and shift; the running statistics after that step
//! (momentum 0.1, the unbiased variance over the batch and the positions);
//! the inference-mode prediction. Everything to 1e-9.

use serde_json::Value;
use symgrad_nn::{Model, NetworkModel};

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/images")
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[track_caller]
fn close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-9 * (1.0 + w.abs()),
            "{what}[{k}]: {g} vs {w}"
        );
    }
}

#[test]
fn batchnorm_of_an_image_is_pytorchs_batchnorm2d() {
    let source = std::fs::read_to_string(root().join("batchnorm2d.sg")).unwrap();
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("batchnorm2d.json")).unwrap())
            .unwrap();
    let mut model = NetworkModel::from_source(&source, 0).unwrap();
    let names = model.param_names();
    for (name, p) in names.iter().zip(model.params_mut()) {
        p.copy_from_slice(&numbers(&r["params"][name]));
    }
    // Two statistics of 2 channels each, not of the 8 entries.
    assert_eq!(
        model.state().iter().map(|s| s.len()).collect::<Vec<_>>(),
        [2, 2]
    );
    let (x, y) = (numbers(&r["x"]), numbers(&r["y"]));
    let mut grad = vec![Vec::new(); names.len()];
    let loss = model.loss_and_gradient(&[&x, &y], &mut grad);
    close("loss", &[loss], &[r["loss"].as_f64().unwrap()]);
    for (name, g) in names.iter().zip(&grad) {
        close(&format!("∂loss/∂{name}"), g, &numbers(&r["grads"][name]));
    }
    close(
        "running mean",
        model.state()[0],
        &numbers(&r["running_mean"]),
    );
    close(
        "running variance",
        model.state()[1],
        &numbers(&r["running_var"]),
    );
    let mut prediction = Vec::new();
    model.predict(&[&x], &mut prediction);
    close("prediction", &prediction, &numbers(&r["prediction"]));
}

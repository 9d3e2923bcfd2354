//! `symgrad train` against the independent reference of
//! tests/data/training/reference.json (made by make_reference.py there:
//! PyTorch autograd gradients, the contract's update formulas, and
//! torch.optim where its formula is the contract's). Every optimizer, both
//! penalties, both clippings, both decays and some combinations, 3 epochs of
//! batches of 8 rows in file order: the trained parameters must agree to
//! 1e-9 relative. The starting point (the initial parameters and the first
//! batch's loss and gradient) is checked on its own first, so that a failure
//! says whether the network or the training differs. Each epoch's rate and
//! mean training loss in the model file's history are checked too.
//!
//! Batch norm end to end: bn.sg trained by `symgrad train` (8 plain SGD
//! steps) and run by `symgrad predict` against PyTorch's `BatchNorm1d`
//! (batchnorm_reference.json): parameters, running statistics, the
//! inference loss and the predicted classes.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The bound: "parameters agree to 1e-9 relative".
const TOLERANCE: f64 = 1e-9;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/training")
        .join(name)
}

fn reference() -> Value {
    let text = std::fs::read_to_string(data("reference.json")).expect("reference.json is readable");
    serde_json::from_str(&text).expect("reference.json is JSON")
}

fn symgrad(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_symgrad"))
        .args(args)
        .output()
        .expect("the binary runs")
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

/// Compares one parameter (or gradient) `got` with `want`, both
/// `{"shape": [...], "data": [...]}`, and returns what is wrong, if anything.
///
/// Two tests, both at [`TOLERANCE`]:
/// - normwise: ‖got − want‖₂ ≤ tol · ‖want‖₂, the parameter as one vector;
/// - entrywise: |got − want| ≤ tol · max(|want|, rms(want)). The floor
///   rms(want) is there because an entry's error does not scale with the
///   entry: it comes from rounding in the updates, which are the size of the
///   parameter's typical entry, so an entry that passes near 0 would
///   otherwise be held to an absolute error far below the rounding of
///   everything that moved it. No reference entry is within 1e-3 of 0, so in
///   practice the floor only matters for gradients.
fn mismatch(what: &str, got: &Value, want: &Value) -> Option<String> {
    if got["shape"] != want["shape"] {
        return Some(format!(
            "{what}: shape {} (reference {})",
            got["shape"], want["shape"]
        ));
    }
    let (g, w) = (numbers(&got["data"]), numbers(&want["data"]));
    if g.len() != w.len() {
        return Some(format!(
            "{what}: {} entries (reference {})",
            g.len(),
            w.len()
        ));
    }
    let diff: Vec<f64> = g.iter().zip(&w).map(|(a, b)| a - b).collect();
    let normwise = norm(&diff) / norm(&w);
    if normwise.is_nan() || normwise > TOLERANCE {
        return Some(format!(
            "{what}: normwise relative difference {normwise:e} (first entries {:?} vs {:?})",
            &g[..g.len().min(4)],
            &w[..w.len().min(4)]
        ));
    }
    let rms = norm(&w) / (w.len() as f64).sqrt();
    for (k, (a, b)) in g.iter().zip(&w).enumerate() {
        let scale = b.abs().max(rms);
        if (a - b).is_nan() || (a - b).abs() > TOLERANCE * scale {
            return Some(format!(
                "{what}[{k}] (row-major): {a} vs {b}, relative {:e}",
                (a - b).abs() / scale
            ));
        }
    }
    None
}

fn params_mismatches(what: &str, got: &Value, want: &Value) -> Vec<String> {
    let want = want.as_object().expect("reference params are an object");
    let Some(got) = got.as_object() else {
        return vec![format!("{what}: no \"params\" object in the output")];
    };
    let mut out = Vec::new();
    let got_names: Vec<_> = got.keys().collect();
    let want_names: Vec<_> = want.keys().collect();
    if got_names.len() != want_names.len() || want.keys().any(|n| !got.contains_key(n)) {
        out.push(format!(
            "{what}: parameters {got_names:?}, reference {want_names:?}"
        ));
    }
    for (name, w) in want {
        if let Some(g) = got.get(name) {
            out.extend(mismatch(&format!("{what} {name}"), g, w));
        }
    }
    out
}

/// The network's parameters before training are the reference's.
#[test]
fn initial_parameters_are_the_references() {
    let r = reference();
    let out = symgrad(&["net", "init", data("ref.sg").to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let init: Value = serde_json::from_slice(&out.stdout).expect("net init prints JSON");
    let bad = params_mismatches("initial", &init["params"], &r["initial_params"]);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The first batch's mean loss and gradient are PyTorch's.
#[test]
fn first_batch_gradient_is_the_references() {
    let r = reference();
    let first = &r["first_batch"];
    let out = symgrad(&[
        "net",
        "grad",
        data("ref.sg").to_str().unwrap(),
        "--data",
        data("ref_data.csv").to_str().unwrap(),
        "--rows",
        first["rows"].as_str().unwrap(),
        "--format",
        "json",
        "--values",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let grad: Value = serde_json::from_slice(&out.stdout).expect("net grad prints JSON");
    let (loss, want) = (
        grad["loss"].as_f64().unwrap(),
        first["loss"].as_f64().unwrap(),
    );
    assert!(
        (loss - want).abs() <= TOLERANCE * want.abs(),
        "loss {loss} vs {want}"
    );
    let mut bad = Vec::new();
    for (name, w) in first["gradient"].as_object().unwrap() {
        let g = &grad["gradient"][name];
        let got = serde_json::json!({"shape": g["shape"], "data": g["values"]});
        bad.extend(mismatch(&format!("gradient {name}"), &got, w));
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// Runs `symgrad train NET --data ref_data.csv FLAGS --no-shuffle --quiet
/// --save MODEL` and returns the saved model file.
fn train(net: &str, flags: &[&str], model: &Path) -> Result<Value, String> {
    let _ = std::fs::remove_file(model);
    let net = data(net);
    let csv = data("ref_data.csv");
    let mut args: Vec<String> = vec![
        "train".into(),
        net.to_str().unwrap().into(),
        "--data".into(),
        csv.to_str().unwrap().into(),
    ];
    args.extend(flags.iter().map(|f| f.to_string()));
    args.extend(["--no-shuffle", "--quiet", "--save", model.to_str().unwrap()].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = symgrad(&args);
    if !out.status.success() {
        return Err(format!(
            "`symgrad {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = std::fs::read_to_string(model)
        .map_err(|e| format!("no model file {} after training: {e}", model.display()))?;
    let file: Value =
        serde_json::from_str(&text).map_err(|e| format!("the model file is not JSON: {e}"))?;
    if file["format"] != "symgrad-model" {
        return Err(format!("the model file's format is {}", file["format"]));
    }
    Ok(file)
}

/// Every case of the reference, each reported, all failures at once.
#[test]
fn training_agrees_with_the_reference() {
    let r = reference();
    let cases = r["cases"].as_array().expect("cases");
    assert!(
        cases.len() >= 20,
        "the reference has every optimizer and option"
    );
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("train_reference");
    std::fs::create_dir_all(&dir).unwrap();
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let model = dir.join(format!("{name}.model.json"));
        let flags: Vec<&str> = case["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        match train("ref.sg", &flags, &model) {
            Err(e) => failures.push(format!("{name}: {e}")),
            Ok(file) => {
                failures.extend(params_mismatches(name, &file["params"], &case["params"]));
                failures.extend(history_mismatches(name, &file["history"], case));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from the reference:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The model file's `history.epochs[e]`: `lr` (after the schedule) and
/// `train_loss` (the mean over the epoch's batches of the batch's mean loss,
/// `Epoch::train_loss`) against the reference's `epoch_lr` and `epoch_loss`.
fn history_mismatches(name: &str, history: &Value, case: &Value) -> Vec<String> {
    let Some(epochs) = history["epochs"].as_array() else {
        return vec![format!(
            "{name}: no \"history\": {{\"epochs\": [...]}} in the model file"
        )];
    };
    let (losses, rates) = (numbers(&case["epoch_loss"]), numbers(&case["epoch_lr"]));
    if epochs.len() != losses.len() {
        return vec![format!(
            "{name}: {} epochs in the history, {} in the reference",
            epochs.len(),
            losses.len()
        )];
    }
    let mut out = Vec::new();
    for (e, epoch) in epochs.iter().enumerate() {
        for (key, want) in [("lr", rates[e]), ("train_loss", losses[e])] {
            let got = epoch[key].as_f64();
            if !got.is_some_and(|g| (g - want).abs() <= TOLERANCE * want.abs()) {
                out.push(format!(
                    "{name}: epoch {} {key} {} (reference {want})",
                    e + 1,
                    epoch[key]
                ));
            }
        }
    }
    out
}

/// The index of the largest entry.
fn argmax(row: &[f64]) -> usize {
    (0..row.len())
        .max_by(|&a, &b| row[a].total_cmp(&row[b]))
        .expect("a non-empty row")
}

/// bn.sg trained and predicted through the commands, against PyTorch's
/// BatchNorm1d (8 plain SGD steps, then eval mode).
#[test]
fn batchnorm_trains_and_predicts_as_pytorch() {
    let text = std::fs::read_to_string(data("batchnorm_reference.json")).unwrap();
    let r: Value = serde_json::from_str(&text).unwrap();
    let steps = r["steps"].as_array().unwrap().len();
    let batches_per_epoch = r["x"].as_array().unwrap().len().div_ceil(8);
    assert_eq!(steps % batches_per_epoch, 0);
    let epochs = (steps / batches_per_epoch).to_string();
    let lr = r["lr"].as_f64().unwrap().to_string();
    let flags = [
        "--optimizer",
        "sgd",
        "--lr",
        &lr,
        "--epochs",
        &epochs,
        "--batch-size",
        "8",
    ];
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("train_reference");
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("bn.model.json");
    let file = train("bn.sg", &flags, &model).unwrap_or_else(|e| panic!("{e}"));

    let mut bad = params_mismatches("bn.sg", &file["params"], &r["params"]);
    // The running statistics, named as NetworkModel names them.
    for (k, bn) in r["state"].as_array().unwrap().iter().enumerate() {
        for key in ["running_mean", "running_var"] {
            let name = format!("batchnorm{}.{key}", k + 1);
            let want = serde_json::json!({"shape": [numbers(&bn[key]).len()], "data": bn[key]});
            match file["state"].get(&name) {
                Some(got) => bad.extend(mismatch(&name, got, &want)),
                None => bad.push(format!(
                    "no \"{name}\" in the model file's state: {}",
                    file["state"]
                )),
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));

    let out = symgrad(&[
        "predict",
        model.to_str().unwrap(),
        "--data",
        data("ref_data.csv").to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let predicted: Value = serde_json::from_slice(&out.stdout).expect("predict prints JSON");
    let (loss, want) = (
        predicted["loss"]
            .as_f64()
            .expect("a loss: the data has targets"),
        r["eval"]["loss"].as_f64().unwrap(),
    );
    assert!(
        (loss - want).abs() <= TOLERANCE * want,
        "inference loss {loss} vs {want}"
    );
    let classes: Vec<usize> = r["eval"]["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| argmax(&numbers(p)))
        .collect();
    let got: Vec<usize> = predicted["predictions"]
        .as_array()
        .expect("predictions")
        .iter()
        .map(|c| c.as_u64().expect("a class index") as usize)
        .collect();
    assert_eq!(got, classes);
}

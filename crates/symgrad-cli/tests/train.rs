//! `symgrad train` and `symgrad predict` as a user runs them: the same
//! seed gives the same model file byte for byte, `--no-shuffle` takes the
//! rows in file order (against SGD on a linear model computed here), predict
//! reproduces what train reported, model files round-trip and have the
//! parameter form `net init` writes, the log and the plot, bad input
//! (status 2 with a message), and a diverging run that leaves no model file.

mod train_common;

use serde_json::Value;
use train_common::*;

fn params_of(model: &Value, name: &str) -> Vec<f64> {
    model["params"][name]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

fn read_json(p: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn the_same_seed_writes_the_same_model_file_byte_for_byte() {
    let dir = scratch("train-seed");
    let (net, csv) = (digits_net(), digits_csv());
    let run = |seed: &str, file: &str| {
        let out = dir.join(file);
        ok(&[
            "train",
            &net,
            "--data",
            &csv,
            "--rows",
            "0..400",
            "--epochs",
            "2",
            "--seed",
            seed,
            "--optimizer",
            "adam",
            "--lr",
            "0.01",
            "--validation",
            "0.25",
            "--quiet",
            "--save",
            &path(&out),
        ]);
        std::fs::read(out).unwrap()
    };
    let a = run("3", "a.json");
    let b = run("3", "b.json");
    let c = run("4", "c.json");
    assert_eq!(a, b, "two runs with seed 3 wrote different files");
    assert_ne!(a, c, "seeds 3 and 4 wrote the same file");
    // Only the two model files: nothing temporary left behind.
    assert_eq!(files(&dir), ["a.json", "b.json", "c.json"]);
}

/// SGD on `loss = mean((W x + b - y)^2)` over batches taken in file order,
/// computed here: dW = (2/m) Σ (p - y) x, db = (2/m) Σ (p - y).
fn sgd_in_order(rows: &[[f64; 3]], lr: f64, batch: usize, epochs: usize) -> ([f64; 2], f64) {
    let (mut w, mut b) = ([0.5, 0.5], 0.0);
    for _ in 0..epochs {
        for chunk in rows.chunks(batch) {
            let m = chunk.len() as f64;
            let (mut gw, mut gb) = ([0.0, 0.0], 0.0);
            for r in chunk {
                let e = w[0] * r[0] + w[1] * r[1] + b - r[2];
                gw[0] += 2.0 * e * r[0] / m;
                gw[1] += 2.0 * e * r[1] / m;
                gb += 2.0 * e / m;
            }
            w[0] -= lr * gw[0];
            w[1] -= lr * gw[1];
            b -= lr * gb;
        }
    }
    (w, b)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn no_shuffle_takes_the_rows_in_file_order() {
    let dir = scratch("train-order");
    let (net, csv) = linear(&dir, 10);
    let model = dir.join("m.json");
    let train = |extra: &[&str]| -> Value {
        let mut args = vec![
            "train",
            &net,
            "--data",
            &csv,
            "--lr",
            "0.02",
            "--batch-size",
            "4",
            "--epochs",
            "3",
            "--quiet",
            "--save",
        ];
        let m = path(&model);
        args.push(&m);
        args.extend(extra);
        ok(&args);
        read_json(&model)
    };
    let rows = linear_rows(10);
    let (w, b) = sgd_in_order(&rows, 0.02, 4, 3);
    let in_order = train(&["--no-shuffle"]);
    let (got_w, got_b) = (params_of(&in_order, "W"), params_of(&in_order, "b"));
    assert!(
        close(got_w[0], w[0]) && close(got_w[1], w[1]) && close(got_b[0], b),
        "--no-shuffle: W {got_w:?} b {got_b:?}, SGD in file order: W {w:?} b {b}"
    );
    // The order matters for this data (so the check above could fail)...
    let mut reversed = rows.clone();
    reversed.reverse();
    let (rw, _) = sgd_in_order(&reversed, 0.02, 4, 3);
    assert!(!close(rw[0], w[0]));
    // ... and without --no-shuffle the rows come in another order.
    let shuffled = train(&[]);
    assert!(!close(params_of(&shuffled, "W")[0], w[0]));
}

#[test]
fn predict_reproduces_what_train_reported() {
    let dir = scratch("train-predict");
    let (net, csv) = (digits_net(), digits_csv());
    let model = path(&dir.join("digits.model.json"));
    let summary = json(&[
        "train",
        &net,
        "--data",
        &csv,
        "--rows",
        "0..600",
        "--validation-rows",
        "0..150",
        "--epochs",
        "3",
        "--optimizer",
        "adam",
        "--lr",
        "0.01",
        "--quiet",
        "--save",
        &model,
    ]);
    assert_eq!(summary["train_rows"], 450);
    assert_eq!(summary["validation_rows"], 150);
    // The validation rows as a file of their own, with and without targets.
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let with_targets = dir.join("val.csv");
    std::fs::write(&with_targets, lines[..151].join("\n") + "\n").unwrap();
    let inputs_only = dir.join("inputs.csv");
    let strip = |l: &str| l.rsplit_once(',').unwrap().0.to_string();
    std::fs::write(
        &inputs_only,
        lines[..151]
            .iter()
            .map(|l| strip(l))
            .collect::<Vec<_>>()
            .join("\n")
            + "\n",
    )
    .unwrap();
    let predicted = json(&["predict", &model, "--data", &path(&with_targets)]);
    assert_eq!(predicted["rows"], 150);
    assert_eq!(predicted["accuracy"], summary["val_accuracy"]);
    let (a, b) = (
        predicted["loss"].as_f64().unwrap(),
        summary["val_loss"].as_f64().unwrap(),
    );
    assert!(
        close(a, b),
        "predict's loss {a}, train's validation loss {b}"
    );
    // The accuracy is the fraction of predicted classes equal to the labels.
    let classes: Vec<u64> = predicted["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let right = lines[1..151]
        .iter()
        .zip(&classes)
        .filter(|(l, &c)| l.rsplit(',').next().unwrap().parse::<u64>().unwrap() == c)
        .count();
    assert_eq!(right as f64 / 150.0, a_f64(&predicted["accuracy"]));
    // Without the targets: the same classes, and no loss or accuracy.
    let bare = json(&["predict", &model, "--data", &path(&inputs_only)]);
    assert_eq!(bare["predictions"], predicted["predictions"]);
    assert!(bare.get("loss").is_none() && bare.get("accuracy").is_none());
    // Text: one class per line; CSV: a header, then the same.
    let text = ok(&["predict", &model, "--data", &path(&inputs_only)]);
    let listed: Vec<u64> = text.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(listed, classes);
    let csv_out = ok(&[
        "predict",
        &model,
        "--data",
        &path(&inputs_only),
        "--format",
        "csv",
    ]);
    assert_eq!(csv_out.lines().next(), Some("class"));
    assert_eq!(csv_out.lines().count(), 151);
}

#[test]
fn preprocessing_is_fitted_on_the_training_rows_and_kept_for_predict() {
    let dir = scratch("train-preprocess");
    let (net, csv) = linear(&dir, 30);
    let model = dir.join("m.json");
    let summary = json(&[
        "train",
        &net,
        "--data",
        &csv,
        "--validation-rows",
        "0..10",
        "--preprocess",
        "standardize",
        "--epochs",
        "3",
        "--lr",
        "0.05",
        "--quiet",
        "--save",
        &path(&model),
    ]);
    let file = read_json(&model);
    assert_eq!(file["preprocess"]["kind"], "standardize");
    // Fitted on rows 10..30 only: x becomes (x - shift) * scale with the
    // shift their mean of x0.
    let rows = linear_rows(30);
    let mean: f64 = rows[10..].iter().map(|r| r[0]).sum::<f64>() / 20.0;
    let shift = file["preprocess"]["shift"][0].as_f64().unwrap();
    assert!(
        (shift - mean).abs() < 1e-12,
        "shift {shift}, mean of rows 10..30 {mean}"
    );
    // predict applies it to raw rows: rows 0..10 give train's validation loss.
    let text = std::fs::read_to_string(&csv).unwrap();
    let val = dir.join("val.csv");
    std::fs::write(
        &val,
        text.lines().take(11).collect::<Vec<_>>().join("\n") + "\n",
    )
    .unwrap();
    let predicted = json(&["predict", &path(&model), "--data", &path(&val)]);
    let (a, b) = (a_f64(&predicted["loss"]), a_f64(&summary["val_loss"]));
    assert!(close(a, b), "predict {a}, train {b}");
}

fn a_f64(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

#[test]
fn a_model_file_has_the_params_net_init_writes_and_round_trips() {
    let dir = scratch("train-roundtrip");
    let (net, csv) = linear(&dir, 12);
    let model = dir.join("m.json");
    ok(&[
        "train",
        &net,
        "--data",
        &csv,
        "--epochs",
        "2",
        "--lr",
        "0.01",
        "--quiet",
        "--save",
        &path(&model),
    ]);
    let file = read_json(&model);
    assert_eq!(file["format"], "symgrad-model");
    assert_eq!(file["version"], 1);
    assert_eq!(file["network"], train_common::LINEAR);
    assert_eq!(file["training"]["lr"], 0.01);
    assert_eq!(file["history"]["epochs"].as_array().unwrap().len(), 2);
    // Its "params" is a parameter file's: `net grad --params` takes it, and
    // its loss on the rows (core's evaluator) is predict's (the model's plans).
    let params = dir.join("params.json");
    let wrapped = format!(
        "{{\"format\": \"symgrad-params\", \"version\": 1, \"params\": {}}}",
        file["params"]
    );
    std::fs::write(&params, wrapped).unwrap();
    let grad: Value = serde_json::from_str(&ok(&[
        "net",
        "grad",
        &net,
        "--data",
        &csv,
        "--params",
        &path(&params),
        "--format",
        "json",
    ]))
    .unwrap();
    let predicted = json(&["predict", &path(&model), "--data", &csv]);
    let (a, b) = (a_f64(&grad["loss"]), a_f64(&predicted["loss"]));
    assert!(close(a, b), "net grad {a}, predict {b}");
    // Read back through --params and written again after a step too small
    // to move any parameter (lr 1e-300, gradients of order 1), every bit
    // is kept.
    let again = dir.join("again.json");
    ok(&[
        "train",
        &net,
        "--data",
        &csv,
        "--epochs",
        "1",
        "--lr",
        "1e-300",
        "--quiet",
        "--params",
        &path(&params),
        "--save",
        &path(&again),
    ]);
    let again = read_json(&again);
    for name in ["W", "b"] {
        let (x, y) = (params_of(&file, name), params_of(&again, name));
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&x), bits(&y), "{name}");
    }
}

#[test]
fn the_log_has_a_row_per_epoch_and_the_plot_is_drawn() {
    let dir = scratch("train-log");
    let (net, csv) = linear(&dir, 20);
    let log = dir.join("log.csv");
    let svg = dir.join("run.svg");
    let png = dir.join("run.png");
    let summary = json(&[
        "train",
        &net,
        "--data",
        &csv,
        "--epochs",
        "4",
        "--lr",
        "0.01",
        "--validation",
        "0.25",
        "--quiet",
        "--log",
        &path(&log),
        "--plot",
        &path(&svg),
    ]);
    let text = std::fs::read_to_string(&log).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("epoch,lr,train_loss,val_loss,val_accuracy,train_accuracy,seconds,grad_norm_W,grad_norm_b")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 4);
    for (row, epoch) in rows.iter().zip(summary["history"].as_array().unwrap()) {
        assert_eq!(row[0], epoch["epoch"].to_string());
        assert_eq!(row[2].parse::<f64>().unwrap(), a_f64(&epoch["train_loss"]));
        assert_eq!(row[3].parse::<f64>().unwrap(), a_f64(&epoch["val_loss"]));
        // No one-hot target: no accuracy.
        assert_eq!(row[4], "");
        assert_eq!(
            row[7].parse::<f64>().unwrap(),
            a_f64(&epoch["grad_norms"][0])
        );
    }
    let drawn = std::fs::read_to_string(&svg).unwrap();
    assert!(drawn.starts_with("<svg"));
    // The texts of the picture: titles, axis labels, the legends.
    let texts: Vec<&str> = drawn
        .split("<text")
        .skip(1)
        .filter_map(|t| {
            t.split_once('>')
                .and_then(|(_, rest)| rest.split("</text>").next())
        })
        .map(str::trim)
        .collect();
    for label in [
        "training loss",
        "validation loss",
        "epoch",
        "mean loss",
        "W",
        "b",
    ] {
        assert!(
            texts.contains(&label),
            "the plot has no text '{label}': {texts:?}"
        );
    }
    assert!(
        texts.iter().any(|t| t.starts_with("Gradient norm")),
        "{texts:?}"
    );
    ok(&[
        "train",
        &net,
        "--data",
        &csv,
        "--epochs",
        "2",
        "--quiet",
        "--plot",
        &path(&png),
    ]);
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
}

/// `symgrad ARGS` must fail with status 2, saying `says`.
fn refused(args: &[&str], says: &str) {
    let out = symgrad(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(says), "{args:?}: expected '{says}' in:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_input_is_status_2_with_a_message() {
    let dir = scratch("train-bad");
    let (net, csv) = linear(&dir, 8);
    let t = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["train", &net, "--data", &csv, "--epochs", "1", "--quiet"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let check = |extra: &[&str], says: &str| {
        let args = t(extra);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&refs, says);
    };
    check(&["--optimizer", "adamw"], "invalid value 'adamw'");
    check(
        &["--learning-rate", "0.1"],
        "unexpected argument '--learning-rate'",
    );
    check(&["--lr", "0"], "learning rate must be a positive number");
    check(&["--lr", "-0.5"], "learning rate must be a positive number");
    check(&["--batch-size", "0"], "--batch-size must be at least 1");
    check(&["--decay", "exp"], "not a decay");
    check(&["--validation", "1"], "validation fraction");
    check(&["--early-stopping", "2"], "needs validation rows");
    check(&["--plot", "run.jpg"], "must end in .svg or .png");
    check(&["--rows", "3..99"], "reach past");
    refused(
        &["cv", &net, "--data", &csv, "--folds", "9"],
        "9 folds need at least 9 rows",
    );
    refused(
        &[
            "search",
            &net,
            "--data",
            &csv,
            "--trials",
            "2",
            "--space",
            "lr=log:1e-4:1e-1, momentun=0.1:0.9",
        ],
        "'momentun' is not a training option",
    );

    // A header that does not fit the network, and a cell that is not finite.
    let wide = dir.join("wide.csv");
    std::fs::write(&wide, "x0,x1,x2,y\n1,2,3,4\n").unwrap();
    refused(
        &["train", &net, "--data", &path(&wide)],
        "the network needs 3 columns",
    );
    let nan = dir.join("nan.csv");
    std::fs::write(&nan, "x0,x1,y\n1,2,3\n4,NaN,6\n").unwrap();
    refused(
        &["train", &net, "--data", &path(&nan)],
        "line 3, column 2 (x1)",
    );

    // Model files: missing, not JSON, of another format, and one whose
    // network no longer parses.
    refused(
        &["predict", &path(&dir.join("none.json")), "--data", &csv],
        "cannot read the model file",
    );
    let corrupt = dir.join("corrupt.json");
    std::fs::write(
        &corrupt,
        "{\"format\": \"symgrad-model\",\n \"version\": 1,",
    )
    .unwrap();
    refused(
        &["predict", &path(&corrupt), "--data", &csv],
        "line 2, column",
    );
    let params = dir.join("params.json");
    ok(&["net", "init", &net, "-o", &path(&params)]);
    refused(
        &["predict", &path(&params), "--data", &csv],
        "this is a parameter file",
    );
    let model = dir.join("m.json");
    ok(&[
        "train",
        &net,
        "--data",
        &csv,
        "--epochs",
        "1",
        "--quiet",
        "--save",
        &path(&model),
    ]);
    let mut file = read_json(&model);
    file["network"] = Value::from(train_common::LINEAR.replace("W @ x", "W @@ x"));
    let broken = dir.join("broken.json");
    std::fs::write(&broken, file.to_string()).unwrap();
    let out = symgrad(&["predict", &path(&broken), "--data", &csv]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("network does not build"), "{err}");
    // The parse error is shown against the embedded text, with a caret.
    assert!(err.contains("p = W @@ x + b") && err.contains('^'), "{err}");
}

#[test]
fn a_diverging_run_names_the_epoch_and_leaves_no_model_file() {
    let dir = scratch("train-diverge");
    let (net, csv) = linear(&dir, 20);
    let model = dir.join("m.json");
    let log = dir.join("log.csv");
    // At lr 10 each step multiplies the error by about -(2·10·|x|² - 1):
    // it reaches inf within a few dozen epochs.
    let out = symgrad(&[
        "train",
        &net,
        "--data",
        &csv,
        "--lr",
        "10",
        "--epochs",
        "200",
        "--quiet",
        "--save",
        &path(&model),
        "--log",
        &path(&log),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("diverged at epoch "), "{err}");
    assert!(err.contains("no model file was written"), "{err}");
    assert!(!model.exists());
    // The log has the epochs before it, each finite.
    let epoch: usize = err
        .split("diverged at epoch ")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        text.lines().count(),
        epoch,
        "a header and the {} epochs before",
        epoch - 1
    );
    // An existing model file is left as it was.
    std::fs::write(&model, "the old model").unwrap();
    let out = symgrad(&[
        "train",
        &net,
        "--data",
        &csv,
        "--lr",
        "10",
        "--epochs",
        "200",
        "--quiet",
        "--save",
        &path(&model),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("was left as it was"));
    assert_eq!(std::fs::read_to_string(&model).unwrap(), "the old model");
    assert_eq!(
        files(&dir),
        ["linear.csv", "linear.sg", "log.csv", "m.json"]
    );
}

/// A digits network with batch norm (a learned scale and shift) and dropout.
const DIGITS_BN: &str = "input  x[64]
target y[10]
param  W1[16, 64] ~ he
param  b1[16]     = 0
param  g[16]      = 1
param  c[16]      = 0
param  W2[10, 16] ~ xavier
param  b2[10]     = 0
a1 = dropout(relu(batchnorm(W1 @ (x / 16) + b1, g, c)), 0.2)
p = softmax(W2 @ a1 + b2)
loss = cross_entropy(p, y)
";

#[test]
fn batch_norm_statistics_are_saved_and_prediction_runs_in_inference_mode() {
    let dir = scratch("train-batchnorm");
    let net = dir.join("bn.sg");
    std::fs::write(&net, DIGITS_BN).unwrap();
    let csv = digits_csv();
    let model = dir.join("bn.model.json");
    let summary = json(&[
        "train",
        &path(&net),
        "--data",
        &csv,
        "--rows",
        "0..400",
        "--validation-rows",
        "0..100",
        "--epochs",
        "3",
        "--optimizer",
        "adam",
        "--lr",
        "0.01",
        "--quiet",
        "--save",
        &path(&model),
    ]);
    let file = read_json(&model);
    // The running mean and variance of the one batchnorm, moved from their
    // start (0 and 1) by training.
    let state = file["state"].as_object().unwrap();
    assert_eq!(state.len(), 2, "{state:?}");
    for (name, entry) in state {
        let data = entry["data"].as_array().unwrap();
        assert_eq!(data.len(), 16, "{name}");
        let start = if name.contains("var") { 1.0 } else { 0.0 };
        assert!(
            data.iter().any(|v| v.as_f64().unwrap() != start),
            "{name} never moved"
        );
    }
    // Prediction on the validation rows is the trainer's inference-mode
    // evaluation (dropout off, running statistics), and is deterministic.
    let text = std::fs::read_to_string(&csv).unwrap();
    let val = dir.join("val.csv");
    std::fs::write(
        &val,
        text.lines().take(101).collect::<Vec<_>>().join("\n") + "\n",
    )
    .unwrap();
    let a = json(&["predict", &path(&model), "--data", &path(&val)]);
    let b = json(&["predict", &path(&model), "--data", &path(&val)]);
    assert_eq!(a, b);
    assert_eq!(a["accuracy"], summary["val_accuracy"]);
    assert!(close(a_f64(&a["loss"]), a_f64(&summary["val_loss"])));
    // The running statistics are used: without them (start values), the
    // loss is another.
    let mut reset = file.clone();
    for (name, entry) in reset["state"].as_object_mut().unwrap() {
        let start = if name.contains("var") { 1.0 } else { 0.0 };
        let n = entry["data"].as_array().unwrap().len();
        entry["data"] = Value::from(vec![start; n]);
    }
    let reset_path = dir.join("reset.json");
    std::fs::write(&reset_path, reset.to_string()).unwrap();
    let c = json(&["predict", &path(&reset_path), "--data", &path(&val)]);
    assert_ne!(a_f64(&c["loss"]), a_f64(&a["loss"]));
}

#[test]
fn training_goes_on_from_a_model_file() {
    // Plain SGD keeps no state and --no-shuffle fixes the order, so two
    // epochs at once are one epoch, saved, then one more from the file.
    let dir = scratch("train-resume");
    let (net, csv) = linear(&dir, 12);
    let run = |epochs: &str, from: Option<&std::path::Path>, to: &std::path::Path| {
        let (to, from) = (path(to), from.map(path));
        let mut args = vec![
            "train",
            &net,
            "--data",
            &csv,
            "--lr",
            "0.01",
            "--batch-size",
            "5",
            "--no-shuffle",
            "--quiet",
            "--epochs",
            epochs,
            "--save",
            &to,
        ];
        if let Some(f) = &from {
            args.extend(["--params", f.as_str()]);
        }
        ok(&args);
        read_json(std::path::Path::new(&to))
    };
    let at_once = run("2", None, &dir.join("two.json"));
    run("1", None, &dir.join("one.json"));
    let resumed = run("1", Some(&dir.join("one.json")), &dir.join("resumed.json"));
    assert_eq!(at_once["params"], resumed["params"]);
    // A model file of another network is refused, naming the parameter.
    let other = dir.join("other.sg");
    std::fs::write(
        &other,
        LINEAR.replace("W[1, 2]", "W[1, 3]").replace("x[2]", "x[3]"),
    )
    .unwrap();
    let wide = dir.join("wide.csv");
    std::fs::write(&wide, "a,b,c,y\n1,2,3,4\n").unwrap();
    refused(
        &[
            "train",
            &path(&other),
            "--data",
            &path(&wide),
            "--params",
            &path(&dir.join("one.json")),
        ],
        "parameter 'W' has shape [1, 2] in the model file",
    );
}

#[test]
fn a_regression_model_predicts_its_output_values() {
    let dir = scratch("train-regression");
    let (net, csv) = linear(&dir, 10);
    let model = dir.join("m.json");
    // Standard error is a pipe here: no progress bar, nothing at all on it.
    let out = symgrad(&[
        "train",
        &net,
        "--data",
        &csv,
        "--epochs",
        "2",
        "--save",
        &path(&model),
    ]);
    assert!(out.status.success());
    assert_eq!(stderr(&out), "");
    let file = read_json(&model);
    let (w, b) = (params_of(&file, "W"), params_of(&file, "b"));
    let rows = linear_rows(10);
    // p = W x + b, computed here from the saved parameters.
    let expected: Vec<f64> = rows
        .iter()
        .map(|r| w[0] * r[0] + w[1] * r[1] + b[0])
        .collect();
    let text = ok(&["predict", &path(&model), "--data", &csv]);
    let got: Vec<f64> = text.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(got.len(), 10);
    for (g, e) in got.iter().zip(&expected) {
        assert!(close(*g, *e), "{g} vs {e}");
    }
    let as_json = json(&["predict", &path(&model), "--data", &csv]);
    let listed: Vec<f64> = as_json["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(a_f64)
        .collect();
    assert_eq!(listed, got);
    // The loss is the mean squared error of those predictions.
    let mse: f64 = got
        .iter()
        .zip(&rows)
        .map(|(p, r)| (p - r[2]).powi(2))
        .sum::<f64>()
        / 10.0;
    assert!(close(a_f64(&as_json["loss"]), mse));
    assert!(as_json.get("accuracy").is_none());
    let csv_out = ok(&["predict", &path(&model), "--data", &csv, "--format", "csv"]);
    assert_eq!(csv_out.lines().next(), Some("p"));
}

#[test]
fn the_summary_training_accuracy_is_the_kept_epochs_without_per_epoch_figures() {
    // The JSON summary measures the training accuracy after every epoch
    // (its history shows it); the text summary without `--log` measures it
    // once, after training. With early stopping the kept epoch need not be
    // the last: both must report the kept epoch's figure.
    let (net, csv) = (digits_net(), digits_csv());
    let args = [
        "train",
        &net,
        "--data",
        &csv,
        "--rows",
        "0..500",
        "--validation",
        "0.3",
        "--epochs",
        "12",
        "--optimizer",
        "adam",
        "--lr",
        "0.05",
        "--early-stopping",
        "2",
        "--quiet",
    ];
    let summary = json(&args);
    let best = summary["best_epoch"].as_u64().unwrap();
    let history = summary["history"].as_array().unwrap();
    let kept = &history[best as usize - 1];
    assert_eq!(summary["train_accuracy"], kept["train_accuracy"]);
    let accuracy = a_f64(&summary["train_accuracy"]);
    assert!(accuracy > 0.5, "training accuracy {accuracy}");
    let text = ok(&args);
    let row = text
        .lines()
        .find(|l| l.starts_with("accuracy"))
        .unwrap_or_else(|| panic!("no accuracy row in:\n{text}"));
    let shown = format!("{:.2} %", 100.0 * accuracy);
    assert!(
        row.split("  ").map(str::trim).any(|cell| cell == shown),
        "the text summary's accuracy row {row:?} lacks the training accuracy {shown}"
    );
}

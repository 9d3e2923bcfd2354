//! `symgrad net grad` as a user runs it: W3 and W3b against the NumPy
//! reference (tests/data/networks/w3_reference.json) to 1e-9 relative, row
//! selection, and bad network files (status 2, a spanned error with a caret).

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/networks")
        .join(name)
}

fn symgrad(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_symgrad"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn grad_json(sg: &str, csv: &str, extra: &[&str]) -> Value {
    grad_json_at(&data(sg), &data(csv), extra)
}

/// `symgrad net grad SG --data CSV --format json EXTRA...`, which must succeed.
fn grad_json_at(sg: &std::path::Path, csv: &std::path::Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "net",
        "grad",
        sg.to_str().unwrap(),
        "--data",
        csv.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend(extra);
    let out = symgrad(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The contract's key order: loss, batch, gradient.
    assert!(out.stdout.starts_with(b"{\"loss\":"));
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

#[track_caller]
fn close(what: &str, got: &Value, want: &Value) {
    let (g, w) = (got.as_f64().unwrap(), want.as_f64().unwrap());
    let rel = (g - w).abs() / w.abs();
    assert!(rel <= 1e-9, "{what}: {g} vs {w} (relative {rel:e})");
}

fn check(key: &str, sg: &str, csv: &str, zero_sums: &[&str]) {
    let reference: Value =
        serde_json::from_str(&std::fs::read_to_string(data("w3_reference.json")).unwrap()).unwrap();
    let r = &reference[key];
    let out = grad_json(sg, csv, &[]);
    close("loss", &out["loss"], &r["loss"]);
    assert_eq!(out["batch"], r["batch"]);
    let mut total = 0.0;
    for p in ["W1", "b1", "W2", "b2"] {
        let (g, w) = (&out["gradient"][p], &r["gradient"][p]);
        assert_eq!(g["shape"], w["shape"], "{p}");
        close(&format!("{p} abs_sum"), &g["abs_sum"], &w["abs_sum"]);
        let sum = g["sum"].as_f64().unwrap();
        if zero_sums.contains(&p) {
            // Zero in exact arithmetic (softmax with cross-entropy).
            assert!(sum.abs() <= 1e-12 * g["abs_sum"].as_f64().unwrap(), "{p}");
        } else {
            close(&format!("{p} sum"), &g["sum"], &w["sum"]);
        }
        total += sum;
    }
    close("total_sum", &Value::from(total), &r["total_sum"]);
}

#[test]
fn w3_matches_numpy() {
    check("W3", "w3.sg", "w3_data.csv", &[]);
}

#[test]
fn w3b_matches_numpy() {
    check("W3b", "w3b.sg", "w3b_data.csv", &["W2", "b2"]);
}

#[test]
fn rows_select_a_batch_and_values_are_printed() {
    let all = grad_json("w3.sg", "w3_data.csv", &["--rows", "0..10"]);
    let reference = grad_json("w3.sg", "w3_data.csv", &[]);
    assert_eq!(all, reference);
    let two = grad_json("w3.sg", "w3_data.csv", &["--rows", "3..5", "--values"]);
    assert_eq!(two["batch"], 2);
    assert_eq!(
        two["gradient"]["b2"]["values"].as_array().unwrap().len(),
        10
    );
    let sg = data("w3.sg");
    let csv = data("w3_data.csv");
    let out = symgrad(&[
        "net",
        "grad",
        sg.to_str().unwrap(),
        "--data",
        csv.to_str().unwrap(),
        "--rows",
        "5..11",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[track_caller]
fn bad_file(src: &str, message: &str, underlined: &str) {
    let dir = std::env::temp_dir().join(format!("symgrad-net-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // One file per call: tests run in parallel and remove their files.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("bad{call}.sg"));
    std::fs::write(&path, src).unwrap();
    let csv = data("w3_data.csv");
    let out = symgrad(&[
        "net",
        "grad",
        path.to_str().unwrap(),
        "--data",
        csv.to_str().unwrap(),
    ]);
    std::fs::remove_file(&path).ok();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(message), "{err}");
    let carets = "^".repeat(underlined.chars().count());
    assert!(
        err.contains(&format!(" {carets}\n")) || err.ends_with(&carets),
        "{err}"
    );
    // The caret is under the right text.
    let lines: Vec<&str> = err.lines().collect();
    let caret_line = lines.iter().position(|l| l.contains('^')).unwrap();
    let col = lines[caret_line].find('^').unwrap();
    assert!(
        lines[caret_line - 1][col..].starts_with(underlined),
        "{err}"
    );
}

#[test]
fn bad_files_give_spanned_errors_and_status_2() {
    bad_file(
        "input x[784]\ntarget y[10]\nz = x + q\nloss = sum(z)\n",
        "unknown name 'q'",
        "q",
    );
    bad_file(
        "input x[10]\nparam W1[30, 784] = 0\nz = W1 @ x\nloss = sum(z)\n",
        "cannot multiply [30, 784] by [10]",
        "W1 @ x",
    );
    bad_file("input x[784]\ntarget y[10]\nz = sum(x)\n", "no 'loss", "");
    bad_file(
        "input x[784]\ntarget y[10]\nz = sum(x)\nz = sum(y)\nloss = z\n",
        "'z' is defined twice",
        "z",
    );
}

#[test]
fn bad_language_features_give_spanned_errors_and_status_2() {
    // A cycle, named and pointed at its first equation.
    bad_file(
        "input x[784]\ntarget y[10]\na = b + 1\nb = 2*a\nloss = sum(x) * a\n",
        "equations form a cycle: a -> b -> a",
        "a",
    );
    // Bad initializers.
    bad_file(
        "input x[784]\ntarget y[10]\nparam W[10, 784] ~ normal(0, s)\nloss = sum(W @ x)\n",
        "must be constants, but 's' is a name",
        "s",
    );
    bad_file(
        "input x[784]\ntarget y[10]\nparam W[10, 784] ~ gaussian(0, 1)\nloss = sum(W @ x)\n",
        "unknown distribution 'gaussian'",
        "gaussian",
    );
    bad_file(
        "input x[784]\ntarget y[10]\nparam W[10, 784] ~ uniform(1)\nloss = sum(W @ x)\n",
        "'uniform' takes 2 arguments, found 1",
        "uniform(1)",
    );
    // Bad shorthand.
    bad_file(
        "input x[784]; target y[10]\ndense 30 sigmoidal\nloss quadratic\n",
        "expected an activation after 'dense 30'",
        "sigmoidal",
    );
    bad_file(
        "input x[784]; target y[10]\ndense 30 sigmoid\nloss quadratic\n",
        "the last layer's output 'a1' has 30 entries, but the target 'y' has 10",
        "loss quadratic",
    );
    bad_file(
        "input x[784]; target y[10]\nz1 = 2\ndense 10 sigmoid\nloss quadratic\n",
        "'z1' is already defined on line 2",
        "dense 10 sigmoid",
    );
    // mse with mismatched shapes.
    bad_file(
        "input x[784]\ntarget y[10]\nloss = mse(x, y)\n",
        "[784]",
        "mse(x, y)",
    );
}

fn temp(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("symgrad-net-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn net(args: &[&str]) -> (String, String, Option<i32>) {
    let mut all = vec!["net"];
    all.extend(args);
    let out = symgrad(&all);
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code(),
    )
}

const DESIGN_SHORTHAND: &str =
    "input x[784]; target y[10]\ndense 30 sigmoid\ndense 10 sigmoid\nloss quadratic\n";

#[test]
fn expand_prints_the_design_example_expanded() {
    let path = temp("design.sg", DESIGN_SHORTHAND);
    let (out, err, code) = net(&["expand", path.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    insta::assert_snapshot!(out);
}

#[test]
fn the_expansion_is_the_same_network() {
    // `net expand`'s output is a network file with the same loss and gradient.
    let short = temp("short.sg", DESIGN_SHORTHAND);
    let (expanded, _, _) = net(&["expand", short.to_str().unwrap()]);
    let long = temp("long.sg", &expanded);
    for seed in ["0", "5"] {
        let a = grad_json(short.to_str().unwrap(), "w3_data.csv", &["--seed", seed]);
        let b = grad_json(long.to_str().unwrap(), "w3_data.csv", &["--seed", seed]);
        assert_eq!(a, b);
        assert!(a["loss"].as_f64().unwrap() > 0.0);
    }
    let a = grad_json(short.to_str().unwrap(), "w3_data.csv", &["--seed", "1"]);
    let b = grad_json(short.to_str().unwrap(), "w3_data.csv", &["--seed", "2"]);
    assert_ne!(
        a["loss"], b["loss"],
        "the seed changes the random initial weights"
    );
}

#[test]
fn init_writes_parameters_that_grad_reads_back() {
    let short = temp("init.sg", DESIGN_SHORTHAND);
    let params = short.with_file_name("init.json");
    let (out, err, code) = net(&[
        "init",
        short.to_str().unwrap(),
        "--seed",
        "9",
        "-o",
        params.to_str().unwrap(),
    ]);
    assert_eq!((code, out.as_str()), (Some(0), ""), "{err}");
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&params).unwrap()).unwrap();
    assert_eq!(file["format"], "symgrad-params");
    assert_eq!(file["version"], 1);
    assert_eq!(file["params"]["W1"]["shape"], serde_json::json!([30, 784]));
    assert_eq!(file["params"]["b2"]["data"].as_array().unwrap().len(), 10);
    // Loaded values are exactly the initializers' values.
    let seeded = grad_json(short.to_str().unwrap(), "w3_data.csv", &["--seed", "9"]);
    let loaded = grad_json(
        short.to_str().unwrap(),
        "w3_data.csv",
        &["--params", params.to_str().unwrap()],
    );
    assert_eq!(seeded, loaded);
    // W3's index formulas: saved and loaded, the NumPy reference still holds.
    let w3 = data("w3.sg");
    let w3_params = short.with_file_name("w3.json");
    let (_, err, code) = net(&[
        "init",
        w3.to_str().unwrap(),
        "-o",
        w3_params.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let direct = grad_json("w3.sg", "w3_data.csv", &[]);
    let loaded = grad_json(
        "w3.sg",
        "w3_data.csv",
        &["--params", w3_params.to_str().unwrap()],
    );
    assert_eq!(direct, loaded);
}

#[test]
fn grad_uses_the_loaded_parameters() {
    // loss = |W x - y|^2 / 2 with W = [[1, 2], [3, 4]], x = (1, -1), y = (0, 1):
    // W x - y = (-1, -2), loss = 2.5, dloss/dW = (W x - y) x^T.
    let sg = temp(
        "tiny.sg",
        "input x[2]\ntarget y[2]\nparam W[2, 2] ~ he\nloss = sum((W @ x - y)^2) / 2\n",
    );
    let csv = temp("tiny.csv", "x0,x1,y0,y1\n1,-1,0,1\n");
    let params = temp(
        "tiny.json",
        r#"{"format": "symgrad-params", "version": 1,
            "params": {"W": {"shape": [2, 2], "data": [1, 2, 3, 4]}}}"#,
    );
    let (out, err, code) = net(&[
        "grad",
        sg.to_str().unwrap(),
        "--data",
        csv.to_str().unwrap(),
        "--params",
        params.to_str().unwrap(),
        "--format",
        "json",
        "--values",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["loss"], 2.5);
    assert_eq!(
        v["gradient"]["W"]["values"],
        serde_json::json!([-1.0, 1.0, -2.0, 2.0])
    );
    // With --params, --seed only seeds dropout masks: none here, so the
    // output is the same.
    let (seeded, err, code) = net(&[
        "grad",
        sg.to_str().unwrap(),
        "--data",
        csv.to_str().unwrap(),
        "--params",
        params.to_str().unwrap(),
        "--format",
        "json",
        "--values",
        "--seed",
        "1",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(seeded, out);
}

/// A network with dropout and batchnorm, and six rows of data for it.
const REGULARIZED: &str = "input x[3]\ntarget y[2]\n\
    param W1[4, 3] = 0.5*sin(i*3 + j + 1)\nparam g[4] = 1\nparam c[4] = 0.1*i\n\
    param W2[2, 4] = 0.4*cos(i*4 + j)\nparam b2[2] = 0\n\
    z1 = W1 @ x\na1 = dropout(relu(g * batchnorm(z1) + c), 0.5)\n\
    a2 = softmax(W2 @ a1 + b2)\nloss = cross_entropy(a2, y)\n";

const REGULARIZED_CSV: &str = "x0,x1,x2,label\n0.5,-1,2,0\n1,0.25,-0.5,1\n-0.75,2,0,1\n\
    0.1,0.2,0.3,0\n-1,-0.5,1.5,1\n2,1,-1,0\n";

fn regularized(extra: &[&str]) -> Value {
    let sg = temp("regularized.sg", REGULARIZED);
    let csv = temp("regularized.csv", REGULARIZED_CSV);
    grad_json_at(&sg, &csv, extra)
}

#[test]
fn grad_applies_dropout_from_the_seed_and_batchnorm_over_the_rows() {
    // The CSV fills x and the one-hot y only: masks are not columns.
    let a = regularized(&["--seed", "3"]);
    assert_eq!(a["batch"], 6);
    let names: Vec<&String> = a["gradient"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["W1", "W2", "b2", "c", "g"]); // (serde_json sorts keys)
    assert!(a["loss"].as_f64().unwrap().is_finite());
    for p in ["W1", "g", "c", "W2", "b2"] {
        assert!(a["gradient"][p]["abs_sum"].as_f64().unwrap() > 0.0, "{p}");
    }
    // The same seed draws the same masks; another seed others.
    assert_eq!(a, regularized(&["--seed", "3"]));
    assert_ne!(a["loss"], regularized(&["--seed", "4"])["loss"]);
    // Batchnorm uses the statistics of the selected rows: a batch of one
    // normalizes to 0, so the loss is that of relu(c) alone, whatever x is.
    let one = regularized(&["--seed", "3", "--rows", "0..1"]);
    let other = regularized(&["--seed", "3", "--rows", "5..6"]);
    assert_eq!(one["batch"], 1);
    assert_eq!(one["gradient"]["g"]["abs_sum"], 0.0);
    assert_eq!(one["gradient"]["W1"]["abs_sum"], 0.0);
    assert_ne!(one["loss"], a["loss"]);
    assert!(other["loss"].as_f64().unwrap().is_finite());
}

#[test]
fn bad_dropout_and_batchnorm_calls_give_spanned_errors() {
    bad_file(
        "input x[784]
target y[10]
loss = sum(dropout(x, 1.5))
",
        "p is the probability of dropping an entry",
        "1.5",
    );
    bad_file(
        "input x[784]
target y[10]
loss = sum(dropout(x, sum(y)))
",
        "must be a constant number",
        "sum(y)",
    );
    bad_file(
        "input x[784]
target y[10]
loss = sum(batchnorm(x, y))
",
        "batchnorm takes 1 argument, batchnorm(a), or 3, batchnorm(a, gamma, beta), found 2",
        "batchnorm(x, y)",
    );
    bad_file(
        "input x[784]
target y[10]
param g[10] = 1
param b[784] = 0
loss = sum(batchnorm(x, g, b))
",
        "gamma 'g' has shape [10], but a feature vector of a is [784]",
        "batchnorm(x, g, b)",
    );
}

#[test]
fn bad_parameter_files_give_clear_errors_and_status_2() {
    let sg = temp(
        "pf.sg",
        "input x[2]\ntarget y[2]\nparam W[2, 2] = 0\nparam b[2] = 0\nloss = sum((W @ x + b - y)^2)\n",
    );
    let csv = temp("pf.csv", "x0,x1,y0,y1\n1,-1,0,1\n");
    let run = |params: &str| {
        let path = temp("pf.json", params);
        let (_, err, code) = net(&[
            "grad",
            sg.to_str().unwrap(),
            "--data",
            csv.to_str().unwrap(),
            "--params",
            path.to_str().unwrap(),
        ]);
        assert_eq!(code, Some(2), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        err
    };
    let head = r#"{"format": "symgrad-params", "version": 1, "params": "#;
    let w = r#""W": {"shape": [2, 2], "data": [1, 2, 3, 4]}"#;
    let b = r#""b": {"shape": [2], "data": [0, 0]}"#;
    let err = run(&format!("{head}{{{w}, {b}, \"c\": {{}}}}}}"));
    assert!(err.contains("pf.json: unknown parameter 'c'"), "{err}");
    let err = run(&format!("{head}{{{w}}}}}"));
    assert!(err.contains("missing parameter 'b' (shape [2])"), "{err}");
    let err = run(&format!("{head}{{{}, {b}}}}}", w.replace("[2, 2]", "[4]")));
    assert!(
        err.contains("'W' has shape [4] in the file, but the network declares [2, 2]"),
        "{err}"
    );
    // Not JSON: the line and a caret, through the same rendering as .sg files.
    let err = run(&format!("{head}{{\n  {w},\n  {b},\n}}}}"));
    assert!(err.contains("not valid JSON"), "{err}");
    assert!(err.contains("pf.json: line 4, column 1"), "{err}");
    assert!(err.contains("\n  | }}\n  | ^"), "{err}");
}

#[test]
fn path_enumeration_draws_the_same_masks_and_refuses_batchnorm() {
    let (sg, csv) = (
        temp("regularized_paths.sg", REGULARIZED),
        temp("regularized_paths.csv", REGULARIZED_CSV),
    );
    let (_, err, code) = net(&[
        "grad",
        sg.to_str().unwrap(),
        "--data",
        csv.to_str().unwrap(),
        "--mode",
        "paths",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("batchnorm normalizes over the samples of a batch"),
        "{err}"
    );
    assert!(err.contains("^^^^^^^^^^^^^"), "{err}");
    // Without batchnorm, both modes agree for the same seed.
    let dropout_only = temp(
        "dropout_only.sg",
        &REGULARIZED.replace("batchnorm(z1)", "z1"),
    );
    let run = |mode: &str| grad_json_at(&dropout_only, &csv, &["--seed", "6", "--mode", mode]);
    let (reverse, paths) = (run("reverse"), run("paths"));
    close("loss", &paths["loss"], &reverse["loss"]);
    for p in ["W1", "g", "c", "W2"] {
        let (a, b) = (&paths["gradient"][p], &reverse["gradient"][p]);
        close(&format!("{p} abs_sum"), &a["abs_sum"], &b["abs_sum"]);
    }
}

#[test]
fn bad_recurrences_and_blocks_give_spanned_errors_and_status_2() {
    // The forms of issue 9 are read and checked: their errors are spanned.
    bad_file(
        "input x[784]; target y[10]\nresidual\n  dense 30 relu\nloss quadratic\n",
        "unclosed 'residual' block",
        "residual",
    );
    bad_file(
        "input v[8, 8]\nh[0] = tanh(v[0])\nh[t] = tanh(v[t] + h[t-1]) for t in 5..2\nloss = sum(h[7])\n",
        "the range 5..2 is empty",
        "5..2",
    );
    bad_file(
        "input v[8, 8]\nh[t] = tanh(v[t] + h[t-1]) for t in 1..8\nloss = sum(h[7])\n",
        "this reads h[0] at t = 1, which no equation defines",
        "h[t-1]",
    );
    // A shape error inside a recurrence points at the expression as written.
    bad_file(
        "input v[8, 8]\nh[0] = tanh(v[0])\nh[t] = tanh(v[t] + sum(h[t-1], 0) @ v) for t in 1..8\nloss = sum(h[7])\n",
        "cannot multiply [] by [8, 8]",
        "sum(h[t-1], 0) @ v",
    );
    // A residual block whose output does not fit its input, under `end`.
    bad_file(
        "input x[4]\ntarget y[4]\nresidual\n  dense 3 relu\nend relu\nloss = sum(y)\n",
        "the skip connection adds them",
        "end relu",
    );
    // `net expand` reads the whole file and reports the same way.
    let path = temp("unclosed.sg", "input x[4]\nresidual\n  dense 4 relu\n");
    let (out, err, code) = net(&["expand", path.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(out.is_empty());
    assert!(err.contains("unclosed 'residual' block"), "{err}");
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("^^^^^^^^"), "{err}");
}

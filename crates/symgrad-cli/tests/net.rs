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
    let (sg, csv) = (data(sg), data(csv));
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
    let path = dir.join(format!("bad{}.sg", message.len()));
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

//! `symgrad net explain`, `symgrad net graph` and `symgrad net grad --mode
//! paths` as a user runs them.

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

fn data(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/networks")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

fn symgrad(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_symgrad"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn ok(args: &[&str]) -> String {
    let out = symgrad(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("symgrad-net-views-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn explain_prints_the_four_equations_in_text_and_latex() {
    let text = ok(&["net", "explain", &data("w3.sg")]);
    for line in [
        "Output error\n  δ2 = (a2 - y) ⊙ σ'(z2)\n",
        "  δ1 = (W2^T δ2) ⊙ σ'(z1)\n",
        "  ∂C/∂a1 = W2^T δ2\n  δ1 = ∂C/∂a1 ⊙ σ'(z1)\n",
        "  ∂C/∂W1 = δ1 x^T\n  ∂C/∂b1 = δ1\n",
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
    let latex = ok(&["net", "explain", &data("w3.sg"), "--format", "latex"]);
    assert!(
        latex.contains(
            "\\delta_{2} &= \\left(a_{2} - y\\right) \\odot \\sigma'\\left(z_{2}\\right) \\\\\n"
        ),
        "{latex}"
    );
    assert!(latex.contains("\\frac{\\partial C}{\\partial W_{1}} &= \\delta_{1} x^{\\top} \\\\\n"));
}

#[test]
fn explain_of_a_bad_file_is_status_2_with_a_caret() {
    let path = temp("bad.sg");
    std::fs::write(&path, "input x[2]\nz = W @ x\nloss = sum(z)\n").unwrap();
    let out = symgrad(&["net", "explain", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.sg: line 2") && err.contains('^'), "{err}");
}

#[test]
fn graph_is_valid_dot_with_equations_and_shapes() {
    let dot = ok(&["net", "graph", &data("w3.sg")]);
    let parsed = layout::gv::DotParser::new(&dot).process();
    assert!(parsed.is_ok(), "{dot}");
    for label in [
        "\"z1 = W1 @ x + b1 : [30]\"",
        "\"a1 = sigmoid(z1) : [30]\"",
        "\"z2 = W2 @ a1 + b2 : [10]\"",
        "\"a2 = sigmoid(z2) : [10]\"",
        "\"loss = sum((a2 - y)^2)/2\"",
        "\"param W1 : [30, 784]\"",
        "\"input x : [784]\"",
        "\"@ : [30]\"",
    ] {
        assert!(dot.contains(label), "{label} in\n{dot}");
    }
}

#[test]
fn graph_as_svg_to_a_file() {
    let path = temp("w3b.svg");
    let out = ok(&[
        "net",
        "graph",
        &data("w3b.sg"),
        "--format",
        "svg",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert!(out.is_empty());
    let svg = std::fs::read_to_string(&path).unwrap();
    let body = svg.trim_start();
    let body = match body.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").unwrap().1.trim_start(),
        None => body,
    };
    assert!(body.starts_with("<svg"), "{}", &svg[..200.min(svg.len())]);
    for name in ["z1 = W1 @ x + b1", "p = softmax(z2)", "param W2", "loss = "] {
        assert!(svg.contains(name), "{name}");
    }
}

fn grad_json(extra: &[&str]) -> Value {
    let (sg, csv) = (data("net232.sg"), data("net232_data.csv"));
    let mut args = vec!["net", "grad", &sg, "--data", &csv, "--format", "json"];
    args.extend(extra);
    serde_json::from_str(&ok(&args)).unwrap()
}

#[test]
fn grad_by_path_enumeration_agrees_with_reverse_mode() {
    let paths = grad_json(&["--mode", "paths"]);
    let reverse = grad_json(&[]);
    assert_eq!(paths["paths"], 26);
    assert!(reverse.get("paths").is_none());
    assert_eq!(paths["batch"], 3);
    let close = |a: &Value, b: &Value| {
        let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
        assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "{a} vs {b}");
    };
    close(&paths["loss"], &reverse["loss"]);
    for p in ["W1", "b1", "W2", "b2"] {
        let (g, r) = (&paths["gradient"][p], &reverse["gradient"][p]);
        assert_eq!(g["shape"], r["shape"]);
        close(&g["sum"], &r["sum"]);
        close(&g["abs_sum"], &r["abs_sum"]);
    }
    let with_values = grad_json(&["--mode", "paths", "--values"]);
    let reverse_values = grad_json(&["--values"]);
    let (a, b) = (
        with_values["gradient"]["W1"]["values"].as_array().unwrap(),
        reverse_values["gradient"]["W1"]["values"]
            .as_array()
            .unwrap(),
    );
    assert_eq!(a.len(), 6);
    a.iter().zip(b).for_each(|(x, y)| close(x, y));
    let text = ok(&[
        "net",
        "grad",
        &data("net232.sg"),
        "--data",
        &data("net232_data.csv"),
        "--mode",
        "paths",
    ]);
    assert!(text.contains("paths 26 "), "{text}");
}

#[test]
fn paths_past_the_limit_are_refused_with_status_2() {
    let (sg, csv) = (data("net232.sg"), data("net232_data.csv"));
    let out = symgrad(&[
        "net",
        "grad",
        &sg,
        "--data",
        &csv,
        "--mode",
        "paths",
        "--max-paths",
        "10",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("would visit 26 paths, more than the limit of 10"),
        "{err}"
    );
    // `net grad` has no forward mode to suggest.
    assert!(
        err.contains("or use --mode reverse, which is linear"),
        "{err}"
    );
    // A deeper network (10-10-10-10-10-10-2) at the default limit.
    let mut src = String::from("input x[10]\ntarget y[2]\n");
    let widths = [10, 10, 10, 10, 10, 10, 2];
    let mut prev = "x".to_string();
    for l in 1..widths.len() {
        src += &format!(
            "param W{l}[{}, {}] = 0.3*sin(i*7 + j + {l})\nparam b{l}[{}] = 0\n\
             z{l} = W{l} @ {prev} + b{l}\na{l} = sigmoid(z{l})\n",
            widths[l],
            widths[l - 1],
            widths[l]
        );
        prev = format!("a{l}");
    }
    src += &format!("loss = sum((a{} - y)^2)\n", widths.len() - 1);
    let path = temp("deep.sg");
    std::fs::write(&path, src).unwrap();
    let header: Vec<String> = (0..10)
        .map(|k| format!("x{k}"))
        .chain((0..2).map(|k| format!("y{k}")))
        .collect();
    let csv_path = temp("deep.csv");
    std::fs::write(
        &csv_path,
        format!("{}\n{}\n", header.join(","), ["0.5"; 12].join(",")),
    )
    .unwrap();
    let out = symgrad(&[
        "net",
        "grad",
        path.to_str().unwrap(),
        "--data",
        csv_path.to_str().unwrap(),
        "--mode",
        "paths",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("more than the limit of 1048576"), "{err}");
    assert!(err.contains("would visit "), "{err}");
}

/// `net emit` prints what `network!` generates: the 2-3-2 network's struct,
/// its workspaces and the kernel calls, formatted (the code itself is
/// compiled and checked against the interpreter in `symgrad-usage`).
#[test]
fn emit_prints_the_generated_network() {
    let code = ok(&["net", "emit", &data("net232.sg"), "--name", "Tiny"]);
    insta::assert_snapshot!("emit_net232", code);
    let f32 = ok(&["net", "emit", &data("net232.sg"), "--f32"]);
    assert!(f32.contains("pub struct Net {") && f32.contains("Vec<f32>"));
    let out = symgrad(&["net", "emit", &data("net232.sg"), "--name", "not a name"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a Rust identifier"));
}

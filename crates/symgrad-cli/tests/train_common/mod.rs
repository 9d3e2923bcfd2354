//! What the `train*` tests share: running the binary, scratch directories,
//! and a small linear network whose data is made here.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

pub fn digits_net() -> String {
    repo("nets/digits.sg").display().to_string()
}

pub fn digits_csv() -> String {
    repo("tests/data/digits.csv").display().to_string()
}

pub fn symgrad(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_symgrad"))
        .args(args)
        .output()
        .expect("the binary runs")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `symgrad ARGS`, which must succeed, and returns standard output.
pub fn ok(args: &[&str]) -> String {
    let out = symgrad(args);
    assert!(
        out.status.success(),
        "symgrad {args:?} failed: {}",
        stderr(&out)
    );
    stdout(&out)
}

/// Runs `symgrad ARGS --format json`, which must succeed.
pub fn json(args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    serde_json::from_str(&ok(&all)).expect("the output is JSON")
}

/// A fresh directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("symgrad-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn path(p: &Path) -> String {
    p.display().to_string()
}

/// `p = W x + b` with the squared error, W = [0.5, 0.5] and b = 0 at the start.
pub const LINEAR: &str = "input  x[2]
target y[1]
param  W[1, 2] = 0.5
param  b[1]    = 0
p = W @ x + b
loss = sum((p - y)^2)
";

/// `n` rows of `y = 2 x0 - x1 + 0.5` (plus a wobble, so that no step is
/// exact), on a fixed pseudo-random grid.
pub fn linear_rows(n: usize) -> Vec<[f64; 3]> {
    (0..n)
        .map(|i| {
            let x0 = ((i * 37 % 23) as f64 - 11.0) / 4.0;
            let x1 = ((i * 53 % 19) as f64 - 9.0) / 3.0;
            let y = 2.0 * x0 - x1 + 0.5 + 0.1 * ((i % 5) as f64 - 2.0);
            [x0, x1, y]
        })
        .collect()
}

/// Writes the linear network and `n` rows of its data into `dir`.
pub fn linear(dir: &Path, n: usize) -> (String, String) {
    let net = dir.join("linear.sg");
    let csv = dir.join("linear.csv");
    std::fs::write(&net, LINEAR).unwrap();
    let mut text = String::from("x0,x1,y\n");
    for r in linear_rows(n) {
        text.push_str(&format!("{},{},{}\n", r[0], r[1], r[2]));
    }
    std::fs::write(&csv, text).unwrap();
    (path(&net), path(&csv))
}

/// The file names in `dir`.
pub fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

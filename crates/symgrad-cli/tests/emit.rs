//! Snapshots of `symgrad emit` for the seed examples: formatted Rust that
//! computes the value and gradient (and Hessian) with straight-line code.

use std::process::Command;

fn emit(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_symgrad"))
        .arg("emit")
        .args(args)
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 source")
}

#[test]
fn seed() {
    insta::assert_snapshot!(emit(&["x^2*y + y + 2", "--name", "f"]));
}

#[test]
fn seed_with_hessian() {
    insta::assert_snapshot!(emit(&["x^2*y + y + 2", "--name", "quad", "--hessian"]));
}

#[test]
fn cos_of_square() {
    insta::assert_snapshot!(emit(&["cos(w²)", "--name", "g"]));
}

#[test]
fn nested_sigmoid_in_f32() {
    insta::assert_snapshot!(emit(&["g = σ(3w + 1); σ(2g - 1)", "--f32"]));
}

#[test]
fn product_network() {
    insta::assert_snapshot!(emit(&[
        "h1 = w*w; h2 = h1*h1; h3 = h2*h2; h4 = h3*h3; h5 = h4*h4; h5"
    ]));
}

#[test]
fn bad_names_are_refused() {
    for args in [
        &["x", "--name", "fn"][..],
        &["x", "--name", "2f"],
        &["self + 1"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_symgrad"))
            .arg("emit")
            .args(args)
            .output()
            .expect("the binary runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

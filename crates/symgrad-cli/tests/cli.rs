//! The `symgrad` binary as a user runs it: outputs, exit statuses, error messages.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn symgrad(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_symgrad"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn symgrad_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_symgrad"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("the binary finishes");
    writer
        .join()
        .expect("writer thread")
        .expect("stdin accepted the input");
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn ok(args: &[&str]) -> String {
    let o = symgrad(args);
    assert!(o.status.success(), "{args:?} failed: {}", stderr(&o));
    stdout(&o)
}

#[test]
fn the_seed_example() {
    // d/dx (x²y + y + 2) = 2xy = 24, d/dy = x² + 1 = 10 at (3, 4)
    assert_eq!(
        ok(&["diff", "x²y+y+2", "--at", "x=3,y=4"]),
        "∂f/∂x = 2*x*y = 24\n∂f/∂y = x^2 + 1 = 10\n"
    );
}

#[test]
fn every_mode_gives_the_seed_derivatives() {
    for mode in ["reverse", "forward", "paths"] {
        assert_eq!(
            ok(&["diff", "x^2*y + y + 2", "--mode", mode, "--at", "x=3,y=4"]),
            "∂f/∂x = 2*x*y = 24\n∂f/∂y = x^2 + 1 = 10\n",
            "{mode}"
        );
    }
}

#[test]
fn mode_all_shows_agreement_and_work() {
    let out = ok(&["diff", "x²y+y+2", "--mode", "all", "--at", "x=3,y=4"]);
    assert!(out.contains("reverse:\n  ∂f/∂x = 2*x*y = 24"), "{out}");
    assert!(out.contains("paths:\n"), "{out}");
    let table_rows: Vec<&str> = out.lines().skip_while(|l| !l.starts_with("mode")).collect();
    assert!(
        table_rows[2].starts_with("forward") && table_rows[2].contains("yes"),
        "{out}"
    );
    assert!(
        table_rows[3].starts_with("paths") && table_rows[3].contains("yes"),
        "{out}"
    );
    assert!(
        table_rows[4].starts_with("numeric") && table_rows[4].contains("approximately"),
        "{out}"
    );
}

#[test]
fn numeric_mode_prints_its_error() {
    let out = ok(&["diff", "sin(x)*y", "--mode", "numeric", "--at", "x=1,y=2"]);
    assert!(out.contains("central difference ≈"), "{out}");
    assert!(out.contains("error"), "{out}");
    let o = symgrad(&["diff", "sin(x)", "--mode", "numeric"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--at"), "{}", stderr(&o));
}

#[test]
fn json_follows_the_contract() {
    let out = ok(&[
        "diff",
        "x^2*y + y + 2",
        "--at",
        "x=3,y=4",
        "--hessian",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(v["expr"], "x^2*y + y + 2");
    assert_eq!(v["vars"], serde_json::json!(["x", "y"]));
    assert_eq!(v["mode"], "reverse");
    assert_eq!(v["value"], 42.0);
    assert_eq!(v["gradient"][0]["wrt"], "x");
    assert_eq!(v["gradient"][0]["expr"], "2*x*y");
    assert_eq!(v["gradient"][0]["value"], 24.0);
    assert_eq!(v["gradient"][1]["value"], 10.0);
    // Hessian [[8, 6], [6, 0]]
    assert_eq!(v["hessian"][0][0]["value"], 8.0);
    assert_eq!(v["hessian"][0][1]["value"], 6.0);
    assert_eq!(v["hessian"][1][0]["value"], 6.0);
    assert_eq!(v["hessian"][1][1]["expr"], "0");
    assert!(v["stats"]["passes"].is_number());
}

#[test]
fn json_prints_non_finite_values_as_strings() {
    let out = ok(&["diff", "ln(x)", "--at", "x=0", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(v["value"], "-inf");
    assert_eq!(v["gradient"][0]["value"], "inf");
}

#[test]
fn order_k_in_json() {
    // W5: the 10th derivative of sin composed 7 times, at 0.5.
    let out = ok(&[
        "diff",
        "sin(sin(sin(sin(sin(sin(sin(x)))))))",
        "--order",
        "10",
        "--at",
        "x=0.5",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(v["derivative"]["wrt"], "x");
    assert_eq!(v["derivative"]["order"], 10);
    let value = v["derivative"]["value"].as_f64().expect("a number");
    assert!(
        (value - -115005.691264476).abs() < 1e-6 * 115005.7,
        "{value}"
    );
    assert!(v.get("gradient").is_none());
}

#[test]
fn order_k_in_text() {
    assert_eq!(ok(&["diff", "x^5", "--order", "3"]), "∂³f/∂x³ = 60*x^2\n");
}

#[test]
fn hessian_in_text() {
    let out = ok(&["diff", "x^2*y + y + 2", "--hessian", "--at", "x=3,y=4"]);
    assert!(out.contains("∂²f/∂x² = 2*y = 8\n"), "{out}");
    assert!(out.contains("∂²f/∂x∂y = 2*x = 6\n"), "{out}");
    assert!(out.contains("∂²f/∂y² = 0 = 0\n"), "{out}");
}

#[test]
fn latex_output() {
    let out = ok(&["diff", "x^2*y", "--wrt", "x", "--format", "latex"]);
    assert!(
        out.starts_with("\\frac{\\partial f}{\\partial x} = "),
        "{out}"
    );
}

#[test]
fn wrt_selects_variables() {
    assert_eq!(ok(&["diff", "x*y + y", "--wrt", "y"]), "∂f/∂y = x + 1\n");
    let o = symgrad(&["diff", "x*y", "--wrt", "z"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("'z'"), "{}", stderr(&o));
}

#[test]
fn eval_a_formula() {
    assert_eq!(ok(&["eval", "x²y+y+2", "--at", "x=3,y=4"]), "42\n");
    assert_eq!(ok(&["eval", "sin(pi/2)"]), "1\n");
    assert_eq!(
        ok(&["eval", "x^2", "--at", "x=pi/4"]),
        format!("{}\n", (std::f64::consts::PI / 4.0).powi(2))
    );
}

#[test]
fn formula_from_stdin_and_file() {
    let o = symgrad_stdin(&["eval", "-", "--at", "x=2"], "u = x*x\nu + 1\n");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "5\n");
    let dir = std::env::temp_dir().join(format!("symgrad-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("f.txt");
    std::fs::write(&path, "x^3").expect("write");
    assert_eq!(
        ok(&["diff", "--file", path.to_str().expect("utf-8 path")]),
        "∂f/∂x = 3*x^2\n"
    );
}

#[test]
fn malformed_formulas_give_status_2_and_a_caret() {
    for bad in [
        "x + * y", "sin(x", "x)", "2 +", "foo(x)", "x $ y", "", "max(x)", "x ^", "(", "a = ; a",
    ] {
        let o = symgrad(&["diff", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
        let err = stderr(&o);
        assert!(err.starts_with("error: "), "{bad:?}: {err}");
        if !bad.is_empty() {
            assert!(err.contains('^'), "{bad:?} has no caret: {err}");
        }
        assert!(!err.contains("panicked"), "{bad:?}: {err}");
    }
}

#[test]
fn bad_points_give_status_2() {
    for at in ["x=", "x", "z=1", "x=1,x=2", "x=y", "x=1,,y=2"] {
        let o = symgrad(&["eval", "x*y", "--at", at]);
        assert_eq!(o.status.code(), Some(2), "{at:?}");
        assert!(stderr(&o).starts_with("error: "), "{at:?}: {}", stderr(&o));
    }
    let o = symgrad(&["eval", "x*y", "--at", "x=1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("'y'"), "{}", stderr(&o));
}

#[test]
fn absurd_nesting_is_refused_cleanly() {
    let deep = format!("{}x{}", "(".repeat(100_000), ")".repeat(100_000));
    let o = symgrad_stdin(&["diff", "-"], &deep);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("deep"),
        "{}",
        &stderr(&o)[..200.min(stderr(&o).len())]
    );
}

#[test]
fn a_sum_of_100000_terms_is_differentiated_and_evaluated() {
    let terms: Vec<String> = (0..100_000).map(|i| format!("{}*x^2", i % 7 + 1)).collect();
    let sum = terms.join(" + ");
    // Σ c_i x² with Σ c_i = 399,997 (each 1..7 block sums to 28): derivative 2·399,997·x.
    let total: u64 = (0..100_000u64).map(|i| i % 7 + 1).sum();
    let o = symgrad_stdin(&["diff", "-", "--at", "x=1"], &sum);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!("∂f/∂x = {}*x = {}\n", 2 * total, 2 * total)
    );
}

#[test]
fn path_limit_is_named() {
    let mut f = String::from("h0 = w");
    for i in 1..=25 {
        f.push_str(&format!("; h{i} = h{}*h{}", i - 1, i - 1));
    }
    f.push_str("; h25");
    let o = symgrad(&["diff", &f, "--mode", "paths"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("33554432"), "{}", stderr(&o));
    assert!(stderr(&o).contains("--max-paths"), "{}", stderr(&o));
}

#[test]
fn product_network_by_paths() {
    let f = "h1 = w*w; h2 = h1*h1; h3 = h2*h2; h4 = h3*h3; h5 = h4*h4; h5";
    assert_eq!(ok(&["diff", f, "--mode", "paths"]), "∂f/∂w = 32*w^31\n");
}

#[test]
fn graph_as_dot_and_svg() {
    let dot = ok(&["graph", "x^2*y + y", "--grad", "--at", "x=3,y=4"]);
    assert!(dot.starts_with("digraph"), "{dot}");
    assert!(dot.contains("adjoint 24"), "{dot}");
    let svg = ok(&["graph", "cos(w^2)", "--format", "svg"]);
    assert!(svg.contains("<svg"), "{}", &svg[..100.min(svg.len())]);
}

#[test]
fn explain_walks_through_backpropagation() {
    let out = ok(&["explain", "x^2*y + y + 2", "--at", "x=3,y=4"]);
    assert!(out.contains("Forward pass"), "{out}");
    assert!(out.contains("Backward pass"), "{out}");
    assert!(out.contains("∂f/∂x = x̄ = 24"), "{out}");
    // Adjoints are written with a combining macron (U+0304) after the name.
    assert!(out.contains("∂f/∂y = y\u{304} = 10"), "{out}");
}

#[test]
fn help_and_usage_errors() {
    let out = ok(&["--help"]);
    assert!(out.contains("diff") && out.contains("explain"), "{out}");
    let o = symgrad(&["diff"]);
    assert_eq!(o.status.code(), Some(2));
    let o = symgrad(&["diff", "x", "--mode", "sideways"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn bad_options_give_status_2() {
    for args in [
        &["diff", "x", "--order", "0"][..],
        &["diff", "x^3", "--wrt", "x,x"],
        &["diff", "x*y", "--order", "2"],
        &["explain", "sin(x)"],
        &["diff", "x", "--at", "x=(1"],
    ] {
        let o = symgrad(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).starts_with("error"), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn diff_format_rust_is_the_emitted_function() {
    let diff = ok(&["diff", "x^2*y + y + 2", "--format", "rust"]);
    let emit = ok(&["emit", "x^2*y + y + 2", "--name", "f"]);
    assert_eq!(diff, emit);
    assert!(
        diff.contains("pub fn f(x: f64, y: f64) -> (f64, [f64; 2])"),
        "{diff}"
    );
    let o = symgrad(&["diff", "x*y", "--format", "rust", "--wrt", "x"]);
    assert_eq!(o.status.code(), Some(2));
}

/// The edge cases of issue 10: every input gives an answer or an error.
#[test]
fn a_formula_without_variables_prints_its_value() {
    assert_eq!(
        ok(&["diff", "3"]),
        "f = 3 has no variables: its value is 3, and every derivative is 0\n"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["diff", "2*pi", "--format", "json"])).unwrap();
    assert_eq!(json["gradient"], serde_json::json!([]));
    assert!((json["value"].as_f64().unwrap() - std::f64::consts::TAU).abs() < 1e-15);
}

#[test]
fn malformed_numbers_and_constant_division_by_zero_are_errors() {
    let o = symgrad(&["diff", "1e"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("malformed number '1e': the exponent has no digits"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("| ^^"), "{}", stderr(&o));
    let o = symgrad(&["diff", "x/0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("division by zero"), "{}", stderr(&o));
    // The caret is under the `/`.
    assert!(stderr(&o).contains("| x/0\n  |  ^\n"), "{}", stderr(&o));
    let o = symgrad(&["diff", "x/(2 - 2)"]);
    assert!(stderr(&o).contains("division by zero"), "{}", stderr(&o));
}

#[test]
fn zero_to_the_x_has_derivative_zero() {
    // 0^x = 0 for x > 0, so its derivative is 0, not ln(0)*0^x = NaN.
    assert_eq!(ok(&["diff", "0^x", "--at", "x=2"]), "∂f/∂x = 0 = 0\n");
}

#[test]
fn pi_before_letters_multiplies() {
    // 2πr is 2·π·r; d/dr = 2π.
    let out = ok(&["diff", "2πr", "--at", "r=1"]);
    assert_eq!(
        out,
        format!("∂f/∂r = 2*pi = {}\n", 2.0 * std::f64::consts::PI)
    );
    // ASCII `pir` stays one name.
    assert_eq!(ok(&["diff", "2pir", "--at", "pir=1"]), "∂f/∂pir = 2 = 2\n");
}

#[test]
fn only_variables_the_output_uses_are_variables() {
    // q appears only in the unused binding h.
    assert_eq!(
        ok(&["diff", "h = q + 1; x^2", "--at", "x=3"]),
        "∂f/∂x = 2*x = 6\n"
    );
    assert_eq!(
        ok(&["diff", "h = q + 1; x^2", "--at", "x=3,q=5"]),
        "∂f/∂x = 2*x = 6\n"
    );
}

#[test]
fn a_long_list_of_missing_variables_is_cut() {
    let sum: Vec<String> = (0..100_000).map(|i| format!("x{i}")).collect();
    // (`diff` substitutes a partial point; `eval` needs every value.)
    let o = symgrad_stdin(&["eval", "-", "--at", "x0=1"], &sum.join(" + "));
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.len() < 300, "{} bytes", err.len());
    assert!(
        err.contains("'x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7', 'x8', 'x9', 'x10' and 99,989 more"),
        "{err}"
    );
}

#[test]
fn numeric_mode_estimates_hessians_and_kth_derivatives() {
    // d³/dx³ sin(x) = -cos(x)
    let out = ok(&[
        "diff", "sin(x)", "--mode", "numeric", "--order", "3", "--at", "x=0.5",
    ]);
    assert!(out.contains("∂³f/∂x³ = -cos(x)"), "{out}");
    assert!(out.contains("central difference ≈ -8.7758"), "{out}");
    // f = x³y: H = [[6xy, 3x²], [3x², 0]] = [[12, 3], [3, 0]] at (1, 2).
    let json: serde_json::Value = serde_json::from_str(&ok(&[
        "diff",
        "x^3*y",
        "--mode",
        "numeric",
        "--hessian",
        "--at",
        "x=1,y=2",
        "--format",
        "json",
    ]))
    .unwrap();
    let h = &json["numeric"]["hessian"];
    for (i, j, want) in [(0, 0, 12.0), (0, 1, 3.0), (1, 0, 3.0), (1, 1, 0.0)] {
        let got = h[i][j].as_f64().unwrap();
        assert!((got - want).abs() < 1e-6, "H[{i}][{j}] = {got}");
    }
}

#[test]
fn the_users_names_are_kept_and_chains_print_in_order() {
    assert_eq!(
        ok(&[
            "diff",
            "h1 = sin(x); h2 = sin(h1); h3 = sin(h2); h4 = sin(h3); h4"
        ]),
        "h1 = sin(x)\nh2 = sin(h1)\nh3 = sin(h2)\n∂f/∂x = cos(x)*cos(h1)*cos(h2)*cos(h3)\n"
    );
    // A 30-link chain: the factors in the chain's order.
    let mut src: Vec<String> = vec!["h1 = sin(x)".into()];
    src.extend((2..=30).map(|i| format!("h{i} = sin(h{})", i - 1)));
    src.push("h30".into());
    let out = ok(&["diff", &src.join("; ")]);
    let last = out.lines().last().unwrap();
    let want: Vec<String> = std::iter::once("cos(x)".to_string())
        .chain((1..30).map(|i| format!("cos(h{i})")))
        .collect();
    assert_eq!(last, format!("∂f/∂x = {}", want.join("*")));
    // And the printout still reads back to the same values.
    let o = ok(&["diff", &src.join("; "), "--at", "x=0.3", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&o).unwrap();
    let expr = json["gradient"][0]["expr"].as_str().unwrap();
    let again: f64 = ok(&["eval", expr, "--at", "x=0.3"]).trim().parse().unwrap();
    // d/dx of sin∘…∘sin (30 times) is the product of cos at each link.
    let exact: f64 = (0..30)
        .scan(0.3f64, |x, _| {
            let d = x.cos();
            *x = x.sin();
            Some(d)
        })
        .product();
    assert!((json["gradient"][0]["value"].as_f64().unwrap() - exact).abs() < 1e-14);
    assert!((again - exact).abs() < 1e-14, "{again} vs {exact}");
}

/// The derivative's printed form in one mode, by its name.
fn printed(args: &[&str], name: &str) -> String {
    let out = ok(args);
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} = ")))
        .unwrap_or_else(|| panic!("no {name} in {out}"))
        .to_string()
}

#[test]
fn the_three_modes_print_one_canonical_form() {
    let f = "n*kb*T*ln(V2/V1)";
    for mode in ["reverse", "forward", "paths"] {
        // ∂/∂V1 n kb T ln(V2/V1) = -n kb T / V1
        assert_eq!(
            printed(&["diff", f, "--mode", mode], "∂f/∂V1"),
            "-T*kb*n/V1",
            "{mode}"
        );
    }
    // ∂²f/∂V1∂V2 is exactly 0; mirrored entries print alike.
    let h = ["diff", f, "--hessian"];
    assert_eq!(printed(&h, "∂²f/∂V1∂V2"), "0");
    assert_eq!(printed(&h, "∂²f/∂V2∂V1"), "0");
    assert_eq!(printed(&h, "∂²f/∂V1²"), "T*kb*n/V1^2");
    for (a, b) in [("n", "T"), ("kb", "V1"), ("T", "V2")] {
        assert_eq!(
            printed(&h, &format!("∂²f/∂{a}∂{b}")),
            printed(&h, &format!("∂²f/∂{b}∂{a}"))
        );
    }
}

#[test]
fn fractions_combine_and_sums_are_sign_normalized() {
    // d/da softmax_a = e^a (e^b + e^c) / (e^a + e^b + e^c)^2, SymPy's simplified form.
    assert_eq!(
        printed(
            &["diff", "exp(a)/(exp(a) + exp(b) + exp(c))", "--wrt", "a"],
            "∂f/∂a"
        ),
        "exp(a)*(exp(b) + exp(c))/(exp(a) + exp(b) + exp(c))^2"
    );
    // 1/(v/c - 1) = c/(v - c) = -c/(c - v): one form for all three.
    let want = printed(&["diff", "c/(v - c)", "--wrt", "v"], "∂f/∂v");
    assert_eq!(want, "-c/(c - v)^2");
    for f in ["1/(v/c - 1)", "-c/(c - v)"] {
        let out = ok(&["diff", f, "--wrt", "v"]);
        assert_eq!(out, format!("∂f/∂v = {want}\n"), "{f}");
    }
    // and the values agree with finite differences
    let out = ok(&["diff", "1/(v/c - 1)", "--mode", "all", "--at", "v=0.3,c=2"]);
    assert!(out.contains("approximately (max error"), "{out}");
    assert!(!out.contains("NO"), "{out}");
}

#[test]
fn svg_pictures_scale_and_mark_the_output() {
    // Rosenbrock with 120 terms: about 2,300 nodes with its constants.
    let rosen: Vec<String> = (0..120)
        .map(|i| format!("100*(x{} - x{i}^2)^2 + (1 - x{i})^2", i + 1))
        .collect();
    let start = std::time::Instant::now();
    let o = symgrad_stdin(&["graph", "-", "--format", "svg"], &rosen.join(" + "));
    let elapsed = start.elapsed();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(elapsed.as_secs_f64() < 2.0, "{elapsed:?}");
    let svg = stdout(&o);
    assert_eq!(svg.matches(">output</text>").count(), 1);
    // The constant 100 is drawn at each of its 120 uses, not as one hub.
    assert_eq!(svg.matches("font-weight=\"bold\">100</text>").count(), 120);
    // Values to 4 significant digits.
    let out = ok(&["graph", "sin(x)", "--at", "x=1", "--format", "svg"]);
    assert!(out.contains("= 0.8415"), "{out}");
    // Too large to read: refused, pointing to DOT.
    let big: Vec<String> = (0..3000).map(|i| format!("x{i}*y{i}")).collect();
    let o = symgrad_stdin(&["graph", "-", "--format", "svg"], &big.join(" + "));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--format dot"), "{}", stderr(&o));
}

#[test]
fn at_with_some_variables_substitutes_them() {
    // f = x²y + y·z at x = 3: y·(z + 9), with ∂f/∂y = z + 9 and ∂f/∂z = y.
    assert_eq!(
        ok(&["diff", "x^2*y + y*z", "--at", "x=3"]),
        "f = y*(z + 9) with x = 3\n∂f/∂y = z + 9\n∂f/∂z = y\n"
    );
    // Substituting all but one variable leaves a derivative in that one;
    // the values agree with the full point.
    let partial = ok(&[
        "diff",
        "sin(x*y) + x^2",
        "--at",
        "y=0.5",
        "--format",
        "json",
    ]);
    let json: serde_json::Value = serde_json::from_str(&partial).unwrap();
    assert_eq!(json["vars"], serde_json::json!(["x"]));
    let expr = json["gradient"][0]["expr"].as_str().unwrap().to_string();
    let at_point: f64 = ok(&["eval", &expr, "--at", "x=1.2"])
        .trim()
        .parse()
        .unwrap();
    // d/dx (sin(xy) + x²) = y cos(xy) + 2x
    let want = 0.5 * (1.2f64 * 0.5).cos() + 2.4;
    assert!(
        (at_point - want).abs() < 1e-12,
        "{expr}: {at_point} vs {want}"
    );
}

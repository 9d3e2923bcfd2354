//! Values, gradients and Hessians checked against SymPy.
//!
//! `tests/data/reference.jsonl` holds formulas in our syntax with their value,
//! gradient and Hessian at a point, computed by SymPy (symbolic
//! differentiation, then 30-digit evaluation); `tests/data/make_reference.py`
//! made it. Every exact mode must agree with it to 1e-9 relative, and so must
//! the simplified derivatives after a trip through the printer and the parser.

use serde_json::Value;
use symgrad::diff::{self, Mode, Options};
use symgrad::eval::Program;
use symgrad::{parse::parse, print, simplify::simplify, NodeId};

struct Case {
    id: u64,
    formula: String,
    vars: Vec<String>,
    point: Vec<f64>,
    value: f64,
    gradient: Vec<f64>,
    hessian: Vec<Vec<f64>>,
}

fn cases() -> Vec<Case> {
    let text = include_str!("data/reference.jsonl");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("a JSON line");
            let vars: Vec<String> = v["vars"]
                .as_array()
                .expect("vars")
                .iter()
                .map(|s| s.as_str().expect("a name").to_string())
                .collect();
            let point = vars
                .iter()
                .map(|n| v["point"][n].as_f64().expect("a number"))
                .collect();
            let nums = |x: &Value| -> Vec<f64> {
                x.as_array()
                    .expect("an array")
                    .iter()
                    .map(|n| n.as_f64().expect("a number"))
                    .collect()
            };
            Case {
                id: v["id"].as_u64().expect("id"),
                formula: v["formula"].as_str().expect("formula").to_string(),
                vars,
                point,
                value: v["value"].as_f64().expect("value"),
                gradient: nums(&v["gradient"]),
                hessian: v["hessian"]
                    .as_array()
                    .expect("hessian")
                    .iter()
                    .map(nums)
                    .collect(),
            }
        })
        .collect()
}

/// Agreement to 1e-9 relative. Where SymPy's value is exactly zero a
/// relative test is meaningless; there the error is measured against `scale`,
/// the largest magnitude in the same gradient or Hessian (rounding in sums
/// that cancel exactly is relative to the terms), or 1e-12 absolute if all
/// of them are zero.
#[track_caller]
fn agree(ours: f64, reference: f64, scale: f64, what: &str, case: &Case) {
    let ok = if reference == 0.0 {
        ours.abs() <= (1e-9 * scale).max(1e-12)
    } else {
        (ours - reference).abs() <= 1e-9 * reference.abs()
    };
    assert!(
        ok,
        "case {} `{}` {what}: ours {ours:e}, SymPy {reference:e}",
        case.id, case.formula
    );
}

fn eval(g: &symgrad::Graph, vars: &[NodeId], nodes: &[NodeId], point: &[f64]) -> Vec<f64> {
    Program::compile(g, vars, nodes)
        .expect("compiles")
        .run(point)
}

#[test]
fn there_are_at_least_200_cases() {
    assert!(cases().len() >= 200);
}

#[test]
fn values_gradients_and_hessians_match_sympy_in_every_mode() {
    for case in cases() {
        let f = parse(&case.formula)
            .unwrap_or_else(|e| panic!("case {}: {}", case.id, e.render(&case.formula)));
        assert_eq!(f.var_names(), case.vars, "case {} variable order", case.id);
        let value = eval(&f.graph, &f.vars, &[f.output], &case.point)[0];
        agree(value, case.value, 0.0, "value", &case);
        let grad_scale = case.gradient.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let hess_scale = case
            .hessian
            .iter()
            .flatten()
            .fold(0.0f64, |m, x| m.max(x.abs()));
        for mode in Mode::EXACT {
            let mut g = f.graph.clone();
            let (_, hessian, _) =
                diff::hessian(&mut g, f.output, &f.vars, mode, Options::default())
                    .expect("differentiates");
            let (grad, _) =
                diff::gradient(&mut g, f.output, &f.vars, mode, Options::default()).expect("ok");
            for (i, v) in eval(&g, &f.vars, &grad, &case.point)
                .into_iter()
                .enumerate()
            {
                agree(
                    v,
                    case.gradient[i],
                    grad_scale,
                    &format!("{mode} ∂/∂{}", case.vars[i]),
                    &case,
                );
            }
            let flat: Vec<NodeId> = hessian.concat();
            let n = case.vars.len();
            for (k, v) in eval(&g, &f.vars, &flat, &case.point)
                .into_iter()
                .enumerate()
            {
                agree(
                    v,
                    case.hessian[k / n][k % n],
                    hess_scale,
                    &format!("{mode} Hessian {k}"),
                    &case,
                );
            }
        }
    }
}

#[test]
fn simplified_derivatives_survive_printing_and_parsing() {
    for case in cases() {
        let mut f = parse(&case.formula).expect("parses");
        let (grad, _) = diff::gradient(
            &mut f.graph,
            f.output,
            &f.vars,
            Mode::Reverse,
            Options::default(),
        )
        .expect("differentiates");
        let simple = simplify(&mut f.graph, &grad);
        let printed = print::text(&f.graph, &simple);
        for (i, var) in case.vars.iter().enumerate() {
            let text = printed.formula(i);
            let back =
                parse(&text).unwrap_or_else(|e| panic!("case {}: {}", case.id, e.render(&text)));
            // The derivative may not use every variable: give values by name.
            let point: Vec<f64> = back
                .var_names()
                .iter()
                .map(|n| {
                    case.point[case
                        .vars
                        .iter()
                        .position(|v| v == n)
                        .expect("a known variable")]
                })
                .collect();
            let v = eval(&back.graph, &back.vars, &[back.output], &point)[0];
            let scale = case.gradient.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            agree(
                v,
                case.gradient[i],
                scale,
                &format!("printed ∂/∂{var} = {text}"),
                &case,
            );
        }
    }
}

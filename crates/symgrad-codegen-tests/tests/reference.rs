//! Generated gradients and Hessians against SymPy (f64, 1e-9 relative) and
//! against the f64 results (f32, to f32 accuracy).

use symgrad_codegen_tests::CASES;

/// 1e-9 relative; an exact zero is measured against the largest entry of the
/// same vector (see tests/reference.rs at the root for why).
fn agree(ours: f64, reference: f64, scale: f64, tol: f64) -> bool {
    if reference == 0.0 {
        ours.abs() <= (tol * scale).max(1e-12)
    } else {
        (ours - reference).abs() <= tol * reference.abs()
    }
}

fn scale(xs: &[f64]) -> f64 {
    xs.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

#[test]
fn generated_f64_code_matches_sympy() {
    assert!(CASES.len() >= 200);
    for case in CASES {
        let (v, g, h) = (case.run_f64)(case.point);
        assert!(
            agree(v, case.value, 0.0, 1e-9),
            "case {} `{}` value {v} vs {}",
            case.id,
            case.formula,
            case.value
        );
        for (k, (&ours, &reference)) in g.iter().zip(case.gradient).enumerate() {
            assert!(
                agree(ours, reference, scale(case.gradient), 1e-9),
                "case {} `{}` gradient {k}: {ours} vs {reference}",
                case.id,
                case.formula
            );
        }
        for (k, (&ours, &reference)) in h.iter().zip(case.hessian).enumerate() {
            assert!(
                agree(ours, reference, scale(case.hessian), 1e-9),
                "case {} `{}` Hessian {k}: {ours} vs {reference}",
                case.id,
                case.formula
            );
        }
    }
}

#[test]
fn generated_f32_code_matches_to_f32_accuracy() {
    // f32 carries about 7 digits; rounding the point to f32 and the
    // intermediate rounding of a few dozen operations can cost a few more in
    // ill-conditioned cases, so compare normwise at 1e-3 of each vector's scale.
    let mut worst = 0.0f64;
    for case in CASES {
        let (v, g, h) = (case.run_f32)(case.point);
        let check = |ours: &[f64], reference: &[f64], what: &str| -> f64 {
            let s = scale(reference).max(1e-30);
            let err = ours
                .iter()
                .zip(reference)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max)
                / s;
            assert!(
                err <= 1e-3,
                "case {} `{}` f32 {what}: normwise error {err:e}",
                case.id,
                case.formula
            );
            err
        };
        worst = worst.max(check(&[v], &[case.value], "value"));
        worst = worst.max(check(&g, case.gradient, "gradient"));
        worst = worst.max(check(&h, case.hessian, "Hessian"));
    }
    println!("worst normwise f32 error: {worst:e}");
}

//! Each case through all three exact modes, side by side, as insta snapshots:
//! the derivatives each mode prints, their values at a point, and the work
//! each did. The snapshot shows at a glance that the modes agree.

use std::fmt::Write;
use symgrad::{Expr, Mode};

fn side_by_side(src: &str, point: &[f64]) -> String {
    let f = Expr::parse(src).expect("the case parses");
    let mut out = String::new();
    let _ = writeln!(out, "f = {src}");
    let _ = writeln!(out, "at {:?} = {:?}", f.vars(), point);
    let _ = writeln!(out, "value = {}", f.eval(point).expect("evaluates"));
    let mut first: Option<(Vec<String>, Vec<f64>)> = None;
    for mode in Mode::EXACT {
        let d = f.gradient(mode).expect("differentiates");
        let exprs = d.exprs();
        let values = d.eval(point).expect("evaluates");
        let stats = d.stats();
        let _ = writeln!(
            out,
            "{mode:<8} passes {}, nodes visited {}, paths {}",
            stats.passes, stats.nodes_visited, stats.paths
        );
        let same = first.as_ref().is_some_and(|(e0, _)| *e0 == exprs);
        if same {
            let _ = writeln!(out, "  (the same expressions as reverse mode)");
        }
        for ((var, e), v) in f.vars().iter().zip(&exprs).zip(&values) {
            if same {
                let _ = writeln!(out, "  ∂f/∂{var} = {v}");
            } else {
                let _ = writeln!(out, "  ∂f/∂{var} = {e} = {v}");
            }
        }
        // The modes build differently shared graphs, so their simplified
        // forms may differ (simplification does not factor); their values
        // must not.
        match &first {
            None => first = Some((exprs, values)),
            Some((_, v0)) => {
                for (a, b) in values.iter().zip(v0) {
                    assert!(
                        (a - b).abs() <= 1e-12 * a.abs().max(1.0),
                        "{mode}: {a} vs {b} for {src}"
                    );
                }
            }
        }
    }
    out
}

macro_rules! case {
    ($name:ident, $src:expr, $point:expr) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(side_by_side($src, &$point));
        }
    };
}

// The seed: 24 and 10 at (3, 4).
case!(seed, "x²y+y+2", [3.0, 4.0]);
// d/dw cos(w²) = -2w sin(w²)
case!(cos_of_square, "cos(w²)", [0.7]);
// The nested sigmoid f(g(w)): f = σ(2g - 1), g = σ(3w + 1).
case!(nested_sigmoid, "g = σ(3w + 1); σ(2g - 1)", [0.2]);
// Two paths from b to e: e = (a + b)(b + 1).
case!(two_paths, "c = a + b; d = b + 1; c*d", [2.0, 1.0]);
// The product network of depth 5: 32 paths, 32 w^31.
case!(
    product_network,
    "h1 = w*w; h2 = h1*h1; h3 = h2*h2; h4 = h3*h3; h5 = h4*h4; h5",
    [1.0001]
);
case!(
    rosenbrock_4,
    "100(x1 - x0²)² + (1 - x0)² + 100(x2 - x1²)² + (1 - x1)² + 100(x3 - x2²)² + (1 - x2)²",
    [-1.2, 1.0, -1.2, 1.0]
);
case!(
    log_sum_exp,
    "ln(exp(a) + exp(b) + exp(c))",
    [0.5, -1.0, 2.0]
);
case!(shared_subexpression, "u = sin(x*y); u^2 + u", [0.4, 1.3]);

// Every function of the syntax, once each.
case!(fn_sin, "sin(x^2)", [0.8]);
case!(fn_cos, "cos(3x)", [0.8]);
case!(fn_tan, "tan(x)", [0.8]);
case!(fn_exp, "exp(2x)", [0.8]);
case!(fn_ln, "ln(x^2 + 1)", [0.8]);
case!(fn_log, "log(x)", [0.8]);
case!(fn_sqrt, "sqrt(x)", [0.8]);
case!(fn_tanh, "tanh(x)", [0.8]);
case!(fn_sinh, "sinh(x)", [0.8]);
case!(fn_cosh, "cosh(x)", [0.8]);
case!(fn_asin, "asin(x)", [0.5]);
case!(fn_acos, "acos(x)", [0.5]);
case!(fn_atan, "atan(x)", [0.5]);
case!(fn_abs, "abs(x)", [-0.5]);
case!(fn_sigmoid, "sigmoid(x)", [0.5]);
case!(fn_sigma, "σ(x)", [0.5]);
case!(fn_relu, "relu(x)", [0.5]);
case!(fn_softplus, "softplus(x)", [0.5]);
case!(fn_max, "max(x, y)", [0.5, 0.25]);
case!(fn_min, "min(x, y)", [0.5, 0.25]);
case!(fn_pow, "pow(x, y)", [1.5, 2.5]);
// The functions added with NumPy's and SymPy's spellings (issue 10).
case!(fn_arcsin, "arcsin(x)", [0.5]);
case!(fn_asinh, "asinh(x)", [0.5]);
case!(fn_acosh, "acosh(x)", [1.5]);
case!(fn_atanh, "atanh(x)", [0.5]);
case!(fn_log10, "log10(x)", [0.5]);
case!(fn_log2, "log2(x)", [0.5]);
case!(fn_log_base, "log(x, 3)", [0.5]);
case!(fn_exp2, "exp2(x)", [0.5]);
case!(fn_cbrt, "cbrt(x)", [-0.5]);
case!(fn_sec, "sec(x)", [0.5]);
case!(fn_csc, "csc(x)", [0.5]);
case!(fn_cot, "cot(x)", [0.5]);
case!(fn_erf, "erf(x)", [0.5]);
case!(fn_erfc, "erfc(x)", [0.5]);
case!(fn_sign, "sign(x) x", [-0.5]);
case!(fn_heaviside, "heaviside(x) x", [0.5]);
case!(fn_floor, "floor(x) x", [2.5]);
case!(fn_ceil, "ceil(x) x", [2.5]);
case!(fn_atan2, "atan2(y, x)", [0.5, -1.5]);
case!(fn_hypot, "hypot(x, y)", [3.0, 4.0]);
case!(constants, "pi*x + e^x", [0.5]);
case!(quotient, "x/y", [0.5, 4.0]);
case!(unary_minus, "-x^2", [3.0]);

//! Every method and function a body may use, compared against symgrad's
//! interpreter on the same mathematics written in the formula syntax.

use symgrad::{grad, gradient, Expr, Mode};

const X: f64 = 0.7;
const Y: f64 = 1.3;

/// Value and gradient of `formula` at (x, y) = (X, Y) by the interpreter.
fn reference(formula: &str) -> (f64, [f64; 2]) {
    let e = Expr::parse(formula).expect("the reference formula parses");
    let vars = e.vars();
    let point: Vec<f64> = vars.iter().map(|v| if *v == "x" { X } else { Y }).collect();
    let value = e.eval(&point).expect("evaluates");
    let wrt: Vec<&str> = ["x", "y"]
        .into_iter()
        .filter(|w| vars.contains(w))
        .collect();
    let grad = e
        .gradient_wrt(&wrt, Mode::Reverse)
        .expect("differentiates")
        .eval(&point)
        .expect("evaluates");
    let mut out = [0.0; 2];
    for (w, g) in wrt.iter().zip(grad) {
        out[usize::from(*w == "y")] = g;
    }
    (value, out)
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

fn check(got: (f64, [f64; 2]), formula: &str) {
    let want = reference(formula);
    assert!(
        close(got.0, want.0, 1e-13)
            && close(got.1[0], want.1[0], 1e-13)
            && close(got.1[1], want.1[1], 1e-13),
        "{formula}: got {got:?}, interpreter {want:?}"
    );
}

/// The closure form, with the body passed through `macro_rules!` (so the
/// macro also sees invisible groups), checked against the formula.
macro_rules! same {
    ($formula:literal, |$x:ident, $y:ident| $body:expr) => {{
        let f = grad!(|$x: f64, $y: f64| $body);
        check(f(X, Y), $formula);
        // The formula form of the same mathematics.
        let g = grad!($formula, wrt = [x, y]);
        check(g(X, Y), $formula);
    }};
}

#[test]
fn arithmetic_and_powers() {
    same!("x^2*y + y + 2", |x, y| x.powi(2) * y + y + 2.0);
    same!("x^3 * y^-2 - x/y", |x, y| x.powi(3) * y.powi(-2) - x / y);
    same!("-(x - y)*(x + y) + 0.001*x*y", |x, y| -(x - y) * (x + y)
        + 1e-3 * x * y);
    same!("pow(x, y) + x*y", |x, y| x.powf(y) + x * y);
    same!("sqrt(x*y) + 1/x + y", |x, y| (x * y).sqrt() + x.recip() + y);
    same!("2*x + 3*y", |x, y| 2 * x + 3.0 * y);
    same!("x^(2+1)*y", |x, y| x.powi(2 + 1) * y);
}

#[test]
fn elementary_functions() {
    same!("exp(x*y) + ln(x+y)", |x, y| (x * y).exp() + (x + y).ln());
    same!("ln(x)/ln(10) + ln(y)/ln(2)", |x, y| x.log10() + y.log2());
    same!("log10(x) + log(y, 3) + exp2(x y)", |x, y| x.log10()
        + y.log(3.0)
        + (x * y).exp2());
    same!("sin(x)*cos(y) + tan(x*y)", |x, y| x.sin() * y.cos()
        + (x * y).tan());
    same!("asin(x) + acos(x*y/2) + atan(y)", |x, y| x.asin()
        + (x * y / 2.0).acos()
        + y.atan());
    same!("sinh(x) + cosh(y) * tanh(x*y)", |x, y| x.sinh()
        + y.cosh() * (x * y).tanh());
    same!("abs(x - y) + max(x, y) * min(x, y)", |x, y| (x - y).abs()
        + x.max(y) * x.min(y));
}

/// The functions added with NumPy's and SymPy's names (issue 10): each float
/// method in the body, and its formula, give the same value and gradient,
/// which central differences of the plain Rust confirm.
#[test]
fn the_later_functions() {
    same!("asinh(x) + acosh(y + 1) + atanh(x/2)", |x, y| x.asinh()
        + (y + 1.0).acosh()
        + (x / 2.0).atanh());
    same!("cbrt(x - y) + hypot(x, y) + atan2(y, x)", |x, y| (x - y)
        .cbrt()
        + x.hypot(y)
        + y.atan2(x));
    same!("floor(3 x) y + ceil(y) x", |x, y| (3.0 * x).floor() * y
        + y.ceil() * x);
    same!("erf(x y) + erfc(y) + sec(x) + csc(y) + cot(x y)", |x, y| {
        symgrad::erf(x * y)
            + symgrad::erfc(y)
            + symgrad::sec(x)
            + symgrad::csc(y)
            + symgrad::cot(x * y)
    });
    same!("sign(x - y) x + step(y - x) y + heaviside(x) y", |x, y| {
        symgrad::sign(x - y) * x + symgrad::step(y - x) * y + symgrad::heaviside(x) * y
    });
}

#[gradient]
fn later(x: f64, y: f64) -> f64 {
    symgrad::erf(x * y) + x.asinh() * symgrad::sec(y) + y.atan2(x)
}

#[test]
fn the_later_functions_against_central_differences() {
    let (v, g) = later_gradient(X, Y);
    assert!(close(v, later(X, Y), 1e-14));
    let h = 1e-6;
    let dx = (later(X + h, Y) - later(X - h, Y)) / (2.0 * h);
    let dy = (later(X, Y + h) - later(X, Y - h)) / (2.0 * h);
    assert!(
        close(g[0], dx, 1e-8) && close(g[1], dy, 1e-8),
        "{g:?} vs {dx}, {dy}"
    );
}

#[test]
fn path_calls_and_constants() {
    same!("sin(x) + sqrt(y) + max(x, y)", |x, y| f64::sin(x)
        + f64::sqrt(y)
        + f64::max(x, y));
    same!("pi*x + e*y", |x, y| std::f64::consts::PI * x
        + core::f64::consts::E * y);
    same!("2*pi*x + ln(2)*y", |x, y| ::std::f64::consts::TAU * x
        + std::f64::consts::LN_2 * y);
    same!(
        "sigmoid(x*y) + relu(x - y) + softplus(y)",
        |x, y| symgrad::sigmoid(x * y) + ::symgrad::relu(x - y) + symgrad::softplus(y)
    );
}

#[test]
fn blocks_lets_and_shadowing() {
    let f = grad!(|x: f64, y: f64| {
        let u = x * y;
        let u = u.sin() + u;
        let v: f64 = {
            let w = u * u;
            w + 1.0
        };
        return v / y;
    });
    check(f(X, Y), "u = x*y; u2 = sin(u) + u; (u2^2 + 1)/y");
}

// ---------------------------------------------------------------- #[gradient]

#[gradient]
fn activations(x: f64, y: f64) -> f64 {
    symgrad::sigmoid(x * y) + symgrad::relu(x - y) + symgrad::softplus(y)
}

#[test]
fn facade_functions_compile_in_the_original_function() {
    let (v, g) = activations_gradient(X, Y);
    assert!(close(v, activations(X, Y), 1e-15));
    check((v, g), "sigmoid(x*y) + relu(x - y) + softplus(y)");
}

/// Let mut accumulators, compound assignments, nested loops, `i as f64`,
/// integer index arithmetic and a scalar after an array.
#[gradient]
fn nested(x: [f64; 4], s: f64) -> f64 {
    let n = 4;
    let mut acc = 0.0;
    for i in 0..n {
        for j in 0..=i {
            acc += (i as f64 + 1.0) * x[i] * x[j] * s;
        }
        acc -= x[n - 1 - i] * (2 * i) as f64;
    }
    for k in 0..2 {
        acc += x[2 * k + 1].powi(2);
    }
    acc *= 2.0;
    acc /= 3.0;
    acc
}

fn central<const N: usize>(f: impl Fn([f64; N]) -> f64, x: [f64; N]) -> [f64; N] {
    let h = 1e-6;
    std::array::from_fn(|i| {
        let (mut up, mut down) = (x, x);
        up[i] += h;
        down[i] -= h;
        (f(up) - f(down)) / (2.0 * h)
    })
}

#[test]
fn nested_loops_against_central_differences() {
    let x = [0.3, -1.1, 0.8, 2.0];
    let s = 0.6;
    let (v, g) = nested_gradient(x, s);
    assert!(close(v, nested(x, s), 1e-14));
    let numeric = central(
        |p: [f64; 5]| nested([p[0], p[1], p[2], p[3]], p[4]),
        [x[0], x[1], x[2], x[3], s],
    );
    for i in 0..5 {
        assert!(
            close(g[i], numeric[i], 1e-7),
            "{i}: {} vs {}",
            g[i],
            numeric[i]
        );
    }
}

// ---------------------------------------------------------------- f32

#[gradient(hessian)]
fn quad32(x: f32, y: f32) -> f32 {
    x.powi(2) * y + y + 2.0
}

#[gradient]
fn trig32(x: [f32; 2]) -> f32 {
    let mut s: f32 = 0.0;
    for i in 0..2 {
        s += (x[i] * (i as f32 + 1.0)).sin() * x[1 - i].exp()
            + f32::sqrt(x[i])
            + std::f32::consts::PI;
    }
    s
}

#[test]
fn f32_variants() {
    assert_eq!(quad32(3.0, 4.0), 42.0);
    assert_eq!(quad32_gradient(3.0, 4.0), (42.0f32, [24.0f32, 10.0]));
    assert_eq!(
        quad32_hessian(3.0, 4.0),
        (42.0f32, [24.0f32, 10.0], [[8.0f32, 6.0], [6.0, 0.0]])
    );
    let f = grad!(|x: f32, y: f32| x.sin() * y.ln() + x.tanh());
    let (v, g) = f(X as f32, Y as f32);
    let want = reference("sin(x)*ln(y) + tanh(x)");
    assert!(close(f64::from(v), want.0, 1e-6));
    assert!(close(f64::from(g[0]), want.1[0], 1e-6) && close(f64::from(g[1]), want.1[1], 1e-6));
    let (v, g) = trig32_gradient([X as f32, Y as f32]);
    assert!(close(
        f64::from(v),
        f64::from(trig32([X as f32, Y as f32])),
        1e-6
    ));
    let want = reference("sin(x)*exp(y) + sqrt(x) + sin(2*y)*exp(x) + sqrt(y) + 2*pi");
    assert!(close(f64::from(v), want.0, 1e-5));
    assert!(close(f64::from(g[0]), want.1[0], 1e-5) && close(f64::from(g[1]), want.1[1], 1e-5));
}

// ---------------------------------------------------------------- visibility

mod shapes {
    use symgrad::gradient;

    /// A public function keeps its generated gradient public.
    #[gradient]
    pub fn norm2(v: [f64; 3]) -> f64 {
        v[0] * v[0] + v[1] * v[1] + v[2] * v[2]
    }
}

#[test]
fn visibility_is_kept() {
    assert_eq!(shapes::norm2([1.0, 2.0, 3.0]), 14.0);
    assert_eq!(
        shapes::norm2_gradient([1.0, 2.0, 3.0]),
        (14.0, [2.0, 4.0, 6.0])
    );
}

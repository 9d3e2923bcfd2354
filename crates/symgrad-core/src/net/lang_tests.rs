//! The network-file language beyond declarations and equations: random
//! initializers, the layer shorthand, `mse`, equations in any order and
//! cycles, parameter files.

use super::*;

fn err(src: &str) -> Error {
    parse_network(src).expect_err("the file is bad")
}

/// The text of `src` an error points at.
fn at<'s>(src: &'s str, e: &Error) -> &'s str {
    let s = e.span().expect("a spanned error");
    &src[s.start..s.end]
}

fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

fn params_of(src: &str, seed: u64) -> Vec<Tensor> {
    parse_network(src).unwrap().init_params(seed)
}

// ---- random initializers -------------------------------------------------

#[test]
fn normal_init_has_the_asked_mean_and_std() {
    let src = "param W[30, 784] ~ normal(0, 1/sqrt(784))\nloss = sum(W)\n";
    let w = &params_of(src, 1)[0];
    assert_eq!(w.shape, Shape::from([30, 784]));
    let n = w.data.len() as f64;
    let sigma = 1.0 / 784f64.sqrt();
    let (mean, std) = mean_std(&w.data);
    // Five standard errors: the sample mean has sd sigma/sqrt(n), the sample
    // std about sigma/sqrt(2n).
    assert!(mean.abs() < 5.0 * sigma / n.sqrt(), "mean {mean}");
    assert!(
        (std - sigma).abs() < 5.0 * sigma / (2.0 * n).sqrt(),
        "std {std}"
    );
    // The shape of the distribution, not only its moments: P(|X| < sigma)
    // = 0.6827 and P(|X| < 2 sigma) = 0.9545 for a normal.
    for (k, p) in [(1.0, 0.682_689_5), (2.0, 0.954_499_7)] {
        let frac = w.data.iter().filter(|x| x.abs() < k * sigma).count() as f64 / n;
        assert!(
            (frac - p).abs() < 5.0 * (p * (1.0 - p) / n).sqrt(),
            "{k}: {frac}"
        );
    }
    // A shifted, scaled one.
    let src = "param b[20000] ~ normal(3, 0.5)\nloss = sum(b)\n";
    let (mean, std) = mean_std(&params_of(src, 9)[0].data);
    assert!((mean - 3.0).abs() < 5.0 * 0.5 / 20000f64.sqrt(), "{mean}");
    assert!((std - 0.5).abs() < 5.0 * 0.5 / 40000f64.sqrt(), "{std}");
}

#[test]
fn uniform_xavier_and_he_respect_their_bounds_and_spread() {
    let src = "param U[100, 100] ~ uniform(-0.5, 2)\n\
               param X[10, 30] ~ xavier\n\
               param Y[300, 200] ~ xavier()\n\
               param H[50, 200] ~ he\n\
               param h[1000] ~ he\n\
               loss = sum(U) + sum(X) + sum(Y) + sum(H) + sum(h)\n";
    let p = params_of(src, 42);
    let u = &p[0].data;
    assert!(u.iter().all(|&x| (-0.5..2.0).contains(&x)));
    let (mean, std) = mean_std(u);
    let n = u.len() as f64;
    let sd = 2.5 / 12f64.sqrt();
    assert!((mean - 0.75).abs() < 5.0 * sd / n.sqrt(), "{mean}");
    assert!((std - sd).abs() < 0.02, "{std}");
    assert!(u.iter().any(|&x| x < -0.49) && u.iter().any(|&x| x > 1.99));
    // Xavier: uniform on ±sqrt(6/(fan_in + fan_out)), fan_in = columns.
    let r = (6.0f64 / (30.0 + 10.0)).sqrt();
    assert!(p[1].data.iter().all(|x| x.abs() < r));
    let y = &p[2].data;
    let r = (6.0f64 / (200.0 + 300.0)).sqrt();
    assert!(y.iter().all(|x| x.abs() < r));
    assert!(y.iter().any(|x| x.abs() > 0.99 * r));
    let (_, std) = mean_std(y);
    assert!((std - r / 3f64.sqrt()).abs() < 0.01 * r, "{std}");
    // He: normal(0, sqrt(2/fan_in)); a vector's fan-in is its length.
    for (t, fan_in) in [(&p[3], 200.0), (&p[4], 1000.0)] {
        let (mean, std) = mean_std(&t.data);
        let sigma = (2.0f64 / fan_in).sqrt();
        let n = t.data.len() as f64;
        assert!(mean.abs() < 5.0 * sigma / n.sqrt(), "{mean}");
        assert!(
            (std - sigma).abs() < 5.0 * sigma / (2.0 * n).sqrt(),
            "{std}"
        );
    }
    assert_eq!(init::fans(&Shape::from([30, 784])), (784, 30));
    assert_eq!(init::fans(&Shape::from([7])), (7, 7));
    assert_eq!(init::fans(&Shape::new(vec![])), (1, 1));
    assert_eq!(init::fans(&Shape::from([2, 3, 4])), (4, 6));
    // A convolution kernel [F, C, kh, kw], as torch.nn.init computes it.
    assert_eq!(init::fans(&Shape::from([16, 3, 5, 5])), (75, 400));
}

#[test]
fn seeds_are_deterministic_and_streams_independent() {
    let src = "param A[4, 5] ~ normal(0, 1)\nparam f[3] = 0.5*i\nparam c[6] ~ uniform(0, 1)\n\
               loss = sum(A) + sum(f) + sum(c)\n";
    let (a, b, other) = (params_of(src, 7), params_of(src, 7), params_of(src, 8));
    assert_eq!(a, b);
    assert_ne!(a[0], other[0]);
    assert_ne!(a[2], other[2]);
    assert_ne!(
        a[0].data[..6],
        a[2].data[..],
        "each parameter has its own stream"
    );
    // The index formula does not depend on the seed.
    assert_eq!(a[1].data, [0.0, 0.5, 1.0]);
    assert_eq!(other[1], a[1]);
    // Another parameter before `A` leaves its values as they were.
    let more = format!("param V[9] ~ normal(0, 1)\n{src}");
    let m = params_of(&more, 7);
    assert_eq!(m[1], a[0]);
    assert_eq!(m[3], a[2]);
    // Arguments are constant formulas: commas inside calls are not separators.
    let net = parse_network("param u[2] ~ uniform(min(0, 1), max(2, 3))\nloss = sum(u)\n").unwrap();
    assert_eq!(net.decls[0].init, Some(Init::Uniform { lo: 0.0, hi: 3.0 }));
}

#[test]
fn bad_initializers_are_spanned() {
    let cases: [(&str, ErrorKind, &str, &str); 12] = [
        (
            "~ normal(0, n)",
            ErrorKind::UnknownVariable,
            "n",
            "must be constants",
        ),
        (
            "~ normal(0)",
            ErrorKind::Syntax,
            "normal(0)",
            "takes 2 arguments, found 1",
        ),
        (
            "~ xavier(1)",
            ErrorKind::Syntax,
            "xavier(1)",
            "takes no arguments",
        ),
        (
            "~ gauss(0, 1)",
            ErrorKind::UnknownFunction,
            "gauss",
            "unknown distribution",
        ),
        (
            "~ normal(0, -1)",
            ErrorKind::InvalidValue,
            "-1",
            "must not be negative",
        ),
        (
            "~ uniform(1, 0)",
            ErrorKind::InvalidValue,
            "0",
            "upper bound",
        ),
        (
            "~ normal(0, 1e400)",
            ErrorKind::InvalidValue,
            "1e400",
            "finite",
        ),
        (
            "~ normal(0, 1/0)",
            ErrorKind::InvalidValue,
            "/",
            "division by zero",
        ),
        ("~", ErrorKind::Syntax, "\n", "expected a distribution"),
        ("~ normal(0, 1", ErrorKind::Syntax, "(", "unclosed"),
        (
            "~ normal(0,, 1)",
            ErrorKind::Syntax,
            ",",
            "expected an argument",
        ),
        ("~ he he", ErrorKind::Syntax, "he", "end of the line"),
    ];
    for (init, kind, under, message) in cases {
        let src = format!("param W[2, 3] {init}\nloss = sum(W)\n");
        let e = err(&src);
        assert_eq!(e.kind(), kind, "{init}: {}", e.message());
        assert!(e.message().contains(message), "{init}: {}", e.message());
        let s = e.span().unwrap();
        assert!(s.start >= src.find('~').unwrap(), "{init}");
        assert_eq!(&src[s.start..s.end.max(s.start + 1)], under, "{init}");
    }
    // A formula error inside an argument points into the file.
    let src = "param W[2] ~ normal(0, 1 +)\nloss = sum(W)\n";
    let e = err(src);
    assert_eq!(e.kind(), ErrorKind::Syntax);
    assert!(e.span().unwrap().start > src.find("1 +").unwrap());
    let e = err("param W[2] normal(0, 1)\nloss = sum(W)\n");
    assert!(
        e.message().contains("'~ normal(mean, std)'"),
        "{}",
        e.message()
    );
}

// ---- the layer shorthand ---------------------------------------------------

const DESIGN_SHORTHAND: &str =
    "input x[784]; target y[10]\ndense 30 sigmoid\ndense 10 sigmoid\nloss quadratic\n";

#[test]
fn the_design_example_expands_to_the_design_equations() {
    let text = shorthand::expand(DESIGN_SHORTHAND).unwrap();
    assert_eq!(
        text,
        "input x[784]; target y[10]\n\
         # dense 30 sigmoid\n\
         param W1[30, 784] ~ normal(0, 1/sqrt(784))\n\
         param b1[30] ~ normal(0, 1)\n\
         z1 = W1 @ x + b1\n\
         a1 = sigmoid(z1)\n\
         # dense 10 sigmoid\n\
         param W2[10, 30] ~ normal(0, 1/sqrt(30))\n\
         param b2[10] ~ normal(0, 1)\n\
         z2 = W2 @ a1 + b2\n\
         a2 = sigmoid(z2)\n\
         # loss quadratic\n\
         loss = sum((a2 - y)^2) / 2\n"
    );
    let net = parse_network(DESIGN_SHORTHAND).unwrap();
    let names: Vec<&str> = net.decls.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["x", "y", "W1", "b1", "W2", "b2"]);
    assert_eq!(
        net.decls[2].init,
        Some(Init::Normal {
            mean: 0.0,
            std: 1.0 / 784f64.sqrt()
        })
    );
    // Declarations the shorthand makes point at the line that made them.
    let s = net.decls[4].span;
    assert_eq!(&DESIGN_SHORTHAND[s.start..s.end], "dense 10 sigmoid");
    // A file without shorthand comes back byte for byte.
    let plain = "# hi\ninput x[2]\nloss = sum(x) # done";
    assert_eq!(shorthand::expand(plain).unwrap(), plain);
}

/// Loss and gradient of `src` at its initializers with `seed`, on fixed data.
fn evaluate(src: &str, seed: u64, csv: &str) -> batch::LossAndGradient {
    let mut net = parse_network(src).unwrap();
    let values = net.init_params(seed);
    net.set_params(values).unwrap();
    let data = batch::read_csv(&net, csv).unwrap();
    batch::Evaluator::new(&net)
        .unwrap()
        .loss_and_gradient(&data.rows)
        .unwrap()
}

const SMALL_CSV: &str = "a,b,c,d,label\n0.1,0.9,-0.3,0.5,2\n1,0,0.25,-1,0\n";

#[test]
fn shorthand_and_equations_give_the_same_network() {
    let short = "input x[4]\ntarget y[3]\ndense 5 tanh\ndense 3 softmax\nloss cross_entropy\n";
    let long = "input x[4]\ntarget y[3]\n\
                param W1[5, 4] ~ normal(0, 1/sqrt(4))\nparam b1[5] ~ normal(0, 1)\n\
                param W2[3, 5] ~ normal(0, 1/sqrt(5))\nparam b2[3] ~ normal(0, 1)\n\
                z1 = W1 @ x + b1\na1 = tanh(z1)\nz2 = W2 @ a1 + b2\na2 = softmax(z2)\n\
                loss = -sum(y * log(a2))\n";
    let (a, b) = (parse_network(short).unwrap(), parse_network(long).unwrap());
    assert_eq!(a.graph.len(), b.graph.len());
    assert_eq!(a.init_params(3), b.init_params(3));
    let (ra, rb) = (evaluate(short, 3, SMALL_CSV), evaluate(long, 3, SMALL_CSV));
    assert_eq!(ra.loss, rb.loss);
    assert!(ra.loss.is_finite() && ra.loss > 0.0);
    for ((na, ga), (nb, gb)) in ra.gradient.iter().zip(&rb.gradient) {
        assert_eq!(na, nb);
        assert_eq!(ga, gb);
    }
}

#[test]
fn shorthand_mixes_with_equations() {
    // A layer takes the most recent layer output or input above it; an
    // equation may use a layer's names.
    let src = "input x[3]; target y[2]\ndense 4 relu\nh = 2 * a1\ninput u[6]\n\
               dense 2 identity # takes u\ndense 2 linear\nloss mse\n\
               extra = sum(h)\n";
    let net = parse_network(src).unwrap();
    let shape = |n: &str| {
        net.decls
            .iter()
            .find(|d| d.name == n)
            .unwrap()
            .shape
            .clone()
    };
    assert_eq!(shape("W1"), Shape::from([4, 3]));
    assert_eq!(shape("W2"), Shape::from([2, 6]));
    assert_eq!(shape("W3"), Shape::from([2, 2]));
    let text = shorthand::expand(src).unwrap();
    assert!(
        text.contains("z2 = W2 @ u + b2\na2 = z2 # takes u\n"),
        "{text}"
    );
    assert!(text.contains("loss = mse(a3, y)"), "{text}");
    assert!(text.contains("h = 2 * a1\n"), "{text}");
}

#[test]
fn bad_shorthand_is_spanned_in_the_original() {
    let cases: [(&str, &str, &str); 12] = [
        (
            "input x[3]\nparam W1[2] = 0\ndense 2 relu\nloss = sum(W1)\n",
            "dense 2 relu",
            "'W1' is already defined on line 2",
        ),
        ("input x[3]\ndense x sigmoid\n", "x", "the layer's width"),
        ("input x[3]\ndense 0 sigmoid\n", "0", "the layer's width"),
        (
            "input x[3]\ndense 3 gelu\n",
            "gelu",
            "expected an activation",
        ),
        ("input x[3]\ndense 3\n", "\n", "expected an activation"),
        ("input x[3]\ndense 3 relu relu\n", "relu", "end of the line"),
        (
            "dense 3 relu\ninput x[3]\n",
            "dense 3 relu",
            "declare 'input x[n]' first",
        ),
        (
            "input x[3, 3]\ndense 3 relu\n",
            "dense 3 relu",
            "'x' has shape [3, 3]",
        ),
        (
            "input x[3]; target y[3]\nloss quadratic\n",
            "loss quadratic",
            "'dense' layer above",
        ),
        (
            "input x[3]\ndense 3 relu\nloss mse\n",
            "loss mse",
            "'target y[n]'",
        ),
        (
            "input x[3]; target y[2]\ndense 3 relu\nloss mse\n",
            "loss mse",
            "'a1' has 3 entries, but the target 'y' has 2",
        ),
        (
            "input x[3]; target y[3]\ndense 3 relu\nloss hinge\n",
            "hinge",
            "unknown loss",
        ),
    ];
    for (src, under, message) in cases {
        let e = err(src);
        assert_eq!(e.kind(), ErrorKind::Syntax, "{src}");
        assert!(e.message().contains(message), "{src}: {}", e.message());
        let s = e.span().unwrap();
        assert_eq!(&src[s.start..s.end.max(s.start + 1)], under, "{src}");
    }
    let src = "input x[3]; target y[3]\ndense 3 relu\nloss quadratic\nloss = sum(x)\n";
    let e = err(src);
    assert!(
        e.message().contains("'loss' is already defined on line 4"),
        "{}",
        e.message()
    );
    // An input whose shape is bad: the declaration's own error.
    let src = "input x[0]\ndense 3 relu\n";
    assert_eq!(at(src, &err(src)), "0");
    // Errors in copied lines after generated ones point at the original text.
    let src = "input x[3]; target y[2]\ndense 2 sigmoid\nloss = sum(a2) + q\n";
    let e = err(src);
    assert_eq!(e.kind(), ErrorKind::UnknownVariable);
    assert_eq!(e.span().unwrap().start, src.find("a2").unwrap());
    let src = "input x[3]; target y[2]\ndense 2 sigmoid\nz = a1 @ x # oops\nloss = sum(z)\n";
    assert_eq!(at(src, &err(src)), "a1 @ x");
    // Errors in generated text cover the shorthand line.
    let src = "input x[3000]; target y[2]\ndense 100000 sigmoid\nloss = sum(a1)\n";
    let e = err(src);
    assert!(e.message().contains("more than"), "{}", e.message());
    assert_eq!(at(src, &e), "dense 100000 sigmoid");
    let src = "input x[3]; target y[2]\ndense 2 sigmoid\nloss = sum(z1)\nz1 = 1\n";
    let e = err(src);
    assert!(e.message().contains("defined twice") || e.message().contains("already defined"));
    assert_eq!(at(src, &e), "dense 2 sigmoid");
    assert!(e.message().contains("line 4"), "{}", e.message());
}

// ---- mse -------------------------------------------------------------------

#[test]
fn mse_matches_a_hand_computation_and_finite_differences() {
    let src = "input x[3]\ntarget y[3]\nparam p[3] = 0.3*i - 0.2\nloss = mse(p * x, y)\n";
    let csv = "x0,x1,x2,y0,y1,y2\n1,2,-1,0.5,0,1\n";
    let (x, y) = ([1.0, 2.0, -1.0], [0.5, 0.0, 1.0]);
    let mut net = parse_network(src).unwrap();
    let data = batch::read_csv(&net, csv).unwrap();
    let run = |net: &Network| {
        batch::Evaluator::new(net)
            .unwrap()
            .loss_and_gradient(&data.rows)
            .unwrap()
    };
    let r = run(&net);
    let p: Vec<f64> = (0..3).map(|i| 0.3 * i as f64 - 0.2).collect();
    let d: Vec<f64> = (0..3).map(|i| p[i] * x[i] - y[i]).collect();
    let loss = d.iter().map(|d| d * d).sum::<f64>() / 3.0;
    assert!((r.loss - loss).abs() < 1e-15, "{} vs {loss}", r.loss);
    let g = &r.gradient[0].1.data;
    for i in 0..3 {
        // By hand: d/dp_i mean((p x - y)^2) = 2/3 (p_i x_i - y_i) x_i.
        assert!((g[i] - 2.0 / 3.0 * d[i] * x[i]).abs() < 1e-15);
        // Central differences through the same evaluation path.
        let h = 1e-6;
        let mut at = |delta: f64| {
            let mut q = p.clone();
            q[i] += delta;
            net.set_params(vec![Tensor::new(Shape::from([3]), q)])
                .unwrap();
            run(&net).loss
        };
        let fd = (at(h) - at(-h)) / (2.0 * h);
        assert!((g[i] - fd).abs() < 1e-8, "{i}: {} vs {fd}", g[i]);
    }
    let src = "input x[3]\ntarget y[2]\nloss = mse(x, y)\n";
    let e = err(src);
    assert_eq!(e.kind(), ErrorKind::Shape);
    assert_eq!(at(src, &e), "mse(x, y)");
    assert_eq!(err("input x[3]\nloss = mse(x)\n").kind(), ErrorKind::Syntax);
    assert!(err("mse = 1\nloss = mse\n")
        .message()
        .contains("cannot define"));
}

// ---- equations in any order ------------------------------------------------

#[test]
fn equations_may_come_in_any_order() {
    let forward = "input x[2]; target y[2]\nparam W[2, 2] = 0.1*(i + 1) - 0.2*j\n\
                   z = W @ x\na = sigmoid(z)\nloss = sum((a - y)^2) / 2\n";
    let backward = "input x[2]; target y[2]\nloss = sum((a - y)^2) / 2\na = sigmoid(z)\n\
                    z = W @ x\nparam W[2, 2] = 0.1*(i + 1) - 0.2*j\n";
    let csv = "x0,x1,y0,y1\n0.5,-1,1,0\n";
    let (f, b) = (evaluate(forward, 0, csv), evaluate(backward, 0, csv));
    assert_eq!(f.loss, b.loss);
    assert_eq!(f.gradient, b.gradient);
    // Equations come in a topological order, file order where it is one.
    let order = |src: &str| -> Vec<String> {
        let net = parse_network(src).unwrap();
        net.equations.iter().map(|e| e.name.clone()).collect()
    };
    assert_eq!(order(forward), ["z", "a", "loss"]);
    assert_eq!(order(backward), ["z", "a", "loss"]);
    // A name followed by '(' is a call, not a use of an equation.
    let src = "input x[2]\nloss = sum(x) + total\ntotal = 1\n";
    assert_eq!(order(src), ["total", "loss"]);
}

#[test]
fn a_long_chain_in_reverse_order_does_not_recurse() {
    let n = 20_000;
    let mut src = String::from("input x[2]\nloss = sum(v0)\n");
    for k in 0..n - 1 {
        src.push_str(&format!("v{k} = v{} + 1\n", k + 1));
    }
    src.push_str(&format!("v{} = x\n", n - 1));
    let net = parse_network(&src).unwrap();
    assert_eq!(net.equations.len(), n + 1);
    assert_eq!(net.equations[0].name, format!("v{}", n - 1));
}

#[test]
fn cycles_are_named_and_spanned_at_their_first_equation() {
    let cases: [(&str, &str); 4] = [
        ("a = b + 1; b = 2*a\nloss = a\n", "a -> b -> a"),
        (
            "loss = sum(x) * b\nb = 2*a\na = b + 1\ninput x[2]\n",
            "b -> a -> b",
        ),
        ("input x[2]\na = a + 1\nloss = a\n", "a -> a"),
        (
            "input x[2]\nloss = d\nc = d*1\nd = e2 + sum(x)\ne2 = c\n",
            "c -> d -> e2 -> c",
        ),
    ];
    for (src, cycle) in cases {
        let e = err(src);
        assert_eq!(e.kind(), ErrorKind::Syntax, "{src}");
        assert_eq!(
            e.message(),
            format!("equations form a cycle: {cycle}"),
            "{src}"
        );
        let first = cycle.split(' ').next().unwrap();
        let s = e.span().unwrap();
        assert_eq!(&src[s.start..s.end], first);
        assert!(
            src[s.start..].starts_with(&format!("{first} =")),
            "at the equation, not a use: {src}"
        );
    }
}

// ---- parameter files -------------------------------------------------------

const TWO: &str = "input x[3]\ntarget y[2]\nparam W[2, 3] ~ normal(0, 1)\nparam b[2] = 0\n\
                   loss = sum((W @ x + b - y)^2)\n";

#[test]
fn parameter_files_round_trip_exactly() {
    let net = parse_network(TWO).unwrap();
    let mut rng = crate::workloads::SplitMix64(5);
    // Arbitrary bit patterns (finite ones), and the awkward values.
    let mut w: Vec<f64> = (0..3)
        .map(|_| loop {
            let x = f64::from_bits(rng.next_u64());
            if x.is_finite() {
                break x;
            }
        })
        .collect();
    w.extend([5e-324, -0.0, 0.1 + 0.2]);
    let b = vec![f64::NAN, f64::NEG_INFINITY];
    let values = vec![
        Tensor::new(Shape::from([2, 3]), w.clone()),
        Tensor::new(Shape::from([2]), b),
    ];
    let text = params::to_json(&net, &values);
    assert!(text.starts_with("{\"format\": \"symgrad-params\", \"version\": 1, \"params\": {\n  \"W\": {\"shape\": [2, 3], \"data\": ["), "{text}");
    let back = params::from_json(&net, &text).unwrap();
    for (a, b) in back[0].data.iter().zip(&w) {
        assert_eq!(a.to_bits(), b.to_bits());
    }
    assert!(back[1].data[0].is_nan());
    assert_eq!(back[1].data[1], f64::NEG_INFINITY);
    // Initial values saved and loaded give the same gradients.
    let init = net.init_params(11);
    let loaded = params::from_json(&net, &params::to_json(&net, &init)).unwrap();
    assert_eq!(loaded, init);
    let csv = "x0,x1,x2,y0,y1\n1,2,3,0,1\n";
    let mut fixed = net.clone();
    fixed.set_params(loaded).unwrap();
    assert_eq!(evaluate(TWO, 11, csv).gradient, {
        let data = batch::read_csv(&fixed, csv).unwrap();
        batch::Evaluator::new(&fixed)
            .unwrap()
            .loss_and_gradient(&data.rows)
            .unwrap()
            .gradient
    });
}

#[test]
fn bad_parameter_files_are_clear() {
    let net = parse_network(TWO).unwrap();
    let ok = |w: &str, b: &str| {
        format!("{{\"format\": \"symgrad-params\", \"version\": 1, \"params\": {{\"W\": {w}, \"b\": {b}}}}}")
    };
    let w = "{\"shape\": [2, 3], \"data\": [1, 2, 3, 4, 5, 6]}";
    let b = "{\"shape\": [2], \"data\": [0, \"inf\"]}";
    assert!(params::from_json(&net, &ok(w, b)).is_ok());
    let cases = [
        (
            ok(w, b).replace("\"b\"", "\"c\""),
            "unknown parameter 'c': the network's parameters are W, b",
        ),
        (
            ok(w, b).replace(", \"b\": {\"shape\": [2], \"data\": [0, \"inf\"]}", ""),
            "missing parameter 'b' (shape [2])",
        ),
        (
            ok(w, "{\"shape\": [3], \"data\": [0, 1, 2]}"),
            "'b' has shape [3] in the file, but the network declares [2]",
        ),
        (
            ok(w, "{\"shape\": [2], \"data\": [0]}"),
            "'b' has 1 entries in the file; its shape [2] needs 2",
        ),
        (
            ok(w, "{\"shape\": [2], \"data\": [0, \"one\"]}"),
            "'b', entry 1: \"one\" is not a number",
        ),
        (ok(w, "{\"data\": [0, 1]}"), "'b' needs \"shape\""),
        (
            ok(w, b).replace("symgrad-params", "other"),
            "\"format\": \"symgrad-params\"",
        ),
        (
            ok(w, b).replace("\"version\": 1", "\"version\": 2"),
            "version 2 is not supported",
        ),
    ];
    for (text, message) in cases {
        let e = params::from_json(&net, &text).expect_err(&text);
        assert_eq!(e.kind(), ErrorKind::InvalidValue);
        assert!(e.message().contains(message), "{text}: {}", e.message());
    }
    let text =
        "{\"format\": \"symgrad-params\",\n \"version\": 1,\n \"params\": {\"W\": [1, 2,]}}\n";
    let e = params::from_json(&net, text).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Syntax);
    let rendered = e.render(text);
    assert!(rendered.contains(" --> line 3, column "), "{rendered}");
    assert!(rendered.contains("not valid JSON"), "{rendered}");
    // The caret sits just after the trailing comma.
    assert_eq!(&text[e.span().unwrap().start - 1..][..2], ",]");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]
    /// Shorthand, initializers and out-of-order equations: an error or a
    /// network, never a panic, and the expansion of a file that parses
    /// parses to the same declarations.
    #[test]
    fn the_language_never_panics(
        src in "(input x\\[3\\]|target y\\[2\\]|dense|loss|quadratic|mse|relu|softmax|identity|param|W1|a1|z|~|normal|uniform|xavier|he|\\(|\\)|,|=|\\[|\\]|[0-9]|@|\\+|\\*|-|/|;| |\n|#){0,30}"
    ) {
        if let Ok(net) = parse_network(&src) {
            let text = shorthand::expand(&src).unwrap();
            let again = parse_network(&text).unwrap();
            proptest::prop_assert_eq!(net.decls.len(), again.decls.len());
            let _ = net.init_params(1);
        }
    }

    /// A valid file using every new feature with a few bytes changed.
    #[test]
    fn edited_language_files_never_panic(
        edits in proptest::collection::vec((0usize..300, "[\\[\\]@,=()*+^/~; 0-9a-z\n]{0,3}", 0usize..3), 1..4)
    ) {
        let mut src = String::from(
            "input x[3]; target y[2]\ndense 4 relu\nparam V[2, 4] ~ uniform(-1, 1/2)\n\
             h = V @ a1\nloss = mse(h, y) + sum(a2)\ndense 2 softmax\nparam s ~ he\n",
        );
        for (at, insert, delete) in edits {
            let at = at % (src.len() + 1);
            let end = (at + delete).min(src.len());
            if src.is_char_boundary(at) && src.is_char_boundary(end) {
                src.replace_range(at..end, &insert);
            }
        }
        if let Ok(net) = parse_network(&src) {
            let _ = net.init_params(3);
            let text = shorthand::expand(&src).unwrap();
            proptest::prop_assert!(parse_network(&text).is_ok());
        }
    }
}

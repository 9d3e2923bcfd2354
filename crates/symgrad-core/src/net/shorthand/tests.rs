//! The layer shorthand beyond `dense`: convolution, pooling, flatten,
//! batch norm, dropout, bare activations, recurrent layers and residual
//! blocks around them, each checked against the same network written as
//! equations by hand, and their errors.

use super::expand;
use crate::error::{Error, ErrorKind};
use crate::graph::Shape;
use crate::net::{batch, parse_network};

fn err(src: &str) -> Error {
    parse_network(src).expect_err("the file is bad")
}

/// The text an error points at (at least one character, for a newline).
fn at<'s>(src: &'s str, e: &Error) -> &'s str {
    let s = e.span().expect("a spanned error");
    &src[s.start..s.end.max(s.start + 1)]
}

/// A CSV of `rows` rows of `n` features named p0.. and a class label out
/// of `classes`, with values that are not round.
fn csv(n: usize, rows: usize, classes: usize) -> String {
    let mut out: Vec<String> = (0..n).map(|k| format!("p{k}")).collect();
    out.push("label".into());
    let mut text = out.join(",") + "\n";
    for r in 0..rows {
        let mut row: Vec<String> = (0..n)
            .map(|k| format!("{}", ((r * 31 + k * 17) % 23) as f64 / 7.0 - 1.3))
            .collect();
        row.push(((r * 7) % classes).to_string());
        text += &(row.join(",") + "\n");
    }
    text
}

/// Loss and gradient of `src` at its initializers with `seed` on `data`.
fn evaluate(src: &str, seed: u64, data: &str) -> batch::LossAndGradient {
    let mut net = parse_network(src).unwrap_or_else(|e| panic!("{}", e.render(src)));
    let values = net.init_params(seed);
    net.set_params(values).unwrap();
    let data = batch::read_csv(&net, data).unwrap();
    batch::Evaluator::new(&net)
        .unwrap()
        .loss_and_gradient(&data.rows)
        .unwrap()
}

/// `short` and `long` are one network: the same parameters drawn from one
/// seed, the same loss and gradient to the last bit.
fn same_network(short: &str, long: &str, data: &str) {
    let (a, b) = (parse_network(short).unwrap(), parse_network(long).unwrap());
    let names = |n: &crate::net::Network| -> Vec<(String, Shape)> {
        n.decls
            .iter()
            .map(|d| (d.name.clone(), d.shape.clone()))
            .collect()
    };
    assert_eq!(names(&a), names(&b));
    assert_eq!(a.graph.len(), b.graph.len());
    assert_eq!(a.init_params(5), b.init_params(5));
    let (ra, rb) = (evaluate(short, 5, data), evaluate(long, 5, data));
    assert!(ra.loss.is_finite() && ra.loss > 0.0, "{}", ra.loss);
    assert_eq!(ra.loss, rb.loss);
    assert_eq!(ra.gradient.len(), rb.gradient.len());
    for ((na, ga), (nb, gb)) in ra.gradient.iter().zip(&rb.gradient) {
        assert_eq!(na, nb);
        assert_eq!(ga, gb, "{na}");
    }
    // The expanded text reads back to the same network.
    let expanded = expand(short).unwrap();
    let again = parse_network(&expanded).unwrap_or_else(|e| panic!("{}", e.render(&expanded)));
    assert_eq!(again.graph.len(), a.graph.len());
    assert_eq!(evaluate(&expanded, 5, data).loss, ra.loss);
    assert_eq!(expand(&expanded).unwrap(), expanded);
}

/// The sketch, on 4x4 images: a convolution, a residual block of
/// convolutions and batch norms, average pooling, flatten, dense softmax.
const SKETCH: &str = "input  x[1, 4, 4]\ntarget y[3]\nconv 4 3x3 padding 1 relu\n\
    residual\n  conv 4 3x3 padding 1\n  batchnorm\n  relu\n  conv 4 3x3 padding 1\n  batchnorm\n\
    end relu\navgpool 2\nflatten\ndense 3 softmax\nloss cross_entropy\n";

const SKETCH_LONG: &str = "input  x[1, 4, 4]\ntarget y[3]\n\
    param K1[4, 1, 3, 3] ~ he\nparam b1[4] = 0\n\
    z1 = conv2d(x, K1, b1, padding = 1)\na1 = relu(z1)\n\
    param K2[4, 4, 3, 3] ~ he\nz2 = conv2d(a1, K2, padding = 1)\n\
    param gamma3[4] = 1\nparam beta3[4] = 0\nbn3 = batchnorm(z2, gamma3, beta3)\n\
    a4 = relu(bn3)\n\
    param K5[4, 4, 3, 3] ~ he\nz5 = conv2d(a4, K5, padding = 1)\n\
    param gamma6[4] = 1\nparam beta6[4] = 0\nbn6 = batchnorm(z5, gamma6, beta6)\n\
    res1 = relu(bn6 + a1)\n\
    p7 = avgpool(res1, 2)\nf8 = flatten(p7)\n\
    param W9[3, 16] ~ normal(0, 1/sqrt(16))\nparam b9[3] ~ normal(0, 1)\n\
    z9 = W9 @ f8 + b9\na9 = softmax(z9)\nloss = cross_entropy(a9, y)\n";

#[test]
fn the_sketch_expands_to_the_contract_equations() {
    same_network(SKETCH, SKETCH_LONG, &csv(16, 5, 3));
    let text = expand(SKETCH).unwrap();
    // Each line is quoted, its equations below it, indented as it is.
    assert!(
        text.contains("\n  # batchnorm\n  param gamma3[4] = 1\n"),
        "{text}"
    );
    assert!(
        text.contains("# end relu\nres1 = relu(bn6 + a1)\n"),
        "{text}"
    );
}

#[test]
fn strides_pools_dropout_and_kernels_of_every_shape() {
    let short = "input x[2, 7, 6]\ntarget y[2]\nconv 3 3x2 stride 2 padding 1 tanh\n\
                 maxpool 2\nsigmoid\nflatten\ndropout 0.25\nbatchnorm\ndense 2 softmax\n\
                 loss cross_entropy\n";
    let long = "input x[2, 7, 6]\ntarget y[2]\n\
                param K1[3, 2, 3, 2] ~ he\nparam b1[3] = 0\n\
                z1 = conv2d(x, K1, b1, stride = 2, padding = 1)\na1 = tanh(z1)\n\
                p2 = maxpool(a1, 2)\na3 = sigmoid(p2)\nf4 = flatten(a3)\n\
                d5 = dropout(f4, 0.25)\n\
                param gamma6[12] = 1\nparam beta6[12] = 0\nbn6 = batchnorm(d5, gamma6, beta6)\n\
                param W7[2, 12] ~ normal(0, 1/sqrt(12))\nparam b7[2] ~ normal(0, 1)\n\
                z7 = W7 @ bn6 + b7\na7 = softmax(z7)\nloss = cross_entropy(a7, y)\n";
    // conv: (7 + 2 - 3)/2 + 1 = 4 by (6 + 2 - 2)/2 + 1 = 4; pooled 2x2.
    same_network(short, long, &csv(84, 6, 2));
    // The options in any order; a 1x1 kernel; `K` alone is square.
    let a = parse_network(
        "input x[1, 5, 5]\nconv 2 3 padding 1 stride 2\nconv 4 1x1\nloss = sum(z2)\n",
    )
    .unwrap();
    let shape = |n: &crate::net::Network, name: &str| {
        let e = n.equations.iter().find(|e| e.name == name).unwrap();
        n.graph.shape(e.node).clone()
    };
    assert_eq!(shape(&a, "z1"), Shape::from([2, 3, 3]));
    assert_eq!(shape(&a, "z2"), Shape::from([4, 3, 3]));
}

#[test]
fn a_recurrent_layer_is_the_contract_recurrence() {
    let short = "input v[4, 3]\ntarget y[2]\nrnn 5 tanh\ndense 2 softmax\nloss cross_entropy\n";
    let long = "input v[4, 3]\ntarget y[2]\n\
                param Win1[5, 3] ~ xavier\nparam Wrec1[5, 5] ~ xavier\nparam b1[5] = 0\n\
                h1[0] = tanh(Win1 @ v[0] + b1)\n\
                h1[t] = tanh(Win1 @ v[t] + Wrec1 @ h1[t-1] + b1) for t in 1..4\n\
                a1 = h1[3]\n\
                param W2[2, 5] ~ normal(0, 1/sqrt(5))\nparam b2[2] ~ normal(0, 1)\n\
                z2 = W2 @ a1 + b2\na2 = softmax(z2)\nloss = cross_entropy(a2, y)\n";
    same_network(short, long, &csv(12, 4, 2));
    // One step has no recurrence; two layers stack when the first's output
    // is a sequence (here it is not: a recurrent layer outputs its last state).
    let one = "input v[1, 3]\nrnn 2 relu\nloss = sum(a1)\n";
    let text = expand(one).unwrap();
    assert!(text.contains("h1[0] = relu(Win1 @ v[0] + b1)"), "{text}");
    assert!(!text.contains("for t"), "{text}");
    let e = err("input v[4, 3]\nrnn 2 tanh\nrnn 2 tanh\n");
    assert!(e.message().contains("[steps, features]"), "{}", e.message());
}

#[test]
fn bad_layer_lines_are_spanned_where_they_are_wrong() {
    let img = "input x[1, 8, 8]\n";
    let cases: Vec<(String, &str, &str, ErrorKind)> = vec![
        (
            format!("{img}conv 4 9x9\n"),
            "conv 4 9x9",
            "the 9x9 kernel does not fit the 8x8 input with padding 0",
            ErrorKind::Shape,
        ),
        (
            format!("{img}conv 4 3x3 stride 0\n"),
            "0",
            "an integer of at least 1",
            ErrorKind::Syntax,
        ),
        (
            format!("{img}conv 4 3x3 stride\n"),
            "stride",
            "expected the stride",
            ErrorKind::Syntax,
        ),
        (
            format!("{img}conv 4 3x3 padding 1 padding 1\n"),
            "padding",
            "given twice",
            ErrorKind::Syntax,
        ),
        (format!("{img}conv 4 3xy\n"), "xy", "KxK", ErrorKind::Syntax),
        (
            format!("{img}conv 4\n"),
            "\n",
            "the kernel's size",
            ErrorKind::Syntax,
        ),
        (
            format!("{img}conv 4 3x3 relu tanh\n"),
            "tanh",
            "end of the line",
            ErrorKind::Syntax,
        ),
        (
            format!("{img}conv 4 3x3 dilation 2\n"),
            "dilation",
            "expected 'stride S', 'padding P' or an activation",
            ErrorKind::Syntax,
        ),
        (
            "input x[64]\nconv 4 3x3\n".into(),
            "conv 4 3x3",
            "needs an image [channels, height, width], but 'x' has shape [64]",
            ErrorKind::Syntax,
        ),
        (
            format!("{img}dense 10 softmax\n"),
            "dense 10 softmax",
            "put a 'flatten' line before it",
            ErrorKind::Syntax,
        ),
        (
            format!("{img}maxpool 0\n"),
            "0",
            "the window's size",
            ErrorKind::Syntax,
        ),
        (
            format!("{img}maxpool 9\n"),
            "maxpool 9",
            "a 9x9 window does not fit the 8x8 input",
            ErrorKind::Shape,
        ),
        (
            format!("{img}dropout 1.5\n"),
            "1.5",
            "below 1",
            ErrorKind::Syntax,
        ),
        (
            format!("{img}flatten x\n"),
            "x",
            "end of the line",
            ErrorKind::Syntax,
        ),
        (
            "input x[2, 3]\nbatchnorm\n".into(),
            "batchnorm",
            "a vector or an image",
            ErrorKind::Syntax,
        ),
        (
            "input x[8]\nrnn 4 tanh\n".into(),
            "rnn 4 tanh",
            "it needs [steps, features], but 'x' has shape [8]",
            ErrorKind::Syntax,
        ),
        (
            "input x[8, 8]\nrnn 4\n".into(),
            "\n",
            "expected an activation after 'rnn 4'",
            ErrorKind::Syntax,
        ),
        (
            "relu\ninput x[3]\n".into(),
            "relu",
            "needs an input above it",
            ErrorKind::Syntax,
        ),
        (
            format!("{img}param K1[1] = 0\nconv 1 3x3\n"),
            "conv 1 3x3",
            "'K1' is already defined on line 2",
            ErrorKind::Syntax,
        ),
        (
            format!("{img}residual\n  conv 4 3x3 padding 1\nend relu\n"),
            "end relu",
            "the skip connection adds them",
            ErrorKind::Shape,
        ),
    ];
    for (src, under, message, kind) in cases {
        let e = err(&src);
        assert!(e.message().contains(message), "{src}: {}", e.message());
        assert_eq!(e.kind(), kind, "{src}");
        assert_eq!(at(&src, &e), under, "{src}");
    }
    // A name such as `conv` or `relu` still names an equation.
    let net = parse_network("input x[2]\nconv = 2 * x\nrnn = conv + 1\nloss = sum(rnn)\n");
    assert!(net.is_ok(), "{:?}", net.err());
}

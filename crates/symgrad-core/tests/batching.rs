//! The batched evaluation (a leading batch axis, one backward pass, a plan
//! of kernel calls) against two independent computations: the per-sample
//! reference (`batch::PerSample`: the gradient of one sample's loss, run once
//! per row by the tensor interpreter, averaged) and central finite
//! differences of the mean loss. Each network below exercises a different
//! way an operation meets the batch axis.

mod common;

use common::{assert_close, check_central_differences, rows};
use symgrad_core::net::{batch, parse_network};

/// Networks over `input x[4]`, `target y[3]`, one per case.
const CASES: &[(&str, &str)] = &[
    (
        "matrix-vector product, sigmoid, quadratic loss",
        "param W[3, 4] = 0.3*sin(i*4 + j + 1)\nparam b[3] = 0.1*cos(i)\n\
         z = W @ x + b\na = sigmoid(z)\nloss = sum((a - y)^2) / 2",
    ),
    (
        "vector-matrix product, softmax, cross-entropy",
        "param V[4, 3] = 0.4*cos(i*3 + j)\nz = x @ V\np = softmax(z)\nloss = cross_entropy(p, y)",
    ),
    (
        "dot products: data with a parameter and data with data",
        "param u[4] = 0.2*i - 0.3\nparam v[3] = 0.5*sin(i)\n\
         s = x @ u\nt = (v @ y) * (x @ x)\nloss = s^2 + tanh(t) + s*t",
    ),
    (
        "per-sample scalar broadcast against vectors and a parameter matrix",
        "param P[3, 4] = 0.1*(i + 1)*cos(j)\nparam c = 0.7\n\
         s = sum(x) * c\nh = P * x\nr = sum(h, 1) + s\nloss = mean(exp(-r^2)) + logsumexp(r - y)",
    ),
    (
        "reductions over an axis and over everything, max, relu and softplus",
        "param W[3, 4] = 0.3*sin(i*4 + j + 2)\nparam b[3] = 0.2*cos(i + 1)\n\
         q = relu(W @ x + b) + softplus(W @ x - b)\nm = max(q)\n\
         loss = m + mean(q * y) + sum(transpose(W) @ q) / 10",
    ),
    (
        "reductions over one axis by keyword: max and sum of a per-sample matrix",
        "param P[3, 4] = 0.2*sin(i*4 + j + 1) + 0.05*i\n\
         h = P * x + P\nr = max(h, axis = 1)\ns = sum(h, axis = 0)\n\
         loss = sum(r * y) + sum(s^2) / 10 + mean(h, axis = 1) @ y",
    ),
    (
        "a term folded to a broadcast zero at build time (found by the property test)",
        "param c = 0.7\nloss = (x @ (x * (0.5 - 0.5))) + c * sum(x)",
    ),
    (
        "two hidden layers with tanh and a mean-squared error",
        "param W1[5, 4] = 0.4*sin(i*4 + j + 1)\nparam b1[5] = 0.1*cos(i + 1)\n\
         param W2[3, 5] = 0.3*cos(i*5 + j)\nparam b2[3] = 0\n\
         a1 = tanh(W1 @ x + b1)\na2 = W2 @ a1 + b2\nloss = mean((a2 - y)^2)",
    ),
];

fn source(body: &str) -> String {
    format!("input x[4]\ntarget y[3]\n{body}\n")
}

#[test]
fn batched_equals_per_sample_for_every_case_and_batch_size() {
    for (what, body) in CASES {
        let net = parse_network(&source(body)).unwrap_or_else(|e| panic!("{what}: {e:?}"));
        let mut batched = batch::Evaluator::new(&net).unwrap_or_else(|e| panic!("{what}: {e:?}"));
        let reference = batch::PerSample::new(&net).unwrap();
        for (seed, m) in [(1, 1), (2, 3), (3, 7), (4, 2)] {
            let data = rows(seed, m);
            let got = batched.loss_and_gradient(&data).unwrap();
            let want = reference.loss_and_gradient(&data).unwrap();
            assert_eq!(got.batch, m);
            assert_close(&format!("{what}, m = {m}"), &got, &want, 1e-12);
        }
    }
}

#[test]
fn batched_gradient_matches_central_differences() {
    for (what, body) in CASES {
        check_central_differences(what, &source(body), 0, &rows(9, 5));
    }
}

#[test]
fn a_data_dependent_matrix_product_is_refused_with_its_equation() {
    let src = "input x[4]\ntarget y[3]\nparam u[4] = 1\nh = y @ transpose(x @ u * y)\nloss = h\n";
    // `x @ u * y` is a batched vector; its transpose is not defined per
    // sample (rank 1), so the file itself is rejected by the shape check.
    assert!(parse_network(src).is_err());
    let src = "input X[2, 4]\ntarget y[2]\nparam u[4] = 1\nloss = sum((X @ u - y)^2)\n";
    let net = parse_network(src).unwrap();
    let e = match batch::Evaluator::new(&net) {
        Err(e) => e,
        Ok(_) => panic!("a per-sample matrix input cannot be batched yet"),
    };
    assert!(e.message().contains("over a batch"), "{}", e.message());
    let span = e.span().unwrap();
    assert_eq!(&src[span.start..span.end], "loss");
}

/// What the W3 plan does, kernel by kernel: the matrix form of
/// backpropagation with no copies. Five products (two forward; ∂C/∂W2,
/// the error of the hidden layer, and ∂C/∂W1, the last written transposed
/// by the product itself), σ and σ(-z) in one kernel per layer.
#[test]
fn the_w3_plan_is_five_products_and_no_copies() {
    use symgrad_core::plan::{Instr, Unary};
    let plan = gradient_plan("w3.sg");
    let count = |f: &dyn Fn(&Instr) -> bool| plan.instrs.iter().filter(|i| f(i)).count();
    assert_eq!(count(&|i| matches!(i, Instr::MatMul { .. })), 5);
    assert_eq!(count(&|i| matches!(i, Instr::SigmoidPair { .. })), 2);
    let copies = count(&|i| matches!(i, Instr::Map { f: Unary::Copy, .. }));
    assert_eq!(copies, 0, "{:#?}", plan.instrs);
    let negations = count(&|i| matches!(i, Instr::Map { f: Unary::Neg, .. }));
    assert_eq!(negations, 0);
    // Every buffer is written once.
    let mut written = vec![0; plan.buffers.len()];
    for i in plan.setup.iter().chain(&plan.instrs) {
        for b in i.writes() {
            written[b] += 1;
        }
    }
    assert!(written.iter().all(|&w| w <= 1));
}

/// W3b's softmax output with cross-entropy: `log(softmax(z))` is built as
/// `z - logsumexp(z)`, and reverse mode's softmax (the derivative of
/// log-sum-exp) comes from the same kernel call, one `exp` per entry.
#[test]
fn the_w3b_plan_computes_softmax_and_logsumexp_together() {
    use symgrad_core::plan::Instr;
    let plan = gradient_plan("w3b.sg");
    let count = |f: &dyn Fn(&Instr) -> bool| plan.instrs.iter().filter(|i| f(i)).count();
    assert_eq!(count(&|i| matches!(i, Instr::SoftmaxLogSumExp { .. })), 1);
    let alone = count(&|i| matches!(i, Instr::Softmax { .. } | Instr::LogSumExp { .. }));
    assert_eq!(alone, 0, "{:#?}", plan.instrs);
    assert_eq!(count(&|i| matches!(i, Instr::MatMul { .. })), 5);
}

/// The loss-and-gradient plan of a network in `tests/data/networks`.
fn gradient_plan(file: &str) -> symgrad_core::plan::Plan {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/networks");
    let net = parse_network(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
    batch::plan(&net, batch::Outputs::LossAndGradient).unwrap()
}

//! `net::explain`: snapshots of the backpropagation equations derived for a
//! two-layer network (W3, the DESIGN.md example with fixed weights), a
//! three-layer network and softmax with cross-entropy (W3b); and a numerical
//! check that the printed equations, evaluated as printed, reproduce the
//! reverse pass and, run as a recursion from the output error, the
//! finite-difference gradient of every parameter.

use symgrad_core::eval::{Tensor, TensorProgram};
use symgrad_core::net::explain::{explain, Explanation, Quantity, Style};
use symgrad_core::net::{parse_network, Network, Role};
use symgrad_core::NodeId;

fn read(name: &str) -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/networks");
    std::fs::read_to_string(dir.join(name)).unwrap()
}

fn explained(name: &str) -> (Network, Explanation) {
    let net = parse_network(&read(name)).unwrap();
    let e = explain(&net).unwrap();
    (net, e)
}

#[test]
fn two_layer_text() {
    insta::assert_snapshot!("w3_text", explained("w3.sg").1.render(Style::Text));
}

#[test]
fn two_layer_latex() {
    insta::assert_snapshot!("w3_latex", explained("w3.sg").1.render(Style::Latex));
}

#[test]
fn three_layer_text() {
    insta::assert_snapshot!(
        "three_layer_text",
        explained("three_layer.sg").1.render(Style::Text)
    );
}

#[test]
fn three_layer_latex() {
    insta::assert_snapshot!(
        "three_layer_latex",
        explained("three_layer.sg").1.render(Style::Latex)
    );
}

#[test]
fn softmax_cross_entropy_text() {
    insta::assert_snapshot!("w3b_text", explained("w3b.sg").1.render(Style::Text));
}

/// Every declaration's value: parameters from their index formulas, inputs
/// and targets from fixed formulas.
fn point(net: &Network) -> Vec<Tensor> {
    let mut params = net.init_params(0).into_iter();
    net.decls
        .iter()
        .map(|d| match d.role {
            Role::Param => params.next().unwrap(),
            _ => {
                let n = d.shape.numel();
                let data = (0..n)
                    .map(|k| match d.role {
                        Role::Target => f64::from(u8::from(k == 0)),
                        _ => 0.8 * (1.3 * k as f64 + 0.5).sin(),
                    })
                    .collect();
                Tensor::new(d.shape.clone(), data)
            }
        })
        .collect()
}

/// Entry k of `t`, a scalar standing for every entry.
fn at(t: &Tensor, k: usize) -> f64 {
    if t.data.len() == 1 {
        t.data[0]
    } else {
        t.data[k]
    }
}

fn check_numerically(name: &str) {
    check_source(name, &read(name));
}

fn check_source(name: &str, src: &str) {
    let net = parse_network(src).unwrap();
    let e = explain(&net).unwrap();
    let mut decls: Vec<NodeId> = net.decls.iter().map(|d| d.node).collect();
    let mut x = point(&net);
    // Batch norm's statistics are variables of the per-sample graph: fixed
    // values here (positive variances), after the declarations.
    for bn in &net.batchnorms {
        for (node, base) in [(bn.mean, 0.1), (bn.var, 1.5)] {
            let shape = net.graph.shape(node).clone();
            let data = (0..shape.numel()).map(|k| base + 0.05 * k as f64).collect();
            decls.push(node);
            x.push(Tensor::new(shape, data));
        }
    }
    // The reverse pass's value of every named quantity.
    let nodes: Vec<NodeId> = e.names.iter().map(|n| n.node).collect();
    let reverse = TensorProgram::compile(&e.graph, &decls, &nodes)
        .unwrap()
        .run(&x)
        .unwrap();
    let mut vars: Vec<NodeId> = (0..e.names.len())
        .map(|k| e.notation.var_node(&format!("q{k}")).unwrap())
        .collect();
    // The statistics appear in the notation by their own names.
    let mut stats = Vec::new();
    for (k, &node) in decls.iter().enumerate().skip(net.decls.len()) {
        if let Some(v) = e.notation.var_node(net.graph.var_name(node).unwrap()) {
            vars.push(v);
            stats.push(x[k].clone());
        }
    }
    let eval_line = |rhs: NodeId, values: &[Tensor]| -> Tensor {
        let inputs: Vec<Tensor> = values.iter().chain(&stats).cloned().collect();
        TensorProgram::compile(&e.notation, &vars, &[rhs])
            .unwrap()
            .run(&inputs)
            .unwrap()
            .remove(0)
    };
    // 1. Each printed line, fed the reverse pass's values of the names it
    //    uses, gives the reverse pass's value of its left side.
    let mut lines = 0;
    for s in &e.sections {
        for line in &s.lines {
            let got = eval_line(line.rhs, &reverse);
            let want = &reverse[line.lhs];
            for k in 0..want.data.len() {
                let (g, w) = (at(&got, k), want.data[k]);
                assert!(
                    (g - w).abs() <= 1e-12 * (1.0 + w.abs()),
                    "{name}: {} entry {k}: {g} vs {w}",
                    e.names[line.lhs].text
                );
            }
            lines += 1;
        }
    }
    assert!(lines >= 6, "{name}: only {lines} lines");
    // 2. The printed equations as a recursion: every adjoint starts unknown
    //    (NaN) and is computed only from lines printed before it, from the
    //    output error back; then the parameters' gradients.
    let mut values = reverse.clone();
    for (k, n) in e.names.iter().enumerate() {
        if matches!(n.quantity, Quantity::Adjoint { .. }) {
            values[k].data.iter_mut().for_each(|v| *v = f64::NAN);
        }
    }
    for s in &e.sections {
        for line in &s.lines {
            let got = eval_line(line.rhs, &values);
            let shape = reverse[line.lhs].shape.clone();
            let data = (0..shape.numel()).map(|k| at(&got, k)).collect();
            values[line.lhs] = Tensor::new(shape, data);
        }
    }
    // 3. The gradients so computed against central finite differences of the loss.
    let loss = TensorProgram::compile(&net.graph, &decls, &[net.loss]).unwrap();
    let f = |x: &[Tensor]| loss.run(x).unwrap()[0].item();
    let mut checked = 0;
    for (k, n) in e.names.iter().enumerate() {
        let Quantity::Adjoint { name: p, .. } = &n.quantity else {
            continue;
        };
        let Some(d) = net.decls.iter().position(|d| &d.name == p) else {
            continue;
        };
        for entry in 0..values[k].data.len() {
            let h = 1e-6;
            let mut plus = x.clone();
            plus[d].data[entry] += h;
            let mut minus = x.clone();
            minus[d].data[entry] -= h;
            let fd = (f(&plus) - f(&minus)) / (2.0 * h);
            let g = values[k].data[entry];
            assert!(
                (g - fd).abs() <= 1e-7 * (1.0 + fd.abs()),
                "{name}: ∂C/∂{p}[{entry}]: printed recursion {g}, finite differences {fd}"
            );
            assert!(
                (g - reverse[k].data[entry]).abs() <= 1e-12 * (1.0 + g.abs()),
                "{name}: ∂C/∂{p}[{entry}] against reverse mode"
            );
            checked += 1;
        }
    }
    let params: usize = net.with_role(Role::Param).map(|d| d.shape.numel()).sum();
    assert_eq!(checked, params, "{name}: every parameter entry is checked");
}

#[test]
fn printed_equations_reproduce_the_gradient_two_layer() {
    check_numerically("net232.sg");
}

#[test]
fn printed_equations_reproduce_the_gradient_three_layer() {
    check_numerically("three_layer.sg");
}

#[test]
fn printed_equations_reproduce_the_gradient_softmax_cross_entropy() {
    check_numerically("w3b.sg");
}

/// A weight used twice (an L2 penalty in the loss), relu, softmax with
/// cross-entropy and a layer without bias.
const REGULARIZED: &str = "input x[3]
target y[2]
param W1[4, 3] = 0.5*sin(i*3 + j + 1)
param b1[4] = 0.1*cos(i)
param W2[2, 4] = 0.5*sin(i + j)
z1 = W1 @ x + b1
a1 = relu(z1)
z2 = W2 @ a1
p = softmax(z2)
loss = cross_entropy(p, y) + 0.01*sum(W1^2)
";

#[test]
fn printed_equations_reproduce_the_gradient_with_a_penalty() {
    let e = explain(&parse_network(REGULARIZED).unwrap()).unwrap();
    let text = e.render(Style::Text);
    assert!(text.contains("  ∂C/∂W1 = (1/50)·W1 + δ1 x^T\n"), "{text}");
    assert!(text.contains("  ∂C/∂W2 = δ2 a1^T\n"), "{text}");
    check_source("regularized", REGULARIZED);
}

#[test]
fn a_transposed_fraction_keeps_its_parentheses_in_latex() {
    // digits.sg scales its input, x/16; the gradient of W1 is δ1 (x/16)ᵀ.
    let src = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../nets/digits.sg"),
    )
    .unwrap();
    let e = explain(&parse_network(&src).unwrap()).unwrap();
    let latex = e.render(Style::Latex);
    assert!(
        latex.contains("\\delta_{1} \\left(\\frac{x}{16}\\right)^{\\top}"),
        "{latex}"
    );
    assert!(!latex.contains("\\frac{x}{16}^{\\top}"), "{latex}");
}

/// Convolutions with stride and padding, max and average pooling, flatten
/// and dropout (its mask a fixed input): every shape-carrying operation of
/// the backward pass copied into the printed notation.
const CONVOLUTIONAL: &str = "input x[1, 6, 6]
target y[3]
conv 2 3x3 padding 1 relu
maxpool 2
conv 3 2x2 stride 1 padding 1 tanh
avgpool 2
flatten
dropout 0.25
dense 3 softmax
loss cross_entropy
";

/// A residual block with per-channel batch norm (its statistics are
/// variables of the per-sample graph) and a recurrent layer.
const RESIDUAL: &str = "input x[1, 4, 4]
target y[2]
conv 2 3x3 padding 1
batchnorm
relu
residual
  conv 2 3x3 padding 1
  batchnorm
end relu
flatten
dense 2 softmax
loss cross_entropy
";

const RECURRENT: &str = "input v[3, 2]
target y[2]
rnn 3 tanh
dense 2 softmax
loss cross_entropy
";

#[test]
fn printed_equations_reproduce_the_gradient_of_images_and_recurrences() {
    for (name, src) in [
        ("convolutional", CONVOLUTIONAL),
        ("residual", RESIDUAL),
        ("recurrent", RECURRENT),
    ] {
        check_source(name, src);
    }
    let text = explain(&parse_network(CONVOLUTIONAL).unwrap())
        .unwrap()
        .render(Style::Text);
    assert!(text.contains("conv2d_input_grad(δ, K): "), "{text}");
    assert!(text.contains("maxpool_mask(a1, 2)"), "{text}");
}

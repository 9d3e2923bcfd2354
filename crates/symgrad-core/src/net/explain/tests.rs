use super::{explain, is_z_name, Quantity, Style};
use crate::net::parse_network;

#[test]
fn z_names_are_deltas() {
    assert!(is_z_name("z") && is_z_name("z2") && is_z_name("z_out"));
    assert!(!is_z_name("zeta") && !is_z_name("a2") && !is_z_name("h1"));
}

#[test]
fn other_names_fall_back_to_partials_and_activations_make_pre_activations() {
    // No z names: the operand of the activation is still the recursion's unit.
    let net = parse_network(
        "input x[2]\ntarget y[2]\nparam W[2, 2] = i + j\nparam c[2] = 1\n\
         h = W @ x + c\ng = tanh(h)\nloss = sum((g - y)^2)",
    )
    .unwrap();
    let e = explain(&net).unwrap();
    let text = e.render(Style::Text);
    assert!(
        text.contains("Output error\n  ∂C/∂h = 2·((g - y) ⊙ tanh'(h))\n"),
        "{text}"
    );
    assert!(
        text.contains("  ∂C/∂g = 2·(g - y)\n  ∂C/∂h = ∂C/∂g ⊙ tanh'(h)\n"),
        "{text}"
    );
    assert!(
        text.contains("  ∂C/∂W = ∂C/∂h x^T\n  ∂C/∂c = ∂C/∂h\n"),
        "{text}"
    );
    assert!(e.names.iter().any(|n| n.quantity
        == Quantity::Adjoint {
            name: "h".to_string(),
            delta: false
        }));
    let latex = e.render(Style::Latex);
    assert!(
        latex.contains("\\frac{\\partial C}{\\partial h} &= "),
        "{latex}"
    );
    assert!(latex.contains("\\tanh'\\left(h\\right)"), "{latex}");
}

#[test]
fn an_equation_the_loss_does_not_use_has_no_line() {
    let net =
        parse_network("input x[2]\nparam w[2] = 1\nz = w * x\nunused = sum(w)\nloss = sum(z)")
            .unwrap();
    let e = explain(&net).unwrap();
    let text = e.render(Style::Text);
    assert!(!text.contains("unused"), "{text}");
    assert!(text.contains("  ∂C/∂w = δ ⊙ x\n"), "{text}");
    assert!(text.contains("  δ = 1\n"), "{text}");
}

#[test]
fn a_recurrence_is_explained_through_time() {
    let net = parse_network(
        "input v[4, 2]\ntarget y[3]\nrnn 5 tanh\ndense 3 softmax\nloss cross_entropy\n",
    )
    .unwrap();
    let e = explain(&net).unwrap();
    let lines: Vec<String> = e
        .through_time
        .iter()
        .map(|(l, r)| format!("{l} = {r}"))
        .collect();
    let step = "∂C/∂h1[t] / cosh(Win1 v[t] + Wrec1 h1[t-1] + b1)^2";
    let first = "∂C/∂h1[0] / cosh(Win1 v[0] + b1)^2";
    assert_eq!(
        lines,
        [
            "∂C/∂h1[3] = ∂C/∂a1".to_string(),
            "∂C/∂h1[t] = Wrec1^T (∂C/∂h1[t+1] / cosh(Win1 v[t+1] + Wrec1 h1[t] + b1)^2)   \
             for t = 2, ..., 0"
                .to_string(),
            format!("∂C/∂Wrec1 = Σ_{{t=1..3}} ({step}) h1[t-1]^T"),
            format!("∂C/∂Win1 = Σ_{{t=1..3}} ({step}) v[t]^T + ({first}) v[0]^T"),
            format!("∂C/∂b1 = Σ_{{t=1..3}} {step} + {first}"),
        ]
    );
    // Each folded line stands for unrolled lines printed above it.
    let text = e.render(Style::Text);
    assert!(
        text.contains("∂C/∂h1[1] = Wrec1^T (∂C/∂h1[2] / cosh(Win1 v[2] + Wrec1 h1[1] + b1)^2)"),
        "{text}"
    );
    assert!(text.contains("\nBackpropagation through time"), "{text}");
    // The same folding in LaTeX, with the steps' names as h_{1}[t].
    let latex: Vec<String> = e
        .through_time_latex
        .iter()
        .map(|(l, r)| format!("{l} &= {r}"))
        .collect();
    assert_eq!(latex.len(), 5, "{latex:?}");
    assert!(
        latex[1].starts_with(r"\frac{\partial C}{\partial h_{1}[t]} &= "),
        "{}",
        latex[1]
    );
    assert!(
        latex[1].ends_with(r"\quad t = 2, \ldots, 0"),
        "{}",
        latex[1]
    );
    assert!(latex[2].contains(r"\sum_{t=1}^{3} "), "{}", latex[2]);
    assert!(e
        .render(Style::Latex)
        .contains("% Backpropagation through time"));
    // A network without a recurrence has none.
    let dense = parse_network("input x[2]\ntarget y[2]\ndense 2 tanh\nloss quadratic\n").unwrap();
    assert!(explain(&dense).unwrap().through_time.is_empty());
}

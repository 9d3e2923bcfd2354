//! Recurrent networks (issue 9, part 3): a row-by-row recurrence over the
//! digits against PyTorch's `nn.RNN` (tests/data/rnn/reference.json, made
//! by make_reference.py there): the loss and every parameter's gradient to
//! 1e-9. And the shared-weights lemma: the gradient of a weight that every
//! step shares is the sum of the gradients of independent copies of it,
//! one per step.

use serde_json::Value;
use symgrad_nn::{Batch, Dataset, Model, NetworkModel};

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// The loss and gradient of `model` on the first 16 digits.
fn loss_and_gradient(model: &mut NetworkModel) -> (f64, Vec<Vec<f64>>) {
    let digits = Dataset::from_csv(root().join("tests/data/digits.csv")).unwrap();
    let rows = digits.rows(..16).unwrap();
    let bound = rows.bind(&*model).unwrap();
    let mut batch = Batch::new();
    bound.gather(&(0..16).collect::<Vec<_>>(), &mut batch);
    let mut grad = vec![Vec::new(); model.param_names().len()];
    let loss = model.loss_and_gradient(&batch.slices(), &mut grad);
    (loss, grad)
}

#[track_caller]
fn close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-9 * (1.0 + w.abs()),
            "{what}[{k}]: {g} vs {w}"
        );
    }
}

#[test]
fn a_recurrence_matches_pytorchs_rnn() {
    let source = std::fs::read_to_string(root().join("tests/data/rnn/rnn.sg")).unwrap();
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/data/rnn/reference.json")).unwrap(),
    )
    .unwrap();
    let mut model = NetworkModel::from_source(&source, 0).unwrap();
    let names = model.param_names();
    for (name, p) in names.iter().zip(model.params_mut()) {
        p.copy_from_slice(&numbers(&reference["params"][name]));
    }
    let (loss, grad) = loss_and_gradient(&mut model);
    close("loss", &[loss], &[reference["loss"].as_f64().unwrap()]);
    for (name, g) in names.iter().zip(&grad) {
        close(
            &format!("∂loss/∂{name}"),
            g,
            &numbers(&reference["grads"][name]),
        );
    }
}

/// The same recurrence written out step by step, each step with its own
/// copy `Wrec1` ... `Wrec7` of the recurrent weight.
fn unshared_source() -> String {
    let mut src = String::from(
        "input v[8, 8]\ntarget y[10]\nparam Win[12, 8] = 0\nparam b[12] = 0\n\
         param Wout[10, 12] = 0\nparam c[10] = 0\n",
    );
    for t in 1..8 {
        src.push_str(&format!("param Wrec{t}[12, 12] = 0\n"));
    }
    src.push_str("h0 = tanh(Win @ (v[0] / 16) + b)\n");
    for t in 1..8 {
        src.push_str(&format!(
            "h{t} = tanh(Win @ (v[{t}] / 16) + Wrec{t} @ h{} + b)\n",
            t - 1
        ));
    }
    src.push_str("loss = cross_entropy(softmax(Wout @ h7 + c), y)\n");
    src
}

#[test]
fn a_shared_weights_gradient_is_the_sum_over_its_copies() {
    let shared_src = std::fs::read_to_string(root().join("tests/data/rnn/rnn.sg")).unwrap();
    let mut shared = NetworkModel::from_source(&shared_src, 0).unwrap();
    let mut copies = NetworkModel::from_source(&unshared_source(), 0).unwrap();
    // The same values: seeded random numbers, Wrec in every copy.
    let mut rng = symgrad_core::workloads::SplitMix64(3);
    let names = shared.param_names();
    let mut values = std::collections::HashMap::new();
    for (name, p) in names.iter().zip(shared.params_mut()) {
        for x in p.iter_mut() {
            *x = rng.uniform(-0.5, 0.5);
        }
        values.insert(name.clone(), p.to_vec());
    }
    let copy_names = copies.param_names();
    for (name, p) in copy_names.iter().zip(copies.params_mut()) {
        let from = if name.starts_with("Wrec") {
            "Wrec"
        } else {
            name.as_str()
        };
        p.copy_from_slice(&values[from]);
    }
    let (l1, g1) = loss_and_gradient(&mut shared);
    let (l2, g2) = loss_and_gradient(&mut copies);
    close("loss", &[l1], &[l2]);
    let at = |names: &[String], name: &str| names.iter().position(|n| n == name).unwrap();
    let mut summed = vec![0.0; 144];
    for t in 1..8 {
        for (s, d) in summed
            .iter_mut()
            .zip(&g2[at(&copy_names, &format!("Wrec{t}"))])
        {
            *s += d;
        }
    }
    close(
        "∂/∂Wrec against Σ_t ∂/∂Wrec_t",
        &g1[at(&names, "Wrec")],
        &summed,
    );
    // Each copy's gradient differs, so the sum is not a trivial identity.
    assert!(g2[at(&copy_names, "Wrec1")] != g2[at(&copy_names, "Wrec7")]);
    for name in ["Win", "b", "Wout", "c"] {
        close(name, &g1[at(&names, name)], &g2[at(&copy_names, name)]);
    }
}

//! Convolution and pooling against PyTorch (`F.conv2d`, `F.max_pool2d`,
//! `F.avg_pool2d`, float64): the output, `L = sum(w ⊙ y)` and the gradient
//! of every input by reverse mode, to 1e-9 relative. The reference is
//! `tests/data/images/reference.json`, made by `make_reference.py` beside it.

use serde_json::Value;
use symgrad_core::diff::reverse;
use symgrad_core::eval::{Tensor, TensorProgram};
use symgrad_core::graph::conv::Conv;
use symgrad_core::graph::Axis;
use symgrad_core::{Graph, NodeId, Shape};

fn reference() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/images/reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn dims(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn assert_close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-9 * (1.0 + w.abs()),
            "{what}[{i}]: {g} vs PyTorch's {w}"
        );
    }
}

#[test]
fn convolution_and_pooling_match_pytorch() {
    let data = reference();
    let cases = data["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 8);
    for (n, case) in cases.iter().enumerate() {
        let op = case["op"].as_str().unwrap();
        let what = format!("case {n} ({op})");
        let mut g = Graph::new();
        let x_shape = Shape::new(dims(&case["x_shape"]));
        let x = g.tensor_var("x", x_shape.clone());
        let mut inputs: Vec<NodeId> = vec![x];
        let mut values = vec![Tensor::new(x_shape, numbers(&case["x"]))];
        let mut wants = vec![("dx", numbers(&case["dx"]))];
        let y = match op {
            "conv2d" => {
                let k_shape = Shape::new(dims(&case["k_shape"]));
                let k = g.tensor_var("K", k_shape.clone());
                inputs.push(k);
                values.push(Tensor::new(k_shape, numbers(&case["k"])));
                wants.push(("dk", numbers(&case["dk"])));
                let conv = Conv {
                    stride: case["stride"].as_u64().unwrap() as u32,
                    padding: case["padding"].as_u64().unwrap() as u32,
                };
                match case["b"].is_null() {
                    true => g.try_conv2d(x, k, conv).unwrap(),
                    false => {
                        let bv = numbers(&case["b"]);
                        let b = g.tensor_var("b", [bv.len()]);
                        inputs.push(b);
                        values.push(Tensor::new([bv.len()], bv));
                        wants.push(("db", numbers(&case["db"])));
                        g.try_conv2d_bias(x, k, b, conv).unwrap()
                    }
                }
            }
            "maxpool" => g
                .try_maxpool(x, case["k"].as_u64().unwrap() as u32)
                .unwrap(),
            _ => g
                .try_avgpool(x, case["k"].as_u64().unwrap() as u32)
                .unwrap(),
        };
        let y_shape = g.shape(y).clone();
        let w = g.tensor_var("w", y_shape.clone());
        let wy = g.mul(w, y);
        let loss = g.sum(wy, Axis::All);
        let (grads, _) = reverse::gradient(&mut g, loss, &inputs);
        let mut all_inputs = inputs.clone();
        all_inputs.push(w);
        values.push(Tensor::new(y_shape, numbers(&case["w"])));
        let mut outs = vec![y, loss];
        outs.extend(&grads);
        let got = TensorProgram::compile(&g, &all_inputs, &outs)
            .unwrap()
            .run(&values)
            .unwrap();
        assert_close(&got[0].data, &numbers(&case["y"]), &format!("{what}: y"));
        assert_close(
            &[got[1].item()],
            &[case["loss"].as_f64().unwrap()],
            &format!("{what}: L"),
        );
        for (t, (name, want)) in got[2..].iter().zip(&wants) {
            assert_close(&t.data, want, &format!("{what}: {name}"));
        }
    }
}

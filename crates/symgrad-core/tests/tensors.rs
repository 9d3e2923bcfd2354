//! Tensor operations: every derivative rule against central finite
//! differences of the tensor interpreter, on random shapes and values; shape
//! errors; a two-layer network; printing and simplification of tensor nodes.
//!
//! Each check differentiates the scalar `L = sum(w ⊙ op(...))` with a fixed
//! random weight tensor `w`, so that every entry of the operation's output
//! matters: reverse mode's gradient must match `∂L/∂x_i` by central
//! differences for every entry of every input, and forward mode's derivative
//! along a random direction `d` must match `(L(x + hd) - L(x - hd)) / 2h`.

use symgrad_core::diff::{forward, paths, reverse, rules};
use symgrad_core::eval::{Tensor, TensorProgram};
use symgrad_core::graph::Axis;
use symgrad_core::workloads::SplitMix64;
use symgrad_core::{print, simplify, ErrorKind, Func, Graph, NodeId, Shape};

mod finite_differences;
use finite_differences::{check, close, eval_scalar, shape, Case, Rng};

/// The broadcasting pairs: same shape, scalar with tensor, [n] with [m, n],
/// [m, 1] with [m, n], and each the other way round.
fn broadcast_pairs(rng: &mut Rng) -> Vec<(Shape, Shape)> {
    let (m, n) = (rng.dim() + 1, rng.dim());
    let pairs = vec![
        (shape(&[m, n]), shape(&[m, n])),
        (shape(&[]), shape(&[m, n])),
        (shape(&[n]), shape(&[m, n])),
        (shape(&[m, 1]), shape(&[m, n])),
        (shape(&[m, 1]), shape(&[1, n])),
        (shape(&[n]), shape(&[n])),
    ];
    let mut all = pairs.clone();
    all.extend(pairs.into_iter().map(|(a, b)| (b, a)));
    all
}

#[test]
fn elementwise_arithmetic_broadcasts_and_differentiates() {
    let mut rng = Rng(SplitMix64(1));
    for round in 0..3 {
        for (sa, sb) in broadcast_pairs(&mut rng) {
            for name in ["+", "-", "*", "/", "^", "max", "min"] {
                // Positive values keep `/` and `^` smooth.
                let mut case = Case::new(&mut rng, &[sa.clone(), sb.clone()], 0.5, 1.5);
                let (a, b) = (case.inputs[0], case.inputs[1]);
                let g = &mut case.g;
                case.out = match name {
                    "+" => g.add(a, b),
                    "-" => g.sub(a, b),
                    "*" => g.mul(a, b),
                    "/" => g.div(a, b),
                    "^" => g.pow(a, b),
                    "max" => g.max(a, b),
                    _ => g.min(a, b),
                };
                let expected = sa.broadcast(&sb).unwrap();
                assert_eq!(*case.g.shape(case.out), expected);
                check(case, &mut rng, &format!("round {round}: {sa} {name} {sb}"));
            }
        }
    }
}

#[test]
fn every_function_is_elementwise_on_tensors() {
    let mut rng = Rng(SplitMix64(2));
    for f in Func::ALL {
        let s = shape(&[rng.dim(), rng.dim()]);
        // Inside every domain (asin, acos, ln, sqrt, acosh), away from the
        // poles of cot and csc, the jumps of floor and ceil at 0 and the
        // kinks of abs, relu, sign and step, which random values do not hit.
        let (lo, hi) = match f {
            Func::Asin
            | Func::Acos
            | Func::Ln
            | Func::Log10
            | Func::Log2
            | Func::Sqrt
            | Func::Cbrt
            | Func::Cot
            | Func::Csc
            | Func::Floor
            | Func::Ceil => (0.1, 0.9),
            Func::Acosh => (1.1, 1.9),
            _ => (-0.9, 0.9),
        };
        let mut case = Case::new(&mut rng, std::slice::from_ref(&s), lo, hi);
        let x = case.inputs[0];
        // A constant with a tensor too: 2*f(x) + 1.
        let fx = case.g.func(f, x);
        let two = case.g.int(2);
        let one = case.g.int(1);
        let scaled = case.g.mul(two, fx);
        case.out = case.g.add(scaled, one);
        check(case, &mut rng, &format!("{f} on {s}"));
    }
}

#[test]
fn matrix_products_in_all_four_forms() {
    let mut rng = Rng(SplitMix64(3));
    for _ in 0..4 {
        let (m, k, n) = (rng.dim(), rng.dim(), rng.dim());
        for (sa, sb) in [
            (shape(&[m, k]), shape(&[k, n])),
            (shape(&[m, k]), shape(&[k])),
            (shape(&[k]), shape(&[k, n])),
            (shape(&[k]), shape(&[k])),
        ] {
            let mut case = Case::new(&mut rng, &[sa.clone(), sb.clone()], -1.0, 1.0);
            case.out = case.g.matmul(case.inputs[0], case.inputs[1]);
            check(case, &mut rng, &format!("{sa} @ {sb}"));
        }
    }
}

#[test]
fn the_interpreter_multiplies_matrices_as_the_definition_says() {
    let mut rng = Rng(SplitMix64(4));
    let (m, k, n) = (3, 5, 2);
    let mut case = Case::new(&mut rng, &[shape(&[m, k]), shape(&[k, n])], -1.0, 1.0);
    let c = case.g.matmul(case.inputs[0], case.inputs[1]);
    let got = TensorProgram::compile(&case.g, &case.inputs, &[c])
        .unwrap()
        .run(&case.values)
        .unwrap();
    let (a, b) = (&case.values[0].data, &case.values[1].data);
    for i in 0..m {
        for j in 0..n {
            let want: f64 = (0..k).map(|l| a[i * k + l] * b[l * n + j]).sum();
            close(got[0].data[i * n + j], want, "c[i][j] = Σ a[i][l] b[l][j]");
        }
    }
}

#[test]
fn transpose_reshape_and_broadcasts() {
    let mut rng = Rng(SplitMix64(5));
    for _ in 0..4 {
        let (m, n) = (rng.dim(), rng.dim());
        let s = shape(&[m, n]);
        let mut case = Case::new(&mut rng, std::slice::from_ref(&s), -1.0, 1.0);
        case.out = case.g.transpose(case.inputs[0]);
        check(case, &mut rng, &format!("transpose {s}"));

        let mut case = Case::new(&mut rng, std::slice::from_ref(&s), -1.0, 1.0);
        case.out = case.g.reshape(case.inputs[0], &shape(&[n * m]));
        check(case, &mut rng, &format!("reshape {s}"));

        for (from, to) in [
            (shape(&[n]), shape(&[m, n])),
            (shape(&[m, 1]), shape(&[m, n])),
            (shape(&[]), shape(&[m, n])),
            (shape(&[1, n]), shape(&[2, m, n])),
        ] {
            let mut case = Case::new(&mut rng, std::slice::from_ref(&from), -1.0, 1.0);
            case.out = case.g.broadcast_to(case.inputs[0], &to);
            check(case, &mut rng, &format!("broadcast_to {from} -> {to}"));
            let mut case = Case::new(&mut rng, std::slice::from_ref(&to), -1.0, 1.0);
            case.out = case.g.sum_to(case.inputs[0], &from);
            check(case, &mut rng, &format!("sum_to {to} -> {from}"));
        }
    }
}

#[test]
fn reductions_over_all_and_one_axis() {
    let mut rng = Rng(SplitMix64(6));
    for _ in 0..3 {
        for s in [
            shape(&[rng.dim() + 1]),
            shape(&[rng.dim(), rng.dim() + 1]),
            shape(&[rng.dim(), rng.dim(), rng.dim()]),
        ] {
            let mut axes = vec![Axis::All];
            axes.extend((0..s.rank() as u32).map(Axis::Dim));
            for axis in axes {
                for name in ["sum", "mean", "max"] {
                    let mut case = Case::new(&mut rng, std::slice::from_ref(&s), -1.0, 1.0);
                    let x = case.inputs[0];
                    case.out = match name {
                        "sum" => case.g.sum(x, axis),
                        "mean" => case.g.mean(x, axis),
                        _ => case.g.max_reduce(x, axis),
                    };
                    check(case, &mut rng, &format!("{name} of {s} over {axis:?}"));
                }
            }
        }
    }
}

#[test]
fn max_sends_a_tie_to_the_first_largest_entry() {
    let mut g = Graph::new();
    let x = g.tensor_var("x", [4]);
    let m = g.max_reduce(x, Axis::All);
    let (grad, _) = reverse::gradient(&mut g, m, &[x]);
    let v = Tensor::new([4], vec![1.0, 3.0, 3.0, 2.0]);
    let got = TensorProgram::compile(&g, &[x], &grad)
        .unwrap()
        .run(&[v])
        .unwrap();
    assert_eq!(got[0].data, vec![0.0, 1.0, 0.0, 0.0]);
}

#[test]
fn softmax_and_logsumexp_along_the_last_axis() {
    let mut rng = Rng(SplitMix64(7));
    for _ in 0..4 {
        for s in [shape(&[rng.dim() + 1]), shape(&[rng.dim(), rng.dim() + 1])] {
            let mut case = Case::new(&mut rng, std::slice::from_ref(&s), -2.0, 2.0);
            case.out = case.g.softmax(case.inputs[0]);
            check(case, &mut rng, &format!("softmax {s}"));
            let mut case = Case::new(&mut rng, std::slice::from_ref(&s), -2.0, 2.0);
            case.out = case.g.logsumexp(case.inputs[0]);
            check(case, &mut rng, &format!("logsumexp {s}"));
        }
    }
}

#[test]
fn softmax_and_logsumexp_are_stable_for_large_inputs() {
    let mut g = Graph::new();
    let x = g.tensor_var("x", [3]);
    let s = g.softmax(x);
    let l = g.logsumexp(x);
    let v = Tensor::new([3], vec![1000.0, 1001.0, 999.0]);
    let got = TensorProgram::compile(&g, &[x], &[s, l])
        .unwrap()
        .run(&[v])
        .unwrap();
    let z: f64 = [-1.0f64, 0.0, -2.0].iter().map(|d| d.exp()).sum();
    close(got[0].data[1], 1.0 / z, "softmax of shifted values");
    close(
        got[1].item(),
        1001.0 + z.ln(),
        "logsumexp = max + ln Σ exp(x - max)",
    );
}

#[test]
fn cross_entropy_and_mse_are_expressible() {
    // -sum(y ⊙ ln(softmax(z))) and mean((a - y)^2), differentiated through.
    let mut rng = Rng(SplitMix64(8));
    let n = 4;
    let mut case = Case::new(&mut rng, &[shape(&[n]), shape(&[n])], 0.1, 1.0);
    let (z, y) = (case.inputs[0], case.inputs[1]);
    let g = &mut case.g;
    let s = g.softmax(z);
    let ls = g.func(Func::Ln, s);
    let t = g.mul(y, ls);
    let total = g.sum(t, Axis::All);
    let ce = g.neg(total);
    let d = g.sub(z, y);
    let d2 = g.powi(d, 2);
    let mse = g.mean(d2, Axis::All);
    case.out = g.add(ce, mse);
    check(case, &mut rng, "cross entropy + mse");
}

/// `sum((sigmoid(W2 @ sigmoid(W1 @ x + b1) + b2) - y)^2) / 2`, 4-3-2.
fn two_layer(g: &mut Graph) -> (Vec<NodeId>, Vec<NodeId>, NodeId) {
    let x = g.tensor_var("x", [4]);
    let y = g.tensor_var("y", [2]);
    let w1 = g.tensor_var("W1", [3, 4]);
    let b1 = g.tensor_var("b1", [3]);
    let w2 = g.tensor_var("W2", [2, 3]);
    let b2 = g.tensor_var("b2", [2]);
    let z1 = g.matmul(w1, x);
    let z1 = g.add(z1, b1);
    let a1 = g.func(Func::Sigmoid, z1);
    let z2 = g.matmul(w2, a1);
    let z2 = g.add(z2, b2);
    let a2 = g.func(Func::Sigmoid, z2);
    let e = g.sub(a2, y);
    let e2 = g.powi(e, 2);
    let s = g.sum(e2, Axis::All);
    let two = g.int(2);
    let loss = g.div(s, two);
    (vec![x, y], vec![w1, b1, w2, b2], loss)
}

#[test]
fn a_two_layer_network_matches_finite_differences_for_every_parameter() {
    let mut rng = Rng(SplitMix64(9));
    let mut g = Graph::new();
    let (data, params, loss) = two_layer(&mut g);
    let mut inputs = data.clone();
    inputs.extend(&params);
    let values: Vec<Tensor> = inputs
        .iter()
        .map(|&v| rng.tensor(g.shape(v), -1.0, 1.0))
        .collect();
    let (grad, _) = reverse::gradient(&mut g, loss, &params);
    let exact = TensorProgram::compile(&g, &inputs, &grad)
        .unwrap()
        .run(&values)
        .unwrap();
    let h = 1e-6;
    let mut checked = 0;
    for (p, gp) in exact.iter().enumerate() {
        for j in 0..gp.data.len() {
            let mut plus = values.clone();
            plus[2 + p].data[j] += h;
            let mut minus = values.clone();
            minus[2 + p].data[j] -= h;
            let fd = (eval_scalar(&g, &inputs, &plus, loss)
                - eval_scalar(&g, &inputs, &minus, loss))
                / (2.0 * h);
            close(gp.data[j], fd, &format!("∂loss/∂param{p}[{j}]"));
            checked += 1;
        }
    }
    assert_eq!(checked, 12 + 3 + 6 + 2);
    // The simplified gradient is the same function: simplify leaves tensor
    // nodes structurally alone and keeps them correct.
    let simple = simplify::simplify(&mut g, &grad);
    let again = TensorProgram::compile(&g, &inputs, &simple)
        .unwrap()
        .run(&values)
        .unwrap();
    for (a, b) in exact.iter().zip(&again) {
        assert_eq!(a.shape, b.shape);
        for (x, y) in a.data.iter().zip(&b.data) {
            close(*x, *y, "simplified gradient");
        }
    }
}

#[test]
fn the_network_prints_readably() {
    let mut g = Graph::new();
    let (_, _, loss) = two_layer(&mut g);
    let text = print::text(&g, &[loss]).formula(0);
    assert_eq!(
        text,
        "sum((sigmoid(W2 @ sigmoid(W1 @ x + b1) + b2) - y)^2)/2"
    );
    let w = g.tensor_var("W", [2, 3]);
    let t = g.transpose(w);
    let s = g.sum(t, Axis::Dim(1));
    assert_eq!(
        print::text(&g, &[s]).formula(0),
        "sum(transpose(W), axis=1)"
    );
}

#[test]
fn shape_errors_name_both_shapes() {
    let mut g = Graph::new();
    let w = g.tensor_var("W1", [30, 784]);
    let x = g.tensor_var("x", [10]);
    let v = g.tensor_var("v", [4]);
    let m = g.tensor_var("m", [2, 3]);
    let s = g.var("s");
    let cases: Vec<(symgrad_core::Result<NodeId>, &str)> = vec![
        (g.try_matmul(w, x), "cannot multiply [30, 784] by [10]"),
        (g.try_matmul(s, x), "cannot multiply [] by [10]"),
        (g.try_add(m, v), "cannot add [2, 3] and [4]"),
        (g.try_sub(m, v), "cannot subtract [4] from [2, 3]"),
        (g.try_mul(m, v), "cannot multiply [2, 3] by [4] elementwise"),
        (g.try_div(m, v), "cannot divide [2, 3] by [4]"),
        (
            g.try_transpose(v),
            "cannot transpose [4]: transpose needs a matrix",
        ),
        (
            g.try_sum(m, Axis::Dim(2)),
            "axis 2 is out of range for [2, 3]",
        ),
        (
            g.try_softmax(s),
            "softmax needs a vector or a matrix, not a scalar",
        ),
        (g.try_sum_to(m, &shape(&[4])), "cannot sum [2, 3] to [4]"),
        (
            g.try_broadcast_to(m, &shape(&[3, 3])),
            "cannot broadcast [2, 3] to [3, 3]",
        ),
        (
            g.try_reshape(m, &shape(&[5])),
            "cannot reshape [2, 3] to [5]",
        ),
        (g.try_tensor_var("x", [11]), "'x' has shape [10], not [11]"),
    ];
    for (result, message) in cases {
        let e = result.expect_err(message);
        assert_eq!(e.kind(), ErrorKind::Shape);
        assert_eq!(e.message(), message);
    }
}

#[test]
fn the_plain_builders_panic_with_the_same_message() {
    let result = std::panic::catch_unwind(|| {
        let mut g = Graph::new();
        let w = g.tensor_var("W1", [30, 784]);
        let x = g.tensor_var("x", [10]);
        g.matmul(w, x)
    });
    let payload = result.expect_err("a shape mismatch");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert_eq!(message, "cannot multiply [30, 784] by [10]");
}

#[test]
fn tensor_operations_have_no_local_partials_and_paths_refuse_tensors() {
    let mut g = Graph::new();
    let (_, params, loss) = two_layer(&mut g);
    let e = paths::gradient(&mut g, loss, &params, paths::DEFAULT_MAX_PATHS)
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::Shape);
    assert!(
        e.message()
            .starts_with("path enumeration needs scalar nodes"),
        "{}",
        e.message()
    );
    let a = g.tensor_var("A", [2, 2]);
    let c = g.matmul(a, a);
    let e = rules::local_derivatives(&mut g, c).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoRule);
    assert!(
        e.message()
            .starts_with("'@' has no local partial derivative"),
        "{}",
        e.message()
    );
}

#[test]
fn folding_keeps_shapes() {
    let mut g = Graph::new();
    let w = g.tensor_var("W", [2, 3]);
    let zero = g.int(0);
    let one = g.int(1);
    // W*0 is zero of W's shape; W^0 is one of W's shape.
    let z = g.mul(w, zero);
    assert_eq!(*g.shape(z), shape(&[2, 3]));
    assert!(g.is_zero(z));
    let p = g.pow(w, zero);
    assert_eq!(*g.shape(p), shape(&[2, 3]));
    assert_eq!(g.add(w, zero), w);
    assert_eq!(g.mul(one, w), w);
    // Scalars are unchanged: x*0 is the scalar 0.
    let x = g.var("x");
    assert_eq!(g.mul(x, zero), zero);
    let t = g.transpose(w);
    assert_eq!(g.transpose(t), w);
}

#[test]
fn forward_mode_seeds_a_tensor_input_with_all_ones() {
    // jacobian() seeds ẋ = 1 broadcast: the derivative along the all-ones
    // direction, which is the sum of the gradient's entries.
    let mut rng = Rng(SplitMix64(10));
    let mut g = Graph::new();
    let (data, params, loss) = two_layer(&mut g);
    let mut inputs = data.clone();
    inputs.extend(&params);
    let values: Vec<Tensor> = inputs
        .iter()
        .map(|&v| rng.tensor(g.shape(v), -1.0, 1.0))
        .collect();
    let (rev, _) = reverse::gradient(&mut g, loss, &params);
    let (fwd, _) = forward::gradient(&mut g, loss, &params);
    let r = TensorProgram::compile(&g, &inputs, &rev)
        .unwrap()
        .run(&values)
        .unwrap();
    let f = TensorProgram::compile(&g, &inputs, &fwd)
        .unwrap()
        .run(&values)
        .unwrap();
    for (a, b) in r.iter().zip(&f) {
        close(
            a.data.iter().sum(),
            b.item(),
            "forward along ones = Σ gradient",
        );
    }
}

#[test]
fn the_scalar_interpreter_refuses_tensors() {
    let mut g = Graph::new();
    let w = g.tensor_var("W", [2, 2]);
    let s = g.sum(w, Axis::All);
    let e = symgrad_core::eval::Program::compile(&g, &[w], &[s]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shape);
}

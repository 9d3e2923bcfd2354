//! Convolution, pooling and constant indexing (issue 9, part 2): every rule
//! against central finite differences of the tensor interpreter on random
//! shapes, strides and paddings, in reverse and forward mode (the harness of
//! `tests/tensors.rs`); the rules of the backward operations themselves
//! (second derivatives); shape errors; printing.

mod finite_differences;
use finite_differences::{check, close, eval_scalar, shape, Case, Rng};
use symgrad_core::diff::reverse;
use symgrad_core::eval::{Tensor, TensorProgram};
use symgrad_core::graph::conv::Conv;
use symgrad_core::graph::Axis;
use symgrad_core::workloads::SplitMix64;
use symgrad_core::{print, ErrorKind, Func, Graph};

/// Random convolution geometries: (leading axes, C, H, W, F, kh, kw,
/// stride, padding), always with a kernel that fits.
fn geometries(rng: &mut Rng) -> Vec<(Vec<usize>, [usize; 8])> {
    let mut out = vec![
        (vec![], [1, 4, 4, 1, 3, 3, 1, 0]),
        (vec![2], [2, 5, 4, 3, 2, 3, 2, 1]),
        (vec![], [3, 6, 5, 2, 3, 2, 3, 2]),
        (vec![], [1, 3, 3, 2, 3, 3, 1, 1]),
    ];
    for _ in 0..4 {
        let (c, f) = (rng.dim(), rng.dim());
        let (kh, kw) = (1 + rng.next() as usize % 3, 1 + rng.next() as usize % 3);
        let (stride, padding) = (1 + rng.next() as usize % 3, rng.next() as usize % 3);
        let h = kh.saturating_sub(2 * padding).max(1) + rng.next() as usize % 4;
        let w = kw.saturating_sub(2 * padding).max(1) + rng.next() as usize % 4;
        let lead = if rng.next().is_multiple_of(2) {
            vec![]
        } else {
            vec![2]
        };
        out.push((lead, [c, h, w, f, kh, kw, stride, padding]));
    }
    out
}

fn dims(lead: &[usize], rest: &[usize]) -> Vec<usize> {
    lead.iter().chain(rest).copied().collect()
}

#[test]
fn conv2d_matches_finite_differences_in_input_and_kernel() {
    let mut rng = Rng(SplitMix64(91));
    for (lead, [c, h, w, f, kh, kw, stride, padding]) in geometries(&mut rng) {
        let shapes = [shape(&dims(&lead, &[c, h, w])), shape(&[f, c, kh, kw])];
        let mut case = Case::new(&mut rng, &shapes, -1.0, 1.0);
        let conv = Conv {
            stride: stride as u32,
            padding: padding as u32,
        };
        case.out = case.g.conv2d(case.inputs[0], case.inputs[1], conv);
        let what = format!("conv2d {shapes:?} stride {stride} padding {padding}");
        check(case, &mut rng, &what);
    }
}

/// The backward operations have rules of their own (so that a gradient can
/// be differentiated again): each is checked like any operation.
#[test]
fn the_convolutions_backward_operations_differentiate_too() {
    let mut rng = Rng(SplitMix64(92));
    for (lead, [c, h, w, f, kh, kw, stride, padding]) in geometries(&mut rng) {
        let conv = Conv {
            stride: stride as u32,
            padding: padding as u32,
        };
        let ho = (h + 2 * padding - kh) / stride + 1;
        let wo = (w + 2 * padding - kw) / stride + 1;
        let (x, k, y) = (
            shape(&dims(&lead, &[c, h, w])),
            shape(&[f, c, kh, kw]),
            shape(&dims(&lead, &[f, ho, wo])),
        );
        let mut case = Case::new(&mut rng, &[y.clone(), k.clone()], -1.0, 1.0);
        case.out = case
            .g
            .conv2d_input_grad(case.inputs[0], case.inputs[1], conv, &x);
        check(case, &mut rng, &format!("conv2d_input_grad {x}"));
        let mut case = Case::new(&mut rng, &[x.clone(), y], -1.0, 1.0);
        case.out = case
            .g
            .conv2d_kernel_grad(case.inputs[0], case.inputs[1], conv, &k);
        check(case, &mut rng, &format!("conv2d_kernel_grad {x}"));
    }
}

#[test]
fn a_second_derivative_through_a_convolution() {
    // L = sum(w ⊙ tanh(conv(x, K))²): the gradient in K, differentiated
    // again along a direction, against differences of the gradient.
    let mut g = Graph::new();
    let x = g.tensor_var("x", [2, 5, 5]);
    let k = g.tensor_var("K", [3, 2, 3, 3]);
    let conv = Conv {
        stride: 2,
        padding: 1,
    };
    let y = g.conv2d(x, k, conv);
    let t = g.func(Func::Tanh, y);
    let t2 = g.mul(t, t);
    let loss = g.sum(t2, Axis::All);
    let (grad, _) = reverse::gradient(&mut g, loss, &[k]);
    let d = g.tensor_var("d", [3, 2, 3, 3]);
    let gd = g.mul(grad[0], d);
    let directional = g.sum(gd, Axis::All);
    let (second, _) = reverse::gradient(&mut g, directional, &[k]);
    let mut rng = Rng(SplitMix64(93));
    let xv = rng.tensor(&shape(&[2, 5, 5]), -1.0, 1.0);
    let kv = rng.tensor(&shape(&[3, 2, 3, 3]), -0.5, 0.5);
    let dv = rng.tensor(&shape(&[3, 2, 3, 3]), -1.0, 1.0);
    let exact = TensorProgram::compile(&g, &[x, k, d], &second)
        .unwrap()
        .run(&[xv.clone(), kv.clone(), dv.clone()])
        .unwrap();
    let h = 1e-6;
    for j in [0, 7, 20, 53] {
        let at = |delta: f64| {
            let mut kk = kv.clone();
            kk.data[j] += delta;
            eval_scalar(&g, &[x, k, d], &[xv.clone(), kk, dv.clone()], directional)
        };
        let fd = (at(h) - at(-h)) / (2.0 * h);
        close(exact[0].data[j], fd, &format!("∂/∂K[{j}] of ⟨∇L, d⟩"));
    }
}

#[test]
fn pooling_matches_finite_differences() {
    let mut rng = Rng(SplitMix64(94));
    for (dims, k) in [
        (vec![2, 4, 4], 2),
        (vec![1, 5, 7], 2),
        (vec![3, 6, 6], 3),
        (vec![2, 2, 4, 5], 2),
        (vec![4, 4], 4),
    ] {
        let s = shape(&dims);
        // Distinct entries keep every window's largest entry unique, so
        // finite differences do not straddle a tie.
        let mut case = Case::new(&mut rng, std::slice::from_ref(&s), -1.0, 1.0);
        let n = s.numel();
        case.values[0].data = (0..n)
            .map(|i| ((i * 7919) % n) as f64 / n as f64 - 0.5)
            .collect();
        case.out = case.g.try_maxpool(case.inputs[0], k).unwrap();
        check(case, &mut rng, &format!("maxpool {s} by {k}"));
        let mut case = Case::new(&mut rng, std::slice::from_ref(&s), -1.0, 1.0);
        case.out = case.g.try_avgpool(case.inputs[0], k).unwrap();
        check(case, &mut rng, &format!("avgpool {s} by {k}"));
        let mut case = Case::new(&mut rng, std::slice::from_ref(&s), -1.0, 1.0);
        case.out = case.g.sumpool(case.inputs[0], k);
        let pooled = case.g.shape(case.out).clone();
        check(case, &mut rng, &format!("sumpool {s} by {k}"));
        let mut case = Case::new(&mut rng, &[pooled], -1.0, 1.0);
        case.out = case.g.upsample(case.inputs[0], k, &s);
        check(case, &mut rng, &format!("upsample to {s} by {k}"));
    }
}

#[test]
fn maxpool_sends_a_tie_to_the_first_largest_entry() {
    let mut g = Graph::new();
    let x = g.tensor_var("x", [1, 2, 2]);
    let m = g.try_maxpool(x, 2).unwrap();
    let total = g.sum(m, Axis::All);
    let (grad, _) = reverse::gradient(&mut g, total, &[x]);
    let v = Tensor::new([1, 2, 2], vec![1.0, 3.0, 3.0, 2.0]);
    let got = TensorProgram::compile(&g, &[x], &grad)
        .unwrap()
        .run(&[v])
        .unwrap();
    assert_eq!(got[0].data, vec![0.0, 1.0, 0.0, 0.0]);
}

#[test]
fn selecting_and_embedding_along_an_axis() {
    let mut rng = Rng(SplitMix64(95));
    for (dims, axis, at) in [
        (vec![5, 3], 0, 4),
        (vec![8, 8], 0, 0),
        (vec![2, 3, 4], 1, 2),
        (vec![2, 3, 4], 2, 1),
        (vec![6], 0, 3),
    ] {
        let s = shape(&dims);
        let mut case = Case::new(&mut rng, std::slice::from_ref(&s), -1.0, 1.0);
        case.out = case.g.try_select(case.inputs[0], axis, at).unwrap();
        let slice = case.g.shape(case.out).clone();
        check(case, &mut rng, &format!("{s}[axis {axis}: {at}]"));
        let mut case = Case::new(&mut rng, &[slice], -1.0, 1.0);
        case.out = case.g.embed(case.inputs[0], axis, at, &s);
        check(case, &mut rng, &format!("embed into {s}"));
    }
    // The values themselves, by hand.
    let mut g = Graph::new();
    let v = g.tensor_var("v", [3, 2]);
    let row = g.select(v, 0, 1);
    let col = g.select(v, 1, 0);
    let values = Tensor::new([3, 2], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let got = TensorProgram::compile(&g, &[v], &[row, col])
        .unwrap()
        .run(&[values])
        .unwrap();
    assert_eq!(got[0].data, vec![3.0, 4.0]);
    assert_eq!(got[1].data, vec![1.0, 3.0, 5.0]);
}

#[test]
fn shape_errors_say_what_does_not_fit() {
    let mut g = Graph::new();
    let x = g.tensor_var("x", [3, 8, 8]);
    let k1 = g.tensor_var("K1", [16, 1, 3, 3]);
    let k5 = g.tensor_var("K5", [4, 3, 5, 5]);
    let k3 = g.tensor_var("K3", [4, 3, 3]);
    let small = g.tensor_var("s", [3, 2, 2]);
    let b = g.tensor_var("b", [5]);
    let k = g.tensor_var("K", [4, 3, 3, 3]);
    let same = Conv {
        stride: 1,
        padding: 0,
    };
    let message = |r: symgrad_core::Result<_>| {
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Shape);
        e.message().to_string()
    };
    assert_eq!(
        message(g.try_conv2d(x, k1, same)),
        "conv2d: 3 input channels, the kernel expects 1"
    );
    assert_eq!(
        message(g.try_conv2d(small, k5, same)),
        "conv2d: the 5x5 kernel does not fit the 2x2 input with padding 0"
    );
    assert!(message(g.try_conv2d(x, k3, same)).contains("[filters, channels, height, width]"));
    let zero = Conv {
        stride: 0,
        padding: 1,
    };
    assert_eq!(
        message(g.try_conv2d(x, k, zero)),
        "conv2d: the stride must be at least 1"
    );
    assert!(message(g.try_conv2d_bias(x, k, b, same)).contains("the bias is [5]"));
    assert_eq!(
        message(g.try_maxpool(small, 3)),
        "maxpool 3: a 3x3 window does not fit the 2x2 input"
    );
    assert!(message(g.try_select(x, 0, 3)).starts_with("index 3 is out of range"));
    assert!(message(g.try_select(x, 3, 0)).contains("it has 3 axes"));
}

#[test]
fn conv2d_with_a_bias_and_flatten() {
    // conv2d(x, K) + b, flattened, against the loops written out here.
    let mut g = Graph::new();
    let x = g.tensor_var("x", [1, 3, 3]);
    let k = g.tensor_var("K", [2, 1, 2, 2]);
    let b = g.tensor_var("b", [2]);
    let conv = Conv {
        stride: 1,
        padding: 0,
    };
    let y = g.try_conv2d_bias(x, k, b, conv).unwrap();
    let flat = g.try_flatten(y).unwrap();
    assert_eq!(g.shape(flat).dims(), [8]);
    let xv: Vec<f64> = (1..=9).map(f64::from).collect();
    let kv = vec![1.0, 0.0, 0.0, -1.0, 0.5, 0.5, 0.5, 0.5];
    let got = TensorProgram::compile(&g, &[x, k, b], &[flat])
        .unwrap()
        .run(&[
            Tensor::new([1, 3, 3], xv.clone()),
            Tensor::new([2, 1, 2, 2], kv.clone()),
            Tensor::new([2], vec![10.0, -10.0]),
        ])
        .unwrap();
    let mut want = Vec::new();
    for (f, bias) in [(0, 10.0), (1, -10.0)] {
        for i in 0..2 {
            for j in 0..2 {
                let mut acc = bias;
                for p in 0..2 {
                    for q in 0..2 {
                        acc += xv[(i + p) * 3 + j + q] * kv[f * 4 + p * 2 + q];
                    }
                }
                want.push(acc);
            }
        }
    }
    assert_eq!(got[0].data, want);
}

#[test]
fn the_operations_print_as_calls() {
    let mut g = Graph::new();
    let x = g.tensor_var("x", [1, 4, 4]);
    let k = g.tensor_var("K", [2, 1, 3, 3]);
    let v = g.tensor_var("v", [8, 3]);
    let conv = Conv {
        stride: 1,
        padding: 1,
    };
    let y = g.conv2d(x, k, conv);
    let p = g.try_maxpool(y, 2).unwrap();
    let r = g.select(v, 0, 7);
    assert_eq!(
        print::text(&g, &[p]).formula(0),
        "maxpool(conv2d(x, K, stride=1, padding=1), 2)"
    );
    assert_eq!(print::text(&g, &[r]).formula(0), "v[7]");
}

/// A tiny convolutional network (conv 2x2 padding 1 stride 2 → relu →
/// maxpool 2 → flatten → a dense output, squared error) expanded into scalar
/// neurons: the expansion computes the tensor interpreter's loss, and path
/// enumeration, reverse mode over the scalars and reverse mode over the
/// tensors give the same gradient of every parameter entry.
#[test]
fn path_enumeration_over_a_tiny_convolutional_network() {
    use symgrad_core::diff::paths;
    use symgrad_core::eval::Program;
    use symgrad_core::graph::scalarize::{scalarize, DEFAULT_MAX_SCALARS};
    let mut g = Graph::new();
    let x = g.tensor_var("x", [1, 3, 3]);
    let k = g.tensor_var("K", [2, 1, 2, 2]);
    let w = g.tensor_var("W", [2]);
    let conv = Conv {
        stride: 2,
        padding: 1,
    };
    let c = g.conv2d(x, k, conv); // [2, 2, 2]
    let r = g.func(Func::Relu, c);
    let p = g.try_maxpool(r, 2).unwrap(); // [2, 1, 1]
    let flat = g.try_flatten(p).unwrap(); // [2]
    let out = g.matmul(flat, w);
    let target = g.int(1);
    let e = g.sub(out, target);
    let loss = g.mul(e, e);
    let inputs = [x, k, w];
    let values = [
        Tensor::new(
            [1, 3, 3],
            vec![0.5, -1.0, 2.0, 0.25, 1.5, -0.75, 0.3, 0.9, -0.2],
        ),
        Tensor::new([2, 1, 2, 2], vec![0.4, -0.3, 0.8, 0.1, -0.6, 0.7, 0.2, 0.5]),
        Tensor::new([2], vec![0.9, -1.1]),
    ];
    let (tgrad, _) = reverse::gradient(&mut g, loss, &[k, w]);
    let mut outs = vec![loss];
    outs.extend(&tgrad);
    let tensor = TensorProgram::compile(&g, &inputs, &outs)
        .unwrap()
        .run(&values)
        .unwrap();
    let mut s = scalarize(&g, &[loss], DEFAULT_MAX_SCALARS).unwrap();
    let sloss = s.entries(loss)[0];
    let scalar_inputs: Vec<_> = inputs.iter().flat_map(|&v| s.entries(v).to_vec()).collect();
    let wrt: Vec<_> = [k, w].iter().flat_map(|&v| s.entries(v).to_vec()).collect();
    let (pgrad, stats) = paths::gradient(&mut s.graph, sloss, &wrt, 1 << 20).unwrap();
    assert!(stats.paths > 0);
    let (rgrad, _) = reverse::gradient(&mut s.graph, sloss, &wrt);
    let point: Vec<f64> = values.iter().flat_map(|t| t.data.clone()).collect();
    let mut all = vec![sloss];
    all.extend(&pgrad);
    all.extend(&rgrad);
    let got = Program::compile(&s.graph, &scalar_inputs, &all)
        .unwrap()
        .run(&point);
    let n = wrt.len();
    let want: Vec<f64> = tensor[1..].iter().flat_map(|t| t.data.clone()).collect();
    assert_eq!(want.len(), n);
    close(got[0], tensor[0].item(), "the scalar loss");
    for j in 0..n {
        close(got[1 + j], want[j], &format!("paths ∂L/∂θ[{j}]"));
        close(
            got[1 + n + j],
            want[j],
            &format!("scalar reverse ∂L/∂θ[{j}]"),
        );
    }
    // Not a vacuous agreement: the gradient is not all zeros.
    assert!(want.iter().any(|&d| d != 0.0));
}

/// The evaluation plans (what `net grad`, training and `network!` run)
/// agree with the reference interpreter on a batched conv → relu → maxpool
/// → avgpool → select chain and its gradient in the input, the kernel and
/// the bias, for two batch sizes from one plan (the batch axis is `m`).
#[test]
fn the_plans_agree_with_the_reference_interpreter() {
    use symgrad_core::plan::{BatchAxis, Binary, ImageOp, Instr, Plan, Runner, Unary};
    // 97 stands for the batch size (a prime no other dimension equals).
    let m = 97;
    let mut g = Graph::new();
    let x = g.tensor_var("x", [m, 2, 6, 6]);
    let k = g.tensor_var("K", [3, 2, 3, 3]);
    let b = g.tensor_var("b", [3]);
    let conv = Conv {
        stride: 1,
        padding: 1,
    };
    let y = g.try_conv2d_bias(x, k, b, conv).unwrap(); // [m, 3, 6, 6]
    let r = g.func(Func::Relu, y);
    let p = g.try_maxpool(r, 2).unwrap(); // [m, 3, 3, 3]
    let q = g.try_avgpool(p, 3).unwrap(); // [m, 3, 1, 1]
    let s = g.try_select(q, 1, 2).unwrap(); // [m, 1, 1]
    let loss = g.sum(s, Axis::All);
    let (grad, _) = reverse::gradient(&mut g, loss, &[x, k, b]);
    let mut outs = vec![p, loss];
    outs.extend(&grad);
    let plan = Plan::lower(&g, &[x, k, b], &outs, BatchAxis { batch: Some(m) }).unwrap();
    // The plan fuses max pooling's adjoint (mask · upsample) and relu's
    // (step · adjoint) into one pass each; the agreement below checks them.
    let count = |f: &dyn Fn(&Instr) -> bool| plan.instrs.iter().filter(|i| f(i)).count();
    let image =
        |want: fn(&ImageOp) -> bool| count(&|i| matches!(i, Instr::Image { op, .. } if want(op)));
    assert_eq!(image(|op| matches!(op, ImageOp::MaxPoolAdjoint(_))), 1);
    let unfused = image(|op| matches!(op, ImageOp::MaxPoolMask(_)));
    assert_eq!(unfused, 0, "{:#?}", plan.instrs);
    let step_mul = |i: &Instr| {
        matches!(
            i,
            Instr::Zip {
                op: Binary::StepMul,
                ..
            }
        )
    };
    assert_eq!(count(&step_mul), 1, "{:#?}", plan.instrs);
    let step = |i: &Instr| {
        matches!(
            i,
            Instr::Map {
                f: Unary::Func(Func::Step),
                ..
            }
        )
    };
    assert_eq!(count(&step), 0, "{:#?}", plan.instrs);
    let mut rng = Rng(SplitMix64(96));
    let kv = rng.tensor(&shape(&[3, 2, 3, 3]), -1.0, 1.0);
    let bv = rng.tensor(&shape(&[3]), -0.5, 0.5);
    let mut runner = Runner::new(plan, 1);
    for batch in [1, 5] {
        // The same graph at the real batch size, for the reference.
        let mut h = Graph::new();
        let hx = h.tensor_var("x", [batch, 2, 6, 6]);
        let hk = h.tensor_var("K", [3, 2, 3, 3]);
        let hb = h.tensor_var("b", [3]);
        let hy = h.try_conv2d_bias(hx, hk, hb, conv).unwrap();
        let hr = h.func(Func::Relu, hy);
        let hp = h.try_maxpool(hr, 2).unwrap();
        let hq = h.try_avgpool(hp, 3).unwrap();
        let hs = h.try_select(hq, 1, 2).unwrap();
        let hl = h.sum(hs, Axis::All);
        let (hgrad, _) = reverse::gradient(&mut h, hl, &[hx, hk, hb]);
        let mut houts = vec![hp, hl];
        houts.extend(&hgrad);
        let xv = rng.tensor(&shape(&[batch, 2, 6, 6]), -1.0, 1.0);
        let want = TensorProgram::compile(&h, &[hx, hk, hb], &houts)
            .unwrap()
            .run(&[xv.clone(), kv.clone(), bv.clone()])
            .unwrap();
        runner.resize(batch);
        // The convolutions' unfolded columns are reserved with the buffers,
        // so that running (a training step) allocates nothing for them.
        let reserved = runner.scratch_capacity();
        assert!(reserved > 0, "the plan's convolutions use scratch");
        let got = runner.run(&[&xv.data, &kv.data, &bv.data]).unwrap();
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g.len(), w.data.len(), "output {i}, batch {batch}");
            for (a, e) in g.iter().zip(&w.data) {
                close(*a, *e, &format!("output {i}, batch {batch}"));
            }
        }
        runner.execute(&[&xv.data, &kv.data, &bv.data]).unwrap();
        assert_eq!(runner.scratch_capacity(), reserved, "batch {batch}");
    }
}

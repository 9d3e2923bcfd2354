//! W3 and W3b of docs/WORKLOADS.md: the mean loss over a mini-batch (`t_f`) and
//! the loss with its gradient (`t_g`), in the same run for
//!
//! - `network!`: the file compiled at build time (f64, and f32 for W3),
//! - the plan interpreter (`symgrad::plan::Runner`, what `symgrad net grad`
//!   runs), with the data already stacked,
//! - a hand-written batched backpropagation that calls the same matrix
//!   kernel (`symgrad_runtime::kernels::matmul`, i.e. matrixmultiply) and
//!   computes σ' as a(1 - a), the textbook way,
//! - the same backpropagation as plain C loops, no BLAS (symgrad-cbench,
//!   `-O3 -march=native`; skipped when no C compiler was found),
//! - `network!` once more in a plain timing loop (best of 9 loops of 200
//!   calls, as a user would time it in their own crate), printed beside
//!   criterion's median so that the two ways of timing meet in one run.
//!
//! Each baseline is checked against symgrad's gradient before it is timed.
//! Run with `cargo bench --bench network`.

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use std::hint::black_box;
use std::time::Instant;
use symgrad::__private::kernels::matmul;
use symgrad::net::{batch, parse_network};
use symgrad::plan::Runner;
use symgrad_cbench::{print_machine_header, CBaselines, MlpGradient, MlpLoss, MlpShape};

symgrad::network!(W3, "tests/data/networks/w3.sg");
symgrad::network!(W3f32, "tests/data/networks/w3.sg", f32);
symgrad::network!(W3b, "tests/data/networks/w3b.sg");

fn sigmoid(x: f64) -> f64 {
    symgrad::sigmoid(x)
}

/// Buffers of the hand-written backpropagation, allocated once.
struct Hand {
    m: usize,
    n_in: usize,
    n_hid: usize,
    n_out: usize,
    a1: Vec<f64>,
    a2: Vec<f64>,
    d1: Vec<f64>,
    d2: Vec<f64>,
    dw1: Vec<f64>,
    db1: Vec<f64>,
    dw2: Vec<f64>,
    db2: Vec<f64>,
}

impl Hand {
    fn new(m: usize, n_in: usize, n_hid: usize, n_out: usize) -> Hand {
        Hand {
            m,
            n_in,
            n_hid,
            n_out,
            a1: vec![0.0; m * n_hid],
            a2: vec![0.0; m * n_out],
            d1: vec![0.0; m * n_hid],
            d2: vec![0.0; m * n_out],
            dw1: vec![0.0; n_hid * n_in],
            db1: vec![0.0; n_hid],
            dw2: vec![0.0; n_out * n_hid],
            db2: vec![0.0; n_out],
        }
    }

    /// A1 = σ(X W1ᵀ + b1), Z2 = A1 W2ᵀ + b2 (into a2), row-major `[m, .]`.
    fn forward(&mut self, x: &[f64], p: &[&[f64]; 4]) {
        let (m, ni, nh, no) = (self.m, self.n_in, self.n_hid, self.n_out);
        let [w1, b1, w2, b2] = *p;
        matmul(m, ni, nh, x, [ni, 1], w1, [1, ni], &mut self.a1, [nh, 1]);
        for row in self.a1.chunks_exact_mut(nh) {
            for (a, b) in row.iter_mut().zip(b1) {
                *a = sigmoid(*a + b);
            }
        }
        matmul(
            m,
            nh,
            no,
            &self.a1,
            [nh, 1],
            w2,
            [1, nh],
            &mut self.a2,
            [no, 1],
        );
        for row in self.a2.chunks_exact_mut(no) {
            for (a, b) in row.iter_mut().zip(b2) {
                *a += b;
            }
        }
    }

    /// The backward pass from the output error `d2` (already in place).
    fn backward(&mut self, x: &[f64], p: &[&[f64]; 4]) {
        let (m, ni, nh, no) = (self.m, self.n_in, self.n_hid, self.n_out);
        let w2 = p[2];
        // dW2 = D2ᵀ A1, db2 = column sums of D2.
        matmul(
            no,
            m,
            nh,
            &self.d2,
            [1, no],
            &self.a1,
            [nh, 1],
            &mut self.dw2,
            [nh, 1],
        );
        col_sums(&self.d2, no, &mut self.db2);
        // D1 = (D2 W2) ⊙ a1 (1 - a1).
        matmul(
            m,
            no,
            nh,
            &self.d2,
            [no, 1],
            w2,
            [nh, 1],
            &mut self.d1,
            [nh, 1],
        );
        for (d, a) in self.d1.iter_mut().zip(&self.a1) {
            *d *= a * (1.0 - a);
        }
        // dW1 = D1ᵀ X, db1 = column sums of D1.
        matmul(
            nh,
            m,
            ni,
            &self.d1,
            [1, nh],
            x,
            [ni, 1],
            &mut self.dw1,
            [ni, 1],
        );
        col_sums(&self.d1, nh, &mut self.db1);
    }

    /// W3: sigmoid output, C = Σ‖a2 - y‖² / (2m).
    fn w3_loss(&mut self, x: &[f64], y: &[f64], p: &[&[f64]; 4]) -> f64 {
        self.forward(x, p);
        let mut c = 0.0;
        for (a, t) in self.a2.iter_mut().zip(y) {
            *a = sigmoid(*a);
            c += (*a - t) * (*a - t);
        }
        c / (2.0 * self.m as f64)
    }

    fn w3_gradient(&mut self, x: &[f64], y: &[f64], p: &[&[f64]; 4]) -> f64 {
        let c = self.w3_loss(x, y, p);
        let inv_m = 1.0 / self.m as f64;
        for ((d, a), t) in self.d2.iter_mut().zip(&self.a2).zip(y) {
            *d = (a - t) * a * (1.0 - a) * inv_m;
        }
        self.backward(x, p);
        c
    }

    /// W3b: softmax output, C = -(1/m) Σ log p[label].
    fn w3b_loss(&mut self, x: &[f64], y: &[f64], p: &[&[f64]; 4]) -> f64 {
        self.forward(x, p);
        let no = self.n_out;
        let mut c = 0.0;
        for (row, t) in self.a2.chunks_exact_mut(no).zip(y.chunks_exact(no)) {
            let mx = row.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
            let s: f64 = row.iter().map(|z| (z - mx).exp()).sum();
            let lse = mx + s.ln();
            for (z, t) in row.iter_mut().zip(t) {
                c -= t * (*z - lse);
                *z = (*z - lse).exp();
            }
        }
        c / self.m as f64
    }

    fn w3b_gradient(&mut self, x: &[f64], y: &[f64], p: &[&[f64]; 4]) -> f64 {
        let c = self.w3b_loss(x, y, p);
        let inv_m = 1.0 / self.m as f64;
        for ((d, a), t) in self.d2.iter_mut().zip(&self.a2).zip(y) {
            *d = (a - t) * inv_m;
        }
        self.backward(x, p);
        c
    }
}

fn col_sums(a: &[f64], cols: usize, out: &mut [f64]) {
    out.fill(0.0);
    for row in a.chunks_exact(cols) {
        for (o, v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
}

/// The data of a workload stacked (inputs, then targets), its parameters,
/// and the interpreter's result to check the others against.
struct Workload {
    x: Vec<f64>,
    y: Vec<f64>,
    params: Vec<Vec<f64>>,
    want: batch::LossAndGradient,
    net: symgrad::net::Network,
    name: &'static str,
}

fn workload(name: &'static str, sg: &str, csv: &str) -> Workload {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/networks");
    let net = parse_network(&std::fs::read_to_string(dir.join(sg)).unwrap()).unwrap();
    let data = batch::read_csv(&net, &std::fs::read_to_string(dir.join(csv)).unwrap()).unwrap();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for row in &data.rows {
        x.extend_from_slice(&row[0].data);
        y.extend_from_slice(&row[1].data);
    }
    let want = batch::Evaluator::new(&net)
        .unwrap()
        .loss_and_gradient(&data.rows)
        .unwrap();
    let params = net.init_params(0).into_iter().map(|t| t.data).collect();
    Workload {
        x,
        y,
        params,
        want,
        net,
        name,
    }
}

fn check(what: &str, loss: f64, grads: [&[f64]; 4], want: &batch::LossAndGradient) {
    assert!((loss - want.loss).abs() <= 1e-12 * want.loss, "{what} loss");
    for (g, (name, w)) in grads.iter().zip(&want.gradient) {
        let scale = w.data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (a, b) in g.iter().zip(&w.data) {
            assert!((a - b).abs() <= 1e-10 * scale, "{what} d{name}: {a} vs {b}");
        }
    }
}

fn interpreter(w: &Workload, outputs: batch::Outputs) -> (Runner, Vec<Vec<f64>>) {
    let m = w.want.batch;
    let runner = Runner::new(batch::plan(&w.net, outputs).unwrap(), m);
    let mut inputs = vec![w.x.clone(), w.y.clone()];
    inputs.extend(w.params.iter().cloned());
    inputs.push(vec![1.0 / m as f64]);
    (runner, inputs)
}

/// A workload's loss and gradient functions in the hand-written baseline.
type HandFn = fn(&mut Hand, &[f64], &[f64], &[&[f64]; 4]) -> f64;

/// Benchmarks the compiled network `$net` on workload `$w` in `$group`:
/// checked against the interpreter, then timed (t_g and t_f).
macro_rules! compiled {
    ($group:expr, $w:expr, $net:ty, $label:literal) => {{
        let (x, y) = (&$w.x[..], &$w.y[..]);
        let mut net = <$net>::init(0);
        let (l, g) = net.loss_and_gradient(x, y);
        check(
            $label,
            l,
            [&g.W1[..], &g.b1[..], &g.W2[..], &g.b2[..]],
            &$w.want,
        );
        // The gradient read in place (no copy), as a training step reads it.
        $group.bench_function(concat!("t_g/", $label), |b| {
            b.iter(|| {
                net.loss_and_gradient_with(black_box(x), black_box(y), |_, _, g| {
                    black_box(g);
                })
            })
        });
        $group.bench_function(concat!("t_f/", $label), |b| {
            b.iter(|| net.loss(black_box(x), black_box(y)))
        });
        let us = plain_loop_micros(|| {
            black_box(
                net.loss_and_gradient_with(black_box(x), black_box(y), |_, _, g| {
                    black_box(g);
                }),
            );
        });
        println!(
            "{} t_g/{} in a plain loop (best of 9 x 200 calls): {us:.2} µs",
            $w.name, $label
        );
    }};
}

/// Times `call` as a user's own loop would: the best of 9 loops of 200
/// calls, in µs per call.
fn plain_loop_micros(mut call: impl FnMut()) -> f64 {
    (0..9)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..200 {
                call();
            }
            t.elapsed().as_secs_f64() * 1e6 / 200.0
        })
        .fold(f64::INFINITY, f64::min)
}

/// The C loops (checked against the interpreter's gradient, then timed).
fn c_baseline(
    group: &mut BenchmarkGroup<'_, WallTime>,
    w: &Workload,
    shape: MlpShape,
    loss: MlpLoss,
) {
    let Some(c) = CBaselines::get() else {
        println!(
            "{}: hand_written_c skipped ({})",
            group_name(loss),
            CBaselines::describe()
        );
        return;
    };
    let (x, y) = (&w.x[..], &w.y[..]);
    let p: Vec<&[f64]> = w.params.iter().map(Vec::as_slice).collect();
    let p = [p[0], p[1], p[2], p[3]];
    let mut g = MlpGradient::new(shape);
    let mut work = vec![0.0; shape.work_len()];
    let l = c.mlp(loss, shape, x, y, p, Some(&mut g), &mut work);
    check(
        "C",
        l,
        [&g.dw1[..], &g.db1[..], &g.dw2[..], &g.db2[..]],
        &w.want,
    );
    let l_only = c.mlp(loss, shape, x, y, p, None, &mut work);
    assert!(
        (l_only - w.want.loss).abs() <= 1e-12 * w.want.loss,
        "C loss alone"
    );
    group.bench_function("t_g/hand_written_c_loops", |b| {
        b.iter(|| {
            c.mlp(
                loss,
                shape,
                black_box(x),
                black_box(y),
                p,
                Some(&mut g),
                &mut work,
            )
        })
    });
    group.bench_function("t_f/hand_written_c_loops", |b| {
        b.iter(|| c.mlp(loss, shape, black_box(x), black_box(y), p, None, &mut work))
    });
}

fn group_name(loss: MlpLoss) -> &'static str {
    match loss {
        MlpLoss::SigmoidQuadratic => "W3",
        MlpLoss::SoftmaxCrossEntropy => "W3b",
    }
}

/// The hand-written baseline (checked, then timed) and the interpreter.
fn baselines(
    group: &mut BenchmarkGroup<'_, WallTime>,
    w: &Workload,
    mut hand: Hand,
    (gradient, loss): (HandFn, HandFn),
) {
    let (x, y) = (&w.x[..], &w.y[..]);
    let p: Vec<&[f64]> = w.params.iter().map(Vec::as_slice).collect();
    let p = [p[0], p[1], p[2], p[3]];
    let l = gradient(&mut hand, x, y, &p);
    let hand_grads = [&hand.dw1[..], &hand.db1[..], &hand.dw2[..], &hand.db2[..]];
    check("hand-written", l, hand_grads, &w.want);
    group.bench_function("t_g/hand_written", |b| {
        b.iter(|| gradient(&mut hand, black_box(x), black_box(y), &p))
    });
    group.bench_function("t_f/hand_written", |b| {
        b.iter(|| loss(&mut hand, black_box(x), black_box(y), &p))
    });
    for (outputs, name) in [
        (batch::Outputs::LossAndGradient, "t_g/interpreter"),
        (batch::Outputs::Loss, "t_f/interpreter"),
    ] {
        let (mut runner, inputs) = interpreter(w, outputs);
        let args: Vec<&[f64]> = inputs.iter().map(Vec::as_slice).collect();
        group.bench_function(name, |b| {
            b.iter(|| runner.run(black_box(&args)).unwrap()[0][0])
        });
    }
}

fn w3(c: &mut Criterion) {
    let w = workload("W3", "w3.sg", "w3_data.csv");
    let mut group = c.benchmark_group("W3_mlp_784_30_10_m10");
    compiled!(group, w, W3, "network!");
    let hand = Hand::new(10, 784, 30, 10);
    baselines(&mut group, &w, hand, (Hand::w3_gradient, Hand::w3_loss));
    let shape = MlpShape {
        m: 10,
        n_in: 784,
        n_hid: 30,
        n_out: 10,
    };
    c_baseline(&mut group, &w, shape, MlpLoss::SigmoidQuadratic);

    let xf: Vec<f32> = w.x.iter().map(|&v| v as f32).collect();
    let yf: Vec<f32> = w.y.iter().map(|&v| v as f32).collect();
    let mut net32 = W3f32::init(0);
    let (l32, _) = net32.loss_and_gradient(&xf, &yf);
    assert!((f64::from(l32) - w.want.loss).abs() < 1e-5 * w.want.loss);
    group.bench_function("t_g/network!_f32", |b| {
        b.iter(|| {
            net32.loss_and_gradient_with(black_box(&xf), black_box(&yf), |_, _, g| {
                black_box(g);
            })
        })
    });
    group.bench_function("t_f/network!_f32", |b| {
        b.iter(|| net32.loss(black_box(&xf), black_box(&yf)))
    });
    group.finish();
}

fn w3b(c: &mut Criterion) {
    let w = workload("W3b", "w3b.sg", "w3b_data.csv");
    let mut group = c.benchmark_group("W3b_mlp_64_32_10_m32");
    compiled!(group, w, W3b, "network!");
    let hand = Hand::new(32, 64, 32, 10);
    baselines(&mut group, &w, hand, (Hand::w3b_gradient, Hand::w3b_loss));
    let shape = MlpShape {
        m: 32,
        n_in: 64,
        n_hid: 32,
        n_out: 10,
    };
    c_baseline(&mut group, &w, shape, MlpLoss::SoftmaxCrossEntropy);
    group.finish();
}

fn header(_: &mut Criterion) {
    print_machine_header("cargo bench --bench network");
}

criterion_group!(benches, header, w3, w3b);
criterion_main!(benches);

//! Issue 9's performance targets for convolutional networks, side by side
//! with PyTorch in one run, float64, one thread:
//!
//! - the digits convolutional network (`nets/digits_conv.sg` without its
//!   dropout: `benches/nets/digits_conv_nodropout.sg`), the mean loss and
//!   its gradient over a batch of 32 samples of 1×8×8, by the interpreter's
//!   plan (`NetworkModel`, what `symgrad train` runs) and by the `network!`
//!   struct, and the forward pass alone (`Model::loss`) for t_g / t_f;
//! - one AlphaGo Zero residual block at full size (8 × 256×19×19, two 3×3
//!   convolutions of 256 filters with padding 1, per-channel batch norm in
//!   training mode, the skip connection, ReLU), the loss `sum(out)` per
//!   sample (mean over the batch) and its gradient with respect to the six
//!   parameters.
//!
//! ```text
//! SYMGRAD_PYTHON=/work/venv/bin/python cargo bench --bench conv_network
//! cargo bench --bench conv_network -- digits    (criterion groups only)
//! ```
//!
//! Before timing, the bench writes the batch and symgrad's weights for the
//! PyTorch scripts (`benches/python/conv_digits_torch.py`,
//! `resblock_torch.py`), reads back their loss and gradients and asserts
//! that they agree with symgrad's to 1e-9 (relative to the largest entry),
//! so that both sides time the same work. Without a Python that has torch
//! (`SYMGRAD_PYTHON`, else `python3`) the PyTorch side is skipped, saying so.

use criterion::{criterion_group, Criterion};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use symgrad::nn::{Batch, Dataset, Model, NetworkModel};

symgrad::network!(DigitsConv, "benches/nets/digits_conv_nodropout.sg");

const BATCH: usize = 32;

/// One AlphaGo Zero residual block (issue 9): the residual shorthand's
/// expansion written out, without convolution biases (batch norm's shift
/// makes them redundant), so that the equations are the PyTorch script's.
const BLOCK: &str = "\
input  x[256, 19, 19]
param  K1[256, 256, 3, 3] ~ he
param  g1[256] = 1
param  c1[256] = 0
param  K2[256, 256, 3, 3] ~ he
param  g2[256] = 1
param  c2[256] = 0
h1 = relu(batchnorm(conv2d(x, K1, padding = 1), g1, c1))
h2 = batchnorm(conv2d(h1, K2, padding = 1), g2, c2)
out = relu(h2 + x)
loss = sum(out)
";
const BLOCK_BATCH: usize = 8;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The equations and declarations of a network file, comments dropped.
fn statements(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// The bench's network: `nets/digits_conv.sg` with `dropout(·, 0.3)`
/// removed, checked against the copy `network!` compiles.
fn digits_source() -> String {
    let original =
        std::fs::read_to_string(root().join("nets/digits_conv.sg")).expect("digits_conv.sg");
    let dropped = original.replace("dropout(flatten(p2), 0.3)", "flatten(p2)");
    assert_ne!(
        dropped, original,
        "nets/digits_conv.sg no longer has the dropout the bench removes"
    );
    assert_eq!(
        statements(&dropped),
        statements(DigitsConv::SOURCE),
        "benches/nets/digits_conv_nodropout.sg differs from nets/digits_conv.sg beyond the dropout"
    );
    DigitsConv::SOURCE.to_string()
}

/// The first 32 digits as one batch (pixels, one-hot labels).
fn digits_batch(model: &dyn Model) -> Batch {
    let all = Dataset::from_csv(root().join("tests/data/digits.csv")).expect("digits.csv");
    let bound = all.bind(model).expect("the digits fit the network");
    let rows: Vec<usize> = (0..BATCH).collect();
    let mut batch = Batch::new();
    bound.gather(&rows, &mut batch);
    batch
}

fn values(seed: u64, len: usize) -> Vec<f64> {
    let mut s = seed;
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect()
}

fn zero_grad(model: &dyn Model) -> Vec<Vec<f64>> {
    model.params().iter().map(|p| vec![0.0; p.len()]).collect()
}

/// The median of `repeats` timed calls after `warmup` untimed ones, in
/// seconds: the same statistic the Python scripts report.
fn median(mut run: impl FnMut(), repeats: usize, warmup: usize) -> f64 {
    for _ in 0..warmup {
        run();
    }
    let mut t: Vec<f64> = (0..repeats)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[repeats / 2]
}

fn digits(c: &mut Criterion) {
    let source = digits_source();
    let mut model = NetworkModel::from_source(&source, 1).expect("the network parses");
    let mut net = DigitsConv::init(1);
    let batch = digits_batch(&model);
    let data = batch.slices();
    let mut grad = zero_grad(&model);
    let mut group = c.benchmark_group("conv_network/digits conv, batch 32");
    group.bench_function("interpreter loss+gradient", |b| {
        b.iter(|| black_box(model.loss_and_gradient(black_box(&data), &mut grad)))
    });
    group.bench_function("interpreter forward (loss)", |b| {
        b.iter(|| black_box(model.loss(black_box(&data))))
    });
    group.bench_function("network! loss+gradient", |b| {
        b.iter(|| {
            black_box(Model::loss_and_gradient(
                &mut net,
                black_box(&data),
                &mut grad,
            ))
        })
    });
    group.bench_function("network! forward (loss)", |b| {
        b.iter(|| black_box(Model::loss(&mut net, black_box(&data))))
    });
    group.finish();
}

/// The block's model with non-trivial batch-norm scales and shifts, and
/// its batch.
fn block() -> (NetworkModel, Vec<f64>) {
    let mut model = NetworkModel::from_source(BLOCK, 1).expect("the block parses");
    for (name, p) in model.param_names().into_iter().zip(model.params_mut()) {
        if name.starts_with('g') || name.starts_with('c') {
            let v = values(name.len() as u64 + name.as_bytes()[1] as u64, p.len());
            let base = if name.starts_with('g') { 1.0 } else { 0.0 };
            for (p, v) in p.iter_mut().zip(v) {
                *p = base + 0.2 * v;
            }
        }
    }
    let x = values(7, BLOCK_BATCH * 256 * 19 * 19);
    (model, x)
}

fn residual_block(c: &mut Criterion) {
    let (mut model, x) = block();
    let mut grad = zero_grad(&model);
    let mut group = c.benchmark_group("conv_network/AlphaGo Zero block 8x256x19x19");
    group.sample_size(10);
    group.bench_function("interpreter loss+gradient", |b| {
        b.iter(|| black_box(model.loss_and_gradient(&[black_box(&x[..])], &mut grad)))
    });
    group.finish();
}

/// The Python interpreter named by `SYMGRAD_PYTHON` (else `python3`), if
/// it has torch.
fn python_with_torch() -> Option<String> {
    let python = std::env::var("SYMGRAD_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let ok = Command::new(&python)
        .args(["-c", "import torch"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    ok.then_some(python)
}

fn write_f64(dir: &Path, name: &str, v: &[f64]) {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(dir.join(format!("{name}.f64")), bytes).expect("write a tensor");
}

fn read_f64(dir: &Path, name: &str) -> Vec<f64> {
    let bytes = std::fs::read(dir.join(format!("{name}.f64"))).expect("read a tensor");
    bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect()
}

/// Runs `script` on the tensors in `dir`: its JSON report, or why not.
fn run_script(
    python: &str,
    script: &str,
    dir: &Path,
    extra: &[&str],
) -> Result<serde_json::Value, String> {
    let out = Command::new(python)
        .arg(root().join("benches/python").join(script))
        .arg("--data")
        .arg(dir)
        .args(extra)
        // As in benches/training.rs: only the benchmark child drops these
        // OpenBLAS settings of this workplace (benches/python/README.md).
        .env_remove("OPENBLAS_CORETYPE")
        .env_remove("OPENBLAS_L2_SIZE")
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
}

/// Asserts that PyTorch's loss and gradients (read from `dir`) are
/// symgrad's, to 1e-9 relative to each tensor's largest entry.
fn assert_same(dir: &Path, model: &dyn Model, loss: f64, grad: &[Vec<f64>]) {
    let theirs = read_f64(dir, "loss")[0];
    assert!(
        (theirs - loss).abs() <= 1e-9 * loss.abs().max(1.0),
        "loss: symgrad {loss}, PyTorch {theirs}"
    );
    for (name, ours) in model.param_names().iter().zip(grad) {
        let theirs = read_f64(dir, &format!("grad_{name}"));
        assert_eq!(theirs.len(), ours.len(), "gradient of {name}");
        let scale = ours.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
        let worst = ours
            .iter()
            .zip(&theirs)
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            worst <= 1e-9 * scale,
            "gradient of {name}: largest difference {worst:e} against largest entry {scale:e}"
        );
    }
    println!("  symgrad's loss and gradients equal PyTorch's (to 1e-9 relative): same work timed");
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("symgrad-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

fn digits_against_pytorch(python: Option<&str>) {
    let source = digits_source();
    let mut model = NetworkModel::from_source(&source, 1).expect("the network parses");
    let mut net = DigitsConv::init(1);
    assert_eq!(
        model.params(),
        Model::params(&net),
        "the same initial draws"
    );
    let batch = digits_batch(&model);
    let data = batch.slices();
    let mut grad = zero_grad(&model);
    let loss = model.loss_and_gradient(&data, &mut grad);
    let mut grad2 = zero_grad(&model);
    let loss2 = Model::loss_and_gradient(&mut net, &data, &mut grad2);
    assert!(
        (loss - loss2).abs() <= 1e-12 * loss.abs(),
        "interpreter {loss}, network! {loss2}"
    );
    for (name, (a, b)) in model.param_names().iter().zip(grad.iter().zip(&grad2)) {
        let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
        assert!(
            a.iter().zip(b).all(|(p, q)| (p - q).abs() <= 1e-12 * scale),
            "the gradient of {name}: interpreter and network! differ"
        );
    }

    let (repeats, warmup) = (400, 40);
    let step_i = median(
        || {
            black_box(model.loss_and_gradient(&data, &mut grad));
        },
        repeats,
        warmup,
    );
    let fwd_i = median(
        || {
            black_box(model.loss(&data));
        },
        repeats,
        warmup,
    );
    let step_n = median(
        || {
            black_box(Model::loss_and_gradient(&mut net, &data, &mut grad2));
        },
        repeats,
        warmup,
    );
    let fwd_n = median(
        || {
            black_box(Model::loss(&mut net, &data));
        },
        repeats,
        warmup,
    );
    println!("\nDigits convolutional network (no dropout), batch 32, float64, one thread (medians of {repeats}):");
    println!(
        "{:<24} {:>12} {:>12} {:>8} {:>16}",
        "system", "loss+grad", "forward", "t_g/t_f", "PyTorch / this"
    );
    let row = |name: &str, g: f64, f: f64, torch: Option<f64>| {
        let ratio = torch.map_or(String::new(), |t| format!("{:.2}x", t / g));
        println!(
            "{name:<24} {:>9.1} µs {:>9.1} µs {:>8.2} {:>16}",
            g * 1e6,
            f * 1e6,
            g / f,
            ratio
        );
    };
    let torch = python.and_then(|python| {
        let dir = scratch_dir("conv-digits");
        write_f64(&dir, "x", data[0]);
        write_f64(&dir, "y", data[1]);
        for (name, p) in model.param_names().iter().zip(model.params()) {
            write_f64(&dir, name, p);
        }
        let report = run_script(
            python,
            "conv_digits_torch.py",
            &dir,
            &["--repeats", "400", "--warmup", "40"],
        );
        let result = match report {
            Ok(r) => {
                assert_same(&dir, &model, loss, &grad);
                Some((
                    r["median_step_s"].as_f64().unwrap_or(f64::NAN),
                    r["median_forward_s"].as_f64().unwrap_or(f64::NAN),
                    r["version"].clone(),
                ))
            }
            Err(e) => {
                println!("  conv_digits_torch.py failed: {e}");
                None
            }
        };
        let _ = std::fs::remove_dir_all(&dir);
        result
    });
    row(
        "symgrad interpreter",
        step_i,
        fwd_i,
        torch.as_ref().map(|t| t.0),
    );
    row(
        "symgrad network!",
        step_n,
        fwd_n,
        torch.as_ref().map(|t| t.0),
    );
    match &torch {
        Some((g, f, version)) => row(
            &format!("PyTorch {}", version.as_str().unwrap_or("?")),
            *g,
            *f,
            None,
        ),
        None => {
            println!("PyTorch                  skipped: no Python with torch (set SYMGRAD_PYTHON)")
        }
    }
}

fn block_against_pytorch(python: Option<&str>) {
    let (mut model, x) = block();
    let mut grad = zero_grad(&model);
    let loss = model.loss_and_gradient(&[&x[..]], &mut grad);
    let (repeats, warmup) = (10, 2);
    let ours = median(
        || {
            black_box(model.loss_and_gradient(&[&x[..]], &mut grad));
        },
        repeats,
        warmup,
    );
    println!("\nAlphaGo Zero residual block, 8 x 256x19x19, forward and backward, float64, one thread (medians of {repeats}):");
    println!(
        "{:<24} {:>12} {:>16}",
        "system", "loss+grad", "this / PyTorch"
    );
    let torch = python.and_then(|python| {
        let dir = scratch_dir("resblock");
        write_f64(&dir, "x", &x);
        // The bench's model was run `warmup + repeats + 1` times, but the
        // parameters do not change (no optimizer step), so it still holds
        // the weights the checked loss and gradient came from.
        for (name, p) in model.param_names().iter().zip(model.params()) {
            write_f64(&dir, name, p);
        }
        let report = run_script(
            python,
            "resblock_torch.py",
            &dir,
            &["--repeats", "10", "--warmup", "2"],
        );
        let result = match report {
            Ok(r) => {
                assert_same(&dir, &model, loss, &grad);
                Some((
                    r["median_step_s"].as_f64().unwrap_or(f64::NAN),
                    r["version"].clone(),
                ))
            }
            Err(e) => {
                println!("  resblock_torch.py failed: {e}");
                None
            }
        };
        let _ = std::fs::remove_dir_all(&dir);
        result
    });
    let ratio = torch
        .as_ref()
        .map_or(String::new(), |t| format!("{:.2}x", ours / t.0));
    println!(
        "{:<24} {:>9.1} ms {:>16}",
        "symgrad interpreter",
        ours * 1e3,
        ratio
    );
    match &torch {
        Some((t, version)) => println!(
            "{:<24} {:>9.1} ms",
            format!("PyTorch {}", version.as_str().unwrap_or("?")),
            t * 1e3
        ),
        None => {
            println!("PyTorch                  skipped: no Python with torch (set SYMGRAD_PYTHON)")
        }
    }
}

criterion_group!(benches, digits, residual_block);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // The side-by-side tables run unless a filter names only some criterion
    // groups (`-- digits`); `-- python` runs them alone.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-') && a.parse::<f64>().is_err())
        .collect();
    if filters.is_empty() || filters.iter().any(|f| f == "python") {
        let python = python_with_torch();
        digits_against_pytorch(python.as_deref());
        block_against_pytorch(python.as_deref());
    }
}

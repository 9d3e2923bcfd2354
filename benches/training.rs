//! Training figures of issue 8: the time of a whole epoch (batching, the
//! optimizer, validation) of the 64-32-10 digits network, an optimizer step
//! against the gradient it follows, and, when a Python with PyTorch and
//! scikit-learn is present, their loops on the same work in the same run.
//!
//! ```text
//! cargo bench --bench training -- --warm-up-time 2 --measurement-time 5
//! SYMGRAD_PYTHON=/path/to/venv/bin/python cargo bench --bench training
//! ```
//!
//! The work (see `benches/python/README.md` for the Python side): the first
//! 1,438 rows of `tests/data/digits.csv` (the training part of a 20 %
//! split), `nets/digits.sg` (sigmoid hidden layer, softmax with
//! cross-entropy), mini-batches of 32 (the last of an epoch has 30 rows),
//! float64, one thread. symgrad's epoch also evaluates the 359 validation
//! rows after it; the Python loops do not, which only favours them.
//!
//! The table beside Python gives symgrad's epoch two ways: the median
//! epoch of a 31-epoch run (what a user's run spends per epoch; the rows
//! are bound to the model once per run), and the median one-epoch fit
//! (the binding included), which is what the criterion group times.

use criterion::{criterion_group, Criterion};
use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;
use symgrad::nn::{Adam, Dataset, Model, NetworkModel, Optimizer, Sgd, Trainer};

symgrad::network!(Digits, "nets/digits.sg");

const TRAIN_ROWS: usize = 1438;

/// Makes a fresh optimizer for each timed epoch.
type MakeOptimizer = fn() -> Box<dyn Optimizer>;
const BATCH: usize = 32;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn data() -> (Dataset, Dataset) {
    let all = Dataset::from_csv(root().join("tests/data/digits.csv")).expect("digits.csv");
    (
        all.rows(..TRAIN_ROWS).expect("training rows"),
        all.rows(TRAIN_ROWS..).expect("validation rows"),
    )
}

fn interpreter() -> NetworkModel {
    let source = std::fs::read_to_string(root().join("nets/digits.sg")).expect("digits.sg");
    NetworkModel::from_source(&source, 1).expect("digits.sg parses")
}

/// One epoch of `trainer` on `model`, validation included.
fn epoch<M: Model>(model: &mut M, trainer: Trainer, train: &Dataset) {
    let mut trainer = trainer;
    let history = trainer.fit(model, train).expect("the epoch trains");
    black_box(history);
}

fn epochs(c: &mut Criterion) {
    let (train, validation) = data();
    let mut group = c.benchmark_group("training/epoch 64-32-10, 1438 rows, batch 32");
    group.sample_size(20);
    let trainers: [(&str, MakeOptimizer); 2] = [
        ("sgd", || Box::new(Sgd::new(0.1))),
        ("adam", || Box::new(Adam::new(0.01))),
    ];
    for (name, optimizer) in trainers {
        let make = |opt: Box<dyn Optimizer>| {
            Trainer::new(opt)
                .epochs(1)
                .batch_size(BATCH)
                .validation(validation.clone())
        };
        let mut net = Digits::init(1);
        group.bench_function(format!("network! {name}"), |b| {
            b.iter_batched(
                || make(optimizer()),
                |t| epoch(&mut net, t, &train),
                criterion::BatchSize::SmallInput,
            )
        });
        let mut model = interpreter();
        group.bench_function(format!("interpreter {name}"), |b| {
            b.iter_batched(
                || make(optimizer()),
                |t| epoch(&mut model, t, &train),
                criterion::BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

/// An optimizer step beside the gradient of the batch it follows.
fn step(c: &mut Criterion) {
    let (train, _) = data();
    let mut net = Digits::init(1);
    let bound = train.bind(&net).expect("the digits fit the network");
    let rows: Vec<usize> = (0..BATCH).collect();
    let mut batch = symgrad::nn::Batch::new();
    bound.gather(&rows, &mut batch);
    let sizes: Vec<usize> = net.params().iter().map(|p| p.len()).collect();
    let mut grad: Vec<Vec<f64>> = sizes.iter().map(|&n| vec![0.0; n]).collect();
    let mut group = c.benchmark_group("training/step 64-32-10, batch 32");
    group.bench_function("gradient (network!)", |b| {
        b.iter(|| {
            black_box(Model::loss_and_gradient(
                &mut net,
                &batch.slices(),
                &mut grad,
            ))
        })
    });
    let optimizers: [(&str, Box<dyn Optimizer>); 3] = [
        ("sgd step", Box::new(Sgd::new(1e-9))),
        ("momentum step", Box::new(symgrad::nn::Momentum::new(1e-9))),
        ("adam step", Box::new(Adam::new(1e-9))),
    ];
    for (name, mut opt) in optimizers {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut params = net.params_mut();
                opt.step(&mut params, &grad, 1e-9);
            })
        });
    }
    group.finish();
}

/// The Python interpreter named by `SYMGRAD_PYTHON` (else `python3`), if
/// it has `module`.
fn python_with(module: &str) -> Option<String> {
    let python = std::env::var("SYMGRAD_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let ok = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    ok.then_some(python)
}

/// Runs one of `benches/python/`'s scripts and returns its median epoch
/// and its 30-epoch loop, in seconds.
fn python_epoch(python: &str, script: &str, optimizer: &str) -> Option<(f64, f64)> {
    let out = Command::new(python)
        .arg(root().join("benches/python").join(script))
        .args(["--optimizer", optimizer, "--epochs", "30"])
        // Older OpenBLAS builds need these on some processors, where this
        // workplace sets them; they slow a current numpy (see
        // benches/python/README.md). Only the benchmark child drops them.
        .env_remove("OPENBLAS_CORETYPE")
        .env_remove("OPENBLAS_L2_SIZE")
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "{script} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return None;
    }
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Some((
        report["median_epoch_s"].as_f64()?,
        report["loop_s"].as_f64()?,
    ))
}

/// Records when each epoch of a run ends.
struct EpochClock(Vec<std::time::Instant>);

impl symgrad::nn::Observer for EpochClock {
    fn on_epoch(&mut self, _: &symgrad::nn::Epoch, _: usize) {
        self.0.push(std::time::Instant::now());
    }
}

fn trainer_for(optimizer: &str, epochs: usize, validation: &Dataset) -> Trainer {
    let opt: Box<dyn Optimizer> = match optimizer {
        "adam" => Box::new(Adam::new(0.01)),
        _ => Box::new(Sgd::new(0.1)),
    };
    Trainer::new(opt)
        .epochs(epochs)
        .batch_size(BATCH)
        .validation(validation.clone())
}

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// The median epoch of one run of `epochs + 1` epochs on a fresh model, in
/// seconds: the time between the ends of consecutive epochs (steps and
/// validation), as a user's run spends it. The rows are bound to the
/// model once per run, before the first epoch, which is left out.
fn median_epoch_in_run(optimizer: &str, epochs: usize) -> f64 {
    let (train, validation) = data();
    let mut net = Digits::init(1);
    let mut clock = EpochClock(Vec::new());
    let mut trainer = trainer_for(optimizer, epochs + 1, &validation);
    let history = trainer
        .fit_with(&mut net, &train, &mut clock)
        .expect("the run trains");
    black_box(history);
    median(
        clock
            .0
            .windows(2)
            .map(|w| (w[1] - w[0]).as_secs_f64())
            .collect(),
    )
}

/// The median of `runs` one-epoch fits on a fresh model, in seconds: an
/// epoch with the binding of the rows (once per fit) included.
fn median_one_epoch_fit(optimizer: &str, runs: usize) -> f64 {
    let (train, validation) = data();
    let mut net = Digits::init(1);
    median(
        (0..runs)
            .map(|_| {
                let trainer = trainer_for(optimizer, 1, &validation);
                let start = std::time::Instant::now();
                epoch(&mut net, trainer, &train);
                start.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

/// The median wall time of the whole `symgrad train` command (start-up,
/// reading the CSV, 30 epochs, writing the model file) over `runs` runs,
/// if the release binary has been built (`cargo build --release -p
/// symgrad-cli`, or `SYMGRAD_BIN`).
fn whole_command(optimizer: &str, lr: &str, runs: usize) -> Option<f64> {
    let bin = std::env::var_os("SYMGRAD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/release/symgrad"));
    if !bin.exists() {
        return None;
    }
    let dir = std::env::temp_dir().join(format!("symgrad-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    // The same 1,438 rows the Python loops train on.
    let text = std::fs::read_to_string(root().join("tests/data/digits.csv")).ok()?;
    let head: Vec<&str> = text.lines().take(TRAIN_ROWS + 1).collect();
    let data = dir.join("digits_train.csv");
    std::fs::write(&data, head.join("\n") + "\n").ok()?;
    let model = dir.join("model.json");
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = std::time::Instant::now();
        let status = Command::new(&bin)
            .arg("train")
            .arg(root().join("nets/digits.sg"))
            .arg("--data")
            .arg(&data)
            .args([
                "--optimizer",
                optimizer,
                "--lr",
                lr,
                "--epochs",
                "30",
                "--quiet",
            ])
            .arg("--save")
            .arg(&model)
            .output()
            .ok()?
            .status;
        times.push(start.elapsed().as_secs_f64());
        if !status.success() {
            return None;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    times.sort_by(f64::total_cmp);
    Some(times[runs / 2])
}

/// Prints symgrad's epoch beside PyTorch's and scikit-learn's, run one
/// after the other in this process's run.
fn against_python() {
    let systems = [
        ("pytorch", "torch", "train_epoch_torch.py"),
        ("scikit-learn", "sklearn", "train_epoch_sklearn.py"),
    ];
    println!("\nEpoch of 64-32-10 on 1,438 digits, batch 32, float64, one thread (medians):");
    println!(
        "{:<10} {:>14} {:>14} {:>8} {:>16}",
        "optimizer", "system", "epoch", "ratio", "30-epoch loop"
    );
    for (optimizer, lr) in [("sgd", "0.1"), ("adam", "0.01")] {
        let ours = median_epoch_in_run(optimizer, 30);
        let one_fit = median_one_epoch_fit(optimizer, 31);
        let whole = whole_command(optimizer, lr, 7);
        let whole = whole.map_or_else(
            || "(no target/release/symgrad)".to_string(),
            |w| format!("{w:.3} s whole command"),
        );
        println!(
            "{optimizer:<10} {:>14} {:>11.3} ms {:>8} {:>16}",
            "symgrad",
            ours * 1e3,
            "",
            whole
        );
        println!(
            "{optimizer:<10} {:>14} {:>11.3} ms   (a one-epoch fit: binding the rows included)",
            "symgrad",
            one_fit * 1e3,
        );
        for (system, module, script) in systems {
            let Some(python) = python_with(module) else {
                println!(
                    "{optimizer:<10} {system:>14}  skipped: no Python with {module} \
                     (set SYMGRAD_PYTHON)"
                );
                continue;
            };
            match python_epoch(&python, script, optimizer) {
                Some((median, looped)) => println!(
                    "{optimizer:<10} {system:>14} {:>11.3} ms {:>7.1}x {:>13.3} s loop",
                    median * 1e3,
                    median / ours,
                    looped
                ),
                None => println!("{optimizer:<10} {system:>14}  skipped: the script failed"),
            }
        }
    }
}

criterion_group!(benches, epochs, step);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // The side-by-side table takes minutes: run it unless a filter names
    // only some criterion groups (`-- step`); `-- python` runs it alone.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-') && a.parse::<f64>().is_err())
        .collect();
    if filters.is_empty() || filters.iter().any(|f| f == "python") {
        against_python();
    }
}

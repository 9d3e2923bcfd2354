//! Benchmarks of the engine on workloads W2, W4, W5 and W7 of `docs/WORKLOADS.md`,
//! and of the SVG pictures,
//! each beside a baseline measured in the same run, so that ratios can be
//! quoted even when absolute times drift on a shared machine.
//!
//! Run with
//! `cargo bench --bench engine -- --warm-up-time 1 --measurement-time 3`.
//! The figures that are not times (node counts, path counts, peak memory) come
//! from `cargo run --release --example workload_report`.

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, SamplingMode};
use std::hint::black_box;
use symgrad::diff::{self, forward, paths, reverse, Mode, Options};
use symgrad::eval::Program;
use symgrad::workloads::{self, Workload};

/// Runs `differentiate` on `w` and returns the graph with the result, so that
/// criterion drops the grown graph outside the timed region.
fn with_graph<R>(mut w: Workload, differentiate: impl FnOnce(&mut Workload) -> R) -> (Workload, R) {
    let r = differentiate(&mut w);
    (w, r)
}

/// W2 symbolic: the reverse-mode gradient graph of Rosenbrock, beside building
/// the function graph itself (the baseline) and forward mode (one pass per
/// input, so quadratic in n).
fn w2_rosenbrock(c: &mut Criterion) {
    let mut group = c.benchmark_group("W2_rosenbrock");
    for n in [10, 100, 1000] {
        if n >= 1000 {
            group.sample_size(10).sampling_mode(SamplingMode::Flat);
        }
        group.bench_with_input(BenchmarkId::new("build_f", n), &n, |b, &n| {
            b.iter_with_large_drop(|| workloads::rosenbrock(black_box(n)))
        });
        let w = workloads::rosenbrock(n);
        group.bench_with_input(BenchmarkId::new("reverse", n), &w, |b, w| {
            b.iter_batched(
                || w.clone(),
                |w| with_graph(w, |w| reverse::gradient(&mut w.graph, w.output, &w.inputs)),
                BatchSize::LargeInput,
            )
        });
        group.bench_with_input(BenchmarkId::new("forward", n), &w, |b, w| {
            b.iter_batched(
                || w.clone(),
                |w| with_graph(w, |w| forward::gradient(&mut w.graph, w.output, &w.inputs)),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

/// W4: path enumeration (exponential) against forward and reverse mode
/// (linear) on the product network; past 2^20 paths enumeration is refused,
/// and the refusal itself (a linear path count) is timed at d = 25.
fn w4_product_network(c: &mut Criterion) {
    let mut group = c.benchmark_group("W4_product_network");
    for d in [5, 10, 15, 20] {
        if d >= 15 {
            group.sample_size(10).sampling_mode(SamplingMode::Flat);
        }
        let w = workloads::product_network(d);
        for mode in [Mode::Paths, Mode::Forward, Mode::Reverse] {
            group.bench_with_input(BenchmarkId::new(mode.name(), d), &w, |b, w| {
                b.iter_batched(
                    || w.clone(),
                    |w| {
                        with_graph(w, |w| {
                            diff::gradient(
                                &mut w.graph,
                                w.output,
                                &w.inputs,
                                mode,
                                Options::default(),
                            )
                            .expect("within the path limit")
                        })
                    },
                    BatchSize::SmallInput,
                )
            });
        }
    }
    group.sample_size(100).sampling_mode(SamplingMode::Auto);
    let w = workloads::product_network(25);
    let refused = paths::gradient(
        &mut w.graph.clone(),
        w.output,
        &w.inputs,
        paths::DEFAULT_MAX_PATHS,
    );
    assert!(refused.is_err(), "2^25 paths must be refused");
    group.bench_with_input(BenchmarkId::new("paths_refused", 25), &w, |b, w| {
        b.iter_batched(
            || w.clone(),
            |mut w| {
                paths::gradient(&mut w.graph, w.output, &w.inputs, paths::DEFAULT_MAX_PATHS)
                    .unwrap_err()
            },
            BatchSize::SmallInput,
        )
    });
    for mode in [Mode::Forward, Mode::Reverse] {
        group.bench_with_input(BenchmarkId::new(mode.name(), 25), &w, |b, w| {
            b.iter_batched(
                || w.clone(),
                |w| {
                    with_graph(w, |w| {
                        diff::gradient(&mut w.graph, w.output, &w.inputs, mode, Options::default())
                            .expect("linear modes have no limit")
                    })
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

/// The 10th derivative of sin composed 7 times, built by `mode`.
fn w5_derivative(mode: Mode) -> (Workload, symgrad::NodeId) {
    let mut w = workloads::nested_sin(7);
    let x = w.inputs[0];
    let (d, _) = diff::nth_derivative(&mut w.graph, w.output, x, 10, mode, Options::default())
        .expect("exact modes");
    (w, d)
}

/// W5: t_sym of the 10th derivative of nested sin (forward and reverse), and
/// its interpreted evaluation at x = 0.5, beside evaluating the function itself
/// (interpreted, and as native Rust) as the baseline.
fn w5_nested_sin(c: &mut Criterion) {
    let mut group = c.benchmark_group("W5_nested_sin");
    group.sample_size(10).sampling_mode(SamplingMode::Flat);
    let f = workloads::nested_sin(7);
    for mode in [Mode::Forward, Mode::Reverse] {
        group.bench_with_input(BenchmarkId::new("t_sym_d10", mode.name()), &f, |b, f| {
            b.iter_batched(
                || f.clone(),
                |w| {
                    with_graph(w, |w| {
                        let x = w.inputs[0];
                        diff::nth_derivative(
                            &mut w.graph,
                            w.output,
                            x,
                            10,
                            mode,
                            Options::default(),
                        )
                        .expect("exact modes")
                    })
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.sample_size(100).sampling_mode(SamplingMode::Auto);
    let eval = |group: &mut criterion::BenchmarkGroup<_>, name: &str, w: &Workload, out| {
        let program = Program::compile(&w.graph, &w.inputs, &[out]).expect("one input");
        let (mut slots, mut values) = (Vec::new(), Vec::new());
        group.bench_function(name, |b| {
            b.iter(|| {
                program.run_with(black_box(&w.point), &mut slots, &mut values);
                values[0]
            })
        });
    };
    eval(&mut group, "eval_f_interpreted", &f, f.output);
    group.bench_function("eval_f_native", |b| {
        b.iter(|| (0..7).fold(black_box(0.5f64), |x, _| x.sin()))
    });
    for mode in [Mode::Forward, Mode::Reverse] {
        let (w, d) = w5_derivative(mode);
        eval(
            &mut group,
            &format!("eval_d10_interpreted/{}", mode.name()),
            &w,
            d,
        );
    }
    group.finish();
}

/// W7: reverse-mode differentiation of a random DAG of N nodes, beside building
/// the DAG (the baseline).
fn w7_random_dag(c: &mut Criterion) {
    let mut group = c.benchmark_group("W7_random_dag");
    for n in [10_000, 100_000, 1_000_000] {
        if n >= 100_000 {
            group.sample_size(10).sampling_mode(SamplingMode::Flat);
        }
        group.bench_with_input(BenchmarkId::new("build_f", n), &n, |b, &n| {
            b.iter_with_large_drop(|| workloads::random_dag(black_box(n), 1))
        });
        let w = workloads::random_dag(n, 1);
        group.bench_with_input(BenchmarkId::new("reverse", n), &w, |b, w| {
            b.iter_batched(
                || w.clone(),
                |w| with_graph(w, |w| reverse::gradient(&mut w.graph, w.output, &w.inputs)),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

/// Pictures: `symgrad graph --format svg`'s layout and rendering of the
/// random DAG with about 2,000 nodes (issue 10 asks for under 2 s), beside
/// its DOT text (the baseline, no layout).
fn svg_pictures(c: &mut Criterion) {
    let mut group = c.benchmark_group("svg");
    group.sample_size(10);
    for n in [500, 2_000] {
        let w = workloads::random_dag(n, 1);
        let options = symgrad::print::DotOptions::default();
        group.bench_with_input(BenchmarkId::new("dot", n), &w, |b, w| {
            b.iter(|| symgrad::print::dot(&w.graph, &[w.output], &options))
        });
        group.bench_with_input(BenchmarkId::new("svg", n), &w, |b, w| {
            b.iter(|| symgrad::print::svg(&w.graph, &[w.output], &options).map(|s| s.len()))
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    w2_rosenbrock,
    w4_product_network,
    w5_nested_sin,
    w7_random_dag,
    svg_pictures
);
criterion_main!(benches);

//! Prints, as markdown tables, the figures of the benchmark workloads that are
//! not criterion timings: graph sizes and their ratios (W6), the 10th
//! derivative of nested sin (W5), path counts (W4), and the time and peak heap
//! memory of differentiating large random DAGs (W7).
//!
//! Run with `cargo run --release --example workload_report`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use symgrad::diff::{self, paths, reverse, Mode, Options};
use symgrad::eval::Program;
use symgrad::workloads::{self, tree_sizes};

/// The system allocator, counting the bytes live now and the most ever live.
struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let now = CURRENT.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to `System`; the counters only observe.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            // Count the new block before releasing the old one: a moving
            // realloc holds both for a moment.
            grew(new_size);
            CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Starts a new peak measurement and returns the bytes live now.
fn reset_peak() -> usize {
    let now = CURRENT.load(Ordering::Relaxed);
    PEAK.store(now, Ordering::Relaxed);
    now
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn ms(t: Duration) -> String {
    format!("{:.1} ms", t.as_secs_f64() * 1e3)
}

fn w6() {
    println!("## W6 swell: gradient of the cyclic sigmoid product\n");
    println!("| n | nodes_f | nodes_g | nodes_g / nodes_f | tree size of all n partials | tree / nodes_f |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for n in [10, 100, 1000] {
        let mut w = workloads::cyclic_sigmoid_product(n);
        let nodes_f = w.graph.reachable(&[w.output]).len();
        let (grad, _) = reverse::gradient(&mut w.graph, w.output, &w.inputs);
        let nodes_g = w.graph.reachable(&grad).len();
        let sizes = tree_sizes(&w.graph);
        let trees = grad
            .iter()
            .fold(0u64, |acc, d| acc.saturating_add(sizes[d.index()]));
        println!(
            "| {n} | {nodes_f} | {nodes_g} | {:.2} | {trees} | {:.0} |",
            nodes_g as f64 / nodes_f as f64,
            trees as f64 / nodes_f as f64
        );
    }
    println!();
}

fn w5() {
    const SYMENGINE_OPS: usize = 63_597;
    println!("## W5 nested sin: 10th derivative of sin composed 7 times, at x = 0.5\n");
    println!("| mode | t_sym | nodes | nodes / SymEngine's 63,597 | value | interpreted eval |");
    println!("|---|---:|---:|---:|---:|---:|");
    for mode in [Mode::Forward, Mode::Reverse] {
        let mut w = workloads::nested_sin(7);
        let x = w.inputs[0];
        let start = Instant::now();
        let (d, _) = diff::nth_derivative(&mut w.graph, w.output, x, 10, mode, Options::default())
            .expect("exact modes");
        let t_sym = start.elapsed();
        let nodes = w.graph.reachable(&[d]).len();
        let program = Program::compile(&w.graph, &w.inputs, &[d]).expect("one input");
        let (mut slots, mut out) = (Vec::new(), Vec::new());
        program.run_with(&w.point, &mut slots, &mut out);
        let value = out[0];
        let runs = 2_000;
        let start = Instant::now();
        for _ in 0..runs {
            program.run_with(std::hint::black_box(&w.point), &mut slots, &mut out);
        }
        let t_eval = start.elapsed() / runs;
        println!(
            "| {mode} | {} | {nodes} | {:.3} | {value:.9} | {:.1} us |",
            ms(t_sym),
            nodes as f64 / SYMENGINE_OPS as f64,
            t_eval.as_secs_f64() * 1e6
        );
    }
    println!("\nExpected value: -115005.691264476.\n");
}

fn w4() {
    println!("## W4 product network: paths from w to the output\n");
    println!("| d | nodes_f | paths | path enumeration |");
    println!("|---:|---:|---:|---|");
    for d in [5, 10, 15, 20, 25] {
        let w = workloads::product_network(d);
        let count = paths::count_paths(&w.graph, w.output, &w.inputs)[0];
        let mut g = w.graph.clone();
        let verdict = match paths::gradient(&mut g, w.output, &w.inputs, paths::DEFAULT_MAX_PATHS) {
            Ok((_, stats)) => format!("enumerated {} paths", stats.paths),
            Err(e) => format!("refused: {e}"),
        };
        println!("| {d} | {} | {count} | {verdict} |", w.graph.len());
    }
    println!();
}

fn w7() {
    println!("## W7 scale: reverse-mode differentiation of a random DAG (seed 1)\n");
    println!("| N | nodes_f | nodes after | nodes_g | gradient finite at 0.5 | t_build | t_sym (best of 3) | peak during diff - live before | live before | total peak |");
    println!("|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|");
    let mut times = Vec::new();
    for n in [10_000, 100_000, 1_000_000] {
        let start = Instant::now();
        let w = workloads::random_dag(n, 1);
        let t_build = start.elapsed();
        let mut best = Duration::MAX;
        let mut report = None;
        for _ in 0..3 {
            let mut g = w.graph.clone();
            let before = reset_peak();
            let start = Instant::now();
            let (grad, _) = reverse::gradient(&mut g, w.output, &w.inputs);
            let t = start.elapsed();
            let peak = PEAK.load(Ordering::Relaxed);
            best = best.min(t);
            if report.is_none() {
                let nodes_g = g.reachable(&grad).len();
                // The gradient must be usable at the point, not only built.
                let values = Program::compile(&g, &w.inputs, &grad)
                    .expect("the inputs are the DAG's variables")
                    .run(&w.point);
                let finite = values.iter().all(|v| v.is_finite());
                report = Some((g.len(), nodes_g, peak - before, before, peak, finite));
            }
        }
        let (after, nodes_g, extra, before, peak, finite) = report.expect("three runs");
        println!(
            "| {n} | {} | {after} | {nodes_g} | {finite} | {} | {} | {} | {} | {} |",
            w.graph.len(),
            ms(t_build),
            ms(best),
            mib(extra),
            mib(before),
            mib(peak)
        );
        times.push(best);
    }
    println!(
        "\nt_sym(1e5) / t_sym(1e4) = {:.2}; t_sym(1e6) / t_sym(1e5) = {:.2} (target: at most 12).",
        times[1].as_secs_f64() / times[0].as_secs_f64(),
        times[2].as_secs_f64() / times[1].as_secs_f64()
    );
}

fn main() {
    w6();
    w5();
    w4();
    w7();
}

//! Where a network's training step spends its time: runs the batched
//! loss-and-gradient plan of a network file many times and prints each
//! kernel call's share, largest first.
//!
//! ```text
//! cargo run --release --example plan_profile -- nets/digits_conv.sg 32
//! ```
//!
//! Inputs are pseudo-random in [0, 1) (the batch's values do not change
//! which kernels run, only, slightly, how fast a max or a ReLU branch is).

use std::time::Duration;
use symgrad::net::{batch, parse_network};
use symgrad::plan::{Instr, Runner};

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(path), m) = (args.next(), args.next()) else {
        eprintln!("usage: plan_profile NET.sg [BATCH]");
        std::process::exit(2);
    };
    let m: usize = m.map_or(Ok(32), |s| s.parse()).unwrap_or_else(|e| {
        eprintln!("plan_profile: the batch size: {e}");
        std::process::exit(2);
    });
    let source = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        eprintln!("plan_profile: {path}: {e}");
        std::process::exit(2);
    });
    let net = parse_network(&source).unwrap_or_else(|e| {
        eprintln!("plan_profile: {path}: {e}");
        std::process::exit(2);
    });
    let plan = batch::plan(&net, batch::Outputs::LossAndGradient).unwrap_or_else(|e| {
        eprintln!("plan_profile: {path}: {e}");
        std::process::exit(2);
    });
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let last = plan.inputs.len() - 1;
    let inputs: Vec<Vec<f64>> = plan
        .inputs
        .iter()
        .enumerate()
        .map(|(k, dims)| {
            let n = symgrad::plan::numel(dims).at(m);
            // The last input is the weight 1/m of the mean loss.
            if k == last {
                vec![1.0 / m as f64; n]
            } else {
                (0..n).map(|_| next() - 0.5).collect()
            }
        })
        .collect();
    let refs: Vec<&[f64]> = inputs.iter().map(|v| v.as_slice()).collect();
    let instrs = plan.instrs.clone();
    let mut runner = Runner::new(plan, m);
    let mut times = vec![Duration::ZERO; instrs.len()];
    for _ in 0..200 {
        runner.execute(&refs).expect("the inputs fit the plan");
    }
    let runs = 2000;
    for _ in 0..runs {
        runner
            .execute_timed(&refs, &mut times)
            .expect("the inputs fit the plan");
    }
    let total: Duration = times.iter().sum();
    println!(
        "{path}, batch {m}: {} kernel calls, {:.2} us per run",
        instrs.len(),
        total.as_secs_f64() * 1e6 / runs as f64
    );
    let mut order: Vec<usize> = (0..instrs.len()).collect();
    order.sort_by(|&a, &b| times[b].cmp(&times[a]));
    for k in order {
        let share = times[k].as_secs_f64() / total.as_secs_f64() * 100.0;
        let us = times[k].as_secs_f64() * 1e6 / runs as f64;
        println!(
            "{k:>4} {us:>8.2} us {share:>5.1} %  {}",
            describe(&instrs[k])
        );
    }
}

/// One line for an instruction: its kind and sizes, without the views.
fn describe(i: &Instr) -> String {
    let text = format!("{i:?}");
    text.chars().take(160).collect()
}

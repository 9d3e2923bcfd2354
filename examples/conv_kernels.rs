//! The convolution kernels' algorithms side by side, interleaved: each
//! round calls every candidate 300 times in turn, and the medians over the
//! rounds are printed, so that a noisy, shared machine slows all of them
//! alike (criterion's groups, in `benches/conv.rs`, run one after another).
//!
//! ```text
//! cargo run --release --example conv_kernels -- [C F [ROUNDS]]
//! ```
//!
//! The shape is 32 samples of C×8×8 convolved with F filters 3×3, padding
//! 1 (the digits network's second layer by default: C = 16, F = 32).

use std::time::Instant;
use symgrad::__private::kernels::conv::{unfold, winograd_nhwc, ConvShape};

type Run<'a> = Box<dyn FnMut() + 'a>;

fn values(seed: u64, len: usize) -> Vec<f64> {
    let mut s = seed;
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
        .collect()
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| {
            a.parse().unwrap_or_else(|_| {
                eprintln!(
                    "conv_kernels: {a:?} is not a count (usage: conv_kernels [C F [ROUNDS]])"
                );
                std::process::exit(2)
            })
        })
        .collect();
    let (c, f) = (*args.first().unwrap_or(&16), *args.get(1).unwrap_or(&32));
    let rounds = *args.get(2).unwrap_or(&8);
    if c == 0 || f == 0 || rounds == 0 {
        eprintln!("conv_kernels: channels, filters and rounds must be at least 1");
        std::process::exit(2);
    }
    let g = ConvShape {
        n: 32,
        c,
        h: 8,
        w: 8,
        f,
        kh: 3,
        kw: 3,
        stride: 1,
        padding: 1,
    };
    let (x, k, w) = (
        values(1, 32 * c * 64),
        values(2, f * c * 9),
        values(3, 32 * f * 64),
    );
    let (mut y, mut dx, mut dk) = (vec![0.0; w.len()], vec![0.0; x.len()], vec![0.0; k.len()]);
    let (mut y2, mut dx2, mut dk2) = (y.clone(), dx.clone(), dk.clone());
    let (mut s1, mut s2, mut s3, mut s4, mut s5, mut s6) = Default::default();
    let (x, k, w) = (&x, &k, &w);
    let mut runs: Vec<(&str, Run)> = vec![
        (
            "unfolded forward",
            Box::new(|| unfold::conv2d_unfolded(&g, x, k, &mut y, &mut s1)),
        ),
        (
            "unfolded input grad",
            Box::new(|| unfold::conv2d_input_grad_unfolded(&g, w, k, &mut dx, &mut s2)),
        ),
        (
            "unfolded kernel grad",
            Box::new(|| unfold::conv2d_kernel_grad_unfolded(&g, x, w, &mut dk, &mut s3)),
        ),
    ];
    if winograd_nhwc::applies(&g) {
        runs.push((
            "winograd channels-last forward",
            Box::new(move || winograd_nhwc::conv2d(&g, x, k, &mut y2, &mut s4)),
        ));
        runs.push((
            "winograd channels-last input grad",
            Box::new(move || winograd_nhwc::conv2d_input_grad(&g, w, k, &mut dx2, &mut s5)),
        ));
        runs.push((
            "winograd channels-last kernel grad",
            Box::new(move || winograd_nhwc::conv2d_kernel_grad(&g, x, w, &mut dk2, &mut s6)),
        ));
    }
    let mut times = vec![Vec::new(); runs.len()];
    for _ in 0..rounds {
        for ((_, run), t) in runs.iter_mut().zip(&mut times) {
            let start = Instant::now();
            for _ in 0..300 {
                run();
            }
            t.push(start.elapsed().as_secs_f64() * 1e6 / 300.0);
        }
    }
    println!("32 x {c}x8x8 -> {f} filters 3x3, padding 1: medians of {rounds} interleaved rounds of 300 calls");
    for ((name, _), mut t) in runs.iter().zip(times) {
        t.sort_by(f64::total_cmp);
        let median = (t[(t.len() - 1) / 2] + t[t.len() / 2]) / 2.0;
        println!("{name:36} {median:8.1} us");
    }
}

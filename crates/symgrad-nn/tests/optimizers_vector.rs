//! The optimizers' per-entry loops, which run a build for AVX2 on a CPU
//! that has it (`symgrad_runtime::dispatch!`), give the same bits as the
//! update formulas written out here as plain scalar loops, over tensors
//! long enough for the vector loops and their remainders to run. (Run with
//! `SYMGRAD_SIMD=scalar` to check the baseline build the same way.) The
//! exception is Adam's and Nadam's division on a CPU with AVX-512, a
//! Newton reciprocal within 1 ulp of the quotient: there the moments keep
//! their bits and θ stays within the rounding that allows.

use symgrad_nn::{AdaDelta, AdaGrad, Adam, Momentum, Nadam, Optimizer, RmsProp, Sgd};

const SIZES: [usize; 3] = [517, 3, 482];
const STEPS: usize = 6;
const LR: f64 = 0.01;

/// A deterministic value in (-1, 1) for step `t`, tensor `k`, entry `i`.
fn noise(t: usize, k: usize, i: usize) -> f64 {
    let mut z = (t as u64) << 40 ^ (k as u64) << 20 ^ i as u64;
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

fn theta0() -> Vec<Vec<f64>> {
    (0..SIZES.len())
        .map(|k| (0..SIZES[k]).map(|i| noise(99, k, i)).collect())
        .collect()
}

/// Runs `opt` for STEPS steps, returning θ after each.
fn run(opt: &mut dyn Optimizer) -> Vec<Vec<Vec<f64>>> {
    let mut theta = theta0();
    let mut out = Vec::new();
    for t in 0..STEPS {
        let grad: Vec<Vec<f64>> = (0..SIZES.len())
            .map(|k| (0..SIZES[k]).map(|i| noise(t, k, i)).collect())
            .collect();
        let mut params: Vec<&mut [f64]> = theta.iter_mut().map(|p| p.as_mut_slice()).collect();
        opt.step(&mut params, &grad, LR);
        out.push(theta.clone());
    }
    out
}

/// The same steps with `update(t, g, θ, state)` applied entry by entry.
fn reference<const S: usize>(
    update: impl Fn(f64, f64, &mut f64, &mut [f64; S]),
) -> Vec<Vec<Vec<f64>>> {
    let mut theta = theta0();
    let mut state: Vec<Vec<[f64; S]>> = SIZES.iter().map(|&n| vec![[0.0; S]; n]).collect();
    let mut out = Vec::new();
    for t in 0..STEPS {
        for (k, (p, s)) in theta.iter_mut().zip(&mut state).enumerate() {
            for (i, (p, s)) in p.iter_mut().zip(s).enumerate() {
                update((t + 1) as f64, noise(t, k, i), p, s);
            }
        }
        out.push(theta.clone());
    }
    out
}

fn assert_same_bits(name: &str, got: &[Vec<Vec<f64>>], want: &[Vec<Vec<f64>>]) {
    for (t, (g, w)) in got.iter().zip(want).enumerate() {
        for (k, (g, w)) in g.iter().zip(w).enumerate() {
            for (i, (g, w)) in g.iter().zip(w).enumerate() {
                assert_eq!(
                    g.to_bits(),
                    w.to_bits(),
                    "{name}: step {}, tensor {k}, entry {i}: {g} vs {w}",
                    t + 1
                );
            }
        }
    }
}

/// Adam's or Nadam's θ after each step against the formulas: the same
/// bits, or with the Newton division (see `symgrad_runtime::kernels::adam`)
/// within what it allows. The moments are the same bits either way and
/// each update s is within 1 ulp of the quotient, so each step adds at most
/// ulp(s) + ulp(θ) to θ's distance from the formulas, and
/// |s| ≤ |θ before| + |θ after|.
fn assert_moments_update(name: &str, got: &[Vec<Vec<f64>>], want: &[Vec<Vec<f64>>]) {
    if !symgrad_runtime::kernels::adam::newton_division() {
        return assert_same_bits(name, got, want);
    }
    let mut before = theta0();
    let mut allowed: Vec<Vec<f64>> = SIZES.iter().map(|&n| vec![0.0; n]).collect();
    for (t, (g, w)) in got.iter().zip(want).enumerate() {
        for (k, (g, w)) in g.iter().zip(w).enumerate() {
            for (i, (g, w)) in g.iter().zip(w).enumerate() {
                allowed[k][i] += 2.0 * f64::EPSILON * (before[k][i].abs() + 2.0 * w.abs());
                assert!(
                    (g - w).abs() <= allowed[k][i],
                    "{name}: step {}, tensor {k}, entry {i}: {g} vs {w}",
                    t + 1
                );
            }
        }
        before = w.clone();
    }
}

#[test]
fn sgd_and_momentum() {
    let want = reference::<0>(|_, g, p, _| *p -= LR * g);
    assert_same_bits("sgd", &run(&mut Sgd::new(LR)), &want);
    let want = reference::<1>(|_, g, p, [v]| {
        *v = 0.9 * *v - LR * g;
        *p += *v;
    });
    assert_same_bits("momentum", &run(&mut Momentum::new(LR)), &want);
}

#[test]
fn adagrad_rmsprop_adadelta() {
    let eps = 1e-8;
    let want = reference::<1>(|_, g, p, [a]| {
        *a += g * g;
        *p -= LR * g / (a.sqrt() + eps);
    });
    assert_same_bits("adagrad", &run(&mut AdaGrad::new(LR)), &want);
    let rho = 0.9;
    let want = reference::<1>(|_, g, p, [a]| {
        *a = rho * *a + (1.0 - rho) * g * g;
        *p -= LR * g / (a.sqrt() + eps);
    });
    assert_same_bits("rmsprop", &run(&mut RmsProp::new(LR)), &want);
    let eps = 1e-6;
    let want = reference::<2>(|_, g, p, [a, d]| {
        *a = rho * *a + (1.0 - rho) * g * g;
        let delta = -((*d + eps) / (*a + eps)).sqrt() * g;
        *d = rho * *d + (1.0 - rho) * delta * delta;
        *p += LR * delta;
    });
    assert_same_bits("adadelta", &run(&mut AdaDelta::new(LR)), &want);
}

#[test]
fn adam_and_nadam() {
    let (b1, b2, eps): (f64, f64, f64) = (0.9, 0.999, 1e-8);
    // The grouping optim/mod.rs documents: scalar factors once per step,
    // one root and one division per entry.
    let moments = |g: f64, m: &mut f64, v: &mut f64| {
        *m = b1 * *m + (1.0 - b1) * g;
        *v = b2 * *v + (1.0 - b2) * g * g;
    };
    let want = reference::<2>(|t, g, p, [m, v]| {
        moments(g, m, v);
        let (a, irb2) = (LR / (1.0 - b1.powf(t)), 1.0 / (1.0 - b2.powf(t)).sqrt());
        *p -= (a * *m + 0.0 * g) / (v.sqrt() * irb2 + eps);
    });
    assert_moments_update("adam", &run(&mut Adam::new(LR)), &want);
    let want = reference::<2>(|t, g, p, [m, v]| {
        moments(g, m, v);
        let a = LR * (b1 / (1.0 - b1.powf(t + 1.0)));
        let b = LR * ((1.0 - b1) / (1.0 - b1.powf(t)));
        let irb2 = 1.0 / (1.0 - b2.powf(t)).sqrt();
        *p -= (a * *m + b * g) / (v.sqrt() * irb2 + eps);
    });
    assert_moments_update("nadam", &run(&mut Nadam::new(LR)), &want);
}

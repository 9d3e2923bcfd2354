//! Each optimizer's first steps on a tiny quadratic, against values worked
//! out by hand from the contract's formulas (DESIGN.md, "Contract:
//! training"): f(θ) = ½ Σ a_i θ_i², so g_i = a_i θ_i.
// Index loops keep the tests' formulas as written (a_i θ_i).
#![allow(clippy::needless_range_loop)]

use symgrad_nn::{
    optimizer_from_name, AdaDelta, AdaGrad, Adam, ErrorKind, Hyper, Momentum, Nadam, Nesterov,
    Optimizer, RmsProp, Sgd, OPTIMIZERS,
};

/// Curvatures of the two parameters: a 2×1 "matrix" and a 1-vector.
const A: [f64; 3] = [2.0, -0.5, 4.0];

fn gradient(theta: &[Vec<f64>]) -> Vec<Vec<f64>> {
    vec![
        vec![A[0] * theta[0][0], A[1] * theta[0][1]],
        vec![A[2] * theta[1][0]],
    ]
}

/// Runs `steps` steps of `opt` (with the look-ahead protocol) from
/// θ = ([1, -2], [0.5]) and returns every iterate.
fn run(opt: &mut dyn Optimizer, steps: usize, lr: f64) -> Vec<Vec<Vec<f64>>> {
    let mut theta = vec![vec![1.0, -2.0], vec![0.5]];
    let mut out = Vec::new();
    for _ in 0..steps {
        {
            let mut p: Vec<&mut [f64]> = theta.iter_mut().map(|v| v.as_mut_slice()).collect();
            opt.look_ahead(&mut p);
        }
        let g = gradient(&theta);
        let mut p: Vec<&mut [f64]> = theta.iter_mut().map(|v| v.as_mut_slice()).collect();
        opt.step(&mut p, &g, lr);
        out.push(theta.clone());
    }
    out
}

fn flat(t: &[Vec<f64>]) -> Vec<f64> {
    t.iter().flatten().copied().collect()
}

fn assert_close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= 1e-15 * w.abs().max(1.0),
            "got {got:?}, want {want:?}"
        );
    }
}

const THETA0: [f64; 3] = [1.0, -2.0, 0.5];

#[test]
fn sgd_first_steps() {
    // θ1 = θ0 - α a θ0 = θ0 (1 - α a), α = 0.1.
    let steps = run(&mut Sgd::new(0.1), 2, 0.1);
    let want1: Vec<f64> = (0..3).map(|i| THETA0[i] * (1.0 - 0.1 * A[i])).collect();
    assert_close(&flat(&steps[0]), &want1);
    let want2: Vec<f64> = (0..3).map(|i| want1[i] * (1.0 - 0.1 * A[i])).collect();
    assert_close(&flat(&steps[1]), &want2);
}

#[test]
fn momentum_first_steps() {
    // v1 = -α g0, θ1 = θ0 + v1; v2 = β v1 - α g1, θ2 = θ1 + v2.
    let (lr, beta) = (0.1, 0.8);
    let steps = run(&mut Momentum::new(lr).momentum(beta), 2, lr);
    for i in 0..3 {
        let v1 = -lr * A[i] * THETA0[i];
        let t1 = THETA0[i] + v1;
        let v2 = beta * v1 - lr * A[i] * t1;
        let t2 = t1 + v2;
        assert_close(&[flat(&steps[0])[i], flat(&steps[1])[i]], &[t1, t2]);
    }
}

#[test]
fn momentum_defaults_to_beta_0_9() {
    let a = run(&mut Momentum::new(0.1), 3, 0.1);
    let b = run(&mut Momentum::new(0.1).momentum(0.9), 3, 0.1);
    assert_eq!(a, b);
}

#[test]
fn nesterov_takes_the_gradient_at_the_look_ahead_point() {
    // Step 1: v0 = 0, so g0 = a θ0; v1 = -α g0; θ1 = θ0 + v1.
    // Step 2: g1 = a (θ1 + β v1); v2 = β v1 - α g1; θ2 = θ1 + v2.
    let (lr, beta) = (0.1, 0.9);
    let mut opt = Nesterov::new(lr);
    let mut theta = vec![vec![1.0, -2.0], vec![0.5]];
    let mut seen = Vec::new();
    for _ in 0..2 {
        {
            let mut p: Vec<&mut [f64]> = theta.iter_mut().map(|v| v.as_mut_slice()).collect();
            opt.look_ahead(&mut p);
        }
        seen.push(flat(&theta));
        let g = gradient(&theta);
        let mut p: Vec<&mut [f64]> = theta.iter_mut().map(|v| v.as_mut_slice()).collect();
        opt.step(&mut p, &g, lr);
        seen.push(flat(&theta));
    }
    for i in 0..3 {
        let v1 = -lr * A[i] * THETA0[i];
        let t1 = THETA0[i] + v1;
        let ahead = t1 + beta * v1;
        let v2 = beta * v1 - lr * A[i] * ahead;
        let t2 = t1 + v2;
        assert_eq!(seen[0][i], THETA0[i], "first gradient at θ0");
        assert_eq!(seen[1][i], t1);
        assert_eq!(seen[2][i], ahead, "second gradient at θ1 + β v1");
        // θ2 is computed from θ1 itself, restored exactly, not from ahead - β v1.
        assert_eq!(seen[3][i], t2);
    }
}

#[test]
fn adagrad_first_steps() {
    // A1 = g0², θ1 = θ0 - α g0 / (|g0| + ε); A2 = A1 + g1², θ2 = θ1 - α g1 / (√A2 + ε).
    let (lr, eps) = (0.1, 1e-8);
    let steps = run(&mut AdaGrad::new(lr), 2, lr);
    for i in 0..3 {
        let g0 = A[i] * THETA0[i];
        let t1 = THETA0[i] - lr * g0 / ((g0 * g0).sqrt() + eps);
        let g1 = A[i] * t1;
        let acc = g0 * g0 + g1 * g1;
        let t2 = t1 - lr * g1 / (acc.sqrt() + eps);
        assert_close(&[flat(&steps[0])[i], flat(&steps[1])[i]], &[t1, t2]);
    }
    // Concretely for θ0 = 1, a = 2: g0 = 2, θ1 = 1 - 0.1·2/(2 + 1e-8).
    assert_close(&[flat(&steps[0])[0]], &[1.0 - 0.2 / (2.0 + 1e-8)]);
}

#[test]
fn rmsprop_first_steps() {
    // A1 = (1-ρ) g0², θ1 = θ0 - α g0/(√A1 + ε); A2 = ρ A1 + (1-ρ) g1².
    let (lr, rho, eps) = (0.01, 0.9, 1e-8);
    let steps = run(&mut RmsProp::new(lr), 2, lr);
    for i in 0..3 {
        let g0 = A[i] * THETA0[i];
        let a1 = (1.0 - rho) * g0 * g0;
        let t1 = THETA0[i] - lr * g0 / (a1.sqrt() + eps);
        let g1 = A[i] * t1;
        let a2 = rho * a1 + (1.0 - rho) * g1 * g1;
        let t2 = t1 - lr * g1 / (a2.sqrt() + eps);
        assert_close(&[flat(&steps[0])[i], flat(&steps[1])[i]], &[t1, t2]);
    }
    // With ρ = 0.5 and ε = 1e-3 given: θ1 = 1 - 0.01·2/(√(0.5·4) + 1e-3).
    let s = run(&mut RmsProp::new(lr).rho(0.5).eps(1e-3), 1, lr);
    assert_close(&[s[0][0][0]], &[1.0 - 0.02 / (2.0f64.sqrt() + 1e-3)]);
}

#[test]
fn adadelta_first_steps() {
    // A1 = (1-ρ) g0²; Δ1 = -(√(0+ε)/√(A1+ε)) g0; D1 = (1-ρ) Δ1²; θ1 = θ0 + α Δ1.
    let (lr, rho, eps): (f64, f64, f64) = (1.0, 0.9, 1e-6);
    let steps = run(&mut AdaDelta::new(lr), 2, lr);
    for i in 0..3 {
        let g0 = A[i] * THETA0[i];
        let a1 = (1.0 - rho) * g0 * g0;
        let d1_step = -(eps.sqrt() / (a1 + eps).sqrt()) * g0;
        let d1 = (1.0 - rho) * d1_step * d1_step;
        let t1 = THETA0[i] + lr * d1_step;
        let g1 = A[i] * t1;
        let a2 = rho * a1 + (1.0 - rho) * g1 * g1;
        let d2_step = -((d1 + eps).sqrt() / (a2 + eps).sqrt()) * g1;
        let t2 = t1 + lr * d2_step;
        assert_close(&[flat(&steps[0])[i], flat(&steps[1])[i]], &[t1, t2]);
    }
}

#[test]
fn adam_first_steps() {
    // Step 1: m = (1-β1) g, v = (1-β2) g², m̂ = g, v̂ = g²: θ1 = θ0 - α g/(|g| + ε).
    let (lr, b1, b2, eps) = (0.1, 0.9, 0.999, 1e-8);
    let steps = run(&mut Adam::new(lr), 3, lr);
    let mut m = [0.0; 3];
    let mut v = [0.0; 3];
    let mut theta = THETA0;
    for (t, step) in steps.iter().enumerate() {
        let t = (t + 1) as i32;
        for i in 0..3 {
            let g = A[i] * theta[i];
            m[i] = b1 * m[i] + (1.0 - b1) * g;
            v[i] = b2 * v[i] + (1.0 - b2) * g * g;
            theta[i] -=
                lr * (m[i] / (1.0 - b1.powi(t))) / ((v[i] / (1.0 - b2.powi(t))).sqrt() + eps);
        }
        assert_close(&flat(step), &theta);
    }
    assert_close(&[flat(&steps[0])[0]], &[1.0 - 0.1 * 2.0 / (2.0 + 1e-8)]);
}

#[test]
fn nadam_first_steps() {
    // θ -= α (β1 m/(1-β1^(t+1)) + (1-β1) g/(1-β1^t)) / (√(v/(1-β2^t)) + ε).
    let (lr, b1, b2, eps) = (0.05, 0.8, 0.99, 1e-7);
    let steps = run(&mut Nadam::new(lr).beta1(b1).beta2(b2).eps(eps), 3, lr);
    let mut m = [0.0; 3];
    let mut v = [0.0; 3];
    let mut theta = THETA0;
    for (t, step) in steps.iter().enumerate() {
        let t = (t + 1) as i32;
        for i in 0..3 {
            let g = A[i] * theta[i];
            m[i] = b1 * m[i] + (1.0 - b1) * g;
            v[i] = b2 * v[i] + (1.0 - b2) * g * g;
            let num = b1 * m[i] / (1.0 - b1.powi(t + 1)) + (1.0 - b1) * g / (1.0 - b1.powi(t));
            theta[i] -= lr * num / ((v[i] / (1.0 - b2.powi(t))).sqrt() + eps);
        }
        assert_close(&flat(step), &theta);
    }
    // Step 1 by hand, θ0 = 1, a = 2, g = 2: m = 0.4, v = 0.04;
    // num = 0.8·0.4/(1-0.64) + 0.2·2/0.2 = 0.888… + 2; den = √(0.04/0.01) + 1e-7 = 2 + 1e-7.
    let num = 0.8 * 0.4 / 0.36 + 2.0;
    assert_close(&[flat(&steps[0])[0]], &[1.0 - 0.05 * num / (2.0 + 1e-7)]);
}

#[test]
fn every_name_builds_and_counts_steps_from_one() {
    for name in OPTIMIZERS {
        let mut opt = optimizer_from_name(name, &Hyper::new(0.01)).unwrap();
        assert_eq!(opt.name(), name);
        assert_eq!(opt.steps(), 0);
        run(&mut *opt, 2, 0.01);
        assert_eq!(opt.steps(), 2);
        opt.reset();
        assert_eq!(opt.steps(), 0);
    }
}

#[test]
fn from_name_uses_the_given_settings() {
    let mut h = Hyper::new(0.1);
    h.beta1 = Some(0.5);
    h.beta2 = Some(0.9);
    h.eps = Some(1e-3);
    let a = run(&mut *optimizer_from_name("adam", &h).unwrap(), 3, 0.1);
    let b = run(&mut Adam::new(0.1).beta1(0.5).beta2(0.9).eps(1e-3), 3, 0.1);
    assert_eq!(a, b);
    let mut h = Hyper::new(0.1);
    h.rho = Some(0.5);
    let a = run(&mut *optimizer_from_name("adadelta", &h).unwrap(), 3, 0.1);
    let b = run(&mut AdaDelta::new(0.1).rho(0.5), 3, 0.1);
    assert_eq!(a, b);
    assert_eq!(h.unused_by("adadelta"), Vec::<&str>::new());
    assert_eq!(h.unused_by("adam"), vec!["--rho"]);
}

#[test]
fn bad_names_and_settings_are_errors() {
    let err = optimizer_from_name("adamw", &Hyper::new(0.1))
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::InvalidOption);
    assert!(
        err.to_string().contains("unknown optimizer 'adamw'"),
        "{err}"
    );
    for lr in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let err = optimizer_from_name("sgd", &Hyper::new(lr)).err().unwrap();
        assert!(err.to_string().contains("learning rate"), "{err}");
    }
    let mut h = Hyper::new(0.1);
    h.momentum = Some(1.0);
    let err = optimizer_from_name("momentum", &h).err().unwrap();
    assert!(err.to_string().contains("--momentum"), "{err}");
    let mut h = Hyper::new(0.1);
    h.eps = Some(0.0);
    assert!(optimizer_from_name("adam", &h).is_err());
}

//! The C baselines against independent references: Rosenbrock's gradient
//! against central finite differences of the C value, and the perceptrons'
//! gradients against central finite differences of the C loss.
//! Without a C compiler there is nothing to check and the tests say so.

use symgrad_cbench::{CBaselines, MlpGradient, MlpLoss, MlpShape};

fn c() -> Option<CBaselines> {
    let c = CBaselines::get();
    if c.is_none() {
        eprintln!("C baseline absent: {}", CBaselines::describe());
    }
    c
}

#[test]
fn seed_matches_its_formula() {
    let Some(c) = c() else { return };
    let (x, y) = (1.5_f64, -0.25_f64);
    let (f, g) = c.seed(x, y);
    assert_eq!(f, x * x * y + y + 2.0);
    assert_eq!(g, [2.0 * x * y, x * x + 1.0]);
}

#[test]
fn rosenbrock_gradient_matches_finite_differences() {
    let Some(c) = c() else { return };
    let n = 37;
    let x: Vec<f64> = (0..n).map(|i| 0.3 * (i as f64).sin() + 0.5).collect();
    let mut g = vec![0.0; n];
    let f = c.rosenbrock(&x, &mut g);
    assert_eq!(f, c.rosenbrock_value(&x));
    let h = 1e-6;
    for i in 0..n {
        let (mut up, mut down) = (x.clone(), x.clone());
        up[i] += h;
        down[i] -= h;
        let fd = (c.rosenbrock_value(&up) - c.rosenbrock_value(&down)) / (2.0 * h);
        assert!(
            (fd - g[i]).abs() <= 1e-6 * g[i].abs().max(1.0),
            "d/dx{i}: {fd} vs {}",
            g[i]
        );
    }
}

fn mlp_gradient_matches_finite_differences(loss: MlpLoss) {
    let Some(c) = c() else { return };
    // Odd sizes so that the vector loops' remainders run too.
    let shape = MlpShape {
        m: 3,
        n_in: 13,
        n_hid: 5,
        n_out: 4,
    };
    let wave = |len: usize, a: f64| -> Vec<f64> {
        (0..len).map(|i| 0.5 * (a * i as f64 + 1.0).sin()).collect()
    };
    let x = wave(shape.m * shape.n_in, 0.7);
    let y: Vec<f64> = (0..shape.m * shape.n_out)
        .map(|i| f64::from(i % shape.n_out == (i / shape.n_out) % shape.n_out))
        .collect();
    let mut params = [
        wave(shape.n_hid * shape.n_in, 1.3),
        wave(shape.n_hid, 2.1),
        wave(shape.n_out * shape.n_hid, 0.9),
        wave(shape.n_out, 1.7),
    ];
    let mut work = vec![0.0; shape.work_len()];
    let mut g = MlpGradient::new(shape);
    let p = [
        &params[0][..],
        &params[1][..],
        &params[2][..],
        &params[3][..],
    ];
    let l = c.mlp(loss, shape, &x, &y, p, Some(&mut g), &mut work);
    assert_eq!(l, c.mlp(loss, shape, &x, &y, p, None, &mut work));
    let grads = [g.dw1.clone(), g.db1.clone(), g.dw2.clone(), g.db2.clone()];
    let h = 1e-6;
    for k in 0..4 {
        for i in 0..params[k].len() {
            let v = params[k][i];
            let mut at = |value: f64| {
                params[k][i] = value;
                let p = [
                    &params[0][..],
                    &params[1][..],
                    &params[2][..],
                    &params[3][..],
                ];
                c.mlp(loss, shape, &x, &y, p, None, &mut work)
            };
            let fd = (at(v + h) - at(v - h)) / (2.0 * h);
            params[k][i] = v;
            let want = grads[k][i];
            assert!(
                (fd - want).abs() <= 1e-7,
                "param {k} entry {i}: {fd} vs {want}"
            );
        }
    }
}

#[test]
fn w3_gradient_matches_finite_differences() {
    mlp_gradient_matches_finite_differences(MlpLoss::SigmoidQuadratic);
}

#[test]
fn w3b_gradient_matches_finite_differences() {
    mlp_gradient_matches_finite_differences(MlpLoss::SoftmaxCrossEntropy);
}

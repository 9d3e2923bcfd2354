//! The training loop end to end on small hand-written models, against
//! loops written out here from the contract (DESIGN.md, "Contract:
//! training"): batch order, schedule, penalties, Nesterov's look-ahead,
//! early stopping, the divergence guard, determinism and resuming.
// Index loops keep the tests' formulas as written (a_i θ_i).
#![allow(clippy::needless_range_loop)]

mod common;

use common::{blobs_csv, line_csv, LinearRegression, LinearSoftmax};
use symgrad_nn::{
    Adam, Dataset, Decay, Epoch, ErrorKind, Model, Momentum, Nesterov, Observer, Sgd, Step, Trainer,
};

fn blobs(n: usize) -> Dataset {
    Dataset::from_csv_str(&blobs_csv(n)).unwrap()
}

fn line(n: usize) -> Dataset {
    Dataset::from_csv_str(&line_csv(n)).unwrap()
}

/// The (x, y) slices of the rows `rows` of a 3-column data set.
fn batch(data: &Dataset, rows: std::ops::Range<usize>) -> (Vec<f64>, Vec<f64>) {
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in rows {
        x.extend_from_slice(&data.row(i)[..2]);
        y.push(data.row(i)[2]);
    }
    (x, y)
}

fn gradient<M: Model>(model: &mut M, x: &[f64], y: &[f64]) -> (f64, Vec<Vec<f64>>) {
    let mut g: Vec<Vec<f64>> = model
        .param_shapes()
        .iter()
        .map(|s| vec![0.0; s.iter().product()])
        .collect();
    let loss = model.loss_and_gradient(&[x, y], &mut g);
    (loss, g)
}

#[test]
fn sgd_learns_separable_blobs() {
    let (train, validation) = blobs(150).split_validation(0.2, 3).unwrap();
    let mut model = LinearSoftmax::new(2, 3, 1);
    let history = Trainer::new(Sgd::new(0.5))
        .epochs(30)
        .batch_size(16)
        .seed(5)
        .validation(validation)
        .fit(&mut model, &train)
        .unwrap();
    assert_eq!(history.epochs.len(), 30);
    let first = &history.epochs[0];
    let last = history.epochs.last().unwrap();
    assert!(
        last.train_loss < first.train_loss / 2.0,
        "{first:?} {last:?}"
    );
    assert!(last.val_accuracy.unwrap() > 0.9, "{last:?}");
    assert!(last.val_loss.unwrap().is_finite());
    assert_eq!(last.train_accuracy, None, "off by default");
    assert_eq!(history.best_epoch, Some(30));
    assert_eq!(history.stopped, None);
    assert_eq!(history.param_names, vec!["W", "b"]);
    assert_eq!(last.grad_norms.len(), 2);
}

#[test]
fn adam_trains_through_a_dyn_model() {
    let mut model = LinearSoftmax::new(2, 3, 2);
    let dyn_model: &mut dyn Model = &mut model;
    let history = Trainer::new(Adam::new(0.05))
        .epochs(20)
        .train_accuracy(true)
        .fit(dyn_model, &blobs(90))
        .unwrap();
    let last = history.epochs.last().unwrap();
    assert!(last.train_accuracy.unwrap() > 0.9, "{last:?}");
}

#[test]
fn no_shuffle_takes_rows_in_file_order_with_a_smaller_last_batch() {
    let data = blobs(10);
    let mut model = LinearSoftmax::new(2, 3, 2);
    model.record = true;
    Trainer::new(Sgd::new(0.1))
        .epochs(2)
        .batch_size(4)
        .shuffle(false)
        .fit(&mut model, &data)
        .unwrap();
    assert_eq!(model.calls, 6, "batches of 4, 4 and 2, twice");
    let expected: Vec<Vec<f64>> = (0..10).map(|i| data.row(i)[..2].to_vec()).collect();
    assert_eq!(model.seen[..10], expected[..]);
    assert_eq!(model.seen[10..], expected[..]);
}

#[test]
fn shuffling_is_a_seeded_permutation_each_epoch() {
    let data = blobs(12);
    let rows_seen = |seed: u64| {
        let mut model = LinearSoftmax::new(2, 3, 2);
        model.record = true;
        Trainer::new(Sgd::new(0.1))
            .epochs(3)
            .batch_size(5)
            .seed(seed)
            .fit(&mut model, &data)
            .unwrap();
        model.seen
    };
    let seen = rows_seen(11);
    let mut file: Vec<Vec<f64>> = (0..12).map(|i| data.row(i)[..2].to_vec()).collect();
    file.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let epochs: Vec<Vec<Vec<f64>>> = seen.chunks(12).map(|c| c.to_vec()).collect();
    for epoch in &epochs {
        let mut sorted = epoch.clone();
        sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(sorted, file, "each epoch sees every row once");
    }
    assert_ne!(epochs[0], epochs[1]);
    assert_ne!(epochs[0][..], file[..]);
    assert_eq!(rows_seen(11), seen, "same seed, same order");
    assert_ne!(rows_seen(12), seen);
}

#[test]
fn same_seed_same_parameters_bit_for_bit() {
    let (train, validation) = blobs(60).split_validation(0.25, 1).unwrap();
    let run = |seed: u64| {
        let mut model = LinearSoftmax::new(2, 3, 4);
        let h = Trainer::new(Adam::new(0.02))
            .epochs(5)
            .batch_size(7)
            .seed(seed)
            .l2(1e-3)
            .validation(validation.clone())
            .fit(&mut model, &train)
            .unwrap();
        (model.w, model.b, h.epochs.last().unwrap().train_loss)
    };
    let a = run(3);
    let b = run(3);
    assert_eq!(
        a.0.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        b.0.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    assert_eq!(a, b);
    assert_ne!(run(4).0, a.0);
}

/// SGD with a schedule and an L2 penalty on W (rank 2) only, written out:
/// epoch e (from 0) runs at α e^(-k e); each batch g_W += λ W; θ -= α_e g.
#[test]
fn sgd_with_decay_and_l2_matches_the_loop_written_out() {
    let data = line(10);
    let (lr, k, lambda) = (0.05, 0.3, 0.1);
    let mut trained = LinearRegression::new(2, 1);
    let history = Trainer::new(Sgd::new(lr))
        .epochs(3)
        .batch_size(4)
        .shuffle(false)
        .decay(Decay::Exp(k))
        .l2(lambda)
        .fit(&mut trained, &data)
        .unwrap();
    let mut model = LinearRegression::new(2, 1);
    for e in 0..3 {
        let rate = lr * (-k * e as f64).exp();
        assert_eq!(history.epochs[e].lr, rate);
        for start in (0..10).step_by(4) {
            let (x, y) = batch(&data, start..(start + 4).min(10));
            let (_, mut g) = gradient(&mut model, &x, &y);
            for (gw, w) in g[0].iter_mut().zip(&model.w) {
                *gw += lambda * w;
            }
            for (w, gw) in model.w.iter_mut().zip(&g[0]) {
                *w -= rate * gw;
            }
            for (b, gb) in model.b.iter_mut().zip(&g[1]) {
                *b -= rate * gb;
            }
        }
    }
    assert_eq!(trained.w, model.w);
    assert_eq!(trained.b, model.b);
}

/// Nesterov: g at θ + β v, then the L2 penalty on θ (W only): g += λ θ,
/// v = β v - α g, θ += v, written out.
#[test]
fn nesterov_matches_the_loop_written_out() {
    let data = line(12);
    let (lr, beta, lambda) = (0.02, 0.9, 0.3);
    let mut trained = LinearRegression::new(2, 1);
    Trainer::new(Nesterov::new(lr))
        .epochs(2)
        .batch_size(5)
        .shuffle(false)
        .l2(lambda)
        .fit(&mut trained, &data)
        .unwrap();
    let mut theta = LinearRegression::new(2, 1);
    let mut v = [vec![0.0; 2], vec![0.0; 1]];
    for _ in 0..2 {
        for start in (0..12).step_by(5) {
            let (x, y) = batch(&data, start..(start + 5).min(12));
            let mut ahead = theta.clone();
            for (a, vi) in ahead.w.iter_mut().zip(&v[0]) {
                *a += beta * vi;
            }
            for (a, vi) in ahead.b.iter_mut().zip(&v[1]) {
                *a += beta * vi;
            }
            let (_, g) = gradient(&mut ahead, &x, &y);
            for i in 0..2 {
                let g = g[0][i] + lambda * theta.w[i];
                v[0][i] = beta * v[0][i] - lr * g;
                theta.w[i] += v[0][i];
            }
            v[1][0] = beta * v[1][0] - lr * g[1][0];
            theta.b[0] += v[1][0];
        }
    }
    assert_eq!(trained.w, theta.w);
    assert_eq!(trained.b, theta.b);
}

#[test]
fn grad_norms_are_averaged_over_steps_before_clipping() {
    let data = line(8);
    let mut trained = LinearRegression::new(2, 1);
    let history = Trainer::new(Sgd::new(0.01))
        .epochs(1)
        .batch_size(4)
        .shuffle(false)
        .clip_value(1e-3)
        .fit(&mut trained, &data)
        .unwrap();
    let mut model = LinearRegression::new(2, 1);
    let mut sums = [0.0, 0.0];
    for start in [0, 4] {
        let (x, y) = batch(&data, start..start + 4);
        let (_, mut g) = gradient(&mut model, &x, &y);
        for p in 0..2 {
            sums[p] += g[p].iter().map(|v| v * v).sum::<f64>().sqrt();
            g[p].iter_mut().for_each(|v| *v = v.clamp(-1e-3, 1e-3));
        }
        model
            .w
            .iter_mut()
            .zip(&g[0])
            .for_each(|(w, g)| *w -= 0.01 * g);
        model
            .b
            .iter_mut()
            .zip(&g[1])
            .for_each(|(b, g)| *b -= 0.01 * g);
    }
    let want: Vec<f64> = sums.iter().map(|s| s / 2.0).collect();
    // The trainer sums the squares in another order: equal to rounding.
    for (got, want) in history.epochs[0].grad_norms.iter().zip(&want) {
        assert!((got - want).abs() <= 1e-14 * want, "{got} {want}");
    }
    assert!(want[0] > 1e-3, "so that clipping would have changed it");
    assert_eq!(trained.w, model.w);
}

#[test]
fn a_huge_rate_diverges_naming_the_epoch_and_step_and_keeps_good_parameters() {
    // The same SGD loop written out finds the first non-finite loss.
    let data = line(40);
    let (lr, batch_size) = (1e6, 10);
    let mut model = LinearRegression::new(2, 1);
    let mut previous = model.clone();
    let mut failed_at = None;
    'outer: for epoch in 1..=100 {
        for step in 0..4 {
            let (x, y) = batch(&data, step * batch_size..(step + 1) * batch_size);
            let before = model.clone();
            let (loss, g) = gradient(&mut model, &x, &y);
            if !loss.is_finite() || g.iter().flatten().any(|v| !v.is_finite()) {
                failed_at = Some((epoch, step + 1));
                break 'outer;
            }
            previous = before;
            model
                .w
                .iter_mut()
                .zip(&g[0])
                .for_each(|(w, g)| *w -= lr * g);
            model
                .b
                .iter_mut()
                .zip(&g[1])
                .for_each(|(b, g)| *b -= lr * g);
        }
    }
    let (epoch, step) = failed_at.expect("the loop diverges");
    let mut trained = LinearRegression::new(2, 1);
    let err = Trainer::new(Sgd::new(lr))
        .epochs(100)
        .batch_size(batch_size)
        .shuffle(false)
        .fit(&mut trained, &data)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Diverged);
    assert!(
        err.to_string().starts_with(&format!(
            "training diverged at epoch {epoch}, step {step} of 4: "
        )),
        "{err}"
    );
    let history = err.history().unwrap();
    assert_eq!(history.epochs.len(), epoch - 1);
    assert_eq!(history.best_epoch, None);
    assert_eq!(history.stopped.as_deref(), Some(err.to_string().as_str()));
    // The last parameters whose loss and gradient were finite.
    assert_eq!(trained, previous);
    // Going on is refused with the same error.
    let mut t = Trainer::new(Sgd::new(lr))
        .epochs(100)
        .batch_size(batch_size)
        .shuffle(false);
    let mut m = LinearRegression::new(2, 1);
    let first = t.fit(&mut m, &data).unwrap_err();
    let again = t
        .train_to(&mut m, &data, 100, &mut symgrad_nn::Silent)
        .unwrap_err();
    assert_eq!(again.to_string(), first.to_string());
    assert!(trained.w.iter().all(|w| w.is_finite()));
}

/// Validation rows whose labels disagree with the training rows' more and
/// more as training fits them: the validation loss rises after a while.
fn conflicting_validation() -> (Dataset, Dataset) {
    let train = blobs(60);
    let mut s = String::from("x1,x2,label\n");
    for i in 0..30 {
        let r = train.row(i);
        let label = if i % 3 != 0 { r[2] } else { (r[2] + 1.0) % 3.0 };
        s.push_str(&format!("{},{},{label}\n", r[0], r[1]));
    }
    (train, Dataset::from_csv_str(&s).unwrap())
}

#[test]
fn early_stopping_restores_the_best_parameters_and_state() {
    let (train, validation) = conflicting_validation();
    let make = || {
        Trainer::new(Sgd::new(0.05))
            .epochs(200)
            .batch_size(8)
            .seed(2)
            .validation(validation.clone())
    };
    let mut model = LinearSoftmax::new(2, 3, 9);
    let history = make().early_stopping(3).fit(&mut model, &train).unwrap();
    let best = history.best_epoch.unwrap();
    let last = history.epochs.len();
    assert!(last < 200, "stopped early");
    assert_eq!(last, best + 3, "three epochs without improvement");
    assert!(history
        .stopped
        .as_deref()
        .unwrap()
        .contains("early stopping"));
    let losses: Vec<f64> = history.epochs.iter().map(|e| e.val_loss.unwrap()).collect();
    let min = losses.iter().cloned().fold(f64::INFINITY, f64::min);
    assert_eq!(losses[best - 1], min);
    assert!(best > 1, "{losses:?}");
    // The same run stopped after `best` epochs holds the same parameters
    // and running statistics, bit for bit.
    let mut reference = LinearSoftmax::new(2, 3, 9);
    make().epochs(best).fit(&mut reference, &train).unwrap();
    assert_eq!(model.w, reference.w);
    assert_eq!(model.b, reference.b);
    assert_eq!(model.running_mean, reference.running_mean);
}

#[test]
fn early_stopping_needs_validation_rows() {
    let e = Trainer::new(Sgd::new(0.1))
        .early_stopping(2)
        .fit(&mut LinearSoftmax::new(2, 3, 0), &blobs(9))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidOption);
    assert!(e.to_string().contains("validation rows"), "{e}");
}

#[test]
fn a_run_in_pieces_is_the_same_as_one_run() {
    let (train, validation) = conflicting_validation();
    let make = || {
        Trainer::new(Momentum::new(0.2))
            .epochs(9)
            .batch_size(8)
            .seed(5)
            .validation(validation.clone())
            .early_stopping(50)
    };
    let mut whole = LinearSoftmax::new(2, 3, 1);
    let h_whole = make().fit(&mut whole, &train).unwrap();
    let mut pieces = LinearSoftmax::new(2, 3, 1);
    let mut trainer = make();
    let mut silent = symgrad_nn::Silent;
    trainer
        .train_to(&mut pieces, &train, 3, &mut silent)
        .unwrap();
    assert_eq!(trainer.history().unwrap().epochs.len(), 3);
    assert!(!trainer.finished());
    trainer
        .train_to(&mut pieces, &train, 7, &mut silent)
        .unwrap();
    let h = trainer
        .train_to(&mut pieces, &train, 100, &mut silent)
        .unwrap()
        .clone();
    assert!(trainer.finished());
    assert_eq!(pieces.w, whole.w);
    assert_eq!(pieces.running_mean, whole.running_mean);
    let strip = |h: &symgrad_nn::History| -> Vec<Epoch> {
        h.epochs
            .iter()
            .map(|e| Epoch {
                seconds: 0.0,
                ..e.clone()
            })
            .collect()
    };
    assert_eq!(strip(&h), strip(&h_whole));
    assert_eq!(h.best_epoch, h_whole.best_epoch);
}

#[derive(Default)]
struct Recorder {
    steps: Vec<Step>,
    epochs: Vec<(usize, usize)>,
}

impl Observer for Recorder {
    fn on_step(&mut self, step: &Step) {
        self.steps.push(*step);
    }
    fn on_epoch(&mut self, epoch: &Epoch, epochs: usize) {
        self.epochs.push((epoch.epoch, epochs));
    }
}

#[test]
fn the_observer_sees_every_step_and_epoch() {
    let mut rec = Recorder::default();
    let h = Trainer::new(Sgd::new(0.1))
        .epochs(2)
        .batch_size(4)
        .fit_with(&mut LinearSoftmax::new(2, 3, 0), &blobs(10), &mut rec)
        .unwrap();
    assert_eq!(rec.epochs, [(1, 2), (2, 2)]);
    assert_eq!(rec.steps.len(), 6);
    assert_eq!(
        (rec.steps[5].epoch, rec.steps[5].step, rec.steps[5].steps),
        (2, 3, 3)
    );
    let mean: f64 = rec.steps[..3].iter().map(|s| s.loss).sum::<f64>() / 3.0;
    assert_eq!(h.epochs[0].train_loss, mean);
}

#[test]
fn bad_settings_are_errors() {
    let data = blobs(9);
    let fit = |mut t: Trainer| t.fit(&mut LinearSoftmax::new(2, 3, 0), &data).unwrap_err();
    let cases: Vec<(Trainer, &str)> = vec![
        (Trainer::new(Sgd::new(0.1)).batch_size(0), "batch size"),
        (Trainer::new(Sgd::new(0.1)).epochs(0), "epochs"),
        (Trainer::new(Sgd::new(-0.1)), "learning rate"),
        (Trainer::new(Sgd::new(0.1)).l2(-1.0), "--l2"),
        (Trainer::new(Sgd::new(0.1)).clip_norm(0.0), "--clip-norm"),
        (
            Trainer::new(Sgd::new(0.1))
                .validation(blobs(3))
                .early_stopping(0),
            "patience",
        ),
    ];
    for (t, needle) in cases {
        let e = fit(t);
        assert_eq!(e.kind(), ErrorKind::InvalidOption);
        assert!(e.to_string().contains(needle), "{e}");
    }
    let wrong = Dataset::from_csv_str("a,b\n1,2\n").unwrap();
    let e = Trainer::new(Sgd::new(0.1))
        .fit(&mut LinearSoftmax::new(2, 3, 0), &wrong)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Mismatch);
    let e = Trainer::new(Sgd::new(0.1))
        .validation(wrong)
        .fit(&mut LinearSoftmax::new(2, 3, 0), &data)
        .unwrap_err();
    assert!(e.to_string().starts_with("the validation rows: "), "{e}");
}

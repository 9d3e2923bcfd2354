//! Cross-validation: each fold's score equals a fold trained by hand on
//! the same rows, and the summary is the mean and the sample standard
//! deviation (divided by K - 1).
// Index loops keep the tests' formulas as written (a_i θ_i).
#![allow(clippy::needless_range_loop)]

mod common;

use common::{blobs_csv, LinearSoftmax};
use symgrad_nn::{
    CrossValidation, Dataset, ErrorKind, FoldReport, Model, Preprocess, Sgd, Silent, Trainer,
};

fn trainer() -> Trainer {
    Trainer::new(Sgd::new(0.2)).epochs(5).batch_size(8).seed(1)
}

#[test]
fn each_fold_matches_a_fold_trained_by_hand() {
    let data = Dataset::from_csv_str(&blobs_csv(50)).unwrap();
    let mut seen = Vec::new();
    let report = CrossValidation::new(4, 7)
        .preprocess(Preprocess::Standardize)
        .run(
            &data,
            |f| Ok(LinearSoftmax::new(2, 3, f as u64)),
            |_| Ok(trainer()),
            &mut Silent,
            &mut |r: &FoldReport| seen.push(r.fold),
        )
        .unwrap();
    assert_eq!(seen, [1, 2, 3, 4]);
    assert_eq!(report.folds.len(), 4);
    for (f, (train, val)) in data.folds(4, 7).unwrap().into_iter().enumerate() {
        let fold = &report.folds[f];
        assert_eq!(
            (fold.train_rows, fold.validation_rows),
            (train.n_rows(), val.n_rows())
        );
        let p = Preprocess::Standardize.fit(&train, 2).unwrap();
        let (train, val) = (p.apply(&train).unwrap(), p.apply(&val).unwrap());
        let mut model = LinearSoftmax::new(2, 3, f as u64);
        trainer()
            .validation(val.clone())
            .fit(&mut model, &train)
            .unwrap();
        let bound = val.bind(&model).unwrap();
        let loss = model.loss(&bound.all());
        assert_eq!(fold.val_loss, loss);
        let mut pred = Vec::new();
        model.predict(&bound.inputs(), &mut pred);
        let right = (0..val.n_rows())
            .filter(|&i| {
                let row = &pred[i * 3..i * 3 + 3];
                let best = (0..3)
                    .max_by(|&a, &b| row[a].partial_cmp(&row[b]).unwrap())
                    .unwrap();
                best as f64 == val.row(i)[2]
            })
            .count();
        assert_eq!(fold.val_accuracy, Some(right as f64 / val.n_rows() as f64));
    }
    let losses: Vec<f64> = report.folds.iter().map(|f| f.val_loss).collect();
    let mean = losses.iter().sum::<f64>() / 4.0;
    let sd = (losses.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / 3.0).sqrt();
    assert!((report.loss.mean - mean).abs() < 1e-15);
    assert!((report.loss.sd - sd).abs() < 1e-15);
    assert!(report.accuracy.unwrap().mean > 0.8);
}

#[test]
fn too_many_folds_and_failing_folds_are_errors() {
    let data = Dataset::from_csv_str(&blobs_csv(5)).unwrap();
    let run = |k: usize, lr: f64| {
        CrossValidation::new(k, 0).run(
            &data,
            |_| Ok(LinearSoftmax::new(2, 3, 0)),
            |_| Ok(Trainer::new(Sgd::new(lr))),
            &mut Silent,
            &mut |_: &FoldReport| {},
        )
    };
    let e = run(6, 0.1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidOption);
    assert_eq!(
        e.to_string(),
        "6 folds need at least 6 rows, but the data has 5"
    );
    let e = run(2, -1.0).unwrap_err();
    assert!(
        e.to_string().starts_with("fold 1 of 2: the learning rate"),
        "{e}"
    );
}

//! The training loop end to end on a small hand-written model.

mod common;

use common::{blobs_csv, line_csv, LinearRegression, LinearSoftmax};
use symgrad_nn::{Adam, Dataset, ErrorKind, Sgd, Trainer};

#[test]
fn sgd_learns_separable_blobs() {
    let data = Dataset::from_csv_str(&blobs_csv(150)).unwrap();
    let (train, validation) = data.split_validation(0.2, 3).unwrap();
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
    assert_eq!(history.best_epoch, Some(30));
    assert_eq!(history.param_names, vec!["W", "b"]);
}

#[test]
fn adam_trains_through_a_dyn_model() {
    let data = Dataset::from_csv_str(&blobs_csv(90)).unwrap();
    let mut model = LinearSoftmax::new(2, 3, 2);
    let dyn_model: &mut dyn symgrad_nn::Model = &mut model;
    let history = Trainer::new(Adam::new(0.05))
        .epochs(20)
        .fit(dyn_model, &data)
        .unwrap();
    let last = history.epochs.last().unwrap();
    assert!(last.train_accuracy.unwrap() > 0.9, "{last:?}");
}

#[test]
fn a_huge_rate_diverges_naming_the_epoch_and_step() {
    let data = Dataset::from_csv_str(&line_csv(40)).unwrap();
    let mut model = LinearRegression::new(2, 1);
    let err = Trainer::new(Sgd::new(1e6))
        .epochs(50)
        .batch_size(10)
        .fit(&mut model, &data)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Diverged);
    assert!(err.to_string().contains("epoch "), "{err}");
    assert!(err.history().unwrap().stopped.is_some());
    assert!(model.w.iter().all(|w| w.is_finite()));
}

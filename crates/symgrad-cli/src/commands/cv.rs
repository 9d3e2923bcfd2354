//! `symgrad cv NET.sg --data FILE.csv --folds K [training options]`: K-fold
//! cross-validation. The rows (after `--rows`) are cut into K folds drawn
//! with `--seed`; fold k trains a fresh network (initialized with `--seed`)
//! on the other folds, with the preprocessing fitted on them, and is judged
//! on its own rows in inference mode: the loss and accuracy of the
//! parameters training kept (the best epoch under `--early-stopping`, which
//! then watches the held-out fold, else the last). Prints each fold and the
//! mean ± sample standard deviation over folds.

use crate::commands::options::{failed, CvArgs, Prepared, SummaryFormat, TrainingOptions};
use crate::commands::progress::{short, Progress};
use crate::commands::train::steps_per_epoch;
use crate::report::json_num;
use crate::Failure;
use serde_json::{json, Value};
use symgrad_nn::{Dataset, ErrorKind, History};

/// One fold's result.
#[derive(Clone, Debug)]
pub struct FoldResult {
    pub train_rows: usize,
    pub val_rows: usize,
    /// The epoch whose parameters were judged.
    pub epoch: Option<usize>,
    pub val_loss: f64,
    pub val_accuracy: Option<f64>,
    /// Why the fold stopped early or failed.
    pub note: Option<String>,
}

/// Mean and sample standard deviation (0 for one value).
pub fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// The kept epoch's validation loss and accuracy.
pub fn judged(history: &History) -> (Option<usize>, f64, Option<f64>) {
    let e = match history.best_epoch {
        Some(b) => history.epochs.iter().find(|e| e.epoch == b),
        None => history.epochs.last(),
    };
    match e {
        Some(e) => (
            Some(e.epoch),
            e.val_loss.unwrap_or(f64::NAN),
            e.val_accuracy,
        ),
        None => (None, f64::NAN, None),
    }
}

/// Trains one fold from the start and judges it; a diverged fold is a
/// result with a loss that is not a number and a note.
pub fn run_fold(
    o: &TrainingOptions,
    source: &str,
    train: Dataset,
    val: Dataset,
    progress: &mut Progress,
) -> Result<FoldResult, Failure> {
    let mut model = o.model(source)?;
    let prepared = Prepared::new(o, &model, train, Some(val))?;
    let validation = prepared
        .validation
        .clone()
        .expect("a fold has validation rows");
    let mut trainer = o.trainer()?.validation(validation.clone());
    let result = trainer.fit_with(&mut model, &prepared.train, progress);
    let (train_rows, val_rows) = (prepared.train.n_rows(), validation.n_rows());
    match result {
        Ok(history) => {
            let (epoch, val_loss, val_accuracy) = judged(&history);
            Ok(FoldResult {
                train_rows,
                val_rows,
                epoch,
                val_loss,
                val_accuracy,
                note: history.stopped.clone(),
            })
        }
        Err(e) if e.kind() == ErrorKind::Diverged => Ok(FoldResult {
            train_rows,
            val_rows,
            epoch: None,
            val_loss: f64::NAN,
            val_accuracy: None,
            note: Some(format!("diverged: {e}")),
        }),
        Err(e) => Err(failed(e)),
    }
}

pub fn run(args: CvArgs) -> Result<String, Failure> {
    let o = &args.options;
    if o.validation.is_some() || o.validation_rows.is_some() {
        return Err(Failure::input(
            "error: cv validates each fold on its own held-out rows; drop --validation and --validation-rows",
        ));
    }
    // Early stopping watches each fold's held-out rows.
    let setup = o.setup_for(true)?;
    for w in o.warnings() {
        eprintln!("{w}");
    }
    let folds = setup
        .data
        .folds(args.folds, o.seed)
        .map_err(|e| Failure::input(format!("error: --folds {}: {e}", args.folds)))?;
    let total: u64 = folds
        .iter()
        .map(|(t, _)| steps_per_epoch(t.n_rows(), o.batch_size) * o.epochs as u64)
        .sum();
    let mut progress = Progress::new(!args.quiet, total);
    let mut results = Vec::new();
    for (k, (train, val)) in folds.into_iter().enumerate() {
        progress.start(format!("fold {}/{} · ", k + 1, args.folds));
        results.push(run_fold(o, &setup.source, train, val, &mut progress)?);
    }
    progress.finish();
    let losses: Vec<f64> = results.iter().map(|r| r.val_loss).collect();
    let (loss_mean, loss_sd) = mean_sd(&losses);
    let accuracies: Option<Vec<f64>> = results.iter().map(|r| r.val_accuracy).collect();
    let acc = accuracies.as_deref().map(mean_sd);
    let diverged = results.iter().filter(|r| !r.val_loss.is_finite()).count();
    let text = match args.format {
        SummaryFormat::Json => {
            let folds: Vec<Value> = results
                .iter()
                .enumerate()
                .map(|(k, r)| {
                    json!({
                        "fold": k + 1,
                        "train_rows": r.train_rows,
                        "val_rows": r.val_rows,
                        "epoch": r.epoch,
                        "val_loss": json_num(r.val_loss),
                        "val_accuracy": r.val_accuracy.map(json_num),
                        "note": r.note,
                    })
                })
                .collect();
            let out = json!({
                "network": o.net.display().to_string(),
                "folds": folds,
                "val_loss": {"mean": json_num(loss_mean), "sd": json_num(loss_sd)},
                "val_accuracy": acc.map(|(m, s)| json!({"mean": json_num(m), "sd": json_num(s)})),
            });
            format!("{out}\n")
        }
        SummaryFormat::Text => {
            let mut rows = vec![vec![
                "fold".to_string(),
                "train rows".into(),
                "val rows".into(),
                "epoch".into(),
                "val loss".into(),
                "val accuracy".into(),
                "note".into(),
            ]];
            for (k, r) in results.iter().enumerate() {
                rows.push(vec![
                    (k + 1).to_string(),
                    r.train_rows.to_string(),
                    r.val_rows.to_string(),
                    r.epoch.map_or("-".into(), |e| e.to_string()),
                    short(r.val_loss),
                    r.val_accuracy
                        .map_or("-".into(), |a| format!("{:.2} %", 100.0 * a)),
                    r.note.clone().unwrap_or_default(),
                ]);
            }
            let mut s = format!(
                "{}-fold cross-validation of {} on {} rows, {} (lr {}), {} epochs, batches of {}\n",
                args.folds,
                o.net.display(),
                setup.data.n_rows(),
                o.optimizer,
                o.lr,
                o.epochs,
                o.batch_size
            );
            s.push_str(&crate::report::table(&rows));
            s.push_str(&format!(
                "val loss     {} ± {}\n",
                short(loss_mean),
                short(loss_sd)
            ));
            if let Some((m, sd)) = acc {
                s.push_str(&format!(
                    "val accuracy {:.2} % ± {:.2} %\n",
                    100.0 * m,
                    100.0 * sd
                ));
            }
            s
        }
    };
    if diverged > 0 {
        // The table is still worth seeing: print it, then fail.
        print!("{text}");
        return Err(Failure {
            message: format!(
                "error: {diverged} of {} folds diverged (see the table); the mean is not a number",
                args.folds
            ),
            status: 1,
        });
    }
    Ok(text)
}

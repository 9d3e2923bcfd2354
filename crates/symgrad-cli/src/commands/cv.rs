//! `symgrad cv NET.sg --data FILE.csv --folds K [training options]`: K-fold
//! cross-validation. The rows (after `--rows`) are cut into K folds drawn
//! with `--seed`; fold k trains a fresh network (initialized with `--seed`)
//! on the other folds, with the preprocessing fitted on them, and is judged
//! on its own rows in inference mode: the loss and accuracy of the
//! parameters training kept (the best epoch under `--early-stopping`, which
//! then watches the held-out fold, else the last). Prints each fold and the
//! mean ± sample standard deviation over folds (`symgrad_nn::cv`). A fold
//! whose training diverges stops the run with an error naming the fold.

use crate::commands::options::{failed, CvArgs, SummaryFormat};
use crate::commands::prep;
use crate::commands::progress::{short, Progress};
use crate::commands::train::steps_per_epoch;
use crate::report::json_num;
use crate::Failure;
use serde_json::{json, Value};
use symgrad_nn::{CrossValidation, History, Summary};

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
    let mut cv = CrossValidation::new(args.folds, o.seed);
    if let Some(spec) = &o.preprocess {
        cv = cv.preprocess(prep::check(spec)?);
    }
    // The folds' sizes, for the progress bar (the library draws the same folds).
    let parts = setup
        .data
        .fold_indices(args.folds, o.seed)
        .map_err(|e| Failure::input(format!("error: --folds {}: {e}", args.folds)))?;
    let total: u64 = parts
        .iter()
        .map(|p| steps_per_epoch(setup.data.n_rows() - p.len(), o.batch_size) * o.epochs as u64)
        .sum();
    let mut progress = Progress::new(!args.report.quiet, total).counting("fold", args.folds);
    // Options are checked; what can still fail in a factory is reported.
    let factory_error = std::cell::RefCell::new(None::<Failure>);
    let keep = |f: Failure| {
        let message = f.message.clone();
        *factory_error.borrow_mut() = Some(f);
        symgrad_nn::Error::new(symgrad_nn::ErrorKind::InvalidOption, message)
    };
    let result = cv.run(
        &setup.data,
        |_| o.model(&setup.source).map_err(keep),
        |_| o.trainer().map_err(keep),
        &mut progress,
        &mut |_| {},
    );
    progress.finish();
    if let Some(f) = factory_error.into_inner() {
        return Err(f);
    }
    let report = result.map_err(failed)?;
    Ok(match args.report.format {
        SummaryFormat::Json => {
            let folds: Vec<Value> = report
                .folds
                .iter()
                .map(|r| {
                    json!({
                        "fold": r.fold,
                        "train_rows": r.train_rows,
                        "val_rows": r.validation_rows,
                        "epoch": kept_epoch(&r.history),
                        "val_loss": json_num(r.val_loss),
                        "val_accuracy": r.val_accuracy.map(json_num),
                        "note": r.history.stopped,
                    })
                })
                .collect();
            let summary = |s: Summary| json!({"mean": json_num(s.mean), "sd": json_num(s.sd)});
            let out = json!({
                "network": o.net.display().to_string(),
                "folds": folds,
                "val_loss": summary(report.loss),
                "val_accuracy": report.accuracy.map(summary),
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
            for r in &report.folds {
                rows.push(vec![
                    r.fold.to_string(),
                    r.train_rows.to_string(),
                    r.validation_rows.to_string(),
                    kept_epoch(&r.history).map_or("-".into(), |e| e.to_string()),
                    short(r.val_loss),
                    r.val_accuracy
                        .map_or("-".into(), |a| format!("{:.2} %", 100.0 * a)),
                    r.history.stopped.clone().unwrap_or_default(),
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
                short(report.loss.mean),
                short(report.loss.sd)
            ));
            if let Some(a) = report.accuracy {
                s.push_str(&format!(
                    "val accuracy {:.2} % ± {:.2} %\n",
                    100.0 * a.mean,
                    100.0 * a.sd
                ));
            }
            s
        }
    })
}

/// The epoch whose parameters a run ended with.
pub fn kept_epoch(history: &History) -> Option<usize> {
    history
        .best_epoch
        .or_else(|| history.epochs.last().map(|e| e.epoch))
}

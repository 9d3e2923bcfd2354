//! `symgrad train NET.sg --data FILE.csv [options]`: trains the network
//! with the training library (DESIGN.md, "Contract: training"), shows a
//! progress bar on a terminal, and prints a summary: the epochs run, why
//! training stopped, and the loss and accuracy of the parameters it kept.
//!
//! `--save` writes a model file (whole or not at all), `--log` a CSV row per
//! epoch, `--plot` a picture of the losses and gradient norms. A run whose
//! loss stops being finite is an error naming the epoch and step; it leaves
//! no model file (the log and the plot, when asked for, still show the
//! epochs before it).

use crate::commands::options::{failed, Prepared, SummaryFormat, TrainArgs, TrainingOptions};
use crate::commands::{log, plot, prep, progress::Progress};
use crate::Failure;
use serde_json::{json, Value};
use symgrad_nn::model_file::{self, ModelFile};
use symgrad_nn::{evaluate, ErrorKind, History, Model};

/// A number for the summary.
fn show(x: f64) -> String {
    crate::commands::progress::short(x)
}

fn percent(x: f64) -> String {
    format!("{:.2} %", 100.0 * x)
}

/// A non-finite number as JSON: the contract's strings.
fn json_number(x: f64) -> Value {
    crate::report::json_num(x)
}

/// The steps one epoch takes over `rows` rows.
pub fn steps_per_epoch(rows: usize, batch_size: usize) -> u64 {
    rows.div_ceil(batch_size.max(1)) as u64
}

/// The file name of the network, for titles.
pub fn net_name(options: &TrainingOptions) -> String {
    options.net.file_name().map_or_else(
        || options.net.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Writes the log and the plot of `history`, when asked for.
fn outputs(args: &TrainArgs, history: &History) -> Result<(), Failure> {
    if let Some(path) = &args.log {
        log::write(path, history)?;
    }
    if let Some(path) = &args.plot {
        let title = format!(
            "{} on {}: {}, lr {}, batches of {}",
            net_name(&args.options),
            args.options
                .data
                .file_name()
                .map_or(String::new(), |n| n.to_string_lossy().into_owned()),
            args.options.optimizer,
            args.options.lr,
            args.options.batch_size
        );
        plot::write(path, history, &title)?;
    }
    Ok(())
}

pub fn run(args: TrainArgs) -> Result<String, Failure> {
    let o = &args.options;
    if let Some(path) = &args.plot {
        plot::format_of(path)?;
    }
    let setup = o.setup()?;
    for w in o.warnings() {
        eprintln!("{w}");
    }
    let (train, validation) = setup.split(o.seed)?;
    let mut model = o.model(&setup.source)?;
    let prepared = Prepared::new(o, &model, train, validation)?;
    let steps = steps_per_epoch(prepared.train.n_rows(), o.batch_size);
    let mut progress = Progress::new(!args.report.quiet, steps * o.epochs as u64);
    // The training rows' accuracy after each epoch is one more forward
    // pass over them (about half an epoch's cost again on the digits):
    // only where a per-epoch figure is shown, in the log, the JSON
    // summary's history, or the bar when there is no validation accuracy
    // for it to show instead. The summary's figure is computed once, after
    // training (`kept_train_accuracy`).
    let per_epoch = args.log.is_some()
        || args.report.format == SummaryFormat::Json
        || (progress.is_drawn() && prepared.validation.is_none());
    let mut trainer = o.trainer()?.train_accuracy(per_epoch);
    if let Some(v) = &prepared.validation {
        trainer = trainer.validation(v.clone());
    }
    let started = std::time::Instant::now();
    let result = trainer.fit_with(&mut model, &prepared.train, &mut progress);
    progress.finish();
    let seconds = started.elapsed().as_secs_f64();
    let history = match result {
        Ok(h) => h,
        Err(e) if e.kind() == ErrorKind::Diverged => {
            if let Some(h) = e.history() {
                outputs(&args, h)?;
            }
            let kept = match &args.save {
                Some(path) if path.exists() => {
                    format!("; {} was left as it was", path.display())
                }
                Some(_) => "; no model file was written".to_string(),
                None => String::new(),
            };
            return Err(Failure {
                message: format!("error: {e}{kept}"),
                status: 1,
            });
        }
        Err(e) => return Err(failed(e)),
    };
    outputs(&args, &history)?;
    if let Some(path) = &args.save {
        let mut file = ModelFile::from_model(&model, Some(&setup.source))
            .map_err(|e| Failure::io(format!("error: {e}")))?;
        file.preprocess = prep::to_json(prepared.preprocess.as_ref());
        file.training = o.to_json();
        file.history = history.clone();
        model_file::save(path, &file).map_err(|e| Failure::io(format!("error: {e}")))?;
    }
    let train_accuracy = kept_train_accuracy(&mut model, &prepared, &history);
    Ok(summary(
        &args,
        &model,
        &prepared,
        &history,
        train_accuracy,
        seconds,
    ))
}

/// The training rows' accuracy with the parameters the model holds: the
/// kept epoch's figure when each epoch computed it, else one inference
/// pass now (the same figure: the model holds that epoch's parameters and
/// running statistics). `None` for a target that is not one-hot.
fn kept_train_accuracy(
    model: &mut dyn Model,
    prepared: &Prepared,
    history: &History,
) -> Option<f64> {
    match kept(history) {
        Some(e) if e.train_accuracy.is_some() => e.train_accuracy,
        // Binding cannot fail here: training bound the same rows.
        Some(_) => prepared.train.bind(model).ok().and_then(|rows| {
            let mut predictions = Vec::new();
            evaluate(model, &rows, &mut predictions).accuracy
        }),
        None => None,
    }
}

/// The epoch whose parameters the model holds.
fn kept(history: &History) -> Option<&symgrad_nn::Epoch> {
    match history.best_epoch {
        Some(b) => history.epochs.iter().find(|e| e.epoch == b),
        None => history.epochs.last(),
    }
}

fn summary(
    args: &TrainArgs,
    model: &dyn Model,
    prepared: &Prepared,
    history: &History,
    train_accuracy: Option<f64>,
    seconds: f64,
) -> String {
    let o = &args.options;
    let best = kept(history);
    let n_val = prepared.validation.as_ref().map_or(0, |v| v.n_rows());
    match args.report.format {
        SummaryFormat::Json => {
            let opt = |x: Option<f64>| x.map_or(Value::Null, json_number);
            let epochs: Vec<Value> = history
                .epochs
                .iter()
                .map(|e| {
                    json!({
                        "epoch": e.epoch,
                        "lr": json_number(e.lr),
                        "train_loss": json_number(e.train_loss),
                        "val_loss": opt(e.val_loss),
                        "val_accuracy": opt(e.val_accuracy),
                        "train_accuracy": opt(e.train_accuracy),
                        "grad_norms": e.grad_norms.iter().map(|&x| json_number(x)).collect::<Vec<_>>(),
                        "seconds": json_number(e.seconds),
                    })
                })
                .collect();
            let out = json!({
                "network": o.net.display().to_string(),
                "data": o.data.display().to_string(),
                "train_rows": prepared.train.n_rows(),
                "validation_rows": n_val,
                "params": model.param_names(),
                "epochs_run": history.epochs.len(),
                "best_epoch": best.map(|e| e.epoch),
                "stopped": history.stopped,
                "train_loss": best.map_or(Value::Null, |e| json_number(e.train_loss)),
                "train_accuracy": train_accuracy.map_or(Value::Null, json_number),
                "val_loss": best.and_then(|e| e.val_loss).map_or(Value::Null, json_number),
                "val_accuracy": best.and_then(|e| e.val_accuracy).map_or(Value::Null, json_number),
                "seconds": json_number(seconds),
                "saved": args.save.as_ref().map(|p| p.display().to_string()),
                "history": epochs,
            });
            format!("{out}\n")
        }
        SummaryFormat::Text => {
            let mut s = format!(
                "trained {} on {} rows{} with {} (lr {}), batches of {}, {} of {} epochs in {:.2} s\n",
                o.net.display(),
                prepared.train.n_rows(),
                if n_val > 0 {
                    format!(" ({n_val} more for validation)")
                } else {
                    String::new()
                },
                o.optimizer,
                o.lr,
                o.batch_size,
                history.epochs.len(),
                o.epochs,
                seconds
            );
            if let Some(why) = &history.stopped {
                s.push_str(&format!("stopped: {why}\n"));
            }
            if let Some(e) = best {
                s.push_str(&format!("parameters of epoch {}:\n", e.epoch));
                let mut rows = vec![vec![String::new(), "training".into(), "validation".into()]];
                let or_dash = |x: Option<String>| x.unwrap_or_else(|| "-".into());
                rows.push(vec![
                    "loss".into(),
                    show(e.train_loss),
                    or_dash(e.val_loss.map(show)),
                ]);
                if train_accuracy.is_some() || e.val_accuracy.is_some() {
                    rows.push(vec![
                        "accuracy".into(),
                        or_dash(train_accuracy.map(percent)),
                        or_dash(e.val_accuracy.map(percent)),
                    ]);
                }
                s.push_str(&crate::report::table(&rows));
            }
            for (flag, path) in [
                ("model", &args.save),
                ("log", &args.log),
                ("plot", &args.plot),
            ] {
                if let Some(p) = path {
                    s.push_str(&format!("{flag}: {}\n", p.display()));
                }
            }
            s
        }
    }
}

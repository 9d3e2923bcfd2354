//! `symgrad search NET.sg --data FILE.csv (--trials N | --grid) --space SPEC
//! [--halving] [--folds K] [--save MODEL.json] [training options]`:
//! hyperparameter search (the space, sampling, grid and halving are
//! `symgrad_nn::search`).
//!
//! Every trial starts from the same options, with the space's values put in
//! (as if given as flags), the same initial parameters (`--seed`) and the
//! same rows. A trial is judged on its validation loss in inference mode
//! (the best epoch's under `--early-stopping`, else the last epoch's): on the
//! validation rows (`--validation` or `--validation-rows`; 0.2 of the rows,
//! drawn with `--seed`, when neither is given), or with `--folds K` as the
//! mean over K folds. A trial that diverges is ranked last.
//!
//! With `--halving`, trials are trained in rungs (`search::halving_rungs`):
//! a survivor goes on from where its last rung stopped (the trainer
//! resumes, which gives the same parameters as one uninterrupted run), so
//! successive halving costs little more than training the survivors.
//!
//! The result is a ranked table and the best trial as a full `symgrad
//! train` command line. `--save` writes the best trial's model: the one
//! the search trained, or with `--folds`, the best options trained on all
//! the rows (without early stopping, which would have no rows to watch).

use crate::commands::options::{
    failed, Prepared, SearchArgs, Setup, SummaryFormat, TrainingOptions, SEARCHABLE,
};
use crate::commands::prep;
use crate::commands::progress::{short, Progress};
use crate::commands::train::steps_per_epoch;
use crate::report::json_num;
use crate::Failure;
use serde_json::{json, Value};
use symgrad_nn::model_file::{self, ModelFile};
use symgrad_nn::search::{
    halving_rungs, rank, successive_halving, Outcome, Range, Score, Space, SpaceError, Trial,
};
use symgrad_nn::{Dataset, ErrorKind, History, NetworkModel, Summary, Trainer};

/// One training run of a trial (one of its folds, or its only run).
struct Run {
    model: NetworkModel,
    trainer: Trainer,
    train: Dataset,
    preprocess: Option<prep::Fitted>,
    /// Set once the run diverged, with the message.
    diverged: Option<String>,
}

/// A trial's runs, created when it first trains.
struct TrialRuns {
    options: TrainingOptions,
    runs: Vec<Run>,
}

/// The validation loss a run is judged on so far, and its accuracy.
fn judged(history: &History, early_stopping: bool) -> (f64, Option<f64>) {
    let pick = if early_stopping {
        history
            .epochs
            .iter()
            .filter(|e| e.val_loss.is_some_and(f64::is_finite))
            .min_by(|a, b| {
                a.val_loss
                    .unwrap_or(f64::INFINITY)
                    .total_cmp(&b.val_loss.unwrap_or(f64::INFINITY))
            })
    } else {
        history.epochs.last()
    };
    match pick {
        Some(e) => (e.val_loss.unwrap_or(f64::NAN), e.val_accuracy),
        None => (f64::NAN, None),
    }
}

/// Checks every value the space can give against the options, pointing
/// at the range that gives a bad one.
fn check_space(space: &Space, base: &TrainingOptions, spec: &str) -> Result<(), Failure> {
    for axis in &space.axes {
        let values: Vec<String> = match &axis.range {
            Range::Choice(c) => c.clone(),
            Range::Log { lo, hi, .. } | Range::Uniform { lo, hi, .. } => {
                vec![lo.to_string(), hi.to_string()]
            }
        };
        for v in values {
            let mut o = base.clone();
            let checked = o.set(&axis.name, &v).and_then(|()| {
                o.trainer()
                    .map(|_| ())
                    .map_err(|f| f.message.trim_start_matches("error: ").to_string())
            });
            if let Err(message) = checked {
                return Err(Failure::input(
                    SpaceError {
                        message: format!("{}={v}: {message}", axis.name),
                        span: axis.span,
                    }
                    .render(spec),
                ));
            }
        }
    }
    Ok(())
}

/// The score of trial runs: the mean validation loss and accuracy over its runs.
fn score(runs: &[Run], early_stopping: bool) -> Score {
    if let Some(why) = runs.iter().find_map(|r| r.diverged.clone()) {
        return Score {
            loss: f64::NAN,
            accuracy: None,
            note: Some(why),
        };
    }
    let judged: Vec<(f64, Option<f64>)> = runs
        .iter()
        .map(|r| {
            r.trainer
                .history()
                .map_or((f64::NAN, None), |h| judged(h, early_stopping))
        })
        .collect();
    let losses: Vec<f64> = judged.iter().map(|j| j.0).collect();
    let accuracies: Option<Vec<f64>> = judged.iter().map(|j| j.1).collect();
    let stopped = runs
        .iter()
        .filter_map(|r| r.trainer.history().and_then(|h| h.stopped.clone()))
        .next();
    Score {
        loss: Summary::of(&losses).mean,
        accuracy: accuracies.map(|a| Summary::of(&a).mean),
        note: stopped,
    }
}

/// The (train, validation) row sets of every run of a trial.
fn row_sets(
    setup: &Setup,
    folds: Option<usize>,
    seed: u64,
) -> Result<Vec<(Dataset, Dataset)>, Failure> {
    match folds {
        Some(k) => setup
            .data
            .folds(k, seed)
            .map_err(|e| Failure::input(format!("error: --folds {k}: {e}"))),
        None => {
            let (train, val) = setup.split(seed)?;
            Ok(vec![(
                train,
                val.expect("search always has validation rows"),
            )])
        }
    }
}

fn start_runs(
    options: &TrainingOptions,
    setup: &Setup,
    sets: &[(Dataset, Dataset)],
) -> Result<Vec<Run>, Failure> {
    sets.iter()
        .map(|(train, val)| {
            let model = options.model(&setup.source)?;
            let prepared = Prepared::new(options, &model, train.clone(), Some(val.clone()))?;
            let trainer = options
                .trainer()?
                .validation(prepared.validation.clone().expect("validation rows"));
            Ok(Run {
                model,
                trainer,
                train: prepared.train,
                preprocess: prepared.preprocess,
                diverged: None,
            })
        })
        .collect()
}

pub fn run(args: SearchArgs) -> Result<String, Failure> {
    let spec = &args.space;
    let space = Space::parse(spec, SEARCHABLE).map_err(|e| Failure::input(e.render(spec)))?;
    let mut base = args.options.clone();
    if args.folds.is_some() && (base.validation.is_some() || base.validation_rows.is_some()) {
        return Err(Failure::input(
            "error: with --folds each trial is judged on the folds; drop --validation and --validation-rows",
        ));
    }
    let mut notes = Vec::new();
    if args.folds.is_none() && base.validation.is_none() && base.validation_rows.is_none() {
        base.validation = Some(0.2);
        notes.push(
            "judged on 0.2 of the rows held out for validation (--validation 0.2)".to_string(),
        );
    }
    if args.halving {
        if let Some(axis) = space.axes.iter().find(|a| a.name == "epochs") {
            return Err(Failure::input(
                SpaceError {
                    message: "--halving sets each trial's epochs itself (up to --epochs); take epochs out of the space".into(),
                    span: axis.span,
                }
                .render(spec),
            ));
        }
    }
    check_space(&space, &base, spec)?;
    let trials: Vec<Trial> = if args.grid {
        space.grid().map_err(|e| Failure::input(e.render(spec)))?
    } else {
        let n = args.trials.unwrap_or(0);
        if n == 0 {
            return Err(Failure::input("error: --trials must be at least 1"));
        }
        space.sample(n, base.seed)
    };
    let setup = base.setup_for(args.folds.is_some())?;
    for w in base.warnings() {
        eprintln!("{w}");
    }
    let sets = row_sets(&setup, args.folds, base.seed)?;
    let options: Vec<TrainingOptions> = trials
        .iter()
        .map(|t| {
            let mut o = base.clone();
            for (name, value) in &t.values {
                // Checked by check_space; a failure here is a value between
                // checked bounds, which cannot fail for these options.
                o.set(name, value)
                    .map_err(|m| Failure::input(format!("error: {m}")))?;
            }
            Ok(o)
        })
        .collect::<Result<_, Failure>>()?;

    let steps: u64 = sets
        .iter()
        .map(|(t, _)| steps_per_epoch(t.n_rows(), base.batch_size))
        .sum();
    let total_epochs: u64 = if args.halving {
        let mut before = 0;
        halving_rungs(trials.len(), base.epochs)
            .iter()
            .map(|r| {
                let more = (r.epochs - before) as u64 * r.trials as u64;
                before = r.epochs;
                more
            })
            .sum()
    } else {
        options.iter().map(|o| o.epochs as u64).sum()
    };
    let mut progress = Progress::new(!args.report.quiet, steps * total_epochs);
    let mut state: Vec<Option<TrialRuns>> = (0..trials.len()).map(|_| None).collect();
    let n_trials = trials.len();
    let mut train_trial = |t: usize, epochs: usize| -> Result<Score, Failure> {
        if state[t].is_none() {
            state[t] = Some(TrialRuns {
                options: options[t].clone(),
                runs: start_runs(&options[t], &setup, &sets)?,
            });
        }
        let trial = state[t].as_mut().expect("just started");
        progress.start(format!("trial {}/{n_trials} · ", t + 1));
        for run in &mut trial.runs {
            if run.diverged.is_some() {
                continue;
            }
            let outcome = run
                .trainer
                .train_to(&mut run.model, &run.train, epochs, &mut progress);
            match outcome {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Diverged => {
                    run.diverged = Some(format!("diverged: {e}"))
                }
                Err(e) => return Err(failed(e)),
            }
        }
        Ok(score(&trial.runs, trial.options.early_stopping.is_some()))
    };
    let outcomes: Vec<Outcome> = if args.halving {
        successive_halving(n_trials, base.epochs, &mut train_trial)?
    } else {
        let mut out = Vec::new();
        for (t, o) in options.iter().enumerate() {
            let score = train_trial(t, o.epochs)?;
            out.push(Outcome {
                trial: t,
                epochs: o.epochs,
                rung: 0,
                score,
            });
        }
        rank(out)
    };
    progress.finish();

    let best = &outcomes[0];
    let best_options = &options[best.trial];
    if let Some(path) = &args.save {
        if !best.score.loss.is_finite() {
            return Err(Failure {
                message: "error: every trial diverged; no model file was written".into(),
                status: 1,
            });
        }
        save_best(
            path,
            best_options,
            &setup,
            state[best.trial].as_mut(),
            args.folds.is_some(),
        )?;
    }
    Ok(report(
        &args,
        &space,
        &trials,
        &outcomes,
        best_options,
        &notes,
    ))
}

/// Writes the best trial's model (see the module documentation).
fn save_best(
    path: &std::path::Path,
    options: &TrainingOptions,
    setup: &Setup,
    trial: Option<&mut TrialRuns>,
    folds: bool,
) -> Result<(), Failure> {
    let save = |model: &NetworkModel,
                preprocess: Option<&prep::Fitted>,
                history: History,
                o: &TrainingOptions| {
        let mut file = ModelFile::from_model(model, Some(&setup.source))
            .map_err(|e| Failure::io(format!("error: {e}")))?;
        file.preprocess = prep::to_json(preprocess);
        file.training = o.to_json();
        file.history = history;
        model_file::save(path, &file).map_err(|e| Failure::io(format!("error: {e}")))
    };
    if folds {
        let mut o = options.clone();
        o.early_stopping = None;
        let mut model = o.model(&setup.source)?;
        let prepared = Prepared::new(&o, &model, setup.data.clone(), None)?;
        let history = o
            .trainer()?
            .fit(&mut model, &prepared.train)
            .map_err(|e| Failure {
                message: format!("error: training the best options on all rows: {e}"),
                status: 1,
            })?;
        return save(&model, prepared.preprocess.as_ref(), history, &o);
    }
    let trial = trial.expect("the best trial has run");
    let run = &mut trial.runs[0];
    // A run stopped by the budget of its rung is finished here, so that
    // early stopping restores its best epoch.
    let epochs = trial.options.epochs;
    run.trainer
        .train_to(&mut run.model, &run.train, epochs, &mut symgrad_nn::Silent)
        .map_err(failed)?;
    let history = run.trainer.history().cloned().unwrap_or_default();
    save(&run.model, run.preprocess.as_ref(), history, &trial.options)
}

fn report(
    args: &SearchArgs,
    space: &Space,
    trials: &[Trial],
    outcomes: &[Outcome],
    best: &TrainingOptions,
    notes: &[String],
) -> String {
    let accuracy = |s: &Score| s.accuracy.map(|a| format!("{:.2} %", 100.0 * a));
    match args.report.format {
        SummaryFormat::Json => {
            let list: Vec<Value> = outcomes
                .iter()
                .enumerate()
                .map(|(rank, o)| {
                    let values: serde_json::Map<String, Value> = trials[o.trial]
                        .values
                        .iter()
                        .map(|(n, v)| (n.clone(), Value::from(v.as_str())))
                        .collect();
                    json!({
                        "rank": rank + 1,
                        "trial": o.trial + 1,
                        "values": values,
                        "epochs": o.epochs,
                        "val_loss": json_num(o.score.loss),
                        "val_accuracy": o.score.accuracy.map(json_num),
                        "note": o.score.note,
                    })
                })
                .collect();
            let out = json!({
                "trials": list,
                "best": {"trial": outcomes[0].trial + 1, "command": best.command_line()},
                "notes": notes,
            });
            format!("{out}\n")
        }
        SummaryFormat::Text => {
            let mut header = vec!["rank".to_string(), "trial".to_string()];
            header.extend(space.axes.iter().map(|a| a.name.clone()));
            header.extend([
                "epochs".into(),
                "val loss".into(),
                "val accuracy".into(),
                "note".into(),
            ]);
            let mut rows = vec![header];
            for (rank, o) in outcomes.iter().enumerate() {
                let mut row = vec![(rank + 1).to_string(), (o.trial + 1).to_string()];
                row.extend(trials[o.trial].values.iter().map(|(_, v)| v.clone()));
                row.extend([
                    o.epochs.to_string(),
                    short(o.score.loss),
                    accuracy(&o.score).unwrap_or_else(|| "-".into()),
                    o.score.note.clone().unwrap_or_default(),
                ]);
                rows.push(row);
            }
            let how = match (args.grid, args.halving) {
                (true, true) => "grid search with successive halving",
                (true, false) => "grid search",
                (false, true) => "random search with successive halving",
                (false, false) => "random search",
            };
            let judged = match args.folds {
                Some(k) => format!("judged by {k}-fold cross-validation"),
                None => "judged on the validation rows".to_string(),
            };
            let mut s = format!("{how}: {} trials, {judged}\n", trials.len());
            for n in notes {
                s.push_str(&format!("note: {n}\n"));
            }
            s.push_str(&crate::report::table(&rows));
            s.push_str(&format!(
                "best (trial {}):\n  {}\n",
                outcomes[0].trial + 1,
                best.command_line()
            ));
            if let Some(p) = &args.save {
                s.push_str(&format!("model: {}\n", p.display()));
            }
            s
        }
    }
}

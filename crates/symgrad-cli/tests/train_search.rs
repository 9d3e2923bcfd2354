//! `symgrad cv` and `symgrad search` as a user runs them: folds and their
//! mean ± sd, grids and random trials, successive halving against plain
//! search at the first rung's budget, and the printed best command, which
//! run through `symgrad train` gives the loss the search reported.

mod train_common;

use serde_json::Value;
use train_common::*;

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

#[test]
fn cv_reports_each_fold_and_the_mean_and_sd() {
    let (net, csv) = (digits_net(), digits_csv());
    let out = json(&[
        "cv",
        &net,
        "--data",
        &csv,
        "--rows",
        "0..500",
        "--folds",
        "4",
        "--epochs",
        "2",
        "--optimizer",
        "adam",
        "--lr",
        "0.01",
        "--quiet",
    ]);
    let folds = out["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 4);
    // Every row is validated once; fold sizes differ by at most one.
    let sizes: Vec<u64> = folds
        .iter()
        .map(|f| f["val_rows"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes.iter().sum::<u64>(), 500);
    assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
    for fold in folds {
        assert_eq!(
            fold["train_rows"].as_u64().unwrap() + fold["val_rows"].as_u64().unwrap(),
            500
        );
    }
    // Mean and sample standard deviation, recomputed here.
    for key in ["val_loss", "val_accuracy"] {
        let v: Vec<f64> = folds.iter().map(|x| f(&x[key])).collect();
        let mean = v.iter().sum::<f64>() / 4.0;
        let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 3.0).sqrt();
        assert!((f(&out[key]["mean"]) - mean).abs() < 1e-12, "{key}");
        assert!((f(&out[key]["sd"]) - sd).abs() < 1e-12, "{key}");
        assert!(sd > 0.0, "{key}: the folds differ");
    }
    // The text form has the same numbers.
    let text = ok(&[
        "cv",
        &net,
        "--data",
        &csv,
        "--rows",
        "0..500",
        "--folds",
        "4",
        "--epochs",
        "2",
        "--optimizer",
        "adam",
        "--lr",
        "0.01",
        "--quiet",
    ]);
    assert!(
        text.contains(&format!("{:.2} %", 100.0 * f(&out["val_accuracy"]["mean"]))),
        "{text}"
    );
    // One line per fold: its number, then its sizes, epoch, loss and accuracy.
    let fold_lines = text
        .lines()
        .filter(|l| l.starts_with(char::is_numeric) && l.ends_with(" %"))
        .count();
    assert_eq!(fold_lines, 4, "{text}");
}

#[test]
fn a_grid_runs_every_combination_and_its_best_command_reproduces_it() {
    let dir = scratch("search-grid");
    let (net, csv) = linear(&dir, 40);
    let model = dir.join("best.json");
    let out = json(&[
        "search",
        &net,
        "--data",
        &csv,
        "--grid",
        "--space",
        "lr=log:1e-3:1e-1:3, batch-size=4|8",
        "--epochs",
        "3",
        "--quiet",
        "--save",
        &path(&model),
    ]);
    let trials = out["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 6);
    let mut seen: Vec<(String, String)> = trials
        .iter()
        .map(|t| {
            (
                t["values"]["lr"].as_str().unwrap().to_string(),
                t["values"]["batch-size"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    seen.sort();
    let mut expected = Vec::new();
    for lr in ["0.001", "0.01", "0.1"] {
        for b in ["4", "8"] {
            expected.push((lr.to_string(), b.to_string()));
        }
    }
    expected.sort();
    assert_eq!(seen, expected);
    // Ranked by validation loss.
    let losses: Vec<f64> = trials.iter().map(|t| f(&t["val_loss"])).collect();
    assert!(losses.windows(2).all(|w| w[0] <= w[1]), "{losses:?}");
    // The printed command, run as it is, gives the best trial's loss.
    let command = out["best"]["command"].as_str().unwrap();
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(&words[..2], ["symgrad", "train"]);
    let mut args: Vec<&str> = words[1..].to_vec();
    args.push("--quiet");
    let trained = json(&args);
    assert_eq!(f(&trained["val_loss"]), losses[0], "{command}");
    // --save kept that model.
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(saved["format"], "symgrad-model");
    assert_eq!(
        saved["training"]["lr"].as_f64().unwrap().to_string(),
        trials[0]["values"]["lr"].as_str().unwrap()
    );
}

#[test]
fn random_trials_are_seeded_and_halving_keeps_the_best_third() {
    let dir = scratch("search-halving");
    let (net, csv) = linear(&dir, 40);
    let search = |extra: &[&str]| -> Value {
        let mut args = vec![
            "search",
            &net,
            "--data",
            &csv,
            "--trials",
            "9",
            "--space",
            "lr=log:1e-3:3e-2, batch-size=4|8|16",
            "--quiet",
        ];
        args.extend(extra);
        json(&args)
    };
    let values = |out: &Value| -> Vec<(u64, Value)> {
        let mut v: Vec<(u64, Value)> = out["trials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["trial"].as_u64().unwrap(), t["values"].clone()))
            .collect();
        v.sort_by_key(|x| x.0);
        v
    };
    let plain = search(&["--epochs", "3"]);
    assert_eq!(values(&plain), values(&search(&["--epochs", "3"])));
    assert_ne!(
        values(&plain),
        values(&search(&["--epochs", "3", "--seed", "1"]))
    );
    for (_, v) in values(&plain) {
        let lr: f64 = v["lr"].as_str().unwrap().parse().unwrap();
        assert!((1e-3..=3e-2).contains(&lr), "{lr}");
    }
    // Nine trials and nine epochs: all run 3 epochs, the best three go on to 9.
    let halving = search(&["--epochs", "9", "--halving"]);
    let trials = halving["trials"].as_array().unwrap();
    let long: Vec<u64> = trials
        .iter()
        .filter(|t| t["epochs"] == 9)
        .map(|t| t["trial"].as_u64().unwrap())
        .collect();
    assert_eq!(long.len(), 3);
    assert_eq!(trials.iter().filter(|t| t["epochs"] == 3).count(), 6);
    // Those three are the best three of the plain search at 3 epochs.
    let mut best_three: Vec<u64> = plain["trials"].as_array().unwrap()[..3]
        .iter()
        .map(|t| t["trial"].as_u64().unwrap())
        .collect();
    best_three.sort();
    let mut long_sorted = long.clone();
    long_sorted.sort();
    assert_eq!(long_sorted, best_three);
    // A survivor resumed from its third epoch ends where an unbroken
    // 9-epoch run of the same options ends.
    let best = &trials[0];
    let lr = best["values"]["lr"].as_str().unwrap();
    let bs = best["values"]["batch-size"].as_str().unwrap();
    let unbroken = json(&[
        "train",
        &net,
        "--data",
        &csv,
        "--lr",
        lr,
        "--batch-size",
        bs,
        "--epochs",
        "9",
        "--validation",
        "0.2",
        "--quiet",
    ]);
    assert_eq!(f(&unbroken["val_loss"]), f(&best["val_loss"]));
}

#[test]
fn a_malformed_space_points_at_the_offending_part() {
    let dir = scratch("search-space");
    let (net, csv) = linear(&dir, 10);
    let cases = [
        (
            "lr=log:0:1e-1",
            "above 0",
            "lr=log:0:1e-1\n                 ^",
        ),
        (
            "optimizer=sgd|adamw",
            "'adamw' is not an optimizer",
            "^^^^^^^^^",
        ),
        (
            "lr=1e-3:1e-1, batch-size=8|x",
            "expected a number for 'batch-size'",
            "^",
        ),
    ];
    for (spec, says, caret) in cases {
        let out = symgrad(&[
            "search", &net, "--data", &csv, "--trials", "2", "--space", spec,
        ]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{spec}: {err}");
        assert!(err.contains(says) && err.contains(caret), "{spec}:\n{err}");
    }
    let out = symgrad(&[
        "search",
        &net,
        "--data",
        &csv,
        "--grid",
        "--space",
        "lr=log:1e-3:1e-1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--grid needs a count"));
}

#[test]
fn a_diverging_fold_stops_cv_and_a_diverging_trial_ranks_last() {
    let dir = scratch("search-diverge");
    let (net, csv) = linear(&dir, 20);
    let out = symgrad(&[
        "cv", &net, "--data", &csv, "--folds", "2", "--lr", "10", "--epochs", "200", "--quiet",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("fold 1 of 2") && err.contains("diverged at epoch"),
        "{err}"
    );
    let out = json(&[
        "search",
        &net,
        "--data",
        &csv,
        "--grid",
        "--space",
        "lr=10|0.01",
        "--epochs",
        "200",
        "--quiet",
    ]);
    let trials = out["trials"].as_array().unwrap();
    assert_eq!(trials[0]["values"]["lr"], "0.01");
    assert_eq!(trials[1]["values"]["lr"], "10");
    assert_eq!(trials[1]["val_loss"], "NaN");
    assert!(trials[1]["note"]
        .as_str()
        .unwrap()
        .contains("diverged at epoch"));
}

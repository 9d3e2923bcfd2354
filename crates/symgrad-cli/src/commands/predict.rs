//! `symgrad predict MODEL.json --data FILE.csv [--format text|csv|json]`:
//! rebuilds the network from the model file alone (its embedded source,
//! parameters, batch-norm running statistics and preprocessing) and runs it
//! in inference mode (dropout off, batch norm on its running statistics),
//! one prediction per row.
//!
//! A prediction is the class (the index of the largest output) when the
//! model is a classifier, else the output values. A model is a classifier
//! when the data's targets are one-hot (given as a label column or one-hot
//! columns), or, for data without targets, when its training recorded an
//! accuracy (it was trained on one-hot targets). When the data has the
//! target columns the mean loss (and the accuracy, for a classifier) is
//! reported too: in the JSON object, or on standard error beside text and
//! CSV output so that standard output holds only the predictions.

use crate::commands::options::{read, PredictArgs, PredictFormat};
use crate::commands::prep;
use crate::report::json_num;
use crate::Failure;
use serde_json::{json, Value};
use symgrad_nn::model_file::{self, ErrorKind};
use symgrad_nn::trainer::argmax;
use symgrad_nn::{evaluate, Dataset, Model, NetworkModel};

/// Loads a model file into a network model ready for inference.
pub fn load(path: &std::path::Path) -> Result<(NetworkModel, model_file::ModelFile), Failure> {
    // A missing file is reported as such, before anything else.
    read(path, "model file")?;
    let file = model_file::load(path).map_err(|e| match e.kind() {
        ErrorKind::Io => Failure::io(format!("error: {e}")),
        _ => Failure::input(format!("error: {e}")),
    })?;
    let model = file.network_model().map_err(|e| {
        Failure::input(format!(
            "error: {}: {e}\n(the network embedded in {})",
            path.display(),
            path.display()
        ))
    })?;
    Ok((model, file))
}

pub fn run(args: PredictArgs) -> Result<String, Failure> {
    let (mut model, file) = load(&args.model)?;
    let fitted = prep::from_json(&file.preprocess)?;
    let mut data =
        Dataset::from_csv(&args.data).map_err(|e| Failure::input(format!("error: {e}")))?;
    if let Some(f) = &fitted {
        data = prep::apply(f, &data)?;
    }
    let bound = data
        .bind_inputs(&model)
        .map_err(|e| Failure::input(format!("error: {}: {e}", args.data.display())))?;
    let mut predictions = Vec::new();
    let evaluation = evaluate(&mut model, &bound, &mut predictions);
    let width = model.output_size();
    let classifier = if bound.has_targets() {
        bound.one_hot()
    } else {
        file.history
            .epochs
            .iter()
            .any(|e| e.train_accuracy.is_some() || e.val_accuracy.is_some())
    };
    let rows = bound.n_rows();
    let per_row: Vec<&[f64]> = if width == 0 {
        vec![&[]; rows]
    } else {
        predictions.chunks(width).collect()
    };
    let report = || {
        let mut parts = Vec::new();
        if let Some(l) = evaluation.loss {
            parts.push(format!("loss {}", crate::commands::progress::short(l)));
        }
        if let Some(a) = evaluation.accuracy {
            parts.push(format!("accuracy {:.2} %", 100.0 * a));
        }
        if !parts.is_empty() {
            eprintln!("{rows} rows: {}", parts.join(", "));
        }
    };
    let values =
        |row: &[f64]| -> Vec<String> { row.iter().map(|&x| crate::report::num(x)).collect() };
    Ok(match args.format {
        PredictFormat::Json => {
            let list: Vec<Value> = per_row
                .iter()
                .map(|row| {
                    if classifier {
                        json!(argmax(row))
                    } else if width == 1 {
                        json_num(row[0])
                    } else {
                        Value::Array(row.iter().map(|&x| json_num(x)).collect())
                    }
                })
                .collect();
            let mut out = serde_json::Map::new();
            out.insert("rows".into(), json!(rows));
            out.insert("predictions".into(), Value::Array(list));
            if let Some(l) = evaluation.loss {
                out.insert("loss".into(), json_num(l));
            }
            if let Some(a) = evaluation.accuracy {
                out.insert("accuracy".into(), json_num(a));
            }
            // Keys in the contract's order: rows, predictions, loss, accuracy.
            let order = ["rows", "predictions", "loss", "accuracy"];
            let body: Vec<String> = order
                .iter()
                .filter_map(|k| out.get(*k).map(|v| format!("\"{k}\": {v}")))
                .collect();
            format!("{{{}}}\n", body.join(", "))
        }
        PredictFormat::Csv => {
            report();
            let name = model.prediction_name().unwrap_or("prediction").to_string();
            let header = if classifier {
                "class".to_string()
            } else if width == 1 {
                name
            } else {
                (0..width)
                    .map(|k| format!("{name}_{k}"))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let mut s = header + "\n";
            for row in &per_row {
                if classifier {
                    s.push_str(&format!("{}\n", argmax(row)));
                } else {
                    s.push_str(&values(row).join(","));
                    s.push('\n');
                }
            }
            s
        }
        PredictFormat::Text => {
            report();
            let mut s = String::new();
            for row in &per_row {
                if classifier {
                    s.push_str(&format!("{}\n", argmax(row)));
                } else {
                    s.push_str(&values(row).join(" "));
                    s.push('\n');
                }
            }
            s
        }
    })
}

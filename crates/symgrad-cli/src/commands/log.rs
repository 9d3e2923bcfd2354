//! `train --log FILE.csv`: one row per epoch, written whole when the run
//! ends (also when it diverged, with the epochs before).
//!
//! Columns: `epoch, lr, train_loss, val_loss, val_accuracy, train_accuracy,
//! seconds`, then `grad_norm_NAME` for every parameter in the network's
//! order (the Euclidean norm of its gradient, averaged over the epoch's
//! steps, before clipping and penalties). A value that was not measured
//! (no validation rows, no one-hot target) is an empty cell; numbers are
//! written in the shortest form that reads back as the same `f64`.

use crate::Failure;
use std::path::Path;
use symgrad_nn::History;

/// A number in the shortest form that reads back as the same `f64`: plain
/// for ordinary magnitudes, with an exponent for huge and tiny ones (a
/// diverging run's 1e300 is not three hundred digits).
pub fn number(x: f64) -> String {
    let a = x.abs();
    if x == 0.0 || !x.is_finite() || (1e-4..1e15).contains(&a) {
        x.to_string()
    } else {
        format!("{x:e}")
    }
}

fn cell(x: Option<f64>) -> String {
    x.map_or(String::new(), number)
}

/// A parameter name as a CSV header cell (names are identifiers, but a
/// comma or quote would still be quoted).
fn header(name: &str) -> String {
    let text = format!("grad_norm_{name}");
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// The log's text.
pub fn to_csv(history: &History) -> String {
    let mut out = String::from("epoch,lr,train_loss,val_loss,val_accuracy,train_accuracy,seconds");
    for name in &history.param_names {
        out.push(',');
        out.push_str(&header(name));
    }
    out.push('\n');
    for e in &history.epochs {
        let mut row = vec![
            e.epoch.to_string(),
            number(e.lr),
            number(e.train_loss),
            cell(e.val_loss),
            cell(e.val_accuracy),
            cell(e.train_accuracy),
            format!("{:.6}", e.seconds),
        ];
        row.extend(e.grad_norms.iter().map(|&x| number(x)));
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// Writes the log of `history` to `path`.
pub fn write(path: &Path, history: &History) -> Result<(), Failure> {
    symgrad_nn::model_file::write_atomically(path, to_csv(history).as_bytes()).map_err(|e| {
        Failure::io(format!(
            "error: cannot write the log {}: {e}",
            path.display()
        ))
    })
}

//! `symgrad net`: network files (the contract of "Contract: network
//! definitions" and issue 4). `grad` prints the mean loss over rows of a CSV
//! file and the gradient with respect to every parameter, by reverse mode
//! over the batch or, with `--mode paths`, by path enumeration over the
//! network expanded into scalar neurons; `expand` prints the file with its
//! layer shorthand expanded; `init` writes the initial parameters as JSON
//! (`symgrad_core::net::params`). `grad` evaluates in training mode:
//! `dropout` masks are drawn per sample from `--seed`, and `batchnorm`
//! normalizes with the statistics of the selected rows (reverse mode only).

use crate::report::{json_num, num, table};
use crate::{Failure, NetFileArgs, NetFormat, NetGradArgs, NetInitArgs, NetMode};
use serde_json::{json, Value};
use std::path::Path;
use symgrad_core::graph::scalarize::DEFAULT_MAX_SCALARS;
use symgrad_core::net::batch::compensated_sum as fsum;
use symgrad_core::net::paths::PathEvaluator;
use symgrad_core::net::{batch, params, parse_network, shorthand, Network};
use symgrad_core::Error;

fn read(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure::input(format!("error: cannot read {}: {e}", path.display())))
}

/// An error about the text of the file at `path`: with the line and a caret
/// when it has a position.
fn rendered(path: &Path, text: &str, e: &Error) -> Failure {
    Failure::input(match e.span() {
        Some(_) => {
            e.render(text)
                .replacen(" --> line ", &format!(" --> {}: line ", path.display()), 1)
        }
        None => format!("error: {}: {}", path.display(), e.message()),
    })
}

/// Reads and parses a network file; a bad file is status 2 with the error
/// rendered against it.
pub fn load(path: &Path) -> Result<Network, Failure> {
    let text = read(path)?;
    parse_network(&text).map_err(|e| rendered(path, &text, &e))
}

pub fn expand(args: NetFileArgs) -> Result<String, Failure> {
    let text = read(&args.file)?;
    let expanded = shorthand::expand(&text).map_err(|e| rendered(&args.file, &text, &e))?;
    Ok(if expanded.ends_with('\n') {
        expanded
    } else {
        expanded + "\n"
    })
}

pub fn init(args: NetInitArgs) -> Result<String, Failure> {
    let net = load(&args.file)?;
    let json = params::to_json(&net, &net.init_params(args.seed));
    match &args.output {
        Some(path) => {
            std::fs::write(path, json)
                .map_err(|e| Failure::io(format!("error: cannot write {}: {e}", path.display())))?;
            Ok(String::new())
        }
        None => Ok(json),
    }
}

/// `A..B` (half-open, rows counted from 0 after the header) within `n` rows.
fn rows(spec: &str, n: usize) -> Result<std::ops::Range<usize>, Failure> {
    let bad = || {
        Failure::input(format!(
            "error: --rows {spec}: expected A..B with 0 <= A < B <= {n} (the data has {n} rows)"
        ))
    };
    let (a, b) = spec.split_once("..").ok_or_else(bad)?;
    let a: usize = a.trim().parse().map_err(|_| bad())?;
    let b: usize = b.trim().parse().map_err(|_| bad())?;
    if a >= b || b > n {
        return Err(bad());
    }
    Ok(a..b)
}

pub fn grad(args: NetGradArgs) -> Result<String, Failure> {
    let text = read(&args.file)?;
    let mut net = parse_network(&text).map_err(|e| rendered(&args.file, &text, &e))?;
    let values = match &args.params {
        Some(path) => {
            let text = read(path)?;
            params::from_json(&net, &text).map_err(|e| rendered(path, &text, &e))?
        }
        None => net.init_params(args.seed),
    };
    net.set_params(values)
        .map_err(|e| Failure::input(format!("error: {}", e.message())))?;
    let csv = read(&args.data)?;
    let data = batch::read_csv(&net, &csv)
        .map_err(|e| Failure::input(format!("error: {}: {}", args.data.display(), e.message())))?;
    let range = match args.rows.as_deref() {
        Some(spec) => rows(spec, data.rows.len())?,
        None => 0..data.rows.len(),
    };
    let failed = |e: symgrad_core::Error| Failure::input(format!("error: {}", e.message()));
    // Errors about the file (an operation that cannot be batched, batchnorm
    // for path enumeration) are shown against it.
    let in_file = |e: symgrad_core::Error| rendered(&args.file, &text, &e);
    let rows = &data.rows[range];
    // Training mode: dropout masks are drawn per sample from the seed.
    let (out, paths) = match args.mode {
        NetMode::Reverse => {
            let mut evaluator = batch::Evaluator::new(&net).map_err(in_file)?;
            evaluator.set_seed(args.seed);
            (evaluator.loss_and_gradient(rows).map_err(failed)?, None)
        }
        NetMode::Paths => {
            let mut evaluator =
                PathEvaluator::new(&net, DEFAULT_MAX_SCALARS, args.max_paths).map_err(in_file)?;
            evaluator.set_seed(args.seed);
            let out = evaluator.loss_and_gradient(rows).map_err(failed)?;
            (out, Some(evaluator.total_paths()))
        }
    };
    Ok(match args.format {
        NetFormat::Json => {
            // Written by hand so that the keys come in the contract's order
            // (loss, batch, gradient) and the parameters in declaration order.
            let mut gradient = Vec::new();
            for (name, g) in &out.gradient {
                let values = if args.values {
                    let values: Vec<Value> = g.data.iter().map(|&x| json_num(x)).collect();
                    format!(",\"values\":{}", Value::Array(values))
                } else {
                    String::new()
                };
                gradient.push(format!(
                    "{}:{{\"shape\":{},\"sum\":{},\"abs_sum\":{}{values}}}",
                    Value::from(name.as_str()),
                    json!(g.shape.dims()),
                    json_num(fsum(g.data.iter().copied())),
                    json_num(fsum(g.data.iter().map(|x| x.abs()))),
                ));
            }
            // Path enumeration adds the number of paths (per sample) at the end.
            let paths = paths.map_or(String::new(), |p| format!(",\"paths\":{p}"));
            format!(
                "{{\"loss\":{},\"batch\":{},\"gradient\":{{{}}}{paths}}}\n",
                json_num(out.loss),
                out.batch,
                gradient.join(",")
            )
        }
        NetFormat::Text => {
            let mut s = format!("loss  {}\nbatch {}\n", num(out.loss), out.batch);
            if let Some(p) = paths {
                s.push_str(&format!("paths {p} (per sample, by path enumeration)\n"));
            }
            s.push('\n');
            let mut rows = vec![vec![
                "gradient".to_string(),
                "shape".to_string(),
                "sum".to_string(),
                "abs_sum".to_string(),
            ]];
            for (name, g) in &out.gradient {
                rows.push(vec![
                    format!("∂loss/∂{name}"),
                    g.shape.to_string(),
                    num(fsum(g.data.iter().copied())),
                    num(fsum(g.data.iter().map(|x| x.abs()))),
                ]);
            }
            s.push_str(&table(&rows));
            if args.values {
                for (name, g) in &out.gradient {
                    let values: Vec<String> = g.data.iter().map(|&x| num(x)).collect();
                    s.push_str(&format!(
                        "\n∂loss/∂{name} {} (row-major):\n{}\n",
                        g.shape,
                        values.join(" ")
                    ));
                }
            }
            s
        }
    })
}

//! `symgrad net grad`: the mean loss of a network file over rows of a CSV
//! file and the gradient with respect to every parameter (the contract of
//! "Contract: network definitions" and issue 4).

use crate::report::{json_num, num, table};
use crate::{Failure, NetFormat, NetGradArgs};
use serde_json::{json, Value};
use symgrad_core::net::{batch, parse_network};

fn read(path: &std::path::Path) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure::input(format!("error: cannot read {}: {e}", path.display())))
}

use symgrad_core::net::batch::compensated_sum as fsum;

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
    let net = parse_network(&text).map_err(|e| {
        Failure::input(e.render(&text).replacen(
            " --> line ",
            &format!(" --> {}: line ", args.file.display()),
            1,
        ))
    })?;
    let csv = read(&args.data)?;
    let data = batch::read_csv(&net, &csv)
        .map_err(|e| Failure::input(format!("error: {}: {}", args.data.display(), e.message())))?;
    let range = match args.rows.as_deref() {
        Some(spec) => rows(spec, data.rows.len())?,
        None => 0..data.rows.len(),
    };
    let mut evaluator = batch::Evaluator::new(&net)
        .map_err(|e| Failure::input(format!("error: {}", e.message())))?;
    let out = evaluator
        .loss_and_gradient(&data.rows[range])
        .map_err(|e| Failure::input(format!("error: {}", e.message())))?;
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
            format!(
                "{{\"loss\":{},\"batch\":{},\"gradient\":{{{}}}}}\n",
                json_num(out.loss),
                out.batch,
                gradient.join(",")
            )
        }
        NetFormat::Text => {
            let mut s = format!("loss  {}\nbatch {}\n\n", num(out.loss), out.batch);
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

//! W3 and W3b (tests/data/networks): the mean loss and the gradient summaries
//! of `net::batch` against the NumPy reference `w3_reference.json`, to 1e-9
//! relative (the W3b sums that are zero in exact arithmetic against zero,
//! with a tolerance scaled by their abs_sum, as the data README says).

use serde_json::Value;
use symgrad_core::net::{batch, parse_network};

fn data_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/networks")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(data_dir().join(name)).unwrap()
}

use symgrad_core::net::batch::compensated_sum as sum;

fn close(what: &str, got: f64, want: f64) -> f64 {
    let rel = (got - want).abs() / want.abs();
    assert!(rel <= 1e-9, "{what}: {got} vs {want} (relative {rel:e})");
    rel
}

fn check(key: &str, sg: &str, csv: &str, zero_sums: &[&str]) {
    let reference: Value = serde_json::from_str(&read("w3_reference.json")).unwrap();
    let r = &reference[key];
    let net = parse_network(&read(sg)).unwrap();
    let data = batch::read_csv(&net, &read(csv)).unwrap();
    let out = batch::Evaluator::new(&net)
        .unwrap()
        .loss_and_gradient(&data.rows)
        .unwrap();
    assert_eq!(out.batch as u64, r["batch"].as_u64().unwrap());
    let mut worst = close("loss", out.loss, r["loss"].as_f64().unwrap());
    let f = |v: &Value| v.as_f64().unwrap();
    for (name, g) in &out.gradient {
        let rg = &r["gradient"][name];
        let shape: Vec<usize> = rg["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(g.shape.dims(), &shape[..], "{name}");
        let s = sum(g.data.iter().copied());
        let abs = sum(g.data.iter().map(|x| x.abs()));
        let sq = sum(g.data.iter().map(|x| x * x));
        if zero_sums.contains(&name.as_str()) {
            assert!(s.abs() <= 1e-12 * abs, "{name} sum {s} is not ~0");
        } else {
            worst = worst.max(close(&format!("{name} sum"), s, f(&rg["sum"])));
        }
        worst = worst.max(close(&format!("{name} abs_sum"), abs, f(&rg["abs_sum"])));
        worst = worst.max(close(&format!("{name} sum_sq"), sq, f(&rg["sum_sq"])));
        for (k, want) in rg["first5"].as_array().unwrap().iter().enumerate() {
            worst = worst.max(close(&format!("{name}[{k}]"), g.data[k], f(want)));
        }
    }
    let all = || {
        out.gradient
            .iter()
            .flat_map(|(_, g)| g.data.iter().copied())
    };
    worst = worst.max(close("total_sum", sum(all()), f(&r["total_sum"])));
    worst = worst.max(close(
        "total_abs_sum",
        sum(all().map(f64::abs)),
        f(&r["total_abs_sum"]),
    ));
    worst = worst.max(close(
        "total_sum_sq",
        sum(all().map(|x| x * x)),
        f(&r["total_sum_sq"]),
    ));
    eprintln!("{key}: worst relative difference from NumPy {worst:e}");
}

#[test]
fn w3_matches_numpy() {
    check("W3", "w3.sg", "w3_data.csv", &[]);
}

#[test]
fn w3b_matches_numpy() {
    check("W3b", "w3b.sg", "w3b_data.csv", &["W2", "b2"]);
}

#[test]
fn cross_entropy_is_the_written_out_loss() {
    let src = read("w3b.sg").replace("loss = -sum(y * log(p))", "loss = cross_entropy(p, y)");
    assert!(src.contains("cross_entropy"));
    let a = parse_network(&read("w3b.sg")).unwrap();
    let b = parse_network(&src).unwrap();
    let data = batch::read_csv(&a, &read("w3b_data.csv")).unwrap();
    let ra = batch::Evaluator::new(&a)
        .unwrap()
        .loss_and_gradient(&data.rows)
        .unwrap();
    let rb = batch::Evaluator::new(&b)
        .unwrap()
        .loss_and_gradient(&data.rows)
        .unwrap();
    assert_eq!(ra.loss, rb.loss);
    for ((_, ga), (_, gb)) in ra.gradient.iter().zip(&rb.gradient) {
        assert_eq!(ga.data, gb.data);
    }
}

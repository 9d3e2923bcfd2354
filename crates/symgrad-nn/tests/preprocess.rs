//! Preprocessing is fitted on the training rows' inputs only; its
//! statistics are checked against the textbook formulas computed here
//! independently (two-pass population mean and variance, as NumPy's
//! `mean` and `std` with the default `ddof=0`), and the principal
//! components against their defining properties and a power iteration.
// Index loops keep the tests' formulas as written (a_i θ_i).
#![allow(clippy::needless_range_loop)]

mod common;

use common::LinearSoftmax;
use symgrad_nn::{Dataset, ErrorKind, Preprocess, Preprocessor};

/// 3 inputs (the third constant on the training rows) and a label.
fn train_rows() -> Dataset {
    let mut s = String::from("a,b,c,label\n");
    for i in 0..40 {
        let t = i as f64;
        let a = (t * 0.7).sin() * 3.0 + 1.0;
        let b = 0.5 * a + (t * 1.3).cos();
        s.push_str(&format!("{a},{b},7,{}\n", i % 3));
    }
    Dataset::from_csv_str(&s).unwrap()
}

fn other_rows() -> Dataset {
    Dataset::from_csv_str("a,b,c,label\n10,-4,7,1\n0,0,9,2\n").unwrap()
}

fn column(d: &Dataset, j: usize) -> Vec<f64> {
    (0..d.n_rows()).map(|i| d.row(i)[j]).collect()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn population_sd(v: &[f64]) -> f64 {
    let m = mean(v);
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1.0)
}

#[test]
fn standardize_uses_the_training_rows_statistics() {
    let train = train_rows();
    let p = Preprocess::Standardize.fit(&train, 3).unwrap();
    let (mu_a, sd_a) = (mean(&column(&train, 0)), population_sd(&column(&train, 0)));
    let (mu_b, sd_b) = (mean(&column(&train, 1)), population_sd(&column(&train, 1)));
    let out = p.apply(&other_rows()).unwrap();
    assert!(close(out.row(0)[0], (10.0 - mu_a) / sd_a, 1e-13));
    assert!(close(out.row(0)[1], (-4.0 - mu_b) / sd_b, 1e-13));
    // The constant column is only shifted: 7 - 7 = 0, 9 - 7 = 2; never NaN.
    assert_eq!(out.row(0)[2], 0.0);
    assert_eq!(out.row(1)[2], 2.0);
    // The label is not touched.
    assert_eq!(column(&out, 3), [1.0, 2.0]);
    assert_eq!(out.columns(), train.columns());
    // On the training rows: mean 0, sd 1.
    let t = p.apply(&train).unwrap();
    assert!(mean(&column(&t, 0)).abs() < 1e-14);
    assert!(close(population_sd(&column(&t, 1)), 1.0, 1e-13));
}

#[test]
fn center_and_minmax() {
    let train = train_rows();
    let c = Preprocess::Center
        .fit(&train, 3)
        .unwrap()
        .apply(&other_rows())
        .unwrap();
    assert!(close(c.row(0)[0], 10.0 - mean(&column(&train, 0)), 1e-14));
    let a = column(&train, 0);
    let (lo, hi) = a
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| {
            (l.min(x), h.max(x))
        });
    let p = Preprocess::MinMax.fit(&train, 3).unwrap();
    let m = p.apply(&other_rows()).unwrap();
    assert!(close(m.row(0)[0], (10.0 - lo) / (hi - lo), 1e-14));
    let t = p.apply(&train).unwrap();
    let ta = column(&t, 0);
    assert_eq!(ta.iter().cloned().fold(f64::INFINITY, f64::min), 0.0);
    assert!(close(ta.iter().cloned().fold(0.0, f64::max), 1.0, 1e-15));
    assert_eq!(column(&t, 2), vec![0.0; 40], "a constant column becomes 0");
}

/// The population covariance of the first `d` columns.
fn covariance(data: &Dataset, d: usize) -> Vec<Vec<f64>> {
    let means: Vec<f64> = (0..d).map(|j| mean(&column(data, j))).collect();
    let n = data.n_rows() as f64;
    (0..d)
        .map(|a| {
            (0..d)
                .map(|b| {
                    (0..data.n_rows())
                        .map(|i| (data.row(i)[a] - means[a]) * (data.row(i)[b] - means[b]))
                        .sum::<f64>()
                        / n
                })
                .collect()
        })
        .collect()
}

/// The largest eigenvalue of a symmetric matrix by power iteration.
fn top_eigenvalue(c: &[Vec<f64>]) -> f64 {
    let d = c.len();
    let mut v = vec![1.0; d];
    let mut lambda = 0.0;
    for _ in 0..500 {
        let w: Vec<f64> = (0..d)
            .map(|a| (0..d).map(|b| c[a][b] * v[b]).sum())
            .collect();
        let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
        lambda = norm;
        v = w.iter().map(|x| x / norm).collect();
    }
    lambda
}

#[test]
fn pca_projects_onto_the_components_of_largest_variance() {
    let train = train_rows();
    let p = Preprocess::Pca(1).fit(&train, 3).unwrap();
    assert_eq!((p.inputs(), p.outputs()), (3, 1));
    let out = p.apply(&train).unwrap();
    assert_eq!(out.columns(), ["pc1", "label"]);
    let pc1 = column(&out, 0);
    // The variance of the projection is the covariance's top eigenvalue.
    let lambda = top_eigenvalue(&covariance(&train, 3));
    assert!(
        close(population_sd(&pc1).powi(2), lambda, 1e-10),
        "{lambda}"
    );
    assert!(close(p.variances().unwrap()[0], lambda, 1e-10));
    assert!(mean(&pc1).abs() < 1e-13);
    // pca:2: uncorrelated components, the variances decreasing.
    let p2 = Preprocess::Pca(2).fit(&train, 3).unwrap();
    let c = covariance(&p2.apply(&train).unwrap(), 2);
    assert!(c[0][1].abs() < 1e-12 && c[0][0] > c[1][1]);
    // The total variance is kept by all three components (the third is 0).
    let c3 = covariance(&train, 3);
    let v = Preprocess::Pca(3).fit(&train, 3).unwrap();
    let total: f64 = v.variances().unwrap().iter().sum();
    assert!(close(total, c3[0][0] + c3[1][1] + c3[2][2], 1e-12));
    assert!(Preprocess::Pca(4).fit(&train, 3).is_err());
}

#[test]
fn whitening_gives_unit_covariance_and_zero_for_a_constant_direction() {
    let train = train_rows();
    let p = Preprocess::Whiten.fit(&train, 3).unwrap();
    let out = p.apply(&train).unwrap();
    let c = covariance(&out, 3);
    for a in 0..3 {
        for b in 0..3 {
            let want = if a == b && a < 2 { 1.0 } else { 0.0 };
            assert!((c[a][b] - want).abs() < 1e-10, "{c:?}");
        }
    }
    // The constant input's direction (zero variance) maps to 0, not to inf.
    assert!(column(&out, 2).iter().all(|&x| x.abs() < 1e-6));
    assert!(p
        .apply(&other_rows())
        .unwrap()
        .values()
        .iter()
        .all(|x| x.is_finite()));
}

#[test]
fn json_round_trip_and_corrupt_json() {
    let train = train_rows();
    for kind in [
        Preprocess::Center,
        Preprocess::Standardize,
        Preprocess::MinMax,
        Preprocess::Whiten,
        Preprocess::Pca(2),
    ] {
        let p = kind.fit(&train, 3).unwrap();
        let text = p.to_json().to_string();
        let back = Preprocessor::from_json(&serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(back, p, "{}", kind.name());
        assert_eq!(Preprocess::parse(&kind.name()).unwrap(), kind);
    }
    let mut v = Preprocess::Standardize.fit(&train, 3).unwrap().to_json();
    v["scale"] = serde_json::json!([1.0, 2.0]);
    let e = Preprocessor::from_json(&v).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Format);
    assert!(
        e.to_string().contains("\"scale\" has 2 numbers, not 3"),
        "{e}"
    );
    v["kind"] = serde_json::json!("squash");
    assert!(Preprocessor::from_json(&v).is_err());
    assert!(Preprocessor::from_json(&serde_json::json!({})).is_err());
}

#[test]
fn parse_names() {
    assert_eq!(Preprocess::parse("pca:5").unwrap(), Preprocess::Pca(5));
    for bad in ["pca:0", "pca:", "pca:x", "scale", ""] {
        let e = Preprocess::parse(bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidOption, "{bad}");
    }
}

#[test]
fn pca_needs_the_network_to_take_k_inputs() {
    let train = train_rows();
    let model = LinearSoftmax::new(2, 3, 0);
    // 3 input columns and a label; the model takes 2 inputs: pca:2 fits.
    assert_eq!(Preprocess::Pca(2).input_columns(&model, &train).unwrap(), 3);
    let e = Preprocess::Pca(1)
        .input_columns(&model, &train)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Mismatch);
    assert_eq!(
        e.to_string(),
        "pca:1 projects the inputs onto 1 principal components, so the network's inputs must \
         have 1 entries, but they have 2"
    );
    // The whole chain: fit on train, apply, bind.
    let p = Preprocess::Pca(2).fit(&train, 3).unwrap();
    assert!(p.apply(&train).unwrap().bind(&model).is_ok());
    // Targets written one-hot are recognised as such.
    let spelled = Dataset::from_csv_str("a,b,c,y0,y1,y2\n1,2,3,0,1,0\n2,1,0,1,0,0\n").unwrap();
    assert_eq!(
        Preprocess::Pca(2).input_columns(&model, &spelled).unwrap(),
        3
    );
    assert_eq!(
        Preprocess::Standardize
            .input_columns(&model, &spelled)
            .unwrap(),
        2
    );
}

#[test]
fn inputs_too_large_for_a_covariance_are_an_error() {
    let d = Dataset::from_csv_str("a,b,label\n1e200,1,0\n-1e200,2,1\n").unwrap();
    let e = Preprocess::Whiten.fit(&d, 2).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidOption);
    assert!(e.to_string().contains("too large"), "{e}");
    assert!(Preprocess::Standardize.fit(&d, 2).is_err());
    let huge = Dataset::from_csv_str("a,label\n1.5e308,0\n-1.5e308,1\n").unwrap();
    assert!(Preprocess::MinMax.fit(&huge, 1).is_err());
    assert!(
        Preprocess::Center.fit(&huge, 1).is_ok(),
        "the mean 0 is finite"
    );
    // Min-max scaling of the same rows is fine.
    let s = Preprocess::MinMax.fit(&d, 2).unwrap().apply(&d).unwrap();
    assert_eq!(s.row(0)[0], 1.0);
}

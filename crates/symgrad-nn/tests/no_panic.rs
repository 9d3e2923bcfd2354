//! No input makes the data path panic: arbitrary text as CSV, bound to a
//! model, split and folded; arbitrary JSON as stored preprocessing.

mod common;

use common::LinearSoftmax;
use proptest::prelude::*;
use symgrad_nn::{Dataset, Preprocess, Preprocessor};

fn csv_text() -> impl Strategy<Value = String> {
    // Mostly CSV-shaped text: names, numbers, odd cells, separators.
    let cell = prop_oneof![
        "[a-z]{1,3}",
        "-?[0-9]{1,3}(\\.[0-9]{1,2})?",
        Just("inf".to_string()),
        Just("NaN".to_string()),
        Just("\"".to_string()),
        Just("".to_string()),
        "[ -~]{0,3}",
    ];
    let line = prop::collection::vec(cell, 0..5).prop_map(|cells| cells.join(","));
    let any = prop::collection::vec(line, 0..6).prop_map(|lines| lines.join("\n"));
    // A header of names, then rows of small integers (often a valid data
    // set of 2 to 4 columns, labels in or out of range).
    let number_row = prop::collection::vec(-1i32..4, 2..5)
        .prop_map(|v| v.iter().map(i32::to_string).collect::<Vec<_>>().join(","));
    let shaped = (2usize..5, prop::collection::vec(number_row, 1..8)).prop_map(|(n, rows)| {
        let header: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
        format!("{}\n{}", header.join(","), rows.join("\n"))
    });
    prop_oneof![any, shaped]
}

proptest! {
    #[test]
    fn csv_never_panics(text in csv_text(), k in 0usize..5, fraction in -0.5f64..1.5, seed in 0u64..4) {
        if let Ok(data) = Dataset::from_csv_str(&text) {
            let model = LinearSoftmax::new(2, 3, 0);
            let _ = data.bind(&model);
            let _ = data.bind_inputs(&model);
            let _ = data.split(fraction, seed);
            let _ = data.split_validation(fraction, seed);
            let _ = data.folds(k, seed);
            let _ = data.rows(k..k + 2);
            for kind in [Preprocess::Standardize, Preprocess::Whiten, Preprocess::Pca(k.max(1))] {
                if let Ok(d) = kind.input_columns(&model, &data) {
                    if let Ok(p) = kind.fit(&data, d) {
                        let _ = p.apply(&data);
                    }
                }
            }
        }
    }

    #[test]
    fn stored_preprocessing_never_panics(
        kind in prop_oneof![
            Just("standardize".to_string()),
            Just("whiten".to_string()),
            "pca:[0-9]",
            "[a-z:0-9]{0,8}",
        ],
        inputs in 0u64..4,
        n in 0usize..10,
    ) {
        let numbers: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let value = serde_json::json!({
            "kind": kind, "inputs": inputs, "shift": numbers, "scale": numbers,
            "mean": numbers, "projection": numbers, "variances": numbers,
        });
        if let Ok(p) = Preprocessor::from_json(&value) {
            let data = Dataset::new(vec!["a".into(); 4], vec![1.0; 8]).unwrap();
            let _ = p.apply(&data);
        }
    }
}

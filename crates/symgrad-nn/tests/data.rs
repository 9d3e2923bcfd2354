//! Data sets: CSV errors with their exact line and column, row ranges,
//! splits and folds that partition the rows, and the layout for a model.
// Index loops keep the tests' formulas as written (a_i θ_i).
#![allow(clippy::needless_range_loop)]

mod common;

use std::collections::BTreeSet;
use std::ops::Bound;

use common::LinearSoftmax;
use symgrad_nn::data::parse_row_range;
use symgrad_nn::{Batch, Dataset, ErrorKind};

fn err(text: &str) -> symgrad_nn::Error {
    Dataset::from_csv_str(text).unwrap_err()
}

#[test]
fn reads_a_header_and_rows() {
    let d = Dataset::from_csv_str("a, b,label\n1,2.5,0\n\n-3, 4e-1 ,2\n").unwrap();
    assert_eq!(d.columns(), ["a", "b", "label"]);
    assert_eq!(d.n_rows(), 2);
    assert_eq!(d.row(1), [-3.0, 0.4, 2.0]);
    assert_eq!(d.line(0), 2);
    assert_eq!(d.line(1), 4, "the empty line 3 is skipped but counted");
}

#[test]
fn windows_line_ends_and_quoted_cells() {
    let d = Dataset::from_csv_str("\"a\",b\r\n1,\"2\"\r\n\r\n3,x\r\n");
    assert_eq!(
        d.unwrap_err().to_string(),
        "line 4, column 2 (b): 'x' is not a number"
    );
    let d = Dataset::from_csv_str("\"a\",b\r\n1,\"2\"\r\n").unwrap();
    assert_eq!(d.columns(), ["a", "b"]);
    assert_eq!(d.row(0), [1.0, 2.0]);
}

#[test]
fn a_first_line_of_numbers_is_not_a_header() {
    let e = err("1,2,3\n4,5,6\n");
    assert_eq!(e.kind(), ErrorKind::Data);
    assert!(e.to_string().contains("line 1 holds only numbers"), "{e}");
    assert!(err("").to_string().contains("header"), "{}", err(""));
    assert!(err("a,b\n").to_string().contains("no rows"));
}

#[test]
fn a_bad_cell_names_its_line_and_column() {
    let e = err("a,b,c\n1,2,3\n4,x5,6\n");
    assert_eq!(e.kind(), ErrorKind::Data);
    assert_eq!(e.to_string(), "line 3, column 2 (b): 'x5' is not a number");
    let e = err("a,b,c\n1,2,3\n\n4,5,inf\n");
    assert_eq!(
        e.to_string(),
        "line 4, column 3 (c): 'inf' is not a finite number"
    );
    let e = err("a,b,c\n1,2,3\nNaN,5,6\n");
    assert_eq!(
        e.to_string(),
        "line 3, column 1 (a): 'NaN' is not a finite number"
    );
    let e = err("a,b,c\n1,2,3\n4,5\n");
    assert_eq!(
        e.to_string(),
        "line 3 has 2 cells, but the header has 3 columns"
    );
}

#[test]
fn a_missing_file_names_its_path() {
    let e = Dataset::from_csv("/nonexistent/dir/data.csv").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(
        e.to_string().starts_with("/nonexistent/dir/data.csv: "),
        "{e}"
    );
}

fn numbered(n: usize) -> Dataset {
    let mut s = String::from("id,x\n");
    for i in 0..n {
        s.push_str(&format!("{i},{}\n", i * i));
    }
    Dataset::from_csv_str(&s).unwrap()
}

fn ids(d: &Dataset) -> Vec<usize> {
    (0..d.n_rows()).map(|i| d.row(i)[0] as usize).collect()
}

#[test]
fn row_ranges_and_their_errors() {
    let d = numbered(10);
    assert_eq!(ids(&d.rows(2..5).unwrap()), [2, 3, 4]);
    assert_eq!(ids(&d.rows(8..).unwrap()), [8, 9]);
    let e = d.rows(5..11).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidOption);
    assert!(
        e.to_string().contains("reach past the data's 10 rows"),
        "{e}"
    );
    assert!(d.rows(4..4).unwrap_err().to_string().contains("empty"));
    assert_eq!(
        parse_row_range("3..7").unwrap(),
        (Bound::Included(3), Bound::Excluded(7))
    );
    assert_eq!(
        parse_row_range("..7").unwrap(),
        (Bound::Unbounded, Bound::Excluded(7))
    );
    assert!(parse_row_range("3-7").is_err());
    assert!(parse_row_range("a..7").is_err());
    assert_eq!(
        ids(&d.rows(parse_row_range("7..").unwrap()).unwrap()),
        [7, 8, 9]
    );
}

#[test]
fn a_split_partitions_the_rows_in_file_order() {
    let d = numbered(101);
    let (train, val) = d.split(0.8, 42).unwrap();
    let (t, v) = (ids(&train), ids(&val));
    assert_eq!(t.len(), 81); // round(80.8)
    assert_eq!(v.len(), 20);
    assert!(t.windows(2).all(|w| w[0] < w[1]) && v.windows(2).all(|w| w[0] < w[1]));
    let all: BTreeSet<usize> = t.iter().chain(&v).copied().collect();
    assert_eq!(all, (0..101).collect());
    // The same seed, the same split; another seed, another.
    assert_eq!(d.split(0.8, 42).unwrap(), (train.clone(), val.clone()));
    assert_ne!(ids(&d.split(0.8, 43).unwrap().1), v);
    // The rows keep their values and lines.
    assert_eq!(train.row(3)[1], (t[3] * t[3]) as f64);
    assert_eq!(train.line(3), t[3] as u64 + 2);
    // --validation 0.2: round(20.2) = 20 rows for validation.
    let (t2, v2) = d.split_validation(0.2, 42).unwrap();
    assert_eq!((t2.n_rows(), v2.n_rows()), (81, 20));
    for bad in [0.0, 1.0, -0.5, f64::NAN] {
        assert_eq!(
            d.split(bad, 1).unwrap_err().kind(),
            ErrorKind::InvalidOption
        );
    }
    assert!(numbered(3).split(0.1, 1).is_err(), "no training rows");
}

#[test]
fn folds_partition_the_rows() {
    let d = numbered(23);
    let parts = d.fold_indices(5, 9).unwrap();
    let sizes: Vec<usize> = parts.iter().map(Vec::len).collect();
    assert_eq!(sizes.iter().sum::<usize>(), 23);
    assert!(sizes.iter().all(|&s| s == 4 || s == 5), "{sizes:?}");
    let all: BTreeSet<usize> = parts.iter().flatten().copied().collect();
    assert_eq!(all.len(), 23);
    let folds = d.folds(5, 9).unwrap();
    for (f, (train, val)) in folds.iter().enumerate() {
        assert_eq!(ids(val), parts[f]);
        let expected: Vec<usize> = (0..23).filter(|i| !parts[f].contains(i)).collect();
        assert_eq!(ids(train), expected);
    }
    assert_eq!(d.fold_indices(5, 9).unwrap(), parts);
    let e = d.fold_indices(24, 1).unwrap_err();
    assert_eq!(
        e.to_string(),
        "24 folds need at least 24 rows, but the data has 23"
    );
    assert!(d.fold_indices(1, 1).is_err());
    assert!(d.fold_indices(23, 1).is_ok());
}

#[test]
fn binding_reads_a_label_column_one_hot() {
    let model = LinearSoftmax::new(2, 3, 0);
    let d = Dataset::from_csv_str("a,b,label\n1,2,2\n3,4,0\n").unwrap();
    let bound = d.bind(&model).unwrap();
    assert!(bound.one_hot() && bound.has_targets());
    let all = bound.all();
    assert_eq!(all[0], [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(all[1], [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
    // The same data spelled out.
    let d2 = Dataset::from_csv_str("a,b,y0,y1,y2\n1,2,0,0,1\n3,4,1,0,0\n").unwrap();
    let b2 = d2.bind(&model).unwrap();
    assert_eq!(b2.all()[1], all[1]);
    assert!(b2.one_hot());
    // Targets that are not one-hot: no accuracy.
    let d3 = Dataset::from_csv_str("a,b,y0,y1,y2\n1,2,0.5,0,0.5\n").unwrap();
    assert!(!d3.bind(&model).unwrap().one_hot());
}

#[test]
fn binding_errors_name_counts_and_cells() {
    let model = LinearSoftmax::new(2, 3, 0);
    let d = Dataset::from_csv_str("a,b,c,d\n1,2,0,1\n").unwrap();
    let e = d.bind(&model).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Mismatch);
    assert_eq!(
        e.to_string(),
        "the data has 4 columns (a, b, c, d), but the network needs 5 columns: 2 for its \
         inputs, then 3 for its targets (or one integer class label column for its one-hot target)"
    );
    let d = Dataset::from_csv_str("a,b,label\n1,2,2\n3,4,3\n").unwrap();
    let e = d.bind(&model).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Data);
    assert_eq!(
        e.to_string(),
        "line 3, column 3 (label): the label 3 is not a class index from 0 to 2"
    );
    let d = Dataset::from_csv_str("a,b,label\n1,2,1.5\n").unwrap();
    assert!(d
        .bind(&model)
        .unwrap_err()
        .to_string()
        .contains("line 2, column 3"));
    // Inputs alone are fine for prediction only.
    let d = Dataset::from_csv_str("a,b\n1,2\n").unwrap();
    assert!(d.bind(&model).is_err());
    let b = d.bind_inputs(&model).unwrap();
    assert!(!b.has_targets() && !b.one_hot());
    assert_eq!(b.inputs()[0], [1.0, 2.0]);
}

#[test]
fn gather_copies_rows_into_reused_buffers() {
    let model = LinearSoftmax::new(2, 3, 0);
    let d = Dataset::from_csv_str("a,b,label\n1,2,0\n3,4,1\n5,6,2\n").unwrap();
    let bound = d.bind(&model).unwrap();
    let mut batch = Batch::new();
    bound.gather(&[2, 0], &mut batch);
    assert_eq!(batch.n_rows(), 2);
    assert_eq!(batch.slices()[0], [5.0, 6.0, 1.0, 2.0]);
    assert_eq!(batch.slices()[1], [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
    let before = batch.slices()[0].as_ptr();
    bound.gather(&[1], &mut batch);
    assert_eq!(batch.slices()[0], [3.0, 4.0]);
    assert_eq!(batch.slices()[0].as_ptr(), before, "the buffer is reused");
}

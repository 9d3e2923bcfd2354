//! Five-fold cross-validation of `nets/iris.sg` (4-16-3, tanh, softmax) on
//! Fisher's iris, with the network file loaded at run time: each fold
//! standardizes the features with the statistics of its own training rows,
//! trains a fresh network with Adam, and is judged on the rows it did not
//! see. The same as
//! `symgrad cv nets/iris.sg --data tests/data/iris.csv --folds 5 --optimizer adam --lr 0.01 --epochs 50 --l2 1e-3 --batch-size 16 --preprocess standardize`.
//!
//! Run with `cargo run --release --example iris`.

use symgrad::nn::{Adam, CrossValidation, Dataset, NetworkModel, Preprocess, Silent, Trainer};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> symgrad::nn::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("nets/iris.sg");
    let source = std::fs::read_to_string(&path).map_err(|e| symgrad::nn::Error::io(&path, &e))?;
    let data = Dataset::from_csv(root.join("tests/data/iris.csv"))?;
    let seed = 0;
    let report = CrossValidation::new(5, seed)
        .preprocess(Preprocess::Standardize)
        .run(
            &data,
            |_fold| Ok(NetworkModel::from_source(&source, seed)?),
            |_fold| {
                Ok(Trainer::new(Adam::new(0.01))
                    .l2(1e-3)
                    .epochs(50)
                    .batch_size(16)
                    .seed(seed))
            },
            &mut Silent,
            &mut |fold| {
                println!(
                    "fold {}: {} training rows, {} held out: loss {:.4}, accuracy {:.1} %",
                    fold.fold,
                    fold.train_rows,
                    fold.validation_rows,
                    fold.val_loss,
                    100.0 * fold.val_accuracy.unwrap_or(f64::NAN)
                )
            },
        )?;
    let accuracy = report.accuracy.expect("iris has a one-hot target");
    println!(
        "mean over the folds: loss {:.4} ± {:.4}, accuracy {:.1} % ± {:.1} %",
        report.loss.mean,
        report.loss.sd,
        100.0 * accuracy.mean,
        100.0 * accuracy.sd
    );
    Ok(())
}

//! Trains the 64-32-10 network of `nets/digits.sg` on the handwritten
//! digits with `symgrad::nn`: the struct that `symgrad::network!` compiles
//! from the file goes through the same `Trainer` as a network file loaded
//! at run time. A seeded 20 % of the digits is held out; Adam with a small
//! L2 penalty trains on the rest for 80 epochs, and the held-out rows are
//! predicted in inference mode at the end. The model is then saved as a
//! model file that `symgrad predict` reads.
//!
//! Run with `cargo run --release --example digits`.

use symgrad::nn::{evaluate, model_file, Adam, Dataset, ModelFile, Trainer};

symgrad::network!(Digits, "nets/digits.sg");

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> symgrad::nn::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = Dataset::from_csv(root.join("tests/data/digits.csv"))?;
    let seed = 0;
    let (train, test) = data.split_validation(0.2, seed)?;
    let mut net = Digits::init(seed);
    let start = std::time::Instant::now();
    let history = Trainer::new(Adam::new(0.003))
        .l2(1e-4)
        .epochs(80)
        .batch_size(32)
        .seed(seed)
        .validation(test.clone())
        .fit(&mut net, &train)?;
    let elapsed = start.elapsed();
    for e in history
        .epochs
        .iter()
        .filter(|e| e.epoch % 10 == 0 || e.epoch == 1)
    {
        println!(
            "epoch {:2}: training loss {:.4}, held-out loss {:.4}, accuracy {:.2} %",
            e.epoch,
            e.train_loss,
            e.val_loss.unwrap_or(f64::NAN),
            100.0 * e.val_accuracy.unwrap_or(f64::NAN)
        );
    }
    // The held-out rows once more, by hand: inference mode, as `predict` runs.
    let mut predictions = Vec::new();
    let test_rows = test.bind(&net)?;
    let held_out = evaluate(&mut net, &test_rows, &mut predictions);
    println!(
        "{} epochs in {:.2?}; held-out accuracy {:.2} % on {} digits",
        history.epochs.len(),
        elapsed,
        100.0 * held_out.accuracy.unwrap_or(f64::NAN),
        test.n_rows()
    );
    let path = std::env::temp_dir().join("digits.model.json");
    let mut file = ModelFile::from_model(&net, None)?;
    file.history = history;
    model_file::save(&path, &file)?;
    println!(
        "saved to {} (try: symgrad predict {} --data tests/data/digits.csv)",
        path.display(),
        path.display()
    );
    Ok(())
}

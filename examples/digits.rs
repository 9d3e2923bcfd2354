//! Trains the 64-32-10 network of `nets/digits.sg` on the handwritten
//! digits with plain mini-batch gradient descent, using the struct that
//! `symgrad::network!` compiles from the file: `loss_and_gradient` for each
//! mini-batch of 32, `forward` for the accuracy on held-out digits.
//!
//! Run with `cargo run --release --example digits`.

symgrad::network!(Digits, "nets/digits.sg");

/// The digits file: 64 pixel counts, then the label.
fn read_digits() -> (Vec<f64>, Vec<usize>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/digits.csv");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let values: Vec<f64> = line.split(',').map(|v| v.trim().parse().unwrap()).collect();
        pixels.extend_from_slice(&values[..64]);
        labels.push(values[64] as usize);
    }
    (pixels, labels)
}

fn one_hot(labels: &[usize]) -> Vec<f64> {
    let mut y = vec![0.0; labels.len() * 10];
    for (k, &l) in labels.iter().enumerate() {
        y[k * 10 + l] = 1.0;
    }
    y
}

fn accuracy(net: &mut Digits, pixels: &[f64], labels: &[usize]) -> f64 {
    let p = net.forward(pixels);
    let right = p
        .chunks_exact(10)
        .zip(labels)
        .filter(|(row, &l)| {
            let best = (0..10).fold(0, |b, k| if row[k] > row[b] { k } else { b });
            best == l
        })
        .count();
    right as f64 / labels.len() as f64
}

fn main() {
    let (pixels, labels) = read_digits();
    // The first 1500 digits train, the other 297 test.
    let split = 1500;
    let (train_x, test_x) = pixels.split_at(split * 64);
    let (train_l, test_l) = labels.split_at(split);
    let train_y = one_hot(train_l);
    let mut net = Digits::init(1);
    let (batch, rate) = (32, 0.5);
    let start = std::time::Instant::now();
    for epoch in 1..=30 {
        let mut total = 0.0;
        for b in 0..split / batch {
            let rows = b * batch..(b + 1) * batch;
            let x = &train_x[rows.start * 64..rows.end * 64];
            let y = &train_y[rows.start * 10..rows.end * 10];
            let (loss, g) = net.loss_and_gradient(x, y);
            total += loss;
            // The gradient is owned: step while it is alive.
            let p = &mut net.params;
            for (param, grad) in [
                (&mut p.W1, &g.W1),
                (&mut p.b1, &g.b1),
                (&mut p.W2, &g.W2),
                (&mut p.b2, &g.b2),
            ] {
                for (w, d) in param.iter_mut().zip(grad) {
                    *w -= rate * d;
                }
            }
        }
        if epoch % 5 == 0 || epoch == 1 {
            println!(
                "epoch {epoch:2}: mean training loss {:.4}, test accuracy {:.1}%",
                total / (split / batch) as f64,
                100.0 * accuracy(&mut net, test_x, test_l)
            );
        }
    }
    println!("30 epochs in {:.2?}", start.elapsed());
}

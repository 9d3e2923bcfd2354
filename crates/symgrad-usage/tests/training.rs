//! `network!` used for what it is for: a few epochs of mini-batch gradient
//! descent on the real handwritten digits must lower the loss and classify
//! held-out digits far better than chance (10%).

symgrad::network!(Digits, "../../nets/digits.sg");

#[test]
fn gradient_descent_learns_the_digits() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/digits.csv");
    let text = std::fs::read_to_string(path).unwrap();
    let rows: Vec<Vec<f64>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 1797);
    let x: Vec<f64> = rows.iter().flat_map(|r| r[..64].to_vec()).collect();
    let labels: Vec<usize> = rows.iter().map(|r| r[64] as usize).collect();
    let mut y = vec![0.0; labels.len() * 10];
    for (k, &l) in labels.iter().enumerate() {
        y[k * 10 + l] = 1.0;
    }
    let (train, batch) = (1500, 32);
    let mut net = Digits::init(1);
    let first = net.loss(&x[..train * 64], &y[..train * 10]);
    for _epoch in 0..10 {
        for b in 0..train / batch {
            let (lo, hi) = (b * batch, (b + 1) * batch);
            // The natural loop: the gradient is owned, so the parameters
            // can be updated while it is alive.
            let (_, g) = net.loss_and_gradient(&x[lo * 64..hi * 64], &y[lo * 10..hi * 10]);
            let p = &mut net.params;
            for (param, d) in [
                (&mut p.W1, &g.W1),
                (&mut p.b1, &g.b1),
                (&mut p.W2, &g.W2),
                (&mut p.b2, &g.b2),
            ] {
                for (w, d) in param.iter_mut().zip(d) {
                    *w -= 0.5 * d;
                }
            }
        }
    }
    let last = net.loss(&x[..train * 64], &y[..train * 10]);
    assert!(last < 0.25 * first, "training loss {first} -> {last}");
    let p = net.forward(&x[train * 64..]).to_vec();
    let right = p
        .chunks_exact(10)
        .zip(&labels[train..])
        .filter(|(row, &l)| (0..10).all(|k| row[k] <= row[l]))
        .count();
    let accuracy = right as f64 / (labels.len() - train) as f64;
    assert!(accuracy > 0.8, "held-out accuracy {accuracy}");
}

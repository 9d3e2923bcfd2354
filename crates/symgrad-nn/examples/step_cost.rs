//! Times each optimizer's step against the gradient it follows (the
//! 64-32-10 digits network, batch 32, float64), and whole epochs:
//! `cargo run --release -p symgrad-nn --example step_cost`. Each figure is
//! the best of 20 repeats, so that other work on the machine counts less.
use std::time::Instant;
use symgrad_nn::*;

fn main() {
    let root = format!("{}/../..", env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(format!("{root}/nets/digits.sg")).unwrap();
    let data = Dataset::from_csv(format!("{root}/tests/data/digits.csv")).unwrap();
    let mut model = NetworkModel::from_source(&source, 1).unwrap();
    let bound = data.bind(&model).unwrap();
    let mut batch = Batch::new();
    let rows: Vec<usize> = (0..32).collect();
    bound.gather(&rows, &mut batch);
    let mut grad: Vec<Vec<f64>> = model
        .param_shapes()
        .iter()
        .map(|s| vec![0.0; s.iter().product()])
        .collect();
    let n = 20000;
    for _ in 0..100 {
        model.loss_and_gradient(&batch.slices(), &mut grad);
    }
    let t = Instant::now();
    for _ in 0..n {
        model.loss_and_gradient(&batch.slices(), &mut grad);
    }
    let g = t.elapsed().as_secs_f64() / n as f64;
    println!("gradient: {:.2} us", g * 1e6);
    let t = Instant::now();
    for _ in 0..n {
        bound.gather(&rows, &mut batch);
    }
    println!(
        "gather: {:.2} us",
        t.elapsed().as_secs_f64() / n as f64 * 1e6
    );
    for name in OPTIMIZERS {
        let mut opt = optimizer_from_name(name, &Hyper::new(1e-9)).unwrap();
        let mut params: Vec<Vec<f64>> = model.params().iter().map(|p| p.to_vec()).collect();
        let mut s = f64::INFINITY;
        for _ in 0..20 {
            let t = Instant::now();
            for _ in 0..1000 {
                let mut p: Vec<&mut [f64]> = params.iter_mut().map(|v| v.as_mut_slice()).collect();
                opt.look_ahead(&mut p);
                opt.step(&mut p, &grad, 1e-9);
            }
            s = s.min(t.elapsed().as_secs_f64() / 1000.0);
        }
        println!(
            "{name}: {:.2} us ({:.1} % of the gradient)",
            s * 1e6,
            100.0 * s / g
        );
    }
    let (train, _) = data.split_validation(0.2, 1).unwrap();
    for (name, acc) in [("sgd", false), ("adam", false), ("adam", true)] {
        let mut m = NetworkModel::from_source(&source, 1).unwrap();
        let opt = optimizer_from_name(name, &Hyper::new(0.01)).unwrap();
        let h = Trainer::new(opt)
            .epochs(30)
            .batch_size(32)
            .train_accuracy(acc)
            .fit(&mut m, &train)
            .unwrap();
        // The fastest epoch, from the history's clock.
        let mut best = h.epochs[0].seconds;
        for w in h.epochs.windows(2) {
            best = best.min(w[1].seconds - w[0].seconds);
        }
        println!(
            "{name} epoch (train accuracy {acc}): {:.3} ms, {:.2} us per step; loss {:.4}",
            best * 1e3,
            best / 45.0 * 1e6,
            h.epochs.last().unwrap().train_loss
        );
    }
}

use symgrad::net::{batch, parse_network};
fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/networks");
    for (sg, csv) in [("w3.sg", "w3_data.csv"), ("w3b.sg", "w3b_data.csv")] {
        let net = parse_network(&std::fs::read_to_string(dir.join(sg)).unwrap()).unwrap();
        let data = batch::read_csv(&net, &std::fs::read_to_string(dir.join(csv)).unwrap()).unwrap();
        let mut ev = batch::Evaluator::new(&net).unwrap();
        let n = 2000;
        for _ in 0..200 {
            ev.loss_and_gradient(&data.rows).unwrap();
        }
        let mut ts = vec![];
        for _ in 0..9 {
            let t = std::time::Instant::now();
            for _ in 0..n {
                std::hint::black_box(ev.loss_and_gradient(&data.rows).unwrap());
            }
            ts.push(t.elapsed().as_secs_f64() / n as f64 * 1e6);
        }
        ts.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let p = batch::plan(&net, batch::Outputs::LossAndGradient).unwrap();
        println!(
            "{sg}: {:.2} us per loss+gradient (incl. stacking rows), {} instrs",
            ts[4],
            p.instrs.len()
        );
    }
}

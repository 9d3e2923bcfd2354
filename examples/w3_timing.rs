use symgrad::net::{batch, parse_network};
use symgrad::plan::Runner;
fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/networks");
    for (sg, csv) in [("w3.sg", "w3_data.csv"), ("w3b.sg", "w3b_data.csv")] {
        let net = parse_network(&std::fs::read_to_string(dir.join(sg)).unwrap()).unwrap();
        let data = batch::read_csv(&net, &std::fs::read_to_string(dir.join(csv)).unwrap()).unwrap();
        let m = data.rows.len();
        let mut stacked: Vec<Vec<f64>> = vec![vec![]; data.rows[0].len()];
        for r in &data.rows {
            for (s, t) in stacked.iter_mut().zip(r) {
                s.extend_from_slice(&t.data);
            }
        }
        let params = batch::initial_params(&net);
        let w = [1.0 / m as f64];
        let inputs: Vec<&[f64]> = stacked
            .iter()
            .map(|v| v.as_slice())
            .chain(params.iter().map(|(_, t)| t.data.as_slice()))
            .chain([&w[..]])
            .collect();
        for outs in [batch::Outputs::Loss, batch::Outputs::LossAndGradient] {
            let p = batch::plan(&net, outs).unwrap();
            let ni = p.instrs.len();
            let mut r = Runner::new(p, m);
            let n = 5000;
            for _ in 0..500 {
                r.run(&inputs).unwrap();
            }
            let mut ts = vec![];
            for _ in 0..9 {
                let t = std::time::Instant::now();
                for _ in 0..n {
                    std::hint::black_box(r.run(&inputs).unwrap());
                }
                ts.push(t.elapsed().as_secs_f64() / n as f64 * 1e6);
            }
            ts.sort_by(|a, b| a.partial_cmp(b).unwrap());
            println!("{sg} {outs:?}: {:.2} us, {ni} instrs", ts[4]);
        }
    }
}

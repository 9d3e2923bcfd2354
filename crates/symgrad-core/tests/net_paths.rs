//! Path enumeration over networks (issue 4, part 7): on the 2-3-2 network
//! (tests/data/networks/net232.sg) expanded into scalar neurons, path
//! enumeration, reverse mode over the scalar graph, reverse mode over the
//! tensor graph and central finite differences agree on every parameter
//! entry; the path counts are the ones the network's wiring gives; a deeper
//! network is refused past the path limit, and a larger one past the size
//! limit, each naming the count and the limit.

use symgrad_core::diff::{paths, reverse};
use symgrad_core::eval::{Program, Tensor, TensorProgram};
use symgrad_core::graph::scalarize::{scalarize, DEFAULT_MAX_SCALARS};
use symgrad_core::net::batch::{read_csv, Evaluator};
use symgrad_core::net::paths::PathEvaluator;
use symgrad_core::net::{parse_network, Network, Role};
use symgrad_core::{ErrorKind, NodeId};

fn read(name: &str) -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/networks");
    std::fs::read_to_string(dir.join(name)).unwrap()
}

fn net232() -> Network {
    parse_network(&read("net232.sg")).unwrap()
}

#[test]
fn four_ways_agree_on_every_parameter_of_the_2_3_2_network() {
    let net = net232();
    let data = read_csv(&net, &read("net232_data.csv")).unwrap();
    let decls: Vec<NodeId> = net.decls.iter().map(|d| d.node).collect();
    let params: Vec<_> = net.with_role(Role::Param).collect();
    for row in &data.rows {
        // The tensor point: the sample's input and target, then the parameters.
        let mut point: Vec<Tensor> = row.clone();
        point.extend(net.init_params(0));
        // 1. Reverse mode over the tensor graph.
        let mut tg = net.graph.clone();
        let wrt: Vec<NodeId> = params.iter().map(|p| p.node).collect();
        let (tgrads, _) = reverse::gradient(&mut tg, net.loss, &wrt);
        let tensor = TensorProgram::compile(&tg, &decls, &tgrads)
            .unwrap()
            .run(&point)
            .unwrap();
        let tensor: Vec<f64> = tensor.iter().flat_map(|t| t.data.clone()).collect();
        // 2. and 3. Path enumeration and reverse mode over the scalar graph.
        let mut s = scalarize(&net.graph, &[net.loss], DEFAULT_MAX_SCALARS).unwrap();
        let loss = s.entries(net.loss)[0];
        let scalar_inputs: Vec<NodeId> =
            decls.iter().flat_map(|&d| s.entries(d).to_vec()).collect();
        let swrt: Vec<NodeId> = wrt.iter().flat_map(|&p| s.entries(p).to_vec()).collect();
        assert_eq!(swrt.len(), 6 + 3 + 6 + 2);
        let (pgrads, stats) = paths::gradient(&mut s.graph, loss, &swrt, 1 << 20).unwrap();
        assert_eq!(stats.paths, 26);
        let (rgrads, _) = reverse::gradient(&mut s.graph, loss, &swrt);
        let values: Vec<f64> = point.iter().flat_map(|t| t.data.clone()).collect();
        let by_paths = Program::compile(&s.graph, &scalar_inputs, &pgrads)
            .unwrap()
            .run(&values);
        let by_reverse = Program::compile(&s.graph, &scalar_inputs, &rgrads)
            .unwrap()
            .run(&values);
        // 4. Central finite differences of the tensor loss.
        let f = TensorProgram::compile(&net.graph, &decls, &[net.loss]).unwrap();
        let loss_at = |p: &[Tensor]| f.run(p).unwrap()[0].item();
        let mut k = 0;
        for (pi, p) in params.iter().enumerate() {
            let slot = row.len() + pi;
            for entry in 0..p.shape.numel() {
                let h = 1e-6;
                let mut plus = point.clone();
                plus[slot].data[entry] += h;
                let mut minus = point.clone();
                minus[slot].data[entry] -= h;
                let fd = (loss_at(&plus) - loss_at(&minus)) / (2.0 * h);
                let t = tensor[k];
                let what = format!("∂C/∂{}[{entry}]", p.name);
                assert!(
                    (by_paths[k] - t).abs() <= 1e-12 * (1.0 + t.abs()),
                    "{what}: paths {} vs tensor reverse {t}",
                    by_paths[k]
                );
                assert!(
                    (by_reverse[k] - t).abs() <= 1e-12 * (1.0 + t.abs()),
                    "{what}: scalar reverse {} vs tensor reverse {t}",
                    by_reverse[k]
                );
                assert!(
                    (fd - t).abs() <= 1e-9,
                    "{what}: finite differences {fd} vs {t}"
                );
                k += 1;
            }
        }
        assert_eq!(k, swrt.len());
    }
}

#[test]
fn path_counts_follow_the_wiring() {
    // W1[i, j] reaches the loss through z1[i], a1[i] and both outputs (2
    // paths), b1[i] likewise; W2[k, i] and b2[k] through output k only.
    let ev = PathEvaluator::new(&net232(), DEFAULT_MAX_SCALARS, 1 << 20).unwrap();
    let counts: Vec<(&str, u128)> = ev.paths.iter().map(|(n, c)| (n.as_str(), *c)).collect();
    assert_eq!(counts, [("W1", 12), ("b1", 6), ("W2", 6), ("b2", 2)]);
    assert_eq!(ev.total_paths(), 26);
}

#[test]
fn the_path_evaluator_matches_the_reverse_mode_evaluator_over_a_batch() {
    let net = net232();
    let data = read_csv(&net, &read("net232_data.csv")).unwrap();
    let by_paths = PathEvaluator::new(&net, DEFAULT_MAX_SCALARS, 1 << 20)
        .unwrap()
        .loss_and_gradient(&data.rows)
        .unwrap();
    let by_reverse = Evaluator::new(&net)
        .unwrap()
        .loss_and_gradient(&data.rows)
        .unwrap();
    assert_eq!(by_paths.batch, 3);
    assert!((by_paths.loss - by_reverse.loss).abs() <= 1e-14);
    for ((n1, g1), (n2, g2)) in by_paths.gradient.iter().zip(&by_reverse.gradient) {
        assert_eq!(n1, n2);
        assert_eq!(g1.shape, g2.shape);
        for (a, b) in g1.data.iter().zip(&g2.data) {
            assert!((a - b).abs() <= 1e-13, "{n1}: {a} vs {b}");
        }
    }
}

/// A network of sigmoid layers with the given widths (input first), weights
/// fixed by index formulas.
fn layered(widths: &[usize]) -> String {
    let n = widths.len() - 1;
    let mut s = format!("input x[{}]\ntarget y[{}]\n", widths[0], widths[n]);
    for l in 1..=n {
        s += &format!(
            "param W{l}[{}, {}] = 0.3*sin(i*7 + j + {l})\nparam b{l}[{}] = 0.1*cos(i + {l})\n",
            widths[l],
            widths[l - 1],
            widths[l]
        );
    }
    let mut prev = "x".to_string();
    for l in 1..=n {
        s += &format!("z{l} = W{l} @ {prev} + b{l}\na{l} = sigmoid(z{l})\n");
        prev = format!("a{l}");
    }
    s + &format!("loss = sum((a{n} - y)^2) / 2\n")
}

#[test]
fn a_deeper_network_is_refused_past_the_path_limit() {
    // Each W1 entry has 10^4 * 2 paths (through every unit of the four
    // later hidden layers and both outputs): over two million in all.
    let net = parse_network(&layered(&[10, 10, 10, 10, 10, 10, 2])).unwrap();
    let e = PathEvaluator::new(&net, DEFAULT_MAX_SCALARS, 1 << 20)
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::PathLimit);
    let s = scalarize(&net.graph, &[net.loss], DEFAULT_MAX_SCALARS).unwrap();
    let loss = s.entries(net.loss)[0];
    let wrt: Vec<NodeId> = net
        .with_role(Role::Param)
        .flat_map(|p| s.entries(p.node).to_vec())
        .collect();
    let total: u128 = paths::count_paths(&s.graph, loss, &wrt).iter().sum();
    assert!(total > 1 << 20);
    assert!(
        e.message().contains(&format!("would visit {total} paths")),
        "{}",
        e.message()
    );
    assert!(
        e.message().contains("the limit of 1048576"),
        "{}",
        e.message()
    );
}

#[test]
fn a_large_network_is_refused_past_the_size_limit() {
    let net = parse_network(&read("w3.sg")).unwrap();
    let e = PathEvaluator::new(&net, 10_000, 1 << 20).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::TooLarge);
    assert!(
        e.message().contains("more than the limit of 10000"),
        "{}",
        e.message()
    );
}

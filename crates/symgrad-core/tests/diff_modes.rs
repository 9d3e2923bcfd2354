//! The exact modes agree with each other and with finite differences on
//! graphs built directly with the builder.

use symgrad_core::diff::{self, numeric, Mode, Options};
use symgrad_core::eval::Program;
use symgrad_core::{workloads, ErrorKind, Func, Graph, NodeId};

/// f = x^2*y + y + 2 (W1), as (graph, output, x, y).
fn seed() -> (Graph, NodeId, NodeId, NodeId) {
    let w = workloads::seed();
    (w.graph, w.output, w.inputs[0], w.inputs[1])
}

fn values(g: &Graph, vars: &[NodeId], nodes: &[NodeId], point: &[f64]) -> Vec<f64> {
    Program::compile(g, vars, nodes).unwrap().run(point)
}

#[test]
fn seed_gradient_in_every_mode() {
    for mode in Mode::EXACT {
        let (mut g, f, x, y) = seed();
        let (grad, stats) = diff::gradient(&mut g, f, &[x, y], mode, Options::default()).unwrap();
        // df/dx = 2xy = 24, df/dy = x^2 + 1 = 10 at (3, 4)
        assert_eq!(
            values(&g, &[x, y], &grad, &[3.0, 4.0]),
            vec![24.0, 10.0],
            "{mode}"
        );
        let expected_passes = if mode == Mode::Reverse { 1 } else { 2 };
        assert_eq!(stats.passes, expected_passes, "{mode}");
    }
}

#[test]
fn seed_hessian() {
    let (mut g, f, x, y) = seed();
    let (_, h, _) = diff::hessian(&mut g, f, &[x, y], Mode::Reverse, Options::default()).unwrap();
    let flat: Vec<NodeId> = h.concat();
    // [[2y, 2x], [2x, 0]] = [[8, 6], [6, 0]]
    assert_eq!(
        values(&g, &[x, y], &flat, &[3.0, 4.0]),
        vec![8.0, 6.0, 6.0, 0.0]
    );
}

/// The product network of depth d (W4), as (graph, output, w).
fn product_network(d: usize) -> (Graph, NodeId, NodeId) {
    let w = workloads::product_network(d);
    (w.graph, w.output, w.inputs[0])
}

#[test]
fn product_network_has_two_to_the_d_paths() {
    let (mut g, o, w) = product_network(5);
    assert_eq!(diff::paths::count_paths(&g, o, &[w]), vec![32]);
    let (grad, stats) = diff::paths::gradient(&mut g, o, &[w], 1 << 20).unwrap();
    assert_eq!(stats.paths, 32);
    // do/dw = 32 w^31
    let v = values(&g, &[w], &grad, &[1.01])[0];
    assert!((v - 32.0 * 1.01f64.powi(31)).abs() < 1e-9 * v);
}

#[test]
fn path_enumeration_is_refused_past_the_limit() {
    let (mut g, o, w) = product_network(25);
    let err = diff::paths::gradient(&mut g, o, &[w], 1 << 20).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PathLimit);
    assert!(err.message().contains("33554432"), "{}", err.message());
}

#[test]
fn every_function_agrees_with_finite_differences() {
    for f in Func::ALL {
        let mut g = Graph::new();
        let x = g.var("x");
        let y = g.var("y");
        // f(x*y + x) at a point inside every domain and away from kinks
        // (x*y + x + 1 for acosh, defined from 1 on).
        let xy = g.mul(x, y);
        let mut arg = g.add(xy, x);
        if f == Func::Acosh {
            let one = g.int(1);
            arg = g.add(arg, one);
        }
        let out = g.func(f, arg);
        let point = [0.3, 0.7];
        let program = Program::compile(&g, &[x, y], &[out]).unwrap();
        let (fd, _) = numeric::gradient(&program, &point);
        for mode in Mode::EXACT {
            let (grad, _) = diff::gradient(&mut g, out, &[x, y], mode, Options::default()).unwrap();
            let exact = values(&g, &[x, y], &grad, &point);
            for (e, n) in exact.iter().zip(&fd) {
                assert!(
                    (e - n).abs() <= 1e-6 * e.abs().max(1.0),
                    "{f} {mode}: {e} vs {n}"
                );
            }
        }
    }
}

#[test]
fn atan2_agrees_with_finite_differences_in_every_quadrant() {
    for point in [[0.5, 2.0], [0.5, -1.5], [-0.5, -1.5], [-2.0, 0.3]] {
        let mut g = Graph::new();
        let y = g.var("y");
        let x = g.var("x");
        let xy = g.mul(x, y);
        let out = g.atan2(xy, x);
        let program = Program::compile(&g, &[y, x], &[out]).unwrap();
        let (fd, _) = numeric::gradient(&program, &point);
        for mode in Mode::EXACT {
            let (grad, _) = diff::gradient(&mut g, out, &[y, x], mode, Options::default()).unwrap();
            let exact = values(&g, &[y, x], &grad, &point);
            for (e, n) in exact.iter().zip(&fd) {
                assert!(
                    (e - n).abs() <= 1e-6 * e.abs().max(1.0),
                    "{mode} at {point:?}: {e} vs {n}"
                );
            }
        }
    }
}

#[test]
fn explain_the_seed() {
    let (mut g, f, x, y) = seed();
    let e = symgrad_core::explain::explain(&mut g, f, &[x, y], &[3.0, 4.0]).unwrap();
    assert_eq!(
        e.gradient,
        vec![("x".to_string(), 24.0), ("y".to_string(), 10.0)]
    );
    println!("{}", e.to_text());
}

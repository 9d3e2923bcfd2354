//! Property tests on random expressions: the three exact modes agree with
//! each other and with central finite differences, and printing then parsing
//! a simplified expression gives back the same canonical graph.

use proptest::prelude::*;
use symgrad::diff::{self, numeric, Mode, Options};
use symgrad::eval::Program;
use symgrad::{parse::parse, print, simplify::simplify, Func, Graph, NodeId};

/// A random expression over the variables x, y, z, built from smooth pieces
/// so that finite differences are meaningful everywhere.
#[derive(Clone, Debug)]
enum E {
    Var(u8),
    Const(i8),
    Add(Box<E>, Box<E>),
    Sub(Box<E>, Box<E>),
    Mul(Box<E>, Box<E>),
    /// `a / (1 + b^2)`: a quotient whose denominator never vanishes.
    Div(Box<E>, Box<E>),
    Neg(Box<E>),
    Square(Box<E>),
    Func(Func, Box<E>),
}

const SMOOTH: [Func; 7] = [
    Func::Sin,
    Func::Cos,
    Func::Tanh,
    Func::Sigmoid,
    Func::Atan,
    Func::Softplus,
    Func::Exp,
];

fn expr() -> impl Strategy<Value = E> {
    let leaf = prop_oneof![(0u8..3).prop_map(E::Var), (-3i8..4).prop_map(E::Const)];
    leaf.prop_recursive(5, 40, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| E::Add(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| E::Sub(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| E::Mul(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| E::Div(Box::new(a), Box::new(b))),
            inner.clone().prop_map(|a| E::Neg(Box::new(a))),
            inner.clone().prop_map(|a| E::Square(Box::new(a))),
            (0..SMOOTH.len(), inner).prop_map(|(f, a)| E::Func(SMOOTH[f], Box::new(a))),
        ]
    })
}

/// Builds the expression into `g` (recursion is bounded by the strategy's depth).
fn build(g: &mut Graph, e: &E) -> NodeId {
    match e {
        E::Var(i) => g.var(["x", "y", "z"][*i as usize]),
        E::Const(c) => g.int(i64::from(*c)),
        E::Add(a, b) => {
            let (a, b) = (build(g, a), build(g, b));
            g.add(a, b)
        }
        E::Sub(a, b) => {
            let (a, b) = (build(g, a), build(g, b));
            g.sub(a, b)
        }
        E::Mul(a, b) => {
            let (a, b) = (build(g, a), build(g, b));
            g.mul(a, b)
        }
        E::Div(a, b) => {
            let (a, b) = (build(g, a), build(g, b));
            let b2 = g.powi(b, 2);
            let one = g.int(1);
            let d = g.add(one, b2);
            g.div(a, d)
        }
        E::Neg(a) => {
            let a = build(g, a);
            g.neg(a)
        }
        E::Square(a) => {
            let a = build(g, a);
            g.powi(a, 2)
        }
        E::Func(f, a) => {
            let a = build(g, a);
            g.func(*f, a)
        }
    }
}

fn vars(g: &mut Graph) -> Vec<NodeId> {
    ["x", "y", "z"].iter().map(|n| g.var(n)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn modes_agree_with_each_other_and_with_finite_differences(
        e in expr(),
        point in prop::array::uniform3(-1.5f64..1.5),
    ) {
        let mut g = Graph::new();
        let xs = vars(&mut g);
        let f = build(&mut g, &e);
        let program = Program::compile(&g, &xs, &[f]).expect("compiles");
        let value = program.run(&point)[0];
        prop_assume!(value.is_finite() && value.abs() < 1e6);
        let (fd, _) = numeric::gradient(&program, &point);
        let mut by_mode = Vec::new();
        for mode in Mode::EXACT {
            let (grad, _) = diff::gradient(&mut g, f, &xs, mode, Options::default()).expect("ok");
            by_mode.push(Program::compile(&g, &xs, &grad).expect("compiles").run(&point));
        }
        for (k, exact) in by_mode[0].iter().enumerate() {
            for other in &by_mode[1..] {
                // The exact modes compute the same sums in different orders.
                prop_assert!((exact - other[k]).abs() <= 1e-10 * exact.abs().max(1.0),
                    "modes differ on {e:?}: {exact} vs {}", other[k]);
            }
            // Central differences carry O(h²) truncation and O(ε/h) rounding error.
            let scale = exact.abs().max(value.abs()).max(1.0);
            prop_assert!((exact - fd[k]).abs() <= 1e-5 * scale,
                "finite differences disagree on {e:?}: {exact} vs {}", fd[k]);
        }
    }

    #[test]
    fn parse_of_print_gives_the_same_graph(e in expr()) {
        let mut g = Graph::new();
        vars(&mut g);
        let f = build(&mut g, &e);
        let simple = simplify(&mut g, &[f])[0];
        let text = print::text(&g, &[simple]).formula(0);
        let back = parse(&text).map_err(|err| TestCaseError::fail(err.render(&text)))?;
        // Bring the parsed graph into the original one, then simplify: the
        // canonical node must be the very same node.
        let imported = g.import(&back.graph, &[back.output])[0];
        let again = simplify(&mut g, &[imported])[0];
        prop_assert_eq!(again, simple, "{} came back as {}", text, print::text(&g, &[again]).formula(0));
    }

    #[test]
    fn every_mode_differentiates_printed_derivatives_again(e in expr()) {
        // The derivative's printed form is a formula in its own right.
        let mut g = Graph::new();
        let xs = vars(&mut g);
        let f = build(&mut g, &e);
        let (grad, _) = diff::gradient(&mut g, f, &xs, Mode::Reverse, Options::default()).expect("ok");
        let simple = simplify(&mut g, &grad);
        let printed = print::text(&g, &simple);
        for i in 0..simple.len() {
            let text = printed.formula(i);
            prop_assert!(parse(&text).is_ok(), "{} does not parse", text);
        }
    }
}

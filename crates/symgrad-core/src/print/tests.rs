//! Tests of the printers: minimal parentheses, bindings, LaTeX, DOT, and
//! graphs too deep or wide for recursion.

use super::*;
use crate::graph::{Func, Graph, NamedConst, NodeId, Op};
use crate::num::Num;

/// Builds an expression with `build` and checks its text.
fn check(build: impl FnOnce(&mut Graph) -> NodeId, expect: &str) {
    let mut g = Graph::new();
    let r = build(&mut g);
    assert_eq!(text(&g, &[r]).formula(0), expect);
}

fn check_latex(build: impl FnOnce(&mut Graph) -> NodeId, expect: &str) {
    let mut g = Graph::new();
    let r = build(&mut g);
    assert_eq!(latex(&g, &[r]).formula(0), expect);
}

fn check_parens(build: impl FnOnce(&mut Graph) -> NodeId, expect: &str) {
    let mut g = Graph::new();
    let r = build(&mut g);
    assert_eq!(parens(&g, r), expect);
}

fn xyz(g: &mut Graph) -> (NodeId, NodeId, NodeId) {
    (g.var("x"), g.var("y"), g.var("z"))
}

fn n(g: &mut Graph, p: i64, q: i64) -> NodeId {
    g.constant(Num::ratio(p, q).unwrap())
}

#[test]
fn minimal_parentheses() {
    check(
        |g| {
            let (a, b, c) = xyz(g);
            let d = g.sub(b, c);
            g.sub(a, d)
        },
        "x - (y - z)",
    );
    check(
        |g| {
            let (a, b, c) = xyz(g);
            let d = g.sub(a, b);
            g.sub(d, c)
        },
        "x - y - z",
    );
    check(
        |g| {
            let (a, b, c) = xyz(g);
            let d = g.mul(b, c);
            g.div(a, d)
        },
        "x/(y*z)",
    );
    check(
        |g| {
            let (a, b, c) = xyz(g);
            let d = g.div(a, b);
            g.div(d, c)
        },
        "x/y/z",
    );
    check(
        |g| {
            let (a, b, c) = xyz(g);
            let d = g.add(a, b);
            g.mul(d, c)
        },
        "(x + y)*z",
    );
    check(
        |g| {
            let (a, b, c) = xyz(g);
            let d = g.mul(a, b);
            g.add(d, c)
        },
        "x*y + z",
    );
    check(
        |g| {
            let (a, b, c) = xyz(g);
            let d = g.add(b, c);
            g.add(a, d)
        },
        "x + (y + z)",
    );
    check(
        |g| {
            let (a, _, _) = xyz(g);
            let d = g.neg(a);
            g.powi(d, 2)
        },
        "(-x)^2",
    );
    check(
        |g| {
            let (a, _, _) = xyz(g);
            let d = g.powi(a, 2);
            g.neg(d)
        },
        "-x^2",
    );
    check(
        |g| {
            let (a, b, _) = xyz(g);
            let d = g.mul(a, b);
            g.neg(d)
        },
        "-x*y",
    );
    check(
        |g| {
            let (a, b, _) = xyz(g);
            let d = g.neg(b);
            g.sub(a, d)
        },
        "x - (-y)",
    );
    check(
        |g| {
            let (a, b, _) = xyz(g);
            let d = g.neg(b);
            g.mul(a, d)
        },
        "x*(-y)",
    );
    check(
        |g| {
            let (a, b, _) = xyz(g);
            let d = g.neg(a);
            g.mul(d, b)
        },
        "-x*y",
    );
    check(
        |g| {
            let (a, b, c) = xyz(g);
            let d = g.pow(b, c);
            g.pow(a, d)
        },
        "x^y^z",
    );
    check(
        |g| {
            let (a, b, c) = xyz(g);
            let d = g.pow(a, b);
            g.pow(d, c)
        },
        "(x^y)^z",
    );
    check(
        |g| {
            let (a, _, _) = xyz(g);
            let h = n(g, 1, 2);
            g.pow(a, h)
        },
        "sqrt(x)",
    );
    check(
        |g| {
            let (a, _, _) = xyz(g);
            let h = n(g, 1, 3);
            g.pow(a, h)
        },
        "x^(1/3)",
    );
    check(
        |g| {
            let two = g.int(2);
            let m = g.int(-1);
            g.intern(Op::Pow, [two, m].into_iter().collect())
        },
        "1/2",
    );
    check(
        |g| {
            let (a, _, _) = xyz(g);
            g.powi(a, -1)
        },
        "1/x",
    );
    check(
        |g| {
            let (a, _, _) = xyz(g);
            g.powi(a, -2)
        },
        "1/x^2",
    );
    check(
        |g| {
            let (a, b, _) = xyz(g);
            let m = g.int(-2);
            let d = g.mul(m, b);
            g.add(a, d)
        },
        "x - 2*y",
    );
    check(
        |g| {
            let (a, _, _) = xyz(g);
            let h = n(g, 1, 2);
            g.mul(h, a)
        },
        "x/2",
    );
    check(
        |g| {
            let (a, _, _) = xyz(g);
            let h = n(g, 3, 2);
            g.mul(h, a)
        },
        "3*x/2",
    );
    check(
        |g| {
            let (a, _, _) = xyz(g);
            let h = n(g, -3, 2);
            g.mul(h, a)
        },
        "-3*x/2",
    );
    check(
        |g| {
            let (a, b, _) = xyz(g);
            let d = g.powi(b, -2);
            g.mul(a, d)
        },
        "x/y^2",
    );
    check(
        |g| {
            let (a, b, _) = xyz(g);
            let s = g.add(a, b);
            let d = g.powi(s, -1);
            g.mul(a, d)
        },
        "x/(x + y)",
    );
    check(
        |g| {
            let (a, b, _) = xyz(g);
            let s = g.sub(a, b);
            g.func(Func::Sin, s)
        },
        "sin(x - y)",
    );
    check(
        |g| {
            let (a, b, _) = xyz(g);
            let s = g.add(a, b);
            g.powi(s, 3)
        },
        "(x + y)^3",
    );
    check(
        |g| {
            let (a, _, _) = xyz(g);
            let m = g.int(-2);
            g.pow(m, a)
        },
        "(-2)^x",
    );
    check(
        |g| {
            let (a, _, _) = xyz(g);
            let m = g.int(-2);
            g.pow(a, m)
        },
        "1/x^2",
    );
    check(
        |g| {
            let (a, b, _) = xyz(g);
            let m = g.int(-1);
            let s = g.add(a, m);
            g.mul(s, b)
        },
        "(x - 1)*y",
    );
    check(
        |g| {
            let (a, b, _) = xyz(g);
            g.max(a, b)
        },
        "max(x, y)",
    );
    check(
        |g| {
            let p = g.named(NamedConst::Pi);
            let (a, _, _) = xyz(g);
            g.mul(p, a)
        },
        "pi*x",
    );
    check(
        |g| {
            let (a, _, _) = xyz(g);
            let f = g.constant(Num::Float(2.5));
            g.mul(f, a)
        },
        "2.5*x",
    );
}

#[test]
fn shared_subexpressions_become_bindings() {
    let mut g = Graph::new();
    let (x, y, _) = xyz(&mut g);
    let xy = g.mul(x, y);
    let t = g.func(Func::Sin, xy);
    let tt = g.mul(t, t);
    let r = g.add(tt, t);
    let p = text(&g, &[r]);
    assert_eq!(p.bindings, vec![("t1".to_string(), "sin(x*y)".to_string())]);
    assert_eq!(p.formula(0), "t1 = sin(x*y); t1*t1 + t1");
    // Binding names skip variables; tiny shared nodes are repeated.
    let mut g = Graph::new();
    let t1 = g.var("t1");
    let x = g.var("x");
    let x2 = g.powi(x, 2);
    let s = g.func(Func::Exp, t1);
    let s = g.add(s, x2);
    let u = g.mul(s, s);
    let u = g.add(u, x2);
    assert_eq!(text(&g, &[u]).formula(0), "t2 = exp(t1) + x^2; t2*t2 + x^2");
    // Several roots share one set of bindings.
    let v = g.func(Func::Cos, s);
    let p = text(&g, &[u, v]);
    assert_eq!(
        p.exprs,
        vec!["t2*t2 + x^2".to_string(), "cos(t2)".to_string()]
    );
}

#[test]
fn latex_cases() {
    check_latex(
        |g| {
            let (a, b, _) = xyz(g);
            g.div(a, b)
        },
        "\\frac{x}{y}",
    );
    check_latex(
        |g| {
            let (a, _, _) = xyz(g);
            g.powi(a, 2)
        },
        "x^{2}",
    );
    check_latex(
        |g| {
            let (a, _, _) = xyz(g);
            g.func(Func::Sin, a)
        },
        "\\sin\\left(x\\right)",
    );
    check_latex(
        |g| {
            let (a, b, _) = xyz(g);
            let t = g.int(2);
            g.intern(Op::Mul, [t, a, b].into_iter().collect())
        },
        "2 x y",
    );
    check_latex(
        |g| {
            let (a, _, _) = xyz(g);
            let t = g.int(2);
            g.mul(a, t)
        },
        "x \\cdot 2",
    );
    check_latex(
        |g| {
            let a = g.var("θ");
            g.func(Func::Sqrt, a)
        },
        "\\sqrt{\\theta}",
    );
    check_latex(
        |g| {
            let a = g.var("theta");
            g.func(Func::Sigmoid, a)
        },
        "\\sigma\\left(\\theta\\right)",
    );
    check_latex(
        |g| {
            let a = g.var("x1");
            let p = g.named(NamedConst::Pi);
            g.mul(p, a)
        },
        "\\pi x_{1}",
    );
    check_latex(
        |g| {
            let (a, b, _) = xyz(g);
            let s = g.add(a, b);
            g.powi(s, 2)
        },
        "\\left(x + y\\right)^{2}",
    );
}

#[test]
fn parens_cases() {
    check_parens(
        |g| {
            let (x, y, _) = xyz(g);
            let x2 = g.powi(x, 2);
            let p = g.mul(x2, y);
            let s = g.add(p, y);
            let two = g.int(2);
            g.add(s, two)
        },
        "(((x ^ 2) * y) + y) + 2",
    );
    check_parens(
        |g| {
            let (a, b, c) = xyz(g);
            g.intern(Op::Add, [a, b, c].into_iter().collect())
        },
        "x + y + z",
    );
    check_parens(
        |g| {
            let (a, b, c) = xyz(g);
            let s = g.intern(Op::Mul, [a, b, c].into_iter().collect());
            g.func(Func::Sin, s)
        },
        "sin(x * y * z)",
    );
    check_parens(
        |g| {
            let (a, _, _) = xyz(g);
            let m = g.int(-2);
            g.mul(m, a)
        },
        "(-2) * x",
    );
}

#[test]
fn dot_output() {
    let mut g = Graph::new();
    let (x, y, _) = xyz(&mut g);
    let d = g.sub(x, y);
    let m = g.mul(d, d);
    let mut o = DotOptions {
        title: Some("say \"hi\"".to_string()),
        ..DotOptions::default()
    };
    o.node_notes.insert(m, "value = 4".to_string());
    o.edge_labels.insert((d, 0), "1".to_string());
    let out = dot(&g, &[m], &o);
    assert!(out.contains("label=\"say \\\"hi\\\"\""), "{out}");
    assert!(out.contains("n0 [label=\"x\"];"), "{out}");
    assert!(out.contains("n0 -> n3 [label=\"0: 1\"];"), "{out}");
    assert!(out.contains("n1 -> n3 [label=\"1\"];"), "{out}");
    assert_eq!(out.matches("n3 -> n4;").count(), 2, "{out}");
    assert!(
        out.contains("n4 [label=\"*\\nvalue = 4\", peripheries=2];"),
        "{out}"
    );
}

#[test]
fn deep_and_wide_graphs_print_on_a_small_stack() {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let mut g = Graph::new();
            let mut s = g.var("x");
            for _ in 0..100_000 {
                s = g.func(Func::Sin, s);
            }
            let t = text(&g, &[s]).formula(0);
            assert_eq!(t.len(), 100_000 * 5 + 1);
            assert!(latex(&g, &[s]).formula(0).starts_with("\\sin\\left(\\sin"));
            assert_eq!(parens(&g, s).len(), t.len());
            assert!(dot(&g, &[s], &DotOptions::default()).len() > 100_000);
            let xs: Vec<NodeId> = (0..10).map(|i| g.var(&format!("y{i}"))).collect();
            let mut w = xs[0];
            for i in 1..100_000 {
                w = g.add(w, xs[i % 10]);
            }
            assert!(text(&g, &[w]).formula(0).ends_with("y8 + y9"));
            assert!(parens(&g, w).starts_with("(((("));
            let r = crate::simplify::simplify(&mut g, &[w])[0];
            // A graph of more than 200,000 nodes keeps the canonical form
            // (no common factor taken out of the sum: see `simplify::factor`).
            assert_eq!(
                text(&g, &[r]).formula(0),
                "10000*y0 + 10000*y1 + 10000*y2 + 10000*y3 + 10000*y4 + 10000*y5 + 10000*y6 + 10000*y7 + 10000*y8 + 10000*y9"
            );
        })
        .unwrap()
        .join()
        .unwrap();
}

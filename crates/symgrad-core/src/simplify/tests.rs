//! Tests of simplification: the seed derivatives, canonical order,
//! idempotence, numerical equivalence and linear cost on huge inputs.

use super::simplify;
use crate::graph::{Func, Graph, NodeId, Op};
use crate::num::Num;
use crate::print;
use proptest::prelude::*;

/// Simplifies `root` and checks the printed canonical form.
fn check(g: &mut Graph, root: NodeId, expect: &str) {
    let s = simplify(g, &[root])[0];
    assert_eq!(print::text(g, &[s]).formula(0), expect);
    assert_eq!(simplify(g, &[s]), vec![s], "idempotent");
}

/// Evaluates `root` bottom-up at `vals` (indexed by variable number).
fn eval(g: &Graph, root: NodeId, vals: &[f64]) -> f64 {
    let mut v = vec![0.0; g.len()];
    for id in g.reachable(&[root]) {
        let a: Vec<f64> = g.args(id).iter().map(|a| v[a.index()]).collect();
        v[id.index()] = match g.op(id) {
            Op::Const(n) => n.to_f64(),
            Op::Named(c) => c.value(),
            Op::Var(i) => vals[i as usize],
            Op::Add => a.iter().sum(),
            Op::Mul => a.iter().product(),
            Op::Sub => a[0] - a[1],
            Op::Div => a[0] / a[1],
            Op::Neg => -a[0],
            Op::Pow => a[0].powf(a[1]),
            Op::Max => a[0].max(a[1]),
            Op::Min => a[0].min(a[1]),
            Op::Atan2 => a[0].atan2(a[1]),
            Op::Func(f) => f.eval(a[0]),
            op => panic!("{op:?} is not a scalar operation"),
        };
    }
    v[root.index()]
}

#[test]
fn seed_gradient_of_x2y_plus_y_plus_2() {
    let mut g = Graph::new();
    let x = g.var("x");
    let y = g.var("y");
    // d/dx as reverse mode builds it: y * (2*x).
    let two = g.int(2);
    let tx = g.mul(two, x);
    let dx = g.mul(y, tx);
    check(&mut g, dx, "2*x*y");
    // d/dy: 1 + x^2*1 (the builder folds the *1).
    let one = g.int(1);
    let x2 = g.powi(x, 2);
    let x21 = g.mul(x2, one);
    let dy = g.add(one, x21);
    check(&mut g, dy, "x^2 + 1");
}

#[test]
fn derivative_of_cos_w2() {
    let mut g = Graph::new();
    let w = g.var("w");
    let w2 = g.powi(w, 2);
    let s = g.func(Func::Sin, w2);
    let ns = g.neg(s);
    let two = g.int(2);
    let tw = g.mul(two, w);
    let d = g.mul(ns, tw);
    check(&mut g, d, "-2*w*sin(w^2)");
}

#[test]
fn product_network_of_depth_5() {
    let mut g = Graph::new();
    let w = g.var("w");
    let mut h = w;
    for _ in 0..5 {
        h = g.mul(h, h);
    }
    check(&mut g, h, "w^32");
    // The gradient: 32 products of 31 w's, each times 1.
    let one = g.int(1);
    let mut sum = None;
    for _ in 0..32 {
        let mut p = one;
        for _ in 0..31 {
            p = g.intern(Op::Mul, [p, w].into_iter().collect());
        }
        sum = Some(match sum {
            None => p,
            Some(s) => g.add(s, p),
        });
    }
    check(&mut g, sum.unwrap(), "32*w^31");
}

#[test]
fn like_terms_and_factors() {
    let mut g = Graph::new();
    let x = g.var("x");
    let y = g.var("y");
    let xx = g.add(x, x);
    check(&mut g, xx, "2*x");
    let xmx = g.sub(x, x);
    check(&mut g, xmx, "0");
    let xtx = g.mul(x, x);
    check(&mut g, xtx, "x^2");
    let x2 = g.powi(x, 2);
    let x3 = g.mul(x2, x);
    check(&mut g, x3, "x^3");
    let xi = g.powi(x, -1);
    let one = g.mul(x, xi);
    check(&mut g, one, "1");
    // 2*x*y + 3*y*x = 5*x*y
    let (two, three) = (g.int(2), g.int(3));
    let a = g.mul(two, x);
    let a = g.mul(a, y);
    let b = g.mul(three, y);
    let b = g.mul(b, x);
    let s = g.add(a, b);
    check(&mut g, s, "5*x*y");
    // (x^2)^3 = x^6, x/y^2 stays a quotient, 2*(x+1) is distributed (as
    // SymPy does): the sum's normal form, and no longer.
    let p = g.powi(x2, 3);
    check(&mut g, p, "x^6");
    let y2 = g.powi(y, 2);
    let q = g.div(x, y2);
    check(&mut g, q, "x/y^2");
    let x1 = g.add(x, one);
    let e = g.mul(two, x1);
    check(&mut g, e, "2*x + 2");
    // x - 2*y, 3*x/2, sin(0) folds.
    let ty = g.mul(two, y);
    let d = g.sub(x, ty);
    check(&mut g, d, "x - 2*y");
    let tx = g.mul(three, x);
    let h = g.div(tx, two);
    check(&mut g, h, "3*x/2");
    let zero = g.int(0);
    let xz = g.mul(x, zero);
    let s0 = g.func(Func::Sin, xz);
    let s0 = g.add(s0, y);
    check(&mut g, s0, "y");
    let r = g.func(Func::Sqrt, x);
    let rr = g.mul(r, r);
    check(&mut g, rr, "x");
    // Higher degree first, constant last.
    let five = g.int(5);
    let s = g.add(five, x);
    let s = g.add(s, x3);
    let s = g.add(s, xtx);
    check(&mut g, s, "x^3 + x^2 + x + 5");
}

#[test]
fn shared_sum_stays_one_node() {
    let mut g = Graph::new();
    let xs: Vec<NodeId> = (0..5).map(|i| g.var(&format!("x{i}"))).collect();
    let s = xs[1..].iter().fold(xs[0], |acc, &x| g.add(acc, x));
    let a = g.add(s, xs[0]);
    let b = g.func(Func::Sin, s);
    let r = g.mul(a, b);
    let r = simplify(&mut g, &[r])[0];
    // The five-term sum is used twice, so it is not flattened into its user.
    assert_eq!(
        print::parens(&g, r),
        "sin(x0 + x1 + x2 + x3 + x4) * (x0 + (x0 + x1 + x2 + x3 + x4))"
    );
}

#[test]
fn small_shared_sums_merge_into_their_users() {
    let mut g = Graph::new();
    let x = g.var("x");
    let y = g.var("y");
    let s = g.add(x, y);
    let a = g.add(s, x);
    let b = g.func(Func::Sin, s);
    let r = g.mul(a, b);
    let r = simplify(&mut g, &[r])[0];
    // x + y is shared but small: merging it costs nothing and combines x + x.
    assert_eq!(print::parens(&g, r), "sin(x + y) * ((2 * x) + y)");
}

#[test]
fn a_chain_of_100000_additions_is_linear() {
    let mut g = Graph::new();
    let xs: Vec<NodeId> = (0..10).map(|i| g.var(&format!("x{i}"))).collect();
    let mut s = xs[0];
    for i in 1..100_000 {
        s = g.add(s, xs[i % 10]);
    }
    let start = std::time::Instant::now();
    let r = simplify(&mut g, &[s])[0];
    assert!(start.elapsed().as_secs_f64() < 1.0, "{:?}", start.elapsed());
    // 10000 of each variable: the common coefficient comes out of the sum.
    assert_eq!(g.op(r), Op::Mul);
    assert_eq!(g.as_const(g.args(r)[0]), Some(Num::int(10_000)));
    let sum = g.args(r)[1];
    assert_eq!(g.args(sum).len(), 10);
    assert_eq!(g.as_const(g.args(sum)[0]), None);
    let mut h = Graph::new();
    let mut s = h.var("x");
    for _ in 0..100_000 {
        s = h.func(Func::Sin, s);
    }
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let r = simplify(&mut h, &[s])[0];
            assert_eq!(r, s);
        })
        .unwrap()
        .join()
        .unwrap();
}

/// A random expression over x, y, z as a list of build steps, so that the same
/// expression can be built twice.
#[derive(Clone, Debug)]
enum Step {
    Leaf(u8),
    Int(i8),
    Bin(u8, usize, usize),
    Un(u8, usize),
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        (0u8..3).prop_map(Step::Leaf),
        (-3i8..4).prop_map(Step::Int),
        (0u8..6, any::<usize>(), any::<usize>()).prop_map(|(o, a, b)| Step::Bin(o, a, b)),
        (0u8..4, any::<usize>()).prop_map(|(o, a)| Step::Un(o, a)),
    ];
    prop::collection::vec(step, 1..25)
}

/// Builds the steps; with `commute`, sums and products take their operands in
/// the other order.
fn build(g: &mut Graph, steps: &[Step], commute: bool) -> NodeId {
    let vars = [g.var("x"), g.var("y"), g.var("z")];
    let mut made: Vec<NodeId> = Vec::new();
    for st in steps {
        let pick = |i: usize, made: &[NodeId]| {
            if made.is_empty() {
                vars[i % 3]
            } else {
                made[i % made.len()]
            }
        };
        let n = match *st {
            Step::Leaf(v) => vars[v as usize],
            Step::Int(k) => g.int(k as i64),
            Step::Bin(o, a, b) => {
                let k = (b % 4) as i64 - 1;
                let (a, b) = (pick(a, &made), pick(b, &made));
                let (c, d) = if commute { (b, a) } else { (a, b) };
                match o {
                    0 => g.add(c, d),
                    1 => g.mul(c, d),
                    2 => g.sub(a, b),
                    3 => g.div(a, b),
                    4 => g.powi(a, k),
                    _ => {
                        let s = g.add(a, b);
                        let t = g.mul(d, c);
                        g.mul(s, t)
                    }
                }
            }
            Step::Un(o, a) => {
                let a = pick(a, &made);
                match o {
                    0 => g.neg(a),
                    1 => g.func(Func::Sin, a),
                    2 => g.func(Func::Exp, a),
                    _ => g.func(Func::Sqrt, a),
                }
            }
        };
        made.push(n);
    }
    *made.last().expect("at least one step")
}

proptest! {
    #[test]
    fn simplify_is_idempotent_and_order_independent(steps in steps()) {
        let mut g = Graph::new();
        let a = build(&mut g, &steps, false);
        let b = build(&mut g, &steps, true);
        let sa = simplify(&mut g, &[a])[0];
        let sb = simplify(&mut g, &[b])[0];
        prop_assert_eq!(simplify(&mut g, &[sa]), vec![sa]);
        prop_assert_eq!(sa, sb, "{} vs {}", print::parens(&g, sa), print::parens(&g, sb));
    }

    #[test]
    fn simplify_keeps_the_value(steps in steps(), xs in prop::array::uniform3(-3.0f64..3.0)) {
        let mut g = Graph::new();
        let a = build(&mut g, &steps, false);
        let s = simplify(&mut g, &[a])[0];
        let (u, v) = (eval(&g, a, &xs), eval(&g, s, &xs));
        if u.is_finite() && v.is_finite() {
            prop_assert!(agrees(&g, a, &xs, v),
                "{} = {} but {} = {}", print::parens(&g, a), u, print::parens(&g, s), v);
        }
    }
}

/// Relative size of the input changes in [`agrees`].
const INPUT_CHANGE: f64 = 1e-9;

/// Whether `v` is the value of `a` at `xs`, as well as floating point can
/// tell: to 1e-9 relative, or within what changing each input by 1e-9 of
/// itself does to `a` (the spread: a backward error of 1e-9). An equivalent
/// form is evaluated with other roundings, and where `a` is ill-conditioned
/// (`sin` of an argument near 1e18) those differ by far more than 1e-9 of
/// the value. Where the spread is a tenth of the values' size or more, the
/// value is not determined at that resolution at all (a sample of the
/// spread then only sees part of the range), and nothing is compared. A
/// wrong simplification at a well-conditioned point is still caught.
fn agrees(g: &Graph, a: NodeId, xs: &[f64], v: f64) -> bool {
    let u = eval(g, a, xs);
    let scale = u.abs().max(v.abs()).max(1.0);
    if (u - v).abs() <= 1e-9 * scale {
        return true;
    }
    let mut spread = 0.0f64;
    for i in 0..xs.len() {
        for sign in [-1.0, 1.0] {
            let mut p = xs.to_vec();
            p[i] += sign * INPUT_CHANGE * xs[i].abs().max(f64::MIN_POSITIVE);
            let w = eval(g, a, &p);
            if !w.is_finite() {
                // A pole or a branch within the change: nothing to compare.
                return true;
            }
            spread = spread.max((w - u).abs());
        }
    }
    (u - v).abs() <= spread || spread >= 0.1 * scale
}

/// A case proptest found: `sin(y/z + exp(16·y⁹/z⁹))` simplified, where the
/// argument of sin is about 4e18 and its last bit is worth 512, so
/// the two forms' values differ by O(1) although the forms are equal.
/// Conditioning accounts for it; a real difference at a well-conditioned
/// point does not pass.
#[test]
fn values_are_compared_as_well_as_the_conditioning_allows() {
    let mut g = Graph::new();
    let (y, z) = (g.var("y"), g.var("z"));
    let t = g.div(y, z);
    let t9 = g.powi(t, 9);
    let sixteen = g.int(16);
    let k = g.mul(sixteen, t9);
    let e = g.func(Func::Exp, k);
    let arg = g.add(t, e);
    let a = g.func(Func::Sin, arg);
    let s = simplify(&mut g, &[a])[0];
    assert_eq!(
        print::text(&g, &[s]).formula(0),
        "sin(y/z + exp(16*y^9/z^9))"
    );
    // y/z = 1.116: 16·(y/z)⁹ = 42.9, exp of it 4.2e18.
    let xs = [1.06, 0.95];
    let (u, v) = (eval(&g, a, &xs), eval(&g, s, &xs));
    assert!(u.is_finite() && v.is_finite());
    // The roundings differ by a few units in the last place of the
    // argument (512 at 4.2e18), so the values are unrelated, and a relative
    // tolerance alone fails; the change the tolerance allows in y moves
    // the argument by about 1e12.
    assert!((u - v).abs() > 1e-9, "{u} vs {v}");
    assert!(agrees(&g, a, &xs, v), "{u} vs {v}");
    // 1e-6 off is another value at a tame point; where the argument is
    // 493, the spread is 3e-5: 1e-5 off is within it, 1e-3 off is not.
    for (tame, off, within) in [
        ([0.3, 1.0], 1e-6, false),
        ([0.9, 1.0], 1e-5, true),
        ([0.9, 1.0], 1e-3, false),
    ] {
        let w = eval(&g, s, &tame);
        assert!(agrees(&g, a, &tame, w), "{tame:?}");
        assert_eq!(agrees(&g, a, &tame, w + off), within, "{tame:?} {off}");
    }
}

#[test]
fn exact_coefficients() {
    let mut g = Graph::new();
    let x = g.var("x");
    let half = g.constant(Num::ratio(1, 2).unwrap());
    let h = g.mul(half, x);
    let s = g.add(h, h);
    check(&mut g, s, "x");
}

/// A case proptest found: one round left `x²√(x−y) + x(x−y)`, whose next
/// round factors out x; simplification now runs rounds until nothing changes.
#[test]
fn a_factored_sum_is_a_fixed_point() {
    let mut g = Graph::new();
    let (x, y) = (g.var("x"), g.var("y"));
    let d = g.sub(x, y);
    let r = g.func(Func::Sqrt, d);
    let s = g.add(x, r);
    let t = g.mul(r, x);
    let e = g.mul(s, t);
    let once = simplify(&mut g, &[e])[0];
    assert_eq!(
        simplify(&mut g, &[once])[0],
        once,
        "{}",
        print::parens(&g, once)
    );
}

/// As in Shubert's derivative, forward mode's `-(20·sin(x) + 2·sin(y))·S`
/// and reverse mode's `-2·(10·sin(x) + sin(y))·S` cost the same (the
/// coefficient's product is the one `2·sin(y)` loses); the form with the
/// numeric content taken out of the sum wins the tie, so both print it. A number times a sum alone keeps its normal form.
#[test]
fn the_numeric_content_of_a_sum_in_a_product_wins_ties() {
    let mut g = Graph::new();
    let (x, y) = (g.var("x"), g.var("y"));
    let (sx, sy) = (g.func(Func::Sin, x), g.func(Func::Sin, y));
    let (cx, cy) = (g.func(Func::Cos, x), g.func(Func::Cos, y));
    let k = |g: &mut Graph, n: i64, f: NodeId| {
        let c = g.int(n);
        g.mul(c, f)
    };
    let (a, b) = (k(&mut g, 20, sx), k(&mut g, 2, sy));
    let wide = g.add(a, b);
    let a = k(&mut g, 10, sx);
    let narrow = g.add(a, sy);
    let other = g.add(cx, cy);
    let p = g.mul(wide, other);
    let forward = g.neg(p);
    let p = g.mul(narrow, other);
    let reverse = k(&mut g, -2, p);
    let r = simplify(&mut g, &[forward, reverse]);
    assert_eq!(
        r[0],
        r[1],
        "{} vs {}",
        print::parens(&g, r[0]),
        print::parens(&g, r[1])
    );
    assert_eq!(
        print::text(&g, &[r[0]]).formula(0),
        "-2*(cos(x) + cos(y))*(10*sin(x) + sin(y))"
    );
    // 2·(x + 1) is 2·x + 2, as SymPy prints it.
    let one = g.int(1);
    let s = g.add(x, one);
    let e = k(&mut g, 2, s);
    check(&mut g, e, "2*x + 2");
}

/// Zettl's ∂/∂x expanded, `4x³ + 4xy² - 12x² - 4y² + 8x`, is shorter with
/// the factor x grouped out of the terms that have it, and again inside: a
/// form of the normal form, so every mode that reaches the normal form
/// reaches it too.
#[test]
fn a_polynomial_groups_its_shared_factors() {
    let mut g = Graph::new();
    let (x, y) = (g.var("x"), g.var("y"));
    let k = |g: &mut Graph, n: i64, f: NodeId| {
        let c = g.int(n);
        g.mul(c, f)
    };
    let x2 = g.powi(x, 2);
    let x3 = g.powi(x, 3);
    let y2 = g.powi(y, 2);
    let xy2 = g.mul(x, y2);
    let terms = [
        k(&mut g, 4, x3),
        k(&mut g, 4, xy2),
        k(&mut g, -12, x2),
        k(&mut g, -4, y2),
        k(&mut g, 8, x),
    ];
    let mut s = terms[0];
    for &t in &terms[1..] {
        s = g.add(s, t);
    }
    check(&mut g, s, "4*(x*(x*(x - 3) + y^2 + 2) - y^2)");
}

/// A polynomial in one variable keeps its expanded form: Horner's
/// grouping (`x*(x + 3) + 2`) would be one operation shorter but is not
/// what a reader expects, and the modes meet on the expansion anyway.
#[test]
fn a_polynomial_in_one_variable_is_not_written_by_horner() {
    let mut g = Graph::new();
    let x = g.var("x");
    let x2 = g.powi(x, 2);
    let three = g.int(3);
    let two = g.int(2);
    let t = g.mul(three, x);
    let s = g.add(x2, t);
    let s = g.add(s, two);
    check(&mut g, s, "x^2 + 3*x + 2");
    let mut g = Graph::new();
    let x = g.var("x");
    let one = g.int(1);
    let two = g.int(2);
    let three = g.int(3);
    let (a, b, c) = (g.add(x, one), g.add(x, two), g.add(x, three));
    let p = g.mul(a, b);
    let p = g.mul(p, c);
    let d = crate::diff::reverse::gradient(&mut g, p, &[x]).0[0];
    check(&mut g, d, "3*x^2 + 12*x + 11");
}

/// Zettl's ∂/∂x as reverse mode builds it, `4t·x - 4t + 1/4` with
/// `t = x² + y² - 2x`, has its `-4t` spread into the sum by the canonical
/// form; gathered back (`regroup`), `t` is grouped out of both terms, and
/// the result is forward mode's `4(x - 1)·t + 1/4`.
#[test]
fn a_spread_multiple_of_a_small_sum_is_gathered_back() {
    let build = |g: &mut Graph, forward: bool| {
        let (x, y) = (g.var("x"), g.var("y"));
        let x2 = g.powi(x, 2);
        let y2 = g.powi(y, 2);
        let two = g.int(2);
        let tx = g.mul(two, x);
        let t = g.add(x2, y2);
        let t = g.sub(t, tx);
        let four = g.int(4);
        let quarter = g.constant(Num::ratio(1, 4).expect("a ratio"));
        let four_t = g.mul(four, t);
        let d = if forward {
            // 2t·(2x - 2)
            let two_x = g.mul(two, x);
            let inner = g.sub(two_x, two);
            let two_t = g.mul(two, t);
            g.mul(two_t, inner)
        } else {
            let a = g.mul(four_t, x);
            g.sub(a, four_t)
        };
        g.add(d, quarter)
    };
    let mut g = Graph::new();
    let (r, f) = (build(&mut g, false), build(&mut g, true));
    let s = simplify(&mut g, &[r, f]);
    assert_eq!(s[0], s[1], "{}", print::parens(&g, s[0]));
    check(&mut g, r, "4*(x - 1)*(x*(x - 2) + y^2) + 1/4");
}

/// A negative coefficient goes into a sum factor with terms of both signs
/// (one negation fewer), whichever sign the sum was built with.
#[test]
fn a_negative_coefficient_goes_into_a_mixed_sum() {
    let mut g = Graph::new();
    let (k, x, y) = (g.var("k"), g.var("x"), g.var("y"));
    let s = g.sub(x, y);
    let p = g.mul(k, s);
    let a = g.neg(p);
    let t = g.sub(y, x);
    let b = g.mul(k, t);
    let r = simplify(&mut g, &[a, b]);
    assert_eq!(r[0], r[1]);
    check(&mut g, a, "k*(y - x)");
    // A sum of one sign keeps its positive form and the minus sign.
    let s = g.add(x, y);
    let p = g.mul(k, s);
    let c = g.neg(p);
    check(&mut g, c, "-k*(x + y)");
}

/// Each root is simplified on its own: a root prints the same whether or
/// not another root shares its nodes.
#[test]
fn a_root_does_not_depend_on_the_other_roots() {
    let mut g = Graph::new();
    let (x, y) = (g.var("x"), g.var("y"));
    let s = g.add(x, y);
    let two = g.int(2);
    let t = g.mul(two, s);
    let a = g.add(t, x);
    let alone = simplify(&mut g, &[a])[0];
    let together = simplify(&mut g, &[a, t]);
    assert_eq!(together[0], alone);
}

//! The network language as a tree: spans on every node, the new forms
//! (recurrences, steps, blocks) and their errors, tree-to-tree expansion,
//! and the round trip through `net expand`'s text.

use super::syntax::{parse_file, BlockKind, File, InitSyntax, LayerKind, Origin, StmtKind};
use super::*;
use crate::parse::ast::{BinOp, ExprKind};

/// The text of `src` at span `s`.
fn at(src: &str, s: Span) -> &str {
    &src[s.start..s.end]
}

fn tree(src: &str) -> File {
    parse_file(src).unwrap_or_else(|e| panic!("{}", e.render(src)))
}

fn tree_err(src: &str) -> Error {
    parse_file(src).expect_err("the file is bad")
}

const NIELSEN: &str = "# Nielsen\ninput  x[784]\ntarget y[10]\n\
                       param  W1[30, 784] ~ normal(0, 1/sqrt(784))\n\
                       param  b1[30] = 0.1*i\n\
                       z1 = W1 @ x + b1\nloss = sum((sigmoid(z1) - y)^2) / 2\n";

#[test]
fn every_node_of_the_tree_keeps_its_span() {
    let src = NIELSEN;
    let file = tree(src);
    assert_eq!(file.stmts.len(), 6);
    let texts: Vec<&str> = file.stmts.iter().map(|s| at(src, s.span)).collect();
    assert_eq!(
        texts,
        [
            "input  x[784]",
            "target y[10]",
            "param  W1[30, 784] ~ normal(0, 1/sqrt(784))",
            "param  b1[30] = 0.1*i",
            "z1 = W1 @ x + b1",
            "loss = sum((sigmoid(z1) - y)^2) / 2",
        ]
    );
    assert!(file.stmts.iter().all(|s| s.origin == Origin::Written));
    let StmtKind::Decl(w) = &file.stmts[2].kind else {
        panic!("a declaration")
    };
    assert_eq!((w.role, w.dims.as_slice()), (Role::Param, &[30, 784][..]));
    assert_eq!(at(src, w.name.span), "W1");
    assert_eq!(at(src, w.shape_span), "[30, 784]");
    let Some(InitSyntax::Random { dist, args, call }) = &w.init else {
        panic!("a random initializer")
    };
    assert_eq!(at(src, dist.span), "normal");
    assert_eq!(at(src, *call), "normal(0, 1/sqrt(784))");
    let args: Vec<&str> = args
        .iter()
        .map(|a| at(src, file.exprs.get(*a).span))
        .collect();
    assert_eq!(args, ["0", "1/sqrt(784)"]);
    let StmtKind::Decl(b) = &file.stmts[3].kind else {
        panic!("a declaration")
    };
    let Some(InitSyntax::Formula { value, span }) = &b.init else {
        panic!("an index formula")
    };
    assert_eq!(at(src, *span).trim(), "0.1*i");
    assert_eq!(at(src, file.exprs.get(*value).span), "0.1*i");
    // The equation's tree, node by node.
    let StmtKind::Equation(z) = &file.stmts[4].kind else {
        panic!("an equation")
    };
    assert_eq!(at(src, z.name.span), "z1");
    let e = &file.exprs;
    let ExprKind::Binary {
        op: BinOp::Add,
        op_span,
        lhs,
        rhs,
    } = &e.get(z.value).kind
    else {
        panic!("a sum")
    };
    assert_eq!(at(src, e.get(z.value).span), "W1 @ x + b1");
    assert_eq!(at(src, *op_span), "+");
    assert_eq!(at(src, e.get(*lhs).span), "W1 @ x");
    assert!(matches!(
        e.get(*lhs).kind,
        ExprKind::Binary {
            op: BinOp::MatMul,
            ..
        }
    ));
    assert_eq!(at(src, e.get(*rhs).span), "b1");
    // Every node of the loss has a span inside the loss's statement, and
    // calls, parentheses and powers cover their text.
    let StmtKind::Equation(loss) = &file.stmts[5].kind else {
        panic!("an equation")
    };
    let mut seen = Vec::new();
    for id in e.subtree(loss.value) {
        let s = e.get(id).span;
        assert!(file.stmts[5].span.start <= s.start && s.end <= file.stmts[5].span.end);
        seen.push(at(src, s));
    }
    for text in [
        "sum((sigmoid(z1) - y)^2)",
        "(sigmoid(z1) - y)",
        "(sigmoid(z1) - y)^2",
        "sigmoid(z1)",
        "sum((sigmoid(z1) - y)^2) / 2",
    ] {
        assert!(seen.contains(&text), "{text} in {seen:?}");
    }
}

const RNN: &str = "input  v[8, 8]\ntarget y[10]\n\
                   h[0] = tanh(Win @ v[0] + b)\n\
                   h[t] = tanh(Win @ v[t] + Wrec @ h[t-1] + b)   for t in 1..8\n\
                   p = softmax(Wout @ h[7] + c)\nloss = cross_entropy(p, y)\n";

#[test]
fn recurrences_and_steps_are_read_into_the_tree() {
    let src = RNN;
    let file = tree(src);
    let StmtKind::Step(step) = &file.stmts[2].kind else {
        panic!("a step")
    };
    assert_eq!((step.name.name.as_str(), step.step), ("h", 0));
    assert_eq!(at(src, step.index_span), "[0]");
    let StmtKind::Recurrence(r) = &file.stmts[3].kind else {
        panic!("a recurrence")
    };
    assert_eq!((r.name.name.as_str(), r.var.name.as_str()), ("h", "t"));
    assert_eq!((r.start, r.end), (1, 8));
    assert_eq!(at(src, r.range_span), "1..8");
    assert_eq!(
        at(src, file.exprs.get(r.value).span),
        "tanh(Win @ v[t] + Wrec @ h[t-1] + b)"
    );
    assert_eq!(
        at(src, file.stmts[3].span),
        "h[t] = tanh(Win @ v[t] + Wrec @ h[t-1] + b)   for t in 1..8"
    );
    let indexed: Vec<&str> = file
        .exprs
        .subtree(r.value)
        .into_iter()
        .filter(|&id| matches!(file.exprs.get(id).kind, ExprKind::Index { .. }))
        .map(|id| at(src, file.exprs.get(id).span))
        .collect();
    assert_eq!(indexed, ["v[t]", "h[t-1]"]);
    // `net expand` keeps them as written (they are no shorthand).
    assert_eq!(shorthand::expand(src).unwrap(), src);
    // The graph builder unrolls them: one equation per step, h[0] to h[7],
    // in order, and the prediction reads the last.
    let declared = format!(
        "{src}param Win[4, 8] = 0\nparam Wrec[4, 4] = 0\nparam b[4] = 0\n\
         param Wout[10, 4] = 0\nparam c[10] = 0\n"
    );
    let net = parse_network(&declared).unwrap();
    let steps: Vec<&str> = net
        .equations
        .iter()
        .map(|e| e.name.as_str())
        .filter(|n| n.starts_with("h["))
        .collect();
    assert_eq!(
        steps,
        ["h[0]", "h[1]", "h[2]", "h[3]", "h[4]", "h[5]", "h[6]", "h[7]"]
    );
    // Constant indexing in an ordinary equation is built: it selects along
    // the first axis; out of range it is a shape error under the index.
    let net = parse_network("input v[3, 2]\nloss = sum(v[1])\n").unwrap();
    let select = net.graph.args(net.loss)[0];
    assert_eq!(
        net.graph.op(select),
        crate::graph::Op::Select { axis: 0, at: 1 }
    );
    assert_eq!(net.graph.shape(select).dims(), [2]);
    let src = "input v[3, 2]\nloss = sum(v[3])\n";
    let e = parse_network(src).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shape);
    assert_eq!(at(src, e.span().unwrap()), "v[3]");
}

#[test]
fn blocks_are_read_into_the_tree() {
    let src =
        "input x[4]\nresidual\n  dense 4 relu\n  dense 4 identity\nend relu\nloss = sum(a2)\n";
    let file = tree(src);
    let StmtKind::Block(b) = &file.stmts[1].kind else {
        panic!("a block")
    };
    assert_eq!(b.kind, BlockKind::Residual);
    assert_eq!(at(src, b.open), "residual");
    assert_eq!(at(src, b.close), "end relu");
    assert_eq!(b.activation.as_ref().map(|a| a.name.as_str()), Some("relu"));
    let body: Vec<&str> = b.body.iter().map(|s| at(src, s.span)).collect();
    assert_eq!(body, ["dense 4 relu", "dense 4 identity"]);
    assert!(matches!(
        &b.body[0].kind,
        StmtKind::Layer(l) if matches!(l.kind, LayerKind::Dense { width: 4, .. })
    ));
    assert_eq!(
        at(src, file.stmts[1].span),
        "residual\n  dense 4 relu\n  dense 4 identity\nend relu"
    );
    // Nested, and `end` without an activation.
    let nested = tree("residual\nresidual\nend\nend\n");
    let StmtKind::Block(outer) = &nested.stmts[0].kind else {
        panic!("a block")
    };
    assert!(matches!(outer.body[0].kind, StmtKind::Block(_)));
    assert!(outer.activation.is_none());
    // Nesting past the depth limit is refused, not recursed into.
    let deep = "residual\n".repeat(crate::parse::MAX_DEPTH + 1);
    assert_eq!(tree_err(&deep).kind(), ErrorKind::TooDeep);
    // Expansion: the body's layers from the block's input, then the skip
    // connection res1 = relu(a2 + x) as the current layer output.
    let net = parse_network(src).unwrap();
    let names: Vec<&str> = net.equations.iter().map(|e| e.name.as_str()).collect();
    for name in ["z1", "a1", "z2", "a2", "res1", "loss"] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let expanded = shorthand::expand(src).unwrap();
    assert!(expanded.contains("res1 = relu(a2 + x)"), "{expanded}");
    assert!(expanded.contains("# residual\n"), "{expanded}");
    // The expanded text reads back to the same network.
    let again = parse_network(&expanded).unwrap();
    assert_eq!(again.graph.len(), net.graph.len());
    assert_eq!(shorthand::expand(&expanded).unwrap(), expanded);
    // The skip connection needs one shape; a block needs a layer.
    let bad = "input x[4]\nresidual\n  dense 3 relu\nend relu\nloss = sum(res1)\n";
    let e = parse_network(bad).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shape);
    assert_eq!(at(bad, e.span().unwrap()), "end relu");
    let empty = "input x[4]\nresidual\nend\nloss = sum(x)\n";
    let e = parse_network(empty).unwrap_err();
    assert!(
        e.message().contains("at least one layer"),
        "{}",
        e.message()
    );
}

#[test]
fn bad_blocks_ranges_and_reads_are_spanned() {
    let h0 = "input v[8, 2]\nh[0] = sum(v[0])\n";
    let cases: Vec<(String, &str, &str)> = vec![
        (
            "input x[4]\nresidual\n  dense 4 relu\nloss = sum(a1)\n".into(),
            "residual",
            "unclosed 'residual' block",
        ),
        (
            "input x[4]\nresidual\nresidual\nend\n".into(),
            "residual",
            "unclosed 'residual' block",
        ),
        ("input x[4]\nend relu\n".into(), "end relu", "'end' without"),
        (
            "residual\nend gelu\n".into(),
            "gelu",
            "expected an activation after 'end'",
        ),
        (
            format!("{h0}h[t] = h[t-1] + 1 for t in 5..2\n"),
            "5..2",
            "the range 5..2 is empty",
        ),
        (
            format!("{h0}h[t] = h[t-1] + 1 for t in 3..3\n"),
            "3..3",
            "is empty",
        ),
        (
            format!("{h0}h[t] = h[t-1] + 1 for s in 1..8\n"),
            "s",
            "is not the index 't'",
        ),
        (format!("{h0}h[t] = h[t-1] + 1\n"), "\n", "needs its range"),
        (
            format!("{h0}h[t] = h[t-1] + 1 for t in 1..x\n"),
            "x",
            "non-negative integers",
        ),
        (
            format!("{h0}h[t] = h[t-1] + 1 for t in 1.8\n"),
            "1.8",
            "non-negative integers",
        ),
        (
            format!("{h0}h[t] = h[t-1] + 1 for t in 1..8 extra\n"),
            "extra",
            "end of the line after the range",
        ),
        (
            format!("{h0}z = h[0] + 1 for t in 1..8\n"),
            "for",
            "only an indexed equation",
        ),
        // Reads of steps that are not defined (yet).
        (
            format!("{h0}h[t] = h[t] + 1 for t in 1..8\n"),
            "h[t]",
            "reads step t of 'h', which is not defined yet",
        ),
        (
            format!("{h0}h[t] = h[t+1] + 1 for t in 1..8\n"),
            "h[t+1]",
            "not defined yet",
        ),
        (
            "input v[8, 2]\nh[t] = h[t-1] + sum(v[t]) for t in 1..8\n".into(),
            "h[t-1]",
            "this reads h[0] at t = 1, which no equation defines",
        ),
        (
            format!("{h0}h[t] = h[t-2] for t in 1..8\n"),
            "h[t-2]",
            "reads h[-1] at t = 1",
        ),
        (
            format!("{h0}h[t] = h[t-1] for t in 1..8\np = h[8]\n"),
            "h[8]",
            "reads h[8]",
        ),
        (
            format!("{h0}h[t] = h[t-1] + h[3] for t in 1..8\n"),
            "h[3]",
            "not defined yet",
        ),
        (
            format!("{h0}h[0] = 1\n"),
            "[0]",
            "h[0] is defined twice (first on line 2)",
        ),
        (
            format!("{h0}h[t] = h[t-1] for t in 0..8\n"),
            "0..8",
            "h[0] is defined twice",
        ),
        // Indices.
        (format!("{h0}p = v[t]\n"), "t", "no index variable here"),
        (
            format!("{h0}h[t] = h[u-1] for t in 1..8\n"),
            "u",
            "no index variable here",
        ),
        (
            format!("{h0}h[t] = h[2*t] for t in 1..8\n"),
            "2*t",
            "an index is a step number",
        ),
        (format!("{h0}p = (v)[0]\n"), "(v)[0]", "only a name"),
        (
            format!("h = 1\n{h0}"),
            "h",
            "'h' is defined here and as the indexed equation h[0] on line 3",
        ),
        ("input v[2]\nloss = sum(v[0)\n".into(), ")", "expected ']'"),
        ("input v[2]\nloss = v[0\n".into(), "[", "unclosed '['"),
        ("input v[2]\nloss = v[]\n".into(), "]", "expected an index"),
        (
            "input v[2]\nloss = v[0, 1]\n".into(),
            ",",
            "an index is one number",
        ),
        (
            "input v[2]\nh[-1] = 2\n".into(),
            "[-1]",
            "indexed equation is",
        ),
        (
            "input v[2]\nh[9223372036854775807] = 2\n".into(),
            "9223372036854775807",
            "a step is a non-negative integer",
        ),
        (
            format!("{h0}h[t] = h[t-1] for t in 1..9223372036854775807\n"),
            "9223372036854775807",
            "non-negative integers",
        ),
    ];
    for (src, under, message) in &cases {
        let e = tree_err(src);
        assert_eq!(e.kind(), ErrorKind::Syntax, "{src}");
        assert!(e.message().contains(message), "{src}: {}", e.message());
        let s = e.span().unwrap();
        assert_eq!(
            &src[s.start..s.end.max(s.start + 1)],
            *under,
            "{src}: {}",
            e.message()
        );
        // The network parser reports the same error.
        assert_eq!(parse_network(src).unwrap_err(), e, "{src}");
    }
}

#[test]
fn the_shorthand_expands_tree_to_tree() {
    let src =
        "input x[4]; target y[3]\ndense 5 tanh\nh = 2 * a1\ndense 3 softmax\nloss cross_entropy\n";
    let file = shorthand::expand_file(src, tree(src)).unwrap();
    let dense = Span::new(src.find("dense 5").unwrap(), src.find("\nh =").unwrap());
    let kinds: Vec<(String, Option<&str>)> = file
        .stmts
        .iter()
        .map(|s| {
            let from = match s.origin {
                Origin::Written => None,
                Origin::Shorthand(line) => Some(at(src, line)),
            };
            let what = match &s.kind {
                StmtKind::Decl(d) => format!("decl {}{:?}", d.name.name, d.dims),
                StmtKind::Equation(e) => {
                    format!("{} = {}", e.name.name, file.exprs.print(e.value, true))
                }
                _ => "other".to_string(),
            };
            (what, from)
        })
        .collect();
    let expected: Vec<(String, Option<&str>)> = vec![
        ("decl x[4]".into(), None),
        ("decl y[3]".into(), None),
        ("decl W1[5, 4]".into(), Some("dense 5 tanh")),
        ("decl b1[5]".into(), Some("dense 5 tanh")),
        ("z1 = W1 @ x + b1".into(), Some("dense 5 tanh")),
        ("a1 = tanh(z1)".into(), Some("dense 5 tanh")),
        ("h = 2 * a1".into(), None),
        ("decl W2[3, 5]".into(), Some("dense 3 softmax")),
        ("decl b2[3]".into(), Some("dense 3 softmax")),
        ("z2 = W2 @ a1 + b2".into(), Some("dense 3 softmax")),
        ("a2 = softmax(z2)".into(), Some("dense 3 softmax")),
        (
            "loss = cross_entropy(a2, y)".into(),
            Some("loss cross_entropy"),
        ),
    ];
    assert_eq!(kinds, expected);
    // Generated nodes carry the shorthand line's span; written ones their own.
    let StmtKind::Equation(z1) = &file.stmts[4].kind else {
        panic!("an equation")
    };
    for id in file.exprs.subtree(z1.value) {
        assert_eq!(file.exprs.get(id).span, dense);
    }
    let StmtKind::Equation(h) = &file.stmts[6].kind else {
        panic!("an equation")
    };
    assert_eq!(at(src, file.exprs.get(h.value).span), "2 * a1");
    // The generated initializer's standard deviation is 1/sqrt(fan-in).
    let StmtKind::Decl(w1) = &file.stmts[2].kind else {
        panic!("a declaration")
    };
    let Some(InitSyntax::Random { args, .. }) = &w1.init else {
        panic!("random")
    };
    assert_eq!(file.exprs.print(args[1], false), "1/sqrt(4)");
    // A file without shorthand is the same tree.
    let plain = tree(NIELSEN);
    let again = shorthand::expand_file(NIELSEN, tree(NIELSEN)).unwrap();
    assert_eq!(plain.exprs, again.exprs);
    assert_eq!(plain.stmts.len(), again.stmts.len());
}

/// Loss and gradient of `src` at its initializers from `seed`, on fixed
/// data with `inputs` input columns and a label column.
fn loss_and_gradient(src: &str, csv: &str) -> batch::LossAndGradient {
    let mut net = parse_network(src).unwrap_or_else(|e| panic!("{}", e.render(src)));
    let values = net.init_params(5);
    net.set_params(values).unwrap();
    let data = batch::read_csv(&net, csv).unwrap();
    batch::Evaluator::new(&net)
        .unwrap()
        .loss_and_gradient(&data.rows)
        .unwrap()
}

#[test]
fn expanded_text_parses_back_to_the_same_network() {
    let csv = "a,b,c,d,label\n0.1,0.9,-0.3,0.5,2\n1,0,0.25,-1,0\n";
    let files = [
        "input x[4]; target y[3]\ndense 5 tanh\ndense 3 softmax\nloss cross_entropy\n",
        "input x[4]\ntarget y[3]\ndense 6 relu # hidden\nh = 2 * a1\ndense 3 sigmoid\nloss quadratic\n",
        "input x[4]; target y[3]; dense 3 softplus; loss mse",
        "target y[3]\ninput x[4]\nparam V[3, 4] = 0.1*(i - j)\nu = V @ x\n\
         dense 3 identity\nloss = mse(a1, y) + sum(u^2)\n",
    ];
    for src in files {
        let text = shorthand::expand(src).unwrap();
        let (a, b) = (parse_network(src).unwrap(), parse_network(&text).unwrap());
        // The same graph: node for node, and the same declarations.
        assert_eq!(a.graph.len(), b.graph.len(), "{text}");
        assert_eq!(a.loss, b.loss, "{text}");
        for (x, y) in a.decls.iter().zip(&b.decls) {
            assert_eq!((&x.name, &x.shape, x.node), (&y.name, &y.shape, y.node));
            assert_eq!(x.init, y.init, "{}", x.name);
        }
        let names = |n: &Network| -> Vec<(String, NodeId)> {
            n.equations
                .iter()
                .map(|e| (e.name.clone(), e.node))
                .collect()
        };
        assert_eq!(names(&a), names(&b), "{text}");
        let (ra, rb) = (loss_and_gradient(src, csv), loss_and_gradient(&text, csv));
        assert!(ra.loss.is_finite());
        assert_eq!(ra.loss, rb.loss);
        assert_eq!(ra.gradient, rb.gradient);
        // The expansion has no shorthand left: expanding it again changes nothing.
        assert_eq!(shorthand::expand(&text).unwrap(), text);
    }
}

#[test]
fn equations_use_the_formula_grammar_without_implicit_products() {
    // Superscripts, `**`, unary minus and `·` are the formula syntax's.
    let a = parse_network("input x[3]\nloss = sum(-x² · 2) + sum(x**3)\n").unwrap();
    let b = parse_network("input x[3]\nloss = sum(-(x^2) * 2) + sum(x^3)\n").unwrap();
    assert_eq!(a.graph.len(), b.graph.len());
    // Implicit multiplication is a formula feature only.
    for (src, under) in [
        ("input x[3]\nloss = sum(2x)\n", "x"),
        ("input x[3]\nloss = sum(x) sum(x)\n", "sum"),
        ("input x[3]\nloss = max(x 2)\n", ""),
    ] {
        let e = parse_network(src).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Syntax, "{src}");
        let s = e.span().unwrap();
        assert_eq!(at(src, s), under, "{src}: {}", e.message());
    }
    let e = parse_network("input x[3]\nloss = sum(2x)\n").unwrap_err();
    assert!(
        e.message().contains("no implicit multiplication"),
        "{}",
        e.message()
    );
    // One depth check: an equation nested past the limit.
    let depth = crate::parse::MAX_DEPTH + 1;
    let src = format!(
        "input x[2]\nloss = sum({}x{})\n",
        "(".repeat(depth),
        ")".repeat(depth)
    );
    let e = parse_network(&src).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooDeep);
    assert!(
        e.message().contains("the equation nests deeper"),
        "{}",
        e.message()
    );
    // A long flat sum is no nesting and builds without recursion.
    let src = format!("input x[2]\nloss = sum(x{})\n", " + x".repeat(50_000));
    assert!(parse_network(&src).is_ok());
    // Keyword arguments are kept in the tree with their spans.
    let src = "input x[2, 3]\nloss = sum(mean(x, axis = 1))\n";
    let file = tree(src);
    let StmtKind::Equation(e) = &file.stmts[1].kind else {
        panic!("an equation")
    };
    let kw = file
        .exprs
        .subtree(e.value)
        .into_iter()
        .find_map(|id| match &file.exprs.get(id).kind {
            ExprKind::Call { keywords, .. } if !keywords.is_empty() => Some(keywords[0].clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!((&*kw.name, at(src, kw.span)), ("axis", "axis"));
    assert_eq!(at(src, file.exprs.get(kw.value).span), "1");
    let e = parse_network("input x[2]\nloss = sum(x, stride = 1)\n").unwrap_err();
    assert!(
        e.message().contains("takes no argument 'stride = ...'"),
        "{}",
        e.message()
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]
    /// The new forms, shuffled: a tree or an error, never a panic; and a
    /// tree's statements lie inside the file, in order.
    #[test]
    fn the_tree_parser_never_panics(
        src in "(input v\\[8, 2\\]|h|\\[|\\]|t|0|1|8|\\.\\.|for|in|=|-|\\+|@|residual|end|relu|dense 2 relu|\\(|\\)|sum|;|\n| ){0,30}"
    ) {
        if let Ok(file) = parse_file(&src) {
            let mut last = 0;
            for s in &file.stmts {
                proptest::prop_assert!(last <= s.span.start && s.span.end <= src.len());
                last = s.span.end;
            }
        }
        let _ = parse_network(&src);
        let _ = shorthand::expand(&src);
    }
}

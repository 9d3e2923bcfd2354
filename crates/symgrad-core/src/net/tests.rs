use super::*;

fn err(src: &str) -> Error {
    parse_network(src).expect_err("the file is bad")
}

const SMALL: &str = "input x[3]\ntarget y[2]\nparam W[2, 3] = 0.1*(i + 2*j)\nparam b[2] = 0\nz = W @ x + b\nloss = sum((z - y)^2) / 2\n";

#[test]
fn parses_declarations_equations_and_initializers() {
    let net = parse_network(SMALL).unwrap();
    assert_eq!(net.decls.len(), 4);
    assert_eq!(net.equations.len(), 2);
    let w = &net.decls[2];
    assert_eq!(w.shape, Shape::from([2, 3]));
    let Some(Init::Value(init)) = w.init.as_ref() else {
        panic!("an index formula is a fixed value")
    };
    assert_eq!(init.data, [0.0, 0.2, 0.4, 0.1, 0.30000000000000004, 0.5]);
    assert!(net.graph.is_scalar(net.loss));
}

#[test]
fn unknown_name_is_spanned() {
    let src = "input x[3]\nparam b[3] = 0\nloss = sum(x + c)\n";
    let e = err(src);
    assert_eq!(e.kind(), ErrorKind::UnknownVariable);
    let s = e.span().unwrap();
    assert_eq!(&src[s.start..s.end], "c");
}

#[test]
fn shape_mismatch_is_spanned() {
    let src = "input x[10]\nparam W[30, 784] = 0\nloss = sum(W @ x)\n";
    let e = err(src);
    assert_eq!(e.kind(), ErrorKind::Shape);
    assert_eq!(e.message(), "cannot multiply [30, 784] by [10]");
    let s = e.span().unwrap();
    assert_eq!(&src[s.start..s.end], "W @ x");
}

#[test]
fn missing_loss_and_duplicates_are_errors() {
    let e = err("input x[3]\nz = sum(x)\n");
    assert_eq!(e.kind(), ErrorKind::Syntax);
    assert!(e.message().contains("no 'loss"), "{}", e.message());
    let src = "input x[3]\nz = sum(x)\nz = mean(x)\nloss = z\n";
    let e = err(src);
    let s = e.span().unwrap();
    assert_eq!(s.start, src.find("z = mean").unwrap());
    assert!(e.message().contains("defined twice"));
    let e = err("input x[3]\ninput x[3]\nloss = sum(x)\n");
    assert!(e.message().contains("defined twice"));
}

#[test]
fn loss_must_be_scalar() {
    assert_eq!(err("input x[3]\nloss = x\n").kind(), ErrorKind::Shape);
    let e = err("param W[2] = k\nloss = sum(W)\n");
    assert_eq!(e.kind(), ErrorKind::UnknownVariable);
}

#[test]
fn gradient_of_a_small_network_matches_by_hand() {
    let net = parse_network(SMALL).unwrap();
    let csv = "x0,x1,x2,y0,y1\n1,2,3,0,1\n0,1,0,1,0\n";
    let data = batch::read_csv(&net, csv).unwrap();
    let mut ev = batch::Evaluator::new(&net).unwrap();
    let r = ev.loss_and_gradient(&data.rows).unwrap();
    // By hand: W = [[0, .2, .4], [.1, .3, .5]], b = 0.
    let w = [[0.0, 0.2, 0.4], [0.1, 0.3, 0.5]];
    let samples = [([1.0, 2.0, 3.0], [0.0, 1.0]), ([0.0, 1.0, 0.0], [1.0, 0.0])];
    let mut loss = 0.0;
    let mut gw = [[0.0; 3]; 2];
    let mut gb = [0.0; 2];
    for (x, y) in samples {
        for i in 0..2 {
            let z: f64 = (0..3).map(|j| w[i][j] * x[j]).sum();
            let d = z - y[i];
            loss += d * d / 2.0 / 2.0;
            gb[i] += d / 2.0;
            for j in 0..3 {
                gw[i][j] += d * x[j] / 2.0;
            }
        }
    }
    assert!((r.loss - loss).abs() < 1e-14);
    assert_eq!(r.batch, 2);
    for (k, g) in r.gradient[0].1.data.iter().enumerate() {
        assert!((g - gw[k / 3][k % 3]).abs() < 1e-14);
    }
    for (k, g) in r.gradient[1].1.data.iter().enumerate() {
        assert!((g - gb[k]).abs() < 1e-14);
    }
}

#[test]
fn one_hot_labels() {
    // `x[1]` selects along the first axis (the contract's constant
    // indexing, issue 9); it is not a label column.
    let net = parse_network("input x[2]\nloss = 3 * x[1]\n").unwrap();
    let values = [Tensor::new([2], vec![5.0, 7.0])];
    let got = crate::eval::TensorProgram::compile(&net.graph, &[net.decls[0].node], &[net.loss])
        .unwrap()
        .run(&values)
        .unwrap();
    assert_eq!(got[0].item(), 21.0);
    assert_eq!(err("input x[2]\nloss = x[2]\n").kind(), ErrorKind::Shape);
    assert_eq!(err("input x[2]\nloss = x[0\n").kind(), ErrorKind::Syntax);
    let net = parse_network("input x[2]\ntarget y[3]\nloss = sum(y) * sum(x)\n").unwrap();
    let data = batch::read_csv(&net, "a,b,label\n1,2,2\n").unwrap();
    assert_eq!(data.rows[0][1].data, [0.0, 0.0, 1.0]);
    assert!(batch::read_csv(&net, "a,b,label\n1,2,3\n").is_err());
}

#[test]
fn data_without_a_header_or_with_a_non_finite_cell_is_refused() {
    let net = parse_network("input x[2]\ntarget y[1]\nloss = sum(y) * sum(x)\n").unwrap();
    let message = |csv: &str| match batch::read_csv(&net, csv) {
        Err(e) => e.message().to_string(),
        Ok(_) => panic!("{csv:?} was accepted"),
    };
    let e = message("1,2,3\n4,5,6\n");
    assert!(e.contains("the data file has no header line"), "{e}");
    // A header that merely contains a number is still a header.
    assert!(batch::read_csv(&net, "x0,1,y\n4,5,6\n").is_ok());
    for (cell, col) in [("NaN", 2), ("inf", 3), ("-inf", 1)] {
        let mut row = ["1", "2", "3"];
        row[col - 1] = cell;
        let e = message(&format!("a,b,y\n1,2,3\n{}\n", row.join(",")));
        assert!(e.contains(&format!("line 3, column {col}")), "{e}");
        assert!(e.contains("not a finite number"), "{e}");
    }
}

#[test]
fn initializer_errors_are_spanned_in_the_file() {
    let src = "input x[2]\nparam W[2] = sin(i) + n\nloss = sum(W * x)\n";
    let e = err(src);
    assert_eq!(e.kind(), ErrorKind::UnknownVariable);
    let s = e.span().unwrap();
    assert_eq!(s.start, src.find("+ n").unwrap() + 2);
    assert_eq!(&src[s.start..s.end], "n");
    let src = "param W[2] = 0.1*(i +\nloss = sum(W)\n";
    let e = err(src);
    assert_eq!(e.kind(), ErrorKind::Syntax);
    assert!(e.span().unwrap().start > src.find('=').unwrap());
}

#[test]
fn tensor_functions_build() {
    let src = "input x[4]\ntarget y[4]\nparam W[4, 4] = 0.1*(i - j)\n\
               z = transpose(W) @ x\np = softmax(z)\n\
               loss = logsumexp(z) - sum(y * z) + mean(p) + max(z) + sum(max(z, 0)^2)\n";
    let net = parse_network(src).unwrap();
    assert!(net.graph.is_scalar(net.loss));
    let e = err("input x[4]\nloss = sum(x, 1)\n");
    assert_eq!(e.kind(), ErrorKind::Shape);
    assert_eq!(
        err("input x[4]\nloss = foo(x)\n").kind(),
        ErrorKind::UnknownFunction
    );
    assert_eq!(err("input x[4]\nloss = sum x\n").kind(), ErrorKind::Syntax);
}

#[test]
fn huge_shapes_are_refused() {
    let e = err("param W[100000000000, 100000000000] = 0\nloss = sum(W)\n");
    assert!(e.message().contains("more than"), "{}", e.message());
    let e = err("param W[100000, 100000] = 0\nloss = sum(W)\n");
    assert!(e.message().contains("more than"), "{}", e.message());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]
    /// Whatever the text, parsing gives a network or an error, never a panic.
    #[test]
    fn parsing_never_panics(src in "(input|target|param|loss|z|x|W|sum|softmax|@|\\[|\\]|[0-9]|,|=|~|\\(|\\)|\\+|-|\\*|/|\\^|²|#| |\n|i|j){0,40}") {
        let _ = parse_network(&src);
    }

    /// A valid file with a few bytes changed: still no panic, and when it
    /// parses, evaluation fails or succeeds without one too.
    #[test]
    fn edited_files_never_panic(
        edits in proptest::collection::vec((0usize..200, "[\\[\\]@,=()*+^/ 0-9a-z\n]{0,3}", 0usize..3), 1..4)
    ) {
        let mut src = SMALL.to_string();
        for (at, insert, delete) in edits {
            let at = at % (src.len() + 1);
            let end = (at + delete).min(src.len());
            src.replace_range(at..end, &insert);
        }
        if let Ok(net) = parse_network(&src) {
            if let Ok(mut ev) = batch::Evaluator::new(&net) {
                if let Ok(data) = batch::read_csv(&net, "x0,x1,x2,y0,y1\n1,2,3,0,1\n") {
                    let _ = ev.loss_and_gradient(&data.rows);
                }
            }
        }
    }
}

#[test]
fn axis_keyword_reduces_and_is_checked() {
    let net = parse_network(
        "input x[2, 3]\nloss = sum(max(x, axis = 1)) + sum(x, axis = 1) @ mean(x, axis = 1)\n",
    );
    assert!(net.is_ok(), "{net:?}");
    let src = "input x[3]\nloss = softmax(x, axis = 0)\n";
    let e = err(src);
    assert!(
        e.message().contains("'axis =' goes with"),
        "{}",
        e.message()
    );
    let s = e.span().unwrap();
    assert_eq!(&src[s.start..s.end], "axis");
    let e = err("input x[3]\nloss = sum(max(x, axis = 1.5))\n");
    assert!(
        e.message().contains("non-negative integer"),
        "{}",
        e.message()
    );
}

#[test]
fn log_of_softmax_stays_finite_where_the_probability_underflows() {
    // softmax((0, -800)) = (1, e^-800), and e^-800 is 0 in f64: ln(0) would
    // make the loss infinite. As z - logsumexp(z) the loss is 800 s +
    // ln(1 + e^-800 s) = 800 at s = 1, and its derivative in s is 800.
    let src = "input x[2]\ntarget y[2]\nparam s = 1\nloss = -sum(y * log(softmax(s * x)))\n";
    let net = parse_network(src).unwrap();
    let data = batch::read_csv(&net, "x0,x1,y0,y1\n0,-800,0,1\n").unwrap();
    let r = batch::Evaluator::new(&net)
        .unwrap()
        .loss_and_gradient(&data.rows)
        .unwrap();
    assert_eq!(r.loss, 800.0);
    assert_eq!(r.gradient[0].1.data, [800.0]);
    // cross_entropy takes the same route.
    let src = "input x[2]\ntarget y[2]\nparam s = 1\nloss = cross_entropy(softmax(s * x), y)\n";
    let net = parse_network(src).unwrap();
    let r = batch::Evaluator::new(&net)
        .unwrap()
        .loss_and_gradient(&data.rows)
        .unwrap();
    assert_eq!(r.loss, 800.0);
}

//! Tests of the formula parser: structure through a fully parenthesized
//! printer, one line a case; error messages with the column of their caret;
//! the depth and size limits; property tests that nothing panics and that
//! random expressions, written in every accepted style, read back as built.

use super::{parse, MAX_DEPTH};
use crate::error::ErrorKind;
use crate::graph::{Func, Graph, NodeId, Op};
use crate::Formula;
use proptest::prelude::*;
use std::time::{Duration, Instant};

/// Prints `root` with every operation parenthesized (`((x ^ 2) * y)`), except
/// the outermost: the printer the crate's structural tests share.
fn show(g: &Graph, root: NodeId) -> String {
    crate::print::parens(g, root)
}

/// `s` without the parentheses around all of it, if it has them.
fn bare(s: String) -> String {
    let Some(inner) = s.strip_prefix('(').and_then(|t| t.strip_suffix(')')) else {
        return s;
    };
    // `(a) * (b)` starts and ends with parentheses that do not match.
    let mut depth = 0i32;
    for c in inner.chars() {
        depth += match c {
            '(' => 1,
            ')' => -1,
            _ => 0,
        };
        if depth < 0 {
            return s;
        }
    }
    inner.to_string()
}

fn shown(input: &str) -> String {
    match parse(input) {
        Ok(f) => show(&f.graph, f.output),
        Err(e) => e.render(input),
    }
}

/// Asserts that `input` parses to the structure `expected`.
fn check(input: &str, expected: &str) {
    assert_eq!(shown(input), expected, "input: {input:?}");
}

/// The message and the 1-based (line, column) of the caret, or the structure
/// when parsing succeeded.
fn error_at(input: &str) -> (ErrorKind, String, usize, usize) {
    let e = match parse(input) {
        Ok(f) => return (ErrorKind::Syntax, show(&f.graph, f.output), 0, 0),
        Err(e) => e,
    };
    let start = e.span().map_or(usize::MAX, |s| s.start);
    let before = input.get(..start).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (e.kind(), e.message().to_string(), line, column)
}

/// Asserts that `input` fails with `message`, caret at 1-based `column` of the
/// first line.
fn check_err(input: &str, message: &str, column: usize) {
    check_error_at(input, ErrorKind::Syntax, message, 1, column);
}

fn check_error_at(input: &str, kind: ErrorKind, message: &str, line: usize, column: usize) {
    assert_eq!(
        error_at(input),
        (kind, message.to_string(), line, column),
        "input: {input:?}"
    );
}

#[test]
fn structure() {
    check("x²y+y+2", "(((x ^ 2) * y) + y) + 2");
    check("x^2*y + y + 2", "(((x ^ 2) * y) + y) + 2");
    check("-x^2", "-(x ^ 2)");
    check("-x²", "-(x ^ 2)");
    check("a^b^c", "a ^ (b ^ c)");
    check("2^3^2", "512"); // 2^(3^2), not (2^3)^2 = 64
    check("a**b**c", "a ^ (b ^ c)");
    check("x**-2", "x ^ (-2)");
    check("x^-2", "x ^ (-2)");
    check("2**-x", "2 ^ (-x)");
    check("x^-y^2", "x ^ (-(y ^ 2))");
    check("x^+y", "x ^ y");
    check("-x*y", "(-x) * y");
    check("2 * -x", "2 * (-x)");
    check("x - -y", "x - (-y)");
    check("a - b - c", "(a - b) - c");
    check("a / b / c", "(a / b) / c");
    check("a + b * c", "a + (b * c)");
    check("(a + b) * c", "(a + b) * c");
    check("2x", "2 * x");
    check("2 x", "2 * x");
    check("2(x+1)", "2 * (x + 1)");
    check("-2x", "(-2) * x");
    check("1/2x", "(1/2) * x");
    check("x/2y", "(x / 2) * y");
    check("(x+1)(y-1)", "(x + 1) * (y - 1)");
    check("(x+1) y", "(x + 1) * y");
    check("x y", "x * y");
    check("x (y)", "x * y");
    check("x y^2", "x * (y ^ 2)");
    check("xy", "xy");
    check("sin(x) cos(y)", "sin(x) * cos(y)");
    check("x²", "x ^ 2");
    check("x³y", "(x ^ 3) * y");
    check("x⁻¹", "x ^ (-1)");
    check("x⁺²", "x ^ 2");
    check("x¹⁰", "x ^ 10");
    check("(x+1)²", "(x + 1) ^ 2");
    check("2^3²", "512");
    check("x^2²", "x ^ 4");
    check("x²^3", "(x ^ 2) ^ 3");
    check("sin(x)²", "sin(x) ^ 2");
    check("x² (y+1)", "(x ^ 2) * (y + 1)");
    check("θ·α", "θ * α");
    check("θ⋅α", "θ * α");
    check("a × b", "a * b");
    check("a − b", "a - b");
    check(
        "a ÷ b",
        "error: unexpected character '÷'\n --> line 1, column 3\n  |\n  | a ÷ b\n  |   ^",
    );
    check("x1 + x_0 + x₁ + _t", "((x1 + x_0) + x₁) + _t");
    check("+x", "x");
    check("--x", "x");
    check("x+0", "x");
    check("2*3", "6");
}

#[test]
fn numbers() {
    check("3.5", "7/2");
    check("1e-3", "1/1000");
    check("1E3", "1000");
    check(".5x", "(1/2) * x");
    check("2.", "2");
    check("2e^x", "2 * (e ^ x)");
    check("2e²", "2 * (e ^ 2)");
    check("2e3x", "2000 * x");
    check("2ex", "2 * ex");
    check("0.1 + 0.2", "3/10");
    check("1e400", "inf");
    check("99999999999999999999", "1e20");
}

#[test]
fn functions_and_constants() {
    for f in Func::ALL {
        check(&format!("{}(x)", f.name()), &format!("{}(x)", f.name()));
    }
    check("σ(x)", "sigmoid(x)");
    check("log(x)", "ln(x)");
    check("sign(x) + step(x)", "sign(x) + step(x)");
    check("sin (x)", "sin(x)");
    check("sqrt(x + 1)", "sqrt(x + 1)");
    check("max(a, b)", "max(a, b)");
    check("min(a,b)", "min(a, b)");
    check("pow(a, b)", "a ^ b");
    check("max(x y, 2)", "max(x * y, 2)");
    check("sin(cos(x))", "sin(cos(x))");
    check("sin(0)", "0");
    check("pi", "pi");
    check("π r²", "pi * (r ^ 2)");
    check("e^x", "e ^ x");
    check("2e^x", "2 * (e ^ x)");
}

#[test]
fn the_spellings_of_numpy_and_sympy() {
    check("arcsin(x)", "asin(x)");
    check("arccos(x)", "acos(x)");
    check("arctan(x)", "atan(x)");
    check("arcsinh(x)", "asinh(x)");
    check("arccosh(x)", "acosh(x)");
    check("arctanh(x)", "atanh(x)");
    check("heaviside(x)", "step(x)");
    check("atan2(y, x)", "atan2(y, x)");
    check("arctan2(y, x)", "atan2(y, x)");
    check("log(x, 10)", "log10(x)");
    check("log(x, 2)", "log2(x)");
    check("log(x, e)", "ln(x)");
    check("log(x, 3)", "ln(x) / ln(3)");
    check("exp2(x)", "2 ^ x");
    check("hypot(x, y)", "sqrt((x ^ 2) + (y ^ 2))");
    check("floor(7/2) x", "3 * x");
    check("ceil(-7/2) x", "(-3) * x");
    check("atan2(0, 2)", "0");
}

#[test]
fn edge_cases_of_numbers_constants_and_division() {
    // 2πr is 2·π·r; the ASCII `pir` stays one name, and `rπ` too.
    check("2πr", "(2 * pi) * r");
    check("πr²", "pi * (r ^ 2)");
    check("2pir", "2 * pir");
    check_error_at(
        "1e",
        ErrorKind::Syntax,
        "malformed number '1e': the exponent has no digits (write 1e3 or 1e-3, or 1*e for 1 times e)",
        1,
        1,
    );
    check_error_at(
        "x + 2E - 1",
        ErrorKind::Syntax,
        "malformed number '2E': the exponent has no digits (write 2E3 or 2E-3, or 2*E for 2 times E)",
        1,
        5,
    );
    check_error_at(
        "x/0",
        ErrorKind::InvalidValue,
        "division by zero: the divisor is the constant 0",
        1,
        2,
    );
    check_error_at(
        "y + x/(1 - 1)",
        ErrorKind::InvalidValue,
        "division by zero: the divisor is the constant 0",
        1,
        6,
    );
}

#[test]
fn variables_are_only_those_the_output_uses() {
    let f = parse("h = q + 1; x^2").unwrap();
    assert_eq!(f.var_names(), ["x"]);
    let f = parse("h = q + 1; g = h*z; g + x").unwrap();
    assert_eq!(f.var_names(), ["q", "z", "x"]);
}

#[test]
fn unknown_functions_get_the_nearest_names() {
    check_error_at(
        "arcsinn(x)",
        ErrorKind::UnknownFunction,
        "unknown function 'arcsinn'; did you mean 'arcsin' or 'arcsinh'?",
        1,
        1,
    );
    check_error_at(
        "2 sinn(x)",
        ErrorKind::UnknownFunction,
        "unknown function 'sinn'; did you mean 'sin', 'sinh' or 'sign'?",
        1,
        3,
    );
    // `f*(a, b)` would not parse, so no product is suggested.
    check_error_at(
        "foo(a, b)",
        ErrorKind::UnknownFunction,
        "unknown function 'foo' (the functions are listed under 'Formula syntax' in the README)",
        1,
        1,
    );
    check_err("log(x, 2, 3)", "log takes 1 or 2 arguments, found 3", 1);
    check_err("atan2(x)", "atan2 takes 2 arguments, found 1", 1);
}

#[test]
fn statements() {
    check("u = x*y; sin(u) + u^2", "sin(x * y) + ((x * y) ^ 2)");
    check("u = x*y\nv = u + 1\nv*u", "((x * y) + 1) * (x * y)");
    check("# comment\n\nx + 1 # trailing\n\n", "x + 1");
    check("y = x^2", "x ^ 2");
    check("y = x^2;", "x ^ 2");
    check("x;;", "x");
    check("a = 1\r\nb = a + x\r\nb", "1 + x");
}

fn parsed(input: &str) -> Option<Formula> {
    parse(input).ok()
}

#[test]
fn bindings_share_their_node() {
    let f = parsed("u = x*y; sin(u) + u^2");
    let Some(f) = f else {
        return assert_eq!(shown("u = x*y; sin(u) + u^2"), "parses");
    };
    assert_eq!(f.var_names(), ["x", "y"]);
    assert_eq!(f.bindings.len(), 1);
    let u = f
        .bindings
        .first()
        .map(|b| (b.name.as_str(), b.node, b.span));
    let node = u.map_or(f.output, |u| u.1);
    assert_eq!(u, Some(("u", node, crate::Span::new(0, 1))));
    // sin(u) and u^2 both point at the one node u.
    let [sin_u, u_sq] = [0, 1].map(|i| f.graph.args(f.output).get(i).copied());
    let first = |n: Option<NodeId>| n.and_then(|n| f.graph.args(n).first().copied());
    assert_eq!(first(sin_u), Some(node));
    assert_eq!(first(u_sq), Some(node));
    assert_eq!(f.graph.op(node), Op::Mul);
}

#[test]
fn vars_in_order_of_first_appearance() {
    let names = |s: &str| parsed(s).map(|f| f.var_names().join(" "));
    assert_eq!(names("b + a*b + c"), Some("b a c".to_string()));
    assert_eq!(
        names("u = z + y; u * x + pi + e"),
        Some("z y x".to_string())
    );
    let last = parsed("a = x; out = a + 1");
    assert_eq!(last.map(|f| f.bindings.len()), Some(2));
}

#[test]
fn errors() {
    check_err("x + * y", "expected an operand after '+'", 5);
    check_err("x +", "expected an operand after '+'", 4);
    check_err("x · ", "expected an operand after '·'", 5);
    check_err("2 * (3 +)", "expected an operand after '+'", 9);
    check_err("x^", "expected an exponent after '^'", 3);
    check_err("x**", "expected an exponent after '**'", 4);
    check_err("-", "expected an operand after '-'", 2);
    check_err("(x + 1", "unclosed '(' opened here", 1);
    check_err("((x + 1)", "unclosed '(' opened here", 1);
    check_err("(x + (1)", "unclosed '(' opened here", 1);
    check_err("sin(x", "unclosed '(' opened here", 4);
    check_err("(x; y", "unclosed '(' opened here", 1);
    check_err("x + 1)", "unexpected ')'", 6);
    check_err(")", "unexpected ')'", 1);
    check_err("x $ y", "unexpected character '$'", 3);
    check_err("α·$", "unexpected character '$'", 3);
    // The tokens of network files stay stray characters in formulas.
    check_err("x @ y", "unexpected character '@'", 3);
    check_err("x[1]", "unexpected character '['", 2);
    check_err("@x", "unexpected character '@'", 1);
    check_err("x\u{7}", "unexpected character U+0007", 2);
    check_err("x⁻", "expected superscript digits after '⁻'", 2);
    check_err("", "empty formula", 1);
    check_err("  # only a comment\n\n", "empty formula", 1);
    check_err("u = ", "expected an expression after '='", 5);
    check_err("u = ;x", "expected an expression after '='", 5);
    check_err("= 2", "expected a name before '='", 1);
    check_err(
        "x + y = 2",
        "unexpected '=': a binding 'name = ...' starts a statement",
        7,
    );
    check_err("()", "expected an expression inside '()'", 2);
    check_err("(*x)", "expected an expression after '('", 2);
    check_err(
        "(x, y)",
        "expected ')': ',' only separates function arguments",
        3,
    );
    check_err("x, y", "unexpected ','", 2);
    check_err("max(x y)", "missing ',' between arguments", 6);
    check_err("pow(x 2)", "missing ',' between arguments", 6);
    check_err("max(x)", "max takes 2 arguments, found 1", 1);
    check_err("y + max(2x)", "max takes 2 arguments, found 1", 5);
    check_err("max(x, y, z)", "max takes 2 arguments, found 3", 1);
    check_err("sin(x, y)", "sin takes 1 argument, found 2", 1);
    check_err("sin()", "sin takes 1 argument, found 0", 1);
    check_err("max(x,)", "expected an argument after ','", 7);
    check_err("sin(*)", "expected an argument after '('", 5);
    check_err("sin x", "expected '(' after the function name 'sin'", 5);
    check_err("2 sin", "expected '(' after the function name 'sin'", 6);
    check_err("x 2", "expected an operator before the number '2'", 3);
    check_err("1.5.5", "expected an operator before the number '.5'", 4);
    check_err(
        "x²⁻¹",
        "a superscript power cannot follow another; use '^' and parentheses",
        3,
    );
    check_err("²", "expected an expression, found '²'", 1);
    check_err("x = 1; x = 2", "cannot bind 'x': it is already bound", 8);
    check_err(
        "y = x; x = 2",
        "cannot bind 'x': it is already used as a variable above",
        8,
    );
    check_err(
        "sin = 2; sin",
        "cannot bind 'sin': it is a function name",
        1,
    );
    check_err("max = 2", "cannot bind 'max': it is a function name", 1);
    check_err("pi = 3; pi", "cannot bind 'pi': it is a constant", 1);
    check_err("e = 3", "cannot bind 'e': it is a constant", 1);
    check_err(
        "u = u + 1",
        "cannot bind 'u': its own expression uses 'u' as a variable",
        1,
    );
    check_err(
        "x + 1; y",
        "expected 'name = ...': every statement before the last must bind a name",
        1,
    );
    check_error_at(
        "x +\ny",
        ErrorKind::Syntax,
        "expected an operand after '+'",
        1,
        4,
    );
    check_error_at(
        "u = 1\nv = u $",
        ErrorKind::Syntax,
        "unexpected character '$'",
        2,
        7,
    );
    check_error_at(
        "f(x)",
        ErrorKind::UnknownFunction,
        "unknown function 'f'; for a product write 'f*(x)'",
        1,
        1,
    );
    check_error_at(
        "2 + x(y + 1)",
        ErrorKind::UnknownFunction,
        "unknown function 'x'; for a product write 'x*(y + 1)'",
        1,
        5,
    );
    check_error_at(
        "u = 2; u(3",
        ErrorKind::UnknownFunction,
        "unknown function 'u'; for a product write 'u*(...)'",
        1,
        8,
    );
}

#[test]
fn carets_render_under_the_error() {
    check(
        "(x + 1",
        "error: unclosed '(' opened here\n --> line 1, column 1\n  |\n  | (x + 1\n  | ^",
    );
    check(
        "θ + ",
        "error: expected an operand after '+'\n --> line 1, column 5\n  |\n  | θ + \n  |     ^",
    );
    check(
        "a = 1\nmax(a)",
        "error: max takes 2 arguments, found 1\n --> line 2, column 1\n  |\n  | max(a)\n  | ^^^^^^",
    );
    check(
        "max(x y)",
        "error: missing ',' between arguments\n --> line 1, column 6\n  |\n  | max(x y)\n  |      ^",
    );
}

/// Runs `f` on a thread with a 2 MiB stack, the main thread's size in many
/// debug setups, and returns its result.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .ok()?;
    handle.join().ok()
}

#[test]
fn absurd_nesting_is_too_deep_not_a_stack_overflow() {
    let n = 100_000;
    let cases = vec![
        ("(".repeat(n) + "x" + &")".repeat(n), MAX_DEPTH),
        ("-".repeat(n) + "x", MAX_DEPTH),
        ("x^".repeat(n) + "x", 2 * MAX_DEPTH + 1),
        ("sin(".repeat(n) + "x" + &")".repeat(n), 4 * MAX_DEPTH + 3),
        // Each `(-x^` nests three deep; the 86th `-` passes 256.
        ("(-x^".repeat(n) + "x", 85 * 4 + 1),
    ];
    for (input, at) in cases {
        let got = on_small_stack(move || {
            let e = parse(&input).err();
            e.map(|e| (e.kind(), e.span().map(|s| s.start)))
        });
        assert_eq!(got, Some(Some((ErrorKind::TooDeep, Some(at)))));
    }
}

#[test]
fn nesting_up_to_the_limit_parses() {
    let d = MAX_DEPTH;
    let ok = |s: String| on_small_stack(move || parse(&s).is_ok());
    assert_eq!(ok("(".repeat(d) + "x" + &")".repeat(d)), Some(true));
    assert_eq!(ok("sin(".repeat(d) + "x" + &")".repeat(d)), Some(true));
    assert_eq!(ok("x^".repeat(d) + "x"), Some(true));
    assert_eq!(
        ok("(".repeat(d + 1) + "x" + &")".repeat(d + 1)),
        Some(false)
    );
    // Depth is about nesting, not length: many groups side by side are fine.
    assert_eq!(ok("(((x)))+".repeat(10_000) + "1"), Some(true));
}

/// Parses `input`, asserting it takes well under a second even unoptimized.
fn parse_quickly(input: &str) -> Option<Formula> {
    let start = Instant::now();
    let f = parse(input).ok();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(1), "took {took:?}");
    f
}

#[test]
fn long_chains_parse_in_linear_time() {
    let n = 100_000;
    let distinct: Vec<String> = (0..n).map(|i| format!("x{i}")).collect();
    let sum = parse_quickly(&distinct.join(" + "));
    assert_eq!(sum.as_ref().map(|f| f.vars.len()), Some(n));
    assert_eq!(sum.map(|f| f.graph.op(f.output)), Some(Op::Add));

    let same = parse_quickly(&vec!["x"; n].join(" + "));
    assert_eq!(same.map(|f| (f.vars.len(), f.graph.len())), Some((1, n)));

    let product = parse_quickly(&distinct.join("*"));
    assert_eq!(product.map(|f| f.graph.op(f.output)), Some(Op::Mul));
    let implicit = parse_quickly(&distinct.join(" "));
    assert_eq!(implicit.map(|f| f.graph.op(f.output)), Some(Op::Mul));
    let mixed = parse_quickly(&vec!["-x^2"; n].join(" - "));
    assert_eq!(mixed.map(|f| f.graph.op(f.output)), Some(Op::Sub));
}

/// A random expression over variables, with a style byte per node choosing
/// how it is written (operator spelling, function name, superscript or `^`).
#[derive(Clone, Debug, PartialEq)]
enum Ast {
    Var(usize),
    /// `+ - * /` by index.
    Bin(u8, u8, Box<Ast>, Box<Ast>),
    Neg(u8, Box<Ast>),
    /// A power with a small integer exponent.
    PowInt(u8, u8, Box<Ast>),
    Call(usize, u8, Box<Ast>),
    /// `max`, `min` or `pow` by index.
    Two(u8, u8, Box<Ast>, Box<Ast>),
}

const VARS: [&str; 4] = ["x", "y", "θ", "x_1"];

/// Whether the graph builder would fold this expression on construction, so
/// that it does not print back as built.
fn folds(a: &Ast) -> bool {
    match a {
        Ast::Var(_) => false,
        Ast::Neg(_, inner) => matches!(**inner, Ast::Neg(..)) || folds(inner),
        Ast::PowInt(_, _, b) | Ast::Call(_, _, b) => folds(b),
        Ast::Two(k, _, a, b) => (*k < 2 && canonical(a) == canonical(b)) || folds(a) || folds(b),
        Ast::Bin(_, _, a, b) => folds(a) || folds(b),
    }
}

fn ast() -> impl Strategy<Value = Ast> {
    let leaf = (0..VARS.len()).prop_map(Ast::Var);
    leaf.prop_recursive(5, 48, 2, |inner| {
        prop_oneof![
            (0..4u8, any::<u8>(), inner.clone(), inner.clone()).prop_map(|(op, s, a, b)| Ast::Bin(
                op,
                s,
                Box::new(a),
                Box::new(b)
            )),
            (any::<u8>(), inner.clone()).prop_map(|(s, a)| Ast::Neg(s, Box::new(a))),
            (2..12u8, any::<u8>(), inner.clone()).prop_map(|(k, s, a)| Ast::PowInt(
                k,
                s,
                Box::new(a)
            )),
            (0..Func::ALL.len(), any::<u8>(), inner.clone()).prop_map(|(f, s, a)| Ast::Call(
                f,
                s,
                Box::new(a)
            )),
            (0..3u8, any::<u8>(), inner.clone(), inner).prop_map(|(k, s, a, b)| Ast::Two(
                k,
                s,
                Box::new(a),
                Box::new(b)
            )),
        ]
    })
    .prop_filter("the graph folds it", |a| !folds(a))
}

fn func_of(i: usize) -> Func {
    Func::ALL.get(i).copied().unwrap_or(Func::Sin)
}

/// The structure as [`show`] prints it, parenthesized.
fn canonical(a: &Ast) -> String {
    match a {
        Ast::Var(v) => VARS.get(*v).copied().unwrap_or("x").to_string(),
        Ast::Bin(op, _, a, b) => {
            let sym = ["+", "-", "*", "/"]
                .get(usize::from(*op))
                .copied()
                .unwrap_or("+");
            format!("({} {sym} {})", canonical(a), canonical(b))
        }
        Ast::Neg(_, a) => format!("(-{})", canonical(a)),
        Ast::PowInt(k, _, a) => format!("({} ^ {k})", canonical(a)),
        Ast::Call(f, _, a) => format!("{}({})", func_of(*f), bare(canonical(a))),
        Ast::Two(0, _, a, b) => format!("max({}, {})", bare(canonical(a)), bare(canonical(b))),
        Ast::Two(1, _, a, b) => format!("min({}, {})", bare(canonical(a)), bare(canonical(b))),
        Ast::Two(_, _, a, b) => format!("({} ^ {})", canonical(a), canonical(b)),
    }
}

/// Binding strength of the written form, as in the parser: 1 sums, 2
/// products, 3 unary minus, 4 powers, 5 atoms.
const ATOM: u8 = 5;

fn superscript(k: u8) -> String {
    const SUP: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    k.to_string()
        .chars()
        .filter_map(|d| d.to_digit(10).and_then(|d| SUP.get(d as usize)))
        .collect()
}

/// Writes `a` in the formula syntax with as few parentheses as its
/// structure allows, choosing spellings by the style bytes.
fn written(a: &Ast) -> (String, u8) {
    // Wraps a child's text in parentheses when it binds looser than `min`.
    let operand = |a: &Ast, min: u8| {
        let (s, p) = written(a);
        if p < min {
            format!("({s})")
        } else {
            s
        }
    };
    match a {
        Ast::Var(_) => (canonical(a), ATOM),
        Ast::Bin(op, s, a, b) => {
            let prec = if *op < 2 { 1 } else { 2 };
            let left = operand(a, prec);
            let right = operand(b, prec + 1);
            let sym = match (op, s % 5) {
                (0, _) => " + ",
                (1, 0) => " − ",
                (1, _) => "-",
                (2, 0) => "·",
                (2, 1) => " × ",
                (2, 2) if right.starts_with(|c: char| c.is_alphabetic() || c == '(') => " ",
                (2, _) => "*",
                _ => " / ",
            };
            (format!("{left}{sym}{right}"), prec)
        }
        Ast::Neg(s, a) => {
            let sym = if s % 2 == 0 { "-" } else { "−" };
            (format!("{sym}{}", operand(a, 3)), 3)
        }
        Ast::PowInt(k, s, a) => {
            let base = operand(a, ATOM);
            match s % 3 {
                0 => (format!("{base}{}", superscript(*k)), 4),
                1 => (format!("{base}^{k}"), 4),
                _ => (format!("{base} ** {k}"), 4),
            }
        }
        Ast::Call(f, s, a) => {
            let f = func_of(*f);
            let name = match (f, s % 2) {
                (Func::Sigmoid, 1) => "σ",
                (Func::Ln, 1) => "log",
                _ => f.name(),
            };
            (format!("{name}({})", written(a).0), ATOM)
        }
        Ast::Two(2, s, a, b) if s % 2 == 0 => {
            // The exponent may be a power (right-associative) or carry a sign.
            (format!("{}^{}", operand(a, ATOM), operand(b, 3)), 4)
        }
        Ast::Two(k, _, a, b) => {
            let name = ["max", "min", "pow"]
                .get(usize::from(*k))
                .copied()
                .unwrap_or("max");
            (format!("{name}({}, {})", written(a).0, written(b).0), ATOM)
        }
    }
}

/// Every error must point into the input on character boundaries, and
/// rendering it must not panic.
fn assert_well_placed(src: &str) {
    if let Err(e) = parse(src) {
        let span = e.span();
        assert!(span.is_some(), "{e:?}");
        if let Some(s) = span {
            assert!(s.start <= s.end && s.end <= src.len(), "{e:?} in {src:?}");
            assert!(src.is_char_boundary(s.start) && src.is_char_boundary(s.end));
        }
        let _ = e.render(src);
    }
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(src in "\\PC*") {
        assert_well_placed(&src);
    }

    #[test]
    fn arbitrary_unicode_never_panics(src in any::<String>()) {
        assert_well_placed(&src);
    }

    #[test]
    fn token_soup_never_panics(parts in prop::collection::vec(prop::sample::select(vec![
        "x", "y", "2", "3.5", ".5", "1e", "1e-3", "(", ")", "+", "-", "−", "*", "**", "·", "/",
        "^", "²", "⁻¹", "⁻", "sin", "max", "pow", "f", "pi", "e", ",", "=", ";", "\n", "#",
        " ", "θ", "é", "$", "u = ", "u",
    ]), 0..40)) {
        assert_well_placed(&parts.concat());
    }

    #[test]
    fn written_expressions_read_back_as_built(a in ast()) {
        let (src, _) = written(&a);
        prop_assert_eq!(shown(&src), bare(canonical(&a)), "source: {}", src);
    }

    #[test]
    fn the_parenthesized_printout_reads_back(a in ast()) {
        let once = shown(&written(&a).0);
        prop_assert_eq!(shown(&once), once.clone());
    }
}

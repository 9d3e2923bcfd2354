//! A printer that parenthesizes every operation, so tests can assert the
//! structure of a graph: `(((x ^ 2) * y) + y) + 2`.

use super::rope::{f, s, Rope};
use crate::graph::{Graph, NodeId, Op};

/// `id` with every operation parenthesized and spaced; the outermost operation
/// has no parentheses, n-ary sums and products print as `(a + b + c)`, and
/// function arguments are not parenthesized twice (`sin(x ^ 2)`). Shared
/// subexpressions are printed at every use.
pub fn parens(g: &Graph, id: NodeId) -> String {
    let mut rope = Rope::default();
    // Per node: its text without outer parentheses, and whether an operand
    // position needs them.
    let mut core: Vec<Option<(usize, bool)>> = vec![None; g.len()];
    for n in g.reachable(&[id]) {
        let arg = |i: usize| core[g.args(n)[i].index()].expect("operands come first");
        let wrapped = |(frag, needs): (usize, bool)| {
            if needs {
                vec![s("("), f(frag), s(")")]
            } else {
                vec![f(frag)]
            }
        };
        let (pieces, needs) = match g.op(n) {
            Op::Var(_) => (vec![s(g.var_name(n).unwrap_or("?").to_string())], false),
            Op::Named(c) => (vec![s(c.name())], false),
            Op::Const(c) => {
                let t = c.to_string();
                let needs = t.contains(['-', '/']);
                (vec![s(t)], needs)
            }
            Op::Func(func) => (
                vec![s(format!("{}(", func.name())), f(arg(0).0), s(")")],
                false,
            ),
            op @ (Op::Max | Op::Min | Op::Atan2) => {
                let name = match op {
                    Op::Max => "max(",
                    Op::Min => "min(",
                    _ => "atan2(",
                };
                (
                    vec![s(name), f(arg(0).0), s(", "), f(arg(1).0), s(")")],
                    false,
                )
            }
            Op::MatMul => (
                {
                    let mut p = wrapped(arg(0));
                    p.push(s(" @ "));
                    p.extend(wrapped(arg(1)));
                    p
                },
                true,
            ),
            op if op.is_tensor() => (
                vec![s(format!("{}(", op.label())), f(arg(0).0), s(")")],
                false,
            ),
            Op::Neg => {
                let mut p = vec![s("-")];
                p.extend(wrapped(arg(0)));
                (p, true)
            }
            op => {
                let sym = match op {
                    Op::Add => " + ",
                    Op::Sub => " - ",
                    Op::Mul => " * ",
                    Op::Div => " / ",
                    _ => " ^ ",
                };
                let mut p = Vec::new();
                for i in 0..g.args(n).len() {
                    if i > 0 {
                        p.push(s(sym));
                    }
                    p.extend(wrapped(arg(i)));
                }
                (p, true)
            }
        };
        core[n.index()] = Some((rope.push(pieces), needs));
    }
    rope.render(core[id.index()].expect("the root is reachable").0)
}

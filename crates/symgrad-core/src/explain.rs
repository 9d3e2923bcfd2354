//! A worked example of backpropagation on one formula at one point, the way
//! textbooks lay it out: the forward (primal) trace with each node's value,
//! the local derivative on every edge, and the backward accumulation of
//! adjoints `v̄ = ∂f/∂v`, node by node.

use crate::diff::rules::local_derivatives;
use crate::error::Result;
use crate::eval::node_values;
use crate::graph::{Graph, NodeId, Op};
use std::fmt::Write;

/// One node of the primal trace.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The node.
    pub node: NodeId,
    /// Its name in the trace (`v1`, `v2`, ...), or the variable's name for an input.
    pub name: String,
    /// How it is computed from earlier names (`v1 * v2`), or `input` for a variable.
    pub definition: String,
    /// Its value at the point.
    pub value: f64,
}

/// One edge with its local derivative.
#[derive(Clone, Debug, PartialEq)]
pub struct Edge {
    /// The operand's name.
    pub from: String,
    /// The user's name.
    pub to: String,
    /// `∂to/∂from` written over trace names.
    pub derivative: String,
    /// Its value at the point.
    pub value: f64,
}

/// One step of the backward pass: an adjoint as a sum over the node's users.
#[derive(Clone, Debug, PartialEq)]
pub struct AdjointStep {
    /// The node's name.
    pub name: String,
    /// The terms `(user name, local derivative value, user adjoint value)`.
    pub terms: Vec<(String, f64, f64)>,
    /// The adjoint's value.
    pub value: f64,
}

/// The whole worked example.
#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    pub forward: Vec<Step>,
    pub edges: Vec<Edge>,
    pub backward: Vec<AdjointStep>,
    /// `(variable name, ∂f/∂variable)` in the order of `vars`.
    pub gradient: Vec<(String, f64)>,
    /// The output's name and value.
    pub output: (String, f64),
}

/// Explains `output` at the point giving `values[i]` to the variable `vars[i]`.
///
/// The trace names non-constant nodes `v1, v2, ...` in topological order;
/// variables keep their names and constants are written inline.
pub fn explain(
    g: &mut Graph,
    output: NodeId,
    vars: &[NodeId],
    values: &[f64],
) -> Result<Explanation> {
    let order: Vec<NodeId> = g
        .reachable(&[output])
        .into_iter()
        .filter(|&v| !is_constant(g, v))
        .collect();
    let mut names: Vec<Option<String>> = vec![None; g.len()];
    let mut counter = 0;
    for &v in &order {
        names[v.index()] = Some(match g.var_name(v) {
            Some(n) => n.to_string(),
            None => {
                counter += 1;
                format!("v{counter}")
            }
        });
    }
    // Local derivatives first, so that their nodes exist before evaluation.
    let mut locals: Vec<(NodeId, Vec<NodeId>)> = Vec::new();
    for &v in &order {
        if !g.args(v).is_empty() {
            locals.push((v, local_derivatives(g, v)?.to_vec()));
        }
    }
    let mut wanted: Vec<NodeId> = vec![output];
    wanted.extend(locals.iter().flat_map(|(_, d)| d.iter().copied()));
    let value = node_values(g, vars, values, &wanted)?;

    let forward = order
        .iter()
        .map(|&v| Step {
            node: v,
            name: name_of(g, &names, v),
            definition: if matches!(g.op(v), Op::Var(_)) {
                "input".to_string()
            } else {
                define(g, &names, v)
            },
            value: value[v.index()],
        })
        .collect();

    let mut edges = Vec::new();
    let mut users: Vec<Vec<(NodeId, f64)>> = vec![Vec::new(); g.len()];
    for (v, partials) in &locals {
        for (slot, &d) in partials.iter().enumerate() {
            let a = g.args(*v)[slot];
            if is_constant(g, a) {
                continue;
            }
            edges.push(Edge {
                from: name_of(g, &names, a),
                to: name_of(g, &names, *v),
                derivative: write_over_names(g, &names, d),
                value: value[d.index()],
            });
            users[a.index()].push((*v, value[d.index()]));
        }
    }

    let mut adjoint = vec![0.0; g.len()];
    adjoint[output.index()] = 1.0;
    let mut backward = Vec::new();
    for &v in order.iter().rev() {
        let terms: Vec<(String, f64, f64)> = users[v.index()]
            .iter()
            .map(|&(u, d)| (name_of(g, &names, u), d, adjoint[u.index()]))
            .collect();
        if v != output {
            adjoint[v.index()] = terms.iter().map(|(_, d, a)| d * a).sum();
        }
        backward.push(AdjointStep {
            name: name_of(g, &names, v),
            terms,
            value: adjoint[v.index()],
        });
    }
    let gradient = vars
        .iter()
        .map(|&x| {
            let a = if x.index() < adjoint.len() {
                adjoint[x.index()]
            } else {
                0.0
            };
            (g.var_name(x).unwrap_or("?").to_string(), a)
        })
        .collect();
    Ok(Explanation {
        forward,
        edges,
        backward,
        gradient,
        output: (name_of(g, &names, output), value[output.index()]),
    })
}

fn is_constant(g: &Graph, v: NodeId) -> bool {
    matches!(g.op(v), Op::Const(_) | Op::Named(_))
}

fn name_of(g: &Graph, names: &[Option<String>], v: NodeId) -> String {
    match names.get(v.index()).and_then(|n| n.clone()) {
        Some(n) => n,
        None => g.op(v).label(),
    }
}

/// `v1 * v2`, `sin(v3)`: one operation over the names of its operands.
fn define(g: &Graph, names: &[Option<String>], v: NodeId) -> String {
    let args: Vec<String> = g.args(v).iter().map(|&a| operand(g, names, a)).collect();
    match g.op(v) {
        Op::Add => args.join(" + "),
        Op::Mul => args.join(" * "),
        Op::Sub => format!("{} - {}", args[0], args[1]),
        Op::Div => format!("{} / {}", args[0], args[1]),
        Op::Pow => format!("{}^{}", args[0], args[1]),
        Op::Neg => format!("-{}", args[0]),
        op => format!("{}({})", op.label(), args.join(", ")),
    }
}

/// An operand: its trace name, or an inline constant (parenthesized when negative
/// or a fraction).
fn operand(g: &Graph, names: &[Option<String>], a: NodeId) -> String {
    match names.get(a.index()).and_then(|n| n.clone()) {
        Some(n) => n,
        None => {
            let text = g.op(a).label();
            if text.starts_with('-') || text.contains('/') {
                format!("({text})")
            } else {
                text
            }
        }
    }
}

/// A local derivative written over trace names. Rules build small expressions
/// (a few operations over trace nodes and constants), so the recursion here is
/// bounded by the rule table, not by the input.
fn write_over_names(g: &Graph, names: &[Option<String>], d: NodeId) -> String {
    if names.get(d.index()).is_some_and(|n| n.is_some()) || g.args(d).is_empty() {
        return operand(g, names, d);
    }
    let parts: Vec<String> = g
        .args(d)
        .iter()
        .map(|&a| {
            let s = write_over_names(g, names, a);
            let named = names.get(a.index()).is_some_and(|n| n.is_some());
            if g.args(a).is_empty() || named || matches!(g.op(a), Op::Func(_)) {
                s
            } else {
                format!("({s})")
            }
        })
        .collect();
    match g.op(d) {
        Op::Add => parts.join(" + "),
        Op::Mul => parts.join("*"),
        Op::Sub => format!("{} - {}", parts[0], parts[1]),
        Op::Div => format!("{}/{}", parts[0], parts[1]),
        Op::Pow => format!("{}^{}", parts[0], parts[1]),
        Op::Neg => format!("-{}", parts[0]),
        op => format!("{}({})", op.label(), parts.join(", ")),
    }
}

impl Explanation {
    /// The worked example as text.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let w = self
            .forward
            .iter()
            .map(|st| st.name.chars().count() + 3 + st.definition.chars().count())
            .max()
            .unwrap_or(0);
        let _ = writeln!(s, "Forward pass: each node's value");
        for st in &self.forward {
            let lhs = format!("{} = {}", st.name, st.definition);
            let _ = writeln!(s, "  {lhs:<w$}  = {}", fmt_num(st.value));
        }
        let _ = writeln!(s, "  f = {}", self.output.0);
        let _ = writeln!(s, "\nLocal derivatives: one per edge");
        let w = self
            .edges
            .iter()
            .map(|e| {
                format!("∂{}/∂{} = {}", e.to, e.from, e.derivative)
                    .chars()
                    .count()
            })
            .max()
            .unwrap_or(0);
        for e in &self.edges {
            let lhs = format!("∂{}/∂{} = {}", e.to, e.from, e.derivative);
            let pad = w.saturating_sub(lhs.chars().count());
            let _ = writeln!(s, "  {lhs}{}  = {}", " ".repeat(pad), fmt_num(e.value));
        }
        let _ = writeln!(
            s,
            "\nBackward pass: adjoints v̄ = ∂f/∂v, from the output down"
        );
        for st in &self.backward {
            if st.name == self.output.0 {
                let _ = writeln!(s, "  {} = 1", bar(&st.name));
                continue;
            }
            let symbolic: Vec<String> = st
                .terms
                .iter()
                .map(|(u, _, _)| format!("{}·∂{u}/∂{}", bar(u), st.name))
                .collect();
            let numeric: Vec<String> = st
                .terms
                .iter()
                .map(|(_, d, a)| format!("{}·{}", factor(*a), factor(*d)))
                .collect();
            let _ = writeln!(
                s,
                "  {} = {} = {} = {}",
                bar(&st.name),
                symbolic.join(" + "),
                numeric.join(" + "),
                fmt_num(st.value)
            );
        }
        let _ = writeln!(s, "\nGradient");
        for (name, v) in &self.gradient {
            let _ = writeln!(s, "  ∂f/∂{name} = {} = {}", bar(name), fmt_num(*v));
        }
        s
    }
}

/// The adjoint of a named node, written as textbooks do: a bar over the
/// name's first letter (`v̄4` for node v4, `x̄` for x), with a combining macron.
fn bar(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => format!("{first}\u{304}{}", chars.as_str()),
        None => String::new(),
    }
}

/// A number as a factor in a product: negative numbers in parentheses.
fn factor(x: f64) -> String {
    if x < 0.0 {
        format!("({})", fmt_num(x))
    } else {
        fmt_num(x)
    }
}

/// A number as people write it: integers without `.0`, others in shortest form.
pub fn fmt_num(x: f64) -> String {
    if x.is_nan() {
        "NaN".to_string()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.to_string()
    } else if x == x.trunc() && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else if x.abs() < 1e-5 || x.abs() >= 1e16 {
        // Shortest round-trip digits in scientific notation, not 20 zeros.
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

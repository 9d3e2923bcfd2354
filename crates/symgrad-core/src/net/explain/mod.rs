//! `symgrad net explain`: the backpropagation equations of a network, read
//! off the reverse pass over its graph rather than written per network.
//!
//! One reverse pass from `loss` gives the adjoint of every node. Each
//! equation's adjoint (and each parameter's gradient) is then copied into a
//! small *notation* graph, where every subexpression that is a named quantity
//! becomes a variable: the declarations and equations by their names (`W2`,
//! `z1`, `a1`), the local derivative of an activation equation `a = f(z)` as
//! `f'(z)` (the very node the rule table built, found by hash-consing), and
//! the adjoints of other equations as `δ` (for an equation named `z...`,
//! `δ2` for `z2`) or `∂C/∂name`. So `z1`'s adjoint, `(Wᵀ @ z̄2) * σ'(z1)`
//! in the graph, reads `δ1 = (W2^T δ2) ⊙ σ'(z1)`, and `W1`'s, a column times
//! a row, reads `δ1 x^T`.
//!
//! Two forms are given, as the textbooks do. The *pre-activation* form names
//! only the adjoints of pre-activations (an equation named `z...`, or one an
//! activation `f(z)`, `softmax(z)` or `logsumexp(z)` is applied to), so each
//! `δ_l` is written in terms of `δ_{l+1}` with everything between inlined; the
//! *post-activation* form names every equation's adjoint, one step at a time
//! (`∂C/∂a1 = W2^T δ2`, `δ1 = ∂C/∂a1 ⊙ σ'(z1)`). The parameters' gradients
//! name every adjoint (`∂C/∂b1 = δ1`, `∂C/∂W1 = δ1 x^T`).
//!
//! Copying tidies only what reverse mode leaves for a reader to fold:
//! constant factors are multiplied out (`1/2 · 2·(a2 - y)` is `a2 - y`), a
//! constant broadcast to a tensor stands for itself inside an elementwise
//! operation, and `x * (1/p)` is `x / p`. Nothing else is simplified, so what
//! is printed is what the graph computes: for softmax with cross-entropy the
//! output error is `-y + sum(y)·p` (the file's `log(softmax(z))` is built as
//! `z - logsumexp(z)`), which equals `p - y` only because a one-hot `y` sums
//! to 1, a fact the graph does not have.
//!
//! Every printed right-hand side is a node of [`Explanation::notation`] over
//! variables that stand for nodes of [`Explanation::graph`], so a test can
//! evaluate the printed equations and compare them with the reverse pass.

mod notation;
mod through_time;

use super::{Network, Role};
use crate::diff::reverse::adjoints;
use crate::diff::rules::local_derivatives;
use crate::error::Result;
use crate::graph::{Func, Graph, NodeId, Op};
use crate::print::{latex_func, latex_name};

/// What a name in an explanation stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Quantity {
    /// A declared tensor or an equation's value, by its name in the file.
    Value(String),
    /// `∂C/∂name`, the adjoint of an equation or a parameter; `delta` when it
    /// is written `δ` (the equation's name starts with `z`).
    Adjoint { name: String, delta: bool },
    /// `f'(name)`: the derivative of the activation `f` at an equation's value.
    Derivative(Func, String),
}

/// A named quantity: how it is written, and the node it stands for.
#[derive(Clone, Debug)]
pub struct Named {
    pub quantity: Quantity,
    /// The node of [`Explanation::graph`] it stands for.
    pub node: NodeId,
    /// As text: `δ2`, `∂C/∂a1`, `σ'(z1)`, `W2`.
    pub text: String,
    /// As LaTeX: `\delta_{2}`, `\sigma'\left(z_{1}\right)`.
    pub latex: String,
}

/// One printed equation: a named quantity on the left, an expression over
/// named quantities on the right.
#[derive(Clone, Debug)]
pub struct Line {
    /// The left side, an index into [`Explanation::names`].
    pub lhs: usize,
    /// The right side, a node of [`Explanation::notation`].
    pub rhs: NodeId,
}

/// A titled group of lines.
#[derive(Clone, Debug)]
pub struct Section {
    pub title: &'static str,
    pub lines: Vec<Line>,
}

/// The backpropagation equations of a network.
#[derive(Clone, Debug)]
pub struct Explanation {
    /// The network's graph with the reverse pass (and the activations' local
    /// derivatives) appended.
    pub graph: Graph,
    /// The printed right-hand sides. Its variable `k` (named `q{k}`) stands
    /// for `names[k]`.
    pub notation: Graph,
    /// The named quantities; `names[k].node` is what notation variable `k` stands for.
    pub names: Vec<Named>,
    /// Output error, the recursion (pre-activation form), the post-activation
    /// form and the parameters' gradients; sections without lines are left out.
    pub sections: Vec<Section>,
    /// For a recurrent network, the step adjoints and shared weights'
    /// gradients folded over the steps (`∂C/∂h[t]` from `∂C/∂h[t+1]`,
    /// `Σ_t`), as text lines (left, right); empty otherwise.
    pub through_time: Vec<(String, String)>,
    /// The same lines in LaTeX.
    pub through_time_latex: Vec<(String, String)>,
}

/// Whether an operation is of some kind.
type OpTest = fn(&Op) -> bool;

const POST_TITLE: &str = "Each equation's adjoint from its users' (post-activation form)";
const GRADIENTS_TITLE: &str = "Gradients of the parameters";

/// Which adjoints a line may refer to by name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// Only the pre-activations' (the δs).
    Pre,
    /// Every equation's.
    Post,
}

/// A pre-activation form line with more notation nodes than this is written
/// in the post-activation form instead, so that inlining cannot blow up.
const MAX_INLINED: usize = 200;

/// Derives the backpropagation equations of `net` from one reverse pass.
///
/// # Errors
/// Only if copying an expression fails a shape check, which would be a bug:
/// the copied nodes already passed the same checks in the network's graph.
pub fn explain(net: &Network) -> Result<Explanation> {
    let mut g = net.graph.clone();
    let mut names: Vec<Named> = Vec::new();
    let value_name = |names: &Vec<Named>, node: NodeId| {
        names
            .iter()
            .find(|n| n.node == node && matches!(n.quantity, Quantity::Value(_)))
            .map(|n| n.text.clone())
    };
    for (name, node) in net
        .decls
        .iter()
        .map(|d| (&d.name, d.node))
        .chain(net.equations.iter().map(|e| (&e.name, e.node)))
    {
        names.push(Named {
            quantity: Quantity::Value(name.clone()),
            node,
            text: name.clone(),
            latex: latex_name(name),
        });
    }
    // Pre-activations: named z..., or the operand of an activation equation.
    let mut pre = vec![false; net.equations.len()];
    for (i, e) in net.equations.iter().enumerate() {
        pre[i] |= is_z_name(&e.name);
        let op = g.op(e.node);
        if matches!(op, Op::Func(_) | Op::Softmax | Op::LogSumExp) {
            let arg = g.args(e.node)[0];
            if let Some(k) = net.equations.iter().position(|x| x.node == arg) {
                pre[k] = true;
            }
        }
    }
    // The activations' local derivatives, `f'(z)` for `a = f(z)`.
    for e in &net.equations {
        let Op::Func(f) = g.op(e.node) else { continue };
        let arg = g.args(e.node)[0];
        let Some(arg_name) = value_name(&names, arg) else {
            continue;
        };
        let partials = local_derivatives(&mut g, e.node)?;
        let Some(&d) = partials.first() else { continue };
        let (text, latex) = derivative_names(f, &arg_name);
        names.push(Named {
            quantity: Quantity::Derivative(f, arg_name),
            node: d,
            text,
            latex,
        });
    }
    let adj = adjoints(&mut g, net.loss).adjoint;
    let adjoint_of = |node: NodeId| adj.get(node.index()).copied().flatten();
    // Equation adjoints from the output back, so that where two share a
    // node the one nearer the output names it.
    let mut eq_adjoint: Vec<Option<usize>> = vec![None; net.equations.len()];
    for (i, e) in net.equations.iter().enumerate().rev() {
        if e.node == net.loss {
            continue;
        }
        let Some(a) = adjoint_of(e.node) else {
            continue;
        };
        eq_adjoint[i] = Some(names.len());
        names.push(adjoint_named(&e.name, is_z_name(&e.name), a));
    }
    // Parameters, by the first equation that uses them, from the output back.
    // first[v]: the first equation whose value depends on node v, by one
    // backward sweep over the network's own nodes.
    let mut first: Vec<usize> = vec![usize::MAX; net.graph.len()];
    for (i, e) in net.equations.iter().enumerate() {
        first[e.node.index()] = first[e.node.index()].min(i);
    }
    for v in net.graph.ids().rev() {
        for &a in net.graph.args(v) {
            first[a.index()] = first[a.index()].min(first[v.index()]);
        }
    }
    let first_user = |p: NodeId| first.get(p.index()).copied().filter(|&i| i != usize::MAX);
    let mut params: Vec<(Option<usize>, usize, &super::Decl)> = net
        .with_role(Role::Param)
        .enumerate()
        .map(|(k, d)| (first_user(d.node), k, d))
        .collect();
    params.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut param_lines = Vec::new();
    for (_, _, d) in &params {
        if let Some(a) = adjoint_of(d.node) {
            param_lines.push(names.len());
            names.push(adjoint_named(&d.name, false, a));
        }
    }

    let mut notation = Graph::new();
    let vars: Vec<NodeId> = names
        .iter()
        .enumerate()
        .map(|(k, n)| notation.try_tensor_var(&format!("q{k}"), g.shape(n.node).clone()))
        .collect::<Result<_>>()?;
    let is_adjoint = |n: &Named| matches!(n.quantity, Quantity::Adjoint { .. });
    // For each form, the name of each node of `g` (values, then derivatives,
    // then adjoints; the first registered wins).
    let pre_adjoints: Vec<usize> = eq_adjoint
        .iter()
        .zip(&pre)
        .rev()
        .filter_map(|(a, &p)| a.filter(|_| p))
        .collect();
    let table = |form: Form| {
        let mut by_node: Vec<Option<usize>> = vec![None; g.len()];
        for (k, n) in names.iter().enumerate() {
            let wanted = match form {
                Form::Post => !param_lines.contains(&k),
                Form::Pre => !is_adjoint(n) || pre_adjoints.contains(&k),
            };
            if wanted && by_node[n.node.index()].is_none() {
                by_node[n.node.index()] = Some(k);
            }
        }
        by_node
    };
    let (pre_table, post_table) = (table(Form::Pre), table(Form::Post));
    let copy = |lhs: usize, form: Form, notation: &mut Graph| -> Result<Line> {
        let by_node = if form == Form::Pre {
            &pre_table
        } else {
            &post_table
        };
        let name_of = |v: NodeId| by_node[v.index()].filter(|&k| k != lhs);
        let rhs = notation::copy(&g, names[lhs].node, &name_of, &vars, notation)?;
        Ok(Line { lhs, rhs })
    };
    let mut sections = Vec::new();
    // The pre-activation form, from the output back.
    let mut recursion = Vec::new();
    for &k in &pre_adjoints {
        let mut line = copy(k, Form::Pre, &mut notation)?;
        if notation.reachable(&[line.rhs]).len() > MAX_INLINED {
            line = copy(k, Form::Post, &mut notation)?;
        }
        recursion.push(line);
    }
    if !recursion.is_empty() {
        let rest = recursion.split_off(1);
        sections.push(Section {
            title: "Output error",
            lines: recursion,
        });
        sections.push(Section {
            title: "Error of each layer from the next (pre-activation form)",
            lines: rest,
        });
    }
    let post: Vec<usize> = eq_adjoint.iter().rev().flatten().copied().collect();
    for (title, lhs) in [(POST_TITLE, post), (GRADIENTS_TITLE, param_lines.clone())] {
        let lines = lhs
            .iter()
            .map(|&k| copy(k, Form::Post, &mut notation))
            .collect::<Result<Vec<_>>>()?;
        sections.push(Section { title, lines });
    }
    sections.retain(|s| !s.lines.is_empty());
    let mut ex = Explanation {
        graph: g,
        notation,
        names,
        sections,
        through_time: Vec::new(),
        through_time_latex: Vec::new(),
    };
    ex.through_time = ex.fold_through_time(Style::Text);
    ex.through_time_latex = ex.fold_through_time(Style::Latex);
    Ok(ex)
}

/// Each equation's right side in the formula syntax, with the declarations
/// and earlier equations it uses by name (`W1 @ x + b1`), in file order:
/// the labels of `symgrad net graph`.
///
/// # Errors
/// As [`explain`]: only on a bug, never for a file that parsed.
pub fn equation_texts(net: &Network) -> Result<Vec<String>> {
    let g = &net.graph;
    let named: Vec<(&str, NodeId)> = net
        .decls
        .iter()
        .map(|d| (d.name.as_str(), d.node))
        .chain(net.equations.iter().map(|e| (e.name.as_str(), e.node)))
        .collect();
    let mut out = Vec::with_capacity(net.equations.len());
    for e in &net.equations {
        let mut n = Graph::new();
        let vars: Vec<NodeId> = named
            .iter()
            .map(|(name, v)| n.try_tensor_var(name, g.shape(*v).clone()))
            .collect::<Result<_>>()?;
        // The first name of a node, the equation itself excepted.
        let name_of = |v: NodeId| {
            named
                .iter()
                .position(|&(_, node)| node == v)
                .filter(|&k| named[k].0 != e.name || v != e.node)
        };
        let root = notation::copy(g, e.node, &name_of, &vars, &mut n)?;
        out.push(crate::print::text(&n, &[root]).formula(0));
    }
    Ok(out)
}

/// `z`, `z2`, `z_out`: names whose adjoint is written `δ`.
fn is_z_name(name: &str) -> bool {
    let rest = name.strip_prefix('z');
    rest.is_some_and(|r| r.is_empty() || r.starts_with(|c: char| c.is_ascii_digit() || c == '_'))
}

fn adjoint_named(name: &str, delta: bool, node: NodeId) -> Named {
    let (text, latex) = if delta {
        let rest = &name[1..];
        let latex = match rest.strip_prefix('_').unwrap_or(rest) {
            "" => "\\delta".to_string(),
            r if r.chars().all(|c| c.is_ascii_digit()) => latex_name(&format!("δ{r}")),
            r => format!("\\delta_{{\\mathrm{{{}}}}}", r.replace('_', "\\_")),
        };
        (format!("δ{rest}"), latex)
    } else {
        (
            format!("∂C/∂{name}"),
            format!("\\frac{{\\partial C}}{{\\partial {}}}", latex_name(name)),
        )
    };
    Named {
        quantity: Quantity::Adjoint {
            name: name.to_string(),
            delta,
        },
        node,
        text,
        latex,
    }
}

/// `σ'(z1)` and `\sigma'\left(z_{1}\right)`.
fn derivative_names(f: Func, arg: &str) -> (String, String) {
    let text = match f {
        Func::Sigmoid => "σ".to_string(),
        f => f.name().to_string(),
    };
    (
        format!("{text}'({arg})"),
        format!("{}'\\left({}\\right)", latex_func(f), latex_name(arg)),
    )
}

/// How an explanation is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Text,
    Latex,
}

impl Explanation {
    /// The explanation as text or LaTeX, one section after another.
    pub fn render(&self, style: Style) -> String {
        let mut out = String::new();
        match style {
            Style::Text => {
                out.push_str(
                    "Backpropagation, read off the reverse pass from C = loss \
                     (δ = ∂C/∂z, ⊙ elementwise product, ^T transpose, u v^T outer product).\n",
                );
                out.push_str(&self.image_legend());
                for s in &self.sections {
                    out.push_str(&format!("\n{}\n", s.title));
                    for line in &s.lines {
                        let rhs = self.rhs(line, style);
                        out.push_str(&format!("  {} = {rhs}\n", self.names[line.lhs].text));
                    }
                }
                if !self.through_time.is_empty() {
                    out.push_str(
                        "\nBackpropagation through time (the lines above folded over the steps; \
                         a shared weight's gradient sums its steps')\n",
                    );
                    for (lhs, rhs) in &self.through_time {
                        out.push_str(&format!("  {lhs} = {rhs}\n"));
                    }
                }
            }
            Style::Latex => {
                out.push_str("% Backpropagation, read off the reverse pass from C = loss.\n");
                for s in &self.sections {
                    out.push_str(&format!("% {}\n\\begin{{aligned}}\n", s.title));
                    for line in &s.lines {
                        let rhs = self.rhs(line, style);
                        out.push_str(&format!("{} &= {rhs} \\\\\n", self.names[line.lhs].latex));
                    }
                    out.push_str("\\end{aligned}\n");
                }
                if !self.through_time_latex.is_empty() {
                    out.push_str(
                        "% Backpropagation through time (the lines above folded over the steps)\n\
                         \\begin{aligned}\n",
                    );
                    for (lhs, rhs) in &self.through_time_latex {
                        out.push_str(&format!("{lhs} &= {rhs} \\\\\n"));
                    }
                    out.push_str("\\end{aligned}\n");
                }
            }
        }
        out
    }

    /// What the image operations of the printed lines mean, one line each,
    /// for those that occur.
    fn image_legend(&self) -> String {
        let has = |f: fn(&Op) -> bool| self.notation.ids().any(|v| f(&self.notation.op(v)));
        let mut out = String::new();
        let notes: [(OpTest, &str); 4] = [
            (
                |op| matches!(op, Op::Conv2dInputGrad(..)),
                "conv2d_input_grad(δ, K): the error sent back through a convolution, δ \
                 convolved in full with K turned 180° and its channels swapped (the \
                 transposed convolution)",
            ),
            (
                |op| matches!(op, Op::Conv2dKernelGrad(..)),
                "conv2d_kernel_grad(x, δ): the kernel's gradient, each input window of x \
                 times the error at its output position, summed over the positions",
            ),
            (
                |op| matches!(op, Op::MaxPoolMask(_)),
                "maxpool_mask(a, k): 1 at the first largest entry of each k×k window, 0 elsewhere",
            ),
            (
                |op| matches!(op, Op::Upsample(..)),
                "upsample(e, k, shape): each entry of e repeated over its k×k window",
            ),
        ];
        for (occurs, note) in notes {
            if has(occurs) {
                out.push_str(&format!("  {note}.\n"));
            }
        }
        out
    }

    /// The backpropagation-through-time lines ([`through_time::fold`]) of
    /// the post-activation and gradient sections.
    fn fold_through_time(&self, style: Style) -> Vec<(String, String)> {
        let written = |n: &Named| match style {
            Style::Text => n.text.clone(),
            Style::Latex => n.latex.clone(),
        };
        let lines = |title: &str| -> Vec<(String, String)> {
            self.sections
                .iter()
                .filter(|s| s.title == title)
                .flat_map(|s| &s.lines)
                .map(|l| (written(&self.names[l.lhs]), self.rhs(l, style)))
                .collect()
        };
        let is_step = |n: &Named| matches!(&n.quantity, Quantity::Adjoint { name, .. } if name.ends_with(']'));
        // Without a recurrence there is nothing to fold: skip rendering.
        if !self.names.iter().any(is_step) {
            return Vec::new();
        }
        let aliases: Vec<(String, String)> = self
            .names
            .iter()
            .filter(|n| is_step(n))
            .flat_map(|step| {
                self.names
                    .iter()
                    .filter(move |o| {
                        o.node == step.node
                            && !is_step(o)
                            && matches!(o.quantity, Quantity::Adjoint { .. })
                    })
                    .map(move |o| (written(o), written(step)))
            })
            .collect();
        let notation = match style {
            Style::Text => through_time::Notation::Text,
            Style::Latex => through_time::Notation::Latex,
        };
        through_time::fold(
            &lines(POST_TITLE),
            &lines(GRADIENTS_TITLE),
            &aliases,
            notation,
        )
    }

    /// A line's right-hand side as printed.
    pub fn rhs(&self, line: &Line, style: Style) -> String {
        notation::render(&self.notation, line.rhs, &self.names, style)
    }
}

#[cfg(test)]
mod tests;

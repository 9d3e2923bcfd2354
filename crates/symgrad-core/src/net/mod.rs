//! Network definitions (`.sg` files, the "Contract: network definitions" of
//! DESIGN.md): declarations and equations that become one tensor graph, and
//! the mean loss and its gradient over a batch of samples ([`batch`]).
//!
//! A file is a list of statements, one per line or separated by `;`, with
//! `#` comments:
//!
//! - `input x[784]` and `target y[10]` declare the tensors the data fills;
//! - `param W[30, 784] <initializer>` declares a trainable parameter, where
//!   the initializer is an index formula, `= <formula in i, j>` (`i` the row
//!   or vector index, `j` the column index, both from 0, evaluated per entry
//!   by the scalar interpreter; `= 0` is the simplest one), or a random
//!   initializer `~ normal(mean, std)`, `~ uniform(a, b)`, `~ xavier` or
//!   `~ he` ([`Init`], drawn by [`Network::init_params`]);
//! - `name = expr` is an equation; equations may come in any order, since
//!   they are sorted so that each comes after the equations it uses, and a
//!   cycle between them is an error naming it (`a -> b -> a`);
//! - the equation `loss` is the per-sample objective and must be a scalar;
//! - `dropout(a, p)` declares a per-sample mask ([`Role::Mask`], drawn by
//!   [`dropout`]; the call is recorded as a [`Dropout`]) and `batchnorm(a)`
//!   and `batchnorm(a, gamma, beta)` normalize with two variables for the
//!   statistics ([`BatchNorm`], given values only by the [`batched`]
//!   rewrite: the batch's in training mode, the running ones in inference
//!   mode);
//! - the layer shorthand `dense N activation` and `loss quadratic` expands
//!   to declarations and equations ([`shorthand`]; errors still point into
//!   the file as written);
//! - indexed equations `h[0] = ...` and recurrences `h[t] = ... for t in
//!   1..8` are unrolled: each step is an equation of its own (`h[3]`), in
//!   which `t` is the step's number and `h[t-1]` the step before, so the
//!   weights are shared by every step and reverse mode sums each weight's
//!   gradient over the steps (backpropagation through time); `v[t]` with a
//!   constant (or `t`) selects along `v`'s first axis;
//! - `residual ... end [activation]` blocks expand (in [`shorthand`]) to
//!   their layers from the block's input and the skip connection
//!   `resK = activation(out + in)`.
//!
//! A file is read once into a tree ([`syntax::parse_file`]: statements and
//! one arena of expression trees, spans on every node), the shorthand is
//! expanded tree to tree ([`shorthand::expand_file`]), and the graph is
//! built from the expanded tree (`build` here, equations lowered in
//! `lower.rs`). Equations and formulas share one expression grammar
//! ([`crate::parse`]): network equations are its network dialect, with `@`
//! at the precedence of `*`, postfix indexing and keyword arguments, the
//! formula syntax's superscripts, `**`, `·` and `−`, the same depth cap
//! ([`MAX_DEPTH`](crate::parse::MAX_DEPTH)), and no implicit
//! multiplication (`2x` is an error here: a tensor equation's products are
//! better written out, and a space between names is too easily a typo).
//! Names are looked up among the declarations and the other equations,
//! and every operator is built with the graph's `try_` builders so that a
//! shape error becomes a spanned error (`cannot multiply [30, 784] by
//! [10]`). Initializers (`= 0.1*i`, `~ normal(0, 1/sqrt(784))`) are in the
//! formula syntax itself.
//!
//! Errors are typed and spanned, never panics: an unknown name is
//! [`UnknownVariable`](ErrorKind::UnknownVariable), a shape mismatch
//! [`Shape`](ErrorKind::Shape), an unknown distribution
//! [`UnknownFunction`](ErrorKind::UnknownFunction), a bad initializer
//! argument [`InvalidValue`](ErrorKind::InvalidValue), and a name defined
//! twice, a cycle, a missing `loss` or a malformed line
//! [`Syntax`](ErrorKind::Syntax).

pub mod batch;
pub mod batched;
pub mod dropout;
pub mod explain;
mod init;
mod lower;
pub mod params;
pub mod paths;
pub mod shorthand;
pub mod syntax;

pub use init::{fans, Init};

use crate::error::{Error, ErrorKind, Result, Span};
use crate::eval::{Program, Tensor};
use crate::graph::{Graph, NodeId, Shape};
use crate::parse::ast::{ExprArena, ExprId};
use rustc_hash::FxHashMap;
use syntax::{File, StmtKind};

/// The most entries a declared tensor may have (2^27, 1 GiB of `f64`).
pub const MAX_ENTRIES: usize = 1 << 27;

/// What a declared tensor is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `input`: filled from the data, per sample.
    Input,
    /// `target`: filled from the data, per sample.
    Target,
    /// `param`: a trainable parameter with an initializer.
    Param,
    /// A dropout mask, declared by the parser for each `dropout(a, p)` call
    /// (named `dropout1`, `dropout2`, ... in the order the equations are
    /// built, skipping names the file defines): per-sample data of `a`'s
    /// shape that the evaluators draw rather than read from the CSV file
    /// ([`dropout`]), with entries 0 (probability `p`) or 1.
    Mask,
}

/// A declared tensor: an input, a target or a parameter.
#[derive(Clone, Debug)]
pub struct Decl {
    pub name: String,
    pub role: Role,
    pub shape: Shape,
    /// Its variable in the network's graph.
    pub node: NodeId,
    /// The span of its name in the file (of the whole shorthand line for a
    /// parameter the layer shorthand declares).
    pub span: Span,
    /// A parameter's initializer (`None` for inputs, targets and masks).
    pub init: Option<Init>,
    /// A dropout mask's probability `p` that an entry is 0 (`None` for
    /// everything else).
    pub dropout: Option<f64>,
}

/// `batchnorm(a)` in the per-sample graph: `(a - mean) / sqrt(var + ε)`,
/// with ε = [`BATCHNORM_EPS`] and `mean` and `var` two variables of `a`'s
/// shape (named `batchnormK.mean` and `batchnormK.var`) that stand for the
/// mean and the variance of `a` per entry (each entry of `a` is a feature).
/// They have no value for one sample. In training mode [`batched`]
/// replaces them by the mean and the biased variance over the samples of
/// the batch (reductions over the batch axis, so that reverse mode
/// differentiates through the batch statistics); in inference mode by the
/// running statistics, inputs of the plan. The per-sample reference
/// refuses them.
///
/// `batchnorm(a, gamma, beta)` is the same followed by `⊙ gamma + beta`,
/// with `gamma` and `beta` declared parameters of `a`'s shape (one value
/// per feature).
#[derive(Clone, Debug)]
pub struct BatchNorm {
    /// `batchnormK`, the stem of its statistics' names: the running
    /// statistics are `batchnormK.running_mean` and `batchnormK.running_var`.
    pub name: String,
    /// `a`.
    pub operand: NodeId,
    /// The variable standing for the batch mean of `a`.
    pub mean: NodeId,
    /// The variable standing for the batch variance of `a`.
    pub var: NodeId,
    /// The learned scale and shift, for `batchnorm(a, gamma, beta)`.
    pub affine: Option<(NodeId, NodeId)>,
    /// The span of the `batchnorm(...)` call.
    pub span: Span,
}

impl BatchNorm {
    /// How many entries of its operand each statistic averages per sample:
    /// the positions `H·W` of an image's channel, 1 for per-entry batch norm.
    pub fn positions(&self, g: &Graph) -> usize {
        g.shape(self.operand).numel() / g.shape(self.mean).numel().max(1)
    }

    /// The number of entries of each statistic (and running statistic).
    pub fn stat_len(&self, g: &Graph) -> usize {
        g.shape(self.mean).numel()
    }

    /// The names of its running mean and running variance, the state that
    /// inference mode reads and training updates.
    pub fn running_names(&self) -> [String; 2] {
        [
            format!("{}.running_mean", self.name),
            format!("{}.running_var", self.name),
        ]
    }
}

/// `dropout(a, p)` in the per-sample graph: `output = product · 1/(1 - p)`
/// with `product = a ⊙ mask` (the same node as `output` when `p = 0`).
/// Inference mode evaluates `output` as `a` itself.
#[derive(Clone, Debug)]
pub struct Dropout {
    /// `a`.
    pub operand: NodeId,
    /// Its mask variable ([`Role::Mask`]).
    pub mask: NodeId,
    /// `a ⊙ mask`.
    pub product: NodeId,
    /// The call's value.
    pub output: NodeId,
}

/// The ε of `batchnorm`, added to the variance before the square root.
pub const BATCHNORM_EPS: f64 = 1e-5;

/// An equation `name = expr`.
#[derive(Clone, Debug)]
pub struct Equation {
    pub name: String,
    pub node: NodeId,
    pub span: Span,
}

/// A parsed network: one graph holding every declaration and equation.
#[derive(Clone, Debug)]
pub struct Network {
    pub graph: Graph,
    /// Declarations in file order, then the dropout masks the equations
    /// declared ([`Role::Mask`]) in the order they were built.
    pub decls: Vec<Decl>,
    /// Equations, `loss` included, in a topological order: each comes after
    /// every equation it uses, and otherwise in file order (so a file written
    /// top-down keeps its order).
    pub equations: Vec<Equation>,
    /// The per-sample loss, a scalar node.
    pub loss: NodeId,
    /// The `batchnorm(...)` calls, in the order they were built.
    pub batchnorms: Vec<BatchNorm>,
    /// The `dropout(...)` calls, in the order they were built (the order
    /// of their masks).
    pub dropouts: Vec<Dropout>,
}

impl Network {
    /// The declarations with `role`, in file order.
    pub fn with_role(&self, role: Role) -> impl Iterator<Item = &Decl> {
        self.decls.iter().filter(move |d| d.role == role)
    }

    /// The initial value of every parameter, in file order.
    ///
    /// Index formulas give the same values whatever the seed. Each random
    /// initializer draws from its own stream, derived from `seed` and the
    /// parameter's *name* (not its position), so that adding, removing or
    /// reordering other parameters leaves its values unchanged; the same
    /// seed always gives the same values.
    pub fn init_params(&self, seed: u64) -> Vec<Tensor> {
        self.with_role(Role::Param)
            .map(|d| match &d.init {
                Some(init) => init.draw(&d.shape, &mut init::stream(seed, &d.name)),
                None => Tensor::new(d.shape.clone(), vec![0.0; d.shape.numel()]),
            })
            .collect()
    }

    /// Replaces every parameter's initializer by a fixed value (one tensor
    /// per parameter, in file order, as [`init_params`](Self::init_params)
    /// gives them and [`params::from_json`] reads them), so that whatever
    /// evaluates the network from its initializers uses these values.
    ///
    /// # Errors
    /// An [`InvalidValue`](ErrorKind::InvalidValue) error for a wrong count
    /// or a shape that differs from the declaration.
    pub fn set_params(&mut self, values: Vec<Tensor>) -> Result<()> {
        let n = self.with_role(Role::Param).count();
        if values.len() != n {
            return Err(Error::new(
                ErrorKind::InvalidValue,
                format!("{} parameter values for {n} parameters", values.len()),
            ));
        }
        let params = self.decls.iter_mut().filter(|d| d.role == Role::Param);
        for (d, v) in params.zip(values) {
            if v.shape != d.shape {
                return Err(Error::new(
                    ErrorKind::InvalidValue,
                    format!(
                        "the value for '{}' has shape {}, but it is declared {}",
                        d.name, v.shape, d.shape
                    ),
                ));
            }
            d.init = Some(Init::Value(v));
        }
        Ok(())
    }
}

fn syntax(span: Span, message: impl Into<String>) -> Error {
    Error::at(ErrorKind::Syntax, span, message)
}

/// Where a name was defined.
#[derive(Clone, Copy)]
pub(crate) struct Defined {
    node: NodeId,
    /// Whether it is a declared parameter.
    param: bool,
}

/// Parses a network file: reads it into its tree ([`syntax::parse_file`]),
/// expands the layer shorthand tree to tree ([`shorthand::expand_file`])
/// and builds the graph from the expanded tree.
///
/// Every span, in errors and in the result, points into `src` as written
/// (at the shorthand line for what the shorthand generated).
///
/// # Errors
/// A spanned error (see the module documentation) for anything the file
/// gets wrong; [`Error::render`] shows it against `src`.
pub fn parse_network(src: &str) -> Result<Network> {
    let file = syntax::parse_file(src)?;
    let file = shorthand::expand_file(src, file)?;
    build(src, &file)
}

/// An equation read but not built yet: a plain one, a step `h[3]`, or one
/// step of a recurrence with its variable's value (`t = 3`).
struct Pending<'t> {
    name: String,
    span: Span,
    value: ExprId,
    step: Option<(&'t str, i64)>,
}

/// Builds the graph of an expanded tree.
fn build(src: &str, file: &File) -> Result<Network> {
    let mut graph = Graph::new();
    let mut first_seen: FxHashMap<&str, Span> = FxHashMap::default();
    let mut names: FxHashMap<String, Defined> = FxHashMap::default();
    let mut decls = Vec::new();
    let mut pending: Vec<Pending<'_>> = Vec::new();
    // The names of indexed families (`h` of `h[0]`, `h[t]`).
    let mut families: rustc_hash::FxHashSet<&str> = rustc_hash::FxHashSet::default();
    for stmt in &file.stmts {
        match &stmt.kind {
            StmtKind::Decl(d) => {
                let decl = declaration(src, &file.exprs, d, &mut graph)?;
                define(src, &mut first_seen, &d.name.name, decl.span)?;
                names.insert(
                    decl.name.clone(),
                    Defined {
                        node: decl.node,
                        param: decl.role == Role::Param,
                    },
                );
                decls.push(decl);
            }
            StmtKind::Equation(e) => {
                define(src, &mut first_seen, &e.name.name, e.name.span)?;
                pending.push(Pending {
                    name: e.name.name.to_string(),
                    span: e.name.span,
                    value: e.value,
                    step: None,
                });
            }
            // The syntax checks have made sure that every step is defined
            // once and every read is of a step defined somewhere.
            StmtKind::Step(st) => {
                families.insert(&st.name.name);
                pending.push(Pending {
                    name: format!("{}[{}]", st.name.name, st.step),
                    span: stmt.span,
                    value: st.value,
                    step: None,
                });
            }
            StmtKind::Recurrence(r) => {
                families.insert(&r.name.name);
                for t in r.start..r.end {
                    pending.push(Pending {
                        name: format!("{}[{t}]", r.name.name),
                        span: stmt.span,
                        value: r.value,
                        step: Some((&r.var.name, t)),
                    });
                }
            }
            StmtKind::Layer(_) | StmtKind::Block(_) => {
                return Err(syntax(
                    stmt.span,
                    "internal error: layer shorthand left unexpanded",
                ))
            }
        }
    }
    let mut equations = Vec::with_capacity(pending.len());
    let mut implicit = Implicit {
        taken: first_seen.keys().map(|k| k.to_string()).collect(),
        masks: Vec::new(),
        batchnorms: Vec::new(),
        dropouts: Vec::new(),
    };
    for k in topological_order(&file.exprs, &pending, &families)? {
        let p = &pending[k];
        let node = lower::Lowering {
            src,
            exprs: &file.exprs,
            graph: &mut graph,
            names: &names,
            implicit: &mut implicit,
            families: &families,
            step: p.step,
        }
        .equation(p.value)?;
        names.insert(p.name.clone(), Defined { node, param: false });
        equations.push(Equation {
            name: p.name.to_string(),
            node,
            span: p.span,
        });
    }
    let Some(loss) = equations.iter().find(|e| e.name == "loss") else {
        return Err(syntax(
            Span::point(src.len()),
            "the network has no 'loss = ...' equation (the per-sample objective)",
        ));
    };
    if !graph.is_scalar(loss.node) {
        return Err(Error::at(
            ErrorKind::Shape,
            loss.span,
            format!(
                "'loss' must be a scalar, but it has shape {}; reduce it, e.g. with sum(...)",
                graph.shape(loss.node)
            ),
        ));
    }
    let loss = loss.node;
    decls.append(&mut implicit.masks);
    Ok(Network {
        graph,
        decls,
        equations,
        loss,
        batchnorms: implicit.batchnorms,
        dropouts: implicit.dropouts,
    })
}

/// What equations declare by calling `dropout` and `batchnorm`.
pub(crate) struct Implicit {
    /// Names that are defined or already generated.
    taken: rustc_hash::FxHashSet<String>,
    masks: Vec<Decl>,
    batchnorms: Vec<BatchNorm>,
    dropouts: Vec<Dropout>,
}

impl Implicit {
    /// `stem1`, `stem2`, ...: the first that is not taken, which it takes.
    fn fresh(&mut self, stem: &str) -> String {
        let mut k = 1usize;
        loop {
            let name = format!("{stem}{k}");
            if self.taken.insert(name.clone()) {
                return name;
            }
            k += 1;
        }
    }

    /// `a ⊙ mask · scale` for `dropout(a, p)` at `span`, with `scale` the
    /// constant `1/(1 - p)`, declaring the mask (see [`Dropout`]).
    pub(crate) fn dropout(
        &mut self,
        graph: &mut Graph,
        a: NodeId,
        (p, scale): (f64, NodeId),
        span: Span,
    ) -> Result<NodeId> {
        let name = self.fresh("dropout");
        let shape = graph.shape(a).clone();
        let mask = graph.try_tensor_var(&name, shape.clone())?;
        self.masks.push(Decl {
            name,
            role: Role::Mask,
            shape,
            node: mask,
            span,
            init: None,
            dropout: Some(p),
        });
        let product = graph.try_mul(a, mask)?;
        let output = graph.try_mul(product, scale)?;
        self.dropouts.push(Dropout {
            operand: a,
            mask,
            product,
            output,
        });
        Ok(output)
    }

    /// `(a - mean) / sqrt(var + ε)` for `batchnorm(a)` at `span`, then
    /// `⊙ gamma + beta` when `affine` is given (see [`BatchNorm`]; the
    /// caller has checked that they are parameters of `a`'s shape).
    pub(crate) fn batchnorm(
        &mut self,
        graph: &mut Graph,
        a: NodeId,
        affine: Option<(NodeId, NodeId)>,
        span: Span,
    ) -> Result<NodeId> {
        let name = self.fresh("batchnorm");
        // An image [C, H, W] is normalized per channel, over the batch and
        // the positions (PyTorch's BatchNorm2d): its statistics are
        // [C, 1, 1]; any other shape per entry (BatchNorm1d).
        let shape = match graph.shape(a).dims() {
            &[c, _, _] => crate::graph::Shape::new(vec![c, 1, 1]),
            _ => graph.shape(a).clone(),
        };
        let mean = graph.try_tensor_var(&format!("{name}.mean"), shape.clone())?;
        let var = graph.try_tensor_var(&format!("{name}.var"), shape.clone())?;
        // gamma and beta [C] line up with the channels.
        let affine = match affine {
            Some((gamma, beta)) if graph.shape(gamma).rank() == 1 && shape.rank() == 3 => Some((
                graph.try_reshape(gamma, &shape)?,
                graph.try_reshape(beta, &shape)?,
            )),
            other => other,
        };
        let eps = graph.constant(crate::num::Num::from(BATCHNORM_EPS));
        let centered = graph.try_sub(a, mean)?;
        let spread = graph.try_add(var, eps)?;
        let root = graph.func(crate::graph::Func::Sqrt, spread);
        let mut out = graph.try_div(centered, root)?;
        if let Some((gamma, beta)) = affine {
            let scaled = graph.try_mul(out, gamma)?;
            out = graph.try_add(scaled, beta)?;
        }
        self.batchnorms.push(BatchNorm {
            name,
            operand: a,
            mean,
            var,
            affine,
            span,
        });
        Ok(out)
    }
}

/// Records the definition of `name`, refusing a second one and reserved names.
fn define<'s>(
    src: &str,
    first_seen: &mut FxHashMap<&'s str, Span>,
    name: &'s str,
    span: Span,
) -> Result<()> {
    if let Some(prev) = first_seen.get(name) {
        return Err(syntax(
            span,
            format!(
                "'{name}' is defined twice (first on line {})",
                syntax::line_of(src, *prev)
            ),
        ));
    }
    if lower::is_reserved(name) {
        return Err(syntax(
            span,
            format!("cannot define '{name}': it is a function or constant name"),
        ));
    }
    first_seen.insert(name, span);
    Ok(())
}

/// The order in which to build the equations: each after those it uses
/// (a depth-first post-order from the equations in file order, on an
/// explicit stack), or a spanned error naming a cycle.
fn topological_order(
    exprs: &ExprArena,
    pending: &[Pending<'_>],
    families: &rustc_hash::FxHashSet<&str>,
) -> Result<Vec<usize>> {
    let index: FxHashMap<&str, usize> = pending
        .iter()
        .enumerate()
        .map(|(k, p)| (p.name.as_str(), k))
        .collect();
    // The equations each one uses (names not called; `h[t-1]` is the step
    // it names).
    let uses: Vec<Vec<usize>> = pending
        .iter()
        .map(|p| {
            let mut uses: Vec<usize> = exprs
                .names(p.value)
                .into_iter()
                .filter_map(|(_, name)| index.get(name).copied())
                .collect();
            for id in exprs.subtree(p.value) {
                if let Some((family, step)) = lower::step_read(exprs, id, families, p.step) {
                    if let Some(&k) = index.get(format!("{family}[{step}]").as_str()) {
                        uses.push(k);
                    }
                }
            }
            uses
        })
        .collect();
    const NEW: u8 = 0;
    const OPEN: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![NEW; pending.len()];
    let mut order = Vec::with_capacity(pending.len());
    for root in 0..pending.len() {
        if state[root] != NEW {
            continue;
        }
        state[root] = OPEN;
        // (equation, how many of its uses have been followed)
        let mut stack = vec![(root, 0usize)];
        while let Some(top) = stack.last_mut() {
            let (v, next) = *top;
            let Some(&w) = uses[v].get(next) else {
                state[v] = DONE;
                order.push(v);
                stack.pop();
                continue;
            };
            top.1 += 1;
            match state[w] {
                NEW => {
                    state[w] = OPEN;
                    stack.push((w, 0));
                }
                OPEN => {
                    let from = stack.iter().position(|&(u, _)| u == w).unwrap_or(0);
                    let mut cycle: Vec<usize> = stack[from..].iter().map(|&(u, _)| u).collect();
                    // Start at the equation that comes first in the file.
                    let first = (0..cycle.len()).min_by_key(|&k| cycle[k]).unwrap_or(0);
                    cycle.rotate_left(first);
                    cycle.push(cycle[0]);
                    let path: Vec<&str> = cycle.iter().map(|&k| pending[k].name.as_str()).collect();
                    return Err(syntax(
                        pending[cycle[0]].span,
                        format!("equations form a cycle: {}", path.join(" -> ")),
                    ));
                }
                _ => {}
            }
        }
    }
    Ok(order)
}

/// The tensor variable and initial value of a declaration of the tree.
fn declaration(src: &str, exprs: &ExprArena, d: &syntax::Decl, graph: &mut Graph) -> Result<Decl> {
    let name = d.name.name.clone();
    syntax::check_entries(&d.dims, d.shape_span, &name)?;
    let shape = Shape::new(d.dims.clone());
    let node = graph
        .try_tensor_var(&name, shape.clone())
        .map_err(|e| Error::at(e.kind(), d.name.span, e.message()))?;
    let init = match &d.init {
        None => None,
        Some(syntax::InitSyntax::Random { dist, args, call }) => {
            Some(init::random(src, exprs, dist, args, *call)?)
        }
        Some(syntax::InitSyntax::Formula { value, span }) => Some(Init::Value(initial_value(
            src, exprs, *value, *span, &shape,
        )?)),
    };
    Ok(Decl {
        name,
        role: d.role,
        shape,
        node,
        span: d.name.span,
        init,
        dropout: None,
    })
}

/// A formula of an initializer built on its own: a scalar graph whose
/// names (other than the constants) are its variables.
pub(crate) struct ConstantFormula {
    pub(crate) graph: Graph,
    pub(crate) output: NodeId,
    /// Each variable with the span of its first use.
    pub(crate) vars: Vec<(NodeId, Span)>,
}

/// The formula (formula syntax) at `root` as a [`ConstantFormula`].
pub(crate) fn constant_formula(
    src: &str,
    exprs: &ExprArena,
    root: ExprId,
) -> Result<ConstantFormula> {
    let mut graph = Graph::new();
    let mut vars: Vec<(NodeId, Span)> = Vec::new();
    let mut resolve = |g: &mut Graph, name: &str, at: Span| {
        if let Some(c) = crate::parse::constant(name) {
            return g.named(c);
        }
        let node = g.var(name);
        if !vars.iter().any(|&(v, _)| v == node) {
            vars.push((node, at));
        }
        node
    };
    let output = crate::parse::lower(src, exprs, root, &mut graph, &mut resolve)?;
    Ok(ConstantFormula {
        graph,
        output,
        vars,
    })
}

/// Evaluates the index formula at `root` (its text at `span`) at every
/// entry of `shape`.
fn initial_value(
    src: &str,
    exprs: &ExprArena,
    root: ExprId,
    span: Span,
    shape: &Shape,
) -> Result<Tensor> {
    let ConstantFormula {
        graph,
        output,
        vars,
    } = constant_formula(src, exprs, root)?;
    let rank = shape.rank();
    // Which index each variable of the formula takes.
    let mut which = Vec::new();
    for &(v, at) in &vars {
        let name = graph.var_name(v).unwrap_or("");
        let axis = match name {
            "i" if rank >= 1 => 0,
            "j" if rank >= 2 => 1,
            _ => {
                let allowed = match rank {
                    0 => "no index (the parameter is a scalar)",
                    1 => "the index i",
                    _ => "the indices i and j",
                };
                return Err(Error::at(
                    ErrorKind::UnknownVariable,
                    at,
                    format!("unknown name '{name}' in an initializer, which may use {allowed}"),
                ));
            }
        };
        which.push(axis);
    }
    // A constant (`= 0`) fills any shape; i and j index vectors and matrices.
    if rank > 2 && !which.is_empty() {
        return Err(syntax(
            span,
            "index formulas in i and j initialize vectors and matrices only; \
             a constant (= 0) or a random initializer (~ he) fills any shape",
        ));
    }
    let inputs: Vec<NodeId> = vars.iter().map(|&(v, _)| v).collect();
    let program = Program::compile(&graph, &inputs, &[output])
        .map_err(|e| Error::at(e.kind(), span, e.message()))?;
    let dims = shape.dims();
    let cols = if rank == 2 { dims[1] } else { 1 };
    let mut data = Vec::with_capacity(shape.numel());
    let mut point = vec![0.0; which.len()];
    for flat in 0..shape.numel() {
        let index = [flat / cols, flat % cols];
        for (p, &axis) in point.iter_mut().zip(&which) {
            *p = index[axis] as f64;
        }
        data.push(program.run(&point)[0]);
    }
    Ok(Tensor::new(shape.clone(), data))
}

#[cfg(test)]
mod lang_tests;
#[cfg(test)]
mod syntax_tests;
#[cfg(test)]
mod tests;

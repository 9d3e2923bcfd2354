//! The layer shorthand of network files, expanded tree to tree.
//!
//! ```text
//! input x[784]; target y[10]
//! dense 30 sigmoid
//! dense 10 sigmoid
//! loss quadratic
//! ```
//!
//! Layer `k` (the `k`-th `dense` line, from 1), `dense N activation` with an
//! input `v` of length `n`, becomes the statements
//!
//! ```text
//! param Wk[N, n] ~ normal(0, 1/sqrt(n))
//! param bk[N] ~ normal(0, 1)
//! zk = Wk @ v + bk
//! ak = activation(zk)
//! ```
//!
//! The weights follow Nielsen's "improved" initialization (standard deviation
//! `1/sqrt(fan-in)`), the biases his default `normal(0, 1)`. The activation is
//! one of `sigmoid`, `tanh`, `relu`, `softplus`, `softmax`, or `identity`
//! (also `linear`: `ak = zk`). The input `v` of a layer is the most recent
//! layer output (`a(k-1)`) or `input` declaration above it, whichever comes
//! later in the file; it must be a vector.
//!
//! `loss quadratic`, `loss cross_entropy` and `loss mse` use the most recent
//! layer output `aL` and the most recent `target` declaration `y` above them
//! and become `loss = sum((aL - y)^2) / 2`, `loss = cross_entropy(aL, y)`
//! (the categorical `-sum(y * log(aL))`, for a softmax output) and
//! `loss = mse(aL, y)` (`mean((aL - y)^2)`).
//!
//! Every other statement is kept as it is, so shorthand and equations mix:
//! an equation may use `a1`, and a `dense` layer after it still takes the
//! last layer output. The names a layer defines (`Wk`, `bk`, `zk`, `ak`, and
//! `loss`) must not be defined by the file itself.
//!
//! [`expand_file`] replaces each shorthand statement by the statements it
//! stands for, marked [`Origin::Shorthand`] with the shorthand line's span
//! on each of their nodes, so that errors about them point at the line as
//! written. [`print`] writes the expanded tree as a network file: the
//! file's own statements, comments and spacing as written, each shorthand
//! line replaced by a comment quoting it and the statements it expands to.
//!
//! The other layer lines (`conv`, `maxpool`, `avgpool`, `flatten`,
//! `batchnorm`, `dropout`, a bare activation, `rnn`) are described in
//! `layers.rs`. A `residual ... end [activation]` block expands its body's
//! layers from the block's input, then the skip connection
//! `resK = activation(out + in)`, which becomes the current layer output;
//! the body's output must have the input's shape.

mod layers;
#[cfg(test)]
mod tests;

use super::syntax::{
    self, check_entries, line_of, syntax, text_of, Decl, Equation, File, Ident, InitSyntax,
    LayerKind, Origin, Stmt, StmtKind,
};
use super::Role;
use crate::error::{Error, ErrorKind, Result, Span};
use crate::num::Num;
use crate::parse::ast::{BinOp, ExprArena, ExprId};
use rustc_hash::FxHashMap;

/// Expands the layer shorthand of a network file and prints the result as
/// a network file (see the module documentation). A file without shorthand
/// comes back unchanged.
///
/// # Errors
/// A spanned error for a file that does not parse, a layer without an input
/// vector before it, a `loss` shorthand without a layer or a target before
/// it or whose target does not fit, a name the shorthand would define that
/// the file defines too, and a residual block with no layer or whose output's
/// shape is not its input's.
pub fn expand(src: &str) -> Result<String> {
    let file = syntax::parse_file(src)?;
    let expanded = expand_file(src, file)?;
    Ok(print(src, &expanded))
}

/// A vector a layer can take: an input or a layer's output.
#[derive(Clone)]
struct Source {
    name: String,
    /// Its dimensions.
    dims: Vec<usize>,
    /// Whether a `dense` line made it.
    layer: bool,
}

impl Source {
    /// Its length, or an error at `at` when it is not a vector.
    fn len(&self, at: Span, what: &str) -> Result<usize> {
        match self.dims[..] {
            [n] => Ok(n),
            _ => Err(syntax(
                at,
                format!(
                    "{what} needs a vector, but '{}' has shape {}{}",
                    self.name,
                    crate::graph::Shape::new(self.dims.clone()),
                    if self.dims.len() > 1 {
                        "; put a 'flatten' line before it"
                    } else {
                        ""
                    }
                ),
            )),
        }
    }
}

/// How a layer initializes a parameter.
enum Init {
    /// `~ normal(0, std)`.
    Normal(ExprId),
    /// `~ he`, `~ xavier`.
    Named(&'static str),
    /// `= c`.
    Constant(i64),
}

/// What the expansion tracks while reading the file top-down.
struct State<'s> {
    src: &'s str,
    /// The names the file defines, and where.
    defined: FxHashMap<String, Span>,
    /// The most recent input or layer output.
    current: Option<Source>,
    /// The most recent target.
    target: Option<Source>,
    layers: usize,
    /// Residual blocks so far (`res1`, `res2`, ...).
    blocks: usize,
    exprs: ExprArena,
    out: Vec<Stmt>,
}

/// The name a statement defines, if any.
fn defines(stmt: &Stmt) -> Option<&Ident> {
    match &stmt.kind {
        StmtKind::Decl(d) => Some(&d.name),
        StmtKind::Equation(e) => Some(&e.name),
        StmtKind::Step(s) => Some(&s.name),
        StmtKind::Recurrence(r) => Some(&r.name),
        StmtKind::Layer(_) | StmtKind::Block(_) => None,
    }
}

/// Replaces each shorthand statement of `file` by the statements it stands
/// for (see the module documentation); `src` is the file's text.
///
/// # Errors
/// As [`expand`], for a file already parsed.
pub fn expand_file(src: &str, file: File) -> Result<File> {
    let mut defined = FxHashMap::default();
    for stmt in &file.stmts {
        if let Some(name) = defines(stmt) {
            defined.entry(name.name.clone()).or_insert(name.span);
        }
    }
    let mut state = State {
        src,
        defined,
        current: None,
        target: None,
        layers: 0,
        blocks: 0,
        exprs: file.exprs,
        out: Vec::with_capacity(file.stmts.len()),
    };
    state.expand_stmts(file.stmts)?;
    Ok(File {
        stmts: state.out,
        exprs: state.exprs,
    })
}

impl State<'_> {
    /// Expands `stmts` in order into `self.out`.
    fn expand_stmts(&mut self, stmts: Vec<Stmt>) -> Result<()> {
        let state = self;
        let mut stmts = stmts.into_iter().peekable();
        while let Some(stmt) = stmts.next() {
            // A convolution right before a batch norm has no bias: the
            // norm's shift takes its place (and a bias would get a zero
            // gradient, its mean removed by the norm).
            let before_norm = matches!(
                stmts.peek().map(|s| &s.kind),
                Some(StmtKind::Layer(l)) if matches!(l.kind, LayerKind::BatchNorm)
            );
            match &stmt.kind {
                StmtKind::Decl(d) if d.role == Role::Input => {
                    state.current = Some(Source {
                        name: d.name.name.clone(),
                        dims: d.dims.clone(),
                        layer: false,
                    });
                }
                StmtKind::Decl(d) if d.role == Role::Target => {
                    state.target = Some(Source {
                        name: d.name.name.clone(),
                        dims: d.dims.clone(),
                        layer: false,
                    });
                }
                StmtKind::Layer(layer) => {
                    match &layer.kind {
                        LayerKind::Dense { width, activation } => {
                            state.dense(stmt.span, *width, &activation.name)?
                        }
                        LayerKind::Loss { kind } => state.loss(stmt.span, &kind.name)?,
                        LayerKind::Conv {
                            filters,
                            kh,
                            kw,
                            stride,
                            padding,
                            activation,
                        } => state.conv(
                            stmt.span,
                            [*filters, *kh, *kw],
                            (*stride, *padding),
                            activation.as_ref().map(|a| a.name.as_str()),
                            !before_norm || activation.is_some(),
                        )?,
                        LayerKind::Pool { max, k } => state.pool(stmt.span, *max, *k)?,
                        LayerKind::Flatten => state.flatten(stmt.span)?,
                        LayerKind::BatchNorm => state.batchnorm(stmt.span)?,
                        LayerKind::Dropout { p } => state.dropout(stmt.span, *p)?,
                        LayerKind::Activation(act) => state.activation(stmt.span, &act.name)?,
                        LayerKind::Recurrent { width, activation } => {
                            state.recurrent(stmt.span, *width, &activation.name)?
                        }
                    }
                    continue;
                }
                StmtKind::Block(_) => {
                    let StmtKind::Block(b) = stmt.kind else {
                        unreachable!()
                    };
                    state.residual(b)?;
                    continue;
                }
                _ => {}
            }
            state.out.push(stmt);
        }
        Ok(())
    }

    /// `residual ... end [activation]`: the body's layers from the block's
    /// input, then `resK = activation(out + in)`, the skip connection, which
    /// becomes the current layer output.
    fn residual(&mut self, b: crate::net::syntax::Block) -> Result<()> {
        let Some(input) = self.current.clone() else {
            return Err(syntax(
                b.open,
                "'residual' needs an input above it: declare 'input x[n]' or a layer first",
            ));
        };
        self.expand_stmts(b.body)?;
        let out = match &self.current {
            Some(out) if out.name != input.name => out.clone(),
            _ => {
                return Err(syntax(
                    b.open,
                    "a 'residual' block needs at least one layer inside it",
                ))
            }
        };
        if out.dims != input.dims {
            return Err(Error::at(
                ErrorKind::Shape,
                b.close,
                format!(
                    "the residual block's output {} is {:?} but its input {} is {:?}: \
                     the skip connection adds them, so they need one shape",
                    out.name, out.dims, input.name, input.dims
                ),
            ));
        }
        self.blocks += 1;
        let name = format!("res{}", self.blocks);
        self.claim(std::slice::from_ref(&name), b.close, "the residual block")?;
        let line = b.close;
        let e = &mut self.exprs;
        let (o, i) = (e.name(&out.name, line), e.name(&input.name, line));
        let sum = e.binary(BinOp::Add, o, i, line);
        let act = b
            .activation
            .as_ref()
            .map_or("identity", |a| a.name.as_str());
        let value = self.activate(act, sum, line);
        self.equation(&name, value, line);
        self.output(name, input.dims);
        Ok(())
    }

    /// Claims the names a shorthand line defines, refusing any the file
    /// defines too.
    fn claim(&mut self, names: &[String], span: Span, what: &str) -> Result<()> {
        for name in names {
            if let Some(&prev) = self.defined.get(name) {
                return Err(syntax(
                    span,
                    format!(
                        "{what} defines {}, but '{name}' is already defined on line {}; \
                         rename it",
                        names.join(", "),
                        line_of(self.src, prev)
                    ),
                ));
            }
        }
        for name in names {
            self.defined.insert(name.clone(), span);
        }
        Ok(())
    }

    fn push(&mut self, kind: StmtKind, line: Span) {
        self.out.push(Stmt {
            kind,
            span: line,
            origin: Origin::Shorthand(line),
        });
    }

    fn ident(name: &str, line: Span) -> Ident {
        Ident {
            name: name.to_string(),
            span: line,
        }
    }

    fn param(&mut self, name: &str, dims: Vec<usize>, init: Init, line: Span) -> Result<()> {
        check_entries(&dims, line, name)?;
        let init = match init {
            Init::Normal(std) => InitSyntax::Random {
                dist: Self::ident("normal", line),
                args: vec![self.exprs.num(Num::int(0), line), std],
                call: line,
            },
            Init::Named(dist) => InitSyntax::Random {
                dist: Self::ident(dist, line),
                args: Vec::new(),
                call: line,
            },
            Init::Constant(c) => InitSyntax::Formula {
                value: self.exprs.num(Num::int(c), line),
                span: line,
            },
        };
        self.push(
            StmtKind::Decl(Decl {
                role: Role::Param,
                name: Self::ident(name, line),
                dims,
                shape_span: line,
                init: Some(init),
            }),
            line,
        );
        Ok(())
    }

    /// Numbers the next layer line and claims the names `prefix + k` it
    /// defines.
    fn names<const N: usize>(
        &mut self,
        prefixes: [&str; N],
        line: Span,
        what: &str,
    ) -> Result<[String; N]> {
        self.layers += 1;
        let k = self.layers;
        let names = prefixes.map(|p| format!("{p}{k}"));
        self.claim(&names, line, &format!("layer {k} ('{what}')"))?;
        Ok(names)
    }

    /// Makes `name` (of shape `dims`) the current layer output.
    fn output(&mut self, name: String, dims: Vec<usize>) {
        self.current = Some(Source {
            name,
            dims,
            layer: true,
        });
    }

    /// `act(value)`, or `value` itself for `identity` and `linear`.
    fn activate(&mut self, act: &str, value: ExprId, line: Span) -> ExprId {
        match act {
            "identity" | "linear" => value,
            _ => self.exprs.call(act, vec![value], line),
        }
    }

    fn equation(&mut self, name: &str, value: ExprId, line: Span) {
        self.push(
            StmtKind::Equation(Equation {
                name: Self::ident(name, line),
                value,
            }),
            line,
        );
    }

    /// `dense N activation` at `line`.
    fn dense(&mut self, line: Span, width: usize, act: &str) -> Result<()> {
        let Some(input) = &self.current else {
            return Err(syntax(
                line,
                "'dense' needs an input vector above it: declare 'input x[n]' first",
            ));
        };
        let n = input.len(line, "a dense layer")?;
        let v = input.name.clone();
        let [w, b, z, a] = self.names(["W", "b", "z", "a"], line, "dense")?;
        // W ~ normal(0, 1/sqrt(n)), b ~ normal(0, 1).
        let e = &mut self.exprs;
        let one = e.num(Num::int(1), line);
        let fan_in = e.num(Num::int(n as i64), line);
        let root = e.call("sqrt", vec![fan_in], line);
        let std = e.binary(BinOp::Div, one, root, line);
        self.param(&w, vec![width, n], Init::Normal(std), line)?;
        let one = self.exprs.num(Num::int(1), line);
        self.param(&b, vec![width], Init::Normal(one), line)?;
        // z = W @ v + b; a = activation(z).
        let e = &mut self.exprs;
        let (wn, vn, bn) = (e.name(&w, line), e.name(&v, line), e.name(&b, line));
        let product = e.binary(BinOp::MatMul, wn, vn, line);
        let sum = e.binary(BinOp::Add, product, bn, line);
        self.equation(&z, sum, line);
        let zn = self.exprs.name(&z, line);
        let out = self.activate(act, zn, line);
        self.equation(&a, out, line);
        self.output(a, vec![width]);
        Ok(())
    }

    /// `loss quadratic|cross_entropy|mse` at `line`.
    fn loss(&mut self, line: Span, kind: &str) -> Result<()> {
        let what = format!("'loss {kind}'");
        let Some(out) = self.current.as_ref().filter(|c| c.layer) else {
            return Err(syntax(
                line,
                format!("{what} needs a 'dense' layer above it, whose output it scores"),
            ));
        };
        let Some(target) = &self.target else {
            return Err(syntax(
                line,
                format!("{what} needs a 'target y[n]' declaration above it"),
            ));
        };
        let width = out.len(line, &what)?;
        let n = target.len(line, &what)?;
        if n != width {
            return Err(syntax(
                line,
                format!(
                    "{what}: the last layer's output '{}' has {width} entries, \
                     but the target '{}' has {n}",
                    out.name, target.name
                ),
            ));
        }
        let (a, y) = (out.name.clone(), target.name.clone());
        self.claim(&["loss".to_string()], line, &what)?;
        let e = &mut self.exprs;
        let (an, yn) = (e.name(&a, line), e.name(&y, line));
        let value = match kind {
            // sum((a - y)^2) / 2
            "quadratic" => {
                let d = e.binary(BinOp::Sub, an, yn, line);
                let two = e.num(Num::int(2), line);
                let sq = e.binary(BinOp::Pow, d, two, line);
                let s = e.call("sum", vec![sq], line);
                let two = e.num(Num::int(2), line);
                e.binary(BinOp::Div, s, two, line)
            }
            _ => e.call(kind, vec![an, yn], line),
        };
        self.equation("loss", value, line);
        Ok(())
    }
}

/// A statement the shorthand generated, as a line of a network file.
fn print_stmt(exprs: &ExprArena, stmt: &Stmt) -> String {
    match &stmt.kind {
        StmtKind::Decl(d) => {
            let role = match d.role {
                Role::Input => "input",
                Role::Target => "target",
                Role::Param | Role::Mask => "param",
            };
            let mut line = format!("{role} {}", d.name.name);
            if !d.dims.is_empty() {
                let dims: Vec<String> = d.dims.iter().map(usize::to_string).collect();
                line.push_str(&format!("[{}]", dims.join(", ")));
            }
            match &d.init {
                Some(InitSyntax::Formula { value, .. }) => {
                    line.push_str(&format!(" = {}", exprs.print(*value, false)));
                }
                Some(InitSyntax::Random { dist, args, .. }) => {
                    line.push_str(&format!(" ~ {}", dist.name));
                    if !args.is_empty() {
                        let args: Vec<String> =
                            args.iter().map(|a| exprs.print(*a, false)).collect();
                        line.push_str(&format!("({})", args.join(", ")));
                    }
                }
                None => {}
            }
            line
        }
        StmtKind::Equation(e) => format!("{} = {}", e.name.name, exprs.print(e.value, true)),
        StmtKind::Step(st) => format!(
            "{}[{}] = {}",
            st.name.name,
            st.step,
            exprs.print(st.value, true)
        ),
        StmtKind::Recurrence(r) => format!(
            "{name}[{t}] = {value}   for {t} in {start}..{end}",
            name = r.name.name,
            t = r.var.name,
            value = exprs.print(r.value, true),
            start = r.start,
            end = r.end
        ),
        // The shorthand generates no layers or blocks.
        StmtKind::Layer(_) | StmtKind::Block(_) => String::new(),
    }
}

/// The expanded tree `file` of the text `src` as a network file: the
/// file's own statements as written (with their comments and spacing) and,
/// for each shorthand line, a comment quoting it followed by the
/// statements it expands to, one per line.
pub fn print(src: &str, file: &File) -> String {
    let mut out = String::with_capacity(src.len() * 2);
    // How much of `src` is copied or replaced.
    let mut copied = 0;
    for stmt in &file.stmts {
        let Origin::Shorthand(line) = stmt.origin else {
            continue;
        };
        if line.start >= copied {
            out.push_str(text_of(src, Span::new(copied, line.start)));
            out.push_str("# ");
            out.push_str(text_of(src, line));
            copied = line.end;
        }
        // Indented as the shorthand line is (inside a block).
        let line_start = src[..line.start].rfind('\n').map_or(0, |k| k + 1);
        let indent = text_of(src, Span::new(line_start, line.start));
        out.push('\n');
        if indent.chars().all(char::is_whitespace) {
            out.push_str(indent);
        }
        out.push_str(&print_stmt(&file.exprs, stmt));
    }
    out.push_str(text_of(src, Span::new(copied, src.len())));
    // A block's opening line is copied with the text around it; commented,
    // so that the expanded file reads back (its `end` line is the origin of
    // the skip connection and is commented above).
    let opens_block = |line: &str| {
        let t = line.trim();
        t == "residual" || t.starts_with("residual ") || t.starts_with("residual#")
    };
    if out.lines().any(opens_block) {
        let mut commented = String::with_capacity(out.len() + 8);
        for line in out.split_inclusive('\n') {
            if opens_block(line) {
                commented.push_str("# ");
            }
            commented.push_str(line);
        }
        out = commented;
    }
    out
}

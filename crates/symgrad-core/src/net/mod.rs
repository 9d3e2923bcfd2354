//! Network definitions (`.sg` files, the "Contract: network definitions" of
//! DESIGN.md): declarations and equations that become one tensor graph, and
//! the mean loss and its gradient over a batch of samples ([`batch`]).
//!
//! What is read so far: `#` comments; `input x[784]` and `target y[10]`;
//! `param W[30, 784] = <index formula>` (the formula syntax in `i`, the row
//! or vector index, and `j`, the column index, both from 0, evaluated per
//! entry by the scalar interpreter) and `param b[10] = 0`; equations
//! `name = expr`; and the equation `loss`, the per-sample objective, which
//! must be a scalar. The random initializers (`~ normal(...)` and the rest)
//! and the layer shorthand (`dense`, `loss quadratic`) are not read yet and
//! are reported as errors.
//!
//! Equations are parsed by a compact precedence parser of their own (in
//! [`expr`]) over the formula lexer's tokens, rather than by the formula
//! parser itself: `@` is the matrix product at the precedence of `*`, names
//! are looked up among the declarations and earlier equations, and every
//! operator is built with the graph's `try_` builders so that a shape error
//! becomes a spanned error (`cannot multiply [30, 784] by [10]`). Unlike the
//! formula parser it has no implicit multiplication and no superscript
//! chains beyond one power, and it recurses (with the same depth cap,
//! [`MAX_DEPTH`](crate::parse::MAX_DEPTH)).
//!
//! Errors are typed and spanned, never panics: an unknown name is
//! [`UnknownVariable`](ErrorKind::UnknownVariable), a shape mismatch
//! [`Shape`](ErrorKind::Shape), and a name defined twice, a missing `loss`
//! or a malformed line [`Syntax`](ErrorKind::Syntax).

pub mod batch;
pub mod explain;
mod expr;
pub mod paths;

use crate::error::{Error, ErrorKind, Result, Span};
use crate::eval::{Program, Tensor};
use crate::graph::{Graph, NodeId, Shape};
use crate::parse::lexer::{lex, Tok, Token};
use rustc_hash::FxHashMap;

/// The most entries a declared tensor may have (2^27, 1 GiB of `f64`).
pub const MAX_ENTRIES: usize = 1 << 27;

/// What a declared tensor is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `input`: filled from the data, per sample.
    Input,
    /// `target`: filled from the data, per sample.
    Target,
    /// `param`: a trainable parameter with an initial value.
    Param,
}

/// A declared tensor: an input, a target or a parameter.
#[derive(Clone, Debug)]
pub struct Decl {
    pub name: String,
    pub role: Role,
    pub shape: Shape,
    /// Its variable in the network's graph.
    pub node: NodeId,
    /// The span of its name in the file.
    pub span: Span,
    /// A parameter's initial value (`None` for inputs and targets).
    pub init: Option<Tensor>,
}

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
    /// Declarations in file order.
    pub decls: Vec<Decl>,
    /// Equations in file order, `loss` included.
    pub equations: Vec<Equation>,
    /// The per-sample loss, a scalar node.
    pub loss: NodeId,
}

impl Network {
    /// The declarations with `role`, in file order.
    pub fn with_role(&self, role: Role) -> impl Iterator<Item = &Decl> {
        self.decls.iter().filter(move |d| d.role == role)
    }
}

fn syntax(span: Span, message: impl Into<String>) -> Error {
    Error::at(ErrorKind::Syntax, span, message)
}

/// Where a name was defined.
#[derive(Clone, Copy)]
pub(crate) struct Defined {
    node: NodeId,
    span: Span,
}

/// Parses a network file.
///
/// # Errors
/// A spanned error (see the module documentation) for anything the file
/// gets wrong; [`Error::render`] shows it against `src`.
pub fn parse_network(src: &str) -> Result<Network> {
    let tokens = lex(src);
    let mut graph = Graph::new();
    let mut names: FxHashMap<String, Defined> = FxHashMap::default();
    let mut decls = Vec::new();
    let mut equations: Vec<Equation> = Vec::new();
    let mut pos = 0;
    let text = |t: &Token| src.get(t.span.start..t.span.end).unwrap_or("");
    loop {
        while tokens[pos].kind == Tok::Sep {
            pos += 1;
        }
        let first = &tokens[pos];
        if first.kind == Tok::Eof {
            break;
        }
        // The statement's tokens, up to the separator.
        let end = (pos..tokens.len())
            .find(|&k| matches!(tokens[k].kind, Tok::Sep | Tok::Eof))
            .unwrap_or(tokens.len() - 1);
        let stmt = &tokens[pos..=end];
        pos = end;
        if let Some(bad) = stmt.iter().find_map(|t| match &t.kind {
            Tok::Bad(m) if text(t) != "~" => Some(syntax(t.span, m.clone())),
            _ => None,
        }) {
            return Err(bad);
        }
        if first.kind != Tok::Ident {
            return Err(syntax(
                first.span,
                format!(
                    "expected a declaration or 'name = ...', found '{}'",
                    text(first)
                ),
            ));
        }
        let keyword = text(first);
        let role = match keyword {
            "input" => Some(Role::Input),
            "target" => Some(Role::Target),
            "param" => Some(Role::Param),
            _ => None,
        };
        if let (Some(role), Some(second)) = (role, stmt.get(1)) {
            if second.kind == Tok::Ident {
                let decl = declaration(src, stmt, role, &mut graph)?;
                define(&mut names, &decl.name, decl.node, decl.span)?;
                decls.push(decl);
                continue;
            }
        }
        if stmt.get(1).map(|t| &t.kind) != Some(&Tok::Eq) {
            let message = match keyword {
                "dense" | "loss" => format!(
                    "the layer shorthand '{keyword} ...' is not supported yet; write the equations"
                ),
                _ => format!("expected a declaration or '{keyword} = ...'"),
            };
            return Err(syntax(first.span, message));
        }
        let node = expr::Parser::new(src, &stmt[2..], &mut graph, &names).statement()?;
        define(&mut names, keyword, node, first.span)?;
        equations.push(Equation {
            name: keyword.to_string(),
            node,
            span: first.span,
        });
    }
    let Some(loss) = equations.iter().rev().find(|e| e.name == "loss") else {
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
    Ok(Network {
        graph,
        decls,
        equations,
        loss,
    })
}

fn define(
    names: &mut FxHashMap<String, Defined>,
    name: &str,
    node: NodeId,
    span: Span,
) -> Result<()> {
    if let Some(prev) = names.get(name) {
        return Err(syntax(
            span,
            format!(
                "'{name}' is defined twice (first at bytes {}..{})",
                prev.span.start, prev.span.end
            ),
        ));
    }
    if expr::is_reserved(name) {
        return Err(syntax(
            span,
            format!("cannot define '{name}': it is a function or constant name"),
        ));
    }
    names.insert(name.to_string(), Defined { node, span });
    Ok(())
}

/// `input x[784]`, `target y[10]`, `param W[30, 784] = formula`.
fn declaration(src: &str, stmt: &[Token], role: Role, graph: &mut Graph) -> Result<Decl> {
    let text = |t: &Token| src.get(t.span.start..t.span.end).unwrap_or("");
    let name_tok = &stmt[1];
    let name = text(name_tok).to_string();
    let mut k = 2;
    let mut dims = Vec::new();
    if stmt[k].kind == Tok::LBracket {
        k += 1;
        loop {
            let t = &stmt[k];
            let n = match t.kind {
                Tok::Num(n) => n.to_f64(),
                _ => f64::NAN,
            };
            if !(n >= 1.0 && n.fract() == 0.0 && n < 1e12) {
                return Err(syntax(t.span, "expected a positive integer dimension"));
            }
            dims.push(n as usize);
            k += 1;
            match stmt[k].kind {
                Tok::Comma => k += 1,
                Tok::RBracket => {
                    k += 1;
                    break;
                }
                _ => return Err(syntax(stmt[k].span, "expected ',' or ']' in a shape")),
            }
        }
    }
    let numel = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    if numel.is_none_or(|n| n > MAX_ENTRIES) {
        return Err(syntax(
            Span::new(stmt[2].span.start, stmt[k - 1].span.end),
            format!("'{name}' would have more than {MAX_ENTRIES} entries"),
        ));
    }
    let shape = Shape::new(dims);
    let node = graph
        .try_tensor_var(&name, shape.clone())
        .map_err(|e| Error::at(e.kind(), name_tok.span, e.message()))?;
    let rest = &stmt[k];
    let init = match role {
        Role::Input | Role::Target => {
            if !matches!(rest.kind, Tok::Sep | Tok::Eof) {
                return Err(syntax(
                    rest.span,
                    format!("expected the end of the line after the shape of '{name}'"),
                ));
            }
            None
        }
        Role::Param => {
            if text(rest) == "~" {
                return Err(syntax(
                    rest.span,
                    "random initializers ('~ normal(...)' and the rest) are not supported yet; \
                     give an index formula with '='",
                ));
            }
            if rest.kind != Tok::Eq {
                return Err(syntax(
                    rest.span,
                    format!("expected '= <formula in i, j>' to initialize '{name}'"),
                ));
            }
            let end = stmt.last().map_or(src.len(), |t| t.span.start);
            let start = rest.span.end;
            Some(initial_value(src, start, end, &shape)?)
        }
    };
    Ok(Decl {
        name,
        role,
        shape,
        node,
        span: name_tok.span,
        init,
    })
}

/// Evaluates the index formula `src[start..end]` at every entry of `shape`.
fn initial_value(src: &str, start: usize, end: usize, shape: &Shape) -> Result<Tensor> {
    let body = src.get(start..end).unwrap_or("");
    let shift = |e: Error| match e.span() {
        Some(s) => Error::at(
            e.kind(),
            Span::new(s.start + start, s.end + start),
            e.message(),
        ),
        None => Error::at(e.kind(), Span::new(start, end), e.message()),
    };
    let f = crate::parse(body).map_err(shift)?;
    let rank = shape.rank();
    // Which index each variable of the formula takes.
    let mut which = Vec::new();
    for &v in &f.vars {
        let name = f.graph.var_name(v).unwrap_or("");
        let axis = match name {
            "i" if rank >= 1 => 0,
            "j" if rank >= 2 => 1,
            _ => {
                let allowed = match rank {
                    0 => "no index (the parameter is a scalar)",
                    1 => "the index i",
                    _ => "the indices i and j",
                };
                let at = lex(body)
                    .into_iter()
                    .find(|t| {
                        t.kind == Tok::Ident && body.get(t.span.start..t.span.end) == Some(name)
                    })
                    .map_or(Span::new(start, end), |t| {
                        Span::new(start + t.span.start, start + t.span.end)
                    });
                return Err(Error::at(
                    ErrorKind::UnknownVariable,
                    at,
                    format!("unknown name '{name}' in an initializer, which may use {allowed}"),
                ));
            }
        };
        which.push(axis);
    }
    if rank > 2 {
        return Err(syntax(
            Span::new(start, end),
            "index formulas initialize scalars, vectors and matrices only",
        ));
    }
    let program = Program::compile(&f.graph, &f.vars, &[f.output]).map_err(shift)?;
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
mod tests;

//! Checks on the indexed equations of a network file's tree, made when the
//! file is read: recurrences (`h[t] = ... for t in 1..8`), their steps
//! (`h[0] = ...`) and constant indexing (`v[0]`, `h[7]`).
//!
//! An index is a step number, or inside a recurrence its variable with an
//! optional constant offset (`t`, `t - 1`, `t + 2`). Each step of a family
//! is defined once. A recurrence's step `t` reads only steps of its own
//! family that come before it and are defined (`h[t-1]` with the range
//! `1..8` needs `h[0]`); any other equation reads only defined steps.
//! Whether an index fits an input's first axis needs shapes and is the
//! graph builder's business.

use super::{line_of, syntax, text_of, File, Recurrence, Stmt, StmtKind, MAX_STEP};
use crate::error::{Result, Span};
use crate::parse::ast::{BinOp, ExprArena, ExprId, ExprKind};
use rustc_hash::FxHashMap;

/// The steps of one family: half-open ranges and where each is defined.
type Steps = Vec<(i64, i64, Span)>;

/// An index as the checks see it.
enum Index<'a> {
    Step(i64),
    /// `var + offset`.
    Offset(&'a str, i64, Span),
}

/// Checks every indexed equation and index of `file` (see the module
/// documentation).
///
/// # Errors
/// A spanned [`Syntax`](crate::ErrorKind::Syntax) error for a step defined
/// twice, an index that is not of the accepted forms, an index variable
/// outside its recurrence, and a read of a step that is not defined (yet).
pub(super) fn check(src: &str, file: &File) -> Result<()> {
    let mut families: FxHashMap<&str, Steps> = FxHashMap::default();
    let mut all = Vec::new();
    flatten(&file.stmts, &mut all);
    for stmt in &all {
        let (name, lo, hi, span) = match &stmt.kind {
            StmtKind::Step(s) => (&s.name.name, s.step, s.step + 1, s.index_span),
            StmtKind::Recurrence(r) => (&r.name.name, r.start, r.end, r.range_span),
            _ => continue,
        };
        let steps = families.entry(name).or_default();
        if let Some(&(a, _, prev)) = steps.iter().find(|(a, b, _)| lo < *b && *a < hi) {
            return Err(syntax(
                span,
                format!(
                    "{name}[{}] is defined twice (first on line {})",
                    lo.max(a),
                    line_of(src, prev)
                ),
            ));
        }
        steps.push((lo, hi, span));
    }
    // A family's name is its own: no declaration or plain equation has it.
    for stmt in &all {
        let name = match &stmt.kind {
            StmtKind::Decl(d) => &d.name,
            StmtKind::Equation(e) => &e.name,
            _ => continue,
        };
        if let Some(steps) = families.get(name.name.as_str()) {
            let (a, b, at) = steps[0];
            let steps = if b == a + 1 {
                format!("{a}")
            } else {
                format!("{a}..{b}")
            };
            return Err(syntax(
                name.span,
                format!(
                    "'{0}' is defined here and as the indexed equation {0}[{steps}] on \
                     line {1}; rename one",
                    name.name,
                    line_of(src, at)
                ),
            ));
        }
    }
    for stmt in &all {
        let (value, own) = match &stmt.kind {
            StmtKind::Equation(e) => (e.value, None),
            StmtKind::Step(s) => (s.value, None),
            StmtKind::Recurrence(r) => (r.value, Some(r)),
            _ => continue,
        };
        for id in file.exprs.subtree(value) {
            if let ExprKind::Index { base, index } = &file.exprs.get(id).kind {
                read(src, &file.exprs, &families, own, id, *base, *index)?;
            }
        }
    }
    Ok(())
}

fn flatten<'f>(stmts: &'f [Stmt], out: &mut Vec<&'f Stmt>) {
    for s in stmts {
        match &s.kind {
            StmtKind::Block(b) => flatten(&b.body, out),
            _ => out.push(s),
        }
    }
}

/// The form of the index expression `index`.
fn index_form(exprs: &ExprArena, index: ExprId) -> Result<Index<'_>> {
    let e = exprs.get(index);
    let int = |id: ExprId| match exprs.get(id).kind {
        ExprKind::Num(n) => n.as_int().filter(|&k| k.abs() <= MAX_STEP),
        _ => None,
    };
    let form = match &e.kind {
        ExprKind::Num(_) => int(index).filter(|&k| k >= 0).map(Index::Step),
        ExprKind::Name(v) => Some(Index::Offset(v, 0, e.span)),
        ExprKind::Binary {
            op: op @ (BinOp::Add | BinOp::Sub),
            lhs,
            rhs,
            ..
        } => match (&exprs.get(*lhs).kind, int(*rhs)) {
            (ExprKind::Name(v), Some(k)) => {
                let k = if *op == BinOp::Sub { -k } else { k };
                Some(Index::Offset(v, k, exprs.get(*lhs).span))
            }
            _ => None,
        },
        _ => None,
    };
    form.ok_or_else(|| {
        syntax(
            e.span,
            "an index is a step number (v[0]) or, in a recurrence, its variable with a \
             constant offset (h[t], h[t-1], v[t+1])",
        )
    })
}

/// Checks the read `base[index]` (node `at`) in the equation `own` (a
/// recurrence) or elsewhere (`None`).
fn read(
    src: &str,
    exprs: &ExprArena,
    families: &FxHashMap<&str, Steps>,
    own: Option<&Recurrence>,
    at: ExprId,
    base: ExprId,
    index: ExprId,
) -> Result<()> {
    let span = exprs.get(at).span;
    let ExprKind::Name(name) = &exprs.get(base).kind else {
        return Err(syntax(span, "only a name can be indexed, as in v[0]"));
    };
    let name: &str = name;
    let form = index_form(exprs, index)?;
    // The steps the read covers, over the whole range of `own`.
    let (lo, hi, var) = match form {
        Index::Step(k) => (k, k + 1, None),
        Index::Offset(v, k, vspan) => match own {
            Some(r) if r.var.name == v => (r.start + k, r.end + k, Some((v, k))),
            _ => {
                return Err(syntax(
                    vspan,
                    format!(
                        "'{v}' is no index variable here: only a recurrence \
                         'h[{v}] = ... for {v} in A..B' has one"
                    ),
                ))
            }
        },
    };
    let Some(steps) = families.get(name) else {
        // An input, a target or an ordinary equation: its first axis is
        // checked against its shape when the graph is built.
        return Ok(());
    };
    if let Some(r) = own.filter(|r| r.name.name == name) {
        // Its own family: only steps before the current one.
        let ahead = match var {
            Some((_, k)) => k >= 0,
            None => lo >= r.start,
        };
        if ahead {
            let what = match var {
                Some((v, 0)) => format!("step {v}"),
                Some((v, k)) => format!("step {v}+{k}"),
                None => format!("step {lo}"),
            };
            return Err(syntax(
                span,
                format!(
                    "'{}' reads {what} of '{name}', which is not defined yet: \
                     step {t} of a recurrence reads only earlier steps, such as {name}[{t}-1]",
                    text_of(src, span),
                    t = r.var.name
                ),
            ));
        }
    }
    // Every step read must be defined, by this family's steps and ranges.
    let mut need = lo;
    let last = match own.filter(|r| r.name.name == name) {
        // Steps from the recurrence's start on are its own, defined in turn.
        Some(r) => hi.min(r.start),
        None => hi,
    };
    let mut ranges: Vec<(i64, i64)> = steps.iter().map(|&(a, b, _)| (a, b)).collect();
    ranges.sort_unstable();
    for (a, b) in ranges {
        if a <= need && need < b {
            need = b;
        }
    }
    if need < last {
        let at_t = match (var, own) {
            (Some((v, k)), Some(_)) => format!(" at {v} = {}", need - k),
            _ => String::new(),
        };
        return Err(syntax(
            span,
            format!(
                "this reads {name}[{need}]{at_t}, which no equation defines \
                 (define it, e.g. '{name}[{need}] = ...')"
            ),
        ));
    }
    Ok(())
}

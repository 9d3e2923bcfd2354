//! Reading what the user gave: the formula (argument, standard input or file),
//! the point of `--at`, and the variables of `--wrt`.

use crate::{Failure, Source};
use std::io::Read;
use symgrad_core::eval::Program;
use symgrad_core::parse::parse;
use symgrad_core::{Error, ErrorKind, Formula, NodeId, Num, Span};

/// The formula's text, from the argument, standard input (`-`) or `--file`.
pub fn read(source: &Source) -> Result<String, Failure> {
    if let Some(path) = &source.file {
        return std::fs::read_to_string(path)
            .map_err(|e| Failure::input(format!("error: cannot read {}: {e}", path.display())));
    }
    match source.expr.as_deref() {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| Failure::input(format!("error: cannot read standard input: {e}")))?;
            Ok(text)
        }
        Some(text) => Ok(text.to_string()),
        None => Err(Failure::input("error: no formula given")),
    }
}

/// Parses the formula, rendering a syntax error with the line and a caret.
pub fn formula(text: &str) -> Result<Formula, Failure> {
    parse(text).map_err(|e| Failure::input(e.render(text)))
}

/// Reads and parses the formula of `source`.
pub fn load(source: &Source) -> Result<(String, Formula), Failure> {
    let text = read(source)?;
    let f = formula(&text)?;
    Ok((text, f))
}

/// The value of every variable of `f`, in the order of `f.vars`, from a point
/// written `x=3,y=4`. Each value may be a constant formula (`pi/4`, `2^-3`).
pub fn point(at: &str, f: &Formula) -> Result<Vec<f64>, Failure> {
    let fail = |span: Span, msg: String| {
        let e = Error::at(ErrorKind::InvalidValue, span, msg);
        Failure::input(format!("{}\n(in --at)", e.render(at)))
    };
    let mut values: Vec<Option<f64>> = vec![None; f.vars.len()];
    let position: std::collections::HashMap<&str, usize> = f
        .vars
        .iter()
        .enumerate()
        .map(|(i, &v)| (f.graph.var_name(v).unwrap_or("?"), i))
        .collect();
    let mut offset = 0;
    for item in at.split(',') {
        let start = offset;
        offset += item.len() + 1;
        let span = Span::new(start, start + item.len());
        if item.trim().is_empty() {
            return Err(fail(span, "expected name=value here".into()));
        }
        let Some((name, value)) = item.split_once('=') else {
            return Err(fail(
                span,
                format!("expected name=value, found '{}'", item.trim()),
            ));
        };
        let name = name.trim();
        if !position.contains_key(name) && f.graph.var_node(name).is_some() {
            // A name of an unused binding's expression: not a variable of
            // f, so its value changes nothing. Still read it, for errors.
            let value_start = start + item.find('=').map_or(0, |i| i + 1);
            constant(value, value_start, at)?;
            continue;
        }
        let Some(&pos) = position.get(name) else {
            let known = crate::report::name_list(&f.var_names(), "");
            let known = if known.is_empty() {
                "none".to_string()
            } else {
                known
            };
            return Err(fail(
                Span::new(start, start + item.find('=').unwrap_or(0)),
                format!("the formula has no variable '{name}' (its variables: {known})"),
            ));
        };
        if values[pos].is_some() {
            return Err(fail(span, format!("'{name}' is given twice")));
        }
        let value_start = start + item.find('=').map_or(0, |i| i + 1);
        values[pos] = Some(constant(value, value_start, at)?);
    }
    let missing: Vec<&str> = f
        .vars
        .iter()
        .zip(&values)
        .filter(|(_, v)| v.is_none())
        .map(|(&v, _)| f.graph.var_name(v).unwrap_or("?"))
        .collect();
    if !missing.is_empty() {
        return Err(Failure::input(format!(
            "error: --at gives no value for {}",
            crate::report::name_list(&missing, "'")
        )));
    }
    Ok(values.into_iter().flatten().collect())
}

/// The values of `--at` when it gives some of `f`'s variables but not all,
/// for substitution (SymPy's `subs`): exact where the text is a decimal
/// number (`x=3` substitutes the integer 3), otherwise the value of the
/// constant formula. `None` when it gives all of them, none of them, or is
/// malformed (then [`point`] reports the error).
pub fn partial_point(at: &str, f: &Formula) -> Result<Option<Vec<(String, Num)>>, Failure> {
    let names = f.var_names();
    let mut given = Vec::new();
    let mut offset = 0;
    for item in at.split(',') {
        let start = offset;
        offset += item.len() + 1;
        let Some((name, value)) = item.split_once('=') else {
            return Ok(None);
        };
        let name = name.trim();
        if !names.contains(&name) || given.iter().any(|(n, _): &(String, Num)| n == name) {
            return Ok(None);
        }
        let value_start = start + item.find('=').map_or(0, |i| i + 1);
        let exact = Num::parse_decimal(value.trim()).or_else(|| {
            let rest = value.trim().strip_prefix('-')?;
            Num::parse_decimal(rest).map(Num::neg)
        });
        let v = match exact {
            Some(n) => n,
            None => Num::Float(constant(value, value_start, at)?),
        };
        given.push((name.to_string(), v));
    }
    if given.is_empty() || given.len() == names.len() {
        return Ok(None);
    }
    Ok(Some(given))
}

/// A constant formula's value; errors are positioned in the whole `--at` text.
fn constant(text: &str, offset: usize, at: &str) -> Result<f64, Failure> {
    let shift = |e: Error| {
        let span = e.span().unwrap_or(Span::point(0));
        let e = Error::at(
            e.kind(),
            Span::new(span.start + offset, span.end + offset),
            e.message(),
        );
        Failure::input(format!("{}\n(in --at)", e.render(at)))
    };
    let f = parse(text).map_err(shift)?;
    if let Some(&v) = f.vars.first() {
        let name = f.graph.var_name(v).unwrap_or("?");
        let e = Error::at(
            ErrorKind::InvalidValue,
            Span::new(offset, offset + text.len()),
            format!("a value must be a number or a constant formula, but this uses '{name}'"),
        );
        return Err(Failure::input(format!("{}\n(in --at)", e.render(at))));
    }
    let program = Program::compile(&f.graph, &[], &[f.output]).map_err(shift)?;
    Ok(program.run(&[])[0])
}

/// The variables named by `--wrt` (all of the formula's, in order of
/// appearance, when none are named).
pub fn wrt(names: &[String], f: &Formula) -> Result<Vec<NodeId>, Failure> {
    if names.is_empty() {
        return Ok(f.vars.clone());
    }
    for (i, n) in names.iter().enumerate() {
        if names[..i].iter().any(|m| m.trim() == n.trim()) {
            return Err(Failure::input(format!(
                "error: --wrt names '{}' twice",
                n.trim()
            )));
        }
    }
    names
        .iter()
        .map(|n| {
            let n = n.trim();
            f.graph.var_node(n).filter(|v| f.vars.contains(v)).ok_or_else(|| {
                Failure::input(format!(
                    "error: --wrt names '{n}', which is not a variable of the formula (its variables: {})",
                    crate::report::name_list(&f.var_names(), "")
                ))
            })
        })
        .collect()
}

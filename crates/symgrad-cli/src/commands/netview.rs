//! `symgrad net explain` and `symgrad net graph`: a network's backpropagation
//! equations, derived from its reverse pass, and a picture of its tensor graph.

use super::graph::deliver;
use super::net::load;
use crate::{ExplainFormat, Failure, NetExplainArgs, NetGraphArgs};
use symgrad_core::net::explain::{equation_texts, explain as derive, Style};
use symgrad_core::net::Role;
use symgrad_core::print::{self, DotOptions};

fn failed(e: symgrad_core::Error) -> Failure {
    Failure::input(format!("error: {}", e.message()))
}

pub fn explain(args: NetExplainArgs) -> Result<String, Failure> {
    let net = load(&args.file)?;
    let e = derive(&net).map_err(failed)?;
    Ok(e.render(match args.format {
        ExplainFormat::Text => Style::Text,
        ExplainFormat::Latex => Style::Latex,
    }))
}

pub fn graph(args: NetGraphArgs) -> Result<String, Failure> {
    let net = load(&args.file)?;
    let g = &net.graph;
    let shape = |v| {
        let s = g.shape(v);
        if s.is_scalar() {
            String::new()
        } else {
            format!(" : {s}")
        }
    };
    let mut options = DotOptions {
        title: Some(format!("{}", args.file.display())),
        ..DotOptions::default()
    };
    for v in g.reachable(&[net.loss]) {
        options
            .labels
            .insert(v, format!("{}{}", g.node(v).op.label(), shape(v)));
    }
    for d in &net.decls {
        let role = match d.role {
            Role::Input => "input",
            Role::Target => "target",
            Role::Param => "param",
            Role::Mask => "dropout mask",
        };
        let label = format!("{role} {}{}", d.name, shape(d.node));
        options.labels.insert(d.node, label);
    }
    // An equation labels its node with its name and right side; where two
    // equations are one node, the first one's.
    let texts = equation_texts(&net).map_err(failed)?;
    for (e, text) in net.equations.iter().zip(texts).rev() {
        let label = format!("{} = {text}{}", e.name, shape(e.node));
        options.labels.insert(e.node, label);
    }
    let dot = print::dot(g, &[net.loss], &options);
    deliver(dot, args.format, args.output.as_deref())
}

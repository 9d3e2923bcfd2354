//! `symgrad graph`: the computational graph as DOT, or as SVG laid out by
//! the core's `print::svg` (no Graphviz install needed). Values in pictures
//! have 4 significant digits.

use crate::input;
use crate::report::sig4;
use crate::{Failure, GraphArgs, GraphFormat};
use symgrad_core::diff::reverse::adjoints;
use symgrad_core::diff::rules::local_derivatives;
use symgrad_core::eval::node_values;
use symgrad_core::print::{self, DotOptions};
use symgrad_core::simplify::simplify;
use symgrad_core::{NodeId, Op};

pub fn run(args: GraphArgs) -> Result<String, Failure> {
    let (text, mut f) = input::load(&args.source)?;
    let point = args
        .at
        .as_deref()
        .map(|a| input::point(a, &f))
        .transpose()?;
    let mut options = DotOptions {
        title: Some(text.trim().to_string()),
        ..DotOptions::default()
    };
    let output = f.output;
    let order = f.graph.reachable(&[output]);
    let mut wanted: Vec<NodeId> = vec![output];
    let mut adjoint_of: Vec<(NodeId, NodeId)> = Vec::new();
    let mut edges: Vec<((NodeId, usize), NodeId)> = Vec::new();
    if args.grad {
        // Local derivatives on the edges, and (with a point) adjoints on the nodes.
        for &v in &order {
            let partials = local_derivatives(&mut f.graph, v)
                .map_err(|e| Failure::input(format!("error: {}", e.message())))?;
            for (slot, &d) in partials.iter().enumerate() {
                // Derivatives with respect to constants mean nothing to a reader.
                if !is_constant(&f.graph, f.graph.args(v)[slot]) {
                    edges.push(((v, slot), d));
                    wanted.push(d);
                }
            }
        }
        let adj = adjoints(&mut f.graph, output);
        for &v in &order {
            if let (Some(a), false) = (adj.adjoint[v.index()], is_constant(&f.graph, v)) {
                adjoint_of.push((v, a));
                wanted.push(a);
            }
        }
    }
    let values = match &point {
        Some(p) => Some(
            node_values(&f.graph, &f.vars, p, &wanted)
                .map_err(|e| Failure::input(format!("error: {}", e.message())))?,
        ),
        None => None,
    };
    let raw: Vec<NodeId> = edges.iter().map(|&(_, d)| d).collect();
    let simple = simplify(&mut f.graph, &raw);
    for (&(edge, d), &s) in edges.iter().zip(&simple) {
        let mut label = print::text(&f.graph, &[s]).formula(0);
        if let Some(values) = &values {
            label.push_str(&format!(" = {}", sig4(values[d.index()])));
        }
        options.edge_labels.insert(edge, label);
    }
    if let Some(values) = &values {
        for &v in order.iter().filter(|&&v| !is_constant(&f.graph, v)) {
            options
                .node_notes
                .insert(v, format!("= {}", sig4(values[v.index()])));
        }
        for &(v, a) in &adjoint_of {
            let note = options.node_notes.entry(v).or_default();
            note.push_str(&format!("\nadjoint {}", sig4(values[a.index()])));
        }
    }
    if args.format == GraphFormat::Svg {
        let picture = print::svg(&f.graph, &[output], &options)
            .map_err(|e| Failure::input(format!("error: {}", e.message())))?;
        return write_out(picture, args.output.as_deref());
    }
    write_out(
        print::dot(&f.graph, &[output], &options),
        args.output.as_deref(),
    )
}

/// `rendered` written to `output`, or returned for standard output.
pub(crate) fn write_out(
    rendered: String,
    output: Option<&std::path::Path>,
) -> Result<String, Failure> {
    match output {
        Some(path) => {
            std::fs::write(path, rendered)
                .map_err(|e| Failure::io(format!("error: cannot write {}: {e}", path.display())))?;
            Ok(String::new())
        }
        None => Ok(rendered),
    }
}

fn is_constant(g: &symgrad_core::Graph, v: NodeId) -> bool {
    matches!(g.op(v), Op::Const(_) | Op::Named(_))
}

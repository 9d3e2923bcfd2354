//! `symgrad net explain`, `symgrad net graph` and `symgrad net emit`: a
//! network's backpropagation equations, derived from its reverse pass, a
//! picture of its tensor graph, and the Rust that `network!` compiles it to.

use super::graph::write_out;
use super::net::load;
use crate::{ExplainFormat, Failure, GraphFormat, NetEmitArgs, NetExplainArgs, NetGraphArgs};
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
    // Every equation, not only what the loss reads: the prediction `p =
    // softmax(z)` is drawn even where the loss uses `z - logsumexp(z)`.
    let mut roots = vec![net.loss];
    roots.extend(net.equations.iter().map(|e| e.node));
    for v in g.reachable(&roots) {
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
    // A selection from a declared tensor reads as it is written, `v[3]`.
    for v in g.reachable(&roots) {
        if let symgrad_core::graph::Op::Select { axis: 0, at } = g.op(v) {
            if let Some(d) = net.decls.iter().find(|d| d.node == g.args(v)[0]) {
                options
                    .labels
                    .insert(v, format!("{}[{at}]{}", d.name, shape(v)));
            }
        }
    }
    // Batch norm's statistics are variables no declaration names.
    for bn in &net.batchnorms {
        for (node, what) in [(bn.mean, "mean"), (bn.var, "var")] {
            let label = format!("{}.{what}{}", bn.name, shape(node));
            options.labels.insert(node, label);
        }
    }
    // An equation labels its node with its name and right side; where two
    // equations are one node, the first one's.
    let texts = equation_texts(&net).map_err(failed)?;
    for (e, text) in net.equations.iter().zip(texts).rev() {
        let label = format!("{} = {text}{}", e.name, shape(e.node));
        options.labels.insert(e.node, label);
    }
    if args.format == GraphFormat::Svg {
        let picture = print::svg(g, &roots, &options).map_err(failed)?;
        return write_out(picture, args.output.as_deref());
    }
    write_out(print::dot(g, &roots, &options), args.output.as_deref())
}

/// The items `symgrad::network!(NAME, "FILE")` expands to, formatted.
pub fn emit(args: NetEmitArgs) -> Result<String, Failure> {
    let net = load(&args.file)?;
    // `load` has read the file: read again for the text the struct embeds.
    let source = std::fs::read_to_string(&args.file)
        .map_err(|e| Failure::io(format!("error: cannot read {}: {e}", args.file.display())))?;
    let name = syn::parse_str::<syn::Ident>(&args.name).map_err(|_| {
        Failure::input(format!(
            "error: --name '{}' is not a Rust identifier",
            args.name
        ))
    })?;
    let float = if args.f32 {
        symgrad_core::emit::Float::F32
    } else {
        symgrad_core::emit::Float::F64
    };
    let vis: proc_macro2::TokenStream =
        syn::parse_str("pub").map_err(|e| Failure::io(format!("error: {e}")))?;
    let tokens =
        symgrad_core::emit::network::network(&name, &vis, &net, &source, float).map_err(failed)?;
    let file: syn::File = syn::parse2(tokens)
        .map_err(|e| Failure::io(format!("error: generated code did not parse (a bug): {e}")))?;
    Ok(prettyplease::unparse(&file))
}

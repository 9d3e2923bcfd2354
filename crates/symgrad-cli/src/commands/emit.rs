//! `symgrad emit`: the source of a Rust function computing a formula's value
//! and gradient (and Hessian), formatted with prettyplease.

use crate::input;
use crate::{EmitArgs, Failure};
use symgrad_core::emit::{gradient_fn, Float, Param, Returns};
use symgrad_core::Formula;

pub fn run(args: EmitArgs) -> Result<String, Failure> {
    let (_, mut f) = input::load(&args.source)?;
    let returns = if args.hessian {
        Returns::Hessian
    } else {
        Returns::Gradient
    };
    let float = if args.f32 { Float::F32 } else { Float::F64 };
    rust_source(&mut f, &args.name, float, returns)
}

/// The formatted source of `name(vars...) -> (value, gradient[, hessian])`
/// for a parsed formula; also what `symgrad diff --format rust` prints.
pub fn rust_source(
    f: &mut Formula,
    name: &str,
    float: Float,
    returns: Returns,
) -> Result<String, Failure> {
    let fail = |e: symgrad_core::Error| Failure::input(format!("error: {}", e.message()));
    if syn::parse_str::<syn::Ident>(name).is_err() {
        return Err(Failure::input(format!(
            "error: --name '{name}' is not a Rust identifier"
        )));
    }
    // Variables become parameters; a variable whose name is a Rust keyword or
    // not an identifier (θ is fine, `fn` is not) cannot.
    let params: Vec<Param> = f
        .var_names()
        .iter()
        .map(|n| Param {
            name: n.to_string(),
            len: None,
        })
        .collect();
    if let Some(bad) = params
        .iter()
        .find(|p| syn::parse_str::<syn::Ident>(&p.name).is_err())
    {
        return Err(Failure::input(format!(
            "error: the variable '{}' cannot be a Rust parameter name",
            bad.name
        )));
    }
    let vars = f.vars.clone();
    let tokens =
        gradient_fn(&mut f.graph, f.output, &vars, name, &params, float, returns).map_err(fail)?;
    let file: syn::File = syn::parse2(tokens)
        .map_err(|e| Failure::io(format!("error: generated code did not parse (a bug): {e}")))?;
    Ok(prettyplease::unparse(&file))
}

//! `symgrad eval`: a formula's value at a point.

use crate::input;
use crate::report::num;
use crate::{EvalArgs, Failure};
use symgrad_core::eval::Program;

pub fn run(args: EvalArgs) -> Result<String, Failure> {
    let (_, f) = input::load(&args.source)?;
    let point = match args.at.as_deref() {
        Some(at) => input::point(at, &f)?,
        None if f.vars.is_empty() => Vec::new(),
        None => {
            return Err(Failure::input(format!(
                "error: give the variables a value with --at, e.g. --at {}",
                f.var_names()
                    .iter()
                    .map(|n| format!("{n}=1"))
                    .collect::<Vec<_>>()
                    .join(",")
            )))
        }
    };
    let program = Program::compile(&f.graph, &f.vars, &[f.output])
        .map_err(|e| Failure::input(format!("error: {}", e.message())))?;
    Ok(format!("{}\n", num(program.run(&point)[0])))
}

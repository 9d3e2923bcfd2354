//! `symgrad explain`: backpropagation on one formula at one point, step by step.

use crate::input;
use crate::{ExplainArgs, Failure};

pub fn run(args: ExplainArgs) -> Result<String, Failure> {
    let (_, mut f) = input::load(&args.source)?;
    let point = input::point(&args.at, &f)?;
    let vars = f.vars.clone();
    let e = symgrad_core::explain::explain(&mut f.graph, f.output, &vars, &point)
        .map_err(|e| Failure::input(format!("error: {}", e.message())))?;
    Ok(e.to_text())
}

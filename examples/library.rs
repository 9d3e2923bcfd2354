//! Using symgrad as a library: parse a formula known only at run time,
//! differentiate it in every mode, print, evaluate, and take a Hessian.
//!
//! Run with `cargo run --example library`.

use symgrad::{Expr, Mode};

fn main() -> Result<(), symgrad::Error> {
    // A formula could come from a file or a user; here it is the seed example.
    let f = Expr::parse("x²y + y + 2")?;
    let point = [3.0, 4.0];
    println!("f = {}, variables {:?}", f.simplified(), f.vars());
    println!("f(3, 4) = {}", f.eval(&point)?);

    // The three exact modes build the same derivatives; their work differs.
    for mode in Mode::EXACT {
        let d = f.gradient(mode)?;
        let stats = d.stats();
        println!(
            "{mode:>8}: {:?} = {:?}  ({} passes, {} nodes visited)",
            d.exprs(),
            d.eval(&point)?,
            stats.passes,
            stats.nodes_visited
        );
    }

    // Second derivatives: forward mode over the reverse-mode gradient graph.
    let h = f.hessian()?;
    println!("Hessian = {:?} = {:?}", h.exprs(), h.eval(&point)?);

    // Higher derivatives in one variable, and LaTeX for a document.
    let g = Expr::parse("sin(x)^2")?;
    let d3 = g.derivative("x", 3)?;
    println!(
        "d³/dx³ sin(x)² = {}  (LaTeX: {})",
        d3.exprs()[0],
        d3.latex().exprs[0]
    );

    // Errors carry a kind and a span; render() draws the caret.
    let source = "x + * y";
    if let Err(e) = Expr::parse(source) {
        println!("{}", e.render(source));
    }
    Ok(())
}

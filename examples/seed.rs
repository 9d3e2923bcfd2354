//! The worked example, compiled: f(x, y) = x²y + y + 2 at (3, 4).
//!
//! Three ways to get the same generated code: a closure, a formula string and
//! an attribute on an ordinary function. Run with `cargo run --example seed`.

use symgrad::{grad, gradient};

#[gradient(hessian)]
fn quad(x: f64, y: f64) -> f64 {
    x.powi(2) * y + y + 2.0
}

fn main() {
    let f = grad!(|x: f64, y: f64| x.powi(2) * y + y + 2.0);
    let (value, [dx, dy]) = f(3.0, 4.0);
    println!("closure:   f(3, 4) = {value}, ∂f/∂x = {dx}, ∂f/∂y = {dy}");

    let g = grad!("x²y + y + 2", wrt = [x, y]);
    println!("formula:   {:?}", g(3.0, 4.0));

    println!("attribute: quad(3, 4) = {}", quad(3.0, 4.0));
    println!(
        "           quad_gradient(3, 4) = {:?}",
        quad_gradient(3.0, 4.0)
    );
    let (v, grad, hessian) = quad_hessian(3.0, 4.0);
    println!("           quad_hessian(3, 4) = ({v}, {grad:?}, {hessian:?})");
}

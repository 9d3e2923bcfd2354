//! The seed example, x²y + y + 2 at (3, 4), in every form a user writes it.

use symgrad::{grad, gradient};

#[gradient(hessian)]
fn quad(x: f64, y: f64) -> f64 {
    x.powi(2) * y + y + 2.0
}

#[test]
fn closure_form() {
    let f = grad!(|x: f64, y: f64| x.powi(2) * y + y + 2.0);
    let (value, [dx, dy]) = f(3.0, 4.0);
    assert_eq!((value, dx, dy), (42.0, 24.0, 10.0));
}

#[test]
fn formula_form() {
    let g = grad!("x²y + y + 2", wrt = [x, y]);
    assert_eq!(g(3.0, 4.0), (42.0, [24.0, 10.0]));
    let g = grad!("x^2*y + y + 2", wrt = [x, y]);
    assert_eq!(g(3.0, 4.0), (42.0, [24.0, 10.0]));
}

#[test]
fn attribute_form() {
    assert_eq!(quad(3.0, 4.0), 42.0);
    assert_eq!(quad_gradient(3.0, 4.0), (42.0, [24.0, 10.0]));
    // d²/dx² = 2y = 8, d²/dxdy = 2x = 6, d²/dy² = 0.
    assert_eq!(
        quad_hessian(3.0, 4.0),
        (42.0, [24.0, 10.0], [[8.0, 6.0], [6.0, 0.0]])
    );
}

#[test]
fn unused_parameters_and_constant_bodies() {
    let f = grad!(|x: f64, y: f64| x * 2.0);
    assert_eq!(f(3.0, 4.0), (6.0, [2.0, 0.0]));
    let c = grad!(|_x: f64| 3.0);
    assert_eq!(c(1.0), (3.0, [0.0]));
}

#[gradient]
fn reassigned(mut x: f64, y: f64) -> f64 {
    x = y * x.sin();
    x += y;
    x
}

#[test]
fn mutable_parameters() {
    let (v, [dx, dy]) = reassigned_gradient(3.0, 4.0);
    assert!((v - reassigned(3.0, 4.0)).abs() < 1e-14);
    // y*sin(x) + y: d/dx = y*cos(x), d/dy = sin(x) + 1.
    assert!((dx - 4.0 * 3f64.cos()).abs() < 1e-14);
    assert!((dy - (3f64.sin() + 1.0)).abs() < 1e-14);
}

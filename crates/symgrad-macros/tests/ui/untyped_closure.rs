use symgrad::grad;

fn main() {
    let f = grad!(|x, y: f64| x * y);
    let _ = f(1.0, 2.0);
}

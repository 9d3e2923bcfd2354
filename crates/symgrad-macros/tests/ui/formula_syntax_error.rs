use symgrad::grad;

fn main() {
    let f = grad!("x^2 + * y", wrt = [x, y]);
    let _ = f(1.0, 2.0);
}

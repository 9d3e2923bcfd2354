use symgrad::grad;

fn main() {
    let f = grad!("x*y", wrt = [x, y, w]);
    let _ = f(1.0, 2.0, 3.0);
}

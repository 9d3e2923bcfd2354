use symgrad::grad;

fn main() {
    let f = grad!(|x: f64| {
        let s = 0.0;
        s += x.exp();
        s
    });
    let (_v, [_dx]) = f(1.0);
}

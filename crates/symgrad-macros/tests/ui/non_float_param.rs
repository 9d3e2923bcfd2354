use symgrad::gradient;

#[gradient]
fn f(x: f64, _n: i32) -> f64 {
    x * 2.0
}

fn main() {}

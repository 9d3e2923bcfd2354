use symgrad::gradient;

#[gradient]
fn f(x: f64) -> f64 {
    x.floor() + 1.0
}

fn main() {}

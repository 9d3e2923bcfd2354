use symgrad::gradient;

fn helper(x: f64) -> f64 {
    x * 3.0
}

#[gradient]
fn f(x: f64) -> f64 {
    helper(x) + x
}

fn main() {}

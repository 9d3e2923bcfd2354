use symgrad::gradient;

#[gradient]
fn f(x: [f64; 3]) -> f64 {
    x[0] + x[5]
}

fn main() {}

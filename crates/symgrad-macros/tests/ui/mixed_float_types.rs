use symgrad::gradient;

#[gradient]
fn f(x: f64, _y: f32) -> f64 {
    x
}

fn main() {}

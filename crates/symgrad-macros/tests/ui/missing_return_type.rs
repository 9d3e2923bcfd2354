use symgrad::gradient;

#[gradient]
fn f(x: f64) {
    let _ = x;
}

fn main() {}

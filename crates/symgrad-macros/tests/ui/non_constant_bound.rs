use symgrad::gradient;

#[gradient]
fn f(x: [f64; 3], n: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..n {
        s += x[i];
    }
    s
}

fn main() {}

use symgrad::gradient;

#[gradient]
fn f(x: [f64; 2]) -> f64 {
    let mut s = 0.0;
    for i in 0..2000 {
        for j in 0..1000 {
            s += x[(i + j) % 2];
        }
    }
    s
}

fn main() {}

use symgrad_core::diff::{self, Mode, Options};
use symgrad_core::eval::Program;
use symgrad_core::{Func, Graph};
fn main() {
    for mode in [Mode::Reverse, Mode::Forward] {
        let mut g = Graph::new();
        let x = g.var("x");
        let mut f = x;
        for _ in 0..7 {
            f = g.func(Func::Sin, f);
        }
        let t = std::time::Instant::now();
        let (d, _) = diff::nth_derivative(&mut g, f, x, 10, mode, Options::default()).unwrap();
        let el = t.elapsed();
        let n = g.reachable(&[d]).len();
        let p = Program::compile(&g, &[x], &[d]).unwrap();
        println!(
            "{mode}: {el:?} total nodes {} reachable {} instrs {} value {:?}",
            g.len(),
            n,
            p.len(),
            p.run(&[0.5])
        );
    }
}

//! The matrix products of W3 (784-30-10, m = 10) and W3b (64-32-10,
//! m = 32; the digits training net has its shape) with the layouts the
//! plans pass, timed side by side on one thread for
//!
//! - `matrixmultiply`: its `dgemm`/`sgemm` (what `kernels::matmul` called
//!   before issue 11),
//! - `gemm`: the `gemm` crate (runtime dispatch to AVX2 or AVX-512),
//! - `symgrad`: `symgrad_runtime::kernels::matmul` (since issue 11 a direct
//!   register-tiled path for these shapes, on the widest instruction set
//!   the processor has), and `symgrad_avx2`: the same forced to AVX2 on a
//!   processor with AVX-512.
//!
//! Every candidate is checked against a naive triple loop before it is
//! timed. Run with `cargo bench --bench matmul` (add `-- f64` or a shape's
//! name to pick some).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use symgrad::__private::kernels::{self, Gemm};
use symgrad::__private::matmul::{matmul_on, Isa};

/// One product `c[m×n] = a[m×k] · b[k×n]`; `a_col` / `b_col` read the
/// operand as the transpose of a row-major matrix (column-major), as the
/// plans pass Wᵀ and δᵀ. The result is row-major.
struct Shape {
    name: &'static str,
    m: usize,
    k: usize,
    n: usize,
    a_col: bool,
    b_col: bool,
}

const fn shape(
    name: &'static str,
    m: usize,
    k: usize,
    n: usize,
    a_col: bool,
    b_col: bool,
) -> Shape {
    Shape {
        name,
        m,
        k,
        n,
        a_col,
        b_col,
    }
}

/// The five products of one W3/W3b gradient, in the order the generated
/// code runs them (`symgrad net emit`).
const SHAPES: [Shape; 10] = [
    shape("W3 X·W1t 10x784x30", 10, 784, 30, false, true),
    shape("W3 A1·W2t 10x30x10", 10, 30, 10, false, true),
    shape("W3 D2·W2 10x10x30", 10, 10, 30, false, false),
    shape("W3 D2t·A1 10x10x30", 10, 10, 30, true, false),
    shape("W3 D1t·X 30x10x784", 30, 10, 784, true, false),
    shape("W3b X·W1t 32x64x32", 32, 64, 32, false, true),
    shape("W3b A1·W2t 32x32x10", 32, 32, 10, false, true),
    shape("W3b D2·W2 32x10x32", 32, 10, 32, false, false),
    shape("W3b D2t·A1 10x32x32", 10, 32, 32, true, false),
    shape("W3b D1t·X 32x32x64", 32, 32, 64, true, false),
];

impl Shape {
    fn strides(&self) -> ([usize; 2], [usize; 2], [usize; 2]) {
        let sa = if self.a_col { [1, self.m] } else { [self.k, 1] };
        let sb = if self.b_col { [1, self.k] } else { [self.n, 1] };
        (sa, sb, [self.n, 1])
    }
}

/// The floats benchmarked, with the entry points of each candidate.
trait Float: Gemm + 'static {
    const NAME: &'static str;
    fn widen(self) -> f64;
    /// `matrixmultiply`'s product for this float, `c = a b`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn mm(
        m: usize,
        k: usize,
        n: usize,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );
}

impl Float for f64 {
    const NAME: &'static str = "f64";
    fn widen(self) -> f64 {
        self
    }
    unsafe fn mm(
        m: usize,
        k: usize,
        n: usize,
        a: *const f64,
        rsa: isize,
        csa: isize,
        b: *const f64,
        rsb: isize,
        csb: isize,
        c: *mut f64,
        rsc: isize,
        csc: isize,
    ) {
        unsafe { matrixmultiply::dgemm(m, k, n, 1.0, a, rsa, csa, b, rsb, csb, 0.0, c, rsc, csc) }
    }
}

impl Float for f32 {
    const NAME: &'static str = "f32";
    fn widen(self) -> f64 {
        f64::from(self)
    }
    unsafe fn mm(
        m: usize,
        k: usize,
        n: usize,
        a: *const f32,
        rsa: isize,
        csa: isize,
        b: *const f32,
        rsb: isize,
        csb: isize,
        c: *mut f32,
        rsc: isize,
        csc: isize,
    ) {
        unsafe { matrixmultiply::sgemm(m, k, n, 1.0, a, rsa, csa, b, rsb, csb, 0.0, c, rsc, csc) }
    }
}

/// The candidates: (name, product with `kernels::matmul`'s arguments).
type Product<T> = fn(usize, usize, usize, &[T], [usize; 2], &[T], [usize; 2], &mut [T], [usize; 2]);

#[allow(clippy::too_many_arguments)]
fn with_matrixmultiply<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: &[T],
    sa: [usize; 2],
    b: &[T],
    sb: [usize; 2],
    c: &mut [T],
    sc: [usize; 2],
) {
    let i = |s: usize| s as isize;
    // SAFETY: the bench's buffers are exactly the views' extents.
    unsafe {
        T::mm(
            m,
            k,
            n,
            a.as_ptr(),
            i(sa[0]),
            i(sa[1]),
            b.as_ptr(),
            i(sb[0]),
            i(sb[1]),
            c.as_mut_ptr(),
            i(sc[0]),
            i(sc[1]),
        )
    }
}

#[allow(clippy::too_many_arguments)]
fn with_gemm<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: &[T],
    sa: [usize; 2],
    b: &[T],
    sb: [usize; 2],
    c: &mut [T],
    sc: [usize; 2],
) {
    let i = |s: usize| s as isize;
    // SAFETY: as above; `gemm` writes dst := beta·lhs·rhs when read_dst is
    // false (alpha unread).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            i(sc[1]),
            i(sc[0]),
            false,
            a.as_ptr(),
            i(sa[1]),
            i(sa[0]),
            b.as_ptr(),
            i(sb[1]),
            i(sb[0]),
            T::from_f64(0.0),
            T::from_f64(1.0),
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

#[allow(clippy::too_many_arguments)]
fn with_symgrad_avx2<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: &[T],
    sa: [usize; 2],
    b: &[T],
    sb: [usize; 2],
    c: &mut [T],
    sc: [usize; 2],
) {
    matmul_on(Some(Isa::Avx2), m, k, n, a, sa, b, sb, c, sc)
}

fn candidates<T: Float>() -> Vec<(&'static str, Product<T>)> {
    let mut v: Vec<(&'static str, Product<T>)> = vec![
        ("matrixmultiply", with_matrixmultiply::<T>),
        ("gemm", with_gemm::<T>),
        ("symgrad", kernels::matmul::<T>),
    ];
    if Isa::best() == Isa::Avx512 && Isa::Avx2.runs_here() {
        v.push(("symgrad_avx2", with_symgrad_avx2::<T>));
    }
    v
}

fn naive(s: &Shape, a: &[f64], b: &[f64]) -> Vec<f64> {
    let (sa, sb, _) = s.strides();
    let mut c = vec![0.0; s.m * s.n];
    for i in 0..s.m {
        for j in 0..s.n {
            c[i * s.n + j] = (0..s.k)
                .map(|p| a[i * sa[0] + p * sa[1]] * b[p * sb[0] + j * sb[1]])
                .sum();
        }
    }
    c
}

fn bench_float<T: Float>(c: &mut Criterion) {
    for s in &SHAPES {
        let mut group = c.benchmark_group(format!("matmul/{}/{}", T::NAME, s.name));
        let a64: Vec<f64> = (0..s.m * s.k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b64: Vec<f64> = (0..s.k * s.n).map(|i| (i as f64 * 0.11).cos()).collect();
        let want = naive(s, &a64, &b64);
        let a: Vec<T> = a64.iter().map(|&x| T::from_f64(x)).collect();
        let b: Vec<T> = b64.iter().map(|&x| T::from_f64(x)).collect();
        let (sa, sb, sc) = s.strides();
        let mut out = vec![T::from_f64(0.0); s.m * s.n];
        let tol = if T::NAME == "f32" { 1e-4 } else { 1e-12 } * s.k as f64;
        for (name, product) in candidates::<T>() {
            out.fill(T::from_f64(f64::NAN));
            product(s.m, s.k, s.n, &a, sa, &b, sb, &mut out, sc);
            for (got, w) in out.iter().zip(&want) {
                let got = got.widen();
                assert!((got - w).abs() <= tol, "{name} {}: {got} vs {w}", s.name);
            }
            group.bench_function(BenchmarkId::from_parameter(name), |bch| {
                bch.iter(|| {
                    product(
                        s.m,
                        s.k,
                        s.n,
                        black_box(&a),
                        sa,
                        black_box(&b),
                        sb,
                        &mut out,
                        sc,
                    );
                    black_box(&out);
                })
            });
        }
        group.finish();
    }
}

fn benches(c: &mut Criterion) {
    bench_float::<f64>(c);
    bench_float::<f32>(c);
}

criterion_group!(matmul_benches, benches);
criterion_main!(matmul_benches);

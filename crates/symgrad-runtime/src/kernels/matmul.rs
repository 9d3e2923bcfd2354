//! The matrix product: [`matmul`] over strided views, calling
//! `matrixmultiply`'s `dgemm`/`sgemm` through [`Gemm`].

use super::check;
use crate::Real;

/// The floats the matrix product is implemented for (`f32`, `f64`).
pub trait Gemm: Real {
    /// `c = a @ b` for an `m × k` view `a` and a `k × n` view `b`, each with
    /// row and column strides, into `c` with its own strides.
    ///
    /// # Safety
    /// Every index the strides reach must be inside its slice.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm_raw(
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

macro_rules! gemm_impl {
    ($t:ty, $f:path) => {
        impl Gemm for $t {
            #[inline]
            unsafe fn gemm_raw(
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
            ) {
                // SAFETY: the caller (`matmul`) has checked every index.
                unsafe { $f(m, k, n, 1.0, a, rsa, csa, b, rsb, csb, 0.0, c, rsc, csc) }
            }
        }
    };
}

gemm_impl!(f64, matrixmultiply::dgemm);
gemm_impl!(f32, matrixmultiply::sgemm);

/// `c = a @ b`: `a` is an `m × k` view with strides `sa` (row, column), `b`
/// a `k × n` view, and `c` is written through strides `sc` (so a transposed
/// result costs nothing).
#[allow(clippy::too_many_arguments)]
pub fn matmul<T: Gemm>(
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
    check("matmul operand a", a.len(), &[m, k], &sa);
    check("matmul operand b", b.len(), &[k, n], &sb);
    check("matmul result", c.len(), &[m, n], &sc);
    if m == 0 || n == 0 {
        return;
    }
    let i = |s: usize| s as isize;
    // SAFETY: `check` has bounded every index the strides reach by the
    // slices' lengths, and `c` is borrowed mutably, apart from `a` and `b`.
    unsafe {
        T::gemm_raw(
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
        );
    }
}

//! Hand-written C baselines for symgrad's benches, and the machine header
//! every bench prints before its table.
//!
//! The C code (c/baselines.c: plain loops, no BLAS) is compiled by build.rs
//! with `-O3 -march=native` when a C compiler is present. Without one,
//! [`CBaselines::get`] returns `None` and the benches say the C baseline is
//! skipped. This crate is a dev-dependency of the root package only, so the
//! facade's users never build C.

mod machine;

pub use machine::{machine_header, print_machine_header};

/// The compiled C baselines. A value exists only when the C code was built,
/// so every method below runs real C.
#[derive(Clone, Copy, Debug)]
pub struct CBaselines {
    _built: Built,
}

/// Shapes of a two-layer perceptron (W3, W3b): batch `m`, inputs, hidden
/// units, outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MlpShape {
    pub m: usize,
    pub n_in: usize,
    pub n_hid: usize,
    pub n_out: usize,
}

impl MlpShape {
    /// Doubles of scratch space the C code needs (a1, a2, d1, d2).
    pub fn work_len(&self) -> usize {
        2 * self.m * (self.n_hid + self.n_out)
    }
}

/// The parameters (W1, b1, W2, b2) of a two-layer perceptron, row-major.
pub type MlpParams<'a> = [&'a [f64]; 4];

/// The gradient buffers (dW1, db1, dW2, db2) the C code writes; the
/// caller keeps the scratch buffer (`vec![0.0; shape.work_len()]`) beside it.
pub struct MlpGradient {
    pub dw1: Vec<f64>,
    pub db1: Vec<f64>,
    pub dw2: Vec<f64>,
    pub db2: Vec<f64>,
}

impl MlpGradient {
    /// Buffers for `shape`, allocated once so that no timed call allocates.
    pub fn new(shape: MlpShape) -> MlpGradient {
        let MlpShape {
            n_in, n_hid, n_out, ..
        } = shape;
        MlpGradient {
            dw1: vec![0.0; n_hid * n_in],
            db1: vec![0.0; n_hid],
            dw2: vec![0.0; n_out * n_hid],
            db2: vec![0.0; n_out],
        }
    }
}

/// Which output layer and loss: W3's sigmoid with the quadratic cost, or
/// W3b's softmax with cross-entropy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MlpLoss {
    SigmoidQuadratic,
    SoftmaxCrossEntropy,
}

/// The environment variable that turns the C baselines off at run time.
#[cfg(symgrad_cbench_c)]
const SKIP_VAR: &str = "SYMGRAD_CBENCH_SKIP_C";

/// True when `SYMGRAD_CBENCH_SKIP_C` is set to a non-empty value.
#[cfg(symgrad_cbench_c)]
fn skip_requested() -> bool {
    std::env::var_os(SKIP_VAR).is_some_and(|v| !v.is_empty())
}

#[cfg(symgrad_cbench_c)]
mod ffi {
    unsafe extern "C" {
        pub fn sgc_seed(x: f64, y: f64, f: *mut f64, g: *mut f64);
        pub fn sgc_rosenbrock(n: usize, x: *const f64, g: *mut f64) -> f64;
        pub fn sgc_rosenbrock_value(n: usize, x: *const f64) -> f64;
        pub fn sgc_mlp_quadratic(
            m: usize,
            ni: usize,
            nh: usize,
            no: usize,
            x: *const f64,
            y: *const f64,
            w1: *const f64,
            b1: *const f64,
            w2: *const f64,
            b2: *const f64,
            dw1: *mut f64,
            db1: *mut f64,
            dw2: *mut f64,
            db2: *mut f64,
            work: *mut f64,
        ) -> f64;
        pub fn sgc_mlp_softmax(
            m: usize,
            ni: usize,
            nh: usize,
            no: usize,
            x: *const f64,
            y: *const f64,
            w1: *const f64,
            b1: *const f64,
            w2: *const f64,
            b2: *const f64,
            dw1: *mut f64,
            db1: *mut f64,
            dw2: *mut f64,
            db2: *mut f64,
            work: *mut f64,
        ) -> f64;
    }
}

/// Proof that the C code was built: a unit value with it, an empty enum
/// (no value at all) without it.
#[cfg(symgrad_cbench_c)]
#[derive(Clone, Copy, Debug)]
struct Built;
#[cfg(not(symgrad_cbench_c))]
#[derive(Clone, Copy, Debug)]
enum Built {}

impl CBaselines {
    /// The C baselines, or `None` when no C compiler was found at build time
    /// or the environment variable `SYMGRAD_CBENCH_SKIP_C` is set non-empty (for
    /// valgrind, which cannot decode the AVX-512 code `-march=native` emits
    /// on such machines).
    pub fn get() -> Option<CBaselines> {
        #[cfg(symgrad_cbench_c)]
        return (!skip_requested()).then_some(CBaselines { _built: Built });
        #[cfg(not(symgrad_cbench_c))]
        return None;
    }

    /// The compiler and flags the C code was built with, or why it is absent.
    pub fn describe() -> &'static str {
        #[cfg(symgrad_cbench_c)]
        return if skip_requested() {
            "skipped: SYMGRAD_CBENCH_SKIP_C is set"
        } else {
            env!("SYMGRAD_CBENCH_CC")
        };
        #[cfg(not(symgrad_cbench_c))]
        return "skipped: no C compiler was found when the benches were built";
    }

    /// W1: f(x, y) = x²y + y + 2 and its gradient.
    #[inline]
    pub fn seed(self, x: f64, y: f64) -> (f64, [f64; 2]) {
        #[cfg(symgrad_cbench_c)]
        {
            let (mut f, mut g) = (0.0, [0.0; 2]);
            // SAFETY: `f` and `g` are valid for the one and two doubles the C
            // function writes.
            unsafe { ffi::sgc_seed(x, y, &mut f, g.as_mut_ptr()) };
            (f, g)
        }
        #[cfg(not(symgrad_cbench_c))]
        match self._built {}
    }

    /// W2: Rosenbrock's value, with its gradient written into `g`.
    ///
    /// # Panics
    /// If `g` and `x` differ in length.
    #[inline]
    pub fn rosenbrock(self, x: &[f64], g: &mut [f64]) -> f64 {
        assert_eq!(x.len(), g.len(), "gradient buffer length");
        #[cfg(symgrad_cbench_c)]
        // SAFETY: both slices hold x.len() doubles; C reads x and writes g.
        return unsafe { ffi::sgc_rosenbrock(x.len(), x.as_ptr(), g.as_mut_ptr()) };
        #[cfg(not(symgrad_cbench_c))]
        match self._built {}
    }

    /// W2: Rosenbrock's value alone.
    #[inline]
    pub fn rosenbrock_value(self, x: &[f64]) -> f64 {
        #[cfg(symgrad_cbench_c)]
        // SAFETY: C reads x.len() doubles from x.
        return unsafe { ffi::sgc_rosenbrock_value(x.len(), x.as_ptr()) };
        #[cfg(not(symgrad_cbench_c))]
        match self._built {}
    }

    /// W3/W3b: the mean loss over the batch, and with `grad` the gradient
    /// of it with respect to every parameter.
    ///
    /// # Panics
    /// If a slice's length does not match `shape`.
    #[allow(clippy::too_many_arguments)]
    pub fn mlp(
        self,
        loss: MlpLoss,
        shape: MlpShape,
        x: &[f64],
        y: &[f64],
        params: MlpParams<'_>,
        grad: Option<&mut MlpGradient>,
        work: &mut [f64],
    ) -> f64 {
        let MlpShape {
            m,
            n_in,
            n_hid,
            n_out,
        } = shape;
        assert_eq!(x.len(), m * n_in, "x length");
        assert_eq!(y.len(), m * n_out, "y length");
        let [w1, b1, w2, b2] = params;
        assert_eq!(w1.len(), n_hid * n_in, "W1 length");
        assert_eq!(b1.len(), n_hid, "b1 length");
        assert_eq!(w2.len(), n_out * n_hid, "W2 length");
        assert_eq!(b2.len(), n_out, "b2 length");
        assert!(work.len() >= shape.work_len(), "work length");
        #[cfg(symgrad_cbench_c)]
        {
            let f = match loss {
                MlpLoss::SigmoidQuadratic => ffi::sgc_mlp_quadratic,
                MlpLoss::SoftmaxCrossEntropy => ffi::sgc_mlp_softmax,
            };
            let null = std::ptr::null_mut();
            let (dw1, db1, dw2, db2) = match grad {
                Some(g) => {
                    assert_eq!(g.dw1.len(), w1.len(), "dW1 length");
                    assert_eq!(g.dw2.len(), w2.len(), "dW2 length");
                    assert_eq!(g.db1.len(), b1.len(), "db1 length");
                    assert_eq!(g.db2.len(), b2.len(), "db2 length");
                    (
                        g.dw1.as_mut_ptr(),
                        g.db1.as_mut_ptr(),
                        g.dw2.as_mut_ptr(),
                        g.db2.as_mut_ptr(),
                    )
                }
                None => (null, null, null, null),
            };
            // SAFETY: every length was checked against `shape` above; the C
            // code reads and writes only within those lengths, and writes no
            // gradient when dw1 is null.
            unsafe {
                f(
                    m,
                    n_in,
                    n_hid,
                    n_out,
                    x.as_ptr(),
                    y.as_ptr(),
                    w1.as_ptr(),
                    b1.as_ptr(),
                    w2.as_ptr(),
                    b2.as_ptr(),
                    dw1,
                    db1,
                    dw2,
                    db2,
                    work.as_mut_ptr(),
                )
            }
        }
        #[cfg(not(symgrad_cbench_c))]
        {
            let _ = (loss, grad);
            match self._built {}
        }
    }
}

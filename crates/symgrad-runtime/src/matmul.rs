//! The matrix product behind [`crate::kernels::matmul`]: a direct
//! register-tiled path for the small products of the networks, and
//! `matrixmultiply` for everything else.
//!
//! A network's products are small (W3: `[10 × 784]·[784 × 30]`, W3b:
//! `[32 × 64]·[64 × 32]`) and arrive in two layouts: `X·Wᵀ`, where both
//! operands run contiguously along `k` (a row of `a` dotted with a column of
//! `b`), and `δᵀ·X` / `δ·W`, where `b` and the result run contiguously
//! along `n`. `matrixmultiply` packs both operands into panels on every
//! call, which on these shapes costs about as much as the arithmetic; the
//! direct path reads the operands where they are:
//!
//! - *dot* (`a` rows and `b` columns contiguous): a tile of 2 rows × 4
//!   columns of the result keeps 8 vector accumulators over `k`;
//! - *axpy* (`b` rows and result rows contiguous): a tile of 4 rows × 2
//!   vectors of the result accumulates `a[i, p] · b[p, ..]` over `k`.
//!
//! A column-major result is the transposed problem `cᵀ = bᵀ aᵀ`. Other
//! layouts, and products whose streamed operand `b` is too large to stay in
//! cache (more than [`DIRECT_MAX_B`] entries), go to `matrixmultiply`.
//!
//! Each layout has an instance per instruction set: AVX-512F, AVX2 with
//! FMA, and the baseline target; the widest the processor has is picked at
//! run time (one binary stays portable), and `SYMGRAD_MATMUL` can force
//! one (see [`matmul`]). The axpy layout is written once, generically (the
//! compiler vectorizes it along `n`); the dot layout on x86-64 is written
//! with intrinsics (`x86.rs`), since the generic version vectorized across
//! the wrong dimension. The sums run in a different order from a naive
//! loop (lanes, then a tree), so results agree with it to rounding, not
//! bit for bit.

use crate::Real;

#[cfg(target_arch = "x86_64")]
mod x86;

/// The most entries of `b` for which the direct path is used: it streams
/// all of `b` once per tile of rows, which pays while `b` stays in the L2
/// cache (2¹⁶ f64 = 512 KiB).
pub const DIRECT_MAX_B: usize = 1 << 16;

/// The floats the matrix product is implemented for (`f32`, `f64`).
pub trait Gemm: Real {
    /// `c = a @ b` for an `m × k` view `a` and a `k × n` view `b`, each with
    /// row and column strides, into `c` with its own strides, by
    /// `matrixmultiply`.
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

    /// The direct product for the layouts of [`Layout`], compiled for
    /// `isa`.
    ///
    /// # Safety
    /// As [`Gemm::gemm_raw`], with strides that fit `layout`, and `isa`
    /// one of [`Isa::available`].
    unsafe fn direct(isa: Isa, layout: Layout, p: &Product<Self>);

    /// `self * b + c`, rounded once where the instruction set fuses it.
    fn madd<const FUSED: bool>(self, b: Self, c: Self) -> Self;
}

/// The instruction sets the direct kernels are compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// x86-64 with AVX-512F (512-bit vectors, fused multiply-add).
    Avx512,
    /// x86-64 with AVX2 and FMA (256-bit vectors).
    Avx2,
    /// Whatever the target has without run-time detection (SSE2 on
    /// x86-64), unfused.
    Baseline,
}

impl Isa {
    /// The instruction sets this processor runs, widest first (the
    /// baseline always last).
    pub fn available() -> Vec<Isa> {
        [Isa::Avx512, Isa::Avx2, Isa::Baseline]
            .into_iter()
            .filter(|isa| isa.runs_here())
            .collect()
    }

    /// Whether this processor runs `self` (std caches the detection).
    pub fn runs_here(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(not(target_arch = "x86_64"))]
            Isa::Avx512 | Isa::Avx2 => false,
            Isa::Baseline => true,
        }
    }

    /// The widest instruction set this processor runs (detected once).
    pub fn best() -> Isa {
        static BEST: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| Isa::available()[0])
    }
}

/// What [`matmul`] runs, read once from the environment variable
/// `SYMGRAD_MATMUL` so that one binary can time (or test) each path:
/// unset (or `direct`) takes the direct path on [`Isa::best`]; `avx2` or
/// `baseline` cap the instruction set (where the processor has it);
/// `matrixmultiply` sends every product to `matrixmultiply`, as before
/// issue 11. Any other value is ignored with a warning on stderr.
fn configured() -> Option<Isa> {
    static CHOICE: std::sync::OnceLock<Option<Isa>> = std::sync::OnceLock::new();
    *CHOICE.get_or_init(|| {
        let best = Some(Isa::best());
        match std::env::var("SYMGRAD_MATMUL").as_deref() {
            Err(_) | Ok("" | "direct") => best,
            Ok("matrixmultiply") => None,
            Ok("avx2") if Isa::Avx2.runs_here() && best != Some(Isa::Baseline) => Some(Isa::Avx2),
            Ok("baseline") => Some(Isa::Baseline),
            Ok(other) => {
                eprintln!(
                    "symgrad: SYMGRAD_MATMUL={other:?} is not one of direct, avx2, baseline, \
                     matrixmultiply (or avx2 is not on this processor); using {best:?}"
                );
                best
            }
        }
    })
}

/// The layouts the direct path takes (the result's rows contiguous or
/// not; see the module's doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `a`'s rows and `b`'s columns are contiguous (`a[i, p]` at
    /// `i * rsa + p`, `b[p, j]` at `p + j * csb`).
    Dot,
    /// `b`'s rows and `c`'s rows are contiguous; `a` is any view.
    Axpy,
}

/// One product's raw views, checked by the caller.
#[derive(Clone, Copy, Debug)]
pub struct Product<T> {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub a: *const T,
    pub sa: [usize; 2],
    pub b: *const T,
    pub sb: [usize; 2],
    pub c: *mut T,
    pub sc: [usize; 2],
}

impl<T> Product<T> {
    /// The same product transposed: `cᵀ = bᵀ aᵀ`.
    fn transposed(&self) -> Product<T> {
        Product {
            m: self.n,
            k: self.k,
            n: self.m,
            a: self.b,
            sa: [self.sb[1], self.sb[0]],
            b: self.a,
            sb: [self.sa[1], self.sa[0]],
            c: self.c,
            sc: [self.sc[1], self.sc[0]],
        }
    }

    /// The direct layout this product fits, if any.
    fn layout(&self) -> Option<Layout> {
        if self.k * self.n > DIRECT_MAX_B {
            None
        } else if self.sa[1] == 1 && self.sb[0] == 1 {
            Some(Layout::Dot)
        } else if self.sb[1] == 1 && self.sc[1] == 1 {
            Some(Layout::Axpy)
        } else {
            None
        }
    }
}

/// The path a product takes: the direct one, on itself or its transpose,
/// or `None` for `matrixmultiply`.
pub fn plan<T: Copy>(p: &Product<T>) -> Option<(Layout, Product<T>)> {
    if let Some(l) = p.layout() {
        return Some((l, *p));
    }
    let t = p.transposed();
    t.layout().map(|l| (l, t))
}

/// The products of the dot layout for rows `i0..i0 + R` and columns
/// `j0..j0 + C`, with `L` lanes per accumulator.
///
/// # Safety
/// The rows and columns must be inside the checked views.
#[inline(always)]
unsafe fn dot_tile<T: Gemm, const R: usize, const C: usize, const L: usize, const F: bool>(
    p: &Product<T>,
    i0: usize,
    j0: usize,
) {
    let k = p.k;
    let rows: [*const T; R] = core::array::from_fn(|r| unsafe { p.a.add((i0 + r) * p.sa[0]) });
    let cols: [*const T; C] = core::array::from_fn(|c| unsafe { p.b.add((j0 + c) * p.sb[1]) });
    let mut acc = [[[T::ZERO; L]; C]; R];
    let whole = k - k % L;
    let mut q = 0;
    while q < whole {
        // SAFETY: q + L <= k, inside each contiguous row/column of length k.
        let av: [[T; L]; R] = core::array::from_fn(|r| unsafe {
            core::ptr::read_unaligned(rows[r].add(q) as *const [T; L])
        });
        let bv: [[T; L]; C] = core::array::from_fn(|c| unsafe {
            core::ptr::read_unaligned(cols[c].add(q) as *const [T; L])
        });
        for r in 0..R {
            for c in 0..C {
                for l in 0..L {
                    acc[r][c][l] = av[r][l].madd::<F>(bv[c][l], acc[r][c][l]);
                }
            }
        }
        q += L;
    }
    for r in 0..R {
        for c in 0..C {
            let mut s = lane_sum(acc[r][c]);
            for t in whole..k {
                // SAFETY: t < k.
                s = unsafe { (*rows[r].add(t)).madd::<F>(*cols[c].add(t), s) };
            }
            // SAFETY: (i0 + r, j0 + c) is inside the result's view.
            unsafe { *p.c.add((i0 + r) * p.sc[0] + (j0 + c) * p.sc[1]) = s };
        }
    }
}

/// The sum of `L` lanes as a tree of neighbours, for 8 lanes
/// `((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))`. The x86 dot tiles reduce 8
/// accumulators at once by unpacking and adding neighbouring lanes
/// (`x86.rs`), which is this order; every path adds in it, so that an
/// entry's bits do not depend on whether it fell in a whole tile or at
/// the edge of the result.
#[inline(always)]
fn lane_sum<T: Real, const L: usize>(mut v: [T; L]) -> T {
    let mut width = L;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            v[l] = v[2 * l] + v[2 * l + 1];
        }
    }
    v[0]
}

/// The dot layout over the whole result.
#[inline(always)]
unsafe fn dot_all<T: Gemm, const L: usize, const F: bool>(p: &Product<T>) {
    const R: usize = 2;
    const C: usize = 4;
    let (m_main, n_main) = (p.m - p.m % R, p.n - p.n % C);
    // SAFETY (all calls): the tiles cover exactly [0, m) × [0, n).
    unsafe {
        for i in (0..m_main).step_by(R) {
            for j in (0..n_main).step_by(C) {
                dot_tile::<T, R, C, L, F>(p, i, j);
            }
            for j in n_main..p.n {
                dot_tile::<T, R, 1, L, F>(p, i, j);
            }
        }
        for i in m_main..p.m {
            for j in (0..n_main).step_by(C) {
                dot_tile::<T, 1, C, L, F>(p, i, j);
            }
            for j in n_main..p.n {
                dot_tile::<T, 1, 1, L, F>(p, i, j);
            }
        }
    }
}

/// The axpy layout for rows `i0..i0 + R` and columns `j0..j0 + W`.
///
/// # Safety
/// The rows and columns must be inside the checked views.
#[inline(always)]
unsafe fn axpy_tile<T: Gemm, const R: usize, const W: usize, const F: bool>(
    p: &Product<T>,
    i0: usize,
    j0: usize,
) {
    let mut acc = [[T::ZERO; W]; R];
    for q in 0..p.k {
        // SAFETY: b's row q runs contiguously over [j0, j0 + W) ⊂ [0, n).
        let bv: [T; W] =
            unsafe { core::ptr::read_unaligned(p.b.add(q * p.sb[0] + j0) as *const [T; W]) };
        for (r, row) in acc.iter_mut().enumerate() {
            // SAFETY: (i0 + r, q) is inside a's view.
            let s = unsafe { *p.a.add((i0 + r) * p.sa[0] + q * p.sa[1]) };
            for (x, &bw) in row.iter_mut().zip(&bv) {
                *x = s.madd::<F>(bw, *x);
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        // SAFETY: c's row i0 + r runs contiguously over [j0, j0 + W).
        unsafe {
            core::ptr::write_unaligned(p.c.add((i0 + r) * p.sc[0] + j0) as *mut [T; W], *row)
        };
    }
}

/// The axpy layout over the whole result: `W` entries of a row at a time,
/// then at most one tile of `H` and one of `Q` (`W / 2`, `W / 4`), then
/// single entries, so a short row is not left to scalar code.
#[inline(always)]
unsafe fn axpy_all<T: Gemm, const W: usize, const H: usize, const Q: usize, const F: bool>(
    p: &Product<T>,
) {
    const R: usize = 4;
    let m_main = p.m - p.m % R;
    let n_w = p.n - p.n % W;
    let n_h = if p.n - n_w >= H { n_w + H } else { n_w };
    let n_q = if p.n - n_h >= Q { n_h + Q } else { n_h };
    /// The tiles of rows `i..i + $r` across the whole row.
    macro_rules! row_tiles {
        ($r:expr, $i:expr) => {
            for j in (0..n_w).step_by(W) {
                axpy_tile::<T, $r, W, F>(p, $i, j);
            }
            if n_h > n_w {
                axpy_tile::<T, $r, H, F>(p, $i, n_w);
            }
            if n_q > n_h {
                axpy_tile::<T, $r, Q, F>(p, $i, n_h);
            }
            for j in n_q..p.n {
                axpy_tile::<T, $r, 1, F>(p, $i, j);
            }
        };
    }
    // SAFETY (all calls): the tiles cover exactly [0, m) × [0, n).
    unsafe {
        for i in (0..m_main).step_by(R) {
            row_tiles!(R, i);
        }
        for i in m_main..p.m {
            row_tiles!(1, i);
        }
    }
}

/// One instruction set's instance of both layouts: `$dot` for the dot
/// layout and `$l` lanes per vector for the axpy tiles (two vectors wide).
macro_rules! instances {
    ($t:ty, $name:ident, $fused:expr, $dot:expr, $l:expr $(, $feature:literal)?) => {
        $(#[target_feature(enable = $feature)])?
        unsafe fn $name(layout: Layout, p: &Product<$t>) {
            // SAFETY: forwarded from `Gemm::direct`.
            unsafe {
                match layout {
                    Layout::Dot => $dot(p),
                    Layout::Axpy => axpy_all::<$t, { 2 * $l }, { $l }, { $l / 2 }, $fused>(p),
                }
            }
        }
    };
}

macro_rules! gemm_impl {
    ($t:ty, $mm:path, $dot512:ident, $dot256:ident, $lanes512:expr, $lanes256:expr, $lanes128:expr) => {
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
                unsafe { $mm(m, k, n, 1.0, a, rsa, csa, b, rsb, csb, 0.0, c, rsc, csc) }
            }

            unsafe fn direct(isa: Isa, layout: Layout, p: &Product<Self>) {
                #[cfg(target_arch = "x86_64")]
                {
                    instances!($t, avx512, true, x86::$dot512, $lanes512, "avx512f");
                    instances!($t, avx2, true, x86::$dot256, $lanes256, "avx2,fma");
                    match isa {
                        // SAFETY: `Isa::available` has seen AVX-512F.
                        Isa::Avx512 => return unsafe { avx512(layout, p) },
                        // SAFETY: `Isa::available` has seen AVX2 and FMA.
                        Isa::Avx2 => return unsafe { avx2(layout, p) },
                        Isa::Baseline => {}
                    }
                }
                instances!(
                    $t,
                    baseline,
                    false,
                    dot_all::<$t, { $lanes128 }, false>,
                    $lanes128
                );
                let _ = isa;
                // SAFETY: forwarded from the caller.
                unsafe { baseline(layout, p) }
            }

            #[inline(always)]
            fn madd<const FUSED: bool>(self, b: Self, c: Self) -> Self {
                if FUSED {
                    self.mul_add(b, c)
                } else {
                    self * b + c
                }
            }
        }
    };
}

gemm_impl!(
    f64,
    matrixmultiply::dgemm,
    dot_f64_avx512,
    dot_f64_avx2,
    8,
    4,
    2
);
gemm_impl!(
    f32,
    matrixmultiply::sgemm,
    dot_f32_avx512,
    dot_f32_avx2,
    16,
    8,
    4
);

/// One past the largest index an `r × c` view with strides `s` reaches.
fn extent(r: usize, c: usize, s: [usize; 2]) -> usize {
    if r == 0 || c == 0 {
        0
    } else {
        1 + (r - 1) * s[0] + (c - 1) * s[1]
    }
}

fn check(what: &str, len: usize, r: usize, c: usize, s: [usize; 2]) {
    let need = extent(r, c, s);
    assert!(
        need <= len,
        "symgrad kernel: matmul {what} needs {need} entries for dims [{r}, {c}] strides {s:?}, has {len}"
    );
}

/// `c = a @ b`: `a` is an `m × k` view with strides `sa` (row, column), `b`
/// a `k × n` view, and `c` is written through strides `sc` (so a transposed
/// result costs nothing). Small products in the layouts the network plans
/// use take the direct path of this module; the rest go to
/// `matrixmultiply`.
///
/// The environment variable `SYMGRAD_MATMUL`, read on the first call,
/// picks the path for timing: unset or `direct` (the default), `avx2`,
/// `baseline`, or `matrixmultiply` (every product, as before issue 11).
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
    matmul_on(configured(), m, k, n, a, sa, b, sb, c, sc);
}

/// [`matmul`] with the direct path compiled for `isa` (the baseline if the
/// processor does not run it), or with `None` every product through
/// `matrixmultiply`, so that each path can be tested and timed.
#[allow(clippy::too_many_arguments)]
pub fn matmul_on<T: Gemm>(
    isa: Option<Isa>,
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
    check("operand a", a.len(), m, k, sa);
    check("operand b", b.len(), k, n, sb);
    check("result", c.len(), m, n, sc);
    if m == 0 || n == 0 {
        return;
    }
    let product = Product {
        m,
        k,
        n,
        a: a.as_ptr(),
        sa,
        b: b.as_ptr(),
        sb,
        c: c.as_mut_ptr(),
        sc,
    };
    if let (Some(isa), Some((layout, p))) = (isa, plan(&product)) {
        let isa = if isa.runs_here() { isa } else { Isa::Baseline };
        // SAFETY: `check` has bounded every index the strides reach, and
        // `plan` only picks a layout whose contiguity the strides have.
        unsafe { T::direct(isa, layout, &p) };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SplitMix64;

    /// Strides for an `r × c` view: row-major or column-major, with each
    /// leading dimension padded by `pad` unused entries (a sub-matrix).
    fn strides(r: usize, c: usize, col_major: bool, pad: usize) -> [usize; 2] {
        if col_major {
            [1, r + pad]
        } else {
            [c + pad, 1]
        }
    }

    /// The reference: a naive triple loop in f64, summing in index order.
    fn naive(
        m: usize,
        k: usize,
        n: usize,
        a: &[f64],
        sa: [usize; 2],
        b: &[f64],
        sb: [usize; 2],
    ) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0;
                for p in 0..k {
                    s += a[i * sa[0] + p * sa[1]] * b[p * sb[0] + j * sb[1]];
                }
                c[i * n + j] = s;
            }
        }
        c
    }

    /// Runs `matmul::<T>` on every layout of `a`, `b` and `c` for one shape
    /// and compares with [`naive`] to `tol` times the sum of |a||b| terms.
    fn compare_all_layouts<T: Gemm>(
        isa: Option<Isa>,
        rng: &mut SplitMix64,
        m: usize,
        k: usize,
        n: usize,
        tol: f64,
        widen: fn(T) -> f64,
    ) {
        for layout in 0..8 {
            let (a_col, b_col, c_col) = (layout & 1 != 0, layout & 2 != 0, layout & 4 != 0);
            let pad = (rng.next_u64() % 3) as usize;
            let (sa, sb, sc) = (
                strides(m, k, a_col, pad),
                strides(k, n, b_col, pad),
                strides(m, n, c_col, pad),
            );
            let len = |r: usize, c: usize, s: [usize; 2]| extent(r, c, s);
            let a64: Vec<f64> = (0..len(m, k, sa)).map(|_| rng.uniform(-1.0, 1.0)).collect();
            let b64: Vec<f64> = (0..len(k, n, sb)).map(|_| rng.uniform(-1.0, 1.0)).collect();
            let a: Vec<T> = a64.iter().map(|&x| T::from_f64(x)).collect();
            let b: Vec<T> = b64.iter().map(|&x| T::from_f64(x)).collect();
            // What T holds exactly, so the reference sees the same inputs.
            let a64: Vec<f64> = a.iter().map(|&x| widen(x)).collect();
            let b64: Vec<f64> = b.iter().map(|&x| widen(x)).collect();
            let want = naive(m, k, n, &a64, sa, &b64, sb);
            let sentinel = T::from_f64(1e300);
            let mut c = vec![sentinel; len(m, n, sc)];
            matmul_on(isa, m, k, n, &a, sa, &b, sb, &mut c, sc);
            let bound = tol * k.max(1) as f64;
            let mut written = 0;
            for i in 0..m {
                for j in 0..n {
                    let got = widen(c[i * sc[0] + j * sc[1]]);
                    let w = want[i * n + j];
                    assert!(
                        (got - w).abs() <= bound,
                        "{isa:?} [{m}x{k}]·[{k}x{n}] a_col {a_col} b_col {b_col} c_col {c_col} pad {pad}: \
                         c[{i}, {j}] = {got}, want {w}"
                    );
                    written += 1;
                }
            }
            // Entries outside the result's view (the padding) stay untouched.
            let untouched = c.iter().filter(|&&x| widen(x) == widen(sentinel)).count();
            assert_eq!(
                untouched,
                c.len() - written,
                "matmul wrote outside its view"
            );
        }
    }

    /// Every direct instance this processor runs, and matrixmultiply.
    fn paths() -> Vec<Option<Isa>> {
        let mut v: Vec<Option<Isa>> = Isa::available().into_iter().map(Some).collect();
        v.push(None);
        v
    }

    /// The shapes the networks use, edge cases of the tiles (sizes around
    /// the tile and lane widths, empty k), and random ones.
    fn shapes(rng: &mut SplitMix64) -> Vec<(usize, usize, usize)> {
        let mut s = vec![
            (10, 784, 30),
            (10, 30, 10),
            (10, 10, 30),
            (30, 10, 784),
            (32, 64, 32),
            (32, 32, 10),
            (10, 32, 32),
            (1, 1, 1),
            (3, 0, 5),
            (1, 17, 1),
            (5, 33, 7),
            (9, 15, 47),
            (4, 16, 32),
            (300, 300, 300), // b too large for the direct path
        ];
        for _ in 0..40 {
            let d = |rng: &mut SplitMix64| 1 + (rng.next_u64() % 70) as usize;
            s.push((d(rng), d(rng), d(rng)));
        }
        s
    }

    #[test]
    fn matmul_f64_matches_a_triple_loop_on_every_layout() {
        let mut rng = SplitMix64(11);
        for isa in paths() {
            for (m, k, n) in shapes(&mut rng) {
                compare_all_layouts::<f64>(isa, &mut rng, m, k, n, 1e-14, |x| x);
            }
        }
    }

    #[test]
    fn matmul_f32_matches_a_triple_loop_on_every_layout() {
        let mut rng = SplitMix64(12);
        for isa in paths() {
            for (m, k, n) in shapes(&mut rng) {
                compare_all_layouts::<f32>(isa, &mut rng, m, k, n, 2e-7, f64::from);
            }
        }
    }

    /// A 2 × 4 tile is reduced in one go and the edges one entry at a
    /// time; both add the lanes in the same order, so an entry of the dot
    /// layout has the same bits in a whole tile, at the edge, or computed
    /// alone (a sample's prediction does not depend on its batch).
    #[test]
    fn dot_entries_have_the_same_bits_in_a_tile_and_alone() {
        let mut rng = SplitMix64(13);
        for isa in Isa::available() {
            for (m, k, n) in [(6, 64, 9), (5, 37, 10), (4, 8, 4), (3, 200, 13)] {
                let a: Vec<f64> = (0..m * k).map(|_| rng.uniform(-1.0, 1.0)).collect();
                // b column-major (X·Wᵀ), so that the product is the dot layout.
                let b: Vec<f64> = (0..k * n).map(|_| rng.uniform(-1.0, 1.0)).collect();
                let whole = {
                    let mut c = vec![0.0; m * n];
                    matmul_on(Some(isa), m, k, n, &a, [k, 1], &b, [1, k], &mut c, [n, 1]);
                    c
                };
                for i in 0..m {
                    for j in 0..n {
                        let mut c = [0.0];
                        let (row, col) = (&a[i * k..][..k], &b[j * k..][..k]);
                        matmul_on(Some(isa), 1, k, 1, row, [k, 1], col, [1, k], &mut c, [1, 1]);
                        assert_eq!(
                            c[0].to_bits(),
                            whole[i * n + j].to_bits(),
                            "{isa:?} [{m}x{k}]·[{k}x{n}] entry ({i}, {j})"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_network_layouts_take_the_direct_path() {
        let (a, b) = (vec![0.0f64; 10 * 784], vec![0.0f64; 784 * 30]);
        let mut c = vec![0.0f64; 10 * 784];
        let mut product = |m, k, n, sa, sb, sc| Product {
            m,
            k,
            n,
            a: a.as_ptr(),
            sa,
            b: b.as_ptr(),
            sb,
            c: c.as_mut_ptr(),
            sc,
        };
        // X·W1ᵀ, δ2·W2, δ1ᵀ·X as `network!` emits them (row-major result).
        let x_w1t = product(10, 784, 30, [784, 1], [1, 784], [30, 1]);
        assert_eq!(plan(&x_w1t).map(|p| p.0), Some(Layout::Dot));
        let d2_w2 = product(10, 10, 30, [10, 1], [30, 1], [30, 1]);
        assert_eq!(plan(&d2_w2).map(|p| p.0), Some(Layout::Axpy));
        let d1t_x = product(30, 10, 784, [1, 30], [784, 1], [784, 1]);
        assert_eq!(plan(&d1t_x).map(|p| p.0), Some(Layout::Axpy));
        // Both operands and the result column-major: the transpose has
        // row-major operands and result, the axpy layout.
        let cols = product(10, 10, 30, [1, 10], [1, 10], [1, 10]);
        assert_eq!(plan(&cols).map(|p| p.0), Some(Layout::Axpy));
        // Column-major a and b into a row-major result: matrixmultiply.
        let none = product(10, 10, 30, [1, 10], [1, 10], [30, 1]);
        assert!(plan(&none).is_none());
    }
}

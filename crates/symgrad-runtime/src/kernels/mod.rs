//! Tensor kernels: the loops that both symgrad's tensor interpreter and the
//! code that `network!` generates call, so that the two do the same work.
//!
//! Every tensor is a row-major slice. An operand is read through a *view*: up
//! to [`RANK`] dimensions with a stride per dimension, where a stride of 0
//! repeats an entry (broadcasting) and swapped strides read a transpose, so
//! neither broadcasting nor transposing copies anything. Results are written
//! contiguously, except that [`matmul`] takes strides for its result too.
//!
//! The elementwise kernels first merge dimensions that every operand walks
//! contiguously ([`collapse`]), so `[m, n] + [m, n]` is one flat loop and
//! `[m, n] + [n]` an inner loop over rows that the compiler vectorizes.
//! Matrix products are in [`crate::matmul`] (a direct path for small
//! products, `matrixmultiply`'s `dgemm`/`sgemm` for the rest).
//!
//! On a CPU with AVX2 and FMA ([`crate::simd`]) the contiguous inner loops
//! of [`map`] and [`zip`] are compiled for AVX2 (same operations, same
//! bits, wider registers), and the exp-based kernels (sigmoid pair,
//! softmax, log-sum-exp) use a vector `exp` within 1 ulp of libm's; on
//! other CPUs they take the scalar loops.
//!
//! The kernels check every view against its slice before touching memory
//! and panic with a message on a mismatch: they are only called with shapes
//! that symgrad has already checked, so a failure is a bug in symgrad.

use crate::Real;

pub mod adam;
pub mod conv;

pub use crate::matmul::{matmul, Gemm};

/// The most dimensions a view has; lower ranks pad with leading 1s.
pub const RANK: usize = 4;

/// The extents of an iteration space, outermost first.
pub type Dims = [usize; RANK];

/// The step in a slice per unit of each dimension (0: repeated).
pub type Strides = [usize; RANK];

/// One past the largest index a view reaches (0 for an empty view).
fn extent<const R: usize>(dims: &[usize; R], strides: &[usize; R]) -> usize {
    if dims.contains(&0) {
        return 0;
    }
    1 + dims
        .iter()
        .zip(strides)
        .map(|(&d, &s)| (d - 1) * s)
        .sum::<usize>()
}

pub(crate) fn check<const R: usize>(
    what: &str,
    len: usize,
    dims: &[usize; R],
    strides: &[usize; R],
) {
    let need = extent(dims, strides);
    assert!(
        need <= len,
        "symgrad kernel: {what} needs {need} entries for dims {dims:?} strides {strides:?}, has {len}"
    );
}

/// The contiguous row-major strides of `dims`.
pub fn row_major(dims: Dims) -> Strides {
    let mut s = [0; RANK];
    let mut acc = 1;
    for k in (0..RANK).rev() {
        s[k] = acc;
        acc *= dims[k];
    }
    s
}

/// Merges dimensions so that loops are as few and as long as possible:
/// drops extents of 1 and joins dimension `k` into `k + 1` wherever every
/// view (`views`, the output included) steps over `k` exactly as far as
/// one full run of `k + 1`. The result is right-aligned, padded with 1s.
pub fn collapse<const V: usize>(dims: Dims, views: [Strides; V]) -> (Dims, [Strides; V]) {
    let mut out_d = [1; RANK];
    let mut out_s = [[0; RANK]; V];
    let mut len = 0;
    for k in 0..RANK {
        if dims[k] == 1 {
            continue;
        }
        let joins = len > 0
            && views
                .iter()
                .zip(&out_s)
                .all(|(v, o)| o[len - 1] == v[k] * dims[k]);
        if joins {
            out_d[len - 1] *= dims[k];
            for (o, v) in out_s.iter_mut().zip(&views) {
                o[len - 1] = v[k];
            }
        } else {
            out_d[len] = dims[k];
            for (o, v) in out_s.iter_mut().zip(&views) {
                o[len] = v[k];
            }
            len += 1;
        }
    }
    // Right-align: the innermost loop is the last dimension.
    let shift = RANK - len;
    let mut d = [1; RANK];
    let mut s = [[0; RANK]; V];
    for k in 0..len {
        d[k + shift] = out_d[k];
        for (sv, ov) in s.iter_mut().zip(&out_s) {
            sv[k + shift] = ov[k];
        }
    }
    (d, s)
}

/// Calls `body(a_base, b_base, out_base)` for every innermost run of a
/// collapsed iteration space.
#[inline]
fn for_each_run<const V: usize>(
    dims: &Dims,
    views: &[Strides; V],
    mut body: impl FnMut([usize; V]),
) {
    for i0 in 0..dims[0] {
        for i1 in 0..dims[1] {
            for i2 in 0..dims[2] {
                let mut base = [0; V];
                for (b, s) in base.iter_mut().zip(views) {
                    *b = i0 * s[0] + i1 * s[1] + i2 * s[2];
                }
                body(base);
            }
        }
    }
}

/// `out = f(a)` entry by entry over `dims`, `a` read through strides `sa`,
/// `out` written contiguously.
pub fn map<T: Copy>(dims: Dims, a: &[T], sa: Strides, out: &mut [T], f: impl Fn(T) -> T) {
    let so = row_major(dims);
    check("map operand", a.len(), &dims, &sa);
    check("map result", out.len(), &dims, &so);
    let (d, [sa, so]) = collapse(dims, [sa, so]);
    let n = d[3];
    let wide = crate::simd::avx2_fma();
    for_each_run(&d, &[sa, so], |[ba, bo]| {
        let dst = &mut out[bo..bo + n];
        match sa[3] {
            1 => map_contiguous(wide, dst, &a[ba..ba + n], &f),
            0 => dst.fill(f(a[ba])),
            s => {
                for (j, o) in dst.iter_mut().enumerate() {
                    *o = f(a[ba + j * s]);
                }
            }
        }
    });
}

/// `out = f(a, b)` entry by entry over `dims` (NumPy broadcasting is a
/// stride of 0), `out` written contiguously.
#[allow(clippy::too_many_arguments)]
pub fn zip<T: Copy>(
    dims: Dims,
    a: &[T],
    sa: Strides,
    b: &[T],
    sb: Strides,
    out: &mut [T],
    f: impl Fn(T, T) -> T,
) {
    let so = row_major(dims);
    check("zip operand a", a.len(), &dims, &sa);
    check("zip operand b", b.len(), &dims, &sb);
    check("zip result", out.len(), &dims, &so);
    let (d, [sa, sb, so]) = collapse(dims, [sa, sb, so]);
    let n = d[3];
    let wide = crate::simd::avx2_fma();
    for_each_run(&d, &[sa, sb, so], |[ba, bb, bo]| {
        let dst = &mut out[bo..bo + n];
        match (sa[3], sb[3]) {
            (1, 1) => zip_contiguous(wide, dst, &a[ba..ba + n], &b[bb..bb + n], &f),
            (1, 0) => {
                let y = b[bb];
                map_contiguous(wide, dst, &a[ba..ba + n], &|x| f(x, y));
            }
            (0, 1) => {
                let x = a[ba];
                map_contiguous(wide, dst, &b[bb..bb + n], &|y| f(x, y));
            }
            (s, t) => {
                for (j, o) in dst.iter_mut().enumerate() {
                    *o = f(a[ba + j * s], b[bb + j * t]);
                }
            }
        }
    });
}

/// `pos = σ(a)` and `neg = σ(-a)` entry by entry with one `exp` per entry:
/// with `e = exp(-|x|)`, they are `1/(1+e)` and `e/(1+e)` in some order.
/// Both are accurate to the last bits even where one is tiny and never
/// overflow; they equal [`crate::sigmoid`] of `x` and of `-x` on the scalar
/// path and are within 2 ulp of them on the vector path (whose `exp` is
/// within 1 ulp of libm's). Every entry goes through the same code wherever
/// it sits in the tensor, so a batch of samples gives each sample the bits
/// it gets alone. Reverse mode needs both: σ' is σ(x)σ(-x).
pub fn sigmoid_pair<T: Real>(dims: Dims, a: &[T], sa: Strides, pos: &mut [T], neg: &mut [T]) {
    let so = row_major(dims);
    check("sigmoid_pair operand", a.len(), &dims, &sa);
    check("sigmoid_pair result", pos.len().min(neg.len()), &dims, &so);
    let (d, [sa, so]) = collapse(dims, [sa, so]);
    let n = d[3];
    for_each_run(&d, &[sa, so], |[ba, bo]| {
        let p = &mut pos[bo..bo + n];
        match sa[3] {
            1 => p.copy_from_slice(&a[ba..ba + n]),
            s => {
                for (j, p) in p.iter_mut().enumerate() {
                    *p = a[ba + j * s];
                }
            }
        }
        T::sigmoid_pair_in_place(p, &mut neg[bo..bo + n]);
    });
}

/// `out = σ(a)` entry by entry, with the bits [`sigmoid_pair`] gives its
/// `pos` (inference computes σ alone; training needs the pair). Vector code
/// where the CPU has it, within 2 ulp of [`crate::sigmoid`].
pub fn sigmoid<T: Real>(dims: Dims, a: &[T], sa: Strides, out: &mut [T]) {
    let so = row_major(dims);
    check("sigmoid operand", a.len(), &dims, &sa);
    check("sigmoid result", out.len(), &dims, &so);
    let (d, [sa, so]) = collapse(dims, [sa, so]);
    let n = d[3];
    for_each_run(&d, &[sa, so], |[ba, bo]| {
        let o = &mut out[bo..bo + n];
        match sa[3] {
            1 => o.copy_from_slice(&a[ba..ba + n]),
            s => {
                for (j, o) in o.iter_mut().enumerate() {
                    *o = a[ba + j * s];
                }
            }
        }
        T::sigmoid_in_place(o);
    });
}

/// `dst[j] = f(src[j])`, compiled for AVX2 when `wide` (the caller has
/// checked [`crate::simd::avx2_fma`]).
#[inline(always)]
fn map_contiguous<T: Copy, F: Fn(T) -> T>(wide: bool, dst: &mut [T], src: &[T], f: &F) {
    #[inline(always)]
    fn run<T: Copy, F: Fn(T) -> T>(dst: &mut [T], src: &[T], f: &F) {
        for (o, &x) in dst.iter_mut().zip(src) {
            *o = f(x);
        }
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn run_avx2<T: Copy, F: Fn(T) -> T>(dst: &mut [T], src: &[T], f: &F) {
        run(dst, src, f);
    }
    #[cfg(target_arch = "x86_64")]
    if wide {
        // SAFETY: `wide` says the CPU has AVX2 and FMA.
        return unsafe { run_avx2(dst, src, f) };
    }
    let _ = wide;
    run(dst, src, f);
}

/// `dst[j] = f(a[j], b[j])`, compiled for AVX2 when `wide`.
#[inline(always)]
fn zip_contiguous<T: Copy, F: Fn(T, T) -> T>(wide: bool, dst: &mut [T], a: &[T], b: &[T], f: &F) {
    #[inline(always)]
    fn run<T: Copy, F: Fn(T, T) -> T>(dst: &mut [T], a: &[T], b: &[T], f: &F) {
        for ((o, &x), &y) in dst.iter_mut().zip(a).zip(b) {
            *o = f(x, y);
        }
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn run_avx2<T: Copy, F: Fn(T, T) -> T>(dst: &mut [T], a: &[T], b: &[T], f: &F) {
        run(dst, a, b, f);
    }
    #[cfg(target_arch = "x86_64")]
    if wide {
        // SAFETY: `wide` says the CPU has AVX2 and FMA.
        return unsafe { run_avx2(dst, a, b, f) };
    }
    let _ = wide;
    run(dst, a, b, f);
}

/// `out[so · i] += a[sa · i]` over `dims` after zeroing `out`: the sum that
/// undoes broadcasting (`so` has 0 on every axis that is summed away).
pub fn sum_into<T: Real>(dims: Dims, a: &[T], sa: Strides, out: &mut [T], so: Strides) {
    check("sum_into operand", a.len(), &dims, &sa);
    check("sum_into result", out.len(), &dims, &so);
    out.fill(T::ZERO);
    let (d, [sa, so]) = collapse(dims, [sa, so]);
    let n = d[3];
    for_each_run(&d, &[sa, so], |[ba, bo]| match (sa[3], so[3]) {
        (1, 1) => {
            for (o, &x) in out[bo..bo + n].iter_mut().zip(&a[ba..ba + n]) {
                *o = *o + x;
            }
        }
        (1, 0) => out[bo] = out[bo] + contiguous_sum(&a[ba..ba + n]),
        (_, 0) => {
            let mut acc = out[bo];
            for j in 0..n {
                acc = acc + a[ba + j * sa[3]];
            }
            out[bo] = acc;
        }
        (s, t) => {
            for j in 0..n {
                out[bo + j * t] = out[bo + j * t] + a[ba + j * s];
            }
        }
    });
}

/// The sum of a contiguous run in eight interleaved partial sums added as
/// a tree: one chain of dependent additions waits on each one's latency,
/// which made summing a convolution's adjoint over the batch and the image
/// (its bias gradient) several times slower than reading it.
fn contiguous_sum<T: Real>(v: &[T]) -> T {
    const LANES: usize = 8;
    let chunks = v.chunks_exact(LANES);
    let tail = chunks.remainder();
    let mut lanes = [T::ZERO; LANES];
    for c in chunks {
        for (l, &x) in lanes.iter_mut().zip(c) {
            *l = *l + x;
        }
    }
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for k in 0..width {
            lanes[k] = lanes[2 * k] + lanes[2 * k + 1];
        }
    }
    tail.iter().fold(lanes[0], |acc, &x| acc + x)
}

/// What a reduction computes along its axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    Sum,
    Mean,
    Max,
}

/// Reduces the middle axis of a contiguous `[outer, len, inner]` tensor `a`
/// into `out` (`[outer, inner]`).
pub fn reduce<T: Real>(
    kind: Reduction,
    outer: usize,
    len: usize,
    inner: usize,
    a: &[T],
    out: &mut [T],
    count: T,
) {
    assert!(
        a.len() >= outer * len * inner && out.len() >= outer * inner,
        "symgrad kernel: reduce over [{outer}, {len}, {inner}] with {} and {} entries",
        a.len(),
        out.len()
    );
    for o in 0..outer {
        let src = &a[o * len * inner..(o + 1) * len * inner];
        let dst = &mut out[o * inner..(o + 1) * inner];
        dst.copy_from_slice(&src[..inner]);
        for row in src.chunks_exact(inner).skip(1) {
            for (d, &x) in dst.iter_mut().zip(row) {
                *d = match kind {
                    Reduction::Max => crate::max(*d, x),
                    _ => *d + x,
                };
            }
        }
        if kind == Reduction::Mean {
            for d in dst.iter_mut() {
                *d = *d / count;
            }
        }
    }
}

/// 1 at the first largest entry along the middle axis of `[outer, len,
/// inner]`, 0 elsewhere (the route of a `max` reduction's adjoint).
pub fn argmax_mask<T: Real>(outer: usize, len: usize, inner: usize, a: &[T], out: &mut [T]) {
    let n = outer * len * inner;
    assert!(
        a.len() >= n && out.len() >= n,
        "symgrad kernel: argmax_mask sizes"
    );
    out[..n].fill(T::ZERO);
    for o in 0..outer {
        for i in 0..inner {
            let at = |j: usize| o * len * inner + j * inner + i;
            let mut best = 0;
            for j in 1..len {
                if a[at(j)] > a[at(best)] {
                    best = j;
                }
            }
            out[at(best)] = T::ONE;
        }
    }
}

/// The softmax of each row of a contiguous `[rows, cols]` tensor, shifted by
/// the row's largest entry so that nothing overflows.
pub fn softmax_rows<T: Real>(rows: usize, cols: usize, a: &[T], out: &mut [T]) {
    assert!(
        a.len() >= rows * cols && out.len() >= rows * cols,
        "symgrad kernel: softmax sizes"
    );
    let out = &mut out[..rows * cols];
    shifted_exps(cols, &a[..rows * cols], out, |_, _| {});
    for row in out.chunks_exact_mut(cols.max(1)) {
        let sum = row_sum(row);
        for d in row.iter_mut() {
            *d = *d / sum;
        }
    }
}

/// The largest entry of a row (NaN where the row has one: `crate::max`
/// propagates it).
fn row_max<T: Real>(row: &[T]) -> T {
    row.iter().fold(row[0], |m, &x| crate::max(m, x))
}

/// A row's entries added in order: the one summation of the three
/// softmax and log-sum-exp kernels, so that they agree bit for bit.
fn row_sum<T: Real>(row: &[T]) -> T {
    row.iter().fold(T::ZERO, |s, &x| s + x)
}

/// `dst = e^(src - m)` for every row of `cols` entries, `m` the row's
/// largest entry, which `max(row, m)` receives. The shifts come first and
/// the exponentials in one pass over the whole block, so that the vector
/// `exp`s of different rows overlap (a row of ten, alone, is three
/// dependent polynomials).
fn shifted_exps<T: Real>(cols: usize, src: &[T], dst: &mut [T], mut max: impl FnMut(usize, T)) {
    if cols == 0 {
        return;
    }
    for (r, (s, d)) in src
        .chunks_exact(cols)
        .zip(dst.chunks_exact_mut(cols))
        .enumerate()
    {
        let m = row_max(s);
        max(r, m);
        for (d, &x) in d.iter_mut().zip(s) {
            *d = x - m;
        }
    }
    T::exp_in_place(dst);
}

/// The softmax (into `p`) and the log-sum-exp (into `lse`) of each row of a
/// contiguous `[rows, cols]` tensor, with one `exp` per entry: the shifted
/// exponentials are the softmax's numerators and the log-sum-exp's terms.
/// Equal to [`softmax_rows`] and [`logsumexp_rows`] called one after the
/// other. Reverse mode needs both: the derivative of log-sum-exp is the
/// softmax.
pub fn softmax_logsumexp_rows<T: Real>(
    rows: usize,
    cols: usize,
    a: &[T],
    p: &mut [T],
    lse: &mut [T],
) {
    assert!(
        a.len() >= rows * cols && p.len() >= rows * cols && lse.len() >= rows,
        "symgrad kernel: softmax_logsumexp sizes"
    );
    if cols == 0 {
        lse[..rows].fill(-(T::ONE / T::ZERO));
        return;
    }
    let (a, p, lse) = (&a[..rows * cols], &mut p[..rows * cols], &mut lse[..rows]);
    // Each row's largest entry goes into `lse` until its sum is known.
    shifted_exps(cols, a, p, |r, m| lse[r] = m);
    for (row, l) in p.chunks_exact_mut(cols).zip(lse) {
        let sum = row_sum(row);
        for d in row.iter_mut() {
            *d = *d / sum;
        }
        *l = *l + sum.ln();
    }
}

/// How many entries [`logsumexp_rows`] exponentiates at a time, in a
/// buffer on the stack: whole rows while they fit, else a long row piece
/// by piece.
const EXP_BLOCK: usize = 256;

/// The log-sum-exp of each row of a contiguous `[rows, cols]` tensor.
pub fn logsumexp_rows<T: Real>(rows: usize, cols: usize, a: &[T], out: &mut [T]) {
    assert!(
        a.len() >= rows * cols && out.len() >= rows,
        "symgrad kernel: logsumexp sizes"
    );
    if cols == 0 {
        out[..rows].fill(-(T::ONE / T::ZERO));
        return;
    }
    let mut buf = [T::ZERO; EXP_BLOCK];
    let a = &a[..rows * cols];
    let out = &mut out[..rows];
    if cols <= EXP_BLOCK {
        // As many whole rows as the buffer holds, exponentiated together.
        let per_block = EXP_BLOCK / cols;
        for (src, dst) in a.chunks(per_block * cols).zip(out.chunks_mut(per_block)) {
            let b = &mut buf[..src.len()];
            // Each row's largest entry goes into `dst` until its sum is known.
            shifted_exps(cols, src, b, |r, m| dst[r] = m);
            for (e, d) in b.chunks_exact(cols).zip(dst) {
                *d = *d + row_sum(e).ln();
            }
        }
        return;
    }
    for (src, d) in a.chunks_exact(cols).zip(out) {
        // A long row: its shifted exponentials piece by piece, added in
        // order as `row_sum` adds a whole row.
        let m = row_max(src);
        let mut sum = T::ZERO;
        for c in src.chunks(EXP_BLOCK) {
            let b = &mut buf[..c.len()];
            for (b, &x) in b.iter_mut().zip(c) {
                *b = x - m;
            }
            T::exp_in_place(b);
            sum = b.iter().fold(sum, |s, &x| s + x);
        }
        *d = m + sum.ln();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zip_broadcasts_rows_and_columns() {
        // [2, 3] + [3] and [2, 1] * [2, 3]
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [10.0, 20.0, 30.0];
        let mut out = [0.0; 6];
        zip(
            [1, 1, 2, 3],
            &a,
            [0, 0, 3, 1],
            &b,
            [0, 0, 0, 1],
            &mut out,
            |x, y| x + y,
        );
        assert_eq!(out, [11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
        let col = [2.0, -1.0];
        zip(
            [1, 1, 2, 3],
            &col,
            [0, 0, 1, 0],
            &a,
            [0, 0, 3, 1],
            &mut out,
            |x, y| x * y,
        );
        assert_eq!(out, [2.0, 4.0, 6.0, -4.0, -5.0, -6.0]);
    }

    #[test]
    fn map_reads_a_transpose() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // [2, 3]
        let mut out = [0.0; 6]; // its transpose, [3, 2]
        map([1, 1, 3, 2], &a, [0, 0, 1, 3], &mut out, |x| x);
        assert_eq!(out, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }

    #[test]
    fn sigmoid_alone_has_the_bits_of_the_pairs_first_half() {
        // A dense sweep with a tail (1003 is not a multiple of the lanes),
        // the extremes and NaN; then the same through a transpose.
        let mut a: Vec<f64> = (0..1000).map(|k| (k as f64 - 500.0) * 0.0731).collect();
        a.extend([-800.0, 800.0, f64::NAN]);
        let n = a.len();
        let (mut p, mut q, mut alone) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        sigmoid_pair([1, 1, 1, n], &a, [0, 0, 0, 1], &mut p, &mut q);
        sigmoid([1, 1, 1, n], &a, [0, 0, 0, 1], &mut alone);
        for k in 0..n {
            assert_eq!(alone[k].to_bits(), p[k].to_bits(), "σ({})", a[k]);
            let exact = crate::sigmoid(a[k]);
            let ulps = (alone[k].to_bits() as i64 - exact.to_bits() as i64).abs();
            assert!(a[k].is_nan() || ulps <= 2, "σ({}): {ulps} ulp", a[k]);
        }
        let t = [1.0, 2.0, 3.0, -4.0, -5.0, 6.0]; // [2, 3], read as its [3, 2] transpose
        let mut out = [0.0; 6];
        sigmoid([1, 1, 3, 2], &t, [0, 0, 1, 3], &mut out);
        let want = [1.0, -4.0, 2.0, -5.0, 3.0, 6.0].map(crate::sigmoid);
        for k in 0..6 {
            assert!((out[k] - want[k]).abs() <= 4.0 * f64::EPSILON, "{k}");
        }
    }

    #[test]
    fn sigmoid_pair_equals_two_sigmoids() {
        let a = [-800.0, -30.0, -1.5, -0.0, 0.0, 0.25, 2.0, 40.0, 800.0];
        let (mut p, mut q) = ([0.0; 9], [0.0; 9]);
        sigmoid_pair([1, 1, 1, 9], &a, [0, 0, 0, 1], &mut p, &mut q);
        for k in 0..9 {
            assert_eq!(p[k], crate::sigmoid(a[k]), "σ({})", a[k]);
            assert_eq!(q[k], crate::sigmoid(-a[k]), "σ(-{})", a[k]);
        }
    }

    #[test]
    fn softmax_and_logsumexp_together_equal_each_alone() {
        let a = [1.0, -2.0, 0.5, 1000.0, 1000.0, -1000.0];
        let (mut p, mut l) = ([0.0; 6], [0.0; 2]);
        softmax_logsumexp_rows(2, 3, &a, &mut p, &mut l);
        let (mut p2, mut l2) = ([0.0; 6], [0.0; 2]);
        softmax_rows(2, 3, &a, &mut p2);
        logsumexp_rows(2, 3, &a, &mut l2);
        assert_eq!(p, p2);
        assert_eq!(l, l2);
    }

    #[test]
    fn softmax_rows_in_a_batch_have_the_bits_of_each_row_alone() {
        // 40 rows of 10 (more than one of logsumexp's blocks) and 3 rows of
        // 300 (longer than a block), against each row alone and against
        // the formulas in scalar code.
        for (rows, cols) in [(40, 10), (3, 300), (7, 1)] {
            let a: Vec<f64> = (0..rows * cols)
                .map(|k| ((k * 37 % 101) as f64 - 50.0) * 0.31)
                .collect();
            let (mut p, mut l) = (vec![0.0; rows * cols], vec![0.0; rows]);
            softmax_logsumexp_rows(rows, cols, &a, &mut p, &mut l);
            let mut l2 = vec![0.0; rows];
            logsumexp_rows(rows, cols, &a, &mut l2);
            assert_eq!(l, l2);
            for r in 0..rows {
                let row = &a[r * cols..(r + 1) * cols];
                let (mut pr, mut lr) = (vec![0.0; cols], [0.0]);
                softmax_logsumexp_rows(1, cols, row, &mut pr, &mut lr);
                assert_eq!(pr, p[r * cols..(r + 1) * cols]);
                assert_eq!(lr[0].to_bits(), l[r].to_bits());
                let m = row.iter().cloned().fold(f64::MIN, f64::max);
                let sum: f64 = row.iter().map(|&x| (x - m).exp()).sum();
                assert!((l[r] - (m + sum.ln())).abs() <= 1e-14 * l[r].abs().max(1.0));
                for (j, &x) in row.iter().enumerate() {
                    let want = (x - m).exp() / sum;
                    assert!((p[r * cols + j] - want).abs() <= 4e-16 * want.max(1e-300) + 1e-300);
                }
            }
        }
    }

    #[test]
    fn sum_into_undoes_broadcasting() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // [2, 3]
        let mut cols = [0.0; 3];
        sum_into([1, 1, 2, 3], &a, [0, 0, 3, 1], &mut cols, [0, 0, 0, 1]);
        assert_eq!(cols, [5.0, 7.0, 9.0]);
        let mut rows = [0.0; 2];
        sum_into([1, 1, 2, 3], &a, [0, 0, 3, 1], &mut rows, [0, 0, 1, 0]);
        assert_eq!(rows, [6.0, 15.0]);
    }

    #[test]
    fn reductions_softmax_and_matmul() {
        let a = [1.0, 5.0, 3.0, 4.0, 2.0, 6.0]; // [2, 3]
        let mut out = [0.0; 3];
        reduce(Reduction::Max, 1, 2, 3, &a, &mut out, 2.0);
        assert_eq!(out, [4.0, 5.0, 6.0]);
        reduce(Reduction::Mean, 1, 2, 3, &a, &mut out, 2.0);
        assert_eq!(out, [2.5, 3.5, 4.5]);
        let mut mask = [0.0; 6];
        argmax_mask(2, 3, 1, &a, &mut mask);
        assert_eq!(mask, [0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
        let mut s = [0.0; 6];
        softmax_rows(2, 3, &[1000.0, 1000.0, 1000.0, 0.0, 0.0, 0.0], &mut s);
        assert!(s.iter().all(|&p| (p - 1.0 / 3.0).abs() < 1e-15));
        // [2, 3] @ [3, 2] with b read as the transpose of a [2, 3] matrix.
        let b = [1.0, 0.0, 1.0, 0.0, 1.0, 1.0];
        let mut c = [0.0; 4];
        matmul(2, 3, 2, &a, [3, 1], &b, [1, 3], &mut c, [2, 1]);
        assert_eq!(c, [4.0, 8.0, 10.0, 8.0]);
        // The same product written transposed.
        matmul(2, 3, 2, &a, [3, 1], &b, [1, 3], &mut c, [1, 2]);
        assert_eq!(c, [4.0, 10.0, 8.0, 8.0]);
        let mut f = [0.0f32; 4];
        let af: Vec<f32> = a.iter().map(|&x| x as f32).collect();
        let bf: Vec<f32> = b.iter().map(|&x| x as f32).collect();
        matmul(2, 3, 2, &af, [3, 1], &bf, [1, 3], &mut f, [2, 1]);
        assert_eq!(f, [4.0, 8.0, 10.0, 8.0]);
    }
}

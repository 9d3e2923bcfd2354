//! Two-dimensional convolution and pooling over NCHW tensors, written as
//! direct loops: the reference the tensor interpreter runs, and the
//! definition the faster plans are checked against.
//!
//! Shapes: an image batch is `n` samples of `[C, H, W]` (any leading axes
//! multiply into `n`), a kernel `[F, C, kh, kw]`, the result `[F, Ho, Wo]`
//! per sample with `Ho = (H + 2p - kh)/s + 1` (PyTorch's `Conv2d`: a
//! cross-correlation with zero padding `p` and stride `s`). Pooling works
//! on the last two axes in k×k windows with stride k; rows and columns that
//! do not fill a window are dropped, as in PyTorch.
//!
//! The two backward products of a convolution are kernels of their own:
//! [`conv2d_input_grad`] (the transposed convolution, `∂/∂x` of `⟨w,
//! conv2d(x, K)⟩`) and [`conv2d_kernel_grad`] (`∂/∂K`, summed over the
//! samples). Each is linear in both operands, so the three are closed under
//! differentiation, which the rule table relies on.
//!
//! The convolutions run as matrix products over the unfolded input
//! ("im2col", in [`unfold`]), through [`crate::matmul::matmul`], with their
//! intermediates in a scratch vector the caller keeps ([`run_in`]); the
//! direct loops (`*_direct`) are the definition they are tested against. Generic over
//! [`crate::matmul::Gemm`] (`f32` and `f64`), so that `network!`'s `f32`
//! structs run them too.

use crate::matmul::Gemm;
use crate::Real;

pub mod unfold;
pub mod winograd;
pub mod winograd_nhwc;

pub use unfold::{conv2d_input_grad_unfolded, conv2d_kernel_grad_unfolded, conv2d_unfolded};

/// The geometry of one convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    /// Samples (the product of the leading axes).
    pub n: usize,
    /// Input channels, height and width.
    pub c: usize,
    pub h: usize,
    pub w: usize,
    /// Filters (output channels) and the kernel's height and width.
    pub f: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: usize,
    pub padding: usize,
}

impl ConvShape {
    /// The output's height and width. The caller has checked that the
    /// kernel fits: `kh <= h + 2p`, `kw <= w + 2p`, `stride >= 1`.
    pub fn out_hw(&self) -> (usize, usize) {
        (
            (self.h + 2 * self.padding - self.kh) / self.stride + 1,
            (self.w + 2 * self.padding - self.kw) / self.stride + 1,
        )
    }

    /// Per sample: the input's entries, the kernel's entries per filter
    /// (`C·kh·kw`, one unfolded column), the output's entries, and the
    /// output positions `Ho·Wo`.
    fn sizes(&self) -> (usize, usize, usize, usize) {
        let (ho, wo) = self.out_hw();
        let ck = self.c * self.kh * self.kw;
        (self.c * self.h * self.w, ck, self.f * ho * wo, ho * wo)
    }

    /// The input row (or column) that output position `o` and kernel offset
    /// `k` read, if it is inside the image rather than in the padding.
    #[inline]
    fn source(&self, o: usize, k: usize, len: usize) -> Option<usize> {
        (o * self.stride + k)
            .checked_sub(self.padding)
            .filter(|&i| i < len)
    }
}

/// `out[n, f, oi, oj] = Σ_{c, p, q} x[n, c, oi·s + p - pad, oj·s + q - pad] ·
/// K[f, c, p, q]`, zero outside the image.
pub fn conv2d_direct<T: Real>(g: &ConvShape, x: &[T], k: &[T], out: &mut [T]) {
    let (ho, wo) = g.out_hw();
    let (xs, ks, os) = (g.c * g.h * g.w, g.c * g.kh * g.kw, g.f * ho * wo);
    assert!(x.len() == g.n * xs && k.len() == g.f * ks && out.len() == g.n * os);
    out.fill(T::ZERO);
    for n in 0..g.n {
        let (x, out) = (&x[n * xs..][..xs], &mut out[n * os..][..os]);
        for f in 0..g.f {
            for c in 0..g.c {
                for p in 0..g.kh {
                    for q in 0..g.kw {
                        let kv = k[((f * g.c + c) * g.kh + p) * g.kw + q];
                        for oi in 0..ho {
                            let Some(i) = g.source(oi, p, g.h) else {
                                continue;
                            };
                            let row = &x[(c * g.h + i) * g.w..][..g.w];
                            let orow = &mut out[(f * ho + oi) * wo..][..wo];
                            for (oj, o) in orow.iter_mut().enumerate() {
                                if let Some(j) = g.source(oj, q, g.w) {
                                    *o = *o + row[j] * kv;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The transposed convolution: `dx[n, c, i, j] = Σ w[n, f, oi, oj] ·
/// K[f, c, p, q]` over every `(f, oi, oj, p, q)` with `oi·s + p - pad = i`
/// and `oj·s + q - pad = j`. `w` is `[n, F, Ho, Wo]`, `dx` `[n, C, H, W]`.
pub fn conv2d_input_grad_direct<T: Real>(g: &ConvShape, w: &[T], k: &[T], dx: &mut [T]) {
    let (ho, wo) = g.out_hw();
    let (xs, ks, os) = (g.c * g.h * g.w, g.c * g.kh * g.kw, g.f * ho * wo);
    assert!(dx.len() == g.n * xs && k.len() == g.f * ks && w.len() == g.n * os);
    dx.fill(T::ZERO);
    for n in 0..g.n {
        let (w, dx) = (&w[n * os..][..os], &mut dx[n * xs..][..xs]);
        for f in 0..g.f {
            for c in 0..g.c {
                for p in 0..g.kh {
                    for q in 0..g.kw {
                        let kv = k[((f * g.c + c) * g.kh + p) * g.kw + q];
                        for oi in 0..ho {
                            let Some(i) = g.source(oi, p, g.h) else {
                                continue;
                            };
                            let wrow = &w[(f * ho + oi) * wo..][..wo];
                            let drow = &mut dx[(c * g.h + i) * g.w..][..g.w];
                            for (oj, &wv) in wrow.iter().enumerate() {
                                if let Some(j) = g.source(oj, q, g.w) {
                                    drow[j] = drow[j] + wv * kv;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The kernel's gradient, summed over the samples: `dK[f, c, p, q] =
/// Σ_{n, oi, oj} w[n, f, oi, oj] · x[n, c, oi·s + p - pad, oj·s + q - pad]`.
pub fn conv2d_kernel_grad_direct<T: Real>(g: &ConvShape, x: &[T], w: &[T], dk: &mut [T]) {
    let (ho, wo) = g.out_hw();
    let (xs, ks, os) = (g.c * g.h * g.w, g.c * g.kh * g.kw, g.f * ho * wo);
    assert!(x.len() == g.n * xs && dk.len() == g.f * ks && w.len() == g.n * os);
    dk.fill(T::ZERO);
    for n in 0..g.n {
        let (x, w) = (&x[n * xs..][..xs], &w[n * os..][..os]);
        for f in 0..g.f {
            for c in 0..g.c {
                for p in 0..g.kh {
                    for q in 0..g.kw {
                        let mut acc = T::ZERO;
                        for oi in 0..ho {
                            let Some(i) = g.source(oi, p, g.h) else {
                                continue;
                            };
                            let row = &x[(c * g.h + i) * g.w..][..g.w];
                            let wrow = &w[(f * ho + oi) * wo..][..wo];
                            for (oj, &wv) in wrow.iter().enumerate() {
                                if let Some(j) = g.source(oj, q, g.w) {
                                    acc = acc + wv * row[j];
                                }
                            }
                        }
                        let at = ((f * g.c + c) * g.kh + p) * g.kw + q;
                        dk[at] = dk[at] + acc;
                    }
                }
            }
        }
    }
}

/// The algorithms the convolution kernels choose between (measured in
/// `benches/conv.rs`; see [`ConvShape::algorithm`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// Winograd's F(2×2, 3×3) with the channels innermost
    /// ([`winograd_nhwc`]): 3×3 "same" convolutions of at least 8 channels
    /// and filters on images of at most 16×16.
    WinogradChannelsLast,
    /// Winograd's F(2×2, 3×3) over rows of tiles ([`winograd`]): the larger
    /// images, with channels enough to pay for the transforms.
    Winograd,
    /// Products over the unfolded input ([`unfold`]): everything else.
    Unfolded,
}

impl ConvShape {
    /// The algorithm the kernels run for this geometry.
    pub fn algorithm(&self) -> Algorithm {
        if winograd_nhwc::applies(self) {
            Algorithm::WinogradChannelsLast
        } else if winograd::applies(self) {
            Algorithm::Winograd
        } else {
            Algorithm::Unfolded
        }
    }

    /// The algorithm of the input gradient, which is [`Self::algorithm`]'s
    /// except that the channels-last Winograd leaves layers with more
    /// filters than channels to the unfolded product: its input gradient
    /// transforms the adjoint's `F` channels to produce `C`, and on the
    /// digits network's 16 → 32 layer took 1.2 times the unfolded
    /// product's time (596 against 498 µs, medians of 8 interleaved runs of
    /// 300 calls, 3 December 2026), about equal at 16 → 16 and 16 → 64 and
    /// faster at 32 → 32 (751 against 832 µs).
    pub fn input_grad_algorithm(&self) -> Algorithm {
        match self.algorithm() {
            Algorithm::WinogradChannelsLast if self.c < self.f => Algorithm::Unfolded,
            other => other,
        }
    }

    /// The scratch entries [`conv2d_in`], [`conv2d_input_grad_in`] and
    /// [`conv2d_kernel_grad_in`] use for this geometry (the most of the
    /// three), so that a plan can size its scratch once.
    pub fn scratch_len(&self) -> usize {
        let of = |a: Algorithm| match a {
            Algorithm::WinogradChannelsLast => winograd_nhwc::scratch_len(self),
            Algorithm::Winograd => winograd::scratch_len(self),
            Algorithm::Unfolded => self.unfolded_scratch_len(),
        };
        of(self.algorithm()).max(of(self.input_grad_algorithm()))
    }
}

/// The convolution of `x` by `k` into `out`, intermediates in `scratch`
/// (grown to [`ConvShape::scratch_len`] on the first call), by the
/// geometry's [`Algorithm`].
pub fn conv2d_in<T: Gemm>(g: &ConvShape, x: &[T], k: &[T], out: &mut [T], scratch: &mut Vec<T>) {
    match g.algorithm() {
        Algorithm::WinogradChannelsLast => winograd_nhwc::conv2d(g, x, k, out, scratch),
        Algorithm::Winograd => winograd::conv2d(g, x, k, out, scratch),
        Algorithm::Unfolded => conv2d_unfolded(g, x, k, out, scratch),
    }
}

/// The input gradient, by [`ConvShape::input_grad_algorithm`].
pub fn conv2d_input_grad_in<T: Gemm>(
    g: &ConvShape,
    w: &[T],
    k: &[T],
    dx: &mut [T],
    scratch: &mut Vec<T>,
) {
    match g.input_grad_algorithm() {
        Algorithm::WinogradChannelsLast => winograd_nhwc::conv2d_input_grad(g, w, k, dx, scratch),
        Algorithm::Winograd => winograd::conv2d_input_grad(g, w, k, dx, scratch),
        Algorithm::Unfolded => conv2d_input_grad_unfolded(g, w, k, dx, scratch),
    }
}

/// The kernel gradient, by the algorithm [`conv2d_in`] chooses.
pub fn conv2d_kernel_grad_in<T: Gemm>(
    g: &ConvShape,
    x: &[T],
    w: &[T],
    dk: &mut [T],
    scratch: &mut Vec<T>,
) {
    match g.algorithm() {
        Algorithm::WinogradChannelsLast => winograd_nhwc::conv2d_kernel_grad(g, x, w, dk, scratch),
        Algorithm::Winograd => winograd::conv2d_kernel_grad(g, x, w, dk, scratch),
        Algorithm::Unfolded => conv2d_kernel_grad_unfolded(g, x, w, dk, scratch),
    }
}

/// [`conv2d_in`] with a scratch vector of its own (allocated per call: for
/// one-off evaluations; plans keep theirs).
pub fn conv2d<T: Gemm>(g: &ConvShape, x: &[T], k: &[T], out: &mut [T]) {
    conv2d_in(g, x, k, out, &mut Vec::new());
}

/// [`conv2d_input_grad_in`] with a scratch vector of its own.
pub fn conv2d_input_grad<T: Gemm>(g: &ConvShape, w: &[T], k: &[T], dx: &mut [T]) {
    conv2d_input_grad_in(g, w, k, dx, &mut Vec::new());
}

/// [`conv2d_kernel_grad_in`] with a scratch vector of its own.
pub fn conv2d_kernel_grad<T: Gemm>(g: &ConvShape, x: &[T], w: &[T], dk: &mut [T]) {
    conv2d_kernel_grad_in(g, x, w, dk, &mut Vec::new());
}

/// The geometry of a pooling: `planes` images of `h × w`, windows of
/// `k × k` with stride `k`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolShape {
    pub planes: usize,
    pub h: usize,
    pub w: usize,
    pub k: usize,
}

impl PoolShape {
    /// The pooled height and width (remainders dropped).
    pub fn out_hw(&self) -> (usize, usize) {
        (self.h / self.k, self.w / self.k)
    }

    /// Calls `visit(o, top_left)` for every window: `o` is the pooled
    /// entry's flat index, `top_left` the flat index into the input of the
    /// window's first entry; the window's rows start `w` apart. (A closure
    /// per window rather than a list of its entries: pooling runs once per
    /// pooled entry of every batch, and building the list cost more than
    /// the comparisons.)
    #[inline(always)]
    fn windows(&self, mut visit: impl FnMut(usize, usize)) {
        let (ho, wo) = self.out_hw();
        for plane in 0..self.planes {
            for oi in 0..ho {
                let row = (plane * self.h + oi * self.k) * self.w;
                let o = (plane * ho + oi) * wo;
                for oj in 0..wo {
                    visit(o + oj, row + oj * self.k);
                }
            }
        }
    }

    /// The first largest entry of the window at `top_left` (row-major
    /// order), or its first NaN (so that NaN propagates as through `max`).
    #[inline(always)]
    fn argmax<T: Real>(&self, x: &[T], top_left: usize) -> usize {
        let mut best = top_left;
        let mut best_v = x[best];
        for p in 0..self.k {
            let start = top_left + p * self.w;
            for (q, &v) in x[start..start + self.k].iter().enumerate() {
                if v.is_nan() {
                    return start + q;
                }
                if v > best_v {
                    best = start + q;
                    best_v = v;
                }
            }
        }
        best
    }
}

/// The first largest of a 2×2 window's entries `[a, b, c, d]` (row-major)
/// or its first NaN, the value [`PoolShape::argmax`] picks, by selects
/// rather than an index (max pooling's forward pass needs only the value).
#[inline(always)]
fn window_max_2x2<T: Real>([a, b, c, d]: [T; 4]) -> T {
    // `take`: x replaces the best so far, unless that is already a NaN.
    let take = |best: T, x: T| !best.is_nan() & ((x > best) | x.is_nan());
    let ab = if take(a, b) { b } else { a };
    let abc = if take(ab, c) { c } else { ab };
    if take(abc, d) {
        d
    } else {
        abc
    }
}

/// Calls `visit(o, e)` with each window's pooled index and the flat index
/// of its [`PoolShape::argmax`]. 2×2 windows (the common pooling) take
/// their two rows as slices, checked once per row of windows rather than
/// once per entry.
#[inline(always)]
fn each_argmax<T: Real>(g: &PoolShape, x: &[T], mut visit: impl FnMut(usize, usize)) {
    if g.k != 2 {
        g.windows(|o, at| visit(o, g.argmax(x, at)));
        return;
    }
    let (ho, wo) = g.out_hw();
    for plane in 0..g.planes {
        for oi in 0..ho {
            let r0 = (plane * g.h + 2 * oi) * g.w;
            let (top, bottom) = (&x[r0..][..2 * wo], &x[r0 + g.w..][..2 * wo]);
            let o = (plane * ho + oi) * wo;
            for oj in 0..wo {
                let j = 2 * oj;
                let (a, b, c, d) = (top[j], top[j + 1], bottom[j], bottom[j + 1]);
                let best = if (a + b + c + d).is_nan() {
                    // A NaN (or infinities of both signs): the general
                    // walk, which returns the first NaN.
                    g.argmax(x, r0 + j) - r0
                } else {
                    // The first largest in row-major order, without
                    // branches on the data.
                    let (mut best, mut best_v) = (j, a);
                    for (v, e) in [(b, j + 1), (c, g.w + j), (d, g.w + j + 1)] {
                        let more = v > best_v;
                        best = if more { e } else { best };
                        best_v = if more { v } else { best_v };
                    }
                    best
                };
                visit(o + oj, r0 + best);
            }
        }
    }
}

/// The largest entry of each window (its first NaN if it has one).
pub fn max_pool<T: Real>(g: &PoolShape, x: &[T], out: &mut [T]) {
    if g.k != 2 {
        each_argmax(g, x, |o, e| out[o] = x[e]);
        return;
    }
    // Each row of windows reads its two image rows as slices, checked once.
    let (ho, wo) = g.out_hw();
    for plane in 0..g.planes {
        for oi in 0..ho {
            let r0 = (plane * g.h + 2 * oi) * g.w;
            let (top, bottom) = (&x[r0..][..2 * wo], &x[r0 + g.w..][..2 * wo]);
            let o = (plane * ho + oi) * wo;
            let windows = top.chunks_exact(2).zip(bottom.chunks_exact(2));
            for (r, (t, b)) in out[o..][..wo].iter_mut().zip(windows) {
                *r = window_max_2x2([t[0], t[1], b[0], b[1]]);
            }
        }
    }
}

/// 1 at the first largest entry of each window, 0 elsewhere (also in the
/// rows and columns no window covers): the route of max pooling's adjoint.
pub fn max_pool_mask<T: Real>(g: &PoolShape, x: &[T], out: &mut [T]) {
    out.fill(T::ZERO);
    each_argmax(g, x, |_, e| out[e] = T::ONE);
}

/// Max pooling's adjoint in one pass: each entry of `dy` (the pooled
/// shape) written at its window's first largest entry of `x`, 0 elsewhere.
/// It is `max_pool_mask(x) · upsample(dy)` (which the graph and the
/// reference evaluator compute) without the two image-sized intermediates;
/// the plans fuse that product into it. The one difference: a non-finite
/// entry of `dy` stays in its window's argmax, where the product would also
/// spread `0 · ∞ = NaN` over the rest of the window.
pub fn max_pool_adjoint<T: Real>(g: &PoolShape, x: &[T], dy: &[T], out: &mut [T]) {
    let (ho, wo) = g.out_hw();
    assert!(
        x.len() == out.len() && dy.len() == g.planes * ho * wo,
        "symgrad kernel: max pooling's adjoint with {} image, {} pooled and {} result entries",
        x.len(),
        dy.len(),
        out.len()
    );
    out.fill(T::ZERO);
    each_argmax(g, x, |o, e| out[e] = dy[o]);
}

/// The sum of each window in row-major order (average pooling divides it
/// by k²).
pub fn sum_pool<T: Real>(g: &PoolShape, x: &[T], out: &mut [T]) {
    g.windows(|o, at| {
        let mut acc = T::ZERO;
        for p in 0..g.k {
            let start = at + p * g.w;
            for &v in &x[start..start + g.k] {
                acc = acc + v;
            }
        }
        out[o] = acc;
    });
}

/// Each pooled entry repeated over its window, 0 where no window reaches:
/// the adjoint of [`sum_pool`]. `a` has the pooled shape, `out` the image's.
pub fn upsample<T: Real>(g: &PoolShape, a: &[T], out: &mut [T]) {
    out.fill(T::ZERO);
    if g.k == 2 {
        // Two output rows per row of windows, as slices: no per-window
        // bounds checks or calls.
        let (ho, wo) = g.out_hw();
        for plane in 0..g.planes {
            for oi in 0..ho {
                let r0 = (plane * g.h + 2 * oi) * g.w;
                let src = &a[(plane * ho + oi) * wo..][..wo];
                let (top, bottom) = out[r0..r0 + 2 * g.w].split_at_mut(g.w);
                for (oj, &v) in src.iter().enumerate() {
                    top[2 * oj] = v;
                    top[2 * oj + 1] = v;
                    bottom[2 * oj] = v;
                    bottom[2 * oj + 1] = v;
                }
            }
        }
        return;
    }
    g.windows(|o, at| {
        for p in 0..g.k {
            let start = at + p * g.w;
            out[start..start + g.k].fill(a[o]);
        }
    });
}

/// `out[o, i] = a[o, at, i]` for `a` `[outer, len, inner]`: the slice at
/// `at` along the middle axis.
pub fn select<T: Real>(outer: usize, len: usize, inner: usize, at: usize, a: &[T], out: &mut [T]) {
    for o in 0..outer {
        out[o * inner..][..inner].copy_from_slice(&a[(o * len + at) * inner..][..inner]);
    }
}

/// `out[o, at, i] = a[o, i]` and 0 elsewhere: the adjoint of [`select`].
pub fn embed<T: Real>(outer: usize, len: usize, inner: usize, at: usize, a: &[T], out: &mut [T]) {
    out.fill(T::ZERO);
    for o in 0..outer {
        out[(o * len + at) * inner..][..inner].copy_from_slice(&a[o * inner..][..inner]);
    }
}

/// One of the operations above with its per-sample geometry: what an
/// evaluation plan's image instruction runs. The sample count (`n` of a
/// convolution, `planes` of a pooling, the outer count of a slice) is given
/// to [`run`], since it depends on the batch size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageOp {
    Conv2d(ConvShape),
    Conv2dInputGrad(ConvShape),
    Conv2dKernelGrad(ConvShape),
    MaxPool(PoolShape),
    MaxPoolMask(PoolShape),
    /// [`max_pool_adjoint`]: `a` the image, `b` the pooled adjoint.
    MaxPoolAdjoint(PoolShape),
    SumPool(PoolShape),
    Upsample(PoolShape),
    /// The slice at `at` of a `[samples, len, inner]` tensor.
    Select {
        len: usize,
        inner: usize,
        at: usize,
    },
    /// The adjoint of `Select`.
    Embed {
        len: usize,
        inner: usize,
        at: usize,
    },
}

impl ImageOp {
    /// The scratch entries [`run_in`] needs for `op` on `samples` samples
    /// (0 for all but the convolutions), so that a plan can reserve the
    /// most any of its instructions needs once for its batch size.
    pub fn scratch_len(&self, samples: usize) -> usize {
        match *self {
            ImageOp::Conv2d(g) | ImageOp::Conv2dInputGrad(g) | ImageOp::Conv2dKernelGrad(g) => {
                ConvShape { n: samples, ..g }.scratch_len()
            }
            _ => 0,
        }
    }
}

/// [`run_in`] with a scratch vector of its own (allocated per call).
///
/// # Panics
/// As [`run_in`].
pub fn run<T: Gemm>(op: ImageOp, samples: usize, a: &[T], b: Option<&[T]>, out: &mut [T]) {
    run_in(op, samples, a, b, out, &mut Vec::new());
}

/// Runs `op` on `samples` samples: `a`, then `b` for the two-operand
/// convolutions, into `out`, with the convolutions' intermediates in
/// `scratch`, which grows to [`ImageOp::scratch_len`] if it is shorter and
/// is otherwise reused as it is: a plan that keeps one scratch vector for
/// all its instructions allocates nothing after its first run.
///
/// # Panics
/// When a slice does not have the geometry's size, or `b` is missing for a
/// convolution (a bug in the plan that calls it).
pub fn run_in<T: Gemm>(
    op: ImageOp,
    samples: usize,
    a: &[T],
    b: Option<&[T]>,
    out: &mut [T],
    scratch: &mut Vec<T>,
) {
    let second = || b.expect("a convolution has two operands");
    match op {
        ImageOp::Conv2d(g) => conv2d_in(&ConvShape { n: samples, ..g }, a, second(), out, scratch),
        ImageOp::Conv2dInputGrad(g) => {
            conv2d_input_grad_in(&ConvShape { n: samples, ..g }, a, second(), out, scratch)
        }
        ImageOp::Conv2dKernelGrad(g) => {
            conv2d_kernel_grad_in(&ConvShape { n: samples, ..g }, a, second(), out, scratch)
        }
        ImageOp::MaxPool(g) => max_pool(
            &PoolShape {
                planes: samples,
                ..g
            },
            a,
            out,
        ),
        ImageOp::MaxPoolMask(g) => max_pool_mask(
            &PoolShape {
                planes: samples,
                ..g
            },
            a,
            out,
        ),
        ImageOp::MaxPoolAdjoint(g) => max_pool_adjoint(
            &PoolShape {
                planes: samples,
                ..g
            },
            a,
            b.expect("max pooling's adjoint has two operands"),
            out,
        ),
        ImageOp::SumPool(g) => sum_pool(
            &PoolShape {
                planes: samples,
                ..g
            },
            a,
            out,
        ),
        ImageOp::Upsample(g) => upsample(
            &PoolShape {
                planes: samples,
                ..g
            },
            a,
            out,
        ),
        ImageOp::Select { len, inner, at } => select(samples, len, inner, at, a, out),
        ImageOp::Embed { len, inner, at } => embed(samples, len, inner, at, a, out),
    }
}

/// What the convolution tests of this module and its children share.
#[cfg(test)]
mod testing {
    use super::*;

    /// `n` pseudo-random values in [-1, 1).
    pub fn lcg(seed: u64, n: usize) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect()
    }

    /// Entrywise within 1e-10.
    pub fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(p, q)| (p - q).abs() < 1e-10)
    }

    /// A forward product, input gradient or kernel gradient with its
    /// scratch vector.
    pub type Product = fn(&ConvShape, &[f64], &[f64], &mut [f64], &mut Vec<f64>);

    /// A 3×3 convolution with stride 1 and padding 1 (the Winograd
    /// modules' geometry): `n` samples of `c × h × w`, `f` filters.
    pub fn geometry(n: usize, c: usize, h: usize, w: usize, f: usize) -> ConvShape {
        ConvShape {
            n,
            c,
            h,
            w,
            f,
            kh: 3,
            kw: 3,
            stride: 1,
            padding: 1,
        }
    }

    /// [`Product`] in `f32`.
    pub type Product32 = fn(&ConvShape, &[f32], &[f32], &mut [f32], &mut Vec<f32>);

    /// `products` in `f32` (`network!`'s `f32` structs) against the `f64`
    /// direct loops, to `f32`'s precision.
    pub fn agree_in_f32(g: ConvShape, products: [Product32; 3]) {
        let [forward, input_grad, kernel_grad] = products;
        let (ho, wo) = g.out_hw();
        let x = lcg(6, g.n * g.c * g.h * g.w);
        let k = lcg(7, g.f * g.c * g.kh * g.kw);
        let w = lcg(8, g.n * g.f * ho * wo);
        let narrow = |v: &[f64]| v.iter().map(|&e| e as f32).collect::<Vec<f32>>();
        let (x32, k32, w32) = (narrow(&x), narrow(&k), narrow(&w));
        let near = |a: &[f32], b: &[f64]| {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(&p, &q)| (f64::from(p) - q).abs() < 1e-4)
        };
        let mut scratch = Vec::new();
        let (mut y, mut want) = (vec![0.0f32; w.len()], vec![0.0; w.len()]);
        forward(&g, &x32, &k32, &mut y, &mut scratch);
        conv2d_direct(&g, &x, &k, &mut want);
        assert!(near(&y, &want), "forward {g:?}");
        let (mut d, mut want) = (vec![0.0f32; x.len()], vec![0.0; x.len()]);
        input_grad(&g, &w32, &k32, &mut d, &mut scratch);
        conv2d_input_grad_direct(&g, &w, &k, &mut want);
        assert!(near(&d, &want), "input gradient {g:?}");
        let (mut dk, mut want) = (vec![0.0f32; k.len()], vec![0.0; k.len()]);
        kernel_grad(&g, &x32, &w32, &mut dk, &mut scratch);
        conv2d_kernel_grad_direct(&g, &x, &w, &mut want);
        assert!(near(&dk, &want), "kernel gradient {g:?}");
    }

    /// `products` (forward, input gradient, kernel gradient) against the
    /// direct loops, run twice over one scratch vector that starts full of
    /// NaN (scratch is reused without clearing, so every entry read must
    /// have been written first), which must end at `scratch_len` entries;
    /// the results start as NaN too, so each must be written whole.
    pub fn agree_with(g: ConvShape, scratch_len: usize, products: [Product; 3]) {
        let [forward, input_grad, kernel_grad] = products;
        let (ho, wo) = g.out_hw();
        let x = lcg(1, g.n * g.c * g.h * g.w);
        let k = lcg(2, g.f * g.c * g.kh * g.kw);
        let w = lcg(3, g.n * g.f * ho * wo);
        let mut scratch = vec![f64::NAN; 7];
        for _ in 0..2 {
            let (mut y1, mut y2) = (vec![f64::NAN; w.len()], vec![0.0; w.len()]);
            forward(&g, &x, &k, &mut y1, &mut scratch);
            conv2d_direct(&g, &x, &k, &mut y2);
            assert!(close(&y1, &y2), "forward {g:?}");
            let (mut d1, mut d2) = (vec![f64::NAN; x.len()], vec![0.0; x.len()]);
            input_grad(&g, &w, &k, &mut d1, &mut scratch);
            conv2d_input_grad_direct(&g, &w, &k, &mut d2);
            assert!(close(&d1, &d2), "input gradient {g:?}");
            let (mut k1, mut k2) = (vec![f64::NAN; k.len()], vec![0.0; k.len()]);
            kernel_grad(&g, &x, &w, &mut k1, &mut scratch);
            conv2d_kernel_grad_direct(&g, &x, &w, &mut k2);
            assert!(close(&k1, &k2), "kernel gradient {g:?}");
            assert_eq!(scratch.len(), scratch_len.max(7), "{g:?}");
            scratch.fill(f64::NAN);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::lcg;
    use super::*;

    /// A 3×2 kernel geometry of `[n, c, f]` with random input, kernel and
    /// output adjoint.
    fn case(
        [n, c, f]: [usize; 3],
        stride: usize,
        padding: usize,
        h: usize,
        w: usize,
    ) -> (ConvShape, Vec<f64>, Vec<f64>, Vec<f64>) {
        let g = ConvShape {
            n,
            c,
            h,
            w,
            f,
            kh: 3,
            kw: 2,
            stride,
            padding,
        };
        let (ho, wo) = g.out_hw();
        let seed = (n * 7 + c) as u64;
        let x = lcg(seed, n * c * h * w);
        let k = lcg(seed + 1, f * c * g.kh * g.kw);
        let wv = lcg(seed + 2, n * f * ho * wo);
        (g, x, k, wv)
    }

    /// Adjointness: ⟨w, conv(x, K)⟩ = ⟨input_grad(w, K), x⟩ = ⟨kernel_grad(x, w), K⟩
    /// for strides, paddings and non-square shapes. An independent check of
    /// the index arithmetic of all three loops.
    #[test]
    fn the_backward_products_are_the_adjoints() {
        for (stride, padding, h, w) in [(1, 0, 5, 4), (2, 1, 7, 6), (3, 2, 5, 5), (1, 1, 3, 3)] {
            let (g, x, k, wv) = case([2, 3, 2], stride, padding, h, w);
            let mut y = vec![0.0; wv.len()];
            conv2d(&g, &x, &k, &mut y);
            let mut dx = vec![0.0; x.len()];
            conv2d_input_grad(&g, &wv, &k, &mut dx);
            let mut dk = vec![0.0; k.len()];
            conv2d_kernel_grad(&g, &x, &wv, &mut dk);
            let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
            let (a, b, c) = (dot(&wv, &y), dot(&dx, &x), dot(&dk, &k));
            assert!(
                (a - b).abs() < 1e-12 && (a - c).abs() < 1e-12,
                "{a} {b} {c}"
            );
        }
    }

    /// The products over unfolded columns give the direct loops' results.
    #[test]
    fn the_im2col_products_equal_the_direct_loops() {
        for (stride, padding, h, w) in [(1, 0, 5, 4), (2, 1, 7, 6), (3, 2, 5, 5), (1, 1, 8, 8)] {
            let (g, x, k, wv) = case([3, 2, 4], stride, padding, h, w);
            let close = |a: &[f64], b: &[f64]| {
                a.len() == b.len() && a.iter().zip(b).all(|(p, q)| (p - q).abs() < 1e-12)
            };
            let (mut y1, mut y2) = (vec![0.0; wv.len()], vec![0.0; wv.len()]);
            conv2d(&g, &x, &k, &mut y1);
            conv2d_direct(&g, &x, &k, &mut y2);
            assert!(
                close(&y1, &y2),
                "forward, stride {stride} padding {padding}"
            );
            let (mut d1, mut d2) = (vec![0.0; x.len()], vec![0.0; x.len()]);
            conv2d_input_grad(&g, &wv, &k, &mut d1);
            conv2d_input_grad_direct(&g, &wv, &k, &mut d2);
            assert!(close(&d1, &d2), "input gradient");
            let (mut k1, mut k2) = (vec![0.0; k.len()], vec![0.0; k.len()]);
            conv2d_kernel_grad(&g, &x, &wv, &mut k1);
            conv2d_kernel_grad_direct(&g, &x, &wv, &mut k2);
            assert!(close(&k1, &k2), "kernel gradient");
        }
    }

    #[test]
    fn a_convolution_by_hand() {
        // 1 channel, 3x3 image, 2x2 kernel, padding 1, stride 2: out 2x2.
        let g = ConvShape {
            n: 1,
            c: 1,
            h: 3,
            w: 3,
            f: 1,
            kh: 2,
            kw: 2,
            stride: 2,
            padding: 1,
        };
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
        let k = [1.0, 10.0, 100.0, 1000.0];
        let mut out = [0.0; 4];
        conv2d(&g, &x, &k, &mut out);
        // Window at (-1,-1): only x[0,0] under K[1,1]; (-1,1): x[0,1]·K[1,0] +
        // x[0,2]·K[1,1]; (1,-1): x[1,0]·K[0,1] + x[2,0]·K[1,1]; (1,1): all four.
        assert_eq!(
            out,
            [
                1000.0,
                200.0 + 3000.0,
                40.0 + 7000.0,
                5.0 + 60.0 + 800.0 + 9000.0
            ]
        );
    }

    #[test]
    fn pooling_by_hand() {
        // One 4x5 plane, 2x2 windows: the last column is dropped.
        let g = PoolShape {
            planes: 1,
            h: 4,
            w: 5,
            k: 2,
        };
        #[rustfmt::skip]
        let x = [
            1.0, 3.0, 2.0, 2.0, 9.0,
            3.0, 0.0, 1.0, 2.0, 9.0,
            -1.0, -2.0, 5.0, 4.0, 9.0,
            -3.0, -4.0, 6.0, 7.0, 9.0,
        ];
        let mut m = [0.0; 4];
        max_pool(&g, &x, &mut m);
        assert_eq!(m, [3.0, 2.0, -1.0, 7.0]);
        let mut mask = [0.0; 20];
        max_pool_mask(&g, &x, &mut mask);
        // Ties go to the first largest entry: 3 at (0,1) before (1,0); 2 at (0,2) before (0,3), (1,3).
        let ones: Vec<usize> = (0..20).filter(|&e| mask[e] == 1.0).collect();
        assert_eq!(ones, vec![1, 2, 10, 18]);
        // The first NaN of a window wins, wherever it is.
        let mut xn = x;
        xn[11] = f64::NAN;
        xn[12] = 100.0;
        max_pool(&g, &xn, &mut m);
        assert!(m[2].is_nan() && m[3] == 100.0, "{m:?}");
        max_pool_mask(&g, &xn, &mut mask);
        let ones: Vec<usize> = (0..20).filter(|&e| mask[e] == 1.0).collect();
        assert_eq!(ones, vec![1, 2, 11, 12]);
        // Infinities of both signs in one window: still the largest.
        let mut xi = x;
        xi[0] = f64::NEG_INFINITY;
        xi[6] = f64::INFINITY;
        max_pool(&g, &xi, &mut m);
        assert_eq!(m, [f64::INFINITY, 2.0, -1.0, 7.0]);
        // 3x3 windows go through the general walk: one window of 4x5.
        let g3 = PoolShape { k: 3, ..g };
        let mut m3 = [0.0; 1];
        max_pool(&g3, &x, &mut m3);
        assert_eq!(m3, [5.0]);
        let mut s = [0.0; 4];
        sum_pool(&g, &x, &mut s);
        assert_eq!(s, [7.0, 7.0, -10.0, 22.0]);
        let mut up = [0.0; 20];
        upsample(&g, &[1.0, 2.0, 3.0, 4.0], &mut up);
        assert_eq!(&up[..5], &[1.0, 1.0, 2.0, 2.0, 0.0]);
        assert_eq!(&up[15..], &[3.0, 3.0, 4.0, 4.0, 0.0]);
        // The fused adjoint: the pooled entries at the argmaxes above.
        let mut adj = [f64::NAN; 20];
        max_pool_adjoint(&g, &x, &[1.0, 2.0, 3.0, 4.0], &mut adj);
        let mut want = [0.0; 20];
        for (e, v) in [(1, 1.0), (2, 2.0), (10, 3.0), (18, 4.0)] {
            want[e] = v;
        }
        assert_eq!(adj, want);
    }

    /// The fused adjoint of max pooling is the mask times the upsampled
    /// adjoint, over several planes, 2×2 (the sliced walk) and 3×3 windows
    /// (the general one), with ties and uncovered rows and columns.
    #[test]
    fn max_pool_adjoint_is_the_mask_times_the_upsampled_adjoint() {
        for (k, h, w) in [(2, 6, 7), (3, 7, 9), (2, 2, 2)] {
            let g = PoolShape { planes: 3, h, w, k };
            let (ho, wo) = g.out_hw();
            // Rounded values so that windows hold ties.
            let mut x: Vec<f64> = testing::lcg(7, 3 * h * w)
                .iter()
                .map(|v| (v * 4.0).round())
                .collect();
            // A NaN wins its window wherever it is; infinities compare.
            x[w + 1] = f64::NAN;
            x[2 * w] = f64::INFINITY;
            x[h * w + 3] = f64::NEG_INFINITY;
            let dy = testing::lcg(8, 3 * ho * wo);
            let (mut mask, mut up, mut adj) = (
                vec![0.0; x.len()],
                vec![0.0; x.len()],
                vec![f64::NAN; x.len()],
            );
            max_pool_mask(&g, &x, &mut mask);
            upsample(&g, &dy, &mut up);
            max_pool_adjoint(&g, &x, &dy, &mut adj);
            let want: Vec<f64> = mask.iter().zip(&up).map(|(m, u)| m * u).collect();
            assert_eq!(adj, want, "{k}x{k} windows over {h}x{w}");
        }
    }
}

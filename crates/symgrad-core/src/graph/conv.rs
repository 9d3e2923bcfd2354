//! Builders and shape rules of the image and sequence operations:
//! convolution, pooling, and selecting a slice by a constant index.
//!
//! Shapes follow the contract (NCHW, as PyTorch): a per-sample image is
//! `[C, H, W]`; any leading axes (the batch's) are samples and carry
//! through. `conv2d(x, K, stride = s, padding = p)` with `K[F, C, kh, kw]`
//! gives `[F, (H + 2p - kh)/s + 1, (W + 2p - kw)/s + 1]`; pooling by `k`
//! gives `[C, H/k, W/k]` (remainders dropped). Errors name what does not
//! fit (`conv2d: 3 input channels, the kernel expects 1`).

pub use super::op::Conv;
use super::{ok_or_panic, Graph, NodeId, Op, Shape, ShapeId};
use crate::error::{Error, ErrorKind, Result};
use smallvec::smallvec;

fn shape_error(message: String) -> Error {
    Error::new(ErrorKind::Shape, message)
}

impl Graph {
    /// `conv2d(x, kernel, stride, padding)`; see the module docs.
    pub fn conv2d(&mut self, x: NodeId, kernel: NodeId, conv: Conv) -> NodeId {
        ok_or_panic(self.try_conv2d(x, kernel, conv))
    }

    /// The convolution, or an error naming what does not fit.
    pub fn try_conv2d(&mut self, x: NodeId, kernel: NodeId, conv: Conv) -> Result<NodeId> {
        self.try_intern(Op::Conv2d(conv), smallvec![x, kernel])
    }

    /// `conv2d(x, kernel) + bias` with `bias[F]` added to every position of
    /// filter F.
    pub fn try_conv2d_bias(
        &mut self,
        x: NodeId,
        kernel: NodeId,
        bias: NodeId,
        conv: Conv,
    ) -> Result<NodeId> {
        let y = self.try_conv2d(x, kernel, conv)?;
        let filters = self.shape(kernel).dims()[0];
        if self.shape(bias).dims() != [filters] {
            return Err(shape_error(format!(
                "conv2d: the bias is {}, the kernel has {filters} filters (the bias needs [{filters}])",
                self.shape(bias)
            )));
        }
        let column = self.try_reshape(bias, &Shape::new(vec![filters, 1, 1]))?;
        self.try_add(y, column)
    }

    /// The largest entry of each k×k window of the last two axes.
    pub fn try_maxpool(&mut self, x: NodeId, k: u32) -> Result<NodeId> {
        self.try_intern(Op::MaxPool(k), smallvec![x])
    }

    /// The mean of each k×k window of the last two axes: the window sums
    /// divided by k².
    pub fn try_avgpool(&mut self, x: NodeId, k: u32) -> Result<NodeId> {
        let sums = self.try_intern(Op::SumPool(k), smallvec![x])?;
        let area = self.int(i64::from(k) * i64::from(k));
        self.try_div(sums, area)
    }

    /// The entries in row-major order as a vector.
    pub fn try_flatten(&mut self, x: NodeId) -> Result<NodeId> {
        let n = self.shape(x).numel();
        self.try_reshape(x, &Shape::new(vec![n]))
    }

    /// The slice at `at` along `axis` (`v[t]` is axis 0).
    pub fn try_select(&mut self, a: NodeId, axis: u32, at: u32) -> Result<NodeId> {
        self.try_intern(Op::Select { axis, at }, smallvec![a])
    }

    // The operations the rule table builds (their operands' shapes fit by
    // construction, so these panic on a mismatch like the plain builders).

    /// The transposed convolution of `w` by `kernel`, in `x_shape`.
    pub fn conv2d_input_grad(
        &mut self,
        w: NodeId,
        kernel: NodeId,
        conv: Conv,
        x_shape: &Shape,
    ) -> NodeId {
        let s = self.intern_shape(x_shape);
        ok_or_panic(self.try_intern(Op::Conv2dInputGrad(conv, s), smallvec![w, kernel]))
    }

    /// The kernel's gradient (shaped `k_shape`) from input `x` and adjoint `w`.
    pub fn conv2d_kernel_grad(
        &mut self,
        x: NodeId,
        w: NodeId,
        conv: Conv,
        k_shape: &Shape,
    ) -> NodeId {
        let s = self.intern_shape(k_shape);
        ok_or_panic(self.try_intern(Op::Conv2dKernelGrad(conv, s), smallvec![x, w]))
    }

    /// The mask of each window's first largest entry.
    pub fn maxpool_mask(&mut self, x: NodeId, k: u32) -> NodeId {
        ok_or_panic(self.try_intern(Op::MaxPoolMask(k), smallvec![x]))
    }

    /// The sum of each k×k window.
    pub fn sumpool(&mut self, x: NodeId, k: u32) -> NodeId {
        ok_or_panic(self.try_intern(Op::SumPool(k), smallvec![x]))
    }

    /// Each entry of `a` repeated over its window, in `shape`.
    pub fn upsample(&mut self, a: NodeId, k: u32, shape: &Shape) -> NodeId {
        let s = self.intern_shape(shape);
        ok_or_panic(self.try_intern(Op::Upsample(k, s), smallvec![a]))
    }

    /// The slice at `at` along `axis`.
    pub fn select(&mut self, a: NodeId, axis: u32, at: u32) -> NodeId {
        ok_or_panic(self.try_select(a, axis, at))
    }

    /// `a` as the slice at `at` along `axis` of zeros shaped `shape`.
    pub fn embed(&mut self, a: NodeId, axis: u32, at: u32, shape: &Shape) -> NodeId {
        let shape = self.intern_shape(shape);
        ok_or_panic(self.try_intern(Op::Embed { axis, at, shape }, smallvec![a]))
    }

    /// The shape of an image operation over `args`.
    pub(super) fn image_shape(&mut self, op: Op, args: &[NodeId]) -> Result<ShapeId> {
        let a = self.shape(args[0]).clone();
        let shape = match op {
            Op::Conv2d(conv) => {
                let k = self.shape(args[1]).clone();
                conv_output(&a, &k, conv)?
            }
            Op::Conv2dInputGrad(conv, x) => {
                let (x, k) = (self.shape_by_id(x).clone(), self.shape(args[1]).clone());
                let y = conv_output(&x, &k, conv)?;
                if y != a {
                    return Err(shape_error(format!(
                        "conv2d_input_grad: {a} is not the {y} that {x} gives"
                    )));
                }
                x
            }
            Op::Conv2dKernelGrad(conv, k) => {
                let (k, w) = (self.shape_by_id(k).clone(), self.shape(args[1]).clone());
                let y = conv_output(&a, &k, conv)?;
                if y != w {
                    return Err(shape_error(format!(
                        "conv2d_kernel_grad: {w} is not the {y} that {a} gives"
                    )));
                }
                k
            }
            Op::MaxPool(k) | Op::SumPool(k) => pool_output(&a, k, op)?,
            Op::MaxPoolMask(k) => {
                pool_output(&a, k, op)?;
                a
            }
            Op::Upsample(k, s) => {
                let s = self.shape_by_id(s).clone();
                if pool_output(&s, k, op)? != a {
                    return Err(shape_error(format!(
                        "upsample {k}: {a} does not pool from {s}"
                    )));
                }
                s
            }
            Op::Select { axis, at } => {
                let axis = axis as usize;
                match a.dims().get(axis) {
                    Some(&n) if (at as usize) < n => a.without(axis),
                    Some(&n) => {
                        return Err(shape_error(format!(
                            "index {at} is out of range: {a} has {n} entries along axis {axis} \
                             (0 to {})",
                            n - 1
                        )))
                    }
                    None => {
                        return Err(shape_error(format!(
                            "cannot index {a} along axis {axis}: it has {} axes",
                            a.rank()
                        )))
                    }
                }
            }
            Op::Embed { axis, at, shape } => {
                let s = self.shape_by_id(shape).clone();
                let fits = s
                    .dims()
                    .get(axis as usize)
                    .is_some_and(|&n| (at as usize) < n && s.without(axis as usize) == a);
                if !fits {
                    return Err(shape_error(format!(
                        "cannot embed {a} at {at} along axis {axis} of {s}"
                    )));
                }
                s
            }
            _ => unreachable!("{op:?} is not an image operation"),
        };
        Ok(self.intern_shape(&shape))
    }
}

/// `[..., F, Ho, Wo]` for `x[..., C, H, W]` and `k[F, C, kh, kw]`.
pub(crate) fn conv_output(x: &Shape, k: &Shape, conv: Conv) -> Result<Shape> {
    let Conv { stride, padding } = conv;
    let (xd, kd) = (x.dims(), k.dims());
    if xd.len() < 3 {
        return Err(shape_error(format!(
            "conv2d: the input is {x}; it needs [channels, height, width]"
        )));
    }
    let &[f, kc, kh, kw] = kd else {
        return Err(shape_error(format!(
            "conv2d: the kernel is {k}; it needs [filters, channels, height, width]"
        )));
    };
    let (lead, [c, h, w]) = (
        &xd[..xd.len() - 3],
        [xd[xd.len() - 3], xd[xd.len() - 2], xd[xd.len() - 1]],
    );
    if c != kc {
        return Err(shape_error(format!(
            "conv2d: {c} input channel{}, the kernel expects {kc}",
            if c == 1 { "" } else { "s" }
        )));
    }
    if stride == 0 {
        return Err(shape_error(
            "conv2d: the stride must be at least 1".to_string(),
        ));
    }
    let p = padding as usize;
    if kh > h + 2 * p || kw > w + 2 * p {
        return Err(shape_error(format!(
            "conv2d: the {kh}x{kw} kernel does not fit the {h}x{w} input with padding {p}"
        )));
    }
    let s = stride as usize;
    let mut dims = lead.to_vec();
    dims.extend([f, (h + 2 * p - kh) / s + 1, (w + 2 * p - kw) / s + 1]);
    Ok(Shape::new(dims))
}

/// The pooled shape of `a` by `k` windows over its last two axes.
pub(crate) fn pool_output(a: &Shape, k: u32, op: Op) -> Result<Shape> {
    let d = a.dims();
    let name = op.label();
    if d.len() < 2 {
        return Err(shape_error(format!(
            "{name}: the input is {a}; pooling needs [height, width] (or [channels, height, width])"
        )));
    }
    let k = k as usize;
    let (h, w) = (d[d.len() - 2], d[d.len() - 1]);
    if k == 0 || k > h || k > w {
        return Err(shape_error(format!(
            "{name}: a {k}x{k} window does not fit the {h}x{w} input"
        )));
    }
    let mut dims = d[..d.len() - 2].to_vec();
    dims.extend([h / k, w / k]);
    Ok(Shape::new(dims))
}

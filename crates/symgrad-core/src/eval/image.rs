//! The reference evaluation of the image and sequence operations: the
//! geometry read off the operands' shapes, the loops from
//! `symgrad_runtime::kernels::conv`, and slicing along an axis.

use super::tensor::Tensor;
use crate::graph::{Op, Shape};
use symgrad_runtime::kernels::conv::{self, ConvShape, PoolShape};

/// `op` over `args`, whose result has `shape` (checked when the node was
/// built).
pub(super) fn run(op: Op, args: &[&Tensor], shape: &Shape) -> Vec<f64> {
    let mut out = vec![0.0; shape.numel()];
    match op {
        Op::Conv2d(c) => {
            let g = geometry(&args[0].shape, &args[1].shape, c);
            conv::conv2d(&g, &args[0].data, &args[1].data, &mut out);
        }
        Op::Conv2dInputGrad(c, _) => {
            let g = geometry(shape, &args[1].shape, c);
            conv::conv2d_input_grad(&g, &args[0].data, &args[1].data, &mut out);
        }
        Op::Conv2dKernelGrad(c, _) => {
            let g = geometry(&args[0].shape, shape, c);
            conv::conv2d_kernel_grad(&g, &args[0].data, &args[1].data, &mut out);
        }
        Op::MaxPool(k) => conv::max_pool(&pool(&args[0].shape, k), &args[0].data, &mut out),
        Op::MaxPoolMask(k) => {
            conv::max_pool_mask(&pool(&args[0].shape, k), &args[0].data, &mut out)
        }
        Op::SumPool(k) => conv::sum_pool(&pool(&args[0].shape, k), &args[0].data, &mut out),
        Op::Upsample(k, _) => conv::upsample(&pool(shape, k), &args[0].data, &mut out),
        Op::Select { axis, at } => {
            let (outer, len, inner) = split(&args[0].shape, axis as usize);
            conv::select(outer, len, inner, at as usize, &args[0].data, &mut out);
        }
        Op::Embed { axis, at, .. } => {
            let (outer, len, inner) = split(shape, axis as usize);
            conv::embed(outer, len, inner, at as usize, &args[0].data, &mut out);
        }
        _ => unreachable!("{op:?} is not an image operation"),
    }
    out
}

/// A convolution's geometry from the input's and the kernel's shapes.
fn geometry(x: &Shape, k: &Shape, c: crate::graph::conv::Conv) -> ConvShape {
    let (xd, kd) = (x.dims(), k.dims());
    let r = xd.len();
    ConvShape {
        n: xd[..r - 3].iter().product(),
        c: xd[r - 3],
        h: xd[r - 2],
        w: xd[r - 1],
        f: kd[0],
        kh: kd[2],
        kw: kd[3],
        stride: c.stride as usize,
        padding: c.padding as usize,
    }
}

/// A pooling's geometry from the image's shape.
fn pool(x: &Shape, k: u32) -> PoolShape {
    let d = x.dims();
    let r = d.len();
    PoolShape {
        planes: d[..r - 2].iter().product(),
        h: d[r - 2],
        w: d[r - 1],
        k: k as usize,
    }
}

/// The entries before, along and after `axis`.
fn split(s: &Shape, axis: usize) -> (usize, usize, usize) {
    let d = s.dims();
    (
        d[..axis].iter().product(),
        d[axis],
        d[axis + 1..].iter().product(),
    )
}

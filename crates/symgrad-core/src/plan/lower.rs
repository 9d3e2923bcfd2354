//! Lowering: a graph's nodes, in topological order, become views (reshapes,
//! transposes, broadcasts) or kernel calls over new buffers.

use super::passes::{
    drop_dead_instructions, fuse_max_pool_adjoints, fuse_step_products, fuse_transposed_products,
};
use super::{
    numel, BatchAxis, Binary, ConvShape, ImageOp, Instr, Plan, PoolShape, Reduction, Size, Src,
    Unary, View, RANK,
};
use crate::error::{Error, ErrorKind, Result};
use crate::graph::conv::Conv;
use crate::graph::{Axis, Func, Graph, NodeId, Op};
use rustc_hash::FxHashMap;

/// `dims` right-aligned to [`RANK`] axes.
fn pad(dims: &[Size]) -> [Size; RANK] {
    let mut out = [Size::ONE; RANK];
    out[RANK - dims.len()..].copy_from_slice(dims);
    out
}

struct Lowering {
    buffers: Vec<Size>,
    setup: Vec<Instr>,
    instrs: Vec<Instr>,
}

impl Plan {
    /// Lowers the nodes that `outputs` depend on; every variable they read
    /// must be one of `inputs` (which fixes the order of the inputs).
    ///
    /// # Errors
    /// A variable that is not an input, or a tensor of rank above [`RANK`].
    pub fn lower(
        g: &Graph,
        inputs: &[NodeId],
        outputs: &[NodeId],
        sizes: BatchAxis,
    ) -> Result<Plan> {
        let input_of = crate::eval::input_positions(g, inputs);
        let mut low = Lowering {
            buffers: Vec::new(),
            setup: Vec::new(),
            instrs: Vec::new(),
        };
        let mut value: Vec<Option<View>> = vec![None; g.len()];
        let order = g.reachable(outputs);
        let pairs = sigmoid_pairs(g, &order);
        let row_pairs = softmax_logsumexp_pairs(g, &order);
        for v in order {
            if value[v.index()].is_some() {
                // The second half of a sigmoid pair, already written.
                continue;
            }
            let node = g.node(v);
            let view = |k: usize| value[node.args[k].index()].ok_or_else(|| missing(g, v));
            let dims = pad(&sizes.shape(g.shape(v))?);
            let out = match node.op {
                Op::Var(_) => match input_of[v.index()] {
                    Some(pos) => View::contiguous(Src::Input(pos), dims),
                    None => return Err(crate::eval::no_value(g, v)),
                },
                Op::Const(n) => low.fill(n.to_f64()),
                Op::Named(c) => low.fill(c.value()),
                Op::Neg => low.map(Unary::Neg, dims, view(0)?),
                Op::Func(Func::Sigmoid) if pairs.contains_key(&v) => {
                    let (pos, neg) = (low.buffer(numel(&dims)), low.buffer(numel(&dims)));
                    low.instrs.push(Instr::SigmoidPair {
                        dims,
                        a: broadcast(view(0)?, dims),
                        pos,
                        neg,
                    });
                    value[pairs[&v].index()] = Some(View::contiguous(Src::Buf(neg), dims));
                    View::contiguous(Src::Buf(pos), dims)
                }
                Op::Func(f) => low.map(Unary::Func(f), dims, view(0)?),
                Op::Pow => match g.as_const(node.args[1]).and_then(|n| n.as_int()) {
                    Some(e) if i32::try_from(e).is_ok() => {
                        low.map(Unary::Powi(e as i32), dims, view(0)?)
                    }
                    _ => low.zip(Binary::Pow, dims, view(0)?, view(1)?),
                },
                Op::Atan2 => low.zip(Binary::Atan2, dims, view(0)?, view(1)?),
                Op::Add | Op::Mul | Op::Sub | Op::Div | Op::Max | Op::Min => {
                    let op = match node.op {
                        Op::Add => Binary::Add,
                        Op::Mul => Binary::Mul,
                        Op::Sub => Binary::Sub,
                        Op::Div => Binary::Div,
                        Op::Max => Binary::Max,
                        _ => Binary::Min,
                    };
                    // n-ary sums and products fold left.
                    let mut acc = low.zip(op, dims, view(0)?, view(1)?);
                    for k in 2..node.args.len() {
                        acc = low.zip(op, dims, acc, view(k)?);
                    }
                    acc
                }
                Op::MatMul => {
                    let (ra, rb) = (g.shape(node.args[0]).rank(), g.shape(node.args[1]).rank());
                    low.matmul(dims, view(0)?, view(1)?, ra, rb)
                }
                Op::Transpose => {
                    let mut t = view(0)?;
                    t.dims.swap(RANK - 2, RANK - 1);
                    t.strides.swap(RANK - 2, RANK - 1);
                    t
                }
                Op::Reshape(_) => {
                    let a = low.contiguous(view(0)?);
                    View::contiguous(a.src, dims)
                }
                Op::BroadcastTo(_) => broadcast(view(0)?, dims),
                Op::SumTo(_) | Op::Sum(_) => {
                    let a = view(0)?;
                    let out = low.buffer(numel(&dims));
                    // The result as it lines up with the operand: a summed
                    // axis is kept as a 1 (`sum_to` keeps it already).
                    let kept = match node.op {
                        Op::Sum(axis) => {
                            let rank = g.shape(node.args[0]).rank();
                            let (lo, hi) = match axis {
                                Axis::All => (0, RANK),
                                Axis::Dim(k) => {
                                    (RANK - rank + k as usize, RANK - rank + k as usize + 1)
                                }
                            };
                            let mut kept = a.dims;
                            kept[lo..hi].fill(Size::ONE);
                            kept
                        }
                        _ => dims,
                    };
                    let out_strides =
                        broadcast(View::contiguous(Src::Buf(out), kept), a.dims).strides;
                    low.instrs.push(Instr::SumInto {
                        dims: a.dims,
                        a,
                        out,
                        out_strides,
                    });
                    View::contiguous(Src::Buf(out), dims)
                }
                Op::Mean(axis) | Op::MaxReduce(axis) | Op::ArgMaxMask(axis) => {
                    let a = low.contiguous(view(0)?);
                    let (outer, len, inner) = split(&a.dims, axis, g.shape(node.args[0]).rank());
                    let out = low.buffer(numel(&dims));
                    low.instrs.push(match node.op {
                        Op::ArgMaxMask(_) => Instr::ArgMaxMask {
                            outer,
                            len,
                            inner,
                            a: a.src,
                            out,
                        },
                        op => Instr::Reduce {
                            kind: if matches!(op, Op::Mean(_)) {
                                Reduction::Mean
                            } else {
                                Reduction::Max
                            },
                            outer,
                            len,
                            inner,
                            a: a.src,
                            out,
                        },
                    });
                    View::contiguous(Src::Buf(out), dims)
                }
                Op::Softmax | Op::LogSumExp => {
                    let a = low.contiguous(view(0)?);
                    let cols = a.dims[RANK - 1];
                    let rows = numel(&a.dims[..RANK - 1]);
                    let out = low.buffer(numel(&dims));
                    let is_softmax = node.op == Op::Softmax;
                    match row_pairs.get(&v) {
                        // Both of the same rows: one call writes both.
                        Some(&other) => {
                            let other_dims = pad(&sizes.shape(g.shape(other))?);
                            let second = low.buffer(numel(&other_dims));
                            let (softmax, lse) = if is_softmax {
                                (out, second)
                            } else {
                                (second, out)
                            };
                            low.instrs.push(Instr::SoftmaxLogSumExp {
                                rows,
                                cols,
                                a: a.src,
                                softmax,
                                lse,
                            });
                            value[other.index()] =
                                Some(View::contiguous(Src::Buf(second), other_dims));
                        }
                        None if is_softmax => low.instrs.push(Instr::Softmax {
                            rows,
                            cols,
                            a: a.src,
                            out,
                        }),
                        None => low.instrs.push(Instr::LogSumExp {
                            rows,
                            cols,
                            a: a.src,
                            out,
                        }),
                    }
                    View::contiguous(Src::Buf(out), dims)
                }
                // Listed, not guarded, so that a new operation is a compile error here.
                Op::Conv2d(_)
                | Op::Conv2dInputGrad(..)
                | Op::Conv2dKernelGrad(..)
                | Op::MaxPool(_)
                | Op::MaxPoolMask(_)
                | Op::SumPool(_)
                | Op::Upsample(..)
                | Op::Select { .. }
                | Op::Embed { .. } => {
                    let a = low.contiguous(view(0)?);
                    let b = match node.args.len() {
                        2 => Some(low.contiguous(view(1)?)),
                        _ => None,
                    };
                    let rank = |k: usize| g.shape(node.args[k]).rank();
                    let (op, samples) =
                        image_op(node.op, &a.dims, b.map(|b| b.dims), &dims, rank(0)).ok_or_else(
                            || {
                                Error::new(
                                    ErrorKind::Shape,
                                    format!(
                                    "'{}' needs its geometry fixed: only the batch axis may vary",
                                    node.op.label()
                                ),
                                )
                            },
                        )?;
                    let out = low.buffer(numel(&dims));
                    low.instrs.push(Instr::Image {
                        op,
                        samples,
                        a: a.src,
                        b: b.map(|b| b.src),
                        out,
                    });
                    View::contiguous(Src::Buf(out), dims)
                }
            };
            value[v.index()] = Some(out);
        }
        let mut outs = Vec::with_capacity(outputs.len());
        for &o in outputs {
            let v = value[o.index()].ok_or_else(|| missing(g, o))?;
            let buf = match v.src {
                Src::Buf(b) if v.is_contiguous() && low.buffers[b] == numel(&v.dims) => b,
                _ => match low.copy(v).src {
                    Src::Buf(b) => b,
                    Src::Input(_) => unreachable!("a copy is a buffer"),
                },
            };
            outs.push((buf, sizes.shape(g.shape(o))?));
        }
        let mut plan = Plan {
            inputs: inputs
                .iter()
                .map(|&x| sizes.shape(g.shape(x)))
                .collect::<Result<_>>()?,
            buffers: low.buffers,
            setup: low.setup,
            instrs: low.instrs,
            outputs: outs,
        };
        fuse_transposed_products(&mut plan);
        fuse_max_pool_adjoints(&mut plan);
        fuse_step_products(&mut plan);
        drop_dead_instructions(&mut plan);
        Ok(plan)
    }
}

fn missing(g: &Graph, v: NodeId) -> Error {
    Error::new(
        ErrorKind::InvalidValue,
        format!(
            "node {} ({}) has an operand that was not lowered",
            v.index(),
            g.op(v).label()
        ),
    )
}

/// `outer`, `len`, `inner` for a reduction of a contiguous tensor of
/// `rank` axes (right-aligned in `dims`) over `axis`.
fn split(dims: &[Size; RANK], axis: Axis, rank: usize) -> (Size, Size, Size) {
    match axis {
        Axis::All => (Size::ONE, numel(dims), Size::ONE),
        Axis::Dim(k) => {
            let at = RANK - rank + k as usize;
            (numel(&dims[..at]), dims[at], numel(&dims[at + 1..]))
        }
    }
}

/// `a` read as `dims` by NumPy broadcasting: an axis of extent 1 repeats.
fn broadcast(a: View, dims: [Size; RANK]) -> View {
    let mut strides = a.strides;
    for k in 0..RANK {
        if a.dims[k] != dims[k] {
            strides[k] = Size::ZERO;
        }
    }
    View {
        src: a.src,
        dims,
        strides,
    }
}

impl Lowering {
    fn buffer(&mut self, n: Size) -> usize {
        self.buffers.push(n);
        self.buffers.len() - 1
    }

    fn fill(&mut self, value: f64) -> View {
        let out = self.buffer(Size::ONE);
        self.setup.push(Instr::Fill { out, value });
        View::contiguous(Src::Buf(out), [Size::ONE; RANK])
    }

    fn map(&mut self, f: Unary, dims: [Size; RANK], a: View) -> View {
        let out = self.buffer(numel(&dims));
        self.instrs.push(Instr::Map {
            f,
            dims,
            a: broadcast(a, dims),
            out,
        });
        View::contiguous(Src::Buf(out), dims)
    }

    fn zip(&mut self, op: Binary, dims: [Size; RANK], a: View, b: View) -> View {
        let out = self.buffer(numel(&dims));
        self.instrs.push(Instr::Zip {
            op,
            dims,
            a: broadcast(a, dims),
            b: broadcast(b, dims),
            out,
        });
        View::contiguous(Src::Buf(out), dims)
    }

    /// A contiguous copy of `a`.
    fn copy(&mut self, a: View) -> View {
        self.map(Unary::Copy, a.dims, a)
    }

    /// `a` itself when it is contiguous over its whole source, else a copy.
    fn contiguous(&mut self, a: View) -> View {
        let whole = match a.src {
            Src::Buf(b) => self.buffers[b] == numel(&a.dims),
            Src::Input(_) => true,
        };
        if a.is_contiguous() && whole {
            a
        } else {
            self.copy(a)
        }
    }

    /// `a @ b` for views of rank `ra` and `rb` (1 or 2, right-aligned): a
    /// vector operand is a one-row (left) or one-column (right) matrix.
    fn matmul(&mut self, dims: [Size; RANK], a: View, b: View, ra: usize, rb: usize) -> View {
        let (r, c) = (RANK - 2, RANK - 1);
        // Rows, inner size and columns, with row and column strides.
        let (m, k, sa) = if ra == 1 {
            (Size::ONE, a.dims[c], [Size::ZERO, a.strides[c]])
        } else {
            (a.dims[r], a.dims[c], [a.strides[r], a.strides[c]])
        };
        let (n, sb) = if rb == 1 {
            (Size::ONE, [b.strides[c], Size::ZERO])
        } else {
            (b.dims[c], [b.strides[r], b.strides[c]])
        };
        let out = self.buffer(numel(&dims));
        self.instrs.push(Instr::MatMul {
            m,
            k,
            n,
            a: (a.src, sa),
            b: (b.src, sb),
            out,
            out_strides: [n, Size::ONE],
        });
        View::contiguous(Src::Buf(out), dims)
    }
}

/// For `softmax(z)` and `logsumexp(z)` both reachable, each mapped to the
/// other, so that the first one lowered computes both in one kernel call.
fn softmax_logsumexp_pairs(g: &Graph, order: &[NodeId]) -> FxHashMap<NodeId, NodeId> {
    let mut softmax_of: FxHashMap<NodeId, NodeId> = FxHashMap::default();
    let mut lse_of: FxHashMap<NodeId, NodeId> = FxHashMap::default();
    for &v in order {
        match g.op(v) {
            Op::Softmax => softmax_of.insert(g.args(v)[0], v),
            Op::LogSumExp => lse_of.insert(g.args(v)[0], v),
            _ => None,
        };
    }
    let mut pairs = FxHashMap::default();
    for (z, &s) in &softmax_of {
        if let Some(&l) = lse_of.get(z) {
            pairs.insert(s, l);
            pairs.insert(l, s);
        }
    }
    pairs
}

/// `σ(z) -> σ(-z)` for every pair of reachable nodes where `σ(-z)` comes
/// later (reverse mode builds it for σ'), so that one kernel computes both.
fn sigmoid_pairs(g: &Graph, order: &[NodeId]) -> FxHashMap<NodeId, NodeId> {
    let mut sigmoid_of: FxHashMap<NodeId, NodeId> = FxHashMap::default();
    let mut pairs = FxHashMap::default();
    for &v in order {
        if g.op(v) != Op::Func(Func::Sigmoid) {
            continue;
        }
        let arg = g.args(v)[0];
        sigmoid_of.insert(arg, v);
        if g.op(arg) == Op::Neg {
            let z = g.args(arg)[0];
            if let Some(&s) = sigmoid_of.get(&z) {
                if g.shape_id(s) == g.shape_id(v) {
                    pairs.insert(s, v);
                }
            }
        }
    }
    pairs
}

/// The kernel and sample count of an image operation, from its operands'
/// and result's padded dimensions (`rank_a`: the first operand's own rank);
/// `None` when a dimension of the geometry depends on the batch size.
fn image_op(
    op: Op,
    a: &[Size; RANK],
    b: Option<[Size; RANK]>,
    out: &[Size; RANK],
    rank_a: usize,
) -> Option<(ImageOp, Size)> {
    let fixed = |s: Size| (s.pow == 0).then_some(s.coef);
    // x [n, C, H, W] and K [F, C, kh, kw], as padded to four axes.
    let conv = |x: &[Size; RANK], k: &[Size; RANK], c: Conv| -> Option<(ConvShape, Size)> {
        let shape = ConvShape {
            n: 0,
            c: fixed(x[1])?,
            h: fixed(x[2])?,
            w: fixed(x[3])?,
            f: fixed(k[0])?,
            kh: fixed(k[2])?,
            kw: fixed(k[3])?,
            stride: c.stride as usize,
            padding: c.padding as usize,
        };
        Some((shape, x[0]))
    };
    // planes [.., .., H, W]: the first two axes are planes.
    let pool = |x: &[Size; RANK], k: u32| -> Option<(PoolShape, Size)> {
        let shape = PoolShape {
            planes: 0,
            h: fixed(x[2])?,
            w: fixed(x[3])?,
            k: k as usize,
        };
        Some((shape, x[0].times(x[1])))
    };
    // [outer, len, inner] around the axis (counted in the operand's own rank).
    let slice = |x: &[Size; RANK], axis: u32, rank: usize| -> Option<(usize, usize, Size)> {
        let ax = RANK - rank + axis as usize;
        let outer = x[..ax].iter().fold(Size::ONE, |acc, &d| acc.times(d));
        let inner = x[ax + 1..]
            .iter()
            .try_fold(1, |acc, &d| Some(acc * fixed(d)?))?;
        Some((fixed(x[ax])?, inner, outer))
    };
    Some(match op {
        Op::Conv2d(c) => {
            let (g, n) = conv(a, &b?, c)?;
            (ImageOp::Conv2d(g), n)
        }
        Op::Conv2dInputGrad(c, _) => {
            let (g, n) = conv(out, &b?, c)?;
            (ImageOp::Conv2dInputGrad(g), n)
        }
        Op::Conv2dKernelGrad(c, _) => {
            let (g, n) = conv(a, out, c)?;
            (ImageOp::Conv2dKernelGrad(g), n)
        }
        Op::MaxPool(k) => {
            let (g, n) = pool(a, k)?;
            (ImageOp::MaxPool(g), n)
        }
        Op::MaxPoolMask(k) => {
            let (g, n) = pool(a, k)?;
            (ImageOp::MaxPoolMask(g), n)
        }
        Op::SumPool(k) => {
            let (g, n) = pool(a, k)?;
            (ImageOp::SumPool(g), n)
        }
        Op::Upsample(k, _) => {
            let (g, n) = pool(out, k)?;
            (ImageOp::Upsample(g), n)
        }
        Op::Select { axis, at } => {
            let (len, inner, outer) = slice(a, axis, rank_a)?;
            let at = at as usize;
            (ImageOp::Select { len, inner, at }, outer)
        }
        Op::Embed { axis, at, .. } => {
            // The result has the operand's rank plus the embedded axis.
            let (len, inner, outer) = slice(out, axis, rank_a + 1)?;
            let at = at as usize;
            (ImageOp::Embed { len, inner, at }, outer)
        }
        _ => return None,
    })
}

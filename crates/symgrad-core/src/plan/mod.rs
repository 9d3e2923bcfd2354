//! Evaluation plans: a tensor graph lowered to a list of kernel calls over
//! buffers, with sizes that may depend on a batch size `m`.
//!
//! A plan is what both the tensor interpreter ([`Runner`]) and the code that
//! `network!` generates execute: each [`Instr`] is one call of a kernel in
//! `symgrad_runtime::kernels`, so the two do the same work and differ only
//! in dispatch. Lowering decides, node by node:
//!
//! - Reshapes of contiguous values, transposes and broadcasts are *views*
//!   (strides over an existing buffer or input), never copies; a kernel that
//!   needs contiguous data gets a copy only when its operand is not.
//! - Elementwise operations read views with 0 strides for broadcast axes.
//! - A transposed matrix product that is copied out is computed as the
//!   product of the transposed operands in the other order
//!   ([`fuse_transposed_products`]), which is how `∂C/∂W = (Xᵀ G)ᵀ` becomes
//!   `Gᵀ X`: one product and no copy.
//!
//! Every buffer is written once (values are never overwritten), so a buffer
//! is a node's value for the whole run; sizes are [`Size`]s, `c · m^k`,
//! resolved when a batch size is known. Views have [`RANK`] dimensions,
//! right-aligned (lower ranks pad with 1s in front).

mod run;

pub use run::Runner;
pub use symgrad_runtime::kernels::RANK;

use crate::error::{Error, ErrorKind, Result};
use crate::graph::{Axis, Func, Graph, NodeId, Op, Shape};
use rustc_hash::FxHashMap;

/// A size: `coef · m^pow` for the batch size `m`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Size {
    pub coef: usize,
    pub pow: u32,
}

impl Size {
    pub const ZERO: Size = Size { coef: 0, pow: 0 };
    pub const ONE: Size = Size { coef: 1, pow: 0 };

    /// A size that does not depend on the batch.
    pub fn fixed(n: usize) -> Size {
        Size { coef: n, pow: 0 }
    }

    /// The size for batch size `m`.
    pub fn at(self, m: usize) -> usize {
        self.coef * m.pow(self.pow)
    }

    fn times(self, other: Size) -> Size {
        if self.coef == 0 || other.coef == 0 {
            return Size::ZERO;
        }
        Size {
            coef: self.coef * other.coef,
            pow: self.pow + other.pow,
        }
    }
}

/// Where a view reads from: an input of the plan or a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Src {
    Input(usize),
    Buf(usize),
}

/// A tensor read through strides: `dims` and `strides` right-aligned to
/// [`RANK`] axes; a stride of 0 repeats entries along its axis.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    pub src: Src,
    pub dims: [Size; RANK],
    pub strides: [Size; RANK],
}

impl View {
    /// The whole of `src`, contiguous, with `dims`.
    fn contiguous(src: Src, dims: [Size; RANK]) -> View {
        View {
            src,
            dims,
            strides: row_major(&dims),
        }
    }

    fn is_contiguous(&self) -> bool {
        self.strides
            .iter()
            .zip(row_major(&self.dims))
            .zip(&self.dims)
            .all(|((s, r), d)| *s == r || *d == Size::ONE)
    }
}

/// The row-major strides of `dims`.
pub fn row_major(dims: &[Size; RANK]) -> [Size; RANK] {
    let mut s = [Size::ONE; RANK];
    for k in (0..RANK - 1).rev() {
        s[k] = s[k + 1].times(dims[k + 1]);
    }
    s
}

/// The number of entries of `dims`.
pub fn numel(dims: &[Size]) -> Size {
    dims.iter().fold(Size::ONE, |n, &d| n.times(d))
}

/// A function of one entry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Unary {
    /// The entry itself: materializes a view.
    Copy,
    Neg,
    Powi(i32),
    Func(Func),
}

/// A function of two entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Max,
    Min,
}

/// What a [`Instr::Reduce`] computes along its axis.
pub use symgrad_runtime::kernels::Reduction;

/// One kernel call. `out` is always a buffer written whole.
#[derive(Clone, Debug, PartialEq)]
pub enum Instr {
    /// `out = value` (a constant, one entry).
    Fill { out: usize, value: f64 },
    /// `out = f(a)` over `dims`.
    Map {
        f: Unary,
        dims: [Size; RANK],
        a: View,
        out: usize,
    },
    /// `out = op(a, b)` over `dims`.
    Zip {
        op: Binary,
        dims: [Size; RANK],
        a: View,
        b: View,
        out: usize,
    },
    /// `out` (zeroed) `+= a` over `dims`, written through `out_strides`
    /// (0 on the axes summed away).
    SumInto {
        dims: [Size; RANK],
        a: View,
        out: usize,
        out_strides: [Size; RANK],
    },
    /// Reduces the middle axis of a contiguous `[outer, len, inner]` tensor.
    Reduce {
        kind: Reduction,
        outer: Size,
        len: Size,
        inner: Size,
        a: Src,
        out: usize,
    },
    /// 1 at the first largest entry along the middle axis, 0 elsewhere.
    ArgMaxMask {
        outer: Size,
        len: Size,
        inner: Size,
        a: Src,
        out: usize,
    },
    /// Softmax of each row of a contiguous `[rows, cols]` tensor.
    Softmax {
        rows: Size,
        cols: Size,
        a: Src,
        out: usize,
    },
    /// Log-sum-exp of each row of a contiguous `[rows, cols]` tensor.
    LogSumExp {
        rows: Size,
        cols: Size,
        a: Src,
        out: usize,
    },
    /// `pos = σ(a)` and `neg = σ(-a)` with one `exp` per entry: reverse
    /// mode's σ' is σ(z)σ(-z), and the forward pass already computes σ(z).
    SigmoidPair {
        dims: [Size; RANK],
        a: View,
        pos: usize,
        neg: usize,
    },
    /// `out = a @ b` for an `m × k` view and a `k × n` view (row and column
    /// strides), written through `out_strides`.
    MatMul {
        m: Size,
        k: Size,
        n: Size,
        a: (Src, [Size; 2]),
        b: (Src, [Size; 2]),
        out: usize,
        out_strides: [Size; 2],
    },
}

impl Instr {
    /// The buffer the instruction writes (the first, for a pair).
    pub fn out(&self) -> usize {
        match *self {
            Instr::SigmoidPair { pos, .. } => pos,
            Instr::Fill { out, .. }
            | Instr::Map { out, .. }
            | Instr::Zip { out, .. }
            | Instr::SumInto { out, .. }
            | Instr::Reduce { out, .. }
            | Instr::ArgMaxMask { out, .. }
            | Instr::Softmax { out, .. }
            | Instr::LogSumExp { out, .. }
            | Instr::MatMul { out, .. } => out,
        }
    }

    /// Every buffer the instruction writes.
    pub fn writes(&self) -> Vec<usize> {
        match *self {
            Instr::SigmoidPair { pos, neg, .. } => vec![pos, neg],
            _ => vec![self.out()],
        }
    }

    /// The sources the instruction reads.
    pub fn reads(&self) -> Vec<Src> {
        match self {
            Instr::SigmoidPair { a, .. } => vec![a.src],
            Instr::Fill { .. } => vec![],
            Instr::Map { a, .. } | Instr::SumInto { a, .. } => vec![a.src],
            Instr::Zip { a, b, .. } => vec![a.src, b.src],
            Instr::Reduce { a, .. }
            | Instr::ArgMaxMask { a, .. }
            | Instr::Softmax { a, .. }
            | Instr::LogSumExp { a, .. } => vec![*a],
            Instr::MatMul { a, b, .. } => vec![a.0, b.0],
        }
    }
}

/// A lowered graph: inputs, buffers, the instructions that fill them, and
/// the outputs (each a whole contiguous buffer).
#[derive(Clone, Debug)]
pub struct Plan {
    /// The shape of each input, row-major.
    pub inputs: Vec<Vec<Size>>,
    /// The number of entries of each buffer.
    pub buffers: Vec<Size>,
    /// Instructions that do not depend on the inputs (constants), run once.
    pub setup: Vec<Instr>,
    /// Instructions run on every evaluation, in order.
    pub instrs: Vec<Instr>,
    /// The buffer holding each output, and its shape.
    pub outputs: Vec<(usize, Vec<Size>)>,
}

/// How a graph's dimensions become [`Size`]s: the stand-in batch size (see
/// [`crate::net::batched`]) becomes `m`, every other size is fixed.
#[derive(Clone, Copy, Debug)]
pub struct Dims {
    /// The dimension that means `m`, if any.
    pub batch: Option<usize>,
}

impl Dims {
    fn size(self, d: usize) -> Size {
        match self.batch {
            Some(b) if d == b => Size { coef: 1, pow: 1 },
            _ => Size::fixed(d),
        }
    }

    fn shape(self, s: &Shape) -> Result<Vec<Size>> {
        if s.rank() > RANK {
            return Err(Error::new(
                ErrorKind::Shape,
                format!(
                    "tensors of rank {} are not supported by the kernels (at most {RANK})",
                    s.rank()
                ),
            ));
        }
        Ok(s.dims().iter().map(|&d| self.size(d)).collect())
    }
}

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
    pub fn lower(g: &Graph, inputs: &[NodeId], outputs: &[NodeId], sizes: Dims) -> Result<Plan> {
        let input_of = crate::eval::input_positions(g, inputs);
        let mut low = Lowering {
            buffers: Vec::new(),
            setup: Vec::new(),
            instrs: Vec::new(),
        };
        let mut value: Vec<Option<View>> = vec![None; g.len()];
        let order = g.reachable(outputs);
        let pairs = sigmoid_pairs(g, &order);
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
                    low.instrs.push(if node.op == Op::Softmax {
                        Instr::Softmax {
                            rows,
                            cols,
                            a: a.src,
                            out,
                        }
                    } else {
                        Instr::LogSumExp {
                            rows,
                            cols,
                            a: a.src,
                            out,
                        }
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

/// Removes instructions whose results nothing reads (a `-z` that only fed
/// a sigmoid now computed in a pair, for one).
fn drop_dead_instructions(plan: &mut Plan) {
    let mut needed = vec![false; plan.buffers.len()];
    for (b, _) in &plan.outputs {
        needed[*b] = true;
    }
    let mut keep = vec![false; plan.instrs.len()];
    for (k, i) in plan.instrs.iter().enumerate().rev() {
        if i.writes().iter().any(|&b| needed[b]) {
            keep[k] = true;
            for s in i.reads() {
                if let Src::Buf(b) = s {
                    needed[b] = true;
                }
            }
        }
    }
    let mut k = 0;
    plan.instrs.retain(|_| {
        k += 1;
        keep[k - 1]
    });
}

/// Rewrites `t = a @ b; out = copy(tᵀ)` into one product `out = bᵀ @ aᵀ`
/// (operands transposed by strides), when the product is read nowhere else.
fn fuse_transposed_products(plan: &mut Plan) {
    let mut reads = vec![0usize; plan.buffers.len()];
    for i in &plan.instrs {
        for s in i.reads() {
            if let Src::Buf(b) = s {
                reads[b] += 1;
            }
        }
    }
    for (b, _) in &plan.outputs {
        reads[*b] += 1;
    }
    let mut k = 0;
    while k < plan.instrs.len() {
        let fused = match plan.instrs[k] {
            Instr::Map {
                f: Unary::Copy,
                a,
                out,
                ..
            } => match a.src {
                Src::Buf(t) if reads[t] == 1 => {
                    let producer = plan.instrs[..k].iter().position(|i| i.out() == t);
                    match producer.map(|p| (p, &plan.instrs[p])) {
                        Some((
                            p,
                            &Instr::MatMul {
                                m, n, out_strides, ..
                            },
                        )) if out_strides == [n, Size::ONE]
                            && a.dims[..RANK - 2].iter().all(|&d| d == Size::ONE)
                            && a.dims[RANK - 2] == n
                            && a.dims[RANK - 1] == m
                            && a.strides[RANK - 2] == Size::ONE
                            && a.strides[RANK - 1] == n =>
                        {
                            Some((p, out, m))
                        }
                        _ => None,
                    }
                }
                _ => None,
            },
            _ => None,
        };
        if let Some((p, new_out, rows)) = fused {
            // (A B)ᵀ = Bᵀ Aᵀ: swap and transpose the operands (free, by
            // strides) so that the result is written row-major, which the
            // kernel does faster than through column strides.
            if let Instr::MatMul {
                m,
                n,
                a,
                b,
                out,
                out_strides,
                ..
            } = &mut plan.instrs[p]
            {
                let (sa, sb) = (a.1, b.1);
                (*a, *b) = ((b.0, [sb[1], sb[0]]), (a.0, [sa[1], sa[0]]));
                std::mem::swap(m, n);
                *out = new_out;
                *out_strides = [rows, Size::ONE];
            }
            plan.instrs.remove(k);
        } else {
            k += 1;
        }
    }
}

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
//! - `σ(z)` and the `σ(-z)` that reverse mode builds for σ' come from one
//!   kernel call with one `exp` per entry, and so do `logsumexp(z)` and the
//!   `softmax(z)` that its derivative needs.
//! - A transposed matrix product that is copied out is computed as the
//!   product of the transposed operands in the other order
//!   (`passes.rs`), which is how `∂C/∂W = (Xᵀ G)ᵀ` becomes
//!   `Gᵀ X`: one product and no copy.
//!
//! Every buffer is written once (values are never overwritten), so a buffer
//! is a node's value for the whole run; sizes are [`Size`]s, `c · m^k`,
//! resolved when a batch size is known. Views have [`RANK`] dimensions,
//! right-aligned (lower ranks pad with 1s in front).
//!
//! `mod.rs` holds the plan's types; `lower.rs` builds a plan from a graph,
//! `passes.rs` rewrites it, `run.rs` runs it.

mod lower;
mod passes;
mod run;

pub use run::Runner;
pub use symgrad_runtime::kernels::RANK;

use crate::error::{Error, ErrorKind, Result};
use crate::graph::{Func, Shape};
pub use symgrad_runtime::kernels::conv::{ConvShape, ImageOp, PoolShape};

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
    /// `atan2(a, b)`.
    Atan2,
    /// `step(a) · b`: reverse mode's adjoint through `relu` (its
    /// derivative times the adjoint) in one pass; only the plans' fusion
    /// pass makes it.
    StepMul,
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
    /// Softmax (into `softmax`) and log-sum-exp (into `lse`) of each row of
    /// a contiguous `[rows, cols]` tensor, one `exp` per entry: reverse mode
    /// of log-sum-exp needs the softmax of the same rows.
    SoftmaxLogSumExp {
        rows: Size,
        cols: Size,
        a: Src,
        softmax: usize,
        lse: usize,
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
    /// A convolution, one of its backward products, a pooling or a slice
    /// (issue 9) over contiguous operands: `samples` leading entries (the
    /// batch's and any other leading axes) of a fixed geometry each.
    Image {
        op: ImageOp,
        samples: Size,
        a: Src,
        b: Option<Src>,
        out: usize,
    },
}

impl Instr {
    /// The buffer the instruction writes (the first, for a pair).
    pub fn out(&self) -> usize {
        match *self {
            Instr::SigmoidPair { pos, .. } => pos,
            Instr::SoftmaxLogSumExp { softmax, .. } => softmax,
            Instr::Fill { out, .. }
            | Instr::Map { out, .. }
            | Instr::Zip { out, .. }
            | Instr::SumInto { out, .. }
            | Instr::Reduce { out, .. }
            | Instr::ArgMaxMask { out, .. }
            | Instr::Softmax { out, .. }
            | Instr::LogSumExp { out, .. }
            | Instr::MatMul { out, .. }
            | Instr::Image { out, .. } => out,
        }
    }

    /// The second buffer of an instruction with two results.
    pub fn second_out(&self) -> Option<usize> {
        match *self {
            Instr::SigmoidPair { neg, .. } => Some(neg),
            Instr::SoftmaxLogSumExp { lse, .. } => Some(lse),
            _ => None,
        }
    }

    /// Every buffer the instruction writes.
    pub fn writes(&self) -> Vec<usize> {
        std::iter::once(self.out())
            .chain(self.second_out())
            .collect()
    }

    /// The sources the instruction reads.
    pub fn reads(&self) -> Vec<Src> {
        match self {
            Instr::SigmoidPair { a, .. } => vec![a.src],
            Instr::SoftmaxLogSumExp { a, .. } => vec![*a],
            Instr::Fill { .. } => vec![],
            Instr::Map { a, .. } | Instr::SumInto { a, .. } => vec![a.src],
            Instr::Zip { a, b, .. } => vec![a.src, b.src],
            Instr::Reduce { a, .. }
            | Instr::ArgMaxMask { a, .. }
            | Instr::Softmax { a, .. }
            | Instr::LogSumExp { a, .. } => vec![*a],
            Instr::MatMul { a, b, .. } => vec![a.0, b.0],
            Instr::Image { a, b, .. } => std::iter::once(*a).chain(*b).collect(),
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
pub struct BatchAxis {
    /// The dimension that means `m`, if any.
    pub batch: Option<usize>,
}

impl BatchAxis {
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

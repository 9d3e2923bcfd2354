//! The operations a graph node can hold, and the names the formula syntax uses for them.

use super::ShapeId;
use crate::num::Num;
use std::fmt;

/// An elementwise function of one argument.
///
/// The names each is written by (NumPy's and SymPy's spellings beside the
/// canonical one) are in [`super::builtin::BUILTINS`], the one list shared by
/// the formula parser, network files and `#[gradient]`.
///
/// Conventions where a function is not differentiable: `sign`, `step`,
/// `floor` and `ceil` are piecewise constant and have derivative 0 wherever
/// they have one (at a jump symgrad also returns 0); `sign(0) = 0`,
/// `step(0) = 0` (`heaviside` is `step`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Func {
    Sin,
    Cos,
    Tan,
    Exp,
    /// Natural logarithm; the syntax accepts both `ln` and `log`.
    Ln,
    Sqrt,
    Tanh,
    Sinh,
    Cosh,
    Asin,
    Acos,
    Atan,
    Abs,
    /// The logistic function `1 / (1 + exp(-x))`; also written `σ`.
    Sigmoid,
    /// `max(x, 0)`, with relu'(0) = 0.
    Relu,
    /// `ln(1 + exp(x))`.
    Softplus,
    /// -1, 0 or 1: the derivative of `abs` (so |x|'(0) = 0).
    Sign,
    /// Heaviside step with step(0) = 0: the derivative of `relu`.
    Step,
    // Added later (issue 10); after the others so that the earlier
    // functions keep their discriminants, which the structural hash that
    // orders operands reads.
    /// Inverse hyperbolic sine.
    Asinh,
    /// Inverse hyperbolic cosine (for x >= 1).
    Acosh,
    /// Inverse hyperbolic tangent (for |x| < 1).
    Atanh,
    /// Base-10 logarithm.
    Log10,
    /// Base-2 logarithm.
    Log2,
    /// The real cube root (negative for negative x, unlike `x^(1/3)`).
    Cbrt,
    /// `1/cos(x)`.
    Sec,
    /// `1/sin(x)`.
    Csc,
    /// `1/tan(x)`.
    Cot,
    /// The error function `2/sqrt(pi) ∫_0^x exp(-t²) dt`.
    Erf,
    /// `1 - erf(x)`, accurate where `erf(x)` is close to 1.
    Erfc,
    /// The largest integer at most x; derivative 0.
    Floor,
    /// The smallest integer at least x; derivative 0.
    Ceil,
}

impl Func {
    /// Every function, in a fixed order (used by tests and documentation).
    pub const ALL: [Func; 31] = [
        Func::Sin,
        Func::Cos,
        Func::Tan,
        Func::Exp,
        Func::Ln,
        Func::Sqrt,
        Func::Tanh,
        Func::Sinh,
        Func::Cosh,
        Func::Asin,
        Func::Acos,
        Func::Atan,
        Func::Asinh,
        Func::Acosh,
        Func::Atanh,
        Func::Log10,
        Func::Log2,
        Func::Cbrt,
        Func::Sec,
        Func::Csc,
        Func::Cot,
        Func::Erf,
        Func::Erfc,
        Func::Floor,
        Func::Ceil,
        Func::Abs,
        Func::Sigmoid,
        Func::Relu,
        Func::Softplus,
        Func::Sign,
        Func::Step,
    ];

    /// The canonical name, as printed.
    pub fn name(self) -> &'static str {
        match self {
            Func::Sin => "sin",
            Func::Cos => "cos",
            Func::Tan => "tan",
            Func::Exp => "exp",
            Func::Ln => "ln",
            Func::Sqrt => "sqrt",
            Func::Tanh => "tanh",
            Func::Sinh => "sinh",
            Func::Cosh => "cosh",
            Func::Asin => "asin",
            Func::Acos => "acos",
            Func::Atan => "atan",
            Func::Asinh => "asinh",
            Func::Acosh => "acosh",
            Func::Atanh => "atanh",
            Func::Log10 => "log10",
            Func::Log2 => "log2",
            Func::Cbrt => "cbrt",
            Func::Sec => "sec",
            Func::Csc => "csc",
            Func::Cot => "cot",
            Func::Erf => "erf",
            Func::Erfc => "erfc",
            Func::Floor => "floor",
            Func::Ceil => "ceil",
            Func::Abs => "abs",
            Func::Sigmoid => "sigmoid",
            Func::Relu => "relu",
            Func::Softplus => "softplus",
            Func::Sign => "sign",
            Func::Step => "step",
        }
    }

    /// Looks a function of one argument up by any of the names the syntax
    /// accepts (`log`, `arcsin`, `σ`, `heaviside`, ... as well as the
    /// canonical names), through [`super::builtin::BUILTINS`].
    pub fn from_name(name: &str) -> Option<Func> {
        match super::builtin::Builtin::from_name(name)? {
            super::builtin::Builtin::Func(f) => Some(f),
            super::builtin::Builtin::Log => Some(Func::Ln),
            _ => None,
        }
    }

    /// Evaluates the function at `x` in `f64`, with numerically stable forms
    /// for `sigmoid` and `softplus`.
    #[inline]
    pub fn eval(self, x: f64) -> f64 {
        match self {
            Func::Sin => x.sin(),
            Func::Cos => x.cos(),
            Func::Tan => x.tan(),
            Func::Exp => x.exp(),
            Func::Ln => x.ln(),
            Func::Sqrt => x.sqrt(),
            Func::Tanh => x.tanh(),
            Func::Sinh => x.sinh(),
            Func::Cosh => x.cosh(),
            Func::Asin => x.asin(),
            Func::Acos => x.acos(),
            Func::Atan => x.atan(),
            Func::Asinh => x.asinh(),
            Func::Acosh => x.acosh(),
            Func::Atanh => x.atanh(),
            Func::Log10 => x.log10(),
            Func::Log2 => x.log2(),
            Func::Cbrt => x.cbrt(),
            Func::Sec => symgrad_runtime::sec(x),
            Func::Csc => symgrad_runtime::csc(x),
            Func::Cot => symgrad_runtime::cot(x),
            Func::Erf => symgrad_runtime::erf(x),
            Func::Erfc => symgrad_runtime::erfc(x),
            Func::Floor => x.floor(),
            Func::Ceil => x.ceil(),
            Func::Abs => x.abs(),
            Func::Sigmoid => {
                if x >= 0.0 {
                    1.0 / (1.0 + (-x).exp())
                } else {
                    let e = x.exp();
                    e / (1.0 + e)
                }
            }
            Func::Relu => {
                if x > 0.0 {
                    x
                } else {
                    0.0
                }
            }
            Func::Softplus => x.max(0.0) + (-x.abs()).exp().ln_1p(),
            Func::Sign => {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else if x == 0.0 {
                    0.0
                } else {
                    f64::NAN
                }
            }
            Func::Step => {
                if x > 0.0 {
                    1.0
                } else if x.is_nan() {
                    f64::NAN
                } else {
                    0.0
                }
            }
        }
    }
}

impl fmt::Display for Func {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A named mathematical constant, kept symbolic so that `d/dx (pi*x)` is `pi`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NamedConst {
    Pi,
    E,
}

impl NamedConst {
    /// The value in `f64`.
    pub fn value(self) -> f64 {
        match self {
            NamedConst::Pi => std::f64::consts::PI,
            NamedConst::E => std::f64::consts::E,
        }
    }

    /// The name as printed.
    pub fn name(self) -> &'static str {
        match self {
            NamedConst::Pi => "pi",
            NamedConst::E => "e",
        }
    }
}

/// What a node computes from its operands.
///
/// Operand order is the order of the node's `args`; `Add` and `Mul` take two or
/// more operands (the builder makes binary ones, simplification flattens them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// A constant number; no operands.
    Const(Num),
    /// `pi` or `e`; no operands.
    Named(NamedConst),
    /// An input variable, by index into the graph's variable table; no operands.
    Var(u32),
    /// The sum of all operands.
    Add,
    /// `args[0] - args[1]`.
    Sub,
    /// The product of all operands.
    Mul,
    /// `args[0] / args[1]`.
    Div,
    /// `-args[0]`.
    Neg,
    /// `args[0] ^ args[1]`.
    Pow,
    /// The larger operand (with ties going to the first).
    Max,
    /// The smaller operand (with ties going to the first).
    Min,
    /// An elementwise function of `args[0]`.
    Func(Func),
    /// `atan2(args[0], args[1])`: the angle of the point (x, y) = (args[1],
    /// args[0]), in (-pi, pi].
    Atan2,

    // Tensor operations. The elementwise operations above broadcast
    // NumPy-style; the ones below change shapes. A `ShapeId` inside an
    // operation indexes the graph's own shape table.
    /// The matrix product `args[0] @ args[1]`: `[m, k] @ [k, n] -> [m, n]`,
    /// `[m, k] @ [k] -> [m]`, `[k] @ [k, n] -> [n]`, `[k] @ [k] -> []`.
    MatMul,
    /// The transpose of a matrix (rank 2 only).
    Transpose,
    /// The sum of the entries, over all axes or one (which disappears).
    Sum(Axis),
    /// The mean of the entries, over all axes or one.
    Mean(Axis),
    /// The largest entry, over all axes or one.
    MaxReduce(Axis),
    /// 1 at the first largest entry (row-major order) over all axes or along
    /// one, 0 elsewhere; the shape of its operand. It routes the adjoint of
    /// [`Op::MaxReduce`] and is piecewise constant (derivative 0).
    ArgMaxMask(Axis),
    /// The sum that undoes broadcasting: reduces its operand to the given shape,
    /// which the operand's shape broadcasts from.
    SumTo(ShapeId),
    /// Repeats its operand to the given shape, by NumPy broadcasting.
    BroadcastTo(ShapeId),
    /// The same entries, row-major, in another shape with as many entries.
    Reshape(ShapeId),
    /// `exp(a - max) / sum(exp(a - max))` along the last axis.
    Softmax,
    /// `max + ln(sum(exp(a - max)))` along the last axis, which disappears.
    LogSumExp,

    // Images and sequences (issue 9); see `graph::conv` for the shapes.
    /// The 2-d convolution (PyTorch's cross-correlation) of `args[0]`
    /// (`[..., C, H, W]`: leading axes are samples) by the kernel `args[1]`
    /// (`[F, C, kh, kw]`), zero-padded: `[..., F, Ho, Wo]`.
    Conv2d(Conv),
    /// The transposed convolution of `args[0]` (shaped like a `Conv2d`
    /// result) by the kernel `args[1]`, in the given input shape: the
    /// adjoint of [`Op::Conv2d`] with respect to its input.
    Conv2dInputGrad(Conv, ShapeId),
    /// The gradient of a `Conv2d` with respect to its kernel (of the given
    /// shape), from the input `args[0]` and the result's adjoint `args[1]`,
    /// summed over the samples.
    Conv2dKernelGrad(Conv, ShapeId),
    /// The largest entry of each k×k window of the last two axes (stride k;
    /// rows and columns that fill no window are dropped).
    MaxPool(u32),
    /// 1 at the first largest entry (row-major) of each window, 0 elsewhere;
    /// the operand's shape. It routes [`Op::MaxPool`]'s adjoint and is
    /// piecewise constant (derivative 0).
    MaxPoolMask(u32),
    /// The sum of each k×k window of the last two axes (`avgpool` is it
    /// divided by k²).
    SumPool(u32),
    /// Each entry repeated over a k×k window of the last two axes, in the
    /// given shape (0 where no window reaches): the adjoint of [`Op::SumPool`].
    Upsample(u32, ShapeId),
    /// The slice at a constant position along an axis, which disappears
    /// (`v[t]` along the first axis).
    Select { axis: u32, at: u32 },
    /// The operand as the slice at `at` along `axis` of a tensor of the
    /// given shape that is zero elsewhere: the adjoint of [`Op::Select`].
    Embed { axis: u32, at: u32, shape: ShapeId },
}

/// A convolution's stride and zero padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv {
    pub stride: u32,
    pub padding: u32,
}

/// The axes a reduction runs over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Axis {
    /// Every axis: the result is a scalar.
    All,
    /// One axis, counted from 0; the result has the other axes.
    Dim(u32),
}

impl Op {
    /// A short label for pictures and step-by-step explanations.
    pub fn label(&self) -> String {
        match self {
            Op::Const(n) => n.to_string(),
            Op::Named(c) => c.name().to_string(),
            Op::Var(_) => "var".to_string(),
            Op::Add => "+".to_string(),
            Op::Sub => "-".to_string(),
            Op::Mul => "*".to_string(),
            Op::Div => "/".to_string(),
            Op::Neg => "neg".to_string(),
            Op::Pow => "^".to_string(),
            Op::Max => "max".to_string(),
            Op::Min => "min".to_string(),
            Op::Func(f) => f.name().to_string(),
            Op::Atan2 => "atan2".to_string(),
            Op::MatMul => "@".to_string(),
            Op::Transpose => "transpose".to_string(),
            Op::Sum(a) => reduction_label("sum", *a),
            Op::Mean(a) => reduction_label("mean", *a),
            Op::MaxReduce(a) => reduction_label("max", *a),
            Op::ArgMaxMask(a) => reduction_label("argmax_mask", *a),
            Op::SumTo(_) => "sum_to".to_string(),
            Op::BroadcastTo(_) => "broadcast_to".to_string(),
            Op::Reshape(_) => "reshape".to_string(),
            Op::Softmax => "softmax".to_string(),
            Op::LogSumExp => "logsumexp".to_string(),
            Op::Conv2d(c) => conv_label("conv2d", *c),
            Op::Conv2dInputGrad(c, _) => conv_label("conv2d_input_grad", *c),
            Op::Conv2dKernelGrad(c, _) => conv_label("conv2d_kernel_grad", *c),
            Op::MaxPool(k) => format!("maxpool {k}"),
            Op::MaxPoolMask(k) => format!("maxpool_mask {k}"),
            Op::SumPool(k) => format!("sumpool {k}"),
            Op::Upsample(k, _) => format!("upsample {k}"),
            Op::Select { axis: 0, at } => format!("[{at}]"),
            Op::Select { axis, at } => format!("select[axis {axis}: {at}]"),
            Op::Embed { axis, at, .. } => format!("embed[axis {axis}: {at}]"),
        }
    }

    /// Whether the operation works entry by entry with NumPy broadcasting
    /// (arithmetic, `max`, `min`, functions): its derivative is a set of local
    /// partials. Leaves and tensor operations are not elementwise.
    pub fn is_elementwise(&self) -> bool {
        matches!(
            self,
            Op::Add
                | Op::Sub
                | Op::Mul
                | Op::Div
                | Op::Neg
                | Op::Pow
                | Op::Max
                | Op::Min
                | Op::Func(_)
                | Op::Atan2
        )
    }

    /// Whether the operation is one of the image and sequence operations
    /// (convolution and its backward products, pooling, upsampling,
    /// select and embed; `graph::conv`).
    pub fn is_image(&self) -> bool {
        matches!(
            self,
            Op::Conv2d(_)
                | Op::Conv2dInputGrad(..)
                | Op::Conv2dKernelGrad(..)
                | Op::MaxPool(_)
                | Op::MaxPoolMask(_)
                | Op::SumPool(_)
                | Op::Upsample(..)
                | Op::Select { .. }
                | Op::Embed { .. }
        )
    }

    /// Whether the operation only exists for tensors (changes or needs shapes).
    pub fn is_tensor(&self) -> bool {
        !self.is_leaf() && !self.is_elementwise()
    }

    /// Whether the node is a leaf (no operands).
    pub fn is_leaf(&self) -> bool {
        matches!(self, Op::Const(_) | Op::Named(_) | Op::Var(_))
    }
}

fn conv_label(name: &str, c: Conv) -> String {
    format!("{name} stride {} padding {}", c.stride, c.padding)
}

fn reduction_label(name: &str, axis: Axis) -> String {
    match axis {
        Axis::All => name.to_string(),
        Axis::Dim(k) => format!("{name}[axis {k}]"),
    }
}

//! The tensor interpreter: a graph whose nodes have shapes, lowered to a flat
//! list of steps over tensor slots and run.
//!
//! Design: one step per node the outputs depend on, in topological order,
//! each writing one slot that holds a [`Tensor`] (a row-major `Vec<f64>` with
//! its shape). Scalars are rank-0 tensors, so any graph runs here; the scalar
//! [`super::Program`] stays the fast path for formulas. Matrix products go
//! through `matrixmultiply::dgemm` with row and column strides (a vector
//! operand is a one-column or one-row matrix), softmax and logsumexp shift by
//! the row's largest entry, and elementwise operations broadcast NumPy-style.
//!
//! Every slot is a fresh allocation per run: this is the reference
//! interpreter that tests and the command line use, not the batched,
//! allocation-free evaluator that training needs (issue 4, parts 3 and 4).

use crate::error::{Error, ErrorKind, Result};
use crate::graph::{Axis, Func, Graph, NodeId, Op, Shape};

/// A value: a row-major array of `f64` with its shape. A scalar has shape `[]`
/// and one entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub shape: Shape,
    pub data: Vec<f64>,
}

impl Tensor {
    /// A tensor of `shape` with entries `data` in row-major order.
    ///
    /// # Panics
    /// When `data` does not have as many entries as the shape.
    pub fn new(shape: impl Into<Shape>, data: Vec<f64>) -> Tensor {
        let shape = shape.into();
        assert_eq!(
            shape.numel(),
            data.len(),
            "{shape} needs {} entries",
            shape.numel()
        );
        Tensor { shape, data }
    }

    /// A scalar.
    pub fn scalar(x: f64) -> Tensor {
        Tensor {
            shape: Shape::scalar(),
            data: vec![x],
        }
    }

    /// The entry of a scalar (the first entry of any tensor).
    pub fn item(&self) -> f64 {
        self.data[0]
    }
}

/// What one step computes from earlier slots.
#[derive(Clone, Debug)]
enum Step {
    Const(f64),
    Input(usize),
    /// An elementwise operation of two or more slots (n-ary `Add` and `Mul`
    /// fold left).
    Binary(Op, Vec<usize>),
    Powi(usize, i32),
    Neg(usize),
    Func(Func, usize),
    MatMul(usize, usize),
    Transpose(usize),
    Reduce(Op, usize),
    SumTo(usize),
    BroadcastTo(usize),
    Reshape(usize),
    Softmax(usize),
    LogSumExp(usize),
    /// Convolution, pooling and slicing (the loops of
    /// `symgrad_runtime::kernels::conv`).
    Image(Op, Vec<usize>),
}

/// A compiled evaluator for some outputs of a tensor graph as functions of
/// some inputs (scalar or tensor variables).
#[derive(Clone, Debug)]
pub struct TensorProgram {
    steps: Vec<(Step, Shape)>,
    outputs: Vec<usize>,
    input_shapes: Vec<Shape>,
}

impl TensorProgram {
    /// Lowers the nodes that `outputs` depend on. Every variable they depend
    /// on must be one of `inputs`, which fixes the order of `run`'s arguments.
    pub fn compile(g: &Graph, inputs: &[NodeId], outputs: &[NodeId]) -> Result<TensorProgram> {
        let order = g.reachable(outputs);
        let mut slot_of: Vec<usize> = vec![usize::MAX; g.len()];
        let input_of = super::input_positions(g, inputs);
        let mut steps = Vec::with_capacity(order.len());
        for &v in &order {
            let node = g.node(v);
            let a = |k: usize| slot_of[node.args[k].index()];
            let step = match node.op {
                Op::Const(n) => Step::Const(n.to_f64()),
                Op::Named(c) => Step::Const(c.value()),
                Op::Var(_) => {
                    let Some(pos) = input_of[v.index()] else {
                        return Err(super::no_value(g, v));
                    };
                    Step::Input(pos)
                }
                Op::Pow => {
                    let exponent = g.as_const(node.args[1]).and_then(|n| n.as_int());
                    match exponent.and_then(|e| i32::try_from(e).ok()) {
                        Some(e) => Step::Powi(a(0), e),
                        None => Step::Binary(Op::Pow, vec![a(0), a(1)]),
                    }
                }
                Op::Add | Op::Mul | Op::Sub | Op::Div | Op::Max | Op::Min | Op::Atan2 => {
                    Step::Binary(node.op, (0..node.args.len()).map(a).collect())
                }
                Op::Neg => Step::Neg(a(0)),
                Op::Func(f) => Step::Func(f, a(0)),
                Op::MatMul => Step::MatMul(a(0), a(1)),
                Op::Transpose => Step::Transpose(a(0)),
                Op::Sum(_) | Op::Mean(_) | Op::MaxReduce(_) | Op::ArgMaxMask(_) => {
                    Step::Reduce(node.op, a(0))
                }
                Op::SumTo(_) => Step::SumTo(a(0)),
                Op::BroadcastTo(_) => Step::BroadcastTo(a(0)),
                Op::Reshape(_) => Step::Reshape(a(0)),
                Op::Softmax => Step::Softmax(a(0)),
                Op::LogSumExp => Step::LogSumExp(a(0)),
                // Listed, not guarded, so that a new operation is a compile error here.
                Op::Conv2d(_)
                | Op::Conv2dInputGrad(..)
                | Op::Conv2dKernelGrad(..)
                | Op::MaxPool(_)
                | Op::MaxPoolMask(_)
                | Op::SumPool(_)
                | Op::Upsample(..)
                | Op::Select { .. }
                | Op::Embed { .. } => Step::Image(node.op, (0..node.args.len()).map(a).collect()),
            };
            slot_of[v.index()] = steps.len();
            steps.push((step, g.shape(v).clone()));
        }
        let mut input_shapes = vec![Shape::scalar(); inputs.len()];
        for (pos, &x) in inputs.iter().enumerate() {
            if x.index() < g.len() {
                input_shapes[pos] = g.shape(x).clone();
            }
        }
        Ok(TensorProgram {
            steps,
            outputs: outputs.iter().map(|o| slot_of[o.index()]).collect(),
            input_shapes,
        })
    }

    /// The number of steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether the program has no steps.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Evaluates the outputs at `inputs`, one tensor per input given to
    /// `compile`, each of its variable's shape (a [`ErrorKind::Shape`] error
    /// otherwise).
    pub fn run(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        if inputs.len() != self.input_shapes.len() {
            return Err(Error::new(
                ErrorKind::InvalidValue,
                format!(
                    "expected {} inputs, got {}",
                    self.input_shapes.len(),
                    inputs.len()
                ),
            ));
        }
        for (i, (t, s)) in inputs.iter().zip(&self.input_shapes).enumerate() {
            if t.shape != *s || t.data.len() != s.numel() {
                return Err(Error::new(
                    ErrorKind::Shape,
                    format!("input {i} should have shape {s}, not {}", t.shape),
                ));
            }
        }
        let mut slots: Vec<Tensor> = Vec::with_capacity(self.steps.len());
        for (step, shape) in &self.steps {
            let value = run_step(step, shape, &slots, inputs);
            debug_assert_eq!(value.data.len(), shape.numel());
            slots.push(value);
        }
        Ok(self.outputs.iter().map(|&o| slots[o].clone()).collect())
    }
}

fn run_step(step: &Step, shape: &Shape, slots: &[Tensor], inputs: &[Tensor]) -> Tensor {
    let out = |data: Vec<f64>| Tensor {
        shape: shape.clone(),
        data,
    };
    match step {
        Step::Const(c) => Tensor::scalar(*c),
        Step::Input(i) => inputs[*i].clone(),
        Step::Binary(op, args) => {
            let f = binary_fn(*op);
            let mut acc = slots[args[0]].clone();
            for &b in &args[1..] {
                acc = zip_broadcast(&acc, &slots[b], f);
            }
            acc
        }
        Step::Powi(a, n) => out(slots[*a].data.iter().map(|x| x.powi(*n)).collect()),
        Step::Neg(a) => out(slots[*a].data.iter().map(|x| -x).collect()),
        Step::Func(f, a) => out(slots[*a].data.iter().map(|&x| f.eval(x)).collect()),
        Step::MatMul(a, b) => out(matmul(&slots[*a], &slots[*b])),
        Step::Transpose(a) => {
            let t = &slots[*a];
            let (m, n) = (t.shape.dims()[0], t.shape.dims()[1]);
            let mut data = vec![0.0; m * n];
            for i in 0..m {
                for j in 0..n {
                    data[j * m + i] = t.data[i * n + j];
                }
            }
            out(data)
        }
        Step::Reduce(op, a) => out(reduce(*op, &slots[*a])),
        Step::SumTo(a) => {
            let t = &slots[*a];
            let map = broadcast_map(shape, &t.shape);
            let mut data = vec![0.0; shape.numel()];
            for (i, &x) in t.data.iter().enumerate() {
                data[map[i]] += x;
            }
            out(data)
        }
        Step::BroadcastTo(a) => {
            let t = &slots[*a];
            let map = broadcast_map(&t.shape, shape);
            out(map.iter().map(|&i| t.data[i]).collect())
        }
        Step::Reshape(a) => out(slots[*a].data.clone()),
        Step::Softmax(a) => {
            let t = &slots[*a];
            let len = *t.shape.dims().last().expect("softmax has rank >= 1");
            let mut data = t.data.clone();
            for row in data.chunks_mut(len.max(1)) {
                let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let mut total = 0.0;
                for x in row.iter_mut() {
                    *x = (*x - m).exp();
                    total += *x;
                }
                for x in row.iter_mut() {
                    *x /= total;
                }
            }
            out(data)
        }
        Step::LogSumExp(a) => {
            let t = &slots[*a];
            let len = *t.shape.dims().last().expect("logsumexp has rank >= 1");
            out(t.data.chunks(len.max(1)).map(log_sum_exp).collect())
        }
        Step::Image(op, args) => {
            let operands: Vec<&Tensor> = args.iter().map(|&a| &slots[a]).collect();
            out(super::image::run(*op, &operands, shape))
        }
    }
}

/// `m + ln(sum(exp(x - m)))` with `m` the largest entry; `m` itself when it
/// is infinite (all entries -inf give -inf).
fn log_sum_exp(row: &[f64]) -> f64 {
    let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m.is_infinite() {
        return m;
    }
    m + row.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

fn binary_fn(op: Op) -> fn(f64, f64) -> f64 {
    match op {
        Op::Add => |a, b| a + b,
        Op::Sub => |a, b| a - b,
        Op::Mul => |a, b| a * b,
        Op::Div => |a, b| a / b,
        Op::Pow => f64::powf,
        // Ties go to the first operand, as in the scalar interpreter.
        Op::Max => |a, b| if b > a { b } else { a },
        Op::Min => |a, b| if b < a { b } else { a },
        Op::Atan2 => f64::atan2,
        _ => unreachable!("{op:?} is not a binary elementwise operation"),
    }
}

/// `f` applied entry by entry to `a` and `b` broadcast together.
fn zip_broadcast(a: &Tensor, b: &Tensor, f: fn(f64, f64) -> f64) -> Tensor {
    if a.shape == b.shape {
        let data = a.data.iter().zip(&b.data).map(|(&x, &y)| f(x, y)).collect();
        return Tensor {
            shape: a.shape.clone(),
            data,
        };
    }
    let shape = a
        .shape
        .broadcast(&b.shape)
        .expect("the graph checked that the operands broadcast");
    if b.shape.is_scalar() {
        let y = b.data[0];
        return Tensor {
            shape,
            data: a.data.iter().map(|&x| f(x, y)).collect(),
        };
    }
    if a.shape.is_scalar() {
        let x = a.data[0];
        return Tensor {
            shape,
            data: b.data.iter().map(|&y| f(x, y)).collect(),
        };
    }
    let (ma, mb) = (
        broadcast_map(&a.shape, &shape),
        broadcast_map(&b.shape, &shape),
    );
    let data = ma
        .iter()
        .zip(&mb)
        .map(|(&i, &j)| f(a.data[i], b.data[j]))
        .collect();
    Tensor { shape, data }
}

/// For every entry of `dst` (row-major), the entry of `src` that broadcasting
/// `src` to `dst` copies into it.
fn broadcast_map(src: &Shape, dst: &Shape) -> Vec<usize> {
    let pad = dst.rank() - src.rank();
    // The stride in `src` of each axis of `dst` (0 where it is repeated).
    let mut strides = vec![0usize; dst.rank()];
    let mut stride = 1;
    for j in (0..src.rank()).rev() {
        if src.dims()[j] != 1 {
            strides[j + pad] = stride;
        }
        stride *= src.dims()[j];
    }
    let n = dst.numel();
    let mut map = Vec::with_capacity(n);
    let mut index = vec![0usize; dst.rank()];
    let mut offset = 0usize;
    for _ in 0..n {
        map.push(offset);
        // Advance the row-major counter, updating the offset incrementally.
        for axis in (0..dst.rank()).rev() {
            index[axis] += 1;
            offset += strides[axis];
            if index[axis] < dst.dims()[axis] {
                break;
            }
            offset -= strides[axis] * index[axis];
            index[axis] = 0;
        }
    }
    map
}

/// `a @ b` through `dgemm`; a vector is a one-row (left) or one-column
/// (right) matrix.
fn matmul(a: &Tensor, b: &Tensor) -> Vec<f64> {
    let (m, k) = match a.shape.dims() {
        [m, k] => (*m, *k),
        [k] => (1, *k),
        _ => unreachable!("the graph checked the ranks"),
    };
    let n = match b.shape.dims() {
        [_, n] => *n,
        _ => 1,
    };
    let mut c = vec![0.0; m * n];
    if m == 0 || n == 0 {
        return c;
    }
    let (k_i, n_i) = (k as isize, n as isize);
    // SAFETY: a is m×k row-major (strides k, 1), b is k×n row-major (strides
    // n, 1; a vector is k×1 with strides 1, 1), c is m×n row-major, and each
    // buffer holds exactly that many entries, as the shapes were checked.
    unsafe {
        matrixmultiply::dgemm(
            m,
            k,
            n,
            1.0,
            a.data.as_ptr(),
            k_i,
            1,
            b.data.as_ptr(),
            n_i,
            1,
            0.0,
            c.as_mut_ptr(),
            n_i,
            1,
        );
    }
    c
}

/// Sum, mean, max or the first-argmax mask of `t` over an axis: `t` seen as
/// `outer × len × inner`, reduced over `len`.
fn reduce(op: Op, t: &Tensor) -> Vec<f64> {
    let axis = match op {
        Op::Sum(a) | Op::Mean(a) | Op::MaxReduce(a) | Op::ArgMaxMask(a) => a,
        _ => unreachable!("{op:?} is not a reduction"),
    };
    let dims = t.shape.dims();
    let (outer, len, inner) = match axis {
        Axis::All => (1, t.data.len(), 1),
        Axis::Dim(k) => {
            let k = k as usize;
            (
                dims[..k].iter().product(),
                dims[k],
                dims[k + 1..].iter().product(),
            )
        }
    };
    let at = |o: usize, j: usize, i: usize| (o * len + j) * inner + i;
    if let Op::ArgMaxMask(_) = op {
        let mut mask = vec![0.0; t.data.len()];
        for o in 0..outer {
            for i in 0..inner {
                let mut best = 0;
                for j in 1..len {
                    if t.data[at(o, j, i)] > t.data[at(o, best, i)] {
                        best = j;
                    }
                }
                if len > 0 {
                    mask[at(o, best, i)] = 1.0;
                }
            }
        }
        return mask;
    }
    let mut out = Vec::with_capacity(outer * inner);
    for o in 0..outer {
        for i in 0..inner {
            let values = (0..len).map(|j| t.data[at(o, j, i)]);
            out.push(match op {
                Op::MaxReduce(_) => {
                    values.fold(f64::NEG_INFINITY, |m, x| if x > m { x } else { m })
                }
                Op::Mean(_) => values.sum::<f64>() / len as f64,
                _ => values.sum(),
            });
        }
    }
    out
}

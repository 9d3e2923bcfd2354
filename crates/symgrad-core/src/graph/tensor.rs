//! The tensor operations' builders and shape rules.
//!
//! Each builder checks its operands' shapes and computes the result's; the
//! `try_` form returns an [`ErrorKind::Shape`] error naming both shapes
//! (`cannot multiply [30, 784] by [10]`), the plain form panics with the
//! same message. Only trivial cases fold: a reshape, broadcast or `sum_to`
//! to the operand's own shape, a reduction of a scalar, and a transpose of a
//! transpose.

use super::{ok_or_panic, Axis, Graph, NodeId, Op, Shape, ShapeId};
use crate::error::{Error, ErrorKind, Result};
use smallvec::smallvec;

fn shape_error(message: String) -> Error {
    Error::new(ErrorKind::Shape, message)
}

impl Graph {
    /// The matrix product `a @ b` (see [`Op::MatMul`] for the shapes).
    pub fn matmul(&mut self, a: NodeId, b: NodeId) -> NodeId {
        ok_or_panic(self.try_matmul(a, b))
    }

    /// `a @ b`, or `cannot multiply [30, 784] by [10]`.
    pub fn try_matmul(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        self.try_intern(Op::MatMul, smallvec![a, b])
    }

    /// The transpose of a matrix.
    pub fn transpose(&mut self, a: NodeId) -> NodeId {
        ok_or_panic(self.try_transpose(a))
    }

    /// The transpose of a matrix, or an error for any other rank.
    pub fn try_transpose(&mut self, a: NodeId) -> Result<NodeId> {
        self.try_unary_tensor(Op::Transpose, a)
    }

    /// The sum of `a`'s entries over `axis`.
    pub fn sum(&mut self, a: NodeId, axis: Axis) -> NodeId {
        ok_or_panic(self.try_sum(a, axis))
    }

    /// The sum over `axis`, or an error when `a` has no such axis.
    pub fn try_sum(&mut self, a: NodeId, axis: Axis) -> Result<NodeId> {
        self.try_unary_tensor(Op::Sum(axis), a)
    }

    /// The mean of `a`'s entries over `axis`.
    pub fn mean(&mut self, a: NodeId, axis: Axis) -> NodeId {
        ok_or_panic(self.try_mean(a, axis))
    }

    /// The mean over `axis`, or an error when `a` has no such axis.
    pub fn try_mean(&mut self, a: NodeId, axis: Axis) -> Result<NodeId> {
        self.try_unary_tensor(Op::Mean(axis), a)
    }

    /// The largest of `a`'s entries over `axis`.
    pub fn max_reduce(&mut self, a: NodeId, axis: Axis) -> NodeId {
        ok_or_panic(self.try_max_reduce(a, axis))
    }

    /// The largest entry over `axis`, or an error when `a` has no such axis.
    pub fn try_max_reduce(&mut self, a: NodeId, axis: Axis) -> Result<NodeId> {
        self.try_unary_tensor(Op::MaxReduce(axis), a)
    }

    /// The mask of the first largest entry over `axis` (see [`Op::ArgMaxMask`]).
    pub fn argmax_mask(&mut self, a: NodeId, axis: Axis) -> NodeId {
        ok_or_panic(self.try_unary_tensor(Op::ArgMaxMask(axis), a))
    }

    /// `a` summed down to `shape`, the reduction that undoes broadcasting.
    pub fn sum_to(&mut self, a: NodeId, shape: &Shape) -> NodeId {
        ok_or_panic(self.try_sum_to(a, shape))
    }

    /// `a` summed down to `shape`, or an error when `shape` does not broadcast to `a`'s.
    pub fn try_sum_to(&mut self, a: NodeId, shape: &Shape) -> Result<NodeId> {
        let s = self.intern_shape(shape);
        self.try_unary_tensor(Op::SumTo(s), a)
    }

    /// `a` broadcast to `shape`.
    pub fn broadcast_to(&mut self, a: NodeId, shape: &Shape) -> NodeId {
        ok_or_panic(self.try_broadcast_to(a, shape))
    }

    /// `a` broadcast to `shape`, or an error when it does not broadcast.
    pub fn try_broadcast_to(&mut self, a: NodeId, shape: &Shape) -> Result<NodeId> {
        let s = self.intern_shape(shape);
        self.try_unary_tensor(Op::BroadcastTo(s), a)
    }

    /// `a`'s entries, row-major, in `shape`.
    pub fn reshape(&mut self, a: NodeId, shape: &Shape) -> NodeId {
        ok_or_panic(self.try_reshape(a, shape))
    }

    /// `a` in `shape`, or an error when the numbers of entries differ.
    pub fn try_reshape(&mut self, a: NodeId, shape: &Shape) -> Result<NodeId> {
        let s = self.intern_shape(shape);
        self.try_unary_tensor(Op::Reshape(s), a)
    }

    /// The softmax along the last axis.
    pub fn softmax(&mut self, a: NodeId) -> NodeId {
        ok_or_panic(self.try_softmax(a))
    }

    /// The softmax along the last axis, or an error for a scalar.
    pub fn try_softmax(&mut self, a: NodeId) -> Result<NodeId> {
        self.try_unary_tensor(Op::Softmax, a)
    }

    /// `ln(sum(exp(a)))` along the last axis, computed stably.
    pub fn logsumexp(&mut self, a: NodeId) -> NodeId {
        ok_or_panic(self.try_logsumexp(a))
    }

    /// `logsumexp` along the last axis, or an error for a scalar.
    pub fn try_logsumexp(&mut self, a: NodeId) -> Result<NodeId> {
        self.try_unary_tensor(Op::LogSumExp, a)
    }

    /// Builds a one-operand tensor operation, folding only the trivial cases.
    pub(super) fn try_unary_tensor(&mut self, op: Op, a: NodeId) -> Result<NodeId> {
        let same = match op {
            Op::SumTo(s) | Op::BroadcastTo(s) | Op::Reshape(s) => self.shape_id(a) == s,
            Op::Sum(Axis::All) | Op::Mean(Axis::All) | Op::MaxReduce(Axis::All) => {
                self.is_scalar(a)
            }
            _ => false,
        };
        if same {
            return Ok(a);
        }
        if op == Op::Transpose && self.op(a) == Op::Transpose {
            return Ok(self.args(a)[0]);
        }
        self.try_intern(op, smallvec![a])
    }

    /// The result shape of tensor operation `op` over `args`.
    pub(super) fn tensor_shape(&mut self, op: Op, args: &[NodeId]) -> Result<ShapeId> {
        let a = self.shape(args[0]).clone();
        let axis_of = |axis: Axis| -> Result<Option<usize>> {
            match axis {
                Axis::All => Ok(None),
                Axis::Dim(k) if (k as usize) < a.rank() => Ok(Some(k as usize)),
                Axis::Dim(k) => Err(shape_error(format!("axis {k} is out of range for {a}"))),
            }
        };
        let shape = match op {
            Op::MatMul => {
                let b = self.shape(args[1]).clone();
                let (x, y) = (a.dims(), b.dims());
                match (x, y) {
                    ([m, k], [k2, n]) if k == k2 => Shape::new(vec![*m, *n]),
                    ([m, k], [k2]) if k == k2 => Shape::new(vec![*m]),
                    ([k], [k2, n]) if k == k2 => Shape::new(vec![*n]),
                    ([k], [k2]) if k == k2 => Shape::scalar(),
                    _ => return Err(shape_error(format!("cannot multiply {a} by {b}"))),
                }
            }
            Op::Transpose => match a.dims() {
                [m, n] => Shape::new(vec![*n, *m]),
                _ => {
                    return Err(shape_error(format!(
                        "cannot transpose {a}: transpose needs a matrix"
                    )))
                }
            },
            Op::Sum(axis) | Op::Mean(axis) | Op::MaxReduce(axis) => match axis_of(axis)? {
                None => Shape::scalar(),
                Some(k) => a.without(k),
            },
            Op::ArgMaxMask(axis) => {
                axis_of(axis)?;
                a.clone()
            }
            Op::SumTo(s) => {
                let s = self.shape_by_id(s);
                if !s.broadcasts_to(&a) {
                    return Err(shape_error(format!("cannot sum {a} to {s}")));
                }
                s.clone()
            }
            Op::BroadcastTo(s) => {
                let s = self.shape_by_id(s);
                if !a.broadcasts_to(s) {
                    return Err(shape_error(format!("cannot broadcast {a} to {s}")));
                }
                s.clone()
            }
            Op::Reshape(s) => {
                let s = self.shape_by_id(s);
                if s.numel() != a.numel() {
                    return Err(shape_error(format!("cannot reshape {a} to {s}")));
                }
                s.clone()
            }
            Op::Softmax | Op::LogSumExp if a.is_scalar() => {
                return Err(shape_error(format!(
                    "{} needs a vector or a matrix, not a scalar",
                    op.label()
                )))
            }
            Op::Softmax => a,
            Op::LogSumExp => a.without(a.rank() - 1),
            op if op.is_image() => return self.image_shape(op, args),
            _ => unreachable!("{op:?} is not a tensor operation"),
        };
        Ok(self.intern_shape(&shape))
    }
}

//! Shapes of node values. Every node has one; a scalar is rank 0.
//!
//! Formulas are scalar; tensor operations (matrix products, reductions,
//! broadcasting) give nodes other shapes. The graph interns shapes in a table
//! and stores a [`ShapeId`] per node, so scalars cost nothing: their id is
//! [`ShapeId::SCALAR`] and builders compare ids before they look at a shape.

use std::fmt;

/// The dimensions of a value: `[]` for a scalar, `[n]` for a vector, `[r, c]`
/// for a matrix.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Shape(Vec<usize>);

impl Shape {
    /// The shape of a scalar.
    pub fn scalar() -> Shape {
        Shape(Vec::new())
    }

    /// A shape with the given dimensions.
    pub fn new(dims: Vec<usize>) -> Shape {
        Shape(dims)
    }

    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        &self.0
    }

    /// The number of dimensions (0 for a scalar).
    pub fn rank(&self) -> usize {
        self.0.len()
    }

    /// Whether this is the scalar shape.
    pub fn is_scalar(&self) -> bool {
        self.0.is_empty()
    }

    /// The number of entries (1 for a scalar).
    pub fn numel(&self) -> usize {
        self.0.iter().product()
    }

    /// The NumPy broadcast of two shapes: aligned from the last axis, each pair
    /// of dimensions equal or one of them 1. `None` when they do not fit.
    pub fn broadcast(&self, other: &Shape) -> Option<Shape> {
        let rank = self.rank().max(other.rank());
        let dim = |s: &Shape, i: usize| {
            // Axis i of the result, counted from the left of the longer shape.
            let pad = rank - s.rank();
            if i < pad {
                1
            } else {
                s.0[i - pad]
            }
        };
        let mut dims = Vec::with_capacity(rank);
        for i in 0..rank {
            let (a, b) = (dim(self, i), dim(other, i));
            dims.push(match (a, b) {
                _ if a == b => a,
                (1, _) => b,
                (_, 1) => a,
                _ => return None,
            });
        }
        Some(Shape(dims))
    }

    /// Whether broadcasting this shape with `target` gives `target`.
    pub fn broadcasts_to(&self, target: &Shape) -> bool {
        self.rank() <= target.rank() && self.broadcast(target).as_ref() == Some(target)
    }

    /// The shape without axis `k`.
    pub fn without(&self, k: usize) -> Shape {
        let mut dims = self.0.clone();
        dims.remove(k);
        Shape(dims)
    }
}

impl From<Vec<usize>> for Shape {
    fn from(dims: Vec<usize>) -> Shape {
        Shape(dims)
    }
}

impl<const N: usize> From<[usize; N]> for Shape {
    fn from(dims: [usize; N]) -> Shape {
        Shape(dims.to_vec())
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
    }
}

/// An index into a graph's table of shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ShapeId(u32);

impl ShapeId {
    /// The scalar shape, present in every graph.
    pub const SCALAR: ShapeId = ShapeId(0);

    /// The id as an index into the shape table.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    pub(crate) fn from_index(index: usize) -> ShapeId {
        ShapeId(u32::try_from(index).expect("graphs hold fewer than 2^32 shapes"))
    }
}

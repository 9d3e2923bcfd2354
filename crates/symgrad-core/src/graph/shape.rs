//! Shapes of node values. Every node has one; a scalar is rank 0.
//!
//! Formulas are scalar today. Tensor operations (matrix products, reductions,
//! broadcasting) arrive with network definitions and give nodes other shapes;
//! the graph stores a [`ShapeId`] per node so that costs nothing for scalars.

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
}

//! The expression graph: one hash-consed, append-only DAG for every formula and
//! every derivative built from it.
//!
//! Architecture invariant: a node's operands are created before it, so the
//! order of insertion is a topological order and every pass is a loop over
//! node ids, never a recursion over depth. Operand order is the order of a
//! node's `args` (its slots).

pub mod builtin;
pub mod conv;
mod intern;
mod op;
pub mod scalarize;
mod shape;
mod tensor;
mod view;

pub use builtin::{Builtin, BuiltinName, RustName, BUILTINS};
pub use op::{Axis, Func, NamedConst, Op};
pub use shape::{Shape, ShapeId};

use crate::error::{Error, ErrorKind, Result};
use crate::num::Num;
use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};
use smallvec::{smallvec, SmallVec};
use std::hash::BuildHasher;

/// The index of a node in its [`Graph`]. Ids grow in insertion order, which is
/// a topological order: every operand's id is smaller than its user's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(u32);

impl NodeId {
    /// The id as an index into per-node tables.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// The id of the node at `index`.
    pub fn from_index(index: usize) -> NodeId {
        NodeId(u32::try_from(index).expect("graphs hold fewer than 2^32 nodes"))
    }
}

/// The operands of a node, in slot order.
pub type Args = SmallVec<[NodeId; 2]>;

/// One node: an operation, its operands in slot order, and its shape.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Node {
    pub op: Op,
    pub args: Args,
    pub shape: ShapeId,
}

/// A hash-consed expression DAG.
///
/// Building an operation that already exists returns the existing node, so
/// equal subexpressions are one node. Construction folds only trivial cases
/// (arithmetic on constants, `x+0`, `x*1`, `x*0`, `x^1`, `x^0`, exact function
/// values such as `sin(0)`), so the graph keeps the structure of its input:
/// `w*w` is one product node with two edges to `w`.
///
/// Every node has a shape, computed by the builder from its operands (a
/// scalar is rank 0, [`ShapeId::SCALAR`]). Elementwise operations broadcast
/// NumPy-style. The builders come in two kinds: the plain ones (`add`,
/// `matmul`, ...) panic when operand shapes do not fit, which scalar formulas
/// never do; the `try_` ones (`try_add`, `try_matmul`, [`Graph::try_apply`])
/// return an [`ErrorKind::Shape`] error instead. Code that builds graphs
/// from user input with tensors in it (the network-file parser) must use the
/// `try_` builders, which never panic.
#[derive(Clone, Debug)]
pub struct Graph {
    nodes: Vec<Node>,
    /// Hash-consing: each node's id with its hash, grouped by the node's
    /// newest operand so that a pass's lookups stay in cache (see `intern.rs`).
    memo: intern::InternTable,
    var_names: Vec<String>,
    var_by_name: FxHashMap<String, NodeId>,
    /// The shape table: `shapes[id]` for a [`ShapeId`]; entry 0 is the scalar.
    shapes: Vec<Shape>,
    shape_ids: FxHashMap<Shape, ShapeId>,
    /// The nodes of the integers -1..=2 once built (see [`Graph::int`]).
    small_ints: [Option<NodeId>; SMALL_INTS],
}

/// How many small integers [`Graph::int`] remembers: -1, 0, 1, 2.
const SMALL_INTS: usize = 4;

impl Default for Graph {
    fn default() -> Self {
        Graph::new()
    }
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Graph {
        Graph {
            nodes: Vec::new(),
            memo: intern::InternTable::default(),
            var_names: Vec::new(),
            var_by_name: FxHashMap::default(),
            shapes: vec![Shape::scalar()],
            shape_ids: std::iter::once((Shape::scalar(), ShapeId::SCALAR)).collect(),
            small_ints: [None; SMALL_INTS],
        }
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node with id `id`.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    /// The operation of node `id`.
    pub fn op(&self, id: NodeId) -> Op {
        self.nodes[id.index()].op
    }

    /// The operands of node `id`, in slot order.
    pub fn args(&self, id: NodeId) -> &[NodeId] {
        &self.nodes[id.index()].args
    }

    /// Every node id, in topological (insertion) order.
    pub fn ids(&self) -> impl DoubleEndedIterator<Item = NodeId> + ExactSizeIterator {
        (0..self.nodes.len()).map(NodeId::from_index)
    }

    /// The shape of node `id`.
    pub fn shape(&self, id: NodeId) -> &Shape {
        &self.shapes[self.nodes[id.index()].shape.index()]
    }

    /// The id of node `id`'s shape in the shape table.
    #[inline]
    pub fn shape_id(&self, id: NodeId) -> ShapeId {
        self.nodes[id.index()].shape
    }

    /// Whether node `id` is a scalar (rank 0).
    pub fn is_scalar(&self, id: NodeId) -> bool {
        self.nodes[id.index()].shape == ShapeId::SCALAR
    }

    /// The shape with id `id`.
    pub fn shape_by_id(&self, id: ShapeId) -> &Shape {
        &self.shapes[id.index()]
    }

    /// The id of `shape` in this graph's shape table, added on first use.
    pub fn intern_shape(&mut self, shape: &Shape) -> ShapeId {
        if shape.is_scalar() {
            return ShapeId::SCALAR;
        }
        if let Some(&id) = self.shape_ids.get(shape) {
            return id;
        }
        let id = ShapeId::from_index(self.shapes.len());
        self.shapes.push(shape.clone());
        self.shape_ids.insert(shape.clone(), id);
        id
    }

    /// Whether node `id` is zero of its shape: the exact constant 0, or 0
    /// broadcast to a tensor shape.
    #[inline]
    pub fn is_zero(&self, id: NodeId) -> bool {
        match self.op(id) {
            Op::BroadcastTo(_) => self.is_int(self.args(id)[0], 0),
            _ => self.is_int(id, 0),
        }
    }

    /// The constant held by node `id`, if it is a number.
    #[inline]
    pub fn as_const(&self, id: NodeId) -> Option<Num> {
        match self.op(id) {
            Op::Const(n) => Some(n),
            _ => None,
        }
    }

    /// Whether node `id` is the exact constant `n`.
    #[inline]
    pub fn is_int(&self, id: NodeId, n: i64) -> bool {
        self.as_const(id)
            .is_some_and(|c| c.is_exact() && c.is_int(n))
    }

    /// The names of the variables, indexed by the number in [`Op::Var`].
    pub fn var_names(&self) -> &[String] {
        &self.var_names
    }

    /// The node of the variable called `name`, if the graph has one.
    pub fn var_node(&self, name: &str) -> Option<NodeId> {
        self.var_by_name.get(name).copied()
    }

    /// The name of variable node `id`, if it is one.
    pub fn var_name(&self, id: NodeId) -> Option<&str> {
        match self.op(id) {
            Op::Var(v) => Some(&self.var_names[v as usize]),
            _ => None,
        }
    }

    /// The scalar variable called `name`, created on first use.
    ///
    /// # Panics
    /// When `name` is already a tensor variable (see [`Graph::tensor_var`]).
    pub fn var(&mut self, name: &str) -> NodeId {
        if let Some(&id) = self.var_by_name.get(name) {
            assert!(self.is_scalar(id), "'{name}' is a tensor variable");
            return id;
        }
        self.new_var(name, ShapeId::SCALAR)
    }

    /// The tensor variable (an input or a parameter) called `name` with
    /// shape `shape`, created on first use. A scalar shape gives the same node
    /// as [`Graph::var`].
    ///
    /// # Panics
    /// When `name` already exists with another shape; [`Graph::try_tensor_var`]
    /// returns an error instead.
    pub fn tensor_var(&mut self, name: &str, shape: impl Into<Shape>) -> NodeId {
        self.try_tensor_var(name, shape)
            .unwrap_or_else(|e| panic!("{}", e.message()))
    }

    /// [`Graph::tensor_var`], with an [`ErrorKind::Shape`] error when `name`
    /// already exists with another shape.
    pub fn try_tensor_var(&mut self, name: &str, shape: impl Into<Shape>) -> Result<NodeId> {
        let shape = shape.into();
        if let Some(&id) = self.var_by_name.get(name) {
            if *self.shape(id) != shape {
                return Err(Error::new(
                    ErrorKind::Shape,
                    format!("'{name}' has shape {}, not {shape}", self.shape(id)),
                ));
            }
            return Ok(id);
        }
        let sid = self.intern_shape(&shape);
        Ok(self.new_var(name, sid))
    }

    fn new_var(&mut self, name: &str, shape: ShapeId) -> NodeId {
        let index = u32::try_from(self.var_names.len()).expect("fewer than 2^32 variables");
        self.var_names.push(name.to_string());
        let id = self.intern_shaped(Op::Var(index), SmallVec::new(), shape);
        self.var_by_name.insert(name.to_string(), id);
        id
    }

    /// A constant node.
    pub fn constant(&mut self, n: Num) -> NodeId {
        // Constants are scalars: no shape to infer.
        self.intern_shaped(Op::Const(n), SmallVec::new(), ShapeId::SCALAR)
    }

    /// The exact integer constant `n`.
    pub fn int(&mut self, n: i64) -> NodeId {
        // -1, 0, 1 and 2 are built by every derivative rule: remember them.
        let slot = usize::try_from(n + 1).ok().filter(|&i| i < SMALL_INTS);
        if let Some(id) = slot.and_then(|i| self.small_ints[i]) {
            return id;
        }
        let id = self.constant(Num::int(n));
        if let Some(i) = slot {
            self.small_ints[i] = Some(id);
        }
        id
    }

    /// `pi` or `e`.
    pub fn named(&mut self, c: NamedConst) -> NodeId {
        self.intern_shaped(Op::Named(c), SmallVec::new(), ShapeId::SCALAR)
    }

    /// `a + b`.
    #[inline]
    pub fn add(&mut self, a: NodeId, b: NodeId) -> NodeId {
        ok_or_panic(self.try_add(a, b))
    }

    /// `a + b`, or a shape error when the operands do not broadcast.
    #[inline]
    pub fn try_add(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        let shape = self.broadcast_pair(Op::Add, a, b)?;
        let r = match (self.as_const(a), self.as_const(b)) {
            (Some(x), Some(y)) => self.constant(x.add(y)),
            (Some(x), _) if x.is_zero() && x.is_exact() => b,
            (_, Some(y)) if y.is_zero() && y.is_exact() => a,
            _ => self.intern_shaped(Op::Add, smallvec![a, b], shape),
        };
        Ok(self.fill(r, shape))
    }

    /// `a - b`.
    #[inline]
    pub fn sub(&mut self, a: NodeId, b: NodeId) -> NodeId {
        ok_or_panic(self.try_sub(a, b))
    }

    /// `a - b`, or a shape error when the operands do not broadcast.
    #[inline]
    pub fn try_sub(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        let shape = self.broadcast_pair(Op::Sub, a, b)?;
        let r = match (self.as_const(a), self.as_const(b)) {
            (Some(x), Some(y)) => self.constant(x.sub(y)),
            (_, Some(y)) if y.is_zero() && y.is_exact() => a,
            (Some(x), _) if x.is_zero() && x.is_exact() => self.neg(b),
            _ => self.intern_shaped(Op::Sub, smallvec![a, b], shape),
        };
        Ok(self.fill(r, shape))
    }

    /// `a * b` (elementwise for tensors; `@` is [`Graph::matmul`]).
    #[inline]
    pub fn mul(&mut self, a: NodeId, b: NodeId) -> NodeId {
        ok_or_panic(self.try_mul(a, b))
    }

    /// `a * b`, or a shape error when the operands do not broadcast.
    #[inline]
    pub fn try_mul(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        let shape = self.broadcast_pair(Op::Mul, a, b)?;
        let r = match (self.as_const(a), self.as_const(b)) {
            (Some(x), Some(y)) => self.constant(x.mul(y)),
            (Some(x), _) | (_, Some(x)) if x.is_zero() && x.is_exact() => self.int(0),
            (Some(x), _) if x.is_one() && x.is_exact() => b,
            (_, Some(y)) if y.is_one() && y.is_exact() => a,
            _ => self.intern_shaped(Op::Mul, smallvec![a, b], shape),
        };
        Ok(self.fill(r, shape))
    }

    /// `a / b`.
    #[inline]
    pub fn div(&mut self, a: NodeId, b: NodeId) -> NodeId {
        ok_or_panic(self.try_div(a, b))
    }

    /// `a / b`, or a shape error when the operands do not broadcast.
    #[inline]
    pub fn try_div(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        let shape = self.broadcast_pair(Op::Div, a, b)?;
        let r = match (self.as_const(a), self.as_const(b)) {
            (Some(x), Some(y)) if x.div(y).is_some() => self.constant(x.div(y).unwrap_or(x)),
            (_, Some(y)) if y.is_one() && y.is_exact() => a,
            (Some(x), Some(y)) if x.is_zero() && !y.is_zero() => a,
            (Some(x), None) if x.is_zero() && x.is_exact() => a,
            _ => self.intern_shaped(Op::Div, smallvec![a, b], shape),
        };
        Ok(self.fill(r, shape))
    }

    /// `-a`.
    #[inline]
    pub fn neg(&mut self, a: NodeId) -> NodeId {
        if let Some(x) = self.as_const(a) {
            return self.constant(x.neg());
        }
        if self.op(a) == Op::Neg {
            return self.args(a)[0];
        }
        let shape = self.shape_id(a);
        self.intern_shaped(Op::Neg, smallvec![a], shape)
    }

    /// `a ^ b`.
    pub fn pow(&mut self, a: NodeId, b: NodeId) -> NodeId {
        ok_or_panic(self.try_pow(a, b))
    }

    /// `a ^ b`, or a shape error when the operands do not broadcast.
    pub fn try_pow(&mut self, a: NodeId, b: NodeId) -> Result<NodeId> {
        let shape = self.broadcast_pair(Op::Pow, a, b)?;
        let r = self.pow_folded(a, b, shape);
        Ok(self.fill(r, shape))
    }

    fn pow_folded(&mut self, a: NodeId, b: NodeId, shape: ShapeId) -> NodeId {
        if let (Some(x), Some(y)) = (self.as_const(a), self.as_const(b)) {
            if let Some(r) = x.pow_exact(y) {
                return self.constant(r);
            }
            if !x.is_exact() || !y.is_exact() {
                return self.constant(Num::Float(x.to_f64().powf(y.to_f64())));
            }
        }
        if self.is_int(b, 0) {
            return self.int(1);
        }
        if self.is_int(b, 1) || self.is_int(a, 1) {
            return a;
        }
        self.intern_shaped(Op::Pow, smallvec![a, b], shape)
    }

    /// `a ^ n` for an integer `n`.
    pub fn powi(&mut self, a: NodeId, n: i64) -> NodeId {
        let n = self.int(n);
        self.pow(a, n)
    }

    /// `max(a, b)` (elementwise for tensors).
    pub fn max(&mut self, a: NodeId, b: NodeId) -> NodeId {
        ok_or_panic(self.try_extremum(Op::Max, a, b))
    }

    /// `min(a, b)` (elementwise for tensors).
    pub fn min(&mut self, a: NodeId, b: NodeId) -> NodeId {
        ok_or_panic(self.try_extremum(Op::Min, a, b))
    }

    /// `max(a, b)` or `min(a, b)` (`op` is [`Op::Max`] or [`Op::Min`]), or a
    /// shape error when the operands do not broadcast.
    pub fn try_extremum(&mut self, op: Op, a: NodeId, b: NodeId) -> Result<NodeId> {
        let shape = self.broadcast_pair(op, a, b)?;
        if a == b {
            return Ok(a);
        }
        if let (Some(x), Some(y)) = (self.as_const(a), self.as_const(b)) {
            let first = match op {
                Op::Max => x >= y,
                _ => x <= y,
            };
            return Ok(if first { a } else { b });
        }
        Ok(self.intern_shaped(op, smallvec![a, b], shape))
    }

    /// `f(a)` for an elementwise function.
    pub fn func(&mut self, f: Func, a: NodeId) -> NodeId {
        if let Some(x) = self.as_const(a) {
            if let Some(r) = exact_func_value(f, x) {
                return self.constant(r);
            }
        }
        if f == Func::Ln && self.op(a) == Op::Named(NamedConst::E) {
            return self.int(1);
        }
        let shape = self.shape_id(a);
        self.intern_shaped(Op::Func(f), smallvec![a], shape)
    }

    /// `atan2(y, x)`, the angle of the point (x, y) (elementwise for tensors).
    pub fn atan2(&mut self, y: NodeId, x: NodeId) -> NodeId {
        ok_or_panic(self.try_atan2(y, x))
    }

    /// `atan2(y, x)`, or a shape error when the operands do not broadcast.
    pub fn try_atan2(&mut self, y: NodeId, x: NodeId) -> Result<NodeId> {
        let shape = self.broadcast_pair(Op::Atan2, y, x)?;
        if let (Some(a), Some(b)) = (self.as_const(y), self.as_const(x)) {
            if let Some(r) = builtin::exact_atan2(a, b) {
                let c = self.constant(r);
                return Ok(self.fill(c, shape));
            }
            if !a.is_exact() || !b.is_exact() {
                let c = self.constant(Num::Float(a.to_f64().atan2(b.to_f64())));
                return Ok(self.fill(c, shape));
            }
        }
        Ok(self.intern_shaped(Op::Atan2, smallvec![y, x], shape))
    }

    /// Builds `op` over `args`, through the same folding as the named builders.
    /// `Add` and `Mul` accept two or more operands.
    ///
    /// # Panics
    /// When the number of operands does not fit the operation (a programming
    /// error, never reachable from user input), or operand shapes do not fit
    /// ([`Graph::try_apply`] returns that as an error).
    pub fn apply(&mut self, op: Op, args: &[NodeId]) -> NodeId {
        ok_or_panic(self.try_apply(op, args))
    }

    /// [`Graph::apply`], with an [`ErrorKind::Shape`] error when operand
    /// shapes do not fit the operation.
    ///
    /// # Panics
    /// When the number of operands does not fit the operation, or `op` is a
    /// variable index this graph does not have (programming errors).
    pub fn try_apply(&mut self, op: Op, args: &[NodeId]) -> Result<NodeId> {
        Ok(match (op, args) {
            (Op::Const(n), []) => self.constant(n),
            (Op::Named(c), []) => self.named(c),
            (Op::Var(v), []) => self
                .var_node(&self.var_names[v as usize].clone())
                .expect("an existing variable"),
            (Op::Add, [first, rest @ ..]) if !rest.is_empty() => {
                let mut acc = *first;
                for &x in rest {
                    acc = self.try_add(acc, x)?;
                }
                acc
            }
            (Op::Mul, [first, rest @ ..]) if !rest.is_empty() => {
                let mut acc = *first;
                for &x in rest {
                    acc = self.try_mul(acc, x)?;
                }
                acc
            }
            (Op::Sub, &[a, b]) => self.try_sub(a, b)?,
            (Op::Div, &[a, b]) => self.try_div(a, b)?,
            (Op::Pow, &[a, b]) => self.try_pow(a, b)?,
            (Op::Max | Op::Min, &[a, b]) => self.try_extremum(op, a, b)?,
            (Op::Atan2, &[y, x]) => self.try_atan2(y, x)?,
            (Op::Neg, &[a]) => self.neg(a),
            (Op::Func(f), &[a]) => self.func(f, a),
            (Op::MatMul, &[a, b]) => self.try_matmul(a, b)?,
            (Op::Conv2d(_) | Op::Conv2dInputGrad(..) | Op::Conv2dKernelGrad(..), &[a, b]) => {
                self.try_intern(op, smallvec::smallvec![a, b])?
            }
            (op, &[a]) if op.is_tensor() => self.try_unary_tensor(op, a)?,
            _ => panic!("{op:?} does not take {} operands", args.len()),
        })
    }

    /// Adds `op(args)` without any folding, or returns the node that already
    /// computes it. Used by the builders above and by passes that have already
    /// put their operands in canonical form (such as n-ary sums). The shape is
    /// inferred from the operands.
    ///
    /// # Panics
    /// When the operand shapes do not fit `op` ([`Graph::try_intern`] returns
    /// an error instead).
    pub fn intern(&mut self, op: Op, args: Args) -> NodeId {
        ok_or_panic(self.try_intern(op, args))
    }

    /// [`Graph::intern`], with an [`ErrorKind::Shape`] error when the operand
    /// shapes do not fit `op`.
    pub fn try_intern(&mut self, op: Op, args: Args) -> Result<NodeId> {
        let shape = self.infer_shape(op, &args)?;
        Ok(self.intern_shaped(op, args, shape))
    }

    /// The shape of `op(args)`; leaves other than tensor variables are scalars.
    fn infer_shape(&mut self, op: Op, args: &[NodeId]) -> Result<ShapeId> {
        if op.is_tensor() {
            return self.tensor_shape(op, args);
        }
        let mut shape = ShapeId::SCALAR;
        for (i, &a) in args.iter().enumerate() {
            shape = if i == 0 {
                self.shape_id(a)
            } else {
                self.broadcast_ids(op, shape, self.shape_id(a))?
            };
        }
        Ok(shape)
    }

    /// The broadcast shape of two elementwise operands.
    #[inline]
    fn broadcast_pair(&mut self, op: Op, a: NodeId, b: NodeId) -> Result<ShapeId> {
        let (sa, sb) = (self.shape_id(a), self.shape_id(b));
        self.broadcast_ids(op, sa, sb)
    }

    #[inline]
    fn broadcast_ids(&mut self, op: Op, sa: ShapeId, sb: ShapeId) -> Result<ShapeId> {
        if sa == sb || sb == ShapeId::SCALAR {
            return Ok(sa);
        }
        if sa == ShapeId::SCALAR {
            return Ok(sb);
        }
        let (a, b) = (self.shape_by_id(sa), self.shape_by_id(sb));
        match a.broadcast(b) {
            Some(s) => Ok(self.intern_shape(&s)),
            None => Err(Error::new(ErrorKind::Shape, broadcast_message(op, a, b))),
        }
    }

    /// `r` broadcast to `shape` when a fold gave a smaller value (`W*0` is 0
    /// of `W`'s shape, not the scalar 0).
    #[inline]
    fn fill(&mut self, r: NodeId, shape: ShapeId) -> NodeId {
        if self.shape_id(r) == shape {
            r
        } else {
            self.intern_shaped(Op::BroadcastTo(shape), smallvec![r], shape)
        }
    }

    /// Adds `op(args)` of a shape the caller has already checked.
    fn intern_shaped(&mut self, op: Op, args: Args, shape: ShapeId) -> NodeId {
        debug_assert!(
            args.iter().all(|a| a.index() < self.nodes.len()),
            "operands must exist before their user"
        );
        let anchor = args.iter().copied().max();
        let node = Node { op, args, shape };
        // The high half of the hash, which is where Fx hashing mixes best.
        let hash = (FxBuildHasher.hash_one(&node) >> 32) as u32;
        let id = NodeId::from_index(self.nodes.len());
        let nodes = &self.nodes;
        if let Some(existing) = self
            .memo
            .find_or_insert(anchor, hash, id, |c| nodes[c.index()] == node)
        {
            return existing;
        }
        self.nodes.push(node);
        id
    }

    /// Makes room for `additional` more nodes, so that a pass that knows
    /// roughly how much it will add (reverse mode adds about three nodes per
    /// node) does not grow the tables step by step.
    pub fn reserve(&mut self, additional: usize) {
        self.nodes.reserve(additional);
        self.memo.reserve_anchors(self.nodes.len() + additional);
    }

    /// The nodes that `outputs` depend on (including themselves), in
    /// topological order.
    pub fn reachable(&self, outputs: &[NodeId]) -> Vec<NodeId> {
        let marks = self.reachable_mask(outputs);
        self.ids().filter(|id| marks[id.index()]).collect()
    }

    /// [`Graph::reachable`] by a search from `outputs`, in time proportional
    /// to what they reach rather than to the graph: for passes over a small
    /// part of a large graph.
    pub fn reachable_sparse(&self, outputs: &[NodeId]) -> Vec<NodeId> {
        let mut seen: FxHashSet<NodeId> = outputs.iter().copied().collect();
        let mut stack: Vec<NodeId> = seen.iter().copied().collect();
        let mut out = Vec::with_capacity(stack.len());
        while let Some(id) = stack.pop() {
            out.push(id);
            for &a in &self.nodes[id.index()].args {
                if seen.insert(a) {
                    stack.push(a);
                }
            }
        }
        // Operands have smaller ids than their users.
        out.sort_unstable();
        out
    }

    /// For every node, whether one of `outputs` depends on it.
    pub fn reachable_mask(&self, outputs: &[NodeId]) -> Vec<bool> {
        let mut marks = vec![false; self.nodes.len()];
        for &o in outputs {
            marks[o.index()] = true;
        }
        // Users come after operands, so one backward sweep suffices.
        for id in self.ids().rev() {
            if marks[id.index()] {
                for &a in &self.nodes[id.index()].args {
                    marks[a.index()] = true;
                }
            }
        }
        marks
    }

    /// How many operand slots of nodes reachable from `outputs` refer to each node.
    pub fn use_counts(&self, outputs: &[NodeId]) -> Vec<u32> {
        let marks = self.reachable_mask(outputs);
        let mut counts = vec![0u32; self.nodes.len()];
        for id in self.ids().filter(|id| marks[id.index()]) {
            for &a in &self.nodes[id.index()].args {
                counts[a.index()] += 1;
            }
        }
        counts
    }

    /// `op`, an operation of graph `other`, as an operation of this graph:
    /// a shape inside it (`sum_to`, `broadcast_to`, `reshape`) is interned
    /// here, since shape ids belong to their graph.
    pub fn op_from(&mut self, other: &Graph, op: Op) -> Op {
        match op {
            Op::SumTo(s) => Op::SumTo(self.intern_shape(other.shape_by_id(s))),
            Op::BroadcastTo(s) => Op::BroadcastTo(self.intern_shape(other.shape_by_id(s))),
            Op::Reshape(s) => Op::Reshape(self.intern_shape(other.shape_by_id(s))),
            Op::Conv2dInputGrad(c, s) => {
                Op::Conv2dInputGrad(c, self.intern_shape(other.shape_by_id(s)))
            }
            Op::Conv2dKernelGrad(c, s) => {
                Op::Conv2dKernelGrad(c, self.intern_shape(other.shape_by_id(s)))
            }
            Op::Upsample(k, s) => Op::Upsample(k, self.intern_shape(other.shape_by_id(s))),
            Op::Embed { axis, at, shape } => Op::Embed {
                axis,
                at,
                shape: self.intern_shape(other.shape_by_id(shape)),
            },
            op => op,
        }
    }

    /// Copies the part of `other` that `outputs` depend on into this graph,
    /// rebuilding each node through the folding builders. Returns the new ids
    /// of `outputs`.
    pub fn import(&mut self, other: &Graph, outputs: &[NodeId]) -> Vec<NodeId> {
        self.import_substituted(other, outputs, |_| None)
    }

    /// [`Graph::import`], with the variables for which `value` gives a number
    /// replaced by that constant (SymPy's `subs`); the folding builders fold
    /// what becomes constant.
    pub fn import_substituted(
        &mut self,
        other: &Graph,
        outputs: &[NodeId],
        value: impl Fn(&str) -> Option<Num>,
    ) -> Vec<NodeId> {
        let mut map: Vec<Option<NodeId>> = vec![None; other.len()];
        for id in other.reachable(outputs) {
            let node = other.node(id);
            let args: Args = node
                .args
                .iter()
                .map(|a| map[a.index()].expect("operands come first"))
                .collect();
            let new = match node.op {
                Op::Var(v) => match value(&other.var_names[v as usize]) {
                    Some(n) if other.is_scalar(id) => self.constant(n),
                    _ => self.tensor_var(&other.var_names[v as usize], other.shape(id).clone()),
                },
                op => {
                    let op = self.op_from(other, op);
                    self.apply(op, &args)
                }
            };
            map[id.index()] = Some(new);
        }
        outputs
            .iter()
            .map(|o| map[o.index()].expect("outputs are reachable"))
            .collect()
    }
}

/// The node of a builder that cannot fail on the operands it was given.
#[inline]
fn ok_or_panic(r: Result<NodeId>) -> NodeId {
    r.unwrap_or_else(|e| panic!("{}", e.message()))
}

/// `cannot add [2, 3] and [4]`, worded for the operation.
fn broadcast_message(op: Op, a: &Shape, b: &Shape) -> String {
    match op {
        Op::Add => format!("cannot add {a} and {b}"),
        Op::Sub => format!("cannot subtract {b} from {a}"),
        Op::Mul => format!("cannot multiply {a} by {b} elementwise"),
        Op::Div => format!("cannot divide {a} by {b}"),
        Op::Pow => format!("cannot raise {a} to the power {b}"),
        op => format!("cannot broadcast {a} with {b} in {}", op.label()),
    }
}

/// The value of `f(x)` when it is an exact rational (such as `sin(0) = 0`), or a
/// float when `x` already is one; `None` to keep the node symbolic.
fn exact_func_value(f: Func, x: Num) -> Option<Num> {
    if !x.is_exact() {
        return Some(Num::Float(f.eval(x.to_f64())));
    }
    let zero = x.is_zero();
    Some(match f {
        Func::Abs => {
            if x.is_negative() {
                x.neg()
            } else {
                x
            }
        }
        Func::Relu => {
            if x.is_negative() {
                Num::int(0)
            } else {
                x
            }
        }
        Func::Sign => Num::int(if zero {
            0
        } else if x.is_negative() {
            -1
        } else {
            1
        }),
        Func::Step => Num::int(if zero || x.is_negative() { 0 } else { 1 }),
        Func::Sin
        | Func::Tan
        | Func::Sinh
        | Func::Tanh
        | Func::Asin
        | Func::Atan
        | Func::Asinh
        | Func::Atanh
        | Func::Erf
            if zero =>
        {
            Num::int(0)
        }
        Func::Sqrt | Func::Cbrt if zero || x.is_one() => x,
        Func::Cos | Func::Cosh | Func::Exp | Func::Sec | Func::Erfc if zero => Num::int(1),
        Func::Ln | Func::Log10 | Func::Log2 | Func::Acosh if x.is_one() => Num::int(0),
        Func::Floor | Func::Ceil => match x {
            Num::Rational(r) if f == Func::Floor => Num::int(r.floor().to_integer()),
            Num::Rational(r) => Num::int(r.ceil().to_integer()),
            Num::Float(_) => return None,
        },
        Func::Sigmoid if zero => Num::ratio(1, 2)?,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_subexpressions_are_one_node() {
        let mut g = Graph::new();
        let x = g.var("x");
        let y = g.var("y");
        let a = g.mul(x, y);
        let b = g.mul(x, y);
        assert_eq!(a, b);
        assert_eq!(g.len(), 3);
        // Operand order is data: y*x is a different node from x*y.
        assert_ne!(g.mul(y, x), a);
    }

    #[test]
    fn only_trivial_cases_fold() {
        let mut g = Graph::new();
        let w = g.var("w");
        let zero = g.int(0);
        let one = g.int(1);
        assert_eq!(g.add(w, zero), w);
        assert_eq!(g.mul(one, w), w);
        assert_eq!(g.mul(w, zero), zero);
        // w*w keeps two edges to w: the graph is not simplified on construction.
        let ww = g.mul(w, w);
        assert_eq!(g.args(ww), &[w, w]);
        let s = g.sub(w, w);
        assert_eq!(g.op(s), Op::Sub);
        let two = g.int(2);
        let three = g.int(3);
        let six = g.mul(two, three);
        assert_eq!(g.as_const(six), Some(Num::int(6)));
        let half = g.div(one, two);
        assert_eq!(g.as_const(half), Num::ratio(1, 2));
    }

    #[test]
    fn ids_are_topological() {
        let mut g = Graph::new();
        let x = g.var("x");
        let s = g.func(Func::Sin, x);
        let t = g.mul(s, x);
        for id in g.ids() {
            assert!(g.args(id).iter().all(|a| a < &id));
        }
        assert_eq!(g.reachable(&[t]), vec![x, s, t]);
    }
}

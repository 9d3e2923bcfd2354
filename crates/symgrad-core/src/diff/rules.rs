//! The one table of local derivatives.
//!
//! For a node `v = op(a_0, a_1, ...)`, [`local_derivatives`] builds, as graph
//! nodes, the partial derivative `∂v/∂a_i` for each operand slot `i`. Every
//! mode uses this table: forward mode as tangent rules
//! (`v̇ = Σ ∂v/∂a_i · ȧ_i`), reverse mode as adjoint rules
//! (`ā_i += v̄ · ∂v/∂a_i`), path enumeration as edge labels. A new operation
//! is added here, in one place.
//!
//! Conventions at non-smooth points: `|x|'(0) = sign(0) = 0`,
//! `relu'(0) = step(0) = 0`; `max(a, b)` sends the whole derivative to `a`
//! on a tie (the operand its value takes), and `min` likewise. `sign` and
//! `step` have derivative 0 (everywhere they have one).

use crate::graph::{Func, Graph, NodeId, Op};
use smallvec::{smallvec, SmallVec};

/// The partials of one node with respect to its operand slots, in slot order.
pub type Partials = SmallVec<[NodeId; 2]>;

/// Builds `∂v/∂args[i]` for every operand slot of node `v`.
///
/// Leaves (constants, variables) have no operands and give an empty list.
/// Every operation of [`Op`] has a rule, so this cannot fail today; tensor
/// operations without a rule will return a typed `NoRule` error from here.
pub fn local_derivatives(g: &mut Graph, v: NodeId) -> Partials {
    let node = g.node(v).clone();
    let args = &node.args;
    match node.op {
        Op::Const(_) | Op::Named(_) | Op::Var(_) => SmallVec::new(),
        Op::Add => args.iter().map(|_| g.int(1)).collect(),
        Op::Sub => smallvec![g.int(1), g.int(-1)],
        Op::Neg => smallvec![g.int(-1)],
        // ∂(a_0 a_1 ... a_n)/∂a_i is the product of the other operands.
        Op::Mul => (0..args.len())
            .map(|i| product_of_others(g, args, i))
            .collect(),
        // v = a/b: ∂v/∂a = 1/b, ∂v/∂b = -a/b² = -v/b.
        Op::Div => {
            let b = args[1];
            let one = g.int(1);
            let inv_b = g.div(one, b);
            let v_over_b = g.div(v, b);
            smallvec![inv_b, g.neg(v_over_b)]
        }
        Op::Pow => {
            let (a, b) = (args[0], args[1]);
            // ∂(a^b)/∂a = b·a^(b-1)
            let one = g.int(1);
            let b_minus_1 = g.sub(b, one);
            let a_pow = g.pow(a, b_minus_1);
            let da = g.mul(b, a_pow);
            // ∂(a^b)/∂b = a^b·ln(a); zero when the exponent is a constant, so
            // that x^2 does not bring ln(x) into its derivative.
            let db = if matches!(g.op(b), Op::Const(_) | Op::Named(_)) {
                g.int(0)
            } else {
                let ln_a = g.func(Func::Ln, a);
                g.mul(v, ln_a)
            };
            smallvec![da, db]
        }
        Op::Max | Op::Min => {
            let (a, b) = (args[0], args[1]);
            // max: the derivative goes to b when b > a, else to a.
            // min: the derivative goes to b when b < a, else to a.
            let diff = if node.op == Op::Max {
                g.sub(b, a)
            } else {
                g.sub(a, b)
            };
            let to_b = g.func(Func::Step, diff);
            let one = g.int(1);
            let to_a = g.sub(one, to_b);
            smallvec![to_a, to_b]
        }
        Op::Func(f) => smallvec![func_derivative(g, f, v, args[0])],
    }
}

/// The product of every operand of a product node except slot `i`.
fn product_of_others(g: &mut Graph, args: &[NodeId], i: usize) -> NodeId {
    let mut acc: Option<NodeId> = None;
    for (j, &a) in args.iter().enumerate() {
        if j != i {
            acc = Some(match acc {
                None => a,
                Some(p) => g.mul(p, a),
            });
        }
    }
    acc.unwrap_or_else(|| g.int(1))
}

/// `f'(a)` for `v = f(a)`, reusing `v` where the derivative is a function of the value.
fn func_derivative(g: &mut Graph, f: Func, v: NodeId, a: NodeId) -> NodeId {
    let one = g.int(1);
    match f {
        Func::Sin => g.func(Func::Cos, a),
        Func::Cos => {
            let s = g.func(Func::Sin, a);
            g.neg(s)
        }
        // tan' = 1 + tan²
        Func::Tan => {
            let t2 = g.powi(v, 2);
            g.add(one, t2)
        }
        Func::Exp => v,
        Func::Ln => g.div(one, a),
        // sqrt' = 1 / (2 sqrt(a))
        Func::Sqrt => {
            let two = g.int(2);
            let d = g.mul(two, v);
            g.div(one, d)
        }
        // tanh' = 1/cosh² (= 1 - tanh², which cancels to 0 for large |a|
        // where the true value is tiny but representable)
        Func::Tanh => {
            let c = g.func(Func::Cosh, a);
            let c2 = g.powi(c, 2);
            g.div(one, c2)
        }
        Func::Sinh => g.func(Func::Cosh, a),
        Func::Cosh => g.func(Func::Sinh, a),
        // asin' = 1/sqrt(1 - a²), acos' = -1/sqrt(1 - a²)
        Func::Asin | Func::Acos => {
            let a2 = g.powi(a, 2);
            let r = g.sub(one, a2);
            let s = g.func(Func::Sqrt, r);
            let d = g.div(one, s);
            if f == Func::Asin {
                d
            } else {
                g.neg(d)
            }
        }
        // atan' = 1/(1 + a²)
        Func::Atan => {
            let a2 = g.powi(a, 2);
            let d = g.add(one, a2);
            g.div(one, d)
        }
        Func::Abs => g.func(Func::Sign, a),
        // σ' = σ(a)·σ(-a) (= σ(1 - σ), whose 1 - σ loses all accuracy
        // once σ(a) rounds near 1, e.g. a relative error of 1e-3 at a = 30)
        Func::Sigmoid => {
            let minus_a = g.neg(a);
            let s = g.func(Func::Sigmoid, minus_a);
            g.mul(v, s)
        }
        Func::Relu => g.func(Func::Step, a),
        Func::Softplus => g.func(Func::Sigmoid, a),
        Func::Sign | Func::Step => g.int(0),
    }
}

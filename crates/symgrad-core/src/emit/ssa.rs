//! The typed SSA form that code generation targets print from.
//!
//! A [`Function`] is straight-line code over one float type: `n_inputs`
//! inputs, a list of instructions each defining one local (instruction `i`
//! defines local `i`), and the outputs. Operands are inputs, earlier locals,
//! or constants. Lowering starts from the canonical (simplified) form of the
//! outputs, so constants are folded, like terms combined, and common
//! subexpressions are one local (the graph is hash-consed); only the nodes
//! the outputs need are lowered (dead code never appears). Sums with negative
//! coefficients become subtractions and factors with negative exponents
//! become divisions, so `x - 2*y` is one multiply and one subtract.

use crate::graph::{Func, Graph, NamedConst, NodeId, Op};
use crate::num::Num;
use crate::simplify::simplify;
use std::collections::HashMap;

/// An instruction operand.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Operand {
    /// The function's input number `i`.
    Input(u32),
    /// The local defined by instruction `i`.
    Local(u32),
    /// A constant.
    Const(f64),
}

/// One instruction; it defines the next local.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Instr {
    Add(Operand, Operand),
    Sub(Operand, Operand),
    Mul(Operand, Operand),
    Div(Operand, Operand),
    Neg(Operand),
    /// `a^n` for an integer `n`.
    Powi(Operand, i32),
    /// `a^b` for a non-integer exponent.
    Powf(Operand, Operand),
    Sqrt(Operand),
    Max(Operand, Operand),
    Min(Operand, Operand),
    /// `atan2(a, b)` (`a.atan2(b)` in Rust).
    Atan2(Operand, Operand),
    /// An elementwise function (never `Sqrt`, which has its own instruction).
    Call(Func, Operand),
}

impl Instr {
    /// The instruction's value, given its operands' values.
    pub fn apply(&self, get: impl Fn(Operand) -> f64) -> f64 {
        match *self {
            Instr::Add(a, b) => get(a) + get(b),
            Instr::Sub(a, b) => get(a) - get(b),
            Instr::Mul(a, b) => get(a) * get(b),
            Instr::Div(a, b) => get(a) / get(b),
            Instr::Neg(a) => -get(a),
            Instr::Powi(a, n) => get(a).powi(n),
            Instr::Powf(a, b) => get(a).powf(get(b)),
            Instr::Sqrt(a) => get(a).sqrt(),
            Instr::Max(a, b) => {
                let (x, y) = (get(a), get(b));
                if y > x {
                    y
                } else {
                    x
                }
            }
            Instr::Min(a, b) => {
                let (x, y) = (get(a), get(b));
                if y < x {
                    y
                } else {
                    x
                }
            }
            Instr::Atan2(a, b) => get(a).atan2(get(b)),
            Instr::Call(f, a) => f.eval(get(a)),
        }
    }

    /// The operands the instruction reads.
    pub fn operands(&self) -> [Option<Operand>; 2] {
        match *self {
            Instr::Add(a, b)
            | Instr::Sub(a, b)
            | Instr::Mul(a, b)
            | Instr::Div(a, b)
            | Instr::Powf(a, b)
            | Instr::Max(a, b)
            | Instr::Min(a, b)
            | Instr::Atan2(a, b) => [Some(a), Some(b)],
            Instr::Neg(a) | Instr::Powi(a, _) | Instr::Sqrt(a) | Instr::Call(_, a) => {
                [Some(a), None]
            }
        }
    }
}

/// Straight-line code computing some outputs from some inputs.
#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    /// How many inputs the function reads.
    pub n_inputs: usize,
    /// The instructions; instruction `i` defines `Operand::Local(i)`.
    pub instrs: Vec<Instr>,
    /// The outputs, in order.
    pub outputs: Vec<Operand>,
}

impl Function {
    /// Lowers `outputs` of `g` as functions of `inputs` (variable nodes).
    /// Appends their canonical form to `g`. A variable that is not among
    /// `inputs` is an error naming it.
    pub fn lower(g: &mut Graph, inputs: &[NodeId], outputs: &[NodeId]) -> crate::Result<Function> {
        let roots = simplify(g, outputs);
        let mut lowering = Lowering {
            g,
            value: Vec::new(),
            instrs: Vec::new(),
            emitted: HashMap::new(),
        };
        lowering.value = vec![None; lowering.g.len()];
        for (i, &x) in inputs.iter().enumerate() {
            lowering.value[x.index()] = Some(Operand::Input(i as u32));
        }
        let order = lowering.g.reachable(&roots);
        let deferred = inlined_into_user(lowering.g, &order, &roots);
        for id in order {
            if lowering.value[id.index()].is_some() || deferred[id.index()] {
                continue;
            }
            let v = lowering.node(id)?;
            lowering.value[id.index()] = Some(v);
        }
        let outputs = roots
            .iter()
            .map(|r| lowering.value[r.index()].unwrap_or(Operand::Const(f64::NAN)))
            .collect();
        Ok(Function {
            n_inputs: inputs.len(),
            instrs: lowering.instrs,
            outputs,
        })
    }

    /// Evaluates the function in `f64` (the reference semantics the
    /// generated code must match; used by tests).
    pub fn eval(&self, inputs: &[f64]) -> Vec<f64> {
        let mut locals: Vec<f64> = Vec::with_capacity(self.instrs.len());
        let get = |o: Operand, locals: &[f64]| match o {
            Operand::Input(i) => inputs[i as usize],
            Operand::Local(i) => locals[i as usize],
            Operand::Const(c) => c,
        };
        for instr in &self.instrs {
            let v = instr.apply(|o| get(o, &locals));
            locals.push(v);
        }
        self.outputs.iter().map(|&o| get(o, &locals)).collect()
    }
}

/// The nodes that are better lowered as part of their one user than as a
/// value of their own: a reciprocal factor `b^-k` of a product (which then
/// divides instead of multiplying by `1/b^k`) and a term `c*m` of a sum with
/// a numeric coefficient (which then adds or subtracts `|c|*m`).
fn inlined_into_user(g: &Graph, order: &[NodeId], roots: &[NodeId]) -> Vec<bool> {
    let mut uses = vec![0u32; g.len()];
    let mut user_op: Vec<Option<Op>> = vec![None; g.len()];
    for &id in order {
        for &a in g.args(id) {
            uses[a.index()] += 1;
            user_op[a.index()] = Some(g.op(id));
        }
    }
    for r in roots {
        uses[r.index()] += 2;
    }
    let mut deferred = vec![false; g.len()];
    for &id in order {
        if uses[id.index()] != 1 {
            continue;
        }
        let args = g.args(id);
        deferred[id.index()] = match (g.op(id), user_op[id.index()]) {
            (Op::Pow, Some(Op::Mul)) => g
                .as_const(args[1])
                .is_some_and(|e| e.is_exact() && e.is_negative()),
            (Op::Mul, Some(Op::Add)) => g.as_const(args[0]).is_some(),
            _ => false,
        };
    }
    deferred
}

struct Lowering<'g> {
    g: &'g mut Graph,
    value: Vec<Option<Operand>>,
    instrs: Vec<Instr>,
    /// Value numbering: an instruction already emitted is reused, so that
    /// the products `a*b*c` and `a*b*c*d` share the local for `a*b*c`.
    emitted: HashMap<(u8, u64, u64), Operand>,
}

/// A hashable identity for an instruction: its kind (with a flag for each
/// constant operand) and its operands' bits (inputs and locals told apart by
/// bit 32, constants by the flags).
fn key(instr: &Instr) -> (u8, u64, u64) {
    let bits = |o: Operand| match o {
        Operand::Input(i) => u64::from(i),
        Operand::Local(i) => (1 << 32) | u64::from(i),
        Operand::Const(c) => c.to_bits(),
    };
    let flag = |o: Operand, f: u8| if matches!(o, Operand::Const(_)) { f } else { 0 };
    let two = |k: u8, a: Operand, b: Operand| (k | flag(a, 0x40) | flag(b, 0x80), bits(a), bits(b));
    match *instr {
        Instr::Add(a, b) => two(1, a, b),
        Instr::Sub(a, b) => two(2, a, b),
        Instr::Mul(a, b) => two(3, a, b),
        Instr::Div(a, b) => two(4, a, b),
        Instr::Neg(a) => (5 | flag(a, 0x40), bits(a), 0),
        Instr::Powi(a, n) => (6 | flag(a, 0x40), bits(a), n as u64),
        Instr::Powf(a, b) => two(7, a, b),
        Instr::Sqrt(a) => (8 | flag(a, 0x40), bits(a), 0),
        Instr::Max(a, b) => two(9, a, b),
        Instr::Min(a, b) => two(10, a, b),
        Instr::Call(f, a) => (11 | flag(a, 0x40), bits(a), f as u64),
        Instr::Atan2(a, b) => two(12, a, b),
    }
}

impl Lowering<'_> {
    fn push(&mut self, instr: Instr) -> Operand {
        // An instruction on constants only (such as `pi + 2` from a formula's
        // named constants) is folded here, in f64, as the code would compute it.
        if instr
            .operands()
            .iter()
            .flatten()
            .all(|o| matches!(o, Operand::Const(_)))
        {
            return Operand::Const(instr.apply(|o| match o {
                Operand::Const(c) => c,
                _ => f64::NAN,
            }));
        }
        let k = key(&instr);
        if let Some(&o) = self.emitted.get(&k) {
            return o;
        }
        self.instrs.push(instr);
        let o = Operand::Local((self.instrs.len() - 1) as u32);
        self.emitted.insert(k, o);
        o
    }

    fn operand(&self, id: NodeId) -> Operand {
        self.value[id.index()].unwrap_or(Operand::Const(f64::NAN))
    }

    fn node(&mut self, id: NodeId) -> crate::Result<Operand> {
        let args: Vec<NodeId> = self.g.args(id).to_vec();
        Ok(match self.g.op(id) {
            Op::Const(n) => Operand::Const(n.to_f64()),
            Op::Named(c) => Operand::Const(c.value()),
            Op::Var(_) => {
                let name = self.g.var_name(id).unwrap_or("?").to_string();
                return Err(crate::Error::new(
                    crate::ErrorKind::UnknownVariable,
                    format!("'{name}' is not an input of the generated function"),
                ));
            }
            op if op.is_tensor() || !self.g.is_scalar(id) => {
                return Err(crate::Error::new(
                    crate::ErrorKind::Shape,
                    format!(
                        "code generation handles scalar formulas only, and '{}' is a tensor \
                         operation (tensor kernels are part 4 of the networks issue)",
                        op.label()
                    ),
                ));
            }
            Op::Add => self.sum(&args),
            Op::Mul => self.product(&args),
            Op::Sub => {
                let (a, b) = (self.operand(args[0]), self.operand(args[1]));
                self.push(Instr::Sub(a, b))
            }
            Op::Div => {
                let (a, b) = (self.operand(args[0]), self.operand(args[1]));
                self.push(Instr::Div(a, b))
            }
            Op::Neg => {
                let a = self.operand(args[0]);
                self.push(Instr::Neg(a))
            }
            // e^x is exp(x).
            Op::Pow if self.g.op(args[0]) == Op::Named(NamedConst::E) => {
                let e = self.operand(args[1]);
                self.push(Instr::Call(Func::Exp, e))
            }
            Op::Pow => {
                let base = self.operand(args[0]);
                match self.g.as_const(args[1]) {
                    Some(e) => self.power(base, e),
                    None => {
                        let e = self.operand(args[1]);
                        self.push(Instr::Powf(base, e))
                    }
                }
            }
            Op::Max => {
                let (a, b) = (self.operand(args[0]), self.operand(args[1]));
                self.push(Instr::Max(a, b))
            }
            Op::Min => {
                let (a, b) = (self.operand(args[0]), self.operand(args[1]));
                self.push(Instr::Min(a, b))
            }
            Op::Atan2 => {
                let (a, b) = (self.operand(args[0]), self.operand(args[1]));
                self.push(Instr::Atan2(a, b))
            }
            Op::Func(Func::Sqrt) => {
                let a = self.operand(args[0]);
                self.push(Instr::Sqrt(a))
            }
            Op::Func(f) => {
                let a = self.operand(args[0]);
                self.push(Instr::Call(f, a))
            }
            _ => unreachable!("tensor operations are refused above"),
        })
    }

    /// `base^e` for a constant exponent: `powi` for integers, `sqrt` for 1/2,
    /// `1/sqrt` for -1/2, `powf` otherwise.
    fn power(&mut self, base: Operand, e: Num) -> Operand {
        if let Some(n) = e.as_int().and_then(|n| i32::try_from(n).ok()) {
            return match n {
                1 => base,
                2 => self.push(Instr::Mul(base, base)),
                -1 => self.push(Instr::Div(Operand::Const(1.0), base)),
                _ => self.push(Instr::Powi(base, n)),
            };
        }
        if e == Num::ratio(1, 2).unwrap_or(e) && e.is_exact() {
            return self.push(Instr::Sqrt(base));
        }
        if e == Num::ratio(-1, 2).unwrap_or(e) && e.is_exact() {
            let s = self.push(Instr::Sqrt(base));
            return self.push(Instr::Div(Operand::Const(1.0), s));
        }
        self.push(Instr::Powf(base, Operand::Const(e.to_f64())))
    }

    /// A term's coefficient (numbers and named constants multiplied
    /// together) and the rest of it as a numerator and a denominator:
    /// `-2*pi*x/y` is `(-6.28..., Some(x), Some(y))`.
    fn split_coefficient(&mut self, term: NodeId) -> (f64, Option<Operand>, Option<Operand>) {
        if self.g.op(term) == Op::Mul {
            let args: Vec<NodeId> = self.g.args(term).to_vec();
            return self.product_parts(&args);
        }
        (1.0, Some(self.operand(term)), None)
    }

    /// A canonical sum: positive terms added, negative ones subtracted (a
    /// positive term goes first, so `x1 - x0^2` is one subtraction), each
    /// term's coefficient applied once, the constant last.
    fn sum(&mut self, terms: &[NodeId]) -> Operand {
        let mut constant = 0.0;
        let mut signed: Vec<(bool, Operand)> = Vec::with_capacity(terms.len());
        for &t in terms {
            if let Some(c) = self.g.as_const(t) {
                constant += c.to_f64();
                continue;
            }
            // A term lowered on its own (shared, or not a scaled product) is
            // used as it is.
            if self.value[t.index()].is_some() || self.g.op(t) != Op::Mul {
                signed.push((false, self.operand(t)));
                continue;
            }
            let (c, numerator, denominator) = self.split_coefficient(t);
            let m = c.abs();
            let scaled = match (numerator, denominator) {
                (Some(a), d) => {
                    let a = if m == 1.0 {
                        a
                    } else {
                        self.push(Instr::Mul(Operand::Const(m), a))
                    };
                    match d {
                        Some(d) => self.push(Instr::Div(a, d)),
                        None => a,
                    }
                }
                (None, Some(d)) => self.push(Instr::Div(Operand::Const(m), d)),
                (None, None) => Operand::Const(m),
            };
            signed.push((c < 0.0, scaled));
        }
        if let Some(k) = signed.iter().position(|&(negative, _)| !negative) {
            let first = signed.remove(k);
            signed.insert(0, first);
        }
        // With no positive term, a constant starts the sum: `1 - x`.
        let mut acc: Option<Operand> = None;
        if signed.first().is_some_and(|&(negative, _)| negative) && constant != 0.0 {
            acc = Some(Operand::Const(constant));
            constant = 0.0;
        }
        for (negative, v) in signed {
            acc = Some(match acc {
                None if negative => self.push(Instr::Neg(v)),
                None => v,
                Some(a) if negative => self.push(Instr::Sub(a, v)),
                Some(a) => self.push(Instr::Add(a, v)),
            });
        }
        match acc {
            None => Operand::Const(constant),
            Some(a) if constant == 0.0 => a,
            Some(a) if constant < 0.0 => self.push(Instr::Sub(a, Operand::Const(-constant))),
            Some(a) => self.push(Instr::Add(a, Operand::Const(constant))),
        }
    }

    /// A canonical product taken apart: the coefficient (numbers and named
    /// constants), the product of the other factors, and the product of the
    /// factors with negative exponents (raised to the positive power).
    fn product_parts(&mut self, factors: &[NodeId]) -> (f64, Option<Operand>, Option<Operand>) {
        let mut coef = 1.0;
        let mut numerator: Vec<Operand> = Vec::new();
        let mut denominator: Vec<Operand> = Vec::new();
        for &f in factors {
            if let Some(c) = self.g.as_const(f) {
                coef *= c.to_f64();
                continue;
            }
            // Named constants join the coefficient too: pi*x/2 is one multiply.
            if let Op::Named(c) = self.g.op(f) {
                coef *= c.value();
                continue;
            }
            if self.g.op(f) == Op::Pow && self.value[f.index()].is_none() {
                let (base, e) = (self.g.args(f)[0], self.g.args(f)[1]);
                if let Some(e) = self
                    .g
                    .as_const(e)
                    .filter(|e| e.is_negative() && e.is_exact())
                {
                    let b = self.operand(base);
                    let p = self.power(b, e.neg());
                    denominator.push(p);
                    continue;
                }
            }
            numerator.push(self.operand(f));
        }
        let mut acc: Option<Operand> = None;
        for v in numerator {
            acc = Some(match acc {
                None => v,
                Some(a) => self.push(Instr::Mul(a, v)),
            });
        }
        let mut den: Option<Operand> = None;
        for v in denominator {
            den = Some(match den {
                None => v,
                Some(a) => self.push(Instr::Mul(a, v)),
            });
        }
        (coef, acc, den)
    }

    /// A canonical product: the numerator times the coefficient, divided by
    /// the product of the factors with negative exponents.
    fn product(&mut self, factors: &[NodeId]) -> Operand {
        let (coef, acc, den) = self.product_parts(factors);
        let mut value = match (acc, den) {
            (Some(a), Some(d)) => self.push(Instr::Div(a, d)),
            (Some(a), None) => a,
            (None, Some(d)) => self.push(Instr::Div(Operand::Const(coef.abs()), d)),
            (None, None) => return Operand::Const(coef),
        };
        if acc.is_none() && den.is_some() {
            // The coefficient's magnitude is already the numerator.
            if coef < 0.0 {
                value = self.push(Instr::Neg(value));
            }
            return value;
        }
        if coef == -1.0 {
            value = self.push(Instr::Neg(value));
        } else if coef != 1.0 {
            value = self.push(Instr::Mul(Operand::Const(coef), value));
        }
        value
    }
}

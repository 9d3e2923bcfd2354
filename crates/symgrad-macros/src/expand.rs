//! Expansion: a checked body evaluated symbolically into a graph.
//!
//! Float values are graph nodes, integers are folded as they are computed,
//! and `for` loops are unrolled by running their body once per iteration.
//! Each step does constant work plus one hash-consed node, so building is
//! linear in the size of the unrolled function.

use crate::body::{Arith, Block, Body, Callee, Constant, Expr, Kind, Stmt};
use crate::sig::Sig;
use symgrad_core::{Func, Graph, NamedConst, NodeId, Num};

/// The most loop iterations a body may unroll to, in all.
pub(crate) const MAX_ITERATIONS: u64 = 1_000_000;

#[derive(Clone, Copy)]
enum Val {
    Int(i64),
    Float(NodeId),
    /// An array parameter: its inputs start at `start`.
    Array {
        start: usize,
    },
}

/// The graph of a body: its output node and its inputs in parameter order.
pub(crate) struct Expanded {
    pub graph: Graph,
    pub output: NodeId,
    pub inputs: Vec<NodeId>,
}

struct Expander {
    g: Graph,
    slots: Vec<Val>,
    inputs: Vec<NodeId>,
    iterations: u64,
    /// The loop variables in scope and their current values, for messages.
    loops: Vec<(String, i64)>,
}

type Result<T> = std::result::Result<T, syn::Error>;

/// Evaluates `body` into a graph.
pub(crate) fn expand(sig: &Sig<'_>, body: &Body<'_>) -> Result<Expanded> {
    let mut x = Expander {
        g: Graph::new(),
        slots: vec![Val::Int(0); body.slots],
        inputs: Vec::with_capacity(sig.width()),
        iterations: 0,
        loops: Vec::new(),
    };
    for (i, p) in sig.params.iter().enumerate() {
        let name = p.ident.to_string();
        let val = match p.len {
            None => {
                let v = x.g.var(&name);
                x.inputs.push(v);
                Val::Float(v)
            }
            Some(len) => {
                let start = x.inputs.len();
                for k in 0..len {
                    let v = x.g.var(&format!("{name}[{k}]"));
                    x.inputs.push(v);
                }
                Val::Array { start }
            }
        };
        x.set(i, val);
    }
    let out = x.block(&body.block)?;
    let output = match out {
        Some(v) => x.float(v),
        None => x.g.int(0),
    };
    Ok(Expanded {
        graph: x.g,
        output,
        inputs: x.inputs,
    })
}

impl Expander {
    fn set(&mut self, slot: usize, v: Val) {
        if let Some(s) = self.slots.get_mut(slot) {
            *s = v;
        }
    }

    fn get(&self, slot: usize) -> Val {
        self.slots.get(slot).copied().unwrap_or(Val::Int(0))
    }

    fn float(&mut self, v: Val) -> NodeId {
        match v {
            Val::Float(n) => n,
            Val::Int(i) => self.g.int(i),
            // The checker never lets an array be a value.
            Val::Array { .. } => self.g.int(0),
        }
    }

    fn error(&self, e: &Expr<'_>, message: impl std::fmt::Display) -> syn::Error {
        let context = if self.loops.is_empty() {
            String::new()
        } else {
            let values: Vec<String> = self
                .loops
                .iter()
                .filter(|(n, _)| n != "_")
                .map(|(n, v)| format!("{n} = {v}"))
                .collect();
            if values.is_empty() {
                String::new()
            } else {
                format!(" (when {})", values.join(", "))
            }
        };
        syn::Error::new_spanned(e.syn, format!("{message}{context}"))
    }

    fn int(&mut self, e: &Expr<'_>) -> Result<i64> {
        match self.expr(e)? {
            Val::Int(i) => Ok(i),
            _ => Err(self.error(e, "expected a constant integer")),
        }
    }

    fn block(&mut self, b: &Block<'_>) -> Result<Option<Val>> {
        for s in &b.stmts {
            self.stmt(s)?;
        }
        match &b.result {
            Some(e) => self.expr(e).map(Some),
            None => Ok(None),
        }
    }

    fn stmt(&mut self, s: &Stmt<'_>) -> Result<()> {
        match s {
            Stmt::Set { slot, op, value } => {
                let v = self.expr(value)?;
                let v = match op {
                    None => v,
                    Some(op) => {
                        let old = self.get(*slot);
                        self.arith(*op, old, v, value)?
                    }
                };
                self.set(*slot, v);
            }
            Stmt::Block(b) => {
                self.block(b)?;
            }
            Stmt::For {
                slot,
                name,
                start,
                end,
                inclusive,
                body,
                syn,
            } => {
                let a = self.int(start)?;
                let mut b = self.int(end)?;
                if *inclusive {
                    b = b
                        .checked_add(1)
                        .ok_or_else(|| self.error(end, "loop bound overflows"))?;
                }
                let count = u64::try_from(b.saturating_sub(a)).unwrap_or(0);
                self.iterations = self.iterations.saturating_add(count);
                if self.iterations > MAX_ITERATIONS {
                    return Err(syn::Error::new_spanned(
                        &syn.expr,
                        format!(
                            "the loops unroll to more than {MAX_ITERATIONS} iterations in all: \
                             symgrad unrolls loops when the macro runs"
                        ),
                    ));
                }
                self.loops.push((name.clone(), a));
                for i in a..b {
                    if let Some(top) = self.loops.last_mut() {
                        top.1 = i;
                    }
                    self.set(*slot, Val::Int(i));
                    self.block(body)?;
                }
                self.loops.pop();
            }
        }
        Ok(())
    }

    fn arith(&mut self, op: Arith, a: Val, b: Val, at: &Expr<'_>) -> Result<Val> {
        if let (Val::Int(x), Val::Int(y)) = (a, b) {
            let r = match op {
                Arith::Add => x.checked_add(y),
                Arith::Sub => x.checked_sub(y),
                Arith::Mul => x.checked_mul(y),
                Arith::Div if y == 0 => return Err(self.error(at, "integer division by zero")),
                Arith::Div => x.checked_div(y),
                Arith::Rem if y == 0 => return Err(self.error(at, "integer remainder by zero")),
                Arith::Rem => x.checked_rem(y),
            };
            return r
                .map(Val::Int)
                .ok_or_else(|| self.error(at, "integer overflow"));
        }
        let (x, y) = (self.float(a), self.float(b));
        Ok(Val::Float(match op {
            Arith::Add => self.g.add(x, y),
            Arith::Sub => self.g.sub(x, y),
            Arith::Mul => self.g.mul(x, y),
            // `%` on floats is refused by the checker.
            Arith::Div | Arith::Rem => self.g.div(x, y),
        }))
    }

    fn expr(&mut self, e: &Expr<'_>) -> Result<Val> {
        Ok(match &e.kind {
            Kind::Num(n) => Val::Float(self.g.constant(*n)),
            Kind::Int(i) => Val::Int(*i),
            Kind::Slot(s) => self.get(*s),
            Kind::Index { slot, len, index } => {
                let i = self.int(index)?;
                let Val::Array { start, .. } = self.get(*slot) else {
                    return Err(self.error(e, "only array parameters can be indexed"));
                };
                let element = usize::try_from(i)
                    .ok()
                    .filter(|&k| k < *len)
                    .and_then(|k| self.inputs.get(start + k).copied());
                match element {
                    Some(v) => Val::Float(v),
                    None => {
                        return Err(self.error(
                            index,
                            format!(
                            "index out of bounds: the array has length {len} but the index is {i}"
                        ),
                        ))
                    }
                }
            }
            Kind::Binary(op, a, b) => {
                let x = self.expr(a)?;
                let y = self.expr(b)?;
                self.arith(*op, x, y, e)?
            }
            Kind::Neg(a) => match self.expr(a)? {
                Val::Int(i) => Val::Int(
                    i.checked_neg()
                        .ok_or_else(|| self.error(e, "integer overflow"))?,
                ),
                v => {
                    let x = self.float(v);
                    Val::Float(self.g.neg(x))
                }
            },
            Kind::ToFloat(a) => {
                let v = self.expr(a)?;
                Val::Float(self.float(v))
            }
            Kind::Const(c) => Val::Float(self.constant(*c)),
            Kind::Block(b) => {
                let v = self.block(b)?;
                match v {
                    Some(v) => v,
                    None => return Err(self.error(e, "the block has no value")),
                }
            }
            Kind::Call(callee, args) => self.call(*callee, args, e)?,
        })
    }

    fn call(&mut self, callee: Callee, args: &[Expr<'_>], e: &Expr<'_>) -> Result<Val> {
        let mut vals = Vec::with_capacity(2);
        for (i, a) in args.iter().enumerate() {
            let v = self.expr(a)?;
            vals.push(if callee == Callee::Powi && i == 1 {
                v
            } else {
                Val::Float(self.float(v))
            });
        }
        let node = |v: Option<&Val>| match v {
            Some(Val::Float(n)) => Some(*n),
            _ => None,
        };
        let a = node(vals.first());
        let Some(a) = a else {
            return Err(self.error(e, "missing argument"));
        };
        let g = &mut self.g;
        let out = match callee {
            Callee::Func(f) => g.func(f, a),
            Callee::Powi => match vals.get(1) {
                Some(Val::Int(n)) => g.powi(a, *n),
                _ => return Err(self.error(e, "the exponent of `powi` must be a constant integer")),
            },
            Callee::Powf | Callee::Max | Callee::Min => {
                let Some(b) = node(vals.get(1)) else {
                    return Err(self.error(e, "missing argument"));
                };
                match callee {
                    Callee::Powf => g.pow(a, b),
                    Callee::Max => g.max(a, b),
                    _ => g.min(a, b),
                }
            }
            Callee::Log10 | Callee::Log2 => {
                let base = g.int(if callee == Callee::Log10 { 10 } else { 2 });
                let ln_a = g.func(Func::Ln, a);
                let ln_base = g.func(Func::Ln, base);
                g.div(ln_a, ln_base)
            }
            Callee::Recip => {
                let one = g.int(1);
                g.div(one, a)
            }
        };
        Ok(Val::Float(out))
    }

    fn constant(&mut self, c: Constant) -> NodeId {
        let g = &mut self.g;
        match c {
            Constant::Pi => g.named(NamedConst::Pi),
            Constant::E => g.named(NamedConst::E),
            Constant::Tau => {
                let two = g.int(2);
                let pi = g.named(NamedConst::Pi);
                g.mul(two, pi)
            }
            Constant::PiOver(n) => {
                let pi = g.named(NamedConst::Pi);
                let n = g.int(n);
                g.div(pi, n)
            }
            Constant::OverPi(n) => {
                let pi = g.named(NamedConst::Pi);
                let n = g.int(n);
                g.div(n, pi)
            }
            Constant::Ln(n) => {
                let n = g.int(n);
                g.func(Func::Ln, n)
            }
            Constant::Sqrt(n) => {
                let n = g.int(n);
                g.func(Func::Sqrt, n)
            }
            Constant::InvSqrt(n) => {
                let n = g.int(n);
                let root = g.func(Func::Sqrt, n);
                let one = g.constant(Num::int(1));
                g.div(one, root)
            }
            Constant::InvLn(n) => {
                let n = g.int(n);
                let ln = g.func(Func::Ln, n);
                let one = g.int(1);
                g.div(one, ln)
            }
        }
    }
}

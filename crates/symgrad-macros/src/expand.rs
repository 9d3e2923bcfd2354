//! Expansion: a checked body evaluated symbolically into a graph.
//!
//! Float values are graph nodes, integers are folded as they are computed,
//! and `for` loops are unrolled by running their body once per iteration.
//! Each step does constant work plus one hash-consed node, so building is
//! linear in the size of the unrolled function.
//!
//! An *accumulation loop* (see [`crate::looped`]) is not unrolled when the
//! caller asks for loops: its body runs once, symbolically, with the loop
//! variable an affine value `a*i + b`, every array read `x[a*i + b]` and
//! every value from before the loop a variable of its own, and the updates
//! `acc += e` summed into one term per accumulator. After the loop each
//! accumulator is a fresh variable standing for its final value, and the
//! loop is recorded in [`Expanded::loops`] for [`crate::looped`] to emit as
//! a Rust `for` loop.

use crate::body::{Arith, Block, Body, Constant, Expr, Kind, Stmt};
use crate::callee::Callee;
use crate::looped::{Acc, Looped, Read};
use crate::sig::Sig;
use std::collections::HashMap;
use symgrad_core::{Func, Graph, NamedConst, NodeId, Num, Op};

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
    /// Inside an accumulation loop: the integer `a*i + b` of its loop
    /// variable `i` (never with `a == 0`, which is an `Int`).
    Affine {
        a: i64,
        b: i64,
    },
}

/// The graph of a body: its output node and its inputs in parameter order.
pub(crate) struct Expanded {
    pub graph: Graph,
    pub output: NodeId,
    pub inputs: Vec<NodeId>,
    /// The accumulation loops kept as loops, in program order (empty when
    /// loops were unrolled).
    pub loops: Vec<Looped>,
}

/// How `for` loops are expanded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Loops {
    /// Every loop unrolled: the graph is the whole function.
    Unroll,
    /// Accumulation loops kept as loops (see [`crate::looped`]), the others
    /// unrolled.
    Keep,
}

/// The state of an accumulation loop whose body is being expanded once.
struct Symbolic {
    /// The loop variable's slot: slots below it were bound before the loop.
    slot: usize,
    name: String,
    /// The range, `start..end`, with `0 <= start < end`.
    start: i64,
    end: i64,
    /// Each accumulator's slot and the sum of its updates so far.
    accs: Vec<(usize, Option<NodeId>)>,
    /// The body's inputs, each with its variable node.
    reads: Vec<(Read, NodeId)>,
}

struct Expander {
    g: Graph,
    slots: Vec<Val>,
    inputs: Vec<NodeId>,
    /// The position of each input node in `inputs`.
    input_pos: HashMap<NodeId, usize>,
    iterations: u64,
    /// The loop variables in scope and their current values, for messages.
    loops: Vec<(String, i64)>,
    mode: Loops,
    symbolic: Option<Symbolic>,
    kept: Vec<Looped>,
}

type Result<T> = std::result::Result<T, syn::Error>;

/// Evaluates `body` into a graph.
pub(crate) fn expand(sig: &Sig<'_>, body: &Body<'_>, mode: Loops) -> Result<Expanded> {
    let mut x = Expander {
        g: Graph::new(),
        slots: vec![Val::Int(0); body.slots],
        inputs: Vec::with_capacity(sig.width()),
        input_pos: HashMap::new(),
        iterations: 0,
        loops: Vec::new(),
        mode,
        symbolic: None,
        kept: Vec::new(),
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
    x.input_pos = x.inputs.iter().enumerate().map(|(i, &v)| (v, i)).collect();
    let out = x.block(&body.block)?;
    let output = match out {
        Some(v) => x.float(v),
        None => x.g.int(0),
    };
    Ok(Expanded {
        graph: x.g,
        output,
        inputs: x.inputs,
        loops: x.kept,
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
            // The checker never lets an array be a value, and an affine
            // integer becomes a float only through `Kind::ToFloat`.
            Val::Array { .. } | Val::Affine { .. } => self.g.int(0),
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
                if self.accumulate(*slot, *op, v) {
                    return Ok(());
                }
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
                // Only from outside any kept loop (the checker refuses a
                // kept loop with a loop inside it).
                if self.mode == Loops::Keep && self.symbolic.is_none() && 0 <= a && a < b {
                    if let Some(accs) = crate::looped::accumulators(*slot, body, |s| {
                        matches!(self.get(s), Val::Float(_))
                    }) {
                        return self.keep_loop(*slot, name, a, b, accs, body);
                    }
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

    /// Expands an accumulation loop once, symbolically, and records it.
    fn keep_loop(
        &mut self,
        slot: usize,
        name: &str,
        start: i64,
        end: i64,
        accs: Vec<usize>,
        body: &Block<'_>,
    ) -> Result<()> {
        self.symbolic = Some(Symbolic {
            slot,
            name: name.to_string(),
            start,
            end,
            accs: accs.into_iter().map(|s| (s, None)).collect(),
            reads: Vec::new(),
        });
        self.set(slot, Val::Affine { a: 1, b: 0 });
        let done = self.block(body);
        let symbolic = self.symbolic.take();
        done?;
        let Some(symbolic) = symbolic else {
            return Ok(());
        };
        let number = self.kept.len();
        let mut kept_accs = Vec::new();
        for (k, (acc, term)) in symbolic.accs.into_iter().enumerate() {
            let Some(term) = term else { continue };
            let init = self.get(acc);
            let init = self.float(init);
            // `#` cannot appear in a parameter name: no clash.
            let var = self.g.var(&format!("#acc{number}_{k}"));
            self.set(acc, Val::Float(var));
            kept_accs.push(Acc { init, term, var });
        }
        self.kept.push(Looped {
            start,
            end,
            reads: symbolic.reads,
            accs: kept_accs,
        });
        Ok(())
    }

    /// In an accumulation loop, `acc += v` or `acc -= v` adds to the
    /// accumulator's term instead of assigning; returns whether it did.
    fn accumulate(&mut self, slot: usize, op: Option<Arith>, v: Val) -> bool {
        let Some(sym) = &self.symbolic else {
            return false;
        };
        if slot >= sym.slot {
            return false;
        }
        let v = self.float(v);
        let Some(sym) = &mut self.symbolic else {
            return false;
        };
        let Some(entry) = sym.accs.iter_mut().find(|(s, _)| *s == slot) else {
            return false;
        };
        entry.1 = Some(match (entry.1, op) {
            (None, Some(Arith::Sub)) => self.g.neg(v),
            (None, _) => v,
            (Some(t), Some(Arith::Sub)) => self.g.sub(t, v),
            (Some(t), _) => self.g.add(t, v),
        });
        true
    }

    /// A slot's value; in an accumulation loop, a float bound before the
    /// loop is read as a variable of the body.
    fn read(&mut self, slot: usize) -> Val {
        let v = self.get(slot);
        match (&self.symbolic, v) {
            (Some(sym), Val::Float(n)) if slot < sym.slot => Val::Float(self.outer(n)),
            _ => v,
        }
    }

    /// In an accumulation loop, the body's variable for a node computed
    /// outside it: the node itself for constants and inputs (recorded as
    /// read), a fresh variable for anything else.
    fn outer(&mut self, n: NodeId) -> NodeId {
        if self.symbolic.is_none() || matches!(self.g.op(n), Op::Const(_) | Op::Named(_)) {
            return n;
        }
        let read = match self.input_pos.get(&n) {
            Some(&j) => Read::Input(j),
            None => Read::Outer(n),
        };
        self.body_input(read)
    }

    /// The variable standing for `read` in the current loop's body.
    fn body_input(&mut self, read: Read) -> NodeId {
        let number = self.kept.len();
        let existing = self
            .symbolic
            .as_ref()
            .and_then(|s| s.reads.iter().find(|(r, _)| *r == read).map(|&(_, v)| v));
        if let Some(v) = existing {
            return v;
        }
        let var = match read {
            Read::Input(j) => self.inputs.get(j).copied(),
            _ => None,
        };
        let count = self.symbolic.as_ref().map_or(0, |s| s.reads.len());
        let var = var.unwrap_or_else(|| self.g.var(&format!("#read{number}_{count}")));
        if let Some(s) = &mut self.symbolic {
            s.reads.push((read, var));
        }
        var
    }

    /// `x[a*i + b]` in an accumulation loop: checked at both ends of the
    /// range (an affine index takes every value in between).
    fn affine_index(
        &mut self,
        slot: usize,
        len: usize,
        a: i64,
        b: i64,
        index: &Expr<'_>,
    ) -> Result<Val> {
        let Val::Array { start } = self.get(slot) else {
            return Err(self.error(index, "only array parameters can be indexed"));
        };
        let Some(sym) = &self.symbolic else {
            return Err(self.error(index, "expected a constant integer"));
        };
        let (name, first, last) = (sym.name.clone(), sym.start, sym.end - 1);
        for i in [first, last] {
            let k = a.checked_mul(i).and_then(|x| x.checked_add(b));
            let fits = k
                .and_then(|k| usize::try_from(k).ok())
                .is_some_and(|k| k < len);
            if !fits {
                let shown = k.map_or_else(|| "out of range".to_string(), |k| k.to_string());
                self.loops.push((name, i));
                let e = self.error(
                    index,
                    format!(
                        "index out of bounds: the array has length {len} but the index is {shown}"
                    ),
                );
                self.loops.pop();
                return Err(e);
            }
        }
        Ok(Val::Float(self.body_input(Read::Element {
            param: slot,
            start,
            a,
            b,
        })))
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
        if let (Some((a1, b1)), Some((a2, b2))) = (affine(a), affine(b)) {
            // The checker lets through only what stays affine: sums, and
            // products with a constant.
            let r = match op {
                Arith::Add => a1.checked_add(a2).zip(b1.checked_add(b2)),
                Arith::Sub => a1.checked_sub(a2).zip(b1.checked_sub(b2)),
                Arith::Mul if a1 == 0 => a2.checked_mul(b1).zip(b2.checked_mul(b1)),
                Arith::Mul if a2 == 0 => a1.checked_mul(b2).zip(b1.checked_mul(b2)),
                _ => {
                    return Err(self.error(
                        at,
                        "symgrad-macros bug: a non-affine index reached an accumulation loop",
                    ))
                }
            };
            return match r {
                Some((0, b)) => Ok(Val::Int(b)),
                Some((a, b)) => Ok(Val::Affine { a, b }),
                None => Err(self.error(at, "integer overflow")),
            };
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
            Kind::Slot(s) => self.read(*s),
            Kind::Index { slot, len, index } => {
                let i = match self.expr(index)? {
                    Val::Int(i) => i,
                    Val::Affine { a, b } => return self.affine_index(*slot, *len, a, b, index),
                    _ => return Err(self.error(index, "expected a constant integer")),
                };
                let Val::Array { start, .. } = self.get(*slot) else {
                    return Err(self.error(e, "only array parameters can be indexed"));
                };
                let element = usize::try_from(i)
                    .ok()
                    .filter(|&k| k < *len)
                    .and_then(|k| self.inputs.get(start + k).copied());
                match element {
                    Some(v) => Val::Float(self.outer(v)),
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
                v @ Val::Affine { .. } => self.arith(Arith::Sub, Val::Int(0), v, e)?,
                v => {
                    let x = self.float(v);
                    Val::Float(self.g.neg(x))
                }
            },
            Kind::ToFloat(a) => match self.expr(a)? {
                Val::Affine { a, b } => Val::Float(self.body_input(Read::Float { a, b })),
                v => Val::Float(self.float(v)),
            },
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
            Callee::Builtin(b) => {
                let floats: Option<Vec<NodeId>> = vals.iter().map(|v| node(Some(v))).collect();
                match floats.and_then(|args| b.build(g, &args)) {
                    Some(out) => out,
                    None => return Err(self.error(e, "missing argument")),
                }
            }
            Callee::Powi => match vals.get(1) {
                Some(Val::Int(n)) => g.powi(a, *n),
                _ => return Err(self.error(e, "the exponent of `powi` must be a constant integer")),
            },
            Callee::Powf => {
                let Some(b) = node(vals.get(1)) else {
                    return Err(self.error(e, "missing argument"));
                };
                g.pow(a, b)
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

/// An integer as `(a, b)` in `a*i + b`.
fn affine(v: Val) -> Option<(i64, i64)> {
    match v {
        Val::Int(b) => Some((0, b)),
        Val::Affine { a, b } => Some((a, b)),
        _ => None,
    }
}

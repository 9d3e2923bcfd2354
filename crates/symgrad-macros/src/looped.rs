//! Accumulation loops kept as loops in generated gradients.
//!
//! Unrolling `for i in 0..999 { s += term(x[i], x[i + 1]); }` gives some
//! 17,000 straight-line instructions for Rosenbrock n = 1000, which no
//! longer fit the instruction cache. Loops of this common shape are instead
//! differentiated once and emitted as a Rust `for` loop.
//!
//! **The pattern** ([`accumulators`]): a `for` loop over a constant range
//! `A..B` (`0 <= A < B`) whose body (including nested blocks) contains only
//!
//! - `let` bindings of loop-locals, and assignments to them (any operator);
//! - `acc += e` or `acc -= e` where `acc` is a float bound before the loop
//!   (an *accumulator*);
//!
//! where no expression reads an accumulator, every integer expression is
//! affine in the loop variable (`i`, `i + 1`, `2*i + c`, `n - 1 - i`; a
//! product needs a factor that does not depend on `i`, and `/` and `%` need
//! both sides independent of `i`), and the exponent of `powi` does not
//! depend on `i`. Anything else (an accumulator read in the loop, `*=` or
//! `=` on a value from before the loop, a loop inside the body, `x[i * i]`,
//! `x[i / 2]`, a negative start) is unrolled as before.
//!
//! **The maths.** Inside the body every array read `x[a*i + b]`, every
//! input and every value from before the loop is a variable `r_k`, and each
//! accumulator gets one term `e = Σ ±update`; the loop adds `e` and scatters
//! `∂e/∂r_k` into an array `D` (for array elements and parameters, at the
//! read's own index) or a scalar `P_k` (for values computed before the
//! loop). After the loop the accumulator is a variable `A` of the outer
//! graph. The gradient is one backward pass over the outer graph ([`adjoints`])
//! in which `A` passes its adjoint `w` on to its initial value (with factor
//! one) and to each value `u` read in the loop (with factor `P_u`); the
//! gradient is then the adjoint of each input plus `Σ w · D`.
//!
//! **Emission** ([`gradient_parts`]): the outer graph (the code before,
//! between and after the loops, and the adjoints) is lowered to one SSA
//! function, so it is simplified and value-numbered as a whole; each
//! instruction is placed after the last loop whose results it reads. Each
//! loop body is lowered to an SSA function of its own.
//!
//! The Hessian keeps unrolling: its second derivatives would need a loop
//! over pairs of reads, and the Hessian is for small functions anyway.

use crate::body::{Arith, Block, Expr, Kind, Stmt};
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};
use std::collections::HashMap;
use symgrad_core::diff::reverse;
use symgrad_core::diff::rules::vjp;
use symgrad_core::emit::rust::{input_expressions, statements, Statements};
use symgrad_core::emit::{Float, Function, Operand, Param};
use symgrad_core::{Graph, NodeId};

/// What a kept loop's body reads, each a variable of the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Read {
    /// `x[a*i + b]` of the array parameter in slot `param`, whose elements
    /// are the inputs from `start`.
    Element {
        param: usize,
        start: usize,
        a: i64,
        b: i64,
    },
    /// Input `j` (a scalar parameter, or an element at a constant index).
    Input(usize),
    /// A value computed before the loop (a node of the outer graph).
    Outer(NodeId),
    /// `(a*i + b) as f64`: no derivative.
    Float { a: i64, b: i64 },
}

/// An accumulator of a kept loop.
pub(crate) struct Acc {
    /// Its value before the loop (outer graph).
    pub init: NodeId,
    /// What one iteration adds to it, over the body's variables.
    pub term: NodeId,
    /// The variable standing for its value after the loop.
    pub var: NodeId,
}

/// A loop kept as a loop.
pub(crate) struct Looped {
    pub start: i64,
    pub end: i64,
    /// The body's inputs and their variables, in order of first read.
    pub reads: Vec<(Read, NodeId)>,
    pub accs: Vec<Acc>,
}

// ------------------------------------------------------------ the pattern

/// The accumulators of the loop whose variable is in `slot`, in order of
/// first update, when the loop has the pattern of this module's doc;
/// `None` when it must be unrolled. `is_float(s)` says whether slot `s`
/// (bound before the loop) holds a float.
pub(crate) fn accumulators(
    slot: usize,
    body: &Block<'_>,
    is_float: impl Fn(usize) -> bool,
) -> Option<Vec<usize>> {
    let mut accs = Vec::new();
    collect(slot, body, &is_float, &mut accs)?;
    let mut check = Check {
        slot,
        accs: &accs,
        varying: HashMap::new(),
    };
    check.block(body)?;
    Some(accs)
}

/// The slots before the loop that the body updates; `None` when an update
/// is not `+=`/`-=` on a float, or the body has a loop.
fn collect(
    slot: usize,
    b: &Block<'_>,
    is_float: &impl Fn(usize) -> bool,
    accs: &mut Vec<usize>,
) -> Option<()> {
    for s in &b.stmts {
        match s {
            Stmt::Set { slot: s, op, value } => {
                if *s < slot {
                    if !matches!(op, Some(Arith::Add | Arith::Sub)) || !is_float(*s) {
                        return None;
                    }
                    if !accs.contains(s) {
                        accs.push(*s);
                    }
                }
                collect_expr(slot, value, is_float, accs)?;
            }
            Stmt::Block(b) => collect(slot, b, is_float, accs)?,
            Stmt::For { .. } => return None,
        }
    }
    match &b.result {
        Some(e) => collect_expr(slot, e, is_float, accs),
        None => Some(()),
    }
}

/// [`collect`] inside the blocks an expression contains.
fn collect_expr(
    slot: usize,
    e: &Expr<'_>,
    is_float: &impl Fn(usize) -> bool,
    accs: &mut Vec<usize>,
) -> Option<()> {
    match &e.kind {
        Kind::Block(b) => collect(slot, b, is_float, accs),
        Kind::Index { index, .. } => collect_expr(slot, index, is_float, accs),
        Kind::Binary(_, a, b) => {
            collect_expr(slot, a, is_float, accs)?;
            collect_expr(slot, b, is_float, accs)
        }
        Kind::Neg(a) | Kind::ToFloat(a) => collect_expr(slot, a, is_float, accs),
        Kind::Call(_, args) => args
            .iter()
            .try_for_each(|a| collect_expr(slot, a, is_float, accs)),
        Kind::Num(_) | Kind::Int(_) | Kind::Slot(_) | Kind::Const(_) => Some(()),
    }
}

/// Walks the body in order, checking reads and index arithmetic.
struct Check<'c> {
    slot: usize,
    accs: &'c [usize],
    /// Whether each integer loop-local depends on the loop variable.
    varying: HashMap<usize, bool>,
}

impl Check<'_> {
    fn block(&mut self, b: &Block<'_>) -> Option<()> {
        for s in &b.stmts {
            match s {
                Stmt::Set { slot, op, value } => {
                    let v = self.expr(value)?;
                    if *slot > self.slot {
                        let before =
                            op.is_some() && self.varying.get(slot).copied().unwrap_or(true);
                        self.varying.insert(*slot, v || before);
                    }
                }
                Stmt::Block(b) => self.block(b)?,
                Stmt::For { .. } => return None,
            }
        }
        match &b.result {
            Some(e) => self.expr(e).map(|_| ()),
            None => Some(()),
        }
    }

    /// `Some(varying)`: whether the (integer) value depends on the loop
    /// variable; `None` when the pattern does not hold.
    fn expr(&mut self, e: &Expr<'_>) -> Option<bool> {
        Some(match &e.kind {
            Kind::Num(_) | Kind::Int(_) | Kind::Const(_) => false,
            Kind::Slot(s) => {
                if self.accs.contains(s) {
                    return None;
                }
                match s.cmp(&self.slot) {
                    std::cmp::Ordering::Equal => true,
                    std::cmp::Ordering::Greater => self.varying.get(s).copied().unwrap_or(true),
                    std::cmp::Ordering::Less => false,
                }
            }
            Kind::Index { index, .. } => {
                self.expr(index)?;
                false
            }
            Kind::Binary(op, a, b) => {
                let (va, vb) = (self.expr(a)?, self.expr(b)?);
                match op {
                    Arith::Add | Arith::Sub => va || vb,
                    Arith::Mul if va && vb => return None,
                    Arith::Mul => va || vb,
                    Arith::Div | Arith::Rem if va || vb => return None,
                    Arith::Div | Arith::Rem => false,
                }
            }
            Kind::Neg(a) => self.expr(a)?,
            Kind::ToFloat(a) => {
                self.expr(a)?;
                false
            }
            Kind::Call(callee, args) => {
                for (i, a) in args.iter().enumerate() {
                    let v = self.expr(a)?;
                    if v && i == 1 && *callee == crate::callee::Callee::Powi {
                        return None;
                    }
                }
                false
            }
            Kind::Block(b) => {
                self.block(b)?;
                false
            }
        })
    }
}

// ------------------------------------------------------- the backward pass

/// A virtual edge of the backward pass: an accumulator's variable passes
/// its adjoint to `target`, times `factor` (1 when `None`).
struct Edge {
    target: NodeId,
    factor: Option<NodeId>,
}

/// Reverse mode from `output` over the outer graph, where each node in
/// `virtual_edges` (an accumulator's variable) sends its adjoint along its
/// edges instead of to operands. Every edge points to an earlier node (the
/// accumulator's variable is created after its initial value and after
/// everything its loop reads), so one pass in reverse insertion order sees
/// each adjoint complete before passing it on.
fn adjoints(
    g: &mut Graph,
    output: NodeId,
    virtual_edges: &HashMap<NodeId, Vec<Edge>>,
) -> Vec<Option<NodeId>> {
    let len = output.index() + 1;
    let mut adjoint: Vec<Option<NodeId>> = vec![None; g.len()];
    adjoint[output.index()] = Some(g.int(1));
    let add = |g: &mut Graph, adjoint: &mut Vec<Option<NodeId>>, a: NodeId, c: NodeId| {
        if g.is_int(c, 0) {
            return;
        }
        adjoint[a.index()] = Some(match adjoint[a.index()] {
            None => c,
            Some(sum) => g.add(sum, c),
        });
    };
    for index in (0..len).rev() {
        let v = NodeId::from_index(index);
        let Some(v_bar) = adjoint[index] else {
            continue;
        };
        if let Some(edges) = virtual_edges.get(&v) {
            for e in edges {
                let c = match e.factor {
                    Some(f) => g.mul(v_bar, f),
                    None => v_bar,
                };
                add(g, &mut adjoint, e.target, c);
            }
            continue;
        }
        if g.args(v).is_empty() {
            continue;
        }
        // The rule table's vector-Jacobian product: v̄ times each operand's
        // local derivative (scalar graphs only here).
        for (slot, c) in vjp(g, v, v_bar) {
            let a = g.args(v)[slot];
            add(g, &mut adjoint, a, c);
        }
    }
    adjoint
}

// ---------------------------------------------------------------- emission

/// One loop's lowered body and the names its code uses.
struct LoweredLoop {
    body: Function,
    /// Per accumulator: its scatter array's name, when it has one.
    arrays: Vec<Option<Ident>>,
    /// Per accumulator, per read: the outer variable `P` its partial goes
    /// to, for `Read::Outer` reads with a non-zero partial.
    scalars: Vec<Vec<Option<NodeId>>>,
}

/// The parameter list, return type and body block of a gradient function
/// whose body has kept loops (see the module doc).
pub(crate) fn gradient_parts(
    g: &mut Graph,
    output: NodeId,
    inputs: &[NodeId],
    loops: &[Looped],
    params: &[Param],
    float: Float,
) -> symgrad_core::Result<((TokenStream, TokenStream), TokenStream)> {
    let n = inputs.len();
    let ty = float.tokens();
    let prefix = unique_prefix(params);
    let name = |what: &str| format_ident!("{}{}", prefix, what);

    // Each body: its term and the partials of the term, per accumulator.
    let mut lowered = Vec::with_capacity(loops.len());
    let mut scalar_vars: Vec<NodeId> = Vec::new();
    let mut scalar_stage: Vec<usize> = Vec::new();
    for (l, lp) in loops.iter().enumerate() {
        let vars: Vec<NodeId> = lp.reads.iter().map(|&(_, v)| v).collect();
        let mut outs: Vec<NodeId> = lp.accs.iter().map(|a| a.term).collect();
        for acc in &lp.accs {
            let (partials, _) = reverse::gradient(g, acc.term, &vars);
            // `i as f64` has no derivative to scatter: drop its partial.
            let zero = g.int(0);
            outs.extend(partials.into_iter().zip(&lp.reads).map(|(d, (read, _))| {
                if matches!(read, Read::Float { .. }) {
                    zero
                } else {
                    d
                }
            }));
        }
        let body = Function::lower(g, &vars, &outs)?;
        let k = lp.reads.len();
        let mut arrays = Vec::new();
        let mut scalars = Vec::new();
        for (m, _) in lp.accs.iter().enumerate() {
            let partial = |r: usize| body.outputs[lp.accs.len() + m * k + r];
            let mut has_array = false;
            let mut row = Vec::new();
            for (r, (read, _)) in lp.reads.iter().enumerate() {
                let nonzero = partial(r) != Operand::Const(0.0);
                has_array |= nonzero && matches!(read, Read::Element { .. } | Read::Input(_));
                row.push(match read {
                    Read::Outer(_) if nonzero => {
                        let p = g.var(&format!("#partial{l}_{m}_{r}"));
                        scalar_vars.push(p);
                        scalar_stage.push(l + 1);
                        Some(p)
                    }
                    _ => None,
                });
            }
            arrays.push(has_array.then(|| name(&format!("d{l}_{m}"))));
            scalars.push(row);
        }
        lowered.push(LoweredLoop {
            body,
            arrays,
            scalars,
        });
    }

    // The backward pass over the outer graph.
    let mut edges: HashMap<NodeId, Vec<Edge>> = HashMap::new();
    for (lp, low) in loops.iter().zip(&lowered) {
        for (m, acc) in lp.accs.iter().enumerate() {
            let mut out = vec![Edge {
                target: acc.init,
                factor: None,
            }];
            for (r, (read, _)) in lp.reads.iter().enumerate() {
                if let (Read::Outer(u), Some(p)) = (read, low.scalars[m][r]) {
                    out.push(Edge {
                        target: *u,
                        factor: Some(p),
                    });
                }
            }
            edges.insert(acc.var, out);
        }
    }
    let adjoint = adjoints(g, output, &edges);
    let adjoint_of = |v: NodeId| adjoint.get(v.index()).copied().flatten();

    // The outer function: inputs are the parameters, the accumulators'
    // final values and the scalar partials; outputs are the value, what
    // each loop starts from and reads, the weights of the scatter arrays,
    // and the direct part of the gradient.
    let mut outer_inputs = inputs.to_vec();
    let mut input_stage = vec![0; n];
    for (l, lp) in loops.iter().enumerate() {
        for acc in &lp.accs {
            outer_inputs.push(acc.var);
            input_stage.push(l + 1);
        }
    }
    outer_inputs.extend(&scalar_vars);
    input_stage.extend(&scalar_stage);
    let mut outer_outputs = vec![output];
    let mut init_at = Vec::new();
    let mut read_at = Vec::new();
    for lp in loops {
        init_at.push(outer_outputs.len());
        outer_outputs.extend(lp.accs.iter().map(|a| a.init));
        read_at.push(outer_outputs.len());
        for (read, _) in &lp.reads {
            if let Read::Outer(u) = read {
                outer_outputs.push(*u);
            }
        }
    }
    let mut weights = Vec::new();
    for (lp, low) in loops.iter().zip(&lowered) {
        for (acc, array) in lp.accs.iter().zip(&low.arrays) {
            if let (Some(array), Some(w)) = (array, adjoint_of(acc.var)) {
                weights.push((array.clone(), outer_outputs.len()));
                outer_outputs.push(w);
            }
        }
    }
    let direct_at = outer_outputs.len();
    let direct: Vec<usize> = (0..n)
        .filter(|&j| adjoint_of(inputs[j]).is_some())
        .collect();
    outer_outputs.extend(direct.iter().filter_map(|&j| adjoint_of(inputs[j])));
    let outer = Function::lower(g, &outer_inputs, &outer_outputs)?;

    // The stage of each outer instruction: after the last loop it reads.
    let mut stage: Vec<usize> = Vec::with_capacity(outer.instrs.len());
    let operand_stage = |o: Operand, stage: &[usize]| match o {
        Operand::Input(i) => input_stage.get(i as usize).copied().unwrap_or(0),
        Operand::Local(i) => stage.get(i as usize).copied().unwrap_or(0),
        Operand::Const(_) => 0,
    };
    for instr in &outer.instrs {
        let s = instr
            .operands()
            .into_iter()
            .flatten()
            .map(|o| operand_stage(o, &stage))
            .max()
            .unwrap_or(0);
        stage.push(s);
    }

    let param_exprs = input_expressions(params);
    let mut outer_exprs = param_exprs.clone();
    let mut acc_names = Vec::new();
    for (l, lp) in loops.iter().enumerate() {
        let names: Vec<Ident> = (0..lp.accs.len())
            .map(|m| name(&format!("acc{l}_{m}")))
            .collect();
        outer_exprs.extend(names.iter().map(|id| quote!(#id)));
        acc_names.push(names);
    }
    let mut scalar_names = HashMap::new();
    for &p in &scalar_vars {
        let id = name(&format!("p{}", scalar_names.len()));
        outer_exprs.push(quote!(#id));
        scalar_names.insert(p, id);
    }
    let Statements {
        declarations,
        each,
        outputs: outer_out,
    } = statements(&outer, float, &outer_exprs, &format!("{prefix}t"));
    let mut each: Vec<Option<TokenStream>> = each.into_iter().map(Some).collect();
    let mut emit_stage = |s: usize, code: &mut TokenStream| {
        for (i, st) in each.iter_mut().enumerate() {
            if stage[i] == s {
                if let Some(t) = st.take() {
                    code.extend(t);
                }
            }
        }
    };

    let nl = Literal::usize_unsuffixed(n);
    let zero = float.literal(0.0);
    let mut code = declarations;
    emit_stage(0, &mut code);
    for (l, (lp, low)) in loops.iter().zip(&lowered).enumerate() {
        let i = name(&format!("i{l}"));
        let k = lp.reads.len();
        let mut before = TokenStream::new();
        let mut inside = TokenStream::new();
        // The reads, bound once per iteration.
        let mut read_names = Vec::with_capacity(k);
        let mut outer_read = read_at[l];
        for (r, (read, _)) in lp.reads.iter().enumerate() {
            let id = name(&format!("r{l}_{r}"));
            let value = match *read {
                Read::Element { param, a, b, .. } => {
                    let array = format_ident!("{}", params[param].name);
                    let index = index_tokens(&i, a, b);
                    quote!(#array[#index])
                }
                Read::Input(j) => param_exprs[j].clone(),
                Read::Outer(_) => {
                    let e = outer_out[outer_read].clone();
                    outer_read += 1;
                    e
                }
                Read::Float { a, b } => float_tokens(&i, a, b, &ty),
            };
            inside.extend(quote!(let #id: #ty = #value;));
            read_names.push(quote!(#id));
        }
        let Statements {
            declarations: body_decls,
            each: body_each,
            outputs: body_out,
        } = statements(&low.body, float, &read_names, &format!("{prefix}l{l}_"));
        inside.extend(body_decls);
        inside.extend(body_each);
        for (m, acc_name) in acc_names[l].iter().enumerate() {
            let init = &outer_out[init_at[l] + m];
            before.extend(quote!(let mut #acc_name: #ty = #init;));
            let term = &body_out[m];
            inside.extend(quote!(#acc_name += #term;));
            let partial = |r: usize| &body_out[lp.accs.len() + m * k + r];
            if let Some(array) = &low.arrays[m] {
                before.extend(quote!(let mut #array: [#ty; #nl] = [#zero; #nl];));
            }
            for (r, (read, _)) in lp.reads.iter().enumerate() {
                if low.body.outputs[lp.accs.len() + m * k + r] == Operand::Const(0.0) {
                    continue;
                }
                let d = partial(r);
                match *read {
                    Read::Element { start, a, b, .. } => {
                        if let Some(array) = &low.arrays[m] {
                            let at = index_tokens(&i, a, b + start as i64);
                            inside.extend(quote!(#array[#at] += #d;));
                        }
                    }
                    Read::Input(j) => {
                        if let Some(array) = &low.arrays[m] {
                            let at = Literal::usize_unsuffixed(j);
                            inside.extend(quote!(#array[#at] += #d;));
                        }
                    }
                    Read::Outer(_) => {
                        if let Some(p) = low.scalars[m][r] {
                            let id = &scalar_names[&p];
                            before.extend(quote!(let mut #id: #ty = #zero;));
                            inside.extend(quote!(#id += #d;));
                        }
                    }
                    Read::Float { .. } => {}
                }
            }
        }
        let (start, end) = (
            Literal::usize_unsuffixed(lp.start as usize),
            Literal::usize_unsuffixed(lp.end as usize),
        );
        code.extend(before);
        code.extend(quote!(for #i in #start..#end { #inside }));
        emit_stage(l + 1, &mut code);
    }

    // The gradient: the scatter arrays, weighted, plus the direct part. One
    // array of weight one is the gradient itself (no copy).
    let grad = match weights.as_slice() {
        [(array, w)] if outer.outputs[*w] == Operand::Const(1.0) => array.clone(),
        [] => {
            let grad = name("grad");
            code.extend(quote!(let mut #grad: [#ty; #nl] = [#zero; #nl];));
            grad
        }
        _ => {
            let (grad, j) = (name("grad"), name("j"));
            let terms = weights.iter().map(|(array, w)| {
                let w = &outer_out[*w];
                quote!(#w * #array[#j])
            });
            code.extend(quote! {
                let mut #grad: [#ty; #nl] = [#zero; #nl];
                for #j in 0..#nl {
                    #grad[#j] = #(#terms)+*;
                }
            });
            grad
        }
    };
    for (k, &j) in direct.iter().enumerate() {
        if outer.outputs[direct_at + k] == Operand::Const(0.0) {
            continue;
        }
        let d = &outer_out[direct_at + k];
        let at = Literal::usize_unsuffixed(j);
        code.extend(quote!(#grad[#at] += #d;));
    }
    let value = &outer_out[0];
    let args = symgrad_core::emit::rust::param_list(params, float);
    Ok((
        (args, quote!((#ty, [#ty; #nl]))),
        quote!({ #code (#value, #grad) }),
    ))
}

/// `a*i + b` as `usize` arithmetic that never goes below zero: the checker
/// made sure the value is an index (so non-negative) at both ends of the
/// range, so `a*i - |b|` (for `a > 0`) and `b - |a|*i` (for `a < 0`) stay
/// non-negative throughout.
fn index_tokens(i: &Ident, a: i64, b: i64) -> TokenStream {
    let lit = |v: i64| Literal::u64_unsuffixed(v.unsigned_abs());
    if a == 0 {
        let b = lit(b);
        return quote!(#b);
    }
    let scaled = if a.unsigned_abs() == 1 {
        quote!(#i)
    } else {
        let a = lit(a);
        quote!(#a * #i)
    };
    let bl = lit(b);
    match (a > 0, b.cmp(&0)) {
        (true, std::cmp::Ordering::Equal) => scaled,
        (true, std::cmp::Ordering::Greater) => quote!(#scaled + #bl),
        (true, std::cmp::Ordering::Less) => quote!(#scaled - #bl),
        (false, _) => quote!(#bl - #scaled),
    }
}

/// `(a*i + b) as F`, computed in `i64` as the unrolled code would.
fn float_tokens(i: &Ident, a: i64, b: i64, ty: &TokenStream) -> TokenStream {
    if a == 1 && b == 0 {
        return quote!((#i as #ty));
    }
    let signed = |v: i64| {
        let l = Literal::u64_unsuffixed(v.unsigned_abs());
        if v < 0 {
            quote!((-#l))
        } else {
            quote!(#l)
        }
    };
    let (a, b) = (signed(a), signed(b));
    quote!((((#i as i64) * #a + #b) as #ty))
}

/// A prefix for generated names that no parameter name starts with.
fn unique_prefix(params: &[Param]) -> String {
    let mut prefix = String::from("__sg");
    while params.iter().any(|p| p.name.starts_with(prefix.as_str())) {
        prefix.push('_');
    }
    prefix
}

#[cfg(test)]
mod tests {
    use quote::quote;

    /// The generated code of `#[gradient]` on `item`, as a string.
    fn generated(item: proc_macro2::TokenStream) -> String {
        crate::emit::gradient(quote!(), item).to_string()
    }

    /// How many kept loops the generated gradient has (the loop that weighs
    /// several scatter arrays together is not counted).
    fn loops(item: proc_macro2::TokenStream) -> usize {
        let code = generated(item);
        assert!(!code.contains("compile_error"), "{code}");
        let after = code.split("fn f_gradient").nth(1).unwrap_or_default();
        after.matches("for __sgi").count()
    }

    #[test]
    fn rosenbrock_is_kept_as_a_loop() {
        let item = quote! {
            fn f(x: [f64; 1000]) -> f64 {
                let mut s = 0.0;
                for i in 0..999 {
                    s += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
                }
                s
            }
        };
        let code = generated(item.clone());
        println!("{code}");
        assert_eq!(loops(item), 1);
        // Straight-line code would be some 17,000 statements.
        assert!(code.len() < 3000, "{} bytes", code.len());
    }

    /// Each case: a body over `x: [f64; 8], y: f64`, and how many loops its
    /// gradient keeps.
    #[test]
    fn which_loops_are_kept() {
        let cases: Vec<(usize, proc_macro2::TokenStream)> = vec![
            (
                1,
                quote! { let mut a = 0.0; let mut b = 0.0;
                for i in 0..7 { a += x[i] * x[i + 1]; b -= x[i]; } a.sqrt() + b },
            ),
            (
                1,
                quote! { let mut s = 0.0; for i in 0..8 { s += y * x[i]; } s },
            ),
            (
                1,
                quote! { let mut s = 0.0; for i in 0..3 { s += x[2 * i + 1]; } s },
            ),
            (
                1,
                quote! { let mut s = 0.0; for i in 0..8 { s += x[7 - i] * (i as f64); } s },
            ),
            (
                1,
                quote! { let mut s = 0.0;
                for i in 0..7 { let t = x[i + 1] - x[i]; let mut u = t * t; u += 1.0; s += u; } s },
            ),
            (
                1,
                quote! { let c = y.exp(); let mut s = y;
                for i in 0..8 { s += c * x[i]; } s * c },
            ),
            (
                2,
                quote! { let mut s = 0.0; for i in 0..8 { s += x[i]; }
                let m = s / 8.0; for i in 0..8 { s += (x[i] - m).powi(2); } s },
            ),
            // An outer loop with a loop inside unrolls; the inner loop is kept.
            (
                2,
                quote! { let mut s = 0.0;
                for i in 0..2 { for j in 0..4 { s += x[i + j]; } } s },
            ),
            // Outside the pattern: unrolled.
            (
                0,
                quote! { let mut s = 1.0; for i in 0..8 { s += s * x[i]; } s },
            ),
            (
                0,
                quote! { let mut s = 1.0; for i in 0..8 { s *= x[i]; } s },
            ),
            (
                0,
                quote! { let mut s = 0.0; for i in 0..3 { s += x[i * i]; } s },
            ),
            (
                0,
                quote! { let mut s = 0.0; for i in 0..8 { s += x[i / 2]; } s },
            ),
            (
                0,
                quote! { let mut s = 0.0; for i in 0..8 { s += x[i].powi(i); } s },
            ),
            (
                0,
                quote! { let mut s = 0.0; for i in 0..8 { s = s + x[i]; } s },
            ),
            (
                0,
                quote! { let mut s = 0.0; let mut k = 0;
                for i in 0..8 { k += 1; s += x[i]; } s + (k as f64) },
            ),
            (
                0,
                quote! { let mut s = 0.0; for i in -1..7 { s += x[i + 1]; } s },
            ),
            (
                0,
                quote! { let mut s = 0.0; for i in 0..0 { s += x[i]; } s },
            ),
        ];
        for (want, body) in cases {
            let item = quote! { fn f(x: [f64; 8], y: f64) -> f64 { #body } };
            assert_eq!(loops(item), want, "{body}");
        }
    }

    #[test]
    fn the_hessian_unrolls() {
        let item = quote! {
            fn f(x: [f64; 4]) -> f64 {
                let mut s = 0.0;
                for i in 0..3 { s += x[i] * x[i + 1]; }
                s
            }
        };
        let code = crate::emit::gradient(quote!(hessian), item).to_string();
        let gradient = code.split("fn f_gradient").nth(1).unwrap_or_default();
        let (gradient, hessian) = gradient.split_once("fn f_hessian").unwrap_or_default();
        assert_eq!(gradient.matches("for __sgi").count(), 1);
        assert_eq!(hessian.matches("for ").count(), 0);
    }
}

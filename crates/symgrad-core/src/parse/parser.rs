//! The statement and expression parser: an operator-precedence loop over the
//! tokens with explicit stacks, building graph nodes as operators reduce.
//!
//! There is no recursion anywhere: each open parenthesis or call is a
//! [`Frame`] on a vector, and each pending operator an entry in its frame. The
//! nesting depth (open frames, pending unary minus and pending powers) is still
//! capped at [`MAX_DEPTH`](super::MAX_DEPTH), because graphs that deep are not
//! meant, and later passes that do recurse can rely on the cap.

use super::lexer::{lex, Tok, Token};
use super::MAX_DEPTH;
use crate::error::{Error, ErrorKind, Result, Span};
use crate::formula::{Binding, Formula};
use crate::graph::{Builtin, Graph, NamedConst, NodeId};
use rustc_hash::FxHashMap;

/// Binding strength; higher binds tighter.
type Prec = u8;
const PREC_SUM: Prec = 1;
const PREC_PRODUCT: Prec = 2;
/// Unary minus binds looser than `^` (`-x^2` is `-(x^2)`) and tighter than `*`.
const PREC_NEG: Prec = 3;
const PREC_POW: Prec = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

impl BinOp {
    fn prec(self) -> Prec {
        match self {
            BinOp::Add | BinOp::Sub => PREC_SUM,
            BinOp::Mul | BinOp::Div => PREC_PRODUCT,
            BinOp::Pow => PREC_POW,
        }
    }
}

/// An operator waiting for its right operand.
#[derive(Clone, Copy, Debug)]
enum Pending {
    Bin(BinOp, Span),
    Neg(Span),
}

impl Pending {
    fn prec(self) -> Prec {
        match self {
            Pending::Bin(op, _) => op.prec(),
            Pending::Neg(_) => PREC_NEG,
        }
    }

    fn span(self) -> Span {
        match self {
            Pending::Bin(_, s) | Pending::Neg(s) => s,
        }
    }

    /// Whether this operator counts towards the depth limit while pending.
    fn nests(self) -> bool {
        matches!(self, Pending::Neg(_) | Pending::Bin(BinOp::Pow, _))
    }
}

/// What a function call computes: one of the names of the one list,
/// [`crate::graph::BUILTINS`].
type Callee = Builtin;

fn constant(name: &str) -> Option<NamedConst> {
    match name {
        "pi" | "π" => Some(NamedConst::Pi),
        "e" => Some(NamedConst::E),
        _ => None,
    }
}

#[derive(Debug)]
enum FrameKind {
    /// The statement's expression itself.
    Top,
    /// `( ... )`, with the span of the `(`.
    Group { open: Span },
    /// `name( ... )`.
    Call {
        callee: Callee,
        name: Span,
        open: Span,
        args: Vec<NodeId>,
        /// Where the first argument-level implicit product between
        /// space-separated factors is, for "missing ','" messages.
        gap: Option<Span>,
    },
}

/// One level of parentheses: its pending operators and finished operands.
#[derive(Debug)]
struct Frame {
    kind: FrameKind,
    ops: Vec<Pending>,
    operands: Vec<NodeId>,
}

impl Frame {
    fn new(kind: FrameKind) -> Frame {
        Frame {
            kind,
            ops: Vec::new(),
            operands: Vec::new(),
        }
    }

    fn open_paren(&self) -> Option<Span> {
        match self.kind {
            FrameKind::Top => None,
            FrameKind::Group { open } | FrameKind::Call { open, .. } => Some(open),
        }
    }
}

fn syntax(span: Span, message: impl Into<String>) -> Error {
    Error::at(ErrorKind::Syntax, span, message)
}

/// An error for states the loop never reaches on any input (kept as an error
/// rather than a panic so that a bug cannot crash a caller).
fn internal(span: Span) -> Error {
    syntax(span, "internal parser error: operand stack out of step")
}

pub(super) struct Parser<'s> {
    src: &'s str,
    tokens: Vec<Token>,
    pos: usize,
    eof: Token,
    graph: Graph,
    vars: Vec<NodeId>,
    bound: FxHashMap<String, NodeId>,
    bindings: Vec<Binding>,
    /// Open frames plus pending unary minus and powers in the current statement.
    depth: usize,
}

impl<'s> Parser<'s> {
    pub(super) fn new(src: &'s str) -> Parser<'s> {
        Parser {
            src,
            tokens: lex(src),
            pos: 0,
            eof: Token {
                kind: Tok::Eof,
                span: Span::point(src.len()),
                space_before: false,
            },
            graph: Graph::new(),
            vars: Vec::new(),
            bound: FxHashMap::default(),
            bindings: Vec::new(),
            depth: 0,
        }
    }

    fn peek_at(&self, pos: usize) -> &Token {
        self.tokens.get(pos).unwrap_or(&self.eof)
    }

    fn peek(&self) -> &Token {
        self.peek_at(self.pos)
    }

    fn text(&self, span: Span) -> &'s str {
        self.src.get(span.start..span.end).unwrap_or("")
    }

    /// How a token is named in a message.
    fn describe(&self, token: &Token) -> String {
        match token.kind {
            Tok::Eof => "the end of the input".to_string(),
            Tok::Sep if self.text(token.span) == ";" => "';'".to_string(),
            Tok::Sep => "the end of the line".to_string(),
            _ => format!("'{}'", self.text(token.span)),
        }
    }

    /// Parses every statement and returns the formula.
    pub(super) fn formula(mut self) -> Result<Formula> {
        // The output node, and the span of the statement when it was a bare
        // expression (which only the last statement may be).
        let mut output: Option<(NodeId, Option<Span>)> = None;
        loop {
            while self.peek().kind == Tok::Sep {
                self.pos += 1;
            }
            let first = self.peek().clone();
            if first.kind == Tok::Eof {
                break;
            }
            if let Some((_, Some(bare))) = output {
                return Err(syntax(
                    bare,
                    "expected 'name = ...': every statement before the last must bind a name",
                ));
            }
            let binding = match (&first.kind, &self.peek_at(self.pos + 1).kind) {
                (Tok::Ident, Tok::Eq) => {
                    let name = self.text(first.span);
                    self.check_binding_name(name, first.span)?;
                    self.pos += 2;
                    Some(name)
                }
                _ => None,
            };
            let intro = binding.map(|_| self.peek_at(self.pos - 1).clone());
            let node = self.expression(intro)?;
            let end = self.peek_at(self.pos.saturating_sub(1)).span.end;
            match binding {
                Some(name) => {
                    if self.graph.var_node(name).is_some() {
                        return Err(syntax(
                            first.span,
                            format!("cannot bind '{name}': its own expression uses '{name}' as a variable"),
                        ));
                    }
                    self.bound.insert(name.to_string(), node);
                    self.bindings.push(Binding {
                        name: name.to_string(),
                        node,
                        span: first.span,
                    });
                    output = Some((node, None));
                }
                None => output = Some((node, Some(Span::new(first.span.start, end)))),
            }
        }
        let Some((output, _)) = output else {
            return Err(syntax(Span::point(0), "empty formula"));
        };
        // Only the variables the output depends on are variables of f: one
        // that appears only in an unused binding is not.
        let reached = self.graph.reachable_mask(&[output]);
        self.vars.retain(|v| reached[v.index()]);
        Ok(Formula {
            graph: self.graph,
            output,
            vars: self.vars,
            bindings: self.bindings,
        })
    }

    fn check_binding_name(&self, name: &str, span: Span) -> Result<()> {
        let problem = if Callee::from_name(name).is_some() {
            "it is a function name"
        } else if constant(name).is_some() {
            "it is a constant"
        } else if self.bound.contains_key(name) {
            "it is already bound"
        } else if self.graph.var_node(name).is_some() {
            "it is already used as a variable above"
        } else {
            return Ok(());
        };
        Err(syntax(span, format!("cannot bind '{name}': {problem}")))
    }

    /// The node a name stands for when it is not called.
    fn name_node(&mut self, name: &str) -> NodeId {
        if let Some(c) = constant(name) {
            return self.graph.named(c);
        }
        if let Some(&node) = self.bound.get(name) {
            return node;
        }
        let known = self.graph.var_names().len();
        let node = self.graph.var(name);
        if self.graph.var_names().len() > known {
            self.vars.push(node);
        }
        node
    }

    fn deeper(&mut self, at: Span) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Error::at(
                ErrorKind::TooDeep,
                at,
                format!(
                    "the formula nests deeper than {MAX_DEPTH} levels \
                     (parentheses, function calls, unary minus and powers)"
                ),
            ));
        }
        Ok(())
    }

    /// Parses one statement's expression, up to (not including) the `;`,
    /// newline or end of input. `intro` is the `=` before it, if any.
    fn expression(&mut self, intro: Option<Token>) -> Result<NodeId> {
        self.depth = 0;
        let mut cur = Frame::new(FrameKind::Top);
        let mut outer: Vec<Frame> = Vec::new();
        let mut prev: Option<Token> = intro;
        let mut expect_operand = true;
        loop {
            let tok = self.peek().clone();
            if let Tok::Bad(message) = &tok.kind {
                return Err(syntax(tok.span, message.clone()));
            }
            if matches!(tok.kind, Tok::At | Tok::LBracket | Tok::RBracket) {
                // Tokens of network files only: in a formula they are stray
                // characters, reported as the lexer reports any other.
                let c = self.text(tok.span);
                return Err(syntax(tok.span, format!("unexpected character '{c}'")));
            }
            if expect_operand {
                match tok.kind {
                    Tok::Num(n) => {
                        let node = self.graph.constant(n);
                        cur.operands.push(node);
                        expect_operand = false;
                    }
                    Tok::Ident => {
                        let name = self.text(tok.span);
                        let next = self.peek_at(self.pos + 1).clone();
                        if let Some(callee) = Callee::from_name(name) {
                            if next.kind != Tok::LParen {
                                return Err(syntax(
                                    next.span,
                                    format!("expected '(' after the function name '{name}'"),
                                ));
                            }
                            self.deeper(next.span)?;
                            let call = Frame::new(FrameKind::Call {
                                callee,
                                name: tok.span,
                                open: next.span,
                                args: Vec::new(),
                                gap: None,
                            });
                            outer.push(std::mem::replace(&mut cur, call));
                            self.pos += 2;
                            prev = Some(next);
                            continue;
                        } else if next.kind == Tok::LParen && !next.space_before {
                            return Err(self.unknown_function(name, tok.span));
                        } else {
                            let node = self.name_node(name);
                            cur.operands.push(node);
                            expect_operand = false;
                        }
                    }
                    Tok::LParen => {
                        self.deeper(tok.span)?;
                        let group = Frame::new(FrameKind::Group { open: tok.span });
                        outer.push(std::mem::replace(&mut cur, group));
                    }
                    Tok::Minus => {
                        self.deeper(tok.span)?;
                        cur.ops.push(Pending::Neg(tok.span));
                    }
                    // Unary plus is the operand itself.
                    Tok::Plus => {}
                    Tok::RParen if prev.as_ref().is_some_and(|p| p.kind == Tok::LParen) => {
                        if let FrameKind::Call { callee, name, .. } = cur.kind {
                            return Err(self.arity_error(callee, name, tok.span, 0));
                        }
                        return Err(syntax(tok.span, "expected an expression inside '()'"));
                    }
                    _ => return Err(self.expected_operand(prev.as_ref(), &tok, &cur)),
                }
                self.pos += 1;
                prev = Some(tok);
                continue;
            }
            match tok.kind {
                Tok::Plus | Tok::Minus | Tok::Star | Tok::Slash | Tok::Caret => {
                    let op = match tok.kind {
                        Tok::Plus => BinOp::Add,
                        Tok::Minus => BinOp::Sub,
                        Tok::Star => BinOp::Mul,
                        Tok::Slash => BinOp::Div,
                        _ => BinOp::Pow,
                    };
                    if op == BinOp::Pow {
                        // Right-associative: nothing pending binds tighter than `^`.
                        self.deeper(tok.span)?;
                    } else {
                        self.reduce(&mut cur, op.prec())?;
                    }
                    cur.ops.push(Pending::Bin(op, tok.span));
                    expect_operand = true;
                }
                Tok::Sup(n) => {
                    if prev.as_ref().is_some_and(|p| matches!(p.kind, Tok::Sup(_))) {
                        return Err(syntax(
                            tok.span,
                            "a superscript power cannot follow another; use '^' and parentheses",
                        ));
                    }
                    // A superscript applies to the operand just before it, so
                    // `-x²` is `-(x²)` and `2^3²` is `2^(3²)`.
                    let base = cur.operands.pop().ok_or_else(|| internal(tok.span))?;
                    let exponent = self.graph.constant(n);
                    let node = self.graph.pow(base, exponent);
                    cur.operands.push(node);
                }
                Tok::RParen => {
                    self.reduce(&mut cur, 0)?;
                    let value = cur.operands.pop().ok_or_else(|| internal(tok.span))?;
                    let node = match cur.kind {
                        FrameKind::Top => return Err(syntax(tok.span, "unexpected ')'")),
                        FrameKind::Group { .. } => value,
                        FrameKind::Call {
                            callee,
                            name,
                            mut args,
                            gap,
                            ..
                        } => {
                            args.push(value);
                            self.call(callee, name, tok.span, &args, gap)?
                        }
                    };
                    cur = outer.pop().ok_or_else(|| internal(tok.span))?;
                    self.depth = self.depth.saturating_sub(1);
                    cur.operands.push(node);
                }
                Tok::Comma => match cur.kind {
                    FrameKind::Call { .. } => {
                        self.reduce(&mut cur, 0)?;
                        let value = cur.operands.pop().ok_or_else(|| internal(tok.span))?;
                        if let FrameKind::Call { args, .. } = &mut cur.kind {
                            args.push(value);
                        }
                        expect_operand = true;
                    }
                    FrameKind::Group { .. } => {
                        return Err(syntax(
                            tok.span,
                            "expected ')': ',' only separates function arguments",
                        ));
                    }
                    FrameKind::Top => return Err(syntax(tok.span, "unexpected ','")),
                },
                Tok::Num(_) | Tok::Ident | Tok::LParen => {
                    // Implicit multiplication, at the precedence of `*`. The
                    // token is read again as the right factor.
                    let in_pair_call =
                        matches!(cur.kind, FrameKind::Call { callee, .. } if callee.arity().1 >= 2);
                    let gap = prev.as_ref().map_or(tok.span, |p| Span::point(p.span.end));
                    if matches!(tok.kind, Tok::Num(_)) {
                        if in_pair_call && tok.space_before {
                            return Err(syntax(gap, "missing ',' between arguments"));
                        }
                        return Err(syntax(
                            tok.span,
                            format!(
                                "expected an operator before the number {}",
                                self.describe(&tok)
                            ),
                        ));
                    }
                    if tok.space_before {
                        if let FrameKind::Call {
                            gap: first @ None, ..
                        } = &mut cur.kind
                        {
                            *first = Some(gap);
                        }
                    }
                    self.reduce(&mut cur, PREC_PRODUCT)?;
                    cur.ops
                        .push(Pending::Bin(BinOp::Mul, Span::point(tok.span.start)));
                    expect_operand = true;
                    prev = None;
                    continue;
                }
                Tok::Sep | Tok::Eof => {
                    if let Some(open) = cur.open_paren() {
                        return Err(syntax(open, "unclosed '(' opened here"));
                    }
                    self.reduce(&mut cur, 0)?;
                    return cur.operands.pop().ok_or_else(|| internal(tok.span));
                }
                Tok::Eq => {
                    return Err(syntax(
                        tok.span,
                        "unexpected '=': a binding 'name = ...' starts a statement",
                    ));
                }
                Tok::Bad(_) | Tok::At | Tok::LBracket | Tok::RBracket => {
                    return Err(internal(tok.span))
                }
            }
            self.pos += 1;
            prev = Some(tok);
        }
    }

    /// Applies pending operators of `frame` that bind at least as tightly as
    /// `min_prec`.
    fn reduce(&mut self, frame: &mut Frame, min_prec: Prec) -> Result<()> {
        while let Some(&top) = frame.ops.last() {
            if top.prec() < min_prec {
                break;
            }
            frame.ops.pop();
            let b = frame.operands.pop().ok_or_else(|| internal(top.span()))?;
            let node = match top {
                Pending::Neg(_) => self.graph.neg(b),
                Pending::Bin(op, span) => {
                    let a = frame.operands.pop().ok_or_else(|| internal(span))?;
                    match op {
                        BinOp::Add => self.graph.add(a, b),
                        BinOp::Sub => self.graph.sub(a, b),
                        BinOp::Mul => self.graph.mul(a, b),
                        BinOp::Div => {
                            if self.graph.as_const(b).is_some_and(|n| n.is_zero()) {
                                return Err(Error::at(
                                    ErrorKind::InvalidValue,
                                    span,
                                    "division by zero: the divisor is the constant 0",
                                ));
                            }
                            self.graph.div(a, b)
                        }
                        BinOp::Pow => self.graph.pow(a, b),
                    }
                }
            };
            if top.nests() {
                self.depth = self.depth.saturating_sub(1);
            }
            frame.operands.push(node);
        }
        Ok(())
    }

    fn call(
        &mut self,
        callee: Callee,
        name: Span,
        close: Span,
        args: &[NodeId],
        gap: Option<Span>,
    ) -> Result<NodeId> {
        if let Some(node) = callee.build(&mut self.graph, args) {
            return Ok(node);
        }
        if let (Some(gap), true) = (gap, args.len() < callee.arity().1) {
            return Err(syntax(gap, "missing ',' between arguments"));
        }
        Err(self.arity_error(callee, name, close, args.len()))
    }

    fn arity_error(&self, callee: Callee, name: Span, close: Span, found: usize) -> Error {
        let expected = match callee.arity() {
            (1, 1) => "1 argument".to_string(),
            (lo, hi) if lo == hi => format!("{lo} arguments"),
            (lo, hi) => format!("{lo} or {hi} arguments"),
        };
        syntax(
            Span::new(name.start, close.end),
            format!("{} takes {expected}, found {found}", self.text(name)),
        )
    }

    /// `name(` where `name` is no function: suggest the product it may mean.
    fn unknown_function(&self, name: &str, span: Span) -> Error {
        // Find the matching `)` on the same statement to quote the argument.
        let open = self.pos + 1;
        let mut depth = 0usize;
        let mut inner = None;
        for t in self.tokens.iter().skip(open) {
            match t.kind {
                Tok::LParen => depth += 1,
                Tok::RParen => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        inner = Some((self.peek_at(open).span.end, t.span.start));
                        break;
                    }
                }
                Tok::Sep | Tok::Eof => break,
                _ => {}
            }
        }
        let inner = inner.and_then(|(a, b)| self.src.get(a..b));
        let near = crate::graph::builtin::nearest_names(name);
        let message = if !near.is_empty() {
            let list: Vec<String> = near.iter().map(|n| format!("'{n}'")).collect();
            format!(
                "unknown function '{name}'; did you mean {}?",
                or_list(&list)
            )
        } else if inner.is_some_and(has_top_level_comma) {
            // `f(a, b)` is no product: `f*(a, b)` would not parse either.
            format!(
                "unknown function '{name}' (the functions are listed under \
                 'Formula syntax' in the README)"
            )
        } else {
            let arg = inner.filter(|s| s.chars().count() <= 24).unwrap_or("...");
            format!("unknown function '{name}'; for a product write '{name}*({arg})'")
        };
        Error::at(ErrorKind::UnknownFunction, span, message)
    }

    /// The message for a token that cannot start an operand here.
    fn expected_operand(&self, prev: Option<&Token>, found: &Token, cur: &Frame) -> Error {
        let what = self.describe(found);
        let message = match prev.map(|p| (&p.kind, self.text(p.span))) {
            Some((Tok::Eq, _)) => "expected an expression after '='".to_string(),
            Some((Tok::Plus | Tok::Minus | Tok::Star | Tok::Slash, op)) => {
                format!("expected an operand after '{op}'")
            }
            Some((Tok::Caret, op)) => format!("expected an exponent after '{op}'"),
            Some((Tok::LParen, _)) if matches!(cur.kind, FrameKind::Call { .. }) => {
                "expected an argument after '('".to_string()
            }
            Some((Tok::LParen, _)) => "expected an expression after '('".to_string(),
            Some((Tok::Comma, _)) => "expected an argument after ','".to_string(),
            _ if found.kind == Tok::Eq => "expected a name before '='".to_string(),
            _ if found.kind == Tok::RParen && cur.open_paren().is_none() => {
                "unexpected ')'".to_string()
            }
            _ => format!("expected an expression, found {what}"),
        };
        syntax(found.span, message)
    }
}

/// `'a'`, `'a' or 'b'`, `'a', 'b' or 'c'`.
fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Whether `s` has a `,` outside any parentheses.
fn has_top_level_comma(s: &str) -> bool {
    let mut depth = 0usize;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => return true,
            _ => {}
        }
    }
    false
}

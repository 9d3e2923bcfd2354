//! The one expression grammar: an operator-precedence loop over the tokens
//! with explicit stacks that builds an expression tree ([`super::ast`]) for
//! formulas and for the equations of network files alike.
//!
//! There is no recursion anywhere: each open parenthesis, call or index is
//! a [`Frame`] on a vector, and each pending operator an entry in its frame.
//! The nesting depth (open frames, pending unary minus and pending powers)
//! is capped at [`MAX_DEPTH`](super::MAX_DEPTH), because graphs that deep
//! are not meant, and later passes that do recurse can rely on the cap.
//!
//! The two [`Dialect`]s share precedence, associativity, superscripts, the
//! depth check and the messages; they differ where the languages do:
//!
//! - formulas multiply implicitly (`2x`, `x y`, `(a)(b)`), call only the
//!   names of [`crate::graph::BUILTINS`] (a builtin's arity is checked when
//!   the tree is lowered), and `@`, `[`, `]` are stray characters;
//! - network equations have `@` (the matrix product, at the precedence of
//!   `*`), postfix indexing `v[t]`, keyword arguments `sum(a, axis = 1)`,
//!   and call any name followed by `(` (the network builder knows its
//!   functions); there is no implicit multiplication, and at the top level
//!   the word `for` ends the expression (a recurrence's range follows).

use super::ast::{BinOp, ExprArena, ExprId, ExprKind, Keyword};
use super::lexer::{Tok, Token};
use super::MAX_DEPTH;
use crate::error::{Error, ErrorKind, Result, Span};
use crate::graph::Builtin;

/// Which language an expression is in (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    Formula,
    Network,
}

/// Binding strength; higher binds tighter.
type Prec = u8;
const PREC_SUM: Prec = 1;
const PREC_PRODUCT: Prec = 2;
/// Unary minus binds looser than `^` (`-x^2` is `-(x^2)`) and tighter than `*`.
const PREC_NEG: Prec = 3;
const PREC_POW: Prec = 4;

fn prec(op: BinOp) -> Prec {
    match op {
        BinOp::Add | BinOp::Sub => PREC_SUM,
        BinOp::Mul | BinOp::Div | BinOp::MatMul => PREC_PRODUCT,
        BinOp::Pow => PREC_POW,
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
            Pending::Bin(op, _) => prec(op),
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

#[derive(Debug)]
enum FrameKind {
    /// The statement's expression itself.
    Top,
    /// `( ... )`, with the span of the `(`.
    Group { open: Span },
    /// `name( ... )`.
    Call {
        name: Span,
        open: Span,
        /// The most arguments the callee takes (formulas: a builtin's).
        max_args: usize,
        args: Vec<ExprId>,
        keywords: Vec<Keyword>,
        /// The keyword of the argument being read, if it has one.
        keyword: Option<(Box<str>, Span)>,
        /// Where the first argument-level implicit product between
        /// space-separated factors is, for "missing ','" messages.
        gap: Option<Span>,
    },
    /// `base[ ... ]`, with the span of the `[`.
    Index { open: Span, base: ExprId },
}

/// One level of parentheses: its pending operators and finished operands.
#[derive(Debug)]
struct Frame {
    kind: FrameKind,
    ops: Vec<Pending>,
    operands: Vec<ExprId>,
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
            FrameKind::Top | FrameKind::Index { .. } => None,
            FrameKind::Group { open } | FrameKind::Call { open, .. } => Some(open),
        }
    }
}

pub(crate) fn syntax(span: Span, message: impl Into<String>) -> Error {
    Error::at(ErrorKind::Syntax, span, message)
}

/// An error for states the loop never reaches on any input (kept as an error
/// rather than a panic so that a bug cannot crash a caller).
pub(crate) fn internal(span: Span) -> Error {
    syntax(span, "internal parser error: operand stack out of step")
}

fn join(a: Span, b: Span) -> Span {
    Span::new(a.start, b.end)
}

/// Reads expressions from a token list into an arena.
pub(crate) struct ExprParser<'a> {
    src: &'a str,
    tokens: &'a [Token],
    /// The next token.
    pub(crate) pos: usize,
    eof: Token,
    dialect: Dialect,
    pub(crate) arena: &'a mut ExprArena,
    /// Open frames plus pending unary minus and powers in the current expression.
    depth: usize,
}

impl<'a> ExprParser<'a> {
    pub(crate) fn new(
        src: &'a str,
        tokens: &'a [Token],
        dialect: Dialect,
        arena: &'a mut ExprArena,
    ) -> ExprParser<'a> {
        ExprParser {
            src,
            tokens,
            pos: 0,
            eof: Token {
                kind: Tok::Eof,
                span: Span::point(src.len()),
                space_before: false,
            },
            dialect,
            arena,
            depth: 0,
        }
    }

    pub(crate) fn peek_at(&self, pos: usize) -> &Token {
        self.tokens.get(pos).unwrap_or(&self.eof)
    }

    pub(crate) fn peek(&self) -> &Token {
        self.peek_at(self.pos)
    }

    fn text(&self, span: Span) -> &'a str {
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

    fn deeper(&mut self, at: Span) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let what = match self.dialect {
                Dialect::Formula => "the formula",
                Dialect::Network => "the equation",
            };
            return Err(Error::at(
                ErrorKind::TooDeep,
                at,
                format!(
                    "{what} nests deeper than {MAX_DEPTH} levels \
                     (parentheses, function calls, unary minus and powers)"
                ),
            ));
        }
        Ok(())
    }

    fn push(&mut self, kind: ExprKind, span: Span) -> ExprId {
        self.arena.push(kind, span)
    }

    fn span_of(&self, id: ExprId) -> Span {
        self.arena.get(id).span
    }

    /// Parses one expression from the current token, up to (not including)
    /// the `;`, newline or end of input that ends it (or, in network
    /// equations, a top-level `for`). `intro` is the token before it (the
    /// `=` of a binding), for messages.
    pub(crate) fn expression(&mut self, intro: Option<Token>) -> Result<ExprId> {
        let network = self.dialect == Dialect::Network;
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
            let stray = match tok.kind {
                Tok::At | Tok::LBracket | Tok::RBracket => !network,
                Tok::DotDot => true,
                _ => false,
            };
            if stray {
                // Tokens of network files only: in a formula they are stray
                // characters, reported as the lexer reports any other.
                let c = self.text(tok.span).chars().next().unwrap_or('?');
                let at = Span::new(tok.span.start, tok.span.start + c.len_utf8());
                return Err(syntax(at, format!("unexpected character '{c}'")));
            }
            if expect_operand {
                match tok.kind {
                    Tok::Num(n) => {
                        let node = self.push(ExprKind::Num(n), tok.span);
                        cur.operands.push(node);
                        expect_operand = false;
                    }
                    Tok::Ident => {
                        let name = self.text(tok.span);
                        let next = self.peek_at(self.pos + 1).clone();
                        let in_call_argument = matches!(cur.kind, FrameKind::Call { .. })
                            && prev
                                .as_ref()
                                .is_some_and(|p| matches!(p.kind, Tok::LParen | Tok::Comma));
                        if network && in_call_argument && next.kind == Tok::Eq {
                            // `name = value` as a call's argument: a keyword.
                            if let FrameKind::Call { keyword, .. } = &mut cur.kind {
                                *keyword = Some((name.into(), tok.span));
                            }
                            self.pos += 2;
                            prev = Some(next);
                            continue;
                        }
                        let callee = match self.dialect {
                            Dialect::Formula => Builtin::from_name(name).map(|b| b.arity().1),
                            Dialect::Network => (next.kind == Tok::LParen).then_some(usize::MAX),
                        };
                        if let Some(max_args) = callee {
                            if next.kind != Tok::LParen {
                                return Err(syntax(
                                    next.span,
                                    format!("expected '(' after the function name '{name}'"),
                                ));
                            }
                            self.deeper(next.span)?;
                            let call = Frame::new(FrameKind::Call {
                                name: tok.span,
                                open: next.span,
                                max_args,
                                args: Vec::new(),
                                keywords: Vec::new(),
                                keyword: None,
                                gap: None,
                            });
                            outer.push(std::mem::replace(&mut cur, call));
                            self.pos += 2;
                            prev = Some(next);
                            continue;
                        } else if next.kind == Tok::LParen && !next.space_before {
                            return Err(self.unknown_function(name, tok.span));
                        } else {
                            let node = self.push(ExprKind::Name(name.into()), tok.span);
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
                        match &cur.kind {
                            FrameKind::Call { name, .. } => {
                                // `f()`: a call without arguments, which the
                                // lowering refuses with the callee's arity.
                                let name = *name;
                                let node = self.finish_call(cur, name, tok.span)?;
                                cur = outer.pop().ok_or_else(|| internal(tok.span))?;
                                self.depth = self.depth.saturating_sub(1);
                                cur.operands.push(node);
                                expect_operand = false;
                            }
                            _ => {
                                return Err(syntax(tok.span, "expected an expression inside '()'"))
                            }
                        }
                    }
                    _ => return Err(self.expected_operand(prev.as_ref(), &tok, &cur)),
                }
                self.pos += 1;
                prev = Some(tok);
                continue;
            }
            match tok.kind {
                Tok::Plus | Tok::Minus | Tok::Star | Tok::Slash | Tok::Caret | Tok::At => {
                    let op = match tok.kind {
                        Tok::Plus => BinOp::Add,
                        Tok::Minus => BinOp::Sub,
                        Tok::Star => BinOp::Mul,
                        Tok::Slash => BinOp::Div,
                        Tok::At => BinOp::MatMul,
                        _ => BinOp::Pow,
                    };
                    if op == BinOp::Pow {
                        // Right-associative: nothing pending binds tighter than `^`.
                        self.deeper(tok.span)?;
                    } else {
                        self.reduce(&mut cur, prec(op))?;
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
                    let exponent = self.push(ExprKind::Num(n), tok.span);
                    let span = join(self.span_of(base), tok.span);
                    let node = self.push(
                        ExprKind::Binary {
                            op: BinOp::Pow,
                            op_span: tok.span,
                            lhs: base,
                            rhs: exponent,
                        },
                        span,
                    );
                    cur.operands.push(node);
                }
                Tok::RParen => {
                    self.reduce(&mut cur, 0)?;
                    let value = cur.operands.pop().ok_or_else(|| internal(tok.span))?;
                    let node = match &mut cur.kind {
                        FrameKind::Top => return Err(syntax(tok.span, "unexpected ')'")),
                        FrameKind::Index { open, .. } => {
                            return Err(syntax(
                                tok.span,
                                format!(
                                    "expected ']' to close the '[' at column {}, found ')'",
                                    self.column(*open)
                                ),
                            ))
                        }
                        FrameKind::Group { open } => {
                            let span = join(*open, tok.span);
                            self.push(ExprKind::Paren(value), span)
                        }
                        FrameKind::Call { .. } => {
                            self.argument(&mut cur, value);
                            let FrameKind::Call { name, .. } = cur.kind else {
                                return Err(internal(tok.span));
                            };
                            self.finish_call(cur, name, tok.span)?
                        }
                    };
                    cur = outer.pop().ok_or_else(|| internal(tok.span))?;
                    self.depth = self.depth.saturating_sub(1);
                    cur.operands.push(node);
                }
                Tok::LBracket => {
                    // `base[`: indexing the operand just read.
                    let base = cur.operands.pop().ok_or_else(|| internal(tok.span))?;
                    self.deeper(tok.span)?;
                    let index = Frame::new(FrameKind::Index {
                        open: tok.span,
                        base,
                    });
                    outer.push(std::mem::replace(&mut cur, index));
                    expect_operand = true;
                }
                Tok::RBracket => {
                    let FrameKind::Index { base, .. } = cur.kind else {
                        return Err(syntax(tok.span, "unexpected ']'"));
                    };
                    self.reduce(&mut cur, 0)?;
                    let index = cur.operands.pop().ok_or_else(|| internal(tok.span))?;
                    let span = join(self.span_of(base), tok.span);
                    let node = self.push(ExprKind::Index { base, index }, span);
                    cur = outer.pop().ok_or_else(|| internal(tok.span))?;
                    self.depth = self.depth.saturating_sub(1);
                    cur.operands.push(node);
                }
                Tok::Comma => match cur.kind {
                    FrameKind::Call { .. } => {
                        self.reduce(&mut cur, 0)?;
                        let value = cur.operands.pop().ok_or_else(|| internal(tok.span))?;
                        self.argument(&mut cur, value);
                        expect_operand = true;
                    }
                    FrameKind::Group { .. } => {
                        return Err(syntax(
                            tok.span,
                            "expected ')': ',' only separates function arguments",
                        ));
                    }
                    FrameKind::Index { .. } => {
                        return Err(syntax(tok.span, "expected ']': an index is one number"));
                    }
                    FrameKind::Top => return Err(syntax(tok.span, "unexpected ','")),
                },
                Tok::Ident
                    if network
                        && matches!(cur.kind, FrameKind::Top)
                        && self.text(tok.span) == "for" =>
                {
                    // A recurrence's range follows: the statement reads it.
                    self.reduce(&mut cur, 0)?;
                    return cur.operands.pop().ok_or_else(|| internal(tok.span));
                }
                Tok::Num(_) | Tok::Ident | Tok::LParen if network => {
                    if tok.space_before && matches!(cur.kind, FrameKind::Call { .. }) {
                        let gap = prev.as_ref().map_or(tok.span, |p| Span::point(p.span.end));
                        return Err(syntax(gap, "missing ',' between arguments"));
                    }
                    return Err(syntax(
                        tok.span,
                        format!(
                            "expected an operator or the end of the line, found {} \
                             (network files have no implicit multiplication)",
                            self.describe(&tok)
                        ),
                    ));
                }
                Tok::Num(_) | Tok::Ident | Tok::LParen => {
                    // Implicit multiplication, at the precedence of `*`. The
                    // token is read again as the right factor.
                    let in_pair_call =
                        matches!(cur.kind, FrameKind::Call { max_args, .. } if max_args >= 2);
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
                    if let FrameKind::Index { open, .. } = cur.kind {
                        return Err(syntax(open, "unclosed '[' opened here"));
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
                Tok::Bad(_) | Tok::DotDot => return Err(internal(tok.span)),
            }
            self.pos += 1;
            prev = Some(tok);
        }
    }

    /// The column (from 1) of a span's start on its line.
    fn column(&self, s: Span) -> usize {
        let before = self.src.get(..s.start).unwrap_or("");
        before.chars().rev().take_while(|&c| c != '\n').count() + 1
    }

    /// Records a finished argument of the call frame `cur`.
    fn argument(&mut self, cur: &mut Frame, value: ExprId) {
        if let FrameKind::Call {
            args,
            keywords,
            keyword,
            ..
        } = &mut cur.kind
        {
            match keyword.take() {
                Some((name, span)) => keywords.push(Keyword { name, span, value }),
                None => args.push(value),
            }
        }
    }

    /// The call node of a finished call frame.
    fn finish_call(&mut self, frame: Frame, name: Span, close: Span) -> Result<ExprId> {
        let FrameKind::Call {
            args,
            keywords,
            gap,
            ..
        } = frame.kind
        else {
            return Err(internal(close));
        };
        let kind = ExprKind::Call {
            name: self.text(name).into(),
            name_span: name,
            args,
            keywords,
            gap,
        };
        Ok(self.push(kind, join(name, close)))
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
                Pending::Neg(span) => {
                    let whole = join(span, self.span_of(b));
                    self.push(ExprKind::Neg(b), whole)
                }
                Pending::Bin(op, op_span) => {
                    let a = frame.operands.pop().ok_or_else(|| internal(op_span))?;
                    let whole = join(self.span_of(a), self.span_of(b));
                    self.push(
                        ExprKind::Binary {
                            op,
                            op_span,
                            lhs: a,
                            rhs: b,
                        },
                        whole,
                    )
                }
            };
            if top.nests() {
                self.depth = self.depth.saturating_sub(1);
            }
            frame.operands.push(node);
        }
        Ok(())
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
            Some((Tok::Eq, _)) if matches!(cur.kind, FrameKind::Call { .. }) => {
                "expected a value after '='".to_string()
            }
            Some((Tok::Eq, _)) => "expected an expression after '='".to_string(),
            Some((Tok::Plus | Tok::Minus | Tok::Star | Tok::Slash | Tok::At, op)) => {
                format!("expected an operand after '{op}'")
            }
            Some((Tok::Caret, op)) => format!("expected an exponent after '{op}'"),
            Some((Tok::LParen, _)) if matches!(cur.kind, FrameKind::Call { .. }) => {
                "expected an argument after '('".to_string()
            }
            Some((Tok::LParen, _)) => "expected an expression after '('".to_string(),
            Some((Tok::LBracket, _)) => "expected an index after '['".to_string(),
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

//! Declarations in the tree: `input`, `target` and `param` with their
//! shapes and initializers (an index formula, or a distribution whose
//! arguments are constant formulas; both are read by the formula dialect
//! of the one expression grammar, each lexed on its own as the formula
//! lexer reads it).

use super::{statement_span, syntax, text_of, Decl, Ident, InitSyntax, Reader};
use crate::error::{Error, ErrorKind, Result, Span};
use crate::net::{Role, MAX_ENTRIES};
use crate::parse::ast::ExprId;
use crate::parse::lexer::{lex, Tok, Token};

impl Reader<'_> {
    /// `input x[784]`, `target y[10]`, `param W[30, 784] = formula`,
    /// `param W[30, 784] ~ normal(0, 0.1)`.
    pub(super) fn declaration(&mut self, stmt: &[Token], role: Role) -> Result<Decl> {
        let name = self.ident(&stmt[1]);
        let (dims, shape_span, k) = read_shape(stmt, &name)?;
        let rest = &stmt[k];
        let init = match role {
            Role::Input | Role::Target | Role::Mask => {
                if !matches!(rest.kind, Tok::Sep | Tok::Eof) {
                    return Err(syntax(
                        rest.span,
                        format!(
                            "expected the end of the line after the shape of '{}'",
                            name.name
                        ),
                    ));
                }
                None
            }
            Role::Param => {
                if self.text(rest) == "~" {
                    Some(self.random(&stmt[k..])?)
                } else if rest.kind == Tok::Eq {
                    let end = stmt.last().map_or(self.src.len(), |t| t.span.start);
                    let span = Span::new(rest.span.end, end);
                    let value = self.formula(span)?;
                    Some(InitSyntax::Formula { value, span })
                } else {
                    return Err(syntax(
                        rest.span,
                        format!(
                            "expected '= <formula in i, j>' or '~ normal(mean, std)', \
                             '~ uniform(a, b)', '~ xavier', '~ he' to initialize '{}'",
                            name.name
                        ),
                    ));
                }
            }
        };
        Ok(Decl {
            role,
            name,
            dims,
            shape_span,
            init,
        })
    }

    /// The formula syntax at `span` of the file, as a tree in the arena
    /// (lexed on its own, as the formula lexer reads it).
    fn formula(&mut self, span: Span) -> Result<ExprId> {
        let body = text_of(self.src, span);
        let tokens: Vec<Token> = lex(body)
            .into_iter()
            .map(|mut t| {
                t.span = Span::new(t.span.start + span.start, t.span.end + span.start);
                t
            })
            .collect();
        if tokens.first().is_some_and(|t| t.kind == Tok::Eof) {
            return Err(syntax(span, "expected a formula"));
        }
        let (root, _) = crate::parse::expression_at(self.src, &tokens, 0, &mut self.exprs)?;
        Ok(root)
    }

    /// A random initializer, from `~` (`toks[0]`) to the end of the
    /// statement (the last token, a separator or the end of input).
    fn random(&mut self, toks: &[Token]) -> Result<InitSyntax> {
        let tilde = toks[0].span;
        const KNOWN: &str = "normal(mean, std), uniform(a, b), xavier or he";
        let Some(name_tok) = toks.get(1).filter(|t| t.kind == Tok::Ident) else {
            let at = toks.get(1).map_or(tilde, |t| t.span);
            return Err(syntax(
                at,
                format!("expected a distribution after '~': {KNOWN}"),
            ));
        };
        let name = self.text(name_tok).to_string();
        let arity = match name.as_str() {
            "normal" | "uniform" => 2,
            "xavier" | "he" => 0,
            _ => {
                return Err(Error::at(
                    ErrorKind::UnknownFunction,
                    name_tok.span,
                    format!("unknown distribution '{name}': expected {KNOWN}"),
                ))
            }
        };
        // The arguments: spans of the source between top-level commas.
        let mut args: Vec<Span> = Vec::new();
        let mut k = 2;
        let mut call = name_tok.span;
        if toks.get(k).map(|t| &t.kind) == Some(&Tok::LParen) {
            let open = toks[k].span;
            k += 1;
            let mut depth = 0usize;
            // The current argument's span, once it has a token.
            let mut arg: Option<Span> = None;
            loop {
                let Some(t) = toks.get(k) else {
                    return Err(syntax(open, "unclosed '(' opened here"));
                };
                k += 1;
                match t.kind {
                    Tok::Sep | Tok::Eof => return Err(syntax(open, "unclosed '(' opened here")),
                    Tok::LParen => depth += 1,
                    Tok::RParen if depth > 0 => depth -= 1,
                    Tok::RParen | Tok::Comma if depth == 0 => {
                        let done = t.kind == Tok::RParen;
                        match arg.take() {
                            Some(a) => args.push(a),
                            None if done && args.is_empty() => {}
                            None => return Err(syntax(t.span, "expected an argument")),
                        }
                        if done {
                            call = Span::new(name_tok.span.start, t.span.end);
                            break;
                        }
                        continue;
                    }
                    _ => {}
                }
                arg = Some(arg.map_or(t.span, |a| Span::new(a.start, t.span.end)));
            }
        }
        if let Some(t) = toks
            .get(k)
            .filter(|t| !matches!(t.kind, Tok::Sep | Tok::Eof))
        {
            return Err(syntax(
                t.span,
                format!("expected the end of the line after the initializer '{name}'"),
            ));
        }
        if args.len() != arity {
            let takes = match arity {
                0 => format!("'{name}' takes no arguments (it reads the fans from the shape)"),
                _ => format!("'{name}' takes {arity} arguments"),
            };
            return Err(syntax(call, format!("{takes}, found {}", args.len())));
        }
        let args = args
            .into_iter()
            .map(|s| self.formula(s))
            .collect::<Result<Vec<_>>>()?;
        Ok(InitSyntax::Random {
            dist: Ident {
                name,
                span: name_tok.span,
            },
            args,
            call,
        })
    }
}

/// Reads the shape `[a, b, ...]` of the declaration `stmt`, at `stmt[2]`
/// (no brackets: a scalar); returns its dimensions, its span and the index
/// of the token after it.
fn read_shape(stmt: &[Token], name: &Ident) -> Result<(Vec<usize>, Span, usize)> {
    let mut k = 2;
    let mut dims = Vec::new();
    if stmt.get(k).map(|t| &t.kind) == Some(&Tok::LBracket) {
        k += 1;
        loop {
            let Some(t) = stmt.get(k) else {
                return Err(syntax(statement_span(stmt), "unclosed '[' in a shape"));
            };
            let n = match t.kind {
                Tok::Num(n) => n.to_f64(),
                _ => f64::NAN,
            };
            if !(n >= 1.0 && n.fract() == 0.0 && n < 1e12) {
                return Err(syntax(t.span, "expected a positive integer dimension"));
            }
            dims.push(n as usize);
            k += 1;
            match stmt.get(k).map(|t| (&t.kind, t.span)) {
                Some((Tok::Comma, _)) => k += 1,
                Some((Tok::RBracket, _)) => {
                    k += 1;
                    break;
                }
                Some((_, span)) => return Err(syntax(span, "expected ',' or ']' in a shape")),
                None => return Err(syntax(statement_span(stmt), "unclosed '[' in a shape")),
            }
        }
    }
    let span = if k > 2 {
        Span::new(stmt[2].span.start, stmt[k - 1].span.end)
    } else {
        name.span
    };
    check_entries(&dims, span, &name.name)?;
    Ok((dims, span, k))
}

/// Refuses a shape with more than [`MAX_ENTRIES`] entries.
pub(crate) fn check_entries(dims: &[usize], span: Span, name: &str) -> Result<()> {
    let numel = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    if numel.is_none_or(|n| n > MAX_ENTRIES) {
        return Err(syntax(
            span,
            format!("'{name}' would have more than {MAX_ENTRIES} entries"),
        ));
    }
    Ok(())
}

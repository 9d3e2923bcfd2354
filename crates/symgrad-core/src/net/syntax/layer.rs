//! The layer shorthand's lines read into [`LayerKind`]s: `dense`, `conv`,
//! `maxpool`, `avgpool`, `flatten`, `batchnorm`, `dropout`, `rnn`, a bare
//! activation (`relu`) and `loss`. What each expands to is
//! [`crate::net::shorthand`]'s business; here only the words are checked,
//! each error at the token that is wrong.

use super::{syntax, Ident, Layer, LayerKind, Reader, StmtKind, ACTIVATIONS};
use crate::error::Result;
use crate::parse::lexer::{Tok, Token};

/// Whether the token list is a separator or the end.
fn is_end(t: Option<&Token>) -> bool {
    t.is_none_or(|t| matches!(t.kind, Tok::Sep | Tok::Eof))
}

impl Reader<'_> {
    /// The layer line `stmt`, or `None` when it is not one (an equation
    /// such as `conv = ...` or a declaration).
    pub(super) fn layer(&self, stmt: &[Token]) -> Result<Option<StmtKind>> {
        let word = self.text(&stmt[0]);
        let next = stmt.get(1);
        if next.is_some_and(|t| matches!(t.kind, Tok::Eq | Tok::LBracket)) {
            return Ok(None);
        }
        let kind = match word {
            _ if ACTIVATIONS.contains(&word) && is_end(next) => {
                LayerKind::Activation(self.ident(&stmt[0]))
            }
            "dense" => self.dense(stmt)?,
            "loss" if next.is_some_and(|t| t.kind == Tok::Ident) => self.loss(stmt)?,
            "conv" => self.conv(stmt)?,
            "maxpool" | "avgpool" => {
                let k = self.count(
                    stmt,
                    1,
                    &format!("the window's size: '{word} K' (e.g. '{word} 2')"),
                )?;
                end_of_statement(stmt, 2)?;
                LayerKind::Pool {
                    max: word == "maxpool",
                    k,
                }
            }
            "flatten" => {
                end_of_statement(stmt, 1)?;
                LayerKind::Flatten
            }
            "batchnorm" => {
                end_of_statement(stmt, 1)?;
                LayerKind::BatchNorm
            }
            "dropout" => self.dropout(stmt)?,
            "rnn" => {
                let width = self.count(
                    stmt,
                    1,
                    "the hidden state's width, a positive integer: 'rnn N activation' \
                     (e.g. 'rnn 32 tanh')",
                )?;
                let activation = self.activation_at(stmt, 2, &format!("rnn {width}"))?;
                end_of_statement(stmt, 3)?;
                LayerKind::Recurrent { width, activation }
            }
            _ => return Ok(None),
        };
        Ok(Some(StmtKind::Layer(Layer { kind })))
    }

    /// A positive integer at `stmt[k]`, else an error saying it should be
    /// `what`.
    fn count(&self, stmt: &[Token], k: usize, what: &str) -> Result<usize> {
        let t = &stmt[k.min(stmt.len() - 1)];
        let n = match t.kind {
            Tok::Num(n) => Some(n.to_f64()).filter(|n| *n >= 1.0 && n.fract() == 0.0 && *n < 1e9),
            _ => None,
        };
        n.map(|n| n as usize)
            .ok_or_else(|| syntax(t.span, format!("expected {what}")))
    }

    /// An activation name after `what` (`dense N`, `rnn N` or `end`).
    pub(super) fn activation(&self, t: &Token, what: &str) -> Result<Ident> {
        if t.kind != Tok::Ident || !ACTIVATIONS.contains(&self.text(t)) {
            return Err(syntax(
                t.span,
                format!(
                    "expected an activation after '{what}': {}",
                    ACTIVATIONS.join(", ")
                ),
            ));
        }
        Ok(self.ident(t))
    }

    fn activation_at(&self, stmt: &[Token], k: usize, what: &str) -> Result<Ident> {
        self.activation(&stmt[k.min(stmt.len() - 1)], what)
    }

    /// `dense N activation`.
    fn dense(&self, stmt: &[Token]) -> Result<LayerKind> {
        let width = self.count(
            stmt,
            1,
            "the layer's width, a positive integer: 'dense N activation' \
             (e.g. 'dense 30 sigmoid')",
        )?;
        let activation = self.activation_at(stmt, 2, &format!("dense {width}"))?;
        end_of_statement(stmt, 3)?;
        Ok(LayerKind::Dense { width, activation })
    }

    /// `conv F KxK [stride S] [padding P] [activation]`, the options in any
    /// order, each at most once; `K` alone is a square kernel.
    fn conv(&self, stmt: &[Token]) -> Result<LayerKind> {
        let form =
            "'conv F KxK [stride S] [padding P] [activation]' (e.g. 'conv 16 3x3 padding 1 relu')";
        let filters = self.count(
            stmt,
            1,
            &format!("the number of filters, a positive integer: {form}"),
        )?;
        let kh = self.count(
            stmt,
            2,
            &format!("the kernel's size after the filters: {form}"),
        )?;
        let mut k = 3;
        let mut kw = kh;
        // `3x3` lexes as the number 3 and the name `x3`, written together.
        if let Some(t) = stmt
            .get(3)
            .filter(|t| t.kind == Tok::Ident && !t.space_before)
        {
            let width = self
                .text(t)
                .strip_prefix('x')
                .and_then(|d| d.parse::<usize>().ok());
            match width.filter(|w| (1..1_000_000_000).contains(w)) {
                Some(w) => kw = w,
                None => {
                    return Err(syntax(
                        t.span,
                        format!("expected the kernel's size as KxK: {form}"),
                    ))
                }
            }
            k = 4;
        }
        let (mut stride, mut padding, mut activation) = (None, None, None);
        while !is_end(stmt.get(k)) {
            let t = &stmt[k];
            let word = if t.kind == Tok::Ident {
                self.text(t)
            } else {
                ""
            };
            match word {
                "stride" | "padding" => {
                    let slot = if word == "stride" {
                        &mut stride
                    } else {
                        &mut padding
                    };
                    if slot.is_some() {
                        return Err(syntax(t.span, format!("'{word}' is given twice")));
                    }
                    let value = match stmt.get(k + 1).map(|t| &t.kind) {
                        Some(Tok::Num(n)) => n.as_int().filter(|v| (0..1_000_000).contains(v)),
                        _ => None,
                    };
                    let min = if word == "stride" { 1 } else { 0 };
                    match value.filter(|v| *v >= min) {
                        Some(v) => *slot = Some(v as usize),
                        None => {
                            let at = stmt.get(k + 1).filter(|t| !is_end(Some(t))).unwrap_or(t);
                            return Err(syntax(
                                at.span,
                                format!(
                                    "expected the {word} after '{word}', an integer of at least {min}"
                                ),
                            ));
                        }
                    }
                    k += 2;
                }
                _ if activation.is_none() && ACTIVATIONS.contains(&word) => {
                    activation = Some(self.ident(t));
                    k += 1;
                    end_of_statement(stmt, k)?;
                }
                _ => {
                    return Err(syntax(
                        t.span,
                        format!(
                            "expected 'stride S', 'padding P' or an activation ({}): {form}",
                            ACTIVATIONS.join(", ")
                        ),
                    ))
                }
            }
        }
        Ok(LayerKind::Conv {
            filters,
            kh,
            kw,
            stride: stride.unwrap_or(1),
            padding: padding.unwrap_or(0),
            activation,
        })
    }

    /// `dropout P`, with `0 <= P < 1`.
    fn dropout(&self, stmt: &[Token]) -> Result<LayerKind> {
        let t = &stmt[1.min(stmt.len() - 1)];
        let p = match t.kind {
            Tok::Num(n) if (0.0..1.0).contains(&n.to_f64()) => n,
            _ => {
                return Err(syntax(
                    t.span,
                    "expected the probability of dropping an entry, at least 0 and below 1: \
                     'dropout P' (e.g. 'dropout 0.3')",
                ))
            }
        };
        end_of_statement(stmt, 2)?;
        Ok(LayerKind::Dropout { p })
    }

    /// `loss quadratic|cross_entropy|mse`.
    fn loss(&self, stmt: &[Token]) -> Result<LayerKind> {
        let t = &stmt[1.min(stmt.len() - 1)];
        let kind = self.text(t);
        if t.kind != Tok::Ident || !matches!(kind, "quadratic" | "cross_entropy" | "mse") {
            return Err(syntax(
                t.span,
                format!(
                    "unknown loss '{kind}': expected 'loss quadratic', 'loss cross_entropy', \
                     'loss mse' or an equation 'loss = ...'"
                ),
            ));
        }
        end_of_statement(stmt, 2)?;
        Ok(LayerKind::Loss {
            kind: self.ident(t),
        })
    }
}

/// Refuses tokens after `stmt[k]`'s position but before the terminator.
fn end_of_statement(stmt: &[Token], k: usize) -> Result<()> {
    match stmt.get(k) {
        Some(t) if !matches!(t.kind, Tok::Sep | Tok::Eof) => Err(syntax(
            t.span,
            "expected the end of the line after the layer shorthand",
        )),
        _ => Ok(()),
    }
}

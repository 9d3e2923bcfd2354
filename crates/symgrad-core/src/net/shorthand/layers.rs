//! The layer lines beyond `dense` and `loss`: convolution, pooling,
//! flatten, batch norm, dropout, a bare activation and a recurrent layer,
//! each expanded into the equations of "Contract: convolutions, pooling,
//! recurrences" (DESIGN.md).
//!
//! Layer lines are numbered together, from 1, in the order of the file
//! (`dense` lines included); line `k` defines names ending in `k`:
//!
//! | line | defines |
//! |---|---|
//! | `conv F KxK [stride S] [padding P] [act]` | `param Kk[F, C, kh, kw] ~ he`, `param bk[F] = 0`, `zk = conv2d(v, Kk, bk, stride = S, padding = P)` (the options only when not 1 and 0) and, with an activation, `ak = act(zk)`; without an activation and right before a `batchnorm` line, no bias (`zk = conv2d(v, Kk, ...)`): the norm's shift takes its place, as PyTorch users write `bias=False` |
//! | `maxpool K`, `avgpool K` | `pk = maxpool(v, K)` |
//! | `flatten` | `fk = flatten(v)` |
//! | `batchnorm` | `param gammak[C] = 1`, `param betak[C] = 0`, `bnk = batchnorm(v, gammak, betak)` (`C` the channels of an image, else the vector's length) |
//! | `dropout P` | `dk = dropout(v, P)` |
//! | `relu` (any activation alone) | `ak = relu(v)` |
//! | `rnn N act` | for an input `v[T, n]` (T steps of n features): `param Wink[N, n] ~ xavier`, `param Wreck[N, N] ~ xavier`, `param bk[N] = 0`, `hk[0] = act(Wink @ v[0] + bk)`, `hk[t] = act(Wink @ v[t] + Wreck @ hk[t-1] + bk) for t in 1..T`, and its output, the last state, `ak = hk[T-1]` |
//!
//! The kernel's initialization is He's (fan-in `C·kh·kw`, for the ReLU
//! that usually follows), a recurrent layer's Xavier's (for `tanh`);
//! biases, shifts start at 0 and scales at 1. Shapes are checked as each
//! line is read, so a kernel that does not fit is an error at its line.

use super::{Init, Source, State};
use crate::error::{Error, ErrorKind, Result, Span};
use crate::graph::conv::Conv;
use crate::graph::conv::{conv_output, pool_output};
use crate::graph::{Op, Shape};
use crate::net::syntax::{syntax, Recurrence, Step, StmtKind};
use crate::num::Num;
use crate::parse::ast::{BinOp, ExprId, ExprKind, Keyword};

impl State<'_> {
    /// The input of the layer at `line` (`what` names it in the error).
    fn input(&self, line: Span, what: &str) -> Result<Source> {
        self.current.clone().ok_or_else(|| {
            syntax(
                line,
                format!("'{what}' needs an input above it: declare 'input x[...]' first"),
            )
        })
    }

    /// `conv F KxK [stride S] [padding P] [activation]` at `line`.
    pub(super) fn conv(
        &mut self,
        line: Span,
        [filters, kh, kw]: [usize; 3],
        (stride, padding): (usize, usize),
        act: Option<&str>,
        with_bias: bool,
    ) -> Result<()> {
        let input = self.input(line, "conv")?;
        let &[c, _, _] = &input.dims[..] else {
            return Err(not_an_image(&input, line, "a 'conv' layer"));
        };
        let conv = Conv {
            stride: stride as u32,
            padding: padding as u32,
        };
        let out = conv_output(
            &Shape::new(input.dims.clone()),
            &Shape::new(vec![filters, c, kh, kw]),
            conv,
        )
        .map_err(|e| at_line(e, line))?;
        let [kernel, bias, z, a] = self.names(["K", "b", "z", "a"], line, "conv")?;
        self.param(&kernel, vec![filters, c, kh, kw], Init::Named("he"), line)?;
        if with_bias {
            self.param(&bias, vec![filters], Init::Constant(0), line)?;
        }
        let e = &mut self.exprs;
        let mut args = vec![e.name(&input.name, line), e.name(&kernel, line)];
        if with_bias {
            args.push(e.name(&bias, line));
        }
        let mut keywords = Vec::new();
        for (word, value, default) in [("stride", stride, 1), ("padding", padding, 0)] {
            if value != default {
                keywords.push(Keyword {
                    name: word.into(),
                    span: line,
                    value: e.num(Num::int(value as i64), line),
                });
            }
        }
        let value = e.push(
            ExprKind::Call {
                name: "conv2d".into(),
                name_span: line,
                args,
                keywords,
                gap: None,
            },
            line,
        );
        self.equation(&z, value, line);
        let dims = out.dims().to_vec();
        match act {
            None | Some("identity" | "linear") => self.output(z, dims),
            Some(act) => {
                let zn = self.exprs.name(&z, line);
                let value = self.activate(act, zn, line);
                self.equation(&a, value, line);
                self.output(a, dims);
            }
        }
        Ok(())
    }

    /// `maxpool K` (`max`) or `avgpool K` at `line`.
    pub(super) fn pool(&mut self, line: Span, max: bool, k: usize) -> Result<()> {
        let what = if max { "maxpool" } else { "avgpool" };
        let input = self.input(line, what)?;
        let op = if max {
            Op::MaxPool(k as u32)
        } else {
            Op::SumPool(k as u32)
        };
        let out = pool_output(&Shape::new(input.dims.clone()), k as u32, op)
            .map_err(|e| at_line(e, line))?;
        let [p] = self.names(["p"], line, what)?;
        let e = &mut self.exprs;
        let args = vec![e.name(&input.name, line), e.num(Num::int(k as i64), line)];
        let value = e.call(what, args, line);
        self.equation(&p, value, line);
        self.output(p, out.dims().to_vec());
        Ok(())
    }

    /// `flatten` at `line`.
    pub(super) fn flatten(&mut self, line: Span) -> Result<()> {
        let input = self.input(line, "flatten")?;
        let [f] = self.names(["f"], line, "flatten")?;
        self.apply(&f, "flatten", &input, line);
        self.output(f, vec![input.dims.iter().product()]);
        Ok(())
    }

    /// `batchnorm` at `line`: per feature of a vector, per channel of an
    /// image, with a learned scale and shift.
    pub(super) fn batchnorm(&mut self, line: Span) -> Result<()> {
        let input = self.input(line, "batchnorm")?;
        let features = match input.dims[..] {
            [n] | [n, _, _] => n,
            _ => {
                return Err(syntax(
                    line,
                    format!(
                        "'batchnorm' normalizes a vector or an image [channels, height, width], \
                         but '{}' has shape {}",
                        input.name,
                        Shape::new(input.dims.clone())
                    ),
                ))
            }
        };
        let [gamma, beta, bn] = self.names(["gamma", "beta", "bn"], line, "batchnorm")?;
        self.param(&gamma, vec![features], Init::Constant(1), line)?;
        self.param(&beta, vec![features], Init::Constant(0), line)?;
        let e = &mut self.exprs;
        let args = vec![
            e.name(&input.name, line),
            e.name(&gamma, line),
            e.name(&beta, line),
        ];
        let value = e.call("batchnorm", args, line);
        self.equation(&bn, value, line);
        self.output(bn, input.dims);
        Ok(())
    }

    /// `dropout P` at `line`.
    pub(super) fn dropout(&mut self, line: Span, p: Num) -> Result<()> {
        let input = self.input(line, "dropout")?;
        let [d] = self.names(["d"], line, "dropout")?;
        let e = &mut self.exprs;
        let args = vec![e.name(&input.name, line), e.num(p, line)];
        let value = e.call("dropout", args, line);
        self.equation(&d, value, line);
        self.output(d, input.dims);
        Ok(())
    }

    /// A line that is only an activation, at `line`.
    pub(super) fn activation(&mut self, line: Span, act: &str) -> Result<()> {
        let input = self.input(line, act)?;
        let [a] = self.names(["a"], line, act)?;
        let arg = self.exprs.name(&input.name, line);
        let value = self.activate(act, arg, line);
        self.equation(&a, value, line);
        self.output(a, input.dims);
        Ok(())
    }

    /// `name = function(input)`.
    fn apply(&mut self, name: &str, function: &str, input: &Source, line: Span) {
        let arg = self.exprs.name(&input.name, line);
        let value = self.exprs.call(function, vec![arg], line);
        self.equation(name, value, line);
    }

    /// `rnn N activation` at `line`, over the first axis of its input.
    pub(super) fn recurrent(&mut self, line: Span, width: usize, act: &str) -> Result<()> {
        let input = self.input(line, "rnn")?;
        let &[steps, n] = &input.dims[..] else {
            return Err(syntax(
                line,
                format!(
                    "'rnn' reads its input's first axis as steps: it needs [steps, features], \
                     but '{}' has shape {}",
                    input.name,
                    Shape::new(input.dims.clone())
                ),
            ));
        };
        let [w_in, w_rec, bias, h, a] = self.names(["Win", "Wrec", "b", "h", "a"], line, "rnn")?;
        self.param(&w_in, vec![width, n], Init::Named("xavier"), line)?;
        self.param(&w_rec, vec![width, width], Init::Named("xavier"), line)?;
        self.param(&bias, vec![width], Init::Constant(0), line)?;
        // act(Win @ v[t] + [Wrec @ h[t-1] +] b), with `t` a step or the
        // index variable.
        let step_value = |s: &mut Self, at: Option<i64>| -> ExprId {
            let e = &mut s.exprs;
            let index = |e: &mut crate::parse::ast::ExprArena, offset: i64| match at {
                Some(step) => e.num(Num::int(step + offset), line),
                None if offset == 0 => e.name("t", line),
                None => {
                    let t = e.name("t", line);
                    let one = e.num(Num::int(-offset), line);
                    e.binary(BinOp::Sub, t, one, line)
                }
            };
            let v = e.name(&input.name, line);
            let now = index(e, 0);
            let vt = e.push(
                ExprKind::Index {
                    base: v,
                    index: now,
                },
                line,
            );
            let win = e.name(&w_in, line);
            let mut sum = e.binary(BinOp::MatMul, win, vt, line);
            if at.is_none() {
                let hn = e.name(&h, line);
                let before = index(e, -1);
                let prev = e.push(
                    ExprKind::Index {
                        base: hn,
                        index: before,
                    },
                    line,
                );
                let wrec = e.name(&w_rec, line);
                let product = e.binary(BinOp::MatMul, wrec, prev, line);
                sum = e.binary(BinOp::Add, sum, product, line);
            }
            let b = e.name(&bias, line);
            let sum = e.binary(BinOp::Add, sum, b, line);
            s.activate(act, sum, line)
        };
        let first = step_value(self, Some(0));
        self.push(
            StmtKind::Step(Step {
                name: Self::ident(&h, line),
                step: 0,
                index_span: line,
                value: first,
            }),
            line,
        );
        if steps > 1 {
            let value = step_value(self, None);
            self.push(
                StmtKind::Recurrence(Recurrence {
                    name: Self::ident(&h, line),
                    var: Self::ident("t", line),
                    start: 1,
                    end: steps as i64,
                    range_span: line,
                    value,
                }),
                line,
            );
        }
        let e = &mut self.exprs;
        let hn = e.name(&h, line);
        let last = e.num(Num::int(steps as i64 - 1), line);
        let value = e.push(
            ExprKind::Index {
                base: hn,
                index: last,
            },
            line,
        );
        self.equation(&a, value, line);
        self.output(a, vec![width]);
        Ok(())
    }
}

/// A shape error from the graph's rules, at the layer's line.
fn at_line(e: Error, line: Span) -> Error {
    Error::at(ErrorKind::Shape, line, e.message())
}

fn not_an_image(input: &Source, line: Span, what: &str) -> Error {
    syntax(
        line,
        format!(
            "{what} needs an image [channels, height, width], but '{}' has shape {}; \
             declare the input as e.g. 'input x[1, 8, 8]'",
            input.name,
            Shape::new(input.dims.clone())
        ),
    )
}

//! Tensors expanded into scalar neurons: a copy of a (small) tensor graph
//! with one scalar node per tensor entry, so that path enumeration, which
//! needs scalar edges, runs over a network (DESIGN.md: "Path enumeration
//! over a network expands tensors to scalar neurons").
//!
//! Each tensor variable `W` of shape `[m, n]` becomes the scalar variables
//! `W[i,j]` (a vector `x[i]`, a scalar keeps its name); a matrix product
//! becomes, per output entry, a left-to-right sum of products; elementwise
//! operations work entry by entry with NumPy broadcasting; `sum`, `mean`,
//! `max` and `sum_to` are sums (or maxima) of the entries they combine;
//! transpose, reshape and `broadcast_to` only move entries; `softmax` is
//! `exp(a_j) / Σ_k exp(a_k)` and `logsumexp` is `ln(Σ_k exp(a_k))` along the
//! last axis (without the shift by the largest entry, which cancels exactly
//! and would only add paths); a convolution is, per output entry, the sum of
//! its window's products, pooling the maximum or sum of a window, and a
//! selection picks entries. The operations that exist only in derivative
//! graphs (masks, the convolution's backward products, upsampling,
//! embedding) have no scalar form here. The copy is built through the folding
//! builders, so it keeps the structure the tensor graph had.
//!
//! The size is estimated before anything is built (one scalar node per
//! entry, two per multiply-add of a matrix product) and refused past a limit
//! with an [`ErrorKind::TooLarge`] error naming both numbers.

use super::{Axis, Graph, NodeId, Op};
use crate::error::{Error, ErrorKind, Result};
use crate::num::Num;

/// The default limit on the estimated number of scalar nodes: 2^20.
pub const DEFAULT_MAX_SCALARS: usize = 1 << 20;

/// A tensor graph expanded into scalars.
#[derive(Clone, Debug)]
pub struct Scalarized {
    /// The scalar graph.
    pub graph: Graph,
    /// `entries[v]`: the scalar nodes of tensor node `v`'s entries in
    /// row-major order (empty for nodes that were not expanded).
    entries: Vec<Vec<NodeId>>,
}

impl Scalarized {
    /// The scalar nodes of node `v`'s entries, row-major (one for a scalar);
    /// empty when `v` was not expanded.
    pub fn entries(&self, v: NodeId) -> &[NodeId] {
        self.entries.get(v.index()).map_or(&[], Vec::as_slice)
    }
}

/// The estimated number of scalar nodes that expanding what `outputs` depend
/// on (and every variable of `g`) makes.
pub fn estimate(g: &Graph, outputs: &[NodeId]) -> usize {
    let marks = g.reachable_mask(outputs);
    let mut total: usize = 0;
    for v in g.ids() {
        if !marks[v.index()] && !matches!(g.op(v), Op::Var(_)) {
            continue;
        }
        let out = g.shape(v).numel();
        let cost = match g.op(v) {
            Op::MatMul => {
                let k = g.shape(g.args(v)[1]).dims().first().copied().unwrap_or(1);
                out.saturating_mul(k).saturating_mul(2)
            }
            Op::Softmax => out.saturating_mul(3),
            Op::Conv2d(_) => {
                let k = g.shape(g.args(v)[1]).dims();
                out.saturating_mul(k[1] * k[2] * k[3]).saturating_mul(2)
            }
            op if op.is_tensor() => g.shape(g.args(v)[0]).numel().saturating_add(out),
            _ => out,
        };
        total = total.saturating_add(cost);
    }
    total
}

/// Expands the nodes that `outputs` depend on, and every variable of `g`,
/// into scalars.
///
/// # Errors
/// [`ErrorKind::TooLarge`] when the estimate exceeds `max_scalars`;
/// [`ErrorKind::NoRule`] for `argmax_mask`, which exists only in derivative
/// graphs and has no scalar form here.
pub fn scalarize(g: &Graph, outputs: &[NodeId], max_scalars: usize) -> Result<Scalarized> {
    let size = estimate(g, outputs);
    if size > max_scalars {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!(
                "expanding the tensors into scalar neurons would make about {size} scalar \
                 nodes, more than the limit of {max_scalars}; path enumeration is for small \
                 networks (use reverse mode)"
            ),
        ));
    }
    let marks = g.reachable_mask(outputs);
    let mut dst = Graph::new();
    let mut entries: Vec<Vec<NodeId>> = vec![Vec::new(); g.len()];
    for v in g.ids() {
        let is_var = matches!(g.op(v), Op::Var(_));
        if !marks[v.index()] && !is_var {
            continue;
        }
        let expanded = expand(g, v, &entries, &mut dst)?;
        entries[v.index()] = expanded;
    }
    Ok(Scalarized {
        graph: dst,
        entries,
    })
}

/// Row-major strides of `dims`.
fn strides(dims: &[usize]) -> Vec<usize> {
    let mut s = vec![1; dims.len()];
    for i in (0..dims.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * dims[i + 1];
    }
    s
}

/// The multi-index of flat entry `flat` of `dims`.
fn unravel(mut flat: usize, dims: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; dims.len()];
    for i in (0..dims.len()).rev() {
        let d = dims[i].max(1);
        idx[i] = flat % d;
        flat /= d;
    }
    idx
}

/// The flat entry of `from` (which broadcasts to the shape of `idx`) that
/// entry `idx` of the broadcast reads.
fn broadcast_source(idx: &[usize], from: &[usize]) -> usize {
    let pad = idx.len() - from.len();
    let st = strides(from);
    (0..from.len())
        .map(|i| {
            if from[i] == 1 {
                0
            } else {
                idx[pad + i] * st[i]
            }
        })
        .sum()
}

/// `Σ items` (or the maximum) folded left to right; `None` for no items.
fn fold(dst: &mut Graph, op: Op, items: &[NodeId]) -> Result<Option<NodeId>> {
    let mut acc: Option<NodeId> = None;
    for &x in items {
        acc = Some(match acc {
            None => x,
            Some(a) => dst.try_apply(op, &[a, x])?,
        });
    }
    Ok(acc)
}

fn sum_of(dst: &mut Graph, items: &[NodeId]) -> Result<NodeId> {
    Ok(fold(dst, Op::Add, items)?.unwrap_or_else(|| dst.int(0)))
}

/// The scalar entries of node `v`, from its operands' entries.
fn expand(g: &Graph, v: NodeId, entries: &[Vec<NodeId>], dst: &mut Graph) -> Result<Vec<NodeId>> {
    let node = g.node(v);
    let out_dims = g.shape(v).dims().to_vec();
    let numel = g.shape(v).numel();
    let arg = |k: usize| &entries[node.args[k].index()];
    let arg_dims = |k: usize| g.shape(node.args[k]).dims().to_vec();
    Ok(match node.op {
        Op::Const(n) => vec![dst.constant(n)],
        Op::Named(c) => vec![dst.named(c)],
        Op::Var(_) => {
            let name = g.var_name(v).unwrap_or("?");
            (0..numel)
                .map(|flat| {
                    if out_dims.is_empty() {
                        return dst.var(name);
                    }
                    let idx: Vec<String> = unravel(flat, &out_dims)
                        .iter()
                        .map(usize::to_string)
                        .collect();
                    dst.var(&format!("{name}[{}]", idx.join(",")))
                })
                .collect()
        }
        op if op.is_elementwise() => {
            let mut out = Vec::with_capacity(numel);
            for flat in 0..numel {
                let idx = unravel(flat, &out_dims);
                let operands: Vec<NodeId> = (0..node.args.len())
                    .map(|k| arg(k)[broadcast_source(&idx, &arg_dims(k))])
                    .collect();
                out.push(dst.try_apply(op, &operands)?);
            }
            out
        }
        Op::MatMul => {
            let (a, b) = (arg(0).clone(), arg(1).clone());
            let (ad, bd) = (arg_dims(0), arg_dims(1));
            // A vector operand is a one-row or one-column matrix.
            let (m, k) = if ad.len() == 2 {
                (ad[0], ad[1])
            } else {
                (1, ad[0])
            };
            let n = if bd.len() == 2 { bd[1] } else { 1 };
            let mut out = Vec::with_capacity(m * n);
            for i in 0..m {
                for j in 0..n {
                    let mut terms = Vec::with_capacity(k);
                    for p in 0..k {
                        terms.push(dst.try_mul(a[i * k + p], b[p * n + j])?);
                    }
                    out.push(sum_of(dst, &terms)?);
                }
            }
            out
        }
        Op::Transpose => {
            let d = arg_dims(0);
            let (m, n) = (d[0], d[1]);
            let a = arg(0);
            (0..numel)
                .map(|flat| a[(flat % m) * n + flat / m])
                .collect()
        }
        Op::Sum(axis) | Op::Mean(axis) | Op::MaxReduce(axis) => {
            let d = arg_dims(0);
            let a = arg(0).clone();
            let groups: Vec<Vec<NodeId>> = match axis {
                Axis::All => vec![a],
                Axis::Dim(k) => {
                    let k = k as usize;
                    let st = strides(&d);
                    (0..numel)
                        .map(|flat| {
                            let mut idx = unravel(flat, &out_dims);
                            idx.insert(k, 0);
                            let base: usize = idx.iter().zip(&st).map(|(i, s)| i * s).sum();
                            (0..d[k]).map(|t| a[base + t * st[k]]).collect()
                        })
                        .collect()
                }
            };
            let mut out = Vec::with_capacity(groups.len());
            for items in groups {
                let count = items.len() as i64;
                out.push(match node.op {
                    Op::MaxReduce(_) => fold(dst, Op::Max, &items)?.unwrap_or_else(|| dst.int(0)),
                    Op::Mean(_) => {
                        let s = sum_of(dst, &items)?;
                        let n = dst.constant(Num::int(count));
                        dst.try_div(s, n)?
                    }
                    _ => sum_of(dst, &items)?,
                });
            }
            out
        }
        Op::ArgMaxMask(_) => {
            return Err(Error::new(
                ErrorKind::NoRule,
                "'argmax_mask' has no expansion into scalar neurons",
            ))
        }
        Op::SumTo(_) => {
            let d = arg_dims(0);
            let a = arg(0);
            let mut groups: Vec<Vec<NodeId>> = vec![Vec::new(); numel];
            for (flat, &x) in a.iter().enumerate() {
                groups[broadcast_source(&unravel(flat, &d), &out_dims)].push(x);
            }
            groups
                .iter()
                .map(|items| sum_of(dst, items))
                .collect::<Result<_>>()?
        }
        Op::BroadcastTo(_) => {
            let (d, a) = (arg_dims(0), arg(0));
            (0..numel)
                .map(|flat| a[broadcast_source(&unravel(flat, &out_dims), &d)])
                .collect()
        }
        Op::Reshape(_) => arg(0).clone(),
        Op::Softmax | Op::LogSumExp => {
            let d = arg_dims(0);
            let last = d.last().copied().unwrap_or(1);
            let a = arg(0).clone();
            let mut out = Vec::with_capacity(numel);
            for row in a.chunks(last.max(1)) {
                let exps: Vec<NodeId> =
                    row.iter().map(|&x| dst.func(super::Func::Exp, x)).collect();
                let total = sum_of(dst, &exps)?;
                if node.op == Op::LogSumExp {
                    out.push(dst.func(super::Func::Ln, total));
                } else {
                    for &e in &exps {
                        out.push(dst.try_div(e, total)?);
                    }
                }
            }
            out
        }
        Op::Conv2d(c) => {
            let (xd, kd) = (arg_dims(0), arg_dims(1));
            let (x, k) = (arg(0).clone(), arg(1).clone());
            let r = xd.len();
            let (ch, h, w) = (xd[r - 3], xd[r - 2], xd[r - 1]);
            let (f, kh, kw) = (kd[0], kd[2], kd[3]);
            let (ho, wo) = (out_dims[r - 2], out_dims[r - 1]);
            let (s, pad) = (c.stride as usize, c.padding as usize);
            let mut out = Vec::with_capacity(numel);
            for flat in 0..numel {
                let (n, rest) = (flat / (f * ho * wo), flat % (f * ho * wo));
                let (fi, oi, oj) = (rest / (ho * wo), rest / wo % ho, rest % wo);
                let mut terms = Vec::new();
                for ci in 0..ch {
                    for p in 0..kh {
                        for q in 0..kw {
                            let (i, j) =
                                ((oi * s + p).checked_sub(pad), (oj * s + q).checked_sub(pad));
                            if let (Some(i), Some(j)) = (i, j) {
                                if i < h && j < w {
                                    let xv = x[((n * ch + ci) * h + i) * w + j];
                                    let kv = k[((fi * ch + ci) * kh + p) * kw + q];
                                    terms.push(dst.try_mul(xv, kv)?);
                                }
                            }
                        }
                    }
                }
                out.push(sum_of(dst, &terms)?);
            }
            out
        }
        Op::MaxPool(k) | Op::SumPool(k) => {
            let d = arg_dims(0);
            let a = arg(0).clone();
            let r = d.len();
            let (h, w, k) = (d[r - 2], d[r - 1], k as usize);
            let (ho, wo) = (h / k, w / k);
            let mut out = Vec::with_capacity(numel);
            for flat in 0..numel {
                let (plane, oi, oj) = (flat / (ho * wo), flat / wo % ho, flat % wo);
                let window: Vec<NodeId> = (0..k * k)
                    .map(|e| a[(plane * h + oi * k + e / k) * w + oj * k + e % k])
                    .collect();
                out.push(match node.op {
                    Op::MaxPool(_) => fold(dst, Op::Max, &window)?.unwrap_or_else(|| dst.int(0)),
                    _ => sum_of(dst, &window)?,
                });
            }
            out
        }
        Op::Select { axis, at } => {
            let d = arg_dims(0);
            let a = arg(0);
            let axis = axis as usize;
            let (len, inner) = (d[axis], d[axis + 1..].iter().product::<usize>());
            (0..numel)
                .map(|flat| {
                    let (o, i) = (flat / inner, flat % inner);
                    a[(o * len + at as usize) * inner + i]
                })
                .collect()
        }
        op => {
            return Err(Error::new(
                ErrorKind::NoRule,
                format!("'{}' has no expansion into scalar neurons", op.label()),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{Program, Tensor, TensorProgram};
    use crate::graph::Shape;

    /// Each tensor operation, expanded, gives the tensor interpreter's values.
    #[test]
    fn every_operation_matches_the_tensor_interpreter() {
        let mut g = Graph::new();
        let a = g.tensor_var("A", [2, 3]);
        let b = g.tensor_var("B", [3, 2]);
        let v = g.tensor_var("v", [3]);
        let s = g.var("s");
        let mut outs = vec![
            g.matmul(a, b),
            g.matmul(a, v),
            g.matmul(v, b),
            g.matmul(v, v),
            g.transpose(a),
            g.sum(a, Axis::All),
            g.sum(a, Axis::Dim(0)),
            g.mean(a, Axis::Dim(1)),
            g.max_reduce(a, Axis::Dim(1)),
            g.sum_to(a, &Shape::new(vec![1, 3])),
            g.sum_to(a, &Shape::new(vec![2, 1])),
            g.broadcast_to(v, &Shape::new(vec![2, 3])),
            g.reshape(a, &Shape::new(vec![3, 2])),
            g.softmax(a),
            g.logsumexp(a),
        ];
        let av = g.mul(a, v);
        outs.push(av);
        let sa = g.sub(s, a);
        outs.push(g.func(crate::graph::Func::Sigmoid, sa));
        let inputs = [a, b, v, s];
        let values = [
            Tensor::new([2, 3], vec![0.5, -1.0, 2.0, 0.25, 1.5, -0.75]),
            Tensor::new([3, 2], vec![1.0, 2.0, -0.5, 0.3, 0.7, -1.2]),
            Tensor::new([3], vec![0.1, -0.2, 0.4]),
            Tensor::scalar(0.6),
        ];
        let want = TensorProgram::compile(&g, &inputs, &outs)
            .unwrap()
            .run(&values)
            .unwrap();
        let sc = scalarize(&g, &outs, DEFAULT_MAX_SCALARS).unwrap();
        let scalar_inputs: Vec<NodeId> = inputs
            .iter()
            .flat_map(|&x| sc.entries(x).to_vec())
            .collect();
        let point: Vec<f64> = values.iter().flat_map(|t| t.data.clone()).collect();
        for (k, (&o, w)) in outs.iter().zip(&want).enumerate() {
            assert_eq!(sc.entries(o).len(), w.shape.numel(), "output {k}");
            let got = Program::compile(&sc.graph, &scalar_inputs, sc.entries(o))
                .unwrap()
                .run(&point);
            for (g, w) in got.iter().zip(&w.data) {
                assert!(
                    (g - w).abs() <= 1e-14 * (1.0 + w.abs()),
                    "output {k}: {g} vs {w}"
                );
            }
        }
        assert!(sc.graph.var_node("A[1,2]").is_some() && sc.graph.var_node("s").is_some());
    }

    #[test]
    fn too_large_is_refused_with_the_size_and_the_limit() {
        let mut g = Graph::new();
        let a = g.tensor_var("A", [100, 100]);
        let b = g.tensor_var("B", [100, 100]);
        let c = g.matmul(a, b);
        let s = g.sum(c, Axis::All);
        let e = scalarize(&g, &[s], 100_000).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TooLarge);
        assert!(
            e.message().contains("about 2030001 scalar nodes"),
            "{}",
            e.message()
        );
        assert!(
            e.message().contains("the limit of 100000"),
            "{}",
            e.message()
        );
    }
}

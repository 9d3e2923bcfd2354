//! The batched form of a network: the per-sample definition with a leading
//! batch axis on everything that depends on the data, and the mean loss
//! `C = (1/m) Σ_x C_x` as its one output.
//!
//! The file defines one sample (`z1 = W1 @ x + b1` with `x[784]`). Batching
//! is a graph-to-graph rewrite, node by node in topological order: inputs
//! and targets gain the axis (`X[m, 784]`), parameters do not, and each
//! operation is rebuilt for operands that carry it. A parameter matrix times
//! a batched vector becomes a matrix-matrix product, `W @ x -> X @ Wᵀ`
//! (`[m, 784] @ [784, 30]`), so reverse mode over the rewritten graph yields
//! the matrix form of backpropagation (`∂C/∂W1 = (X^T G)^T`) in one backward
//! pass instead of one per sample. Reductions shift their axis by one,
//! softmax and log-sum-exp already work along the last axis, and an
//! elementwise operand of lower per-sample rank gets 1s after the batch axis
//! so that NumPy broadcasting still lines its axes up with the sample's.
//!
//! The mean is `Σ_x C_x · w` with `w = 1/m` a scalar variable ([`WEIGHT`])
//! that the evaluation fills in. The batch size is symbolic: the graph is built with a stand-in size
//! [`Batched::batch`], a prime larger than every size in the file, so that a
//! dimension equal to it can only be the batch axis. The evaluation plan
//! ([`crate::plan`]) turns that dimension back into a variable `m`, so one
//! graph, one reverse pass and one plan serve every batch size.
//!
//! Dropout masks ([`Role::Mask`]) are data like the inputs: they gain the
//! batch axis. `batchnorm(a)` is defined only here: its per-sample form
//! holds two variables standing for the batch statistics
//! ([`BatchNorm`]), which the rewrite replaces by
//! reductions over the batch axis, `mean = Σ_x a_x · w` and `var = Σ_x
//! (a_x - mean)² · w` (biased, per entry), so that reverse mode
//! differentiates through them. They are written with the weight `w = 1/m`
//! rather than `mean(A, 0)`, so that no dimension of the stand-in batch size
//! is baked into a constant.
//!
//! That is training mode. In inference mode ([`Mode::Inference`]) dropout
//! is off: `dropout(a, p)` is `a` itself, since inverted dropout already
//! scaled the kept entries during training, and there are no masks; and
//! batchnorm normalizes with its running mean and running variance, two
//! unbatched variables per call (`batchnormK.running_mean`,
//! `batchnormK.running_var`, [`Batched::running`]) that the evaluation
//! supplies like parameters, so every sample is normalized on its own.
//!
//! Not supported (a typed [`Shape`](ErrorKind::Shape) error at the equation):
//! a per-sample matrix that depends on the data (a transpose or a matrix
//! product of one), which would need rank-3 batched products.

use super::{BatchNorm, Network, Role};
use crate::error::{Error, ErrorKind, Result, Span};
use crate::graph::{Axis, Graph, NodeId, Op, Shape};

/// A network's mean loss over a batch, as a graph with a batch axis.
#[derive(Clone, Debug)]
pub struct Batched {
    pub graph: Graph,
    /// The stand-in batch size: every dimension equal to it is the batch axis.
    pub batch: usize,
    /// The mean loss over the batch, a scalar.
    pub loss: NodeId,
    /// The per-sample losses, `[batch]`.
    pub losses: NodeId,
    /// The inputs, then the targets, then (in training mode) the dropout
    /// masks, each in declaration order and `[batch, ...]`.
    pub data: Vec<NodeId>,
    /// The parameters in declaration order, unbatched.
    pub params: Vec<NodeId>,
    /// `1/m`, a scalar variable that the evaluation sets: the weight of
    /// each sample in the mean (a constant would fix the batch size).
    pub weight: NodeId,
    /// Each node of the network's graph that the loss or the prediction
    /// depends on, batched.
    pub map: Vec<Option<NodeId>>,
    /// Training mode: for each `batchnorm` call in order, its batch mean
    /// and its biased batch variance, each of the operand's per-sample
    /// shape (the statistics that update the running ones). Empty in
    /// inference mode.
    pub stats: Vec<NodeId>,
    /// Inference mode: for each `batchnorm` call in order, the variables
    /// of its running mean and running variance, unbatched, each of the
    /// operand's per-sample shape. Empty in training mode.
    pub running: Vec<NodeId>,
}

/// How dropout and batchnorm evaluate (see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Dropout draws masks (data of the plan); batchnorm normalizes with
    /// the statistics of the batch.
    #[default]
    Training,
    /// Dropout is off; batchnorm normalizes with its running statistics.
    Inference,
}

/// The name of the variable that holds `1/m`.
pub const WEIGHT: &str = "1/m";

/// Rewrites `net` with a leading batch axis in training mode (see the
/// module documentation).
///
/// # Errors
/// A [`Shape`](ErrorKind::Shape) error spanned at the equation whose
/// operation cannot be batched.
pub fn batch(net: &Network) -> Result<Batched> {
    batch_in(net, Mode::Training)
}

/// Rewrites `net` with a leading batch axis in `mode`.
///
/// # Errors
/// As [`batch`].
pub fn batch_in(net: &Network, mode: Mode) -> Result<Batched> {
    let src = &net.graph;
    let m = stand_in_batch(src);
    let mut g = Graph::new();
    let training = mode == Mode::Training;
    // The loss, and the prediction even where the loss reads its inputs
    // rather than it (`log(softmax(z))` is built as `z - logsumexp(z)`),
    // and in training every batch statistic, even of a call neither uses.
    let mut roots = vec![net.loss];
    roots.extend(super::batch::prediction(net).map(|e| e.node));
    if training {
        roots.extend(net.batchnorms.iter().flat_map(|bn| [bn.mean, bn.var]));
    }
    let order = src.reachable(&roots);
    let mut new_id: Vec<Option<NodeId>> = vec![None; src.len()];
    let mut batched = vec![false; src.len()];
    let role_of = |v: NodeId| net.decls.iter().find(|d| d.node == v).map(|d| d.role);
    let mut params = Vec::new();
    // Declarations first, so that every variable exists even when the loss
    // does not use it.
    for d in &net.decls {
        if d.role == Role::Mask && !training {
            continue;
        }
        let shape = match d.role {
            Role::Input | Role::Target | Role::Mask => prepend(m, &d.shape),
            Role::Param => d.shape.clone(),
        };
        let node = g
            .try_tensor_var(&d.name, shape)
            .map_err(|e| Error::at(e.kind(), d.span, e.message()))?;
        new_id[d.node.index()] = Some(node);
        batched[d.node.index()] = d.role != Role::Param;
        if d.role == Role::Param {
            params.push(node);
        }
    }
    let data = [Role::Input, Role::Target, Role::Mask]
        .into_iter()
        .flat_map(|r| net.with_role(r))
        .filter_map(|d| new_id[d.node.index()])
        .collect();
    let mut running = Vec::new();
    if !training {
        for bn in &net.batchnorms {
            let shape = src.shape(bn.mean).clone();
            for (stat, name) in [bn.mean, bn.var].into_iter().zip(bn.running_names()) {
                let node = g
                    .try_tensor_var(&name, shape.clone())
                    .map_err(|e| Error::at(e.kind(), bn.span, e.message()))?;
                new_id[stat.index()] = Some(node);
                running.push(node);
            }
        }
    }
    for &v in &order {
        if new_id[v.index()].is_some() {
            continue;
        }
        if !training {
            // Dropout off: the call is its operand; its mask and product
            // are never built.
            if let Some(d) = net.dropouts.iter().find(|d| d.output == v) {
                new_id[v.index()] = new_id[d.operand.index()];
                batched[v.index()] = batched[d.operand.index()];
                continue;
            }
            if net.dropouts.iter().any(|d| d.product == v || d.mask == v) {
                continue;
            }
        }
        if let Some(bn) = net.batchnorms.iter().find(|b| b.mean == v || b.var == v) {
            let operand = new_id[bn.operand.index()].ok_or_else(|| {
                unsupported(net, v, "batchnorm of an operand that was not rebuilt")
            })?;
            let mean = new_id[bn.mean.index()];
            let a = (operand, batched[bn.operand.index()]);
            let shapes = (src.shape(bn.operand), src.shape(bn.mean));
            let stat = statistic(&mut g, bn, v, a, mean, m, shapes)
                .map_err(|e| Error::at(e.kind(), bn.span, e.message()))?;
            new_id[v.index()] = Some(stat);
            continue;
        }
        let node = src.node(v);
        let args: Vec<NodeId> = node
            .args
            .iter()
            .map(|a| {
                new_id[a.index()].ok_or_else(|| unsupported(net, v, "an operand was not rebuilt"))
            })
            .collect::<Result<_>>()?;
        let flags: Vec<bool> = node.args.iter().map(|a| batched[a.index()]).collect();
        let any = flags.iter().any(|&b| b);
        let at = |e: Error| Error::at(e.kind(), equation_span(net, v), e.message());
        let built =
            if !any {
                if let Op::Var(_) = node.op {
                    if role_of(v).is_none() {
                        return Err(unsupported(net, v, "a variable that is not declared"));
                    }
                }
                let op = g.op_from(src, node.op);
                g.try_apply(op, &args).map_err(at)?
            } else {
                let per_sample = |a: NodeId| src.shape(a).clone();
                let rank = src.shape(v).rank();
                match node.op {
                    op if op.is_elementwise() => {
                        let mut aligned = Vec::with_capacity(args.len());
                        for ((&a, &new), &b) in node.args.iter().zip(&args).zip(&flags) {
                            aligned.push(if b {
                                align(&mut g, new, m, &per_sample(a), rank).map_err(at)?
                            } else {
                                new
                            });
                        }
                        g.try_apply(node.op, &aligned).map_err(at)?
                    }
                    Op::MatMul => {
                        let (ra, rb) = (
                            per_sample(node.args[0]).rank(),
                            per_sample(node.args[1]).rank(),
                        );
                        let (a, b) = (args[0], args[1]);
                        match (flags[0], flags[1], ra, rb) {
                            // W @ x -> X @ Wᵀ
                            (false, true, 2, 1) => {
                                let wt = g.try_transpose(a).map_err(at)?;
                                g.try_matmul(b, wt).map_err(at)?
                            }
                            // x @ W -> X @ W; x @ v -> X @ v
                            (true, false, 1, 1 | 2) => g.try_matmul(a, b).map_err(at)?,
                            // v @ x -> X @ v
                            (false, true, 1, 1) => g.try_matmul(b, a).map_err(at)?,
                            // x @ x' -> the row sums of X ⊙ X'
                            (true, true, 1, 1) => {
                                let p = g.try_mul(a, b).map_err(at)?;
                                g.try_sum(p, Axis::Dim(1)).map_err(at)?
                            }
                            _ => return Err(unsupported(
                                net,
                                v,
                                "a matrix product of a per-sample matrix that depends on the data",
                            )),
                        }
                    }
                    Op::Transpose => {
                        return Err(unsupported(
                            net,
                            v,
                            "the transpose of a per-sample matrix that depends on the data",
                        ))
                    }
                    Op::Sum(axis) | Op::Mean(axis) | Op::MaxReduce(axis) | Op::ArgMaxMask(axis) => {
                        let a_shape = per_sample(node.args[0]);
                        reduction(&mut g, node.op, axis, args[0], m, &a_shape).map_err(at)?
                    }
                    Op::BroadcastTo(s) => {
                        let target = src.shape_by_id(s).clone();
                        let a = align(&mut g, args[0], m, &per_sample(node.args[0]), target.rank())
                            .map_err(at)?;
                        g.try_broadcast_to(a, &prepend(m, &target)).map_err(at)?
                    }
                    Op::SumTo(s) => {
                        let target = src.shape_by_id(s).clone();
                        let full_rank = per_sample(node.args[0]).rank();
                        let mut padded = vec![m];
                        padded.extend(std::iter::repeat_n(1, full_rank - target.rank()));
                        padded.extend_from_slice(target.dims());
                        let summed = g.try_sum_to(args[0], &Shape::new(padded)).map_err(at)?;
                        g.try_reshape(summed, &prepend(m, &target)).map_err(at)?
                    }
                    Op::Reshape(s) => {
                        let target = src.shape_by_id(s).clone();
                        g.try_reshape(args[0], &prepend(m, &target)).map_err(at)?
                    }
                    Op::Softmax | Op::LogSumExp if per_sample(node.args[0]).is_scalar() => {
                        // Along the last axis of a per-sample scalar: give it one.
                        let col = g
                            .try_reshape(args[0], &Shape::new(vec![m, 1]))
                            .map_err(at)?;
                        let r = g.try_apply(node.op, &[col]).map_err(at)?;
                        if node.op == Op::Softmax {
                            g.try_reshape(r, &Shape::new(vec![m])).map_err(at)?
                        } else {
                            r
                        }
                    }
                    Op::Softmax | Op::LogSumExp => g.try_apply(node.op, &args).map_err(at)?,
                    // The image operations take leading axes as samples.
                    Op::Conv2d(_) if flags[0] && !flags[1] => {
                        g.try_apply(node.op, &args).map_err(at)?
                    }
                    Op::Conv2d(_) => {
                        return Err(unsupported(
                            net,
                            v,
                            "a convolution kernel that depends on the data",
                        ))
                    }
                    Op::MaxPool(_) | Op::SumPool(_) => g.try_apply(node.op, &args).map_err(at)?,
                    Op::Select { axis, at: k } => g.try_select(args[0], axis + 1, k).map_err(at)?,
                    _ => return Err(unsupported(net, v, "this operation")),
                }
            };
        new_id[v.index()] = Some(built);
        batched[v.index()] = any;
    }
    let losses = new_id[net.loss.index()].ok_or_else(|| unsupported(net, net.loss, "the loss"))?;
    let weight = g.var(WEIGHT);
    let (loss, losses) = if batched[net.loss.index()] {
        let total = g.try_sum(losses, Axis::All)?;
        (g.try_mul(total, weight)?, losses)
    } else {
        // A loss that does not depend on the data is its own mean.
        let spread = g.try_broadcast_to(losses, &Shape::new(vec![m]))?;
        (losses, spread)
    };
    let stats = match training {
        true => net
            .batchnorms
            .iter()
            .flat_map(|bn| [bn.mean, bn.var])
            .map(|v| new_id[v.index()].ok_or_else(|| unsupported(net, v, "a batch statistic")))
            .collect::<Result<_>>()?,
        false => Vec::new(),
    };
    Ok(Batched {
        graph: g,
        batch: m,
        loss,
        losses,
        data,
        params,
        weight,
        map: new_id,
        stats,
        running,
    })
}

/// The batch statistic `v` of `bn` (its mean or its variance variable),
/// given the batched operand `a` (and whether it has the batch axis), the
/// mean once built, and the operand's per-sample shape.
fn statistic(
    g: &mut Graph,
    bn: &BatchNorm,
    v: NodeId,
    (a, a_batched): (NodeId, bool),
    mean: Option<NodeId>,
    m: usize,
    (shape, stat_shape): (&Shape, &Shape),
) -> Result<NodeId> {
    // An operand that does not depend on the data is the same in every sample.
    let a = if a_batched {
        a
    } else {
        g.try_broadcast_to(a, &prepend(m, shape))?
    };
    let summand = if v == bn.mean {
        a
    } else {
        let mean = mean.ok_or_else(|| {
            Error::new(
                ErrorKind::Shape,
                "batchnorm: the batch variance is needed without the batch mean",
            )
        })?;
        let d = g.try_sub(a, mean)?;
        g.try_mul(d, d)?
    };
    let total = g.try_sum(summand, Axis::Dim(0))?;
    let w = g.var(WEIGHT);
    if stat_shape == shape {
        return g.try_mul(total, w);
    }
    // Per channel: also over the positions, `[C, H, W]` summed to `[C, 1, 1]`.
    let positions = shape.numel() / stat_shape.numel().max(1);
    let per_channel = g.try_sum_to(total, stat_shape)?;
    let mean_of_sums = g.try_mul(per_channel, w)?;
    let n = g.int(positions as i64);
    g.try_div(mean_of_sums, n)
}

/// `[m] ++ shape`.
fn prepend(m: usize, shape: &Shape) -> Shape {
    let mut dims = vec![m];
    dims.extend_from_slice(shape.dims());
    Shape::new(dims)
}

/// A batched operand of per-sample shape `shape`, reshaped to per-sample
/// rank `rank` by 1s after the batch axis (`[m, n]` -> `[m, 1, n]`), so that
/// broadcasting lines up its per-sample axes and not the batch axis.
fn align(g: &mut Graph, a: NodeId, m: usize, shape: &Shape, rank: usize) -> Result<NodeId> {
    if shape.rank() >= rank {
        return Ok(a);
    }
    let mut dims = vec![m];
    dims.extend(std::iter::repeat_n(1, rank - shape.rank()));
    dims.extend_from_slice(shape.dims());
    g.try_reshape(a, &Shape::new(dims))
}

/// A reduction over `axis` of one sample's `shape`, done for every sample.
fn reduction(
    g: &mut Graph,
    op: Op,
    axis: Axis,
    a: NodeId,
    m: usize,
    shape: &Shape,
) -> Result<NodeId> {
    let with = |axis| match op {
        Op::Sum(_) => Op::Sum(axis),
        Op::Mean(_) => Op::Mean(axis),
        Op::MaxReduce(_) => Op::MaxReduce(axis),
        _ => Op::ArgMaxMask(axis),
    };
    match axis {
        Axis::Dim(k) => g.try_apply(with(Axis::Dim(k + 1)), &[a]),
        // Over everything of a sample: over its flattened entries.
        Axis::All => match shape.rank() {
            0 if matches!(op, Op::ArgMaxMask(_)) => {
                let one = g.int(1);
                g.try_broadcast_to(one, &Shape::new(vec![m]))
            }
            0 => Ok(a),
            1 => g.try_apply(with(Axis::Dim(1)), &[a]),
            _ => {
                let flat = g.try_reshape(a, &Shape::new(vec![m, shape.numel()]))?;
                let r = g.try_apply(with(Axis::Dim(1)), &[flat])?;
                if matches!(op, Op::ArgMaxMask(_)) {
                    g.try_reshape(r, &prepend(m, shape))
                } else {
                    Ok(r)
                }
            }
        },
    }
}

/// A prime larger than every size in `g` (and than 1000), so that a
/// dimension equal to it can only be the batch axis.
fn stand_in_batch(g: &Graph) -> usize {
    let largest = g
        .ids()
        .map(|v| {
            let s = g.shape(v);
            s.dims().iter().copied().max().unwrap_or(0).max(s.numel())
        })
        .max()
        .unwrap_or(0);
    let mut p = largest.max(1000) + 1;
    while !is_prime(p) {
        p += 1;
    }
    p
}

fn is_prime(n: usize) -> bool {
    n >= 2
        && (2..)
            .take_while(|d| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

/// The span of the equation that built node `v`: the first equation whose
/// node comes at or after `v` (nodes are created in file order).
fn equation_span(net: &Network, v: NodeId) -> Span {
    net.equations
        .iter()
        .find(|e| e.node.index() >= v.index())
        .map_or(Span::point(0), |e| e.span)
}

fn unsupported(net: &Network, v: NodeId, what: &str) -> Error {
    Error::at(
        ErrorKind::Shape,
        equation_span(net, v),
        format!("cannot evaluate {what} over a batch (a leading batch axis)"),
    )
}

//! The plan interpreter: runs a [`Plan`] for one batch size over buffers it
//! allocates once and reuses, by calling `symgrad_runtime::kernels`.

use super::{Binary, Instr, Plan, Size, Src, Unary, View};
use crate::error::{Error, ErrorKind, Result};
use crate::graph::Func;
use symgrad_runtime::kernels;

/// A plan with its buffers for one batch size `m`. Running it again with
/// the same `m` allocates nothing, and neither does returning to a batch
/// size no larger than the largest one used so far (buffers keep their
/// capacity), so that a training loop whose last batch is smaller, or that
/// alternates with validation, does not reallocate every epoch. The
/// convolutions' intermediates (unfolded columns) live in one scratch
/// vector that all the plan's image instructions share, sized with the
/// buffers.
#[derive(Clone, Debug)]
pub struct Runner {
    plan: Plan,
    m: usize,
    bufs: Vec<Vec<f64>>,
    scratch: Vec<f64>,
}

impl Runner {
    /// Prepares `plan` for batch size `m` (allocates and fills constants).
    pub fn new(plan: Plan, m: usize) -> Runner {
        let mut r = Runner {
            plan,
            m: usize::MAX,
            bufs: Vec::new(),
            scratch: Vec::new(),
        };
        r.resize(m);
        r
    }

    /// The plan being run.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The batch size the buffers are sized for.
    pub fn batch(&self) -> usize {
        self.m
    }

    /// Sizes the buffers for batch size `m`.
    pub fn resize(&mut self, m: usize) {
        if m == self.m {
            return;
        }
        self.m = m;
        self.bufs.resize_with(self.plan.buffers.len(), Vec::new);
        // Every buffer is written whole before it is read, so entries left
        // from another batch size do no harm.
        for (buf, n) in self.bufs.iter_mut().zip(&self.plan.buffers) {
            buf.resize(n.at(m), 0.0);
        }
        let scratch = self.scratch_len(m);
        if self.scratch.len() < scratch {
            self.scratch.resize(scratch, 0.0);
        }
        let setup = std::mem::take(&mut self.plan.setup);
        for i in &setup {
            exec(i, m, &mut self.bufs, &mut self.scratch, &[]);
        }
        self.plan.setup = setup;
    }

    /// The scratch entries the plan's image instructions need at batch
    /// size `m` (they run one at a time, so the most any one needs).
    fn scratch_len(&self, m: usize) -> usize {
        let plan = &self.plan;
        plan.setup
            .iter()
            .chain(&plan.instrs)
            .map(|i| match i {
                Instr::Image { op, samples, .. } => op.scratch_len(samples.at(m)),
                _ => 0,
            })
            .max()
            .unwrap_or(0)
    }

    /// The scratch vector's capacity, so that a test can see that running
    /// the plan allocates nothing beyond what [`resize`](Self::resize)
    /// reserved.
    pub fn scratch_capacity(&self) -> usize {
        self.scratch.capacity()
    }

    /// Runs the plan on `inputs` (one row-major slice per plan input, sized
    /// for the current batch size) and returns the outputs' entries.
    ///
    /// # Errors
    /// An input of the wrong number of entries.
    pub fn run(&mut self, inputs: &[&[f64]]) -> Result<Vec<&[f64]>> {
        self.execute(inputs)?;
        Ok((0..self.plan.outputs.len())
            .map(|k| self.output(k))
            .collect())
    }

    /// Runs the plan like [`run`](Self::run), without collecting the
    /// outputs (read them with [`output`](Self::output)): the path that
    /// allocates nothing.
    ///
    /// # Errors
    /// An input of the wrong number of entries.
    pub fn execute(&mut self, inputs: &[&[f64]]) -> Result<()> {
        self.check_inputs(inputs)?;
        for i in &self.plan.instrs {
            exec(i, self.m, &mut self.bufs, &mut self.scratch, inputs);
        }
        Ok(())
    }

    /// An error unless `inputs` fit the plan at the current batch size.
    fn check_inputs(&self, inputs: &[&[f64]]) -> Result<()> {
        if inputs.len() != self.plan.inputs.len() {
            return Err(Error::new(
                ErrorKind::InvalidValue,
                format!(
                    "expected {} inputs, got {}",
                    self.plan.inputs.len(),
                    inputs.len()
                ),
            ));
        }
        for (k, (x, dims)) in inputs.iter().zip(&self.plan.inputs).enumerate() {
            let n = super::numel(dims).at(self.m);
            if x.len() != n {
                return Err(Error::new(
                    ErrorKind::Shape,
                    format!("input {k} has {} entries, expected {n}", x.len()),
                ));
            }
        }
        Ok(())
    }

    /// Runs the plan like [`execute`](Self::execute) and adds each
    /// instruction's wall time to `times` (one entry per instruction of
    /// [`Plan::instrs`]): where a plan spends its time, for profiling.
    ///
    /// # Errors
    /// As [`execute`](Self::execute); `times` of the wrong length.
    pub fn execute_timed(
        &mut self,
        inputs: &[&[f64]],
        times: &mut [std::time::Duration],
    ) -> Result<()> {
        if times.len() != self.plan.instrs.len() {
            return Err(Error::new(
                ErrorKind::InvalidValue,
                format!(
                    "expected {} times, got {}",
                    self.plan.instrs.len(),
                    times.len()
                ),
            ));
        }
        self.check_inputs(inputs)?;
        for (i, t) in self.plan.instrs.iter().zip(times) {
            let start = std::time::Instant::now();
            exec(i, self.m, &mut self.bufs, &mut self.scratch, inputs);
            *t += start.elapsed();
        }
        Ok(())
    }

    /// The entries of output `k` of the last run.
    ///
    /// # Panics
    /// When the plan has no output `k`.
    pub fn output(&self, k: usize) -> &[f64] {
        &self.bufs[self.plan.outputs[k].0]
    }
}

fn at<const N: usize>(sizes: [Size; N], m: usize) -> [usize; N] {
    sizes.map(|s| s.at(m))
}

/// The slice a source names.
fn source<'a>(bufs: &'a [Vec<f64>], inputs: &[&'a [f64]], s: Src) -> &'a [f64] {
    match s {
        Src::Input(k) => inputs[k],
        Src::Buf(b) => &bufs[b],
    }
}

/// Runs one instruction; its output buffers are taken out of `bufs` while
/// the kernel reads the others (a plan never reads a buffer it writes).
fn exec(instr: &Instr, m: usize, bufs: &mut [Vec<f64>], scratch: &mut Vec<f64>, inputs: &[&[f64]]) {
    let o = instr.out();
    let mut out = std::mem::take(&mut bufs[o]);
    let o2 = instr.second_out();
    let mut second = o2.map(|b| std::mem::take(&mut bufs[b])).unwrap_or_default();
    let bufs_ro: &[Vec<f64>] = bufs;
    let view = |v: &View| (source(bufs_ro, inputs, v.src), at(v.strides, m));
    match instr {
        Instr::Image {
            op, samples, a, b, ..
        } => {
            let a = source(bufs_ro, inputs, *a);
            let b = b.map(|b| source(bufs_ro, inputs, b));
            kernels::conv::run_in(*op, samples.at(m), a, b, &mut out, scratch);
        }
        Instr::Fill { value, .. } => out.fill(*value),
        Instr::Map { f, dims, a, .. } => {
            let (a, sa) = view(a);
            let d = at(*dims, m);
            match *f {
                Unary::Copy => kernels::map(d, a, sa, &mut out, |x| x),
                Unary::Neg => kernels::map(d, a, sa, &mut out, |x| -x),
                Unary::Powi(2) => kernels::map(d, a, sa, &mut out, |x| x * x),
                Unary::Powi(e) => kernels::map(d, a, sa, &mut out, |x| x.powi(e)),
                // The vector σ, with the bits training's σ pair gives.
                Unary::Func(Func::Sigmoid) => kernels::sigmoid(d, a, sa, &mut out),
                // One loop per function, so that the function is not
                // chosen again for every entry.
                Unary::Func(f) => {
                    macro_rules! each {
                        ($($name:ident),*) => {
                            match f {
                                $(Func::$name => kernels::map(d, a, sa, &mut out, |x| Func::$name.eval(x)),)*
                            }
                        };
                    }
                    each!(
                        Sin, Cos, Tan, Exp, Ln, Sqrt, Tanh, Sinh, Cosh, Asin, Acos, Atan, Asinh,
                        Acosh, Atanh, Log10, Log2, Cbrt, Sec, Csc, Cot, Erf, Erfc, Floor, Ceil,
                        Abs, Sigmoid, Relu, Softplus, Sign, Step
                    )
                }
            }
        }
        Instr::Zip { op, dims, a, b, .. } => {
            let (a, sa) = view(a);
            let (b, sb) = view(b);
            let d = at(*dims, m);
            let out = &mut out;
            match op {
                Binary::Add => kernels::zip(d, a, sa, b, sb, out, |x, y| x + y),
                Binary::Sub => kernels::zip(d, a, sa, b, sb, out, |x, y| x - y),
                Binary::Mul => kernels::zip(d, a, sa, b, sb, out, |x, y| x * y),
                Binary::Div => kernels::zip(d, a, sa, b, sb, out, |x, y| x / y),
                Binary::Pow => kernels::zip(d, a, sa, b, sb, out, f64::powf),
                Binary::Max => kernels::zip(d, a, sa, b, sb, out, symgrad_runtime::max),
                Binary::Min => kernels::zip(d, a, sa, b, sb, out, symgrad_runtime::min),
                Binary::Atan2 => kernels::zip(d, a, sa, b, sb, out, f64::atan2),
                Binary::StepMul => {
                    kernels::zip(d, a, sa, b, sb, out, |x, y| symgrad_runtime::step(x) * y)
                }
            }
        }
        Instr::SumInto {
            dims,
            a,
            out_strides,
            ..
        } => {
            let (a, sa) = view(a);
            kernels::sum_into(at(*dims, m), a, sa, &mut out, at(*out_strides, m));
        }
        Instr::Reduce {
            kind,
            outer,
            len,
            inner,
            a,
            ..
        } => {
            let a = source(bufs_ro, inputs, *a);
            let len = len.at(m);
            kernels::reduce(
                *kind,
                outer.at(m),
                len,
                inner.at(m),
                a,
                &mut out,
                len as f64,
            );
        }
        Instr::ArgMaxMask {
            outer,
            len,
            inner,
            a,
            ..
        } => {
            let a = source(bufs_ro, inputs, *a);
            kernels::argmax_mask(outer.at(m), len.at(m), inner.at(m), a, &mut out);
        }
        Instr::Softmax { rows, cols, a, .. } => {
            let a = source(bufs_ro, inputs, *a);
            kernels::softmax_rows(rows.at(m), cols.at(m), a, &mut out);
        }
        Instr::LogSumExp { rows, cols, a, .. } => {
            let a = source(bufs_ro, inputs, *a);
            kernels::logsumexp_rows(rows.at(m), cols.at(m), a, &mut out);
        }
        Instr::SigmoidPair { dims, a, .. } => {
            let (a, sa) = view(a);
            kernels::sigmoid_pair(at(*dims, m), a, sa, &mut out, &mut second);
        }
        Instr::SoftmaxLogSumExp { rows, cols, a, .. } => {
            let a = source(bufs_ro, inputs, *a);
            kernels::softmax_logsumexp_rows(rows.at(m), cols.at(m), a, &mut out, &mut second);
        }
        Instr::MatMul {
            m: rows,
            k,
            n,
            a,
            b,
            out_strides,
            ..
        } => {
            let (sa, sb) = (at(a.1, m), at(b.1, m));
            let a = source(bufs_ro, inputs, a.0);
            let b = source(bufs_ro, inputs, b.0);
            kernels::matmul(
                rows.at(m),
                k.at(m),
                n.at(m),
                a,
                sa,
                b,
                sb,
                &mut out,
                at(*out_strides, m),
            );
        }
    }
    bufs[o] = out;
    if let Some(b) = o2 {
        bufs[b] = second;
    }
}

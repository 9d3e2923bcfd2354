//! A small hand-written model for the trainer's tests: a linear layer and
//! softmax with cross-entropy, W[k, d], b[k], whose gradient is checked by
//! finite differences in `model_check.rs`. It also keeps a running mean of
//! its inputs (momentum 0.1) as "state", as batch norm keeps its
//! statistics, so that tests can see state saved and restored.
#![allow(clippy::needless_range_loop)]
#![allow(dead_code)]

use symgrad_nn::Model;

#[derive(Clone, Debug, PartialEq)]
pub struct LinearSoftmax {
    pub d: usize,
    pub k: usize,
    pub w: Vec<f64>,
    pub b: Vec<f64>,
    pub running_mean: Vec<f64>,
    /// How many times `loss_and_gradient` ran.
    pub calls: usize,
    /// The rows of every batch seen by `loss_and_gradient` (input vectors).
    pub seen: Vec<Vec<f64>>,
    pub record: bool,
}

impl LinearSoftmax {
    /// Weights from a small deterministic formula of `seed`.
    pub fn new(d: usize, k: usize, seed: u64) -> LinearSoftmax {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.2
        };
        LinearSoftmax {
            d,
            k,
            w: (0..d * k).map(|_| next()).collect(),
            b: (0..k).map(|_| next()).collect(),
            running_mean: vec![0.0; d],
            calls: 0,
            seen: Vec::new(),
            record: false,
        }
    }

    /// The softmax probabilities of one input row.
    pub fn probabilities(&self, x: &[f64]) -> Vec<f64> {
        let z: Vec<f64> = (0..self.k)
            .map(|i| {
                self.b[i]
                    + (0..self.d)
                        .map(|j| self.w[i * self.d + j] * x[j])
                        .sum::<f64>()
            })
            .collect();
        let max = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = z.iter().map(|v| (v - max).exp()).collect();
        let s: f64 = e.iter().sum();
        e.iter().map(|v| v / s).collect()
    }

    /// The mean cross-entropy over the rows.
    pub fn mean_loss(&self, x: &[f64], y: &[f64]) -> f64 {
        let m = x.len() / self.d;
        let mut total = 0.0;
        for r in 0..m {
            let p = self.probabilities(&x[r * self.d..(r + 1) * self.d]);
            for i in 0..self.k {
                let t = y[r * self.k + i];
                if t != 0.0 {
                    total -= t * p[i].ln();
                }
            }
        }
        total / m as f64
    }
}

impl Model for LinearSoftmax {
    fn param_names(&self) -> Vec<String> {
        vec!["W".into(), "b".into()]
    }
    fn param_shapes(&self) -> Vec<Vec<usize>> {
        vec![vec![self.k, self.d], vec![self.k]]
    }
    fn params(&self) -> Vec<&[f64]> {
        vec![&self.w, &self.b]
    }
    fn params_mut(&mut self) -> Vec<&mut [f64]> {
        vec![&mut self.w, &mut self.b]
    }
    fn data_sizes(&self) -> Vec<usize> {
        vec![self.d, self.k]
    }
    fn n_inputs(&self) -> usize {
        1
    }
    fn output_size(&self) -> usize {
        self.k
    }
    fn loss_and_gradient(&mut self, data: &[&[f64]], grad: &mut [Vec<f64>]) -> f64 {
        self.calls += 1;
        let (x, y) = (data[0], data[1]);
        let m = x.len() / self.d;
        if self.record {
            for r in 0..m {
                self.seen.push(x[r * self.d..(r + 1) * self.d].to_vec());
            }
        }
        grad[0].iter_mut().for_each(|g| *g = 0.0);
        grad[1].iter_mut().for_each(|g| *g = 0.0);
        for r in 0..m {
            let xr = &x[r * self.d..(r + 1) * self.d];
            let p = self.probabilities(xr);
            for i in 0..self.k {
                let delta = (p[i] - y[r * self.k + i]) / m as f64;
                grad[1][i] += delta;
                for j in 0..self.d {
                    grad[0][i * self.d + j] += delta * xr[j];
                }
            }
        }
        for j in 0..self.d {
            let mean = (0..m).map(|r| x[r * self.d + j]).sum::<f64>() / m as f64;
            self.running_mean[j] = 0.9 * self.running_mean[j] + 0.1 * mean;
        }
        self.mean_loss(x, y)
    }
    fn loss(&mut self, data: &[&[f64]]) -> f64 {
        self.mean_loss(data[0], data[1])
    }
    fn predict(&mut self, inputs: &[&[f64]], out: &mut Vec<f64>) {
        let x = inputs[0];
        out.clear();
        for r in 0..x.len() / self.d {
            out.extend(self.probabilities(&x[r * self.d..(r + 1) * self.d]));
        }
    }
    fn state_names(&self) -> Vec<String> {
        vec!["running_mean".into()]
    }
    fn state(&self) -> Vec<&[f64]> {
        vec![&self.running_mean]
    }
    fn state_mut(&mut self) -> Vec<&mut [f64]> {
        vec![&mut self.running_mean]
    }
    fn set_seed(&mut self, _seed: u64) {}
}

/// Three well-separated Gaussian-ish blobs in 2-D with integer labels, as
/// CSV text: `n` rows, deterministic.
pub fn blobs_csv(n: usize) -> String {
    let mut s = String::from("x1,x2,label\n");
    let centers = [(0.0, 2.0), (2.0, -1.0), (-2.0, -1.0)];
    let mut state: u64 = 12345;
    let mut noise = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 1.5
    };
    for i in 0..n {
        let c = i % 3;
        let (cx, cy) = centers[c];
        s.push_str(&format!("{},{},{c}\n", cx + noise(), cy + noise()));
    }
    s
}

/// Linear regression, W[k, d] and b[k], loss the mean over rows of
/// ½‖W x + b - y‖²: its gradient is exact in a few lines, and a rate far
/// above 2/λ_max makes it grow geometrically until it is not finite.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearRegression {
    pub d: usize,
    pub k: usize,
    pub w: Vec<f64>,
    pub b: Vec<f64>,
}

impl LinearRegression {
    pub fn new(d: usize, k: usize) -> LinearRegression {
        LinearRegression {
            d,
            k,
            w: (0..d * k).map(|i| 0.1 * (i as f64 + 1.0)).collect(),
            b: (0..k).map(|i| -0.05 * (i as f64 + 1.0)).collect(),
        }
    }

    fn residuals(&self, x: &[f64], y: &[f64]) -> Vec<f64> {
        let m = x.len() / self.d;
        let mut r = Vec::with_capacity(m * self.k);
        for s in 0..m {
            for i in 0..self.k {
                let z = self.b[i]
                    + (0..self.d)
                        .map(|j| self.w[i * self.d + j] * x[s * self.d + j])
                        .sum::<f64>();
                r.push(z - y[s * self.k + i]);
            }
        }
        r
    }
}

impl Model for LinearRegression {
    fn param_names(&self) -> Vec<String> {
        vec!["W".into(), "b".into()]
    }
    fn param_shapes(&self) -> Vec<Vec<usize>> {
        vec![vec![self.k, self.d], vec![self.k]]
    }
    fn params(&self) -> Vec<&[f64]> {
        vec![&self.w, &self.b]
    }
    fn params_mut(&mut self) -> Vec<&mut [f64]> {
        vec![&mut self.w, &mut self.b]
    }
    fn data_sizes(&self) -> Vec<usize> {
        vec![self.d, self.k]
    }
    fn n_inputs(&self) -> usize {
        1
    }
    fn output_size(&self) -> usize {
        self.k
    }
    fn loss_and_gradient(&mut self, data: &[&[f64]], grad: &mut [Vec<f64>]) -> f64 {
        let (x, y) = (data[0], data[1]);
        let m = x.len() / self.d;
        let r = self.residuals(x, y);
        grad[0].iter_mut().for_each(|g| *g = 0.0);
        grad[1].iter_mut().for_each(|g| *g = 0.0);
        for s in 0..m {
            for i in 0..self.k {
                let e = r[s * self.k + i] / m as f64;
                grad[1][i] += e;
                for j in 0..self.d {
                    grad[0][i * self.d + j] += e * x[s * self.d + j];
                }
            }
        }
        self.loss(data)
    }
    fn loss(&mut self, data: &[&[f64]]) -> f64 {
        let r = self.residuals(data[0], data[1]);
        let m = data[0].len() / self.d;
        r.iter().map(|e| 0.5 * e * e).sum::<f64>() / m as f64
    }
    fn predict(&mut self, inputs: &[&[f64]], out: &mut Vec<f64>) {
        let zeros = vec![0.0; inputs[0].len() / self.d * self.k];
        *out = self.residuals(inputs[0], &zeros);
    }
    fn set_seed(&mut self, _seed: u64) {}
}

/// `n` rows of y = 2 x1 - x2 + 0.5 as CSV (`x1,x2,y`), deterministic.
pub fn line_csv(n: usize) -> String {
    let mut s = String::from("x1,x2,y\n");
    for i in 0..n {
        let x1 = (i as f64 * 0.37).sin() * 2.0;
        let x2 = (i as f64 * 0.91).cos();
        s.push_str(&format!("{x1},{x2},{}\n", 2.0 * x1 - x2 + 0.5));
    }
    s
}

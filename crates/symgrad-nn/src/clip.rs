//! What happens to the gradient between the model and the update rule, in
//! the contract's order: clipping (each entry to [-c, c], then the whole
//! gradient scaled by min(1, c/‖g‖₂), the norm over all parameters
//! together), then the penalties on every parameter of rank >= 2
//! (g += λ₂ θ, g += λ₁ sign(θ) with sign(0) = 0).

/// The clipping and penalties of a training run; all off by default.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GradientTransform {
    /// `--clip-value c`: each entry clamped to [-c, c].
    pub clip_value: Option<f64>,
    /// `--clip-norm c`: the gradient scaled by min(1, c/‖g‖₂).
    pub clip_norm: Option<f64>,
    /// `--l1 λ`: g += λ sign(θ) on parameters of rank >= 2.
    pub l1: f64,
    /// `--l2 λ`: g += λ θ on parameters of rank >= 2.
    pub l2: f64,
}

impl GradientTransform {
    /// Transforms `grad` (one vector per parameter) in place, in the
    /// contract's order. `params` are the parameters' values and
    /// `penalized[i]` says whether parameter `i` has rank >= 2.
    pub fn apply<P: AsRef<[f64]>>(&self, grad: &mut [Vec<f64>], params: &[P], penalized: &[bool]) {
        if let Some(c) = self.clip_value {
            for g in grad.iter_mut() {
                for g in g.iter_mut() {
                    *g = g.clamp(-c, c);
                }
            }
        }
        if let Some(c) = self.clip_norm {
            let norm = global_norm(grad);
            if norm > c {
                let scale = c / norm;
                for g in grad.iter_mut() {
                    for g in g.iter_mut() {
                        *g *= scale;
                    }
                }
            }
        }
        if self.l2 != 0.0 || self.l1 != 0.0 {
            let (l1, l2) = (self.l1, self.l2);
            for ((g, p), _) in grad
                .iter_mut()
                .zip(params)
                .zip(penalized)
                .filter(|(_, &pen)| pen)
            {
                for (g, &p) in g.iter_mut().zip(p.as_ref()) {
                    *g += l2 * p + l1 * sign(p);
                }
            }
        }
    }
}

/// -1, 0 or 1 (`f64::signum` gives 1 for 0).
fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// The Euclidean norm of `v`: NaN when an entry is NaN, infinite when one
/// is, and otherwise finite (a sum of squares that overflows is redone on
/// scaled entries).
pub fn norm(v: &[f64]) -> f64 {
    global_norm(std::slice::from_ref(&v))
}

/// The Euclidean norm of all parameters' gradients together, as [`norm`].
pub fn global_norm<V: AsRef<[f64]>>(grad: &[V]) -> f64 {
    let sum: f64 = grad.iter().map(|g| sum_of_squares(g.as_ref())).sum();
    if sum.is_finite() {
        return sum.sqrt();
    }
    let max = grad
        .iter()
        .flat_map(|g| g.as_ref())
        .fold(0.0f64, |m, x| m.max(x.abs()));
    if !max.is_finite() {
        return max;
    }
    let scaled: f64 = grad
        .iter()
        .flat_map(|g| g.as_ref())
        .map(|x| (x / max) * (x / max))
        .sum();
    max * scaled.sqrt()
}

/// Σ x², in sixteen interleaved partial sums added as a tree, compiled
/// for AVX2 where the CPU has it (the same bits either way: the same
/// additions in the same order). The order differs from a left-to-right
/// sum in the last bits; the trainer takes every step's gradient norms
/// with it, and one chain of dependent additions (or four) made that a
/// few per cent of an epoch.
pub fn sum_of_squares(v: &[f64]) -> f64 {
    let mut sum = 0.0;
    let total = &mut sum;
    symgrad_runtime::dispatch!(fn(v: &[f64], total: &mut f64) {
        const LANES: usize = 16;
        let mut lanes = [0.0; LANES];
        let chunks = v.chunks_exact(LANES);
        let rest = chunks.remainder();
        for c in chunks {
            for k in 0..LANES {
                lanes[k] += c[k] * c[k];
            }
        }
        let mut width = LANES;
        while width > 1 {
            width /= 2;
            for k in 0..width {
                lanes[k] = lanes[2 * k] + lanes[2 * k + 1];
            }
        }
        let tail: f64 = rest.iter().map(|x| x * x).sum();
        *total = lanes[0] + tail;
    });
    sum
}

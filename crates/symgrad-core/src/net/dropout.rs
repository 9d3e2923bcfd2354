//! Dropout masks: the per-sample data that `dropout(a, p)` declares
//! ([`Role::Mask`]) and that the evaluators draw instead of reading it.
//!
//! `dropout(a, p)` is inverted dropout, `a ⊙ mask / (1 - p)`: each mask entry
//! is 0 with probability `p` and 1 otherwise, drawn afresh for each sample,
//! so the expected value of the output is `a`. The network's graph holds the
//! mask as a variable, which batching gives a leading batch axis like an
//! input and which reverse mode treats as data (no gradient flows into it).
//!
//! The draws are deterministic: the entries of a mask for one sample come
//! from a SplitMix64 stream (`symgrad_runtime::random::dropout_mask`, so
//! that generated code can draw the same) seeded by the run's seed, the mask's name and
//! the sample's index in the batch (its position among the rows evaluated
//! together, from 0), so the batched evaluator and the per-sample reference
//! draw the same masks for the same seed, and a gradient can be checked by
//! finite differences with the masks fixed. An entry is 0 when a uniform
//! draw in `[0, 1)` is below `p`; with `p = 0` every entry is 1.

use super::{Network, Role};
use crate::eval::Tensor;
use crate::graph::Shape;

/// The dropout masks of a network and the seed they are drawn with.
#[derive(Clone, Debug)]
pub struct Masks {
    /// `(name, per-sample shape, p)` per mask, in declaration order.
    masks: Vec<(String, Shape, f64)>,
    seed: u64,
}

impl Masks {
    /// The masks of `net`, drawn with seed 0 until [`set_seed`](Self::set_seed).
    pub fn new(net: &Network) -> Masks {
        Masks {
            masks: net
                .with_role(Role::Mask)
                .map(|d| (d.name.clone(), d.shape.clone(), d.dropout.unwrap_or(0.0)))
                .collect(),
            seed: 0,
        }
    }

    /// Draws every later mask from `seed`.
    pub fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
    }

    /// How many masks a sample has.
    pub fn len(&self) -> usize {
        self.masks.len()
    }

    /// Whether the network has no dropout.
    pub fn is_empty(&self) -> bool {
        self.masks.is_empty()
    }

    /// The per-sample shape of each mask, in declaration order.
    pub fn shapes(&self) -> impl Iterator<Item = &Shape> {
        self.masks.iter().map(|(_, s, _)| s)
    }

    /// Every mask of the sample at position `sample` of the batch.
    pub fn draw(&self, sample: usize) -> Vec<Tensor> {
        self.masks
            .iter()
            .map(|(name, shape, p)| mask(self.seed, name, sample, shape, *p))
            .collect()
    }
}

/// The mask called `name` of `shape` for the sample at position `sample`,
/// with entries 0 (probability `p`) or 1.
pub fn mask(seed: u64, name: &str, sample: usize, shape: &Shape, p: f64) -> Tensor {
    let mut data = vec![0.0; shape.numel()];
    symgrad_runtime::random::dropout_mask(seed, name, sample, p, &mut data);
    Tensor::new(shape.clone(), data)
}

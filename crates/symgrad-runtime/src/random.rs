//! Seeded random numbers for parameter initializers, shared by the engine
//! (`symgrad net init`, the interpreter) and the code `network!` generates,
//! so that the same file and seed give the same weights everywhere.

/// The splitmix64 generator: small, fast, and the same on every platform.
/// The field is the state; any seed works.
#[derive(Clone, Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
    }
}

/// The random stream of the parameter `name` for a run's `seed`: it depends
/// on the name, not the position, so adding a parameter changes no other.
pub fn stream(seed: u64, name: &str) -> SplitMix64 {
    // FNV-1a of the name, mixed with the seed by two SplitMix64 steps.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut mix = SplitMix64(seed ^ h.rotate_left(29));
    SplitMix64(mix.next_u64() ^ h)
}

/// `n` draws from `normal(mean, std)` by the Box–Muller transform, two per
/// pair of uniforms.
pub fn normals(n: usize, mean: f64, std: f64, rng: &mut SplitMix64) -> Vec<f64> {
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        // u1 in (0, 1], so that ln(u1) is finite.
        let u1 = 1.0 - rng.uniform(0.0, 1.0);
        let u2 = rng.uniform(0.0, 1.0);
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
        out.push(mean + std * r * c);
        out.push(mean + std * r * s);
    }
    out.truncate(n);
    out
}

/// `n` draws from `uniform(lo, hi)`.
pub fn uniforms(n: usize, lo: f64, hi: f64, rng: &mut SplitMix64) -> Vec<f64> {
    (0..n).map(|_| rng.uniform(lo, hi)).collect()
}

/// Fills `out` with the dropout mask called `name` for the sample at
/// position `sample` of a batch: each entry 0 with probability `p` (a
/// uniform draw below `p`) and 1 otherwise, from a stream of the seed, the
/// mask's name and the sample's position, so that every evaluator draws the
/// same masks for the same seed. With `p = 0` every entry is 1.
pub fn dropout_mask(seed: u64, name: &str, sample: usize, p: f64, out: &mut [f64]) {
    let base = stream(seed, name).next_u64() ^ (sample as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
    let mut rng = SplitMix64(SplitMix64(base).next_u64());
    for x in out {
        *x = if rng.uniform(0.0, 1.0) < p { 0.0 } else { 1.0 };
    }
}

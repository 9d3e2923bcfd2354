//! Which vector units the kernels use, chosen once at run time so that one
//! binary runs everywhere: on an x86-64 CPU with AVX2 and FMA the
//! exp-based kernels call the vector code in [`x86`] and the elementwise
//! loops are compiled a second time for AVX2; every other CPU takes the
//! scalar loops, which are the code these kernels had before.
//!
//! Setting the environment variable `SYMGRAD_SIMD=scalar` before the first
//! kernel call forces the scalar loops (to compare the two in one binary,
//! as the benchmarks do, or to test the fallback).

use std::sync::atomic::{AtomicU8, Ordering};

#[cfg(target_arch = "x86_64")]
pub mod x86;

const UNKNOWN: u8 = 0;
const SCALAR: u8 = 1;
const AVX2_FMA: u8 = 2;

static LEVEL: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Whether the AVX2 + FMA kernels run: the CPU has both and
/// `SYMGRAD_SIMD` is not `scalar`. Decided on the first call (one atomic
/// load after that).
#[inline]
pub fn avx2_fma() -> bool {
    match LEVEL.load(Ordering::Relaxed) {
        UNKNOWN => detect(),
        level => level == AVX2_FMA,
    }
}

#[cold]
fn detect() -> bool {
    let forced_scalar = std::env::var("SYMGRAD_SIMD").is_ok_and(|v| v == "scalar");
    let level = if !forced_scalar && cpu_has_avx2_fma() {
        AVX2_FMA
    } else {
        SCALAR
    };
    LEVEL.store(level, Ordering::Relaxed);
    level == AVX2_FMA
}

#[cfg(target_arch = "x86_64")]
fn cpu_has_avx2_fma() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

#[cfg(not(target_arch = "x86_64"))]
fn cpu_has_avx2_fma() -> bool {
    false
}

/// Runs `$body` (an expression over the given bindings) compiled for AVX2
/// + FMA when [`avx2_fma`] says so, else compiled for the baseline CPU.
/// Both are the same Rust code, without `mul_add`, so they give the same
/// bits: the vector build only uses wider registers.
///
/// ```ignore
/// dispatch!(fn(p: &mut [f64], g: &[f64], lr: f64) { for .. });
/// ```
#[macro_export]
#[doc(hidden)]
macro_rules! dispatch {
    (fn($($arg:ident: $ty:ty),* $(,)?) $body:block) => {{
        #[inline(always)]
        fn body($($arg: $ty),*) $body
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        fn body_avx2($($arg: $ty),*) {
            body($($arg),*)
        }
        #[cfg(target_arch = "x86_64")]
        if $crate::simd::avx2_fma() {
            // SAFETY: `avx2_fma` has checked that the CPU has AVX2 and FMA.
            unsafe { body_avx2($($arg),*) }
        } else {
            body($($arg),*)
        }
        #[cfg(not(target_arch = "x86_64"))]
        body($($arg),*)
    }};
}

//! Convolution kernels (issue 9, part 4): the direct loops against the
//! products over unfolded columns (im2col + `kernels::matmul`), forward and
//! both backward products, on the shapes the issue names, float64, one
//! thread, and for the 3×3 "same" convolutions with at least 8 channels
//! and filters, Winograd's F(2×2, 3×3) (`kernels/conv/winograd.rs`). This
//! is the measurement behind the kernels' choice between them.
//!
//! ```text
//! cargo bench --bench conv -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Shapes: the digits convolutional network's two layers (32 samples of
//! 1×8×8, 16 filters 3×3, padding 1; then 16 → 32 channels on 8×8), a
//! residual block's layer (16 → 16 channels on 8×8), and one convolution
//! of AlphaGo Zero's tower (8 samples of 256×19×19, 256 filters 3×3,
//! padding 1; im2col only: the direct loops take seconds there). Each candidate is checked against the direct loops
//! before it is timed.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use symgrad::__private::kernels::conv::{self, unfold, winograd, winograd_nhwc, ConvShape};

fn geometry(n: usize, c: usize, hw: usize, f: usize) -> ConvShape {
    ConvShape {
        n,
        c,
        h: hw,
        w: hw,
        f,
        kh: 3,
        kw: 3,
        stride: 1,
        padding: 1,
    }
}

fn values(seed: u64, len: usize) -> Vec<f64> {
    let mut s = seed;
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
        .collect()
}

fn convolutions(c: &mut Criterion) {
    let cases = [
        ("digits 32x1x8x8 -> 16", geometry(32, 1, 8, 16), true),
        ("block 32x16x8x8 -> 16", geometry(32, 16, 8, 16), true),
        (
            "digits conv2 32x16x8x8 -> 32",
            geometry(32, 16, 8, 32),
            true,
        ),
        (
            "alphago 8x256x19x19 -> 256",
            geometry(8, 256, 19, 256),
            false,
        ),
    ];
    for (name, g, with_direct) in cases {
        let (ho, wo) = g.out_hw();
        let x = values(1, g.n * g.c * g.h * g.w);
        let k = values(2, g.f * g.c * g.kh * g.kw);
        let w = values(3, g.n * g.f * ho * wo);
        let mut y = vec![0.0; w.len()];
        let mut dx = vec![0.0; x.len()];
        let mut dk = vec![0.0; k.len()];
        if with_direct {
            let mut want = vec![0.0; w.len()];
            conv::conv2d(&g, &x, &k, &mut y);
            conv::conv2d_direct(&g, &x, &k, &mut want);
            assert!(y.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-9));
        }
        let mut group = c.benchmark_group(format!("conv/{name}"));
        group.sample_size(10);
        // The scratch is kept across calls, as the plans keep theirs.
        let mut scratch = Vec::new();
        group.bench_function("im2col forward", |b| {
            b.iter(|| unfold::conv2d_unfolded(&g, black_box(&x), &k, &mut y, &mut scratch))
        });
        group.bench_function("im2col input grad", |b| {
            b.iter(|| {
                unfold::conv2d_input_grad_unfolded(&g, black_box(&w), &k, &mut dx, &mut scratch)
            })
        });
        group.bench_function("im2col kernel grad", |b| {
            b.iter(|| {
                unfold::conv2d_kernel_grad_unfolded(&g, black_box(&x), &w, &mut dk, &mut scratch)
            })
        });
        if winograd::applies(&g) {
            let mut want = vec![0.0; w.len()];
            winograd::conv2d(&g, &x, &k, &mut y, &mut scratch);
            unfold::conv2d_unfolded(&g, &x, &k, &mut want, &mut scratch);
            assert!(y.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-9));
            group.bench_function("winograd forward", |b| {
                b.iter(|| winograd::conv2d(&g, black_box(&x), &k, &mut y, &mut scratch))
            });
            group.bench_function("winograd input grad", |b| {
                b.iter(|| winograd::conv2d_input_grad(&g, black_box(&w), &k, &mut dx, &mut scratch))
            });
            group.bench_function("winograd kernel grad", |b| {
                b.iter(|| {
                    winograd::conv2d_kernel_grad(&g, black_box(&x), &w, &mut dk, &mut scratch)
                })
            });
        }
        if winograd_nhwc::applies(&g) {
            let mut want = vec![0.0; w.len()];
            winograd_nhwc::conv2d(&g, &x, &k, &mut y, &mut scratch);
            unfold::conv2d_unfolded(&g, &x, &k, &mut want, &mut scratch);
            assert!(y.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-9));
            group.bench_function("winograd channels-last forward", |b| {
                b.iter(|| winograd_nhwc::conv2d(&g, black_box(&x), &k, &mut y, &mut scratch))
            });
            group.bench_function("winograd channels-last input grad", |b| {
                b.iter(|| {
                    winograd_nhwc::conv2d_input_grad(&g, black_box(&w), &k, &mut dx, &mut scratch)
                })
            });
            group.bench_function("winograd channels-last kernel grad", |b| {
                b.iter(|| {
                    winograd_nhwc::conv2d_kernel_grad(&g, black_box(&x), &w, &mut dk, &mut scratch)
                })
            });
        }
        if with_direct {
            group.bench_function("direct forward", |b| {
                b.iter(|| conv::conv2d_direct(&g, black_box(&x), &k, &mut y))
            });
            group.bench_function("direct input grad", |b| {
                b.iter(|| conv::conv2d_input_grad_direct(&g, black_box(&w), &k, &mut dx))
            });
            group.bench_function("direct kernel grad", |b| {
                b.iter(|| conv::conv2d_kernel_grad_direct(&g, black_box(&x), &w, &mut dk))
            });
        }
        group.finish();
    }
}

/// Max pooling 2×2 of the digits network's second layer (32 samples of
/// 32×8×8) and its adjoint: the graph's `maxpool_mask(x) · upsample(dy)`
/// as three passes against the one pass the plans fuse them into.
fn pooling(c: &mut Criterion) {
    let g = conv::PoolShape {
        planes: 32 * 32,
        h: 8,
        w: 8,
        k: 2,
    };
    let x = values(4, g.planes * 64);
    let dy = values(5, g.planes * 16);
    let (mut pooled, mut mask, mut up, mut out) = (
        vec![0.0; dy.len()],
        vec![0.0; x.len()],
        vec![0.0; x.len()],
        vec![0.0; x.len()],
    );
    let mut group = c.benchmark_group("pool/digits 32x32x8x8 2x2");
    group.sample_size(20);
    group.bench_function("max pool", |b| {
        b.iter(|| conv::max_pool(&g, black_box(&x), &mut pooled))
    });
    group.bench_function("adjoint as mask, upsample, product", |b| {
        b.iter(|| {
            conv::max_pool_mask(&g, black_box(&x), &mut mask);
            conv::upsample(&g, &dy, &mut up);
            for ((o, m), u) in out.iter_mut().zip(&mask).zip(&up) {
                *o = m * u;
            }
        })
    });
    // The three passes once more outside criterion's closure, which a
    // filter on the command line may skip.
    conv::max_pool_mask(&g, &x, &mut mask);
    conv::upsample(&g, &dy, &mut up);
    let want: Vec<f64> = mask.iter().zip(&up).map(|(m, u)| m * u).collect();
    conv::max_pool_adjoint(&g, &x, &dy, &mut out);
    assert_eq!(out, want);
    group.bench_function("adjoint fused", |b| {
        b.iter(|| conv::max_pool_adjoint(&g, black_box(&x), &dy, &mut out))
    });
    group.finish();
}

criterion_group!(benches, convolutions, pooling);
criterion_main!(benches);

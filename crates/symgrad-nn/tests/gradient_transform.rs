//! Clipping, penalties and decay, each against numbers worked out by hand,
//! and their order (value clipping, norm clipping, then penalties).
// Index loops keep the tests' formulas as written (a_i θ_i).
#![allow(clippy::needless_range_loop)]

use symgrad_nn::clip::{global_norm, norm};
use symgrad_nn::{Decay, ErrorKind, GradientTransform};

fn params() -> Vec<Vec<f64>> {
    // W (rank 2) and b (rank 1).
    vec![vec![0.5, -2.0, 0.0, 1.0], vec![3.0]]
}

fn grad() -> Vec<Vec<f64>> {
    vec![vec![6.0, -1.0, 0.5, -8.0], vec![2.0]]
}

const PENALIZED: [bool; 2] = [true, false];

#[test]
fn clip_value_clamps_each_entry() {
    let mut g = grad();
    GradientTransform {
        clip_value: Some(1.5),
        ..Default::default()
    }
    .apply(&mut g, &params(), &PENALIZED);
    assert_eq!(g, vec![vec![1.5, -1.0, 0.5, -1.5], vec![1.5]]);
}

#[test]
fn clip_norm_scales_by_the_norm_over_all_parameters() {
    // ‖g‖² = 36 + 1 + 0.25 + 64 + 4 = 105.25; scaled by 5/√105.25.
    let mut g = grad();
    GradientTransform {
        clip_norm: Some(5.0),
        ..Default::default()
    }
    .apply(&mut g, &params(), &PENALIZED);
    let s = 5.0 / 105.25f64.sqrt();
    let want = [vec![6.0 * s, -s, 0.5 * s, -8.0 * s], vec![2.0 * s]];
    for (a, b) in g.iter().flatten().zip(want.iter().flatten()) {
        assert!((a - b).abs() < 1e-15);
    }
    // Below the threshold nothing changes.
    let mut g = grad();
    GradientTransform {
        clip_norm: Some(11.0),
        ..Default::default()
    }
    .apply(&mut g, &params(), &PENALIZED);
    assert_eq!(g, grad());
}

#[test]
fn penalties_apply_to_rank_two_parameters_only() {
    // W: g + 0.1 θ + 0.01 sign(θ), sign(0) = 0; b untouched.
    let mut g = grad();
    GradientTransform {
        l2: 0.1,
        l1: 0.01,
        ..Default::default()
    }
    .apply(&mut g, &params(), &PENALIZED);
    let want_w = [6.0 + 0.05 + 0.01, -1.0 - 0.2 - 0.01, 0.5, -8.0 + 0.1 + 0.01];
    for (a, b) in g[0].iter().zip(want_w) {
        assert!((a - b).abs() < 1e-15, "{:?}", g[0]);
    }
    assert_eq!(g[1], [2.0]);
}

#[test]
fn the_order_is_value_then_norm_then_penalties() {
    // Value clipping to 1: W [1, -1, 0.5, -1], b [1]; ‖g‖² = 1+1+0.25+1+1 = 4.25;
    // norm clipping to 1: scale 1/√4.25; then g_W += 0.5 θ_W.
    let t = GradientTransform {
        clip_value: Some(1.0),
        clip_norm: Some(1.0),
        l2: 0.5,
        l1: 0.0,
    };
    let mut g = grad();
    t.apply(&mut g, &params(), &PENALIZED);
    let s = 1.0 / 4.25f64.sqrt();
    let want = [vec![s + 0.25, -s - 1.0, 0.5 * s, -s + 0.5], vec![s]];
    for (a, b) in g.iter().flatten().zip(want.iter().flatten()) {
        assert!((a - b).abs() < 1e-15, "{g:?} {want:?}");
    }
    // The penalty comes after clipping: it is not clipped itself.
    let big = GradientTransform {
        clip_value: Some(0.001),
        l2: 100.0,
        ..Default::default()
    };
    let mut g = grad();
    big.apply(&mut g, &params(), &PENALIZED);
    assert!((g[0][1] - (-0.001 - 200.0)).abs() < 1e-12);
}

#[test]
fn norms() {
    assert_eq!(norm(&[3.0, 4.0]), 5.0);
    assert_eq!(global_norm(&[vec![3.0], vec![4.0]]), 5.0);
    // No overflow for large finite entries.
    assert!((norm(&[3e200, 4e200]) / 5e200 - 1.0).abs() < 1e-15);
    assert!(norm(&[f64::INFINITY, 1.0]).is_infinite());
    assert!(norm(&[f64::NAN, 1.0]).is_nan());
}

#[test]
fn decay_rates() {
    // exp:k: α e^(-k e); inverse:k: α / (1 + k e); e from 0.
    let exp = Decay::parse("exp:0.5").unwrap();
    assert_eq!(exp, Decay::Exp(0.5));
    assert_eq!(exp.rate(0.1, 0), 0.1);
    assert!((exp.rate(0.1, 2) - 0.1 * (-1.0f64).exp()).abs() < 1e-17);
    let inv = Decay::parse("inverse:0.25").unwrap();
    assert_eq!(inv.rate(0.2, 0), 0.2);
    assert!((inv.rate(0.2, 4) - 0.1).abs() < 1e-17);
    assert_eq!(Decay::Constant.rate(0.3, 9), 0.3);
    for bad in ["exp", "exp:", "exp:-1", "step:2", "inverse:nan", "exp:x"] {
        assert_eq!(
            Decay::parse(bad).unwrap_err().kind(),
            ErrorKind::InvalidOption,
            "{bad}"
        );
    }
}

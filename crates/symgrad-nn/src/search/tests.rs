//! Search spaces: parsing with positioned errors, seeded sampling that
//! follows the stated distributions, grids, and successive halving.

use super::*;

const OPTIONS: &[(&str, Kind)] = &[
    ("lr", Kind::Real),
    ("l2", Kind::Real),
    ("optimizer", Kind::Word),
    ("batch-size", Kind::Integer),
];

fn parse(spec: &str) -> Result<Space, SpaceError> {
    Space::parse(spec, OPTIONS)
}

/// The rendered error's caret line, and the part of the spec above it.
fn pointed(spec: &str) -> (String, String) {
    let e = parse(spec).unwrap_err();
    let text = e.render(spec);
    let caret = text.lines().last().unwrap().to_string();
    let start = caret.find('^').unwrap() - "          ".len();
    let width = caret.matches('^').count();
    let under: String = spec.chars().skip(start).take(width).collect();
    (e.message, under)
}

#[test]
fn the_issue_s_space_parses() {
    let space = parse(
        "lr=log:1e-4:1e-1, l2=log:1e-6:1e-2, optimizer=sgd|momentum|adam, batch-size=16|32|64",
    )
    .unwrap();
    assert_eq!(space.axes.len(), 4);
    assert_eq!(
        space.axes[0].range,
        Range::Log {
            lo: 1e-4,
            hi: 1e-1,
            count: None
        }
    );
    assert_eq!(
        space.axes[2].range,
        Range::Choice(vec!["sgd".into(), "momentum".into(), "adam".into()])
    );
    assert_eq!(
        parse("lr=0.1:0.5").unwrap().axes[0].range,
        Range::Uniform {
            lo: 0.1,
            hi: 0.5,
            count: None
        }
    );
    assert_eq!(
        parse("lr=uniform:0.1:0.5:3").unwrap().axes[0].range,
        Range::Uniform {
            lo: 0.1,
            hi: 0.5,
            count: Some(3)
        }
    );
    assert_eq!(
        parse("optimizer=adam").unwrap().axes[0].range,
        Range::Choice(vec!["adam".into()])
    );
}

#[test]
fn malformed_spaces_point_at_the_offending_part() {
    let cases = [
        (
            "lr=log:1e-4:1e-1, momentun=0.1:0.9",
            "momentun",
            "not a training option",
        ),
        ("lr=log:1e-4:1e-1,, l2=0:1", ",", "expected name=range"),
        ("lr=log:0:1e-1", "0", "above 0"),
        ("lr=log:1e-1:1e-4", "1e-1:1e-4", "below the upper bound"),
        ("lr=log:1e-4:x", "x", "the upper bound"),
        ("lr=log:1e-4", "log:1e-4", "expected log:A:B"),
        ("lr=1e-4:1e-1:1", "1", "number of grid values"),
        ("optimizer=0:1", "0:1", "takes a word"),
        ("batch-size=16|32.5", "32.5", "whole number"),
        ("batch-size=16||32", "|", "empty choice"),
        ("lr=0.1, lr=0.2", "lr", "given twice"),
        ("lr", "lr", "expected name=range"),
        ("lr=", "", "expected a range"),
    ];
    for (spec, under, says) in cases {
        let (message, pointed_at) = pointed(spec);
        assert!(message.contains(says), "{spec}: {message}");
        // An empty part is pointed at where it is missing.
        assert_eq!(pointed_at, under, "{spec}: {message}");
    }
}

#[test]
fn sampling_is_seeded_and_follows_the_distributions() {
    let space =
        parse("lr=log:1e-4:1e-1, l2=0:2, optimizer=sgd|adam, batch-size=log:16:256").unwrap();
    let a = space.sample(2000, 7);
    assert_eq!(a, space.sample(2000, 7));
    assert_ne!(a, space.sample(2000, 8));
    let column = |i: usize| -> Vec<f64> {
        a.iter()
            .filter_map(|t| t.values[i].1.parse().ok())
            .collect()
    };
    let lr = column(0);
    assert!(lr.iter().all(|&x| (1e-4..=1e-1).contains(&x)));
    // Log-uniform: half below the geometric mean sqrt(1e-4 * 1e-1), and a
    // third in each decade. (2000 draws: the binomial's standard deviation
    // is about 0.011, so 0.05 is more than four of them.)
    let below = lr.iter().filter(|&&x| x < (1e-4f64 * 1e-1).sqrt()).count() as f64 / 2000.0;
    assert!((below - 0.5).abs() < 0.05, "{below}");
    let first_decade = lr.iter().filter(|&&x| x < 1e-3).count() as f64 / 2000.0;
    assert!((first_decade - 1.0 / 3.0).abs() < 0.05, "{first_decade}");
    // Uniform: the mean is the midpoint.
    let l2 = column(1);
    let mean = l2.iter().sum::<f64>() / 2000.0;
    assert!((mean - 1.0).abs() < 0.05, "{mean}");
    let adam = a.iter().filter(|t| t.values[2].1 == "adam").count() as f64 / 2000.0;
    assert!((adam - 0.5).abs() < 0.05, "{adam}");
    // Integers come out whole.
    assert!(a.iter().all(|t| t.values[3].1.parse::<u32>().is_ok()));
    // A drawn real is written with three significant figures, and reads
    // back as what the trial used.
    for t in &a {
        let text = &t.values[0].1;
        let x: f64 = text.parse().unwrap();
        assert_eq!(format!("{x:.2e}").parse::<f64>().unwrap(), x, "{text}");
    }
}

#[test]
fn the_grid_is_every_combination_with_even_spacing() {
    let space = parse("lr=log:1e-4:1e-1:4, optimizer=sgd|adam, l2=0:1:3").unwrap();
    let grid = space.grid().unwrap();
    assert_eq!(grid.len(), 4 * 2 * 3);
    let lrs: Vec<&str> = grid
        .iter()
        .step_by(6)
        .map(|t| t.values[0].1.as_str())
        .collect();
    assert_eq!(lrs, ["1e-4", "0.001", "0.01", "0.1"]);
    let l2s: Vec<&str> = grid[..3].iter().map(|t| t.values[2].1.as_str()).collect();
    assert_eq!(l2s, ["0", "0.5", "1"]);
    assert_eq!(grid[3].values[1].1, "adam");
    assert_eq!(
        grid[0].flags(),
        ["--lr", "1e-4", "--optimizer", "sgd", "--l2", "0"]
    );
    let e = parse("optimizer=sgd|adam, lr=log:1e-4:1e-1")
        .unwrap()
        .grid()
        .unwrap_err();
    assert!(e.message.contains("needs a count"), "{}", e.message);
    assert_eq!(e.span, (23, 36));
}

#[test]
fn halving_rungs_keep_a_third_and_end_on_the_whole_budget() {
    let rungs = halving_rungs(40, 50);
    let pairs: Vec<(usize, usize)> = rungs.iter().map(|r| (r.trials, r.epochs)).collect();
    assert_eq!(pairs, [(40, 1), (14, 5), (5, 16), (2, 50)]);
    assert_eq!(
        halving_rungs(1, 10),
        [Rung {
            trials: 1,
            epochs: 10
        }]
    );
    // Too few epochs for four rungs: the first gets at least one.
    let few: Vec<(usize, usize)> = halving_rungs(40, 4)
        .iter()
        .map(|r| (r.trials, r.epochs))
        .collect();
    assert_eq!(few, [(40, 1), (14, 4)]);
}

#[test]
fn halving_keeps_the_best_and_ranks_them() {
    // A trial's loss is its distance from trial 11, shrinking with epochs,
    // so the survivors of each rung are the ones nearest 11; trial 5
    // diverges.
    let mut runs = Vec::new();
    let outcomes = successive_halving(40, 50, |t, epochs| {
        runs.push((t, epochs));
        Ok::<_, ()>(Score {
            loss: if t == 5 {
                f64::NAN
            } else {
                (t as f64 - 11.0).abs() + 1.0 / epochs as f64
            },
            accuracy: None,
            note: None,
        })
    })
    .unwrap();
    assert_eq!(runs.len(), 40 + 14 + 5 + 2);
    let last: Vec<usize> = runs[runs.len() - 2..].iter().map(|r| r.0).collect();
    assert_eq!(last, [11, 10]);
    assert_eq!(outcomes.len(), 40);
    assert_eq!(outcomes[0].trial, 11);
    assert_eq!(outcomes[0].epochs, 50);
    assert_eq!(outcomes[1].trial, 10);
    // The five of the third rung next, ranked by their loss.
    let third: Vec<usize> = outcomes[2..5].iter().map(|o| o.trial).collect();
    assert_eq!(third, [12, 9, 13]);
    assert_eq!(outcomes.last().unwrap().trial, 5);
    // Errors from the run stop the search.
    assert_eq!(
        successive_halving(3, 3, |_, _| Err::<Score, _>("bad")),
        Err("bad")
    );
}

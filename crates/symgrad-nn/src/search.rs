//! Hyperparameter search: a space of training options, random or grid
//! trials drawn from it, and successive halving (`symgrad search`).
//!
//! A space is written as the command line's `--space` takes it, one
//! `name=range` per option, separated by commas:
//!
//! ```text
//! lr=log:1e-4:1e-1, l2=log:1e-6:1e-2, optimizer=sgd|momentum|adam, batch-size=16|32|64
//! ```
//!
//! - `log:A:B`: log-uniform between A and B (0 < A < B);
//! - `uniform:A:B`, or just `A:B`: uniform between A and B (A < B);
//! - `a|b|c`: one of the choices, each equally likely; a single value `a`
//!   fixes the option for every trial.
//!
//! The names are the training options' flag names without `--` (`lr`,
//! `batch-size`, `optimizer`, ...); the caller says which exist and what
//! kind of value each takes ([`Kind`]). An option that takes an integer
//! (`batch-size`, `epochs`) rounds a drawn value to the nearest integer.
//! A drawn real is rounded to three significant figures, so that the trial
//! that ran is exactly the one its printed command line reproduces.
//!
//! For a grid (`--grid`) a range also needs a count, `log:A:B:N` or
//! `A:B:N`: N values from A to B, both included, evenly spaced on a log
//! scale or a linear one (`log:1e-4:1e-1:4` is 0.0001, 0.001, 0.01, 0.1).
//! The grid is every combination, the first option varying slowest.
//!
//! Successive halving ([`halving_rungs`], [`successive_halving`]) trains
//! every trial for a few epochs, keeps the best third (rounded up), trains
//! those for three times as many epochs in all, and so on until the last
//! rung trains its trials for the full budget. The caller brings a trial to
//! a rung's epochs: `symgrad search` resumes it from the rung before
//! ([`crate::Trainer::train_to`], which ends where an unbroken run does),
//! so a trial's result depends only on its options and its budget either
//! way. Trials are judged on a score the caller computes (the validation
//! loss, or its mean over folds): lower is better, and a score that is not
//! a number (a run that diverged) is the worst.

use std::fmt;
use symgrad_runtime::random::stream;

/// What kind of value an option takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A real number (`lr`, `l2`).
    Real,
    /// A whole number (`batch-size`, `epochs`).
    Integer,
    /// A word (`optimizer`, `preprocess`): choices only.
    Word,
}

/// How the values of one option are drawn.
#[derive(Clone, Debug, PartialEq)]
pub enum Range {
    /// Log-uniform in `[lo, hi]`; `count` values for a grid.
    Log {
        lo: f64,
        hi: f64,
        count: Option<usize>,
    },
    /// Uniform in `[lo, hi]`; `count` values for a grid.
    Uniform {
        lo: f64,
        hi: f64,
        count: Option<usize>,
    },
    /// One of these values, as written.
    Choice(Vec<String>),
}

/// One option of a space.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// The option's name (`lr`).
    pub name: String,
    pub kind: Kind,
    pub range: Range,
    /// Where the range is written in the spec (byte offsets), for errors.
    pub span: (usize, usize),
}

/// A search space: one axis per option.
#[derive(Clone, Debug, PartialEq)]
pub struct Space {
    pub axes: Vec<Axis>,
}

/// A malformed space: the message, and the part of the spec it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpaceError {
    pub message: String,
    /// Byte offsets into the spec.
    pub span: (usize, usize),
}

impl SpaceError {
    fn new(message: impl Into<String>, span: (usize, usize)) -> SpaceError {
        SpaceError {
            message: message.into(),
            span,
        }
    }

    /// The message, then the spec with a caret line under the offending part.
    pub fn render(&self, spec: &str) -> String {
        let (start, end) = (self.span.0.min(spec.len()), self.span.1.min(spec.len()));
        let pad = spec[..start].chars().count();
        let width = spec[start..end].chars().count().max(1);
        format!(
            "error: {}\n  --space {spec}\n          {}{}",
            self.message,
            " ".repeat(pad),
            "^".repeat(width)
        )
    }
}

impl fmt::Display for SpaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SpaceError {}

/// One trial: a value for each option of the space, as command-line text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trial {
    /// `(name, value)` in the space's order.
    pub values: Vec<(String, String)>,
}

impl Trial {
    /// The trial as flags: `--lr 0.001 --optimizer adam`.
    pub fn flags(&self) -> Vec<String> {
        self.values
            .iter()
            .flat_map(|(n, v)| [format!("--{n}"), v.clone()])
            .collect()
    }
}

/// The part `text[start..end]` trimmed, with its offsets.
fn trimmed(text: &str, start: usize, end: usize) -> (usize, usize) {
    let part = &text[start..end];
    let lead = part.len() - part.trim_start().len();
    let trail = part.len() - part.trim_end().len();
    (start + lead, end - trail)
}

/// The pieces of `text[start..end]` between `sep`, each trimmed, with offsets.
fn pieces(text: &str, start: usize, end: usize, sep: char) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut from = start;
    for (i, c) in text[start..end].char_indices() {
        if c == sep {
            out.push(trimmed(text, from, start + i));
            from = start + i + c.len_utf8();
        }
    }
    out.push(trimmed(text, from, end));
    out
}

fn number(spec: &str, (a, b): (usize, usize), what: &str) -> Result<f64, SpaceError> {
    let text = &spec[a..b];
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        _ => Err(SpaceError::new(
            format!("expected a number for {what}, found '{text}'"),
            (a, b),
        )),
    }
}

impl Space {
    /// Parses a space; `options` lists the option names it may use and the
    /// kind of each.
    ///
    /// # Errors
    /// A [`SpaceError`] pointing at the offending part: an empty item, a
    /// missing `=`, an unknown or repeated name, a bound that is not a
    /// number, bounds out of order, a log range that reaches 0, a count that
    /// is not a whole number from 2, or a range for an option that takes a word.
    pub fn parse(spec: &str, options: &[(&str, Kind)]) -> Result<Space, SpaceError> {
        let mut axes: Vec<Axis> = Vec::new();
        for (start, end) in pieces(spec, 0, spec.len(), ',') {
            let item = &spec[start..end];
            if item.is_empty() {
                return Err(SpaceError::new(
                    "expected name=range here (items are separated by commas)",
                    (start, start.max(end)),
                ));
            }
            let Some(eq) = item.find('=') else {
                return Err(SpaceError::new(
                    format!("expected name=range, found '{item}'"),
                    (start, end),
                ));
            };
            let name_span = trimmed(spec, start, start + eq);
            let name = &spec[name_span.0..name_span.1];
            let Some(&(_, kind)) = options.iter().find(|(n, _)| *n == name) else {
                let known: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
                return Err(SpaceError::new(
                    format!(
                        "'{name}' is not a training option that can be searched (they are: {})",
                        known.join(", ")
                    ),
                    name_span,
                ));
            };
            if axes.iter().any(|a| a.name == name) {
                return Err(SpaceError::new(
                    format!("'{name}' is given twice"),
                    name_span,
                ));
            }
            let value = trimmed(spec, start + eq + 1, end);
            let range = Self::range(spec, value, name, kind)?;
            axes.push(Axis {
                name: name.to_string(),
                kind,
                range,
                span: value,
            });
        }
        Ok(Space { axes })
    }

    fn range(
        spec: &str,
        value: (usize, usize),
        name: &str,
        kind: Kind,
    ) -> Result<Range, SpaceError> {
        let text = &spec[value.0..value.1];
        if text.is_empty() {
            return Err(SpaceError::new(
                format!("expected a range for '{name}': log:A:B, uniform:A:B, A:B or a|b|c"),
                (value.0, value.0),
            ));
        }
        if text.contains('|') || !text.contains(':') {
            let mut choices = Vec::new();
            for (a, b) in pieces(spec, value.0, value.1, '|') {
                if a == b {
                    return Err(SpaceError::new(
                        format!("an empty choice for '{name}'"),
                        (a, b),
                    ));
                }
                if kind != Kind::Word {
                    let x = number(spec, (a, b), &format!("'{name}'"))?;
                    if kind == Kind::Integer && x.fract() != 0.0 {
                        return Err(SpaceError::new(
                            format!("'{name}' takes a whole number, not {x}"),
                            (a, b),
                        ));
                    }
                }
                choices.push(spec[a..b].to_string());
            }
            return Ok(Range::Choice(choices));
        }
        if kind == Kind::Word {
            return Err(SpaceError::new(
                format!("'{name}' takes a word, so its range is a list of choices (a|b|c)"),
                value,
            ));
        }
        let mut parts = pieces(spec, value.0, value.1, ':');
        let log = match &spec[parts[0].0..parts[0].1] {
            "log" => {
                parts.remove(0);
                true
            }
            "uniform" => {
                parts.remove(0);
                false
            }
            _ => false,
        };
        if parts.len() != 2 && parts.len() != 3 {
            return Err(SpaceError::new(
                format!(
                    "expected {0}A:B, or {0}A:B:N for a grid of N values",
                    if log { "log:" } else { "uniform:" }
                ),
                value,
            ));
        }
        let lo = number(spec, parts[0], "the lower bound")?;
        let hi = number(spec, parts[1], "the upper bound")?;
        if lo >= hi {
            return Err(SpaceError::new(
                format!("the lower bound {lo} must be below the upper bound {hi}"),
                (parts[0].0, parts[1].1),
            ));
        }
        if log && lo <= 0.0 {
            return Err(SpaceError::new(
                "a log range needs a lower bound above 0",
                parts[0],
            ));
        }
        let count = match parts.get(2) {
            None => None,
            Some(&(a, b)) => match spec[a..b].parse::<usize>() {
                Ok(n) if n >= 2 => Some(n),
                _ => {
                    return Err(SpaceError::new(
                        format!(
                        "expected the number of grid values (a whole number from 2), found '{}'",
                        &spec[a..b]
                    ),
                        (a, b),
                    ))
                }
            },
        };
        Ok(if log {
            Range::Log { lo, hi, count }
        } else {
            Range::Uniform { lo, hi, count }
        })
    }

    /// `n` trials drawn at random, each option independently, from `seed`.
    pub fn sample(&self, n: usize, seed: u64) -> Vec<Trial> {
        let mut rng = stream(seed, "search");
        (0..n)
            .map(|_| Trial {
                values: self
                    .axes
                    .iter()
                    .map(|a| {
                        let u = rng.uniform(0.0, 1.0);
                        let value = match &a.range {
                            Range::Log { lo, hi, .. } => {
                                show(a.kind, (lo.ln() + u * (hi.ln() - lo.ln())).exp())
                            }
                            Range::Uniform { lo, hi, .. } => show(a.kind, lo + u * (hi - lo)),
                            Range::Choice(c) => {
                                c[((u * c.len() as f64) as usize).min(c.len() - 1)].clone()
                            }
                        };
                        (a.name.clone(), value)
                    })
                    .collect(),
            })
            .collect()
    }

    /// Every combination of the axes' grid values, the first axis varying
    /// slowest.
    ///
    /// # Errors
    /// A range without a count, pointed at.
    pub fn grid(&self) -> Result<Vec<Trial>, SpaceError> {
        let mut columns: Vec<Vec<String>> = Vec::new();
        for a in &self.axes {
            let values = match &a.range {
                Range::Choice(c) => c.clone(),
                Range::Log { lo, hi, count } | Range::Uniform { lo, hi, count } => {
                    let Some(n) = *count else {
                        return Err(SpaceError::new(
                            format!(
                                "--grid needs a count for the range of '{}': add :N for N values",
                                a.name
                            ),
                            a.span,
                        ));
                    };
                    let log = matches!(a.range, Range::Log { .. });
                    (0..n)
                        .map(|i| {
                            let t = i as f64 / (n - 1) as f64;
                            let x = if log {
                                (lo.ln() + t * (hi.ln() - lo.ln())).exp()
                            } else {
                                lo + t * (hi - lo)
                            };
                            show(a.kind, x)
                        })
                        .collect()
                }
            };
            columns.push(values);
        }
        let mut trials = vec![Trial { values: Vec::new() }];
        for (a, values) in self.axes.iter().zip(&columns) {
            trials = trials
                .into_iter()
                .flat_map(|t| {
                    values.iter().map(move |v| {
                        let mut t = t.clone();
                        t.values.push((a.name.clone(), v.clone()));
                        t
                    })
                })
                .collect();
        }
        Ok(trials)
    }
}

/// A drawn value as command-line text: an integer for [`Kind::Integer`],
/// else rounded to three significant figures and written in the shortest
/// form that reads back as that rounded value.
fn show(kind: Kind, x: f64) -> String {
    if kind == Kind::Integer {
        return format!("{}", x.round() as i64);
    }
    let rounded: f64 = format!("{x:.2e}").parse().unwrap_or(x);
    let magnitude = rounded.abs();
    if rounded == 0.0 || (1e-3..1e4).contains(&magnitude) {
        format!("{rounded}")
    } else {
        format!("{rounded:e}")
    }
}

/// How a trial did: lower `loss` is better; not a number is the worst.
#[derive(Clone, Debug, PartialEq)]
pub struct Score {
    /// The validation loss (or its mean over folds).
    pub loss: f64,
    /// The validation accuracy, for a one-hot target.
    pub accuracy: Option<f64>,
    /// Why the run ended early, if it did (divergence, early stopping).
    pub note: Option<String>,
}

impl Score {
    /// The order of scores: by loss, anything not finite last.
    fn key(&self) -> f64 {
        if self.loss.is_finite() {
            self.loss
        } else {
            f64::INFINITY
        }
    }
}

/// One rung of successive halving: how many trials, for how many epochs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rung {
    pub trials: usize,
    pub epochs: usize,
}

/// The fraction of a rung's trials that go on to the next: the best third.
pub const HALVING_FACTOR: usize = 3;

/// The rungs of successive halving for `n` trials and an epoch budget of
/// `epochs`: each keeps the best third (rounded up) of the one before, for
/// three times the epochs, and the last trains for the whole budget. There
/// are as many rungs as it takes to come down to one to three trials,
/// fewer where the first rung would get less than one epoch.
pub fn halving_rungs(n: usize, epochs: usize) -> Vec<Rung> {
    let f = HALVING_FACTOR;
    let mut count = 1;
    // Rungs until the survivors are at most `f`, ...
    while n.div_ceil(f.pow(count as u32 - 1)) > f {
        count += 1;
    }
    // ... but at least one epoch in the first.
    while count > 1 && epochs / f.pow(count as u32 - 1) == 0 {
        count -= 1;
    }
    (0..count)
        .map(|i| Rung {
            trials: n.div_ceil(f.pow(i as u32)).max(1),
            epochs: (epochs / f.pow((count - 1 - i) as u32)).max(1),
        })
        .collect()
}

/// A trial's last result: its index, the epochs of the last rung it reached,
/// and its score there.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub trial: usize,
    pub epochs: usize,
    /// The rung it reached, from 0.
    pub rung: usize,
    pub score: Score,
}

/// Runs successive halving over trials `0..n` with a budget of `epochs`:
/// `run(trial, epochs)` brings one trial to that many epochs in all
/// (resuming, or from the start) and scores it. Returns every trial's outcome, best first: those
/// that reached a later rung before those that did not, then by score.
///
/// # Errors
/// The first error `run` returns (a failure of the setup, not of a trial:
/// a diverging trial is a score that is not a number).
pub fn successive_halving<E>(
    n: usize,
    epochs: usize,
    mut run: impl FnMut(usize, usize) -> Result<Score, E>,
) -> Result<Vec<Outcome>, E> {
    let mut outcomes: Vec<Option<Outcome>> = vec![None; n];
    let mut alive: Vec<usize> = (0..n).collect();
    for (r, rung) in halving_rungs(n, epochs).iter().enumerate() {
        alive.truncate(rung.trials);
        for &t in &alive {
            let score = run(t, rung.epochs)?;
            outcomes[t] = Some(Outcome {
                trial: t,
                epochs: rung.epochs,
                rung: r,
                score,
            });
        }
        alive.sort_by(|&a, &b| {
            let key = |t: usize| {
                outcomes[t]
                    .as_ref()
                    .map_or(f64::INFINITY, |o| o.score.key())
            };
            key(a).total_cmp(&key(b)).then(a.cmp(&b))
        });
    }
    Ok(rank(outcomes.into_iter().flatten().collect()))
}

/// Outcomes best first: a later rung first, then the lower score, then
/// the earlier trial.
pub fn rank(mut outcomes: Vec<Outcome>) -> Vec<Outcome> {
    outcomes.sort_by(|a, b| {
        b.rung
            .cmp(&a.rung)
            .then(a.score.key().total_cmp(&b.score.key()))
            .then(a.trial.cmp(&b.trial))
    });
    outcomes
}

#[cfg(test)]
mod tests;

//! The progress bar of the training commands: an observer of the training
//! loop that draws, on standard error, the epoch, the last losses, the
//! validation accuracy and the time left. It draws nothing with `--quiet`
//! or when standard error is not a terminal (a pipe, a file, CI), so that
//! output stays plain there.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use symgrad_nn::{Epoch, Observer, Step};

/// A bar over every step of one or more runs (a fold, a trial).
pub struct Progress {
    bar: Option<ProgressBar>,
    /// What the bar is counting, before the epoch: "fold 2/5 · ".
    label: String,
    /// Runs counted by [`Progress::counting`]: what, how many so far, of how many.
    counting: Option<(String, usize, usize)>,
    epoch_text: String,
}

impl Progress {
    /// A bar of `total_steps` steps, drawn only when `show` and standard
    /// error is a terminal.
    pub fn new(show: bool, total_steps: u64) -> Progress {
        let bar = (show && std::io::stderr().is_terminal()).then(|| {
            let style =
                ProgressStyle::with_template("{prefix} {bar:36.cyan/blue} {msg}  eta {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("━━─");
            ProgressBar::with_draw_target(Some(total_steps), ProgressDrawTarget::stderr())
                .with_style(style)
        });
        Progress {
            bar,
            label: String::new(),
            counting: None,
            epoch_text: String::new(),
        }
    }

    /// Labels each run "WHAT k/n · " by itself, counting runs as their
    /// first step arrives (for a library loop that starts them, as
    /// cross-validation's folds).
    pub fn counting(mut self, what: &str, n: usize) -> Progress {
        self.counting = Some((what.to_string(), 0, n));
        self
    }

    /// Starts the next run (a fold, a trial), which the bar names `label`.
    pub fn start(&mut self, label: impl Into<String>) {
        self.label = label.into();
    }

    /// Whether the bar is drawn (asked for, on a terminal).
    pub fn is_drawn(&self) -> bool {
        self.bar.is_some()
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A loss, briefly: four decimals, or three significant figures with an exponent.
pub fn short(x: f64) -> String {
    if x.is_finite() && x.abs() >= 1e-3 && x.abs() < 1e4 {
        format!("{x:.4}")
    } else {
        format!("{x:.3e}")
    }
}

impl Observer for Progress {
    fn on_step(&mut self, step: &Step) {
        let Some(bar) = &self.bar else { return };
        // Counted step by step, so that a run resumed later (successive
        // halving) goes on from where the bar is.
        bar.inc(1);
        if let (Some((what, k, n)), 1, 1) = (&mut self.counting, step.epoch, step.step) {
            *k += 1;
            self.label = format!("{what} {k}/{n} · ");
        }
        bar.set_prefix(format!(
            "{}epoch {}/{}",
            self.label, step.epoch, step.epochs
        ));
        if step.step == 1 && step.epoch == 1 {
            self.epoch_text = format!("loss {}", short(step.loss));
        }
        bar.set_message(self.epoch_text.clone());
    }

    fn on_epoch(&mut self, epoch: &Epoch, _epochs: usize) {
        if self.bar.is_none() {
            return;
        }
        let mut text = format!("loss {}", short(epoch.train_loss));
        if let Some(v) = epoch.val_loss {
            text.push_str(&format!("  val {}", short(v)));
        }
        if let Some(a) = epoch.val_accuracy.or(epoch.train_accuracy) {
            let which = if epoch.val_accuracy.is_some() {
                "acc"
            } else {
                "train acc"
            };
            text.push_str(&format!("  {which} {:.1} %", 100.0 * a));
        }
        self.epoch_text = text;
    }
}

//! The training loop: mini-batches in a seeded order, the contract's
//! gradient transformations and update, validation in inference mode,
//! early stopping, and a guard against divergence.
//!
//! Each step of an epoch, in this order:
//! 1. the batch's rows are gathered (file order with `shuffle(false)`, else
//!    an order drawn from the seed's stream each epoch; the last batch may
//!    be smaller);
//! 2. the optimizer moves to where the gradient is taken (Nesterov's
//!    θ + β v; the others stay);
//! 3. the model gives the batch's mean loss and its gradient `g` there; if
//!    either is not finite, training stops (see *Divergence*);
//! 4. each parameter's ‖g‖₂ is recorded (for [`Epoch::grad_norms`]), and
//!    the parameters go back to θ;
//! 5. clipping by value, then by norm, then the L2 and L1 penalties on the
//!    parameters of rank >= 2 ([`GradientTransform`]), which read θ itself
//!    (for Nesterov too: the contract's g += λθ, not λ(θ + β v));
//! 6. the update, at the epoch's rate from the [`Decay`] schedule.
//!
//! After each epoch the validation rows (if any) are evaluated in inference
//! mode ([`Model::loss`], [`Model::predict`]).
//!
//! *Divergence*: a loss or gradient that is not finite stops training with
//! an [`crate::ErrorKind::Diverged`] error naming the epoch and step, whose
//! [`Error::history`] holds the epochs completed before it (with
//! [`History::stopped`] set); the model keeps the parameters (and batch-norm
//! state) of the last step whose loss and gradient were finite (and
//! [`History::best_epoch`] is `None`, these being from within an epoch).
//! It is an error, not an `Ok`, so
//! that a caller cannot mistake a diverged run for a trained model.
//!
//! *Early stopping* with patience `p` watches the validation loss: when `p`
//! epochs in a row bring no loss strictly below the best so far, training
//! stops, and the model gets back the parameters and state of the best
//! epoch. Without it the model keeps the last epoch's.
//!
//! *Determinism*: the same seed, model and data give the same parameters
//! bit for bit: the batch order comes from `random::stream(seed,
//! "shuffle")` and the model's dropout is seeded with `seed` when a run
//! starts.
//!
//! *Resuming*: [`Trainer::train_to`] runs the epochs up to a given one and
//! can be called again to go on (successive halving trains every trial a
//! few epochs, then the survivors further); the trainer keeps the optimizer
//! state, the batch order's stream and the best epoch, so that a run done
//! in pieces is the same, bit for bit, as one done at once.

use std::time::Instant;

use symgrad_runtime::random::{self, SplitMix64};

use crate::clip::{global_norm, sum_of_squares, GradientTransform};
use crate::data::{shuffle, Batch, Dataset, ModelData};
use crate::error::{invalid_option, Error, Result};
use crate::model::{Epoch, History, Model};
use crate::optim::Optimizer;
use crate::schedule::Decay;

/// Where the training loop reports its progress (a progress bar, a log).
/// Both methods do nothing unless overridden.
pub trait Observer {
    /// After each step.
    fn on_step(&mut self, step: &Step) {
        let _ = step;
    }
    /// After each epoch, with the number of epochs the run is set to.
    fn on_epoch(&mut self, epoch: &Epoch, epochs: usize) {
        let _ = (epoch, epochs);
    }
}

/// An observer that does nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Observer for Silent {}

/// One step, as an [`Observer`] sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step {
    /// The epoch, from 1.
    pub epoch: usize,
    /// The number of epochs the run is set to.
    pub epochs: usize,
    /// The step within the epoch, from 1.
    pub step: usize,
    /// The number of steps per epoch.
    pub steps: usize,
    /// The batch's mean loss (training mode, before the update).
    pub loss: f64,
}

/// The loss and accuracy of a model on some rows, in inference mode.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// The mean loss, when the rows have targets.
    pub loss: Option<f64>,
    /// The fraction of rows whose prediction's argmax is the target's, when
    /// the target is one-hot ([`ModelData::one_hot`]).
    pub accuracy: Option<f64>,
}

/// Evaluates `model` on `data` in inference mode; `predictions` receives
/// the prediction of every row (`n_rows * output_size` entries).
pub fn evaluate<M: Model + ?Sized>(
    model: &mut M,
    data: &ModelData,
    predictions: &mut Vec<f64>,
) -> Evaluation {
    // With targets, one inference pass gives both (`Model::loss_and_predict`).
    let loss = if data.has_targets() {
        Some(model.loss_and_predict(&data.all(), predictions))
    } else {
        model.predict(&data.inputs(), predictions);
        None
    };
    let accuracy = data
        .one_hot_target()
        .map(|target| accuracy(predictions, target, model.output_size()));
    Evaluation { loss, accuracy }
}

/// The fraction of rows (of `width` entries each) where the index of the
/// largest prediction (the first, on ties) is that of the largest target.
pub fn accuracy(predictions: &[f64], targets: &[f64], width: usize) -> f64 {
    if width == 0 || targets.is_empty() {
        return 0.0;
    }
    let right = predictions
        .chunks(width)
        .zip(targets.chunks(width))
        .filter(|(p, t)| argmax(p) == argmax(t))
        .count();
    right as f64 / (targets.len() / width) as f64
}

/// The index of the first largest entry; NaN entries never win.
pub fn argmax(row: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] || row[best].is_nan() {
            best = i;
        }
    }
    best
}

/// A training run's settings and, once started, its state.
///
/// ```no_run
/// # use symgrad_nn::{Adam, Dataset, Trainer, Model};
/// # fn run(net: &mut dyn Model) -> symgrad_nn::Result<()> {
/// let data = Dataset::from_csv("digits.csv")?;
/// let (train, validation) = data.split_validation(0.2, 7)?;
/// let history = Trainer::new(Adam::new(0.01))
///     .epochs(50)
///     .batch_size(32)
///     .seed(7)
///     .validation(validation)
///     .early_stopping(5)
///     .fit(net, &train)?;
/// # Ok(()) }
/// ```
pub struct Trainer {
    optimizer: Box<dyn Optimizer>,
    epochs: usize,
    batch_size: usize,
    shuffle: bool,
    seed: u64,
    transform: GradientTransform,
    decay: Decay,
    validation: Option<Dataset>,
    patience: Option<usize>,
    train_accuracy: bool,
    run: Option<Run>,
}

/// The parameters and batch-norm state at some point.
#[derive(Clone, Debug, Default)]
struct Snapshot {
    params: Vec<Vec<f64>>,
    state: Vec<Vec<f64>>,
}

impl Snapshot {
    fn take<M: Model + ?Sized>(&mut self, model: &M) {
        copy_into(&mut self.params, &model.params());
        copy_into(&mut self.state, &model.state());
    }

    fn restore<M: Model + ?Sized>(&self, model: &mut M) {
        for (p, saved) in model.params_mut().into_iter().zip(&self.params) {
            p.copy_from_slice(saved);
        }
        for (s, saved) in model.state_mut().into_iter().zip(&self.state) {
            s.copy_from_slice(saved);
        }
    }
}

/// Copies `from` into `to`, reusing `to`'s buffers when the sizes match.
fn copy_into(to: &mut Vec<Vec<f64>>, from: &[&[f64]]) {
    to.resize_with(from.len(), Vec::new);
    for (t, f) in to.iter_mut().zip(from) {
        t.clear();
        t.extend_from_slice(f);
    }
}

/// The state of a run between calls of [`Trainer::train_to`].
struct Run {
    history: History,
    shuffle_rng: SplitMix64,
    order: Vec<usize>,
    grad: Vec<Vec<f64>>,
    batch: Batch,
    predictions: Vec<f64>,
    /// The gradient norms of the current step.
    step_norms: Vec<f64>,
    /// The parameters of the last step whose loss and gradient were finite.
    good: Snapshot,
    /// The parameters of the step being evaluated.
    candidate: Snapshot,
    best: Option<(f64, usize, Snapshot)>,
    since_best: usize,
    /// The message of the divergence that ended the run, if one did.
    diverged: Option<String>,
    finished: bool,
    seconds_before: f64,
}

impl Trainer {
    /// A trainer with `optimizer` and the defaults: 10 epochs, batches of
    /// 32, shuffled with seed 0, no clipping, penalties, schedule,
    /// validation or early stopping, no training accuracy.
    pub fn new(optimizer: impl Optimizer + 'static) -> Trainer {
        Trainer {
            optimizer: Box::new(optimizer),
            epochs: 10,
            batch_size: 32,
            shuffle: true,
            seed: 0,
            transform: GradientTransform::default(),
            decay: Decay::Constant,
            validation: None,
            patience: None,
            train_accuracy: false,
            run: None,
        }
    }

    /// The number of epochs (at least 1).
    pub fn epochs(mut self, epochs: usize) -> Trainer {
        self.epochs = epochs;
        self
    }
    /// The number of rows per batch (at least 1; the last batch of an epoch
    /// may be smaller).
    pub fn batch_size(mut self, batch_size: usize) -> Trainer {
        self.batch_size = batch_size;
        self
    }
    /// Whether each epoch takes the rows in an order drawn from the seed
    /// (`true`, the default) or in file order (`false`, `--no-shuffle`).
    pub fn shuffle(mut self, shuffle: bool) -> Trainer {
        self.shuffle = shuffle;
        self
    }
    /// The seed of the batch order and of the model's dropout.
    pub fn seed(mut self, seed: u64) -> Trainer {
        self.seed = seed;
        self
    }
    /// L1 penalty λ (g += λ sign(θ) on parameters of rank >= 2).
    pub fn l1(mut self, lambda: f64) -> Trainer {
        self.transform.l1 = lambda;
        self
    }
    /// L2 penalty λ (g += λ θ on parameters of rank >= 2).
    pub fn l2(mut self, lambda: f64) -> Trainer {
        self.transform.l2 = lambda;
        self
    }
    /// Clamps each gradient entry to [-c, c].
    pub fn clip_value(mut self, c: f64) -> Trainer {
        self.transform.clip_value = Some(c);
        self
    }
    /// Scales the gradient by min(1, c/‖g‖₂), the norm over all parameters.
    pub fn clip_norm(mut self, c: f64) -> Trainer {
        self.transform.clip_norm = Some(c);
        self
    }
    /// The learning-rate schedule.
    pub fn decay(mut self, decay: Decay) -> Trainer {
        self.decay = decay;
        self
    }
    /// Rows evaluated after each epoch (and watched by early stopping).
    pub fn validation(mut self, rows: Dataset) -> Trainer {
        self.validation = Some(rows);
        self
    }
    /// Stops after `patience` epochs without a lower validation loss and
    /// restores the best epoch's parameters; needs validation rows.
    pub fn early_stopping(mut self, patience: usize) -> Trainer {
        self.patience = Some(patience);
        self
    }
    /// Whether each epoch also evaluates the training rows' accuracy in
    /// inference mode ([`Epoch::train_accuracy`]). Off by default: it is
    /// one more forward pass over all training rows per epoch, which on the
    /// digits costs about half as much again as the epoch's training.
    pub fn train_accuracy(mut self, on: bool) -> Trainer {
        self.train_accuracy = on;
        self
    }

    /// The optimizer.
    pub fn optimizer(&self) -> &dyn Optimizer {
        &*self.optimizer
    }
    /// The number of epochs the run is set to.
    pub fn total_epochs(&self) -> usize {
        self.epochs
    }
    /// The history so far of the run started by the last [`Trainer::fit`]
    /// or [`Trainer::train_to`].
    pub fn history(&self) -> Option<&History> {
        self.run.as_ref().map(|r| &r.history)
    }
    /// Whether the run is over (all epochs done, stopped early, or diverged).
    pub fn finished(&self) -> bool {
        self.run.as_ref().is_some_and(|r| r.finished)
    }

    /// Trains `model` on `train` for all epochs, from a fresh start
    /// (optimizer state cleared), and returns the history.
    ///
    /// # Errors
    /// Invalid settings or data that does not fit the model
    /// ([`crate::ErrorKind::InvalidOption`], [`crate::ErrorKind::Mismatch`],
    /// [`crate::ErrorKind::Data`]), or a diverged run
    /// ([`crate::ErrorKind::Diverged`], with the history).
    pub fn fit<M: Model + ?Sized>(&mut self, model: &mut M, train: &Dataset) -> Result<History> {
        self.fit_with(model, train, &mut Silent)
    }

    /// [`Trainer::fit`], reporting to `observer`.
    ///
    /// # Errors
    /// As [`Trainer::fit`].
    pub fn fit_with<M: Model + ?Sized>(
        &mut self,
        model: &mut M,
        train: &Dataset,
        observer: &mut dyn Observer,
    ) -> Result<History> {
        self.restart();
        self.train_to(model, train, self.epochs, observer)?;
        Ok(self.history().cloned().unwrap_or_default())
    }

    /// Forgets the run: the next [`Trainer::train_to`] starts from epoch 1
    /// with the optimizer's state cleared.
    pub fn restart(&mut self) {
        self.run = None;
        self.optimizer.reset();
    }

    /// Trains until `epoch` epochs are done in all (at most the epochs the
    /// trainer is set to), going on from where the last call stopped; the
    /// first call starts the run. The same `model` and `train` rows must be
    /// passed each time. The best parameters are restored (under early
    /// stopping) only when the run finishes, so a run done in pieces is the
    /// same as one done at once. Does nothing once the run is finished,
    /// except that a diverged run returns its error again.
    ///
    /// # Errors
    /// As [`Trainer::fit`].
    pub fn train_to<M: Model + ?Sized>(
        &mut self,
        model: &mut M,
        train: &Dataset,
        epoch: usize,
        observer: &mut dyn Observer,
    ) -> Result<&History> {
        self.check()?;
        if let Some(run) = &self.run {
            if let Some(message) = &run.diverged {
                return Err(Error::diverged(message.clone(), run.history.clone()));
            }
        }
        if train.n_rows() == 0 {
            return Err(invalid_option("there are no training rows"));
        }
        let data = train.bind(model)?;
        let validation = match &self.validation {
            Some(v) => Some(
                v.bind(model)
                    .map_err(|e| e.context("the validation rows"))?,
            ),
            None => None,
        };
        if self.patience.is_some() && validation.is_none() {
            return Err(invalid_option(
                "early stopping needs validation rows (--validation or --validation-rows)",
            ));
        }
        let mut run = match self.run.take() {
            Some(run) => run,
            None => self.start(model, &data),
        };
        let until = epoch.min(self.epochs);
        let started = Instant::now();
        let outcome = self.run_epochs(
            model,
            &data,
            validation.as_ref(),
            &mut run,
            until,
            started,
            observer,
        );
        run.seconds_before += started.elapsed().as_secs_f64();
        let run = self.run.insert(run);
        outcome?;
        Ok(&run.history)
    }

    fn check(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(invalid_option("the number of epochs must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(invalid_option("the batch size must be at least 1"));
        }
        let lr = self.optimizer.learning_rate();
        if !(lr.is_finite() && lr > 0.0) {
            return Err(invalid_option(format!(
                "the learning rate must be a positive number, not {lr}"
            )));
        }
        for (flag, v) in [("--l1", self.transform.l1), ("--l2", self.transform.l2)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(invalid_option(format!(
                    "{flag} must be a number >= 0, not {v}"
                )));
            }
        }
        for (flag, v) in [
            ("--clip-value", self.transform.clip_value),
            ("--clip-norm", self.transform.clip_norm),
        ] {
            if let Some(c) = v {
                if c.is_nan() || c <= 0.0 {
                    return Err(invalid_option(format!(
                        "{flag} must be a positive number, not {c}"
                    )));
                }
            }
        }
        if let Decay::Exp(k) | Decay::Inverse(k) = self.decay {
            if !(k.is_finite() && k >= 0.0) {
                return Err(invalid_option(format!(
                    "the decay rate must be a number >= 0, not {k}"
                )));
            }
        }
        if self.patience == Some(0) {
            return Err(invalid_option(
                "the early-stopping patience must be at least 1",
            ));
        }
        Ok(())
    }

    fn start<M: Model + ?Sized>(&self, model: &mut M, data: &ModelData) -> Run {
        model.set_seed(self.seed);
        let mut good = Snapshot::default();
        good.take(model);
        Run {
            history: History {
                param_names: model.param_names(),
                ..History::default()
            },
            shuffle_rng: random::stream(self.seed, "shuffle"),
            order: (0..data.n_rows()).collect(),
            grad: model
                .param_shapes()
                .iter()
                .map(|s| vec![0.0; s.iter().product()])
                .collect(),
            batch: Batch::new(),
            predictions: Vec::new(),
            step_norms: Vec::new(),
            candidate: good.clone(),
            good,
            best: None,
            since_best: 0,
            diverged: None,
            finished: false,
            seconds_before: 0.0,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn run_epochs<M: Model + ?Sized>(
        &mut self,
        model: &mut M,
        data: &ModelData,
        validation: Option<&ModelData>,
        run: &mut Run,
        until: usize,
        started: Instant,
        observer: &mut dyn Observer,
    ) -> Result<()> {
        let penalized: Vec<bool> = model.param_shapes().iter().map(|s| s.len() >= 2).collect();
        let n_params = penalized.len();
        let n = data.n_rows();
        let steps = n.div_ceil(self.batch_size);
        let mut norm_sums = vec![0.0; n_params];
        while !run.finished && run.history.epochs.len() < until {
            let epoch = run.history.epochs.len() + 1;
            let lr = self.decay.rate(self.optimizer.learning_rate(), epoch - 1);
            if run.order.len() != n {
                run.order = (0..n).collect();
            }
            if self.shuffle {
                for (i, slot) in run.order.iter_mut().enumerate() {
                    *slot = i;
                }
                shuffle(&mut run.order, &mut run.shuffle_rng);
            }
            norm_sums.iter_mut().for_each(|s| *s = 0.0);
            let mut loss_sum = 0.0;
            for (step, rows) in run.order.chunks(self.batch_size).enumerate() {
                data.gather(rows, &mut run.batch);
                run.candidate.take(model);
                self.optimizer.look_ahead(&mut model.params_mut());
                let loss = model.loss_and_gradient(&run.batch.slices(), &mut run.grad);
                if let Some(what) = check_finite(loss, &run.grad, &mut run.step_norms) {
                    self.optimizer.undo_look_ahead(&mut model.params_mut());
                    run.good.restore(model);
                    let message = match what {
                        None => format!("the loss is {loss}"),
                        Some(p) => format!(
                            "the gradient of {} is not finite",
                            run.history
                                .param_names
                                .get(p)
                                .map_or("a parameter", String::as_str)
                        ),
                    };
                    let message = format!(
                        "training diverged at epoch {epoch}, step {} of {steps}: {message}; the \
                         model keeps the last parameters whose loss and gradient were finite",
                        step + 1
                    );
                    run.history.stopped = Some(message.clone());
                    // The parameters are from within an epoch, none's end.
                    run.history.best_epoch = None;
                    run.finished = true;
                    run.diverged = Some(message.clone());
                    return Err(Error::diverged(message, run.history.clone()));
                }
                std::mem::swap(&mut run.good, &mut run.candidate);
                for (sum, norm) in norm_sums.iter_mut().zip(&run.step_norms) {
                    *sum += norm;
                }
                loss_sum += loss;
                let mut params = model.params_mut();
                // Back to θ itself: the penalties are on θ, not on θ + β v.
                self.optimizer.undo_look_ahead(&mut params);
                self.transform.apply(&mut run.grad, &params, &penalized);
                self.optimizer.step(&mut params, &run.grad, lr);
                drop(params);
                observer.on_step(&Step {
                    epoch,
                    epochs: self.epochs,
                    step: step + 1,
                    steps,
                    loss,
                });
            }
            let val = validation.map(|v| evaluate(model, v, &mut run.predictions));
            let train_accuracy = if self.train_accuracy && data.one_hot() {
                evaluate_accuracy(model, data, &mut run.predictions)
            } else {
                None
            };
            let record = Epoch {
                epoch,
                lr,
                train_loss: loss_sum / steps as f64,
                val_loss: val.and_then(|v| v.loss),
                val_accuracy: val.and_then(|v| v.accuracy),
                train_accuracy,
                grad_norms: norm_sums.iter().map(|s| s / steps as f64).collect(),
                seconds: run.seconds_before + started.elapsed().as_secs_f64(),
            };
            observer.on_epoch(&record, self.epochs);
            let val_loss = record.val_loss;
            run.history.epochs.push(record);
            if let (Some(patience), Some(loss)) = (self.patience, val_loss) {
                let improved = run.best.as_ref().is_none_or(|(best, _, _)| loss < *best);
                if improved {
                    let mut snapshot = run.best.take().map(|b| b.2).unwrap_or_default();
                    snapshot.take(model);
                    run.best = Some((loss, epoch, snapshot));
                    run.since_best = 0;
                } else {
                    run.since_best += 1;
                    if run.since_best >= patience {
                        let best_epoch = run.best.as_ref().map_or(epoch, |b| b.1);
                        run.history.stopped = Some(format!(
                            "early stopping after epoch {epoch}: the validation loss has not \
                             improved for {patience} epochs since epoch {best_epoch}"
                        ));
                        run.finished = true;
                    }
                }
            }
            if epoch == self.epochs {
                run.finished = true;
            }
        }
        if run.finished {
            match &run.best {
                Some((_, best_epoch, snapshot)) => {
                    snapshot.restore(model);
                    run.history.best_epoch = Some(*best_epoch);
                }
                None => run.history.best_epoch = run.history.epochs.last().map(|e| e.epoch),
            }
        } else {
            run.history.best_epoch = run.history.epochs.last().map(|e| e.epoch);
        }
        Ok(())
    }
}

/// The accuracy on `data`'s rows alone (no loss), in inference mode.
fn evaluate_accuracy<M: Model + ?Sized>(
    model: &mut M,
    data: &ModelData,
    predictions: &mut Vec<f64>,
) -> Option<f64> {
    let target = data.one_hot_target()?;
    model.predict(&data.inputs(), predictions);
    Some(accuracy(predictions, target, model.output_size()))
}

/// Checks the loss and the gradient and writes each parameter's gradient
/// norm into `norms`. `Some(None)` when the loss is not finite,
/// `Some(Some(p))` when parameter `p`'s gradient is not. A finite sum of
/// squares proves every entry finite, so the usual case is one pass.
fn check_finite(loss: f64, grad: &[Vec<f64>], norms: &mut Vec<f64>) -> Option<Option<usize>> {
    if !loss.is_finite() {
        return Some(None);
    }
    norms.clear();
    for (p, g) in grad.iter().enumerate() {
        let squares = sum_of_squares(g);
        let norm = if squares.is_finite() {
            squares.sqrt()
        } else if g.iter().all(|x| x.is_finite()) {
            global_norm(std::slice::from_ref(g))
        } else {
            return Some(Some(p));
        };
        norms.push(norm);
    }
    None
}

//! The one interface training drives, and the record of a training run.
//!
//! A [`Model`] is anything with parameters to update, a mean loss and its
//! gradient over a batch, and a prediction: the interpreter's plans for a
//! network file loaded at run time (`NetworkModel`) and every struct that
//! `symgrad::network!` generates implement it, so the same trainer, model
//! files and commands serve both.
//!
//! Data crosses the trait as one row-major slice per data tensor, `m`
//! samples each: every input, then every target, in the file's declaration
//! order (the layout `network!`'s own methods take). Sizes are checked by
//! the caller against [`Model::data_sizes`] before a call; a slice of the
//! wrong length is a bug in the caller, and implementations may panic on it.

/// A trainable network.
pub trait Model {
    /// The parameters' names, in the network file's order.
    fn param_names(&self) -> Vec<String>;
    /// Each parameter's shape, in the same order.
    fn param_shapes(&self) -> Vec<Vec<usize>>;
    /// The parameters' values, row-major, in the same order.
    fn params(&self) -> Vec<&[f64]>;
    /// The same, to update in place.
    fn params_mut(&mut self) -> Vec<&mut [f64]>;

    /// The per-sample number of entries of each data tensor: every input,
    /// then every target, in declaration order.
    fn data_sizes(&self) -> Vec<usize>;
    /// How many of [`Model::data_sizes`] are inputs (the rest are targets).
    fn n_inputs(&self) -> usize;
    /// The per-sample number of entries of the prediction.
    fn output_size(&self) -> usize;

    /// Training mode: the mean loss over the `m` samples of `data` (one
    /// slice per data tensor) and its gradient, written into `grad` (one
    /// vector per parameter, each of its parameter's size). Dropout draws
    /// fresh masks; batch norm uses the batch's statistics and updates its
    /// running statistics ([`Model::state`]).
    fn loss_and_gradient(&mut self, data: &[&[f64]], grad: &mut [Vec<f64>]) -> f64;
    /// Inference mode: the mean loss over the samples of `data` with
    /// dropout off and batch norm on its running statistics.
    fn loss(&mut self, data: &[&[f64]]) -> f64;
    /// Inference mode: the prediction of each of the `m` samples of
    /// `inputs` (one slice per input), `m * output_size()` entries written
    /// into `out`, which is resized.
    fn predict(&mut self, inputs: &[&[f64]], out: &mut Vec<f64>);
    /// Inference mode: [`Model::loss`] over `data` (every input, then
    /// every target) and [`Model::predict`] of its inputs into `out`, the
    /// two results validation needs. The default makes the two calls; a
    /// model whose loss computes the prediction on the way overrides it
    /// with one forward pass, giving the same results bit for bit.
    fn loss_and_predict(&mut self, data: &[&[f64]], out: &mut Vec<f64>) -> f64 {
        let loss = self.loss(data);
        let n_inputs = self.n_inputs();
        self.predict(&data[..n_inputs], out);
        loss
    }

    /// Names of what else prediction needs and training updates, besides
    /// the parameters: batch norm's running means and variances.
    fn state_names(&self) -> Vec<String> {
        Vec::new()
    }
    /// The values of [`Model::state_names`], in the same order.
    fn state(&self) -> Vec<&[f64]> {
        Vec::new()
    }
    /// The same, to restore from a model file.
    fn state_mut(&mut self) -> Vec<&mut [f64]> {
        Vec::new()
    }

    /// Seeds the dropout masks that training mode draws.
    fn set_seed(&mut self, seed: u64);
    /// The network file's text, which a model file embeds so that
    /// prediction needs nothing else, where the model knows it.
    fn source(&self) -> Option<&str> {
        None
    }
}

/// One epoch of a training run.
#[derive(Clone, Debug, PartialEq)]
pub struct Epoch {
    /// From 1.
    pub epoch: usize,
    /// The learning rate used in this epoch, after the schedule.
    pub lr: f64,
    /// The mean over the epoch's batches of the batch's mean loss (training mode).
    pub train_loss: f64,
    /// The mean loss over the validation rows, inference mode.
    pub val_loss: Option<f64>,
    /// The fraction of validation rows whose predicted class is the
    /// target's, for a one-hot target.
    pub val_accuracy: Option<f64>,
    /// The fraction of training rows predicted right, for a one-hot target,
    /// inference mode, at the end of the epoch.
    pub train_accuracy: Option<f64>,
    /// The Euclidean norm of each parameter's gradient, averaged over the
    /// epoch's steps (before clipping and penalties), in parameter order.
    pub grad_norms: Vec<f64>,
    /// Seconds since training started, at the end of this epoch.
    pub seconds: f64,
}

/// Every epoch of a training run, and how it ended.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// The parameters' names, in the order of [`Epoch::grad_norms`].
    pub param_names: Vec<String>,
    pub epochs: Vec<Epoch>,
    /// The epoch (from 1) whose parameters the model holds at the end:
    /// the best validation loss under early stopping, else the last.
    pub best_epoch: Option<usize>,
    /// Why training stopped before its last epoch, if it did (early
    /// stopping, or a loss that was not finite, naming the epoch and step).
    pub stopped: Option<String>,
}

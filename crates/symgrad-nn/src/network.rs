//! [`NetworkModel`]: a network file loaded at run time, trained and run
//! through the interpreter's plans, as a [`Model`].
//!
//! The file is parsed and lowered once into four plans (see
//! `symgrad_core::net::batch::plan_in`): the training-mode loss and
//! gradient (dropout drawing masks, batchnorm on the batch's statistics,
//! which the plan also outputs so that the running statistics can be
//! updated), the inference-mode loss, the inference-mode prediction
//! (dropout off, batchnorm on the running statistics) and, for
//! validation, the inference-mode loss and prediction in one pass. Each
//! plan has its own [`Runner`], whose buffers are allocated for the first
//! batch size and reused after, keeping their capacity when a smaller
//! batch comes (the last one of an epoch) and regrowing only past the
//! largest seen. A call reads the caller's data slices in place and
//! allocates nothing once the buffers have grown; the gradient is copied
//! into the caller's vectors, the one copy the trait's signature implies.

use crate::model::Model;
use symgrad_core::error::{Error, ErrorKind, Result};
use symgrad_core::graph::Shape;
use symgrad_core::net::batch::{plan_in, plan_inputs, prediction, Mode, Outputs, PlanInput};
use symgrad_core::net::{parse_network, Network, Role};
use symgrad_core::plan::Runner;

/// A plan with its runner and the order of its inputs.
#[derive(Clone, Debug)]
struct Compiled {
    runner: Runner,
    layout: Vec<PlanInput>,
}

impl Compiled {
    fn new(net: &Network, outputs: Outputs, mode: Mode) -> Result<Compiled> {
        Ok(Compiled {
            runner: Runner::new(plan_in(net, outputs, mode)?, 1),
            layout: plan_inputs(net, outputs, mode),
        })
    }
}

/// A dropout mask: its name (which seeds its stream), entries per sample
/// and probability of a 0.
#[derive(Clone, Debug)]
struct MaskSpec {
    name: String,
    size: usize,
    p: f64,
}

/// A network file loaded at run time, with its parameters, batch norm's
/// running statistics and compiled plans (see the module documentation).
#[derive(Clone, Debug)]
pub struct NetworkModel {
    source: String,
    network: Network,
    param_names: Vec<String>,
    param_shapes: Vec<Vec<usize>>,
    params: Vec<Vec<f64>>,
    /// For each batchnorm in order, its running mean then running variance.
    state: Vec<Vec<f64>>,
    state_names: Vec<String>,
    /// Per-sample entries of each input, then each target.
    data_sizes: Vec<usize>,
    n_inputs: usize,
    /// The prediction's equation and per-sample shape, if there is one.
    prediction: Option<(String, Shape)>,
    masks: Vec<MaskSpec>,
    /// The masks of the current training batch, `m` samples each.
    mask_data: Vec<Vec<f64>>,
    dropout_seed: u64,
    /// Training calls since the seed was set: call `k` draws with seed
    /// `dropout_seed + k`, as `network!`'s structs do.
    draws: u64,
    training: Compiled,
    validation: Compiled,
    predicting: Option<Compiled>,
    /// The loss and the prediction in one inference pass, where there is
    /// a prediction.
    validating: Option<Compiled>,
}

/// The slices a plan's inputs are read from.
struct Sources<'a> {
    data: &'a [&'a [f64]],
    n_inputs: usize,
    masks: &'a [Vec<f64>],
    params: &'a [Vec<f64>],
    state: &'a [Vec<f64>],
    weight: &'a [f64],
}

/// Runs an inference plan (no dropout masks) on `m` samples of `data`.
fn run_inference(
    plan: &mut Compiled,
    m: usize,
    data: &[&[f64]],
    n_inputs: usize,
    params: &[Vec<f64>],
    state: &[Vec<f64>],
) {
    let weight = [1.0 / m as f64];
    let sources = Sources {
        data,
        n_inputs,
        masks: &[],
        params,
        state,
        weight: &weight,
    };
    run(plan, m, &sources);
}

/// Runs `plan` on `sources`, with the input slices on the stack for all
/// but huge networks.
///
/// # Panics
/// When a data slice does not hold the batch's samples, which the trait
/// leaves to the caller to check.
fn run(plan: &mut Compiled, m: usize, sources: &Sources<'_>) {
    const ON_STACK: usize = 64;
    let pick = |input: &PlanInput| -> &[f64] {
        match *input {
            PlanInput::Input(k) => sources.data[k],
            PlanInput::Target(k) => sources.data[sources.n_inputs + k],
            PlanInput::Mask(k) => &sources.masks[k],
            PlanInput::Param(k) => &sources.params[k],
            PlanInput::RunningMean(k) => &sources.state[2 * k],
            PlanInput::RunningVar(k) => &sources.state[2 * k + 1],
            PlanInput::Weight => sources.weight,
        }
    };
    plan.runner.resize(m);
    let n = plan.layout.len();
    let result = if n <= ON_STACK {
        let mut slots: [&[f64]; ON_STACK] = [&[]; ON_STACK];
        for (slot, input) in slots.iter_mut().zip(&plan.layout) {
            *slot = pick(input);
        }
        plan.runner.execute(&slots[..n])
    } else {
        let slots: Vec<&[f64]> = plan.layout.iter().map(pick).collect();
        plan.runner.execute(&slots)
    };
    if let Err(e) = result {
        panic!(
            "NetworkModel: the data does not fit the network ({}); check the slices \
             against Model::data_sizes",
            e.message()
        );
    }
}

impl NetworkModel {
    /// Parses a network file's text, draws its parameters from their
    /// initializers with `seed` (exactly as `symgrad net init --seed`
    /// draws them), starts every running mean at 0 and running variance at
    /// 1 (PyTorch's start), seeds dropout with `seed`, and compiles the
    /// plans.
    ///
    /// # Errors
    /// The parser's spanned error for a bad file (render it against
    /// `source` with [`Error::render`]), an operation that cannot be
    /// batched or lowered, or a network with neither an input nor a target
    /// (the batch size is read from the data).
    pub fn from_source(source: &str, seed: u64) -> Result<NetworkModel> {
        let network = parse_network(source)?;
        let data: Vec<usize> = network
            .with_role(Role::Input)
            .chain(network.with_role(Role::Target))
            .map(|d| d.shape.numel())
            .collect();
        if data.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidValue,
                "the network needs an input or a target: the batch size is read from the data",
            ));
        }
        let n_inputs = network.with_role(Role::Input).count();
        let params: Vec<Vec<f64>> = network
            .init_params(seed)
            .into_iter()
            .map(|t| t.data)
            .collect();
        let decls: Vec<_> = network.with_role(Role::Param).collect();
        let param_names = decls.iter().map(|d| d.name.clone()).collect();
        let param_shapes = decls.iter().map(|d| d.shape.dims().to_vec()).collect();
        let mut state = Vec::new();
        let mut state_names = Vec::new();
        for bn in &network.batchnorms {
            let n = bn.stat_len(&network.graph);
            state.push(vec![0.0; n]);
            state.push(vec![1.0; n]);
            state_names.extend(bn.running_names());
        }
        let masks: Vec<MaskSpec> = network
            .with_role(Role::Mask)
            .map(|d| MaskSpec {
                name: d.name.clone(),
                size: d.shape.numel(),
                p: d.dropout.unwrap_or(0.0),
            })
            .collect();
        // Without an input there is nothing to predict from.
        let prediction = match n_inputs {
            0 => None,
            _ => {
                prediction(&network).map(|e| (e.name.clone(), network.graph.shape(e.node).clone()))
            }
        };
        let inference = |outputs| match prediction {
            Some(_) => Compiled::new(&network, outputs, Mode::Inference).map(Some),
            None => Ok(None),
        };
        let predicting = inference(Outputs::Prediction)?;
        let validating = inference(Outputs::LossAndPrediction)?;
        Ok(NetworkModel {
            training: Compiled::new(&network, Outputs::LossAndGradient, Mode::Training)?,
            validation: Compiled::new(&network, Outputs::Loss, Mode::Inference)?,
            predicting,
            validating,
            source: source.to_string(),
            param_names,
            param_shapes,
            params,
            state,
            state_names,
            data_sizes: data,
            n_inputs,
            prediction,
            mask_data: vec![Vec::new(); masks.len()],
            masks,
            dropout_seed: seed,
            draws: 0,
            network,
        })
    }

    /// The parsed network.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The name of the equation that is the prediction (`a2`, ...), if the
    /// network has one (see `symgrad_core::net::batch::prediction`).
    pub fn prediction_name(&self) -> Option<&str> {
        self.prediction.as_ref().map(|(name, _)| name.as_str())
    }

    /// The per-sample shape of the prediction, if the network has one.
    pub fn output_shape(&self) -> Option<&Shape> {
        self.prediction.as_ref().map(|(_, shape)| shape)
    }

    /// The number of classes when the network's one target is a vector of
    /// two or more entries: a one-hot target, which a data file may give
    /// as one integer label column (as `symgrad_core::net::batch::read_csv`
    /// reads it) and whose predicted class is the largest entry of the
    /// prediction. `None` otherwise.
    pub fn classes(&self) -> Option<usize> {
        let mut targets = self.network.with_role(Role::Target);
        match (targets.next(), targets.next()) {
            (Some(t), None) if t.shape.rank() == 1 && t.shape.numel() >= 2 => Some(t.shape.numel()),
            _ => None,
        }
    }

    /// The number of samples in `data`, from its first slice.
    fn batch_of(&self, data: &[&[f64]]) -> usize {
        data.first().map_or(0, |d| d.len() / self.data_sizes[0])
    }

    /// Draws the masks of the next training call for `m` samples.
    fn draw_masks(&mut self, m: usize) {
        if self.masks.is_empty() {
            return;
        }
        let seed = self.dropout_seed.wrapping_add(self.draws);
        self.draws += 1;
        for (spec, data) in self.masks.iter().zip(&mut self.mask_data) {
            data.resize(m * spec.size, 0.0);
            for (sample, chunk) in data.chunks_exact_mut(spec.size).enumerate() {
                symgrad_runtime::random::dropout_mask(seed, &spec.name, sample, spec.p, chunk);
            }
        }
    }
}

impl Model for NetworkModel {
    fn param_names(&self) -> Vec<String> {
        self.param_names.clone()
    }

    fn param_shapes(&self) -> Vec<Vec<usize>> {
        self.param_shapes.clone()
    }

    fn params(&self) -> Vec<&[f64]> {
        self.params.iter().map(Vec::as_slice).collect()
    }

    fn params_mut(&mut self) -> Vec<&mut [f64]> {
        self.params.iter_mut().map(Vec::as_mut_slice).collect()
    }

    fn data_sizes(&self) -> Vec<usize> {
        self.data_sizes.clone()
    }

    fn n_inputs(&self) -> usize {
        self.n_inputs
    }

    /// The per-sample entries of the prediction; 0 for a network without
    /// one (then [`Model::predict`] predicts nothing).
    fn output_size(&self) -> usize {
        self.output_shape().map_or(0, Shape::numel)
    }

    /// Training mode (see [`Model::loss_and_gradient`]); the running
    /// statistics are updated from the batch's (see
    /// `symgrad_runtime::update_running_stats`, which also says what a
    /// batch of one sample does). An empty batch has the loss NaN, a zero
    /// gradient, and changes nothing.
    ///
    /// # Panics
    /// When `grad` does not hold one vector per parameter or a data slice
    /// does not fit [`Model::data_sizes`].
    fn loss_and_gradient(&mut self, data: &[&[f64]], grad: &mut [Vec<f64>]) -> f64 {
        assert_eq!(
            grad.len(),
            self.params.len(),
            "NetworkModel::loss_and_gradient: one gradient vector per parameter"
        );
        let m = self.batch_of(data);
        if m == 0 {
            for (g, p) in grad.iter_mut().zip(&self.params) {
                g.clear();
                g.resize(p.len(), 0.0);
            }
            return f64::NAN;
        }
        self.draw_masks(m);
        let weight = [1.0 / m as f64];
        let sources = Sources {
            data,
            n_inputs: self.n_inputs,
            masks: &self.mask_data,
            params: &self.params,
            state: &self.state,
            weight: &weight,
        };
        run(&mut self.training, m, &sources);
        let runner = &self.training.runner;
        for (k, g) in grad.iter_mut().enumerate() {
            g.clear();
            g.extend_from_slice(runner.output(1 + k));
        }
        let first_stat = 1 + self.params.len();
        for (k, pair) in self.state.chunks_exact_mut(2).enumerate() {
            let [mean, var] = pair else { continue };
            // Each statistic averages m samples times the channel's positions.
            let positions = self.network.batchnorms[k].positions(&self.network.graph);
            symgrad_runtime::update_running_stats(
                mean,
                var,
                runner.output(first_stat + 2 * k),
                runner.output(first_stat + 2 * k + 1),
                m * positions,
            );
        }
        runner.output(0)[0]
    }

    /// Inference mode (see [`Model::loss`]); NaN for an empty batch.
    fn loss(&mut self, data: &[&[f64]]) -> f64 {
        let m = self.batch_of(data);
        if m == 0 {
            return f64::NAN;
        }
        let (params, state) = (&self.params, &self.state);
        run_inference(&mut self.validation, m, data, self.n_inputs, params, state);
        self.validation.runner.output(0)[0]
    }

    /// Inference mode (see [`Model::predict`]); nothing for an empty batch
    /// or a network without a prediction.
    fn predict(&mut self, inputs: &[&[f64]], out: &mut Vec<f64>) {
        out.clear();
        let m = self.batch_of(inputs);
        let Some(plan) = self.predicting.as_mut() else {
            return;
        };
        if m == 0 {
            return;
        }
        run_inference(plan, m, inputs, self.n_inputs, &self.params, &self.state);
        out.extend_from_slice(plan.runner.output(0));
    }

    /// Inference mode, one pass for both results (see
    /// [`Model::loss_and_predict`]); the loss NaN and no prediction for an
    /// empty batch, and for a network without a prediction `loss` alone.
    fn loss_and_predict(&mut self, data: &[&[f64]], out: &mut Vec<f64>) -> f64 {
        out.clear();
        let m = self.batch_of(data);
        let Some(plan) = self.validating.as_mut() else {
            return self.loss(data);
        };
        if m == 0 {
            return f64::NAN;
        }
        run_inference(plan, m, data, self.n_inputs, &self.params, &self.state);
        out.extend_from_slice(plan.runner.output(1));
        plan.runner.output(0)[0]
    }

    fn state_names(&self) -> Vec<String> {
        self.state_names.clone()
    }

    fn state(&self) -> Vec<&[f64]> {
        self.state.iter().map(Vec::as_slice).collect()
    }

    fn state_mut(&mut self) -> Vec<&mut [f64]> {
        self.state.iter_mut().map(Vec::as_mut_slice).collect()
    }

    /// Seeds dropout: the next training call draws the masks that
    /// `symgrad net grad --seed SEED` draws, the one after with `SEED + 1`,
    /// and so on (as `network!`'s structs do).
    fn set_seed(&mut self, seed: u64) {
        self.dropout_seed = seed;
        self.draws = 0;
    }

    fn source(&self) -> Option<&str> {
        Some(&self.source)
    }
}

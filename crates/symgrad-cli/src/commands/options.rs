//! The command-line arguments of `train`, `predict`, `cv` and `search`
//! (DESIGN.md, "Contract: training"), and what they share: the training
//! options, read once into a [`Setup`] (the network, the data, the split,
//! the preprocessing and a [`Trainer`]) by [`TrainingOptions::setup`].

use crate::commands::log::number;
use crate::Failure;
use clap::{Args, ValueEnum};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use symgrad_nn::data::parse_row_range;
use symgrad_nn::search::Kind;
use symgrad_nn::ModelFile;
use symgrad_nn::{
    optimizer_from_name, Dataset, Decay, Hyper, Model, NetworkModel, Trainer, OPTIMIZERS,
};

/// How a command prints its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SummaryFormat {
    Text,
    Json,
}

/// How `predict` prints its predictions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PredictFormat {
    /// One prediction per line.
    Text,
    /// A header, then one row per prediction.
    Csv,
    /// `{"rows", "predictions", "loss"?, "accuracy"?}`.
    Json,
}

/// The options every training command takes (train, cv, search).
#[derive(Args, Debug, Clone)]
pub struct TrainingOptions {
    /// The network file (.sg).
    #[arg(value_name = "NET.sg")]
    pub net: PathBuf,
    /// The data: a CSV file with a header whose columns fill the inputs, then
    /// the targets (or one integer label for a one-hot target).
    #[arg(long, value_name = "FILE.csv")]
    pub data: PathBuf,
    /// Use only the rows A..B of the data (half-open, from 0 after the header; A.. and ..B too).
    #[arg(long, value_name = "A..B")]
    pub rows: Option<String>,
    /// The update rule (the README's "Training" section gives each formula).
    #[arg(long, default_value = "sgd", value_parser = clap::builder::PossibleValuesParser::new(OPTIMIZERS))]
    pub optimizer: String,
    /// The learning rate α (> 0).
    #[arg(
        long,
        value_name = "A",
        default_value_t = 0.01,
        allow_negative_numbers = true
    )]
    pub lr: f64,
    /// β of momentum and nesterov [default: 0.9].
    #[arg(long, value_name = "B", allow_negative_numbers = true)]
    pub momentum: Option<f64>,
    /// ρ of rmsprop and adadelta [default: 0.9].
    #[arg(long, value_name = "R", allow_negative_numbers = true)]
    pub rho: Option<f64>,
    /// β1 of adam and nadam [default: 0.9].
    #[arg(long, value_name = "B1", allow_negative_numbers = true)]
    pub beta1: Option<f64>,
    /// β2 of adam and nadam [default: 0.999].
    #[arg(long, value_name = "B2", allow_negative_numbers = true)]
    pub beta2: Option<f64>,
    /// ε of adagrad, rmsprop, adadelta, adam and nadam [default: 1e-8; adadelta 1e-6].
    #[arg(long, value_name = "E", allow_negative_numbers = true)]
    pub eps: Option<f64>,
    /// The number of passes over the training rows.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub epochs: usize,
    /// Rows per step (the last batch of an epoch may be smaller).
    #[arg(long, value_name = "M", default_value_t = 32)]
    pub batch_size: usize,
    /// Seeds the initial parameters, the validation split, the folds, the
    /// batch order and dropout.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Take the rows in file order every epoch.
    #[arg(long)]
    pub no_shuffle: bool,
    /// L2 penalty λ: g += λθ on every parameter of rank >= 2.
    #[arg(
        long,
        value_name = "L",
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    pub l2: f64,
    /// L1 penalty λ: g += λ·sign(θ) on every parameter of rank >= 2.
    #[arg(
        long,
        value_name = "L",
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    pub l1: f64,
    /// Clamp each gradient entry to [-C, C].
    #[arg(long, value_name = "C", allow_negative_numbers = true)]
    pub clip_value: Option<f64>,
    /// Scale the gradient by min(1, C/‖g‖₂), the norm over all parameters.
    #[arg(long, value_name = "C", allow_negative_numbers = true)]
    pub clip_norm: Option<f64>,
    /// Learning-rate schedule over epochs e from 0: exp:K (α·e^(-K·e)) or inverse:K (α/(1+K·e)).
    #[arg(long, value_name = "exp:K|inverse:K")]
    pub decay: Option<String>,
    /// Hold out this fraction of the rows (drawn with --seed) for validation.
    #[arg(
        long,
        value_name = "FRACTION",
        conflicts_with = "validation_rows",
        allow_negative_numbers = true
    )]
    pub validation: Option<f64>,
    /// Hold out the rows A..B for validation.
    #[arg(long, value_name = "A..B")]
    pub validation_rows: Option<String>,
    /// Stop after PATIENCE epochs without a lower validation loss and keep
    /// the best epoch's parameters.
    #[arg(long, value_name = "PATIENCE")]
    pub early_stopping: Option<usize>,
    /// Transform the input columns, fitted on the training rows only:
    /// center, standardize, minmax, whiten or pca:K (K principal components).
    #[arg(long, value_name = "center|standardize|minmax|whiten|pca:K")]
    pub preprocess: Option<String>,
    /// Start from these parameters instead of the initializers: a parameter
    /// file (as `symgrad net init -o` writes it) or a model file (its
    /// parameters and batch-norm statistics; give its --preprocess again).
    #[arg(long, value_name = "FILE.json")]
    pub params: Option<PathBuf>,
}

/// How `train`, `cv` and `search` report: the progress bar and the summary.
#[derive(Args, Debug)]
pub struct Reporting {
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// How to print the summary.
    #[arg(long, value_enum, default_value = "text")]
    pub format: SummaryFormat,
}

/// `symgrad train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub options: TrainingOptions,
    /// Write the trained model here (written whole, or not at all).
    #[arg(long, value_name = "MODEL.json")]
    pub save: Option<PathBuf>,
    /// Draw the losses, the validation accuracy and the gradient norms per epoch (.svg or .png).
    #[arg(long, value_name = "FILE.svg|FILE.png")]
    pub plot: Option<PathBuf>,
    /// Write one CSV row per epoch: rate, losses, accuracies, seconds, each parameter's gradient norm.
    #[arg(long, value_name = "FILE.csv")]
    pub log: Option<PathBuf>,
    #[command(flatten)]
    pub report: Reporting,
}

/// `symgrad predict`.
#[derive(Args, Debug)]
pub struct PredictArgs {
    /// The model file (`symgrad train --save`).
    #[arg(value_name = "MODEL.json")]
    pub model: PathBuf,
    /// The rows to predict: the network's input columns, with or without the targets.
    #[arg(long, value_name = "FILE.csv")]
    pub data: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: PredictFormat,
}

/// `symgrad cv`.
#[derive(Args, Debug)]
pub struct CvArgs {
    #[command(flatten)]
    pub options: TrainingOptions,
    /// The number of folds (at least 2, at most the number of rows).
    #[arg(long, value_name = "K")]
    pub folds: usize,
    #[command(flatten)]
    pub report: Reporting,
}

/// `symgrad search`.
#[derive(Args, Debug)]
pub struct SearchArgs {
    #[command(flatten)]
    pub options: TrainingOptions,
    /// The number of random trials (not with --grid, which runs every combination).
    #[arg(
        long,
        value_name = "N",
        required_unless_present = "grid",
        conflicts_with = "grid"
    )]
    pub trials: Option<usize>,
    /// The options to search: name=range, comma-separated, with ranges
    /// log:A:B, uniform:A:B (or A:B) and a|b|c; with --grid a range needs a
    /// count, log:A:B:N.
    #[arg(long, value_name = "SPEC")]
    pub space: String,
    /// Run every combination of the space's values instead of random trials.
    #[arg(long)]
    pub grid: bool,
    /// Successive halving: every trial trains a few epochs, the best third
    /// goes on for three times as many, and so on up to --epochs.
    #[arg(long)]
    pub halving: bool,
    /// Judge each trial by K-fold cross-validation instead of the validation rows.
    #[arg(long, value_name = "K")]
    pub folds: Option<usize>,
    /// Keep the best trial's model here (trained on the same rows as in the search).
    #[arg(long, value_name = "MODEL.json")]
    pub save: Option<PathBuf>,
    #[command(flatten)]
    pub report: Reporting,
}

pub fn read(path: &Path, what: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| {
        Failure::input(format!(
            "error: cannot read the {what} {}: {e}",
            path.display()
        ))
    })
}

/// An engine error about the text of the file at `path`: with the line and
/// a caret when it has a position.
pub fn rendered(path: &Path, text: &str, e: &symgrad_core::Error) -> Failure {
    Failure::input(match e.span() {
        Some(_) => {
            e.render(text)
                .replacen(" --> line ", &format!(" --> {}: line ", path.display()), 1)
        }
        None => format!("error: {}: {}", path.display(), e.message()),
    })
}

/// A training-library error as a failure: bad input (the library only
/// reads files) is status 2, a run that diverged status 1.
pub fn failed(e: symgrad_nn::Error) -> Failure {
    match e.kind() {
        // Not bad input: the options were valid, and the run went wrong.
        symgrad_nn::ErrorKind::Diverged => Failure {
            message: format!("error: {e}"),
            status: 1,
        },
        _ => Failure::input(format!("error: {e}")),
    }
}

/// Everything a training command reads from its options.
pub struct Setup {
    /// The network file's text.
    pub source: String,
    /// The rows to train on (after --rows), before any split.
    pub data: Dataset,
    /// Where the validation rows come from, if anywhere.
    pub validation: ValidationRows,
}

/// How the validation rows are chosen.
#[derive(Clone, Debug, PartialEq)]
pub enum ValidationRows {
    None,
    Fraction(f64),
    Rows(std::ops::Range<usize>),
}

impl Setup {
    /// The training rows and the validation rows, as the options choose them.
    pub fn split(&self, seed: u64) -> Result<(Dataset, Option<Dataset>), Failure> {
        let fail = |e: symgrad_nn::Error| Failure::input(format!("error: {e}"));
        match &self.validation {
            ValidationRows::None => Ok((self.data.clone(), None)),
            ValidationRows::Fraction(f) => {
                let (train, val) = self.data.split_validation(*f, seed).map_err(fail)?;
                Ok((train, Some(val)))
            }
            ValidationRows::Rows(range) => {
                let held: Vec<usize> = range.clone().collect();
                let rest: Vec<usize> = (0..self.data.n_rows())
                    .filter(|i| !range.contains(i))
                    .collect();
                Ok((
                    self.data.select(&rest).map_err(fail)?,
                    Some(self.data.select(&held).map_err(fail)?),
                ))
            }
        }
    }
}

/// Rows ready to train on: preprocessing fitted on `train` and applied to
/// both.
pub struct Prepared {
    pub train: Dataset,
    pub validation: Option<Dataset>,
    pub preprocess: Option<crate::commands::prep::Fitted>,
}

impl Prepared {
    pub fn new(
        options: &TrainingOptions,
        model: &dyn Model,
        train: Dataset,
        validation: Option<Dataset>,
    ) -> Result<Prepared, Failure> {
        use crate::commands::prep;
        let fitted = prep::fit(options.preprocess.as_deref(), model, &train)?;
        Ok(match &fitted {
            None => Prepared {
                train,
                validation,
                preprocess: None,
            },
            Some(f) => Prepared {
                train: prep::apply(f, &train)?,
                validation: validation.map(|v| prep::apply(f, &v)).transpose()?,
                preprocess: fitted,
            },
        })
    }
}

impl TrainingOptions {
    /// Reads the network and the data and checks every option that can be
    /// checked before training (so that bad input fails at once, before a
    /// long run).
    pub fn setup(&self) -> Result<Setup, Failure> {
        self.setup_for(false)
    }

    /// [`TrainingOptions::setup`] for a command whose validation rows come
    /// from elsewhere (the folds of `cv` and `search --folds`), so that
    /// `--early-stopping` needs no `--validation`.
    pub fn setup_for(&self, folds: bool) -> Result<Setup, Failure> {
        let source = read(&self.net, "network file")?;
        // Parse and build once now, to report a bad file against its text.
        let model = self.model(&source)?;
        self.trainer()?;
        if let Some(spec) = &self.preprocess {
            crate::commands::prep::check(spec)?;
        }
        let mut data = Dataset::from_csv(&self.data).map_err(failed)?;
        if let Some(spec) = &self.rows {
            let range =
                parse_row_range(spec).map_err(|e| Failure::input(format!("error: --rows: {e}")))?;
            data = data
                .rows(range)
                .map_err(|e| Failure::input(format!("error: --rows: {e}")))?;
        }
        // The header against the network, before any training (through
        // the preprocessing, which may change the number of inputs).
        match &self.preprocess {
            Some(spec) => crate::commands::prep::check_fit(spec, &model, &data)?,
            None => {
                data.bind(&model)
                    .map_err(|e| Failure::input(format!("error: {}: {e}", self.data.display())))?;
            }
        }
        let validation = match (&self.validation, &self.validation_rows) {
            (Some(f), _) => ValidationRows::Fraction(*f),
            (None, Some(spec)) => {
                let (a, b) = parse_row_range(spec)
                    .map_err(|e| Failure::input(format!("error: --validation-rows: {e}")))?;
                let n = data.n_rows();
                let start = match a {
                    std::ops::Bound::Included(a) => a,
                    _ => 0,
                };
                let end = match b {
                    std::ops::Bound::Excluded(b) => b,
                    _ => n,
                };
                if start >= end || end > n {
                    return Err(Failure::input(format!(
                        "error: --validation-rows {spec}: expected A..B with 0 <= A < B <= {n} (the data has {n} rows)"
                    )));
                }
                if end - start == n {
                    return Err(Failure::input(format!(
                        "error: --validation-rows {spec} holds out every row, leaving none to train on"
                    )));
                }
                ValidationRows::Rows(start..end)
            }
            (None, None) => ValidationRows::None,
        };
        if let ValidationRows::Fraction(f) = validation {
            // The same check the split makes, at once.
            data.split_validation(f, self.seed)
                .map_err(|e| Failure::input(format!("error: --validation: {e}")))?;
        }
        if self.early_stopping.is_some() && validation == ValidationRows::None && !folds {
            return Err(Failure::input(
                "error: --early-stopping needs validation rows (--validation FRACTION or --validation-rows A..B)",
            ));
        }
        Ok(Setup {
            source,
            data,
            validation,
        })
    }

    /// The network with its initial parameters: drawn with --seed, or read
    /// from --params.
    pub fn model(&self, source: &str) -> Result<NetworkModel, Failure> {
        let mut model = NetworkModel::from_source(source, self.seed)
            .map_err(|e| rendered(&self.net, source, &e))?;
        if let Some(path) = &self.params {
            let text = read(path, "parameter file")?;
            // A model file is taken too: its parameters and batch-norm
            // state, to train on from where it stopped.
            let is_model = serde_json::from_str::<Value>(&text)
                .ok()
                .is_some_and(|v| v["format"] == symgrad_nn::model_file::FORMAT);
            if is_model {
                let file = ModelFile::parse(&text).map_err(|e| {
                    Failure::input(format!("error: --params {}: {e}", path.display()))
                })?;
                file.apply(&mut model).map_err(|e| {
                    Failure::input(format!("error: --params {}: {e}", path.display()))
                })?;
            } else {
                let values = symgrad_core::net::params::from_json(model.network(), &text)
                    .map_err(|e| rendered(path, &text, &e))?;
                for (slot, t) in model.params_mut().into_iter().zip(values) {
                    slot.copy_from_slice(&t.data);
                }
            }
        }
        Ok(model)
    }

    /// A trainer with every option but the validation rows.
    pub fn trainer(&self) -> Result<Trainer, Failure> {
        let hyper = Hyper {
            lr: self.lr,
            momentum: self.momentum,
            rho: self.rho,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
        };
        let optimizer = optimizer_from_name(&self.optimizer, &hyper).map_err(failed)?;
        if self.epochs == 0 {
            return Err(Failure::input("error: --epochs must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(Failure::input("error: --batch-size must be at least 1"));
        }
        for (flag, v) in [("--l2", self.l2), ("--l1", self.l1)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Failure::input(format!(
                    "error: {flag} must be a number >= 0, not {v}"
                )));
            }
        }
        let mut trainer = Trainer::new(optimizer)
            .epochs(self.epochs)
            .batch_size(self.batch_size)
            .seed(self.seed)
            .shuffle(!self.no_shuffle)
            .l2(self.l2)
            .l1(self.l1);
        for (flag, c) in [
            ("--clip-value", self.clip_value),
            ("--clip-norm", self.clip_norm),
        ] {
            if let Some(c) = c {
                if !(c.is_finite() && c > 0.0) {
                    return Err(Failure::input(format!(
                        "error: {flag} must be a positive number, not {c}"
                    )));
                }
            }
        }
        if let Some(c) = self.clip_value {
            trainer = trainer.clip_value(c);
        }
        if let Some(c) = self.clip_norm {
            trainer = trainer.clip_norm(c);
        }
        if let Some(spec) = &self.decay {
            trainer = trainer.decay(
                Decay::parse(spec).map_err(|e| Failure::input(format!("error: --decay: {e}")))?,
            );
        }
        if let Some(p) = self.early_stopping {
            if p == 0 {
                return Err(Failure::input(
                    "error: --early-stopping needs a patience of at least 1 epoch",
                ));
            }
            trainer = trainer.early_stopping(p);
        }
        Ok(trainer)
    }

    /// Warnings for settings the chosen optimizer does not use.
    pub fn warnings(&self) -> Vec<String> {
        let hyper = Hyper {
            lr: self.lr,
            momentum: self.momentum,
            rho: self.rho,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
        };
        hyper
            .unused_by(&self.optimizer)
            .into_iter()
            .map(|flag| format!("warning: {flag} is not used by {}", self.optimizer))
            .collect()
    }

    /// The options as the model file records them (`"training"`).
    pub fn to_json(&self) -> Value {
        json!({
            "optimizer": self.optimizer,
            "lr": self.lr,
            "momentum": self.momentum,
            "rho": self.rho,
            "beta1": self.beta1,
            "beta2": self.beta2,
            "eps": self.eps,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "shuffle": !self.no_shuffle,
            "l2": self.l2,
            "l1": self.l1,
            "clip_value": self.clip_value,
            "clip_norm": self.clip_norm,
            "decay": self.decay,
            "validation": self.validation,
            "validation_rows": self.validation_rows,
            "early_stopping": self.early_stopping,
            "preprocess": self.preprocess,
            "rows": self.rows,
        })
    }

    /// The options as a `symgrad train` command line (those that differ
    /// from the defaults), for `search` to print the best trial.
    pub fn command_line(&self) -> String {
        let mut parts = vec![
            "symgrad train".to_string(),
            quote(&self.net.display().to_string()),
            "--data".to_string(),
            quote(&self.data.display().to_string()),
        ];
        let mut flag = |name: &str, value: Option<String>| {
            if let Some(v) = value {
                parts.push(format!("--{name}"));
                if !v.is_empty() {
                    parts.push(quote(&v));
                }
            }
        };
        flag("rows", self.rows.clone());
        flag("optimizer", Some(self.optimizer.clone()));
        flag("lr", Some(number(self.lr)));
        flag("momentum", self.momentum.map(number));
        flag("rho", self.rho.map(number));
        flag("beta1", self.beta1.map(number));
        flag("beta2", self.beta2.map(number));
        flag("eps", self.eps.map(number));
        flag("epochs", Some(self.epochs.to_string()));
        flag("batch-size", Some(self.batch_size.to_string()));
        flag("seed", Some(self.seed.to_string()));
        flag("no-shuffle", self.no_shuffle.then(String::new));
        flag("l2", (self.l2 != 0.0).then(|| number(self.l2)));
        flag("l1", (self.l1 != 0.0).then(|| number(self.l1)));
        flag("clip-value", self.clip_value.map(number));
        flag("clip-norm", self.clip_norm.map(number));
        flag("decay", self.decay.clone());
        flag("validation", self.validation.map(number));
        flag("validation-rows", self.validation_rows.clone());
        flag("early-stopping", self.early_stopping.map(|v| v.to_string()));
        flag("preprocess", self.preprocess.clone());
        flag(
            "params",
            self.params.as_ref().map(|p| p.display().to_string()),
        );
        parts.join(" ")
    }
}

/// The options `search --space` may vary, and the kind of value each takes.
pub const SEARCHABLE: &[(&str, Kind)] = &[
    ("lr", Kind::Real),
    ("momentum", Kind::Real),
    ("rho", Kind::Real),
    ("beta1", Kind::Real),
    ("beta2", Kind::Real),
    ("eps", Kind::Real),
    ("l2", Kind::Real),
    ("l1", Kind::Real),
    ("clip-value", Kind::Real),
    ("clip-norm", Kind::Real),
    ("epochs", Kind::Integer),
    ("batch-size", Kind::Integer),
    ("early-stopping", Kind::Integer),
    ("optimizer", Kind::Word),
    ("decay", Kind::Word),
    ("preprocess", Kind::Word),
];

impl TrainingOptions {
    /// Sets the option `name` (one of [`SEARCHABLE`]) from its command-line
    /// text, as if it had been given as `--name value`.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let real = || -> Result<f64, String> {
            value
                .parse::<f64>()
                .map_err(|_| format!("--{name} takes a number, not '{value}'"))
        };
        let whole = || -> Result<usize, String> {
            value
                .parse::<usize>()
                .map_err(|_| format!("--{name} takes a whole number, not '{value}'"))
        };
        match name {
            "lr" => self.lr = real()?,
            "momentum" => self.momentum = Some(real()?),
            "rho" => self.rho = Some(real()?),
            "beta1" => self.beta1 = Some(real()?),
            "beta2" => self.beta2 = Some(real()?),
            "eps" => self.eps = Some(real()?),
            "l2" => self.l2 = real()?,
            "l1" => self.l1 = real()?,
            "clip-value" => self.clip_value = Some(real()?),
            "clip-norm" => self.clip_norm = Some(real()?),
            "epochs" => self.epochs = whole()?,
            "batch-size" => self.batch_size = whole()?,
            "early-stopping" => self.early_stopping = Some(whole()?),
            "optimizer" => {
                if !OPTIMIZERS.contains(&value) {
                    return Err(format!(
                        "'{value}' is not an optimizer (they are: {})",
                        OPTIMIZERS.join(", ")
                    ));
                }
                self.optimizer = value.to_string();
            }
            "decay" => {
                Decay::parse(value).map_err(|e| e.to_string())?;
                self.decay = Some(value.to_string());
            }
            "preprocess" => {
                crate::commands::prep::check(value).map_err(|f| f.message)?;
                self.preprocess = Some(value.to_string());
            }
            _ => {
                return Err(format!(
                    "'{name}' is not a training option that can be searched"
                ))
            }
        }
        Ok(())
    }
}

/// `text` as one shell word.
fn quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=+,@%".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

//! The `symgrad` command line: differentiate, evaluate, draw and explain formulas.
//!
//! The binary is thin: it reads input, calls `symgrad-core`, and formats the
//! results. Every failure becomes a message on standard error and a non-zero
//! exit status (2 for bad input), never a panic.

mod commands;
mod input;
mod report;

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::process::ExitCode;

/// Turns formulas into derivatives: reverse mode, forward mode and path
/// enumeration over one shared expression graph.
#[derive(Parser, Debug)]
#[command(
    name = "symgrad",
    version,
    about = "Turns formulas into derivatives: reverse mode, forward mode and path enumeration over one shared expression graph.",
    long_about = None
)]
#[command(
    after_help = "Examples:\n  symgrad diff 'x²y+y+2' --at x=3,y=4\n  symgrad diff 'sin(x*y)' --mode all --at x=1,y=2\n  symgrad explain 'x^2*y + y + 2' --at x=3,y=4\n  symgrad graph 'cos(w^2)' --grad --format svg -o cos.svg"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the partial derivatives of a formula, simplified (and their values with --at).
    Diff(DiffArgs),
    /// Evaluate a formula at a point.
    Eval(EvalArgs),
    /// Draw the computational graph (DOT, or SVG without Graphviz).
    Graph(GraphArgs),
    /// Show backpropagation step by step: forward values, local derivatives, adjoints.
    Explain(ExplainArgs),
    /// Print a Rust function computing the value and gradient (or Hessian).
    Emit(EmitArgs),
    /// Network files (.sg): gradients over a batch, the shorthand expanded, initial parameters,
    /// backpropagation equations, pictures.
    #[command(subcommand)]
    Net(NetCommand),
    /// Train a network file on CSV rows: progress, summary, model file, log, plot.
    Train(commands::options::TrainArgs),
    /// Predict with a trained model file (inference mode), one prediction per row.
    Predict(commands::options::PredictArgs),
    /// K-fold cross-validation: each fold's validation loss and accuracy, mean ± sd.
    Cv(commands::options::CvArgs),
    /// Hyperparameter search: random, grid, successive halving; prints the best as a train command.
    Search(commands::options::SearchArgs),
}

#[derive(Subcommand, Debug)]
enum NetCommand {
    /// The mean loss over CSV rows and its gradient with respect to every parameter.
    Grad(NetGradArgs),
    /// Print the network file with its layer shorthand (dense, conv, pools, batchnorm, rnn, residual blocks, ...) expanded to equations.
    Expand(NetFileArgs),
    /// Write the initial parameters (index formulas and random initializers) as JSON.
    Init(NetInitArgs),
    /// The backpropagation equations of the network, derived from its reverse pass.
    Explain(NetExplainArgs),
    /// Draw the network's tensor graph (DOT, or SVG without Graphviz).
    Graph(NetGraphArgs),
    /// Print the Rust that `symgrad::network!` generates for the file.
    Emit(NetEmitArgs),
}

#[derive(Args, Debug)]
struct NetEmitArgs {
    /// The network file (.sg).
    #[arg(value_name = "FILE.sg")]
    file: std::path::PathBuf,
    /// The struct's name.
    #[arg(long, default_value = "Net")]
    name: String,
    /// Generate f32 code instead of f64.
    #[arg(long)]
    f32: bool,
}

#[derive(Args, Debug)]
struct NetFileArgs {
    /// The network file (.sg).
    #[arg(value_name = "FILE.sg")]
    file: std::path::PathBuf,
}

#[derive(Args, Debug)]
struct NetInitArgs {
    /// The network file (.sg).
    #[arg(value_name = "FILE.sg")]
    file: std::path::PathBuf,
    /// The seed of the random initializers.
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: u64,
    /// Write to this file instead of standard output.
    #[arg(short, long, value_name = "FILE.json")]
    output: Option<std::path::PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum NetMode {
    /// One backward pass over the tensor graph.
    Reverse,
    /// Path enumeration over the network expanded into scalar neurons (small networks).
    Paths,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ExplainFormat {
    Text,
    Latex,
}

#[derive(Args, Debug)]
struct NetExplainArgs {
    /// The network file (.sg).
    #[arg(value_name = "FILE.sg")]
    file: std::path::PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: ExplainFormat,
}

#[derive(Args, Debug)]
struct NetGraphArgs {
    /// The network file (.sg).
    #[arg(value_name = "FILE.sg")]
    file: std::path::PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "dot")]
    format: GraphFormat,
    /// Write to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<std::path::PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum NetFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
struct NetGradArgs {
    /// The network file (.sg).
    #[arg(value_name = "FILE.sg")]
    file: std::path::PathBuf,
    /// The data: a CSV file with a header whose columns fill the inputs, then
    /// the targets (or one integer label for a one-hot target).
    #[arg(long, value_name = "FILE.csv")]
    data: std::path::PathBuf,
    /// The rows A..B (half-open, from 0 after the header) [default: all].
    #[arg(long, value_name = "A..B")]
    rows: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: NetFormat,
    /// Also print every gradient entry (row-major).
    #[arg(long)]
    values: bool,
    /// The seed of the random initializers (unless --params is given) and of
    /// the dropout masks.
    #[arg(long, value_name = "N", default_value_t = 0)]
    seed: u64,
    /// Take the parameters from this file (as `symgrad net init` writes it)
    /// instead of the initializers.
    #[arg(long, value_name = "FILE.json")]
    params: Option<std::path::PathBuf>,
    /// How to differentiate.
    #[arg(long, value_enum, default_value = "reverse")]
    mode: NetMode,
    /// The most paths path enumeration may visit (--mode paths).
    #[arg(long, value_name = "N", default_value_t = 1 << 20)]
    max_paths: u128,
}

/// Where the formula comes from.
#[derive(Args, Debug)]
struct Source {
    /// The formula, e.g. 'x²y + y + 2'; `-` reads it from standard input.
    #[arg(
        value_name = "EXPR",
        required_unless_present = "file",
        allow_hyphen_values = true
    )]
    expr: Option<String>,
    /// Read the formula from a file instead.
    #[arg(long, value_name = "PATH", conflicts_with = "expr")]
    file: Option<std::path::PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ModeArg {
    Reverse,
    Forward,
    Paths,
    Numeric,
    All,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum DiffFormat {
    Text,
    Latex,
    Json,
    Dot,
    /// A Rust function computing the value and gradient (as `symgrad emit`).
    Rust,
}

#[derive(Args, Debug)]
struct DiffArgs {
    #[command(flatten)]
    source: Source,
    /// Variables to differentiate with respect to (default: all, in order of appearance).
    #[arg(long, value_delimiter = ',', value_name = "x,y")]
    wrt: Vec<String>,
    /// How to compute the derivatives [default: reverse; forward with --order,
    /// which for one variable keeps the k-th derivative far smaller].
    #[arg(long, value_enum)]
    mode: Option<ModeArg>,
    /// A point at which to evaluate, e.g. x=3,y=4 (values may be formulas: x=pi/4).
    #[arg(long, value_name = "x=3,y=4")]
    at: Option<String>,
    /// Also print the Hessian (second derivatives).
    #[arg(long, conflicts_with = "order")]
    hessian: bool,
    /// The k-th derivative in one variable (name it with --wrt when there are several).
    #[arg(long, value_name = "k", value_parser = clap::value_parser!(u16).range(1..))]
    order: Option<u16>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: DiffFormat,
    /// The most paths path enumeration may visit.
    #[arg(long, value_name = "N", default_value_t = 1 << 20)]
    max_paths: u128,
}

#[derive(Args, Debug)]
struct EvalArgs {
    #[command(flatten)]
    source: Source,
    /// The point, e.g. x=3,y=4.
    #[arg(long, value_name = "x=3,y=4")]
    at: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum GraphFormat {
    Dot,
    Svg,
}

#[derive(Args, Debug)]
struct GraphArgs {
    #[command(flatten)]
    source: Source,
    /// Draw the gradient graph too, with local derivatives on the edges (and
    /// adjoints on the nodes when --at is given).
    #[arg(long)]
    grad: bool,
    /// A point: adds each node's value (and adjoint with --grad).
    #[arg(long, value_name = "x=3,y=4")]
    at: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "dot")]
    format: GraphFormat,
    /// Write to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<std::path::PathBuf>,
}

#[derive(Args, Debug)]
struct ExplainArgs {
    #[command(flatten)]
    source: Source,
    /// The point, e.g. x=3,y=4.
    #[arg(long, value_name = "x=3,y=4")]
    at: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Lang {
    Rust,
}

#[derive(Args, Debug)]
struct EmitArgs {
    #[command(flatten)]
    source: Source,
    /// The language to print.
    #[arg(long, value_enum, default_value = "rust")]
    lang: Lang,
    /// The function's name.
    #[arg(long, default_value = "f")]
    name: String,
    /// Generate f32 code instead of f64.
    #[arg(long)]
    f32: bool,
    /// Also return the Hessian: `-> (value, gradient, hessian)`.
    #[arg(long)]
    hessian: bool,
}

/// A failure to report: a message (already rendered, with caret when it is
/// about input text) and the exit status.
pub struct Failure {
    pub message: String,
    pub status: u8,
}

impl Failure {
    /// Bad input: status 2.
    pub fn input(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            status: 2,
        }
    }

    /// Something outside the input went wrong (an unwritable file): status 1.
    pub fn io(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            status: 1,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Diff(args) => commands::diff::run(args),
        Command::Eval(args) => commands::eval::run(args),
        Command::Graph(args) => commands::graph::run(args),
        Command::Explain(args) => commands::explain::run(args),
        Command::Emit(args) => commands::emit::run(args),
        Command::Net(NetCommand::Grad(args)) => commands::net::grad(args),
        Command::Net(NetCommand::Expand(args)) => commands::net::expand(args),
        Command::Net(NetCommand::Init(args)) => commands::net::init(args),
        Command::Net(NetCommand::Explain(args)) => commands::netview::explain(args),
        Command::Net(NetCommand::Graph(args)) => commands::netview::graph(args),
        Command::Net(NetCommand::Emit(args)) => commands::netview::emit(args),
        Command::Train(args) => commands::train::run(args),
        Command::Predict(args) => commands::predict::run(args),
        Command::Cv(args) => commands::cv::run(args),
        Command::Search(args) => commands::search::run(args),
    };
    match result {
        Ok(text) => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            // A closed pipe (`symgrad ... | head`) is not an error worth a message.
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
            ExitCode::SUCCESS
        }
        Err(f) => {
            eprintln!("{}", f.message);
            ExitCode::from(f.status)
        }
    }
}

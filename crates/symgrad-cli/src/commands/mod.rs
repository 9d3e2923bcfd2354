//! One module per subcommand.

pub mod cv;
pub mod diff;
pub mod emit;
pub mod eval;
pub mod explain;
pub mod graph;
pub mod log;
pub mod net;
pub mod netview;
pub mod options;
pub mod plot;
pub mod predict;
pub mod prep;
pub mod progress;
pub mod search;
pub mod train;

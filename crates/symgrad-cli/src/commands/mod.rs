//! One module per subcommand.

pub mod diff;
pub mod emit;
pub mod eval;
pub mod explain;
pub mod graph;
pub mod net;
pub mod netview;

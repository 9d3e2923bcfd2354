//! One module per subcommand.

pub mod diff;
pub mod eval;
pub mod explain;
pub mod graph;

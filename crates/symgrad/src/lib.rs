pub use symgrad_core::*;

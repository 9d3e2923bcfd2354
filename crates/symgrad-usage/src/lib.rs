//! A test-only crate: its tests in `tests/` use `grad!` and `#[gradient]`
//! through the facade, exactly as a user crate would.

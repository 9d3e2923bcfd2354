//! Compile-fail cases: every error message, checked against its `.stderr`.
//! Regenerate with `TRYBUILD=overwrite`, then read every file.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}

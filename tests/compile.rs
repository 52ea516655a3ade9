//! The compile-time promise, as trybuild suites:
//! - `tests/ui/<topic>/*.rs` must fail to build, with the error in the
//!   `.stderr` snapshot beside each case (one case per error kind);
//! - `tests/pass/*.rs` must build and run.
//!
//! Refresh snapshots with `TRYBUILD=overwrite cargo test --test compile` and
//! read the diff: a snapshot is exactly what the user sees.

#[test]
fn compile_fail() {
    trybuild::TestCases::new().compile_fail("tests/ui/*/*.rs");
}

#[test]
fn compile_pass() {
    trybuild::TestCases::new().pass("tests/pass/*.rs");
}

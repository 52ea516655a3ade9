//! The workspace's root package: it exists to hold the examples (`examples/`)
//! and the integration tests (`tests/`), built against `cnn-runtime` exactly as
//! a user's crate would be. It exports nothing.
#![no_std]

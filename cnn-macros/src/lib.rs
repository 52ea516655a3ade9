//! The `cnn_model!` procedural macro.
//!
//! Users depend on `cnn-runtime`, which re-exports this macro and documents the
//! description language. The macro is one pipeline:
//!
//! 1. a front end ([`front`]) turns what the user wrote into a [`spec::Spec`],
//!    keeping the position of every token;
//! 2. [`model::validate`] infers every shape and runs every check, collecting
//!    all errors; it is pure integer arithmetic;
//! 3. [`codegen`] turns the validated model into Rust. It cannot fail.

// User input must never panic the macro: no unwrap, expect, panic or
// unchecked indexing outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)
)]

mod codegen;
mod diag;
mod embed;
mod expand;
mod front;
mod model;
mod spec;

use proc_macro::TokenStream;

/// Generates a statically shaped CNN inference struct. See `cnn_runtime` for the
/// language and the generated API.
#[proc_macro]
pub fn cnn_model(input: TokenStream) -> TokenStream {
    let input = proc_macro2::TokenStream::from(input);
    // A backstop: the pipeline is written not to panic, but if a bug slips
    // through, the user gets a spanned error instead of "proc macro panicked".
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| expand::expand(input))) {
        Ok(output) => output.into(),
        Err(_) => syn::Error::new(
            proc_macro2::Span::call_site(),
            "internal error in cnn_model!: the description could not be processed; please report it",
        )
        .into_compile_error()
        .into(),
    }
}

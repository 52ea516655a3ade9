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
    expand::expand(input.into()).into()
}

//! The `cnn_model!` pipeline as a plain library, for the fuzz targets.
//!
//! `cnn-macros` is a proc-macro crate: nothing outside a macro expansion can
//! call into it. So this crate compiles the macro's own source files with
//! `#[path]`, under the same module names as in `cnn-macros/src/lib.rs`, so that
//! their `crate::` paths resolve. `proc_macro2` runs on its fallback
//! implementation outside the compiler, which is what `syn`'s own tests do.
//!
//! The only file of cnn-macros not included is its `lib.rs` (the
//! `#[proc_macro]` entry point, a one-line call to [`expand::expand`]).

// The macro's modules are written for the macro crate: some items are only
// used from its entry point or its tests.
#![allow(dead_code, unused_imports)]

#[path = "../../cnn-macros/src/codegen/mod.rs"]
pub mod codegen;
#[path = "../../cnn-macros/src/diag.rs"]
pub mod diag;
#[path = "../../cnn-macros/src/embed.rs"]
pub mod embed;
#[path = "../../cnn-macros/src/expand.rs"]
pub mod expand;
#[path = "../../cnn-macros/src/front/mod.rs"]
pub mod front;
#[path = "../../cnn-macros/src/model/mod.rs"]
pub mod model;
#[path = "../../cnn-macros/src/spec.rs"]
pub mod spec;

use proc_macro2::TokenStream;

/// Runs the whole macro on `tokens`, as `cnn_model! { <tokens> }` would, and
/// checks that what comes out is Rust items (the generated model, or the
/// `compile_error!`s and the fallback struct).
pub fn expand_checked(tokens: TokenStream) {
    let output = expand::expand(tokens);
    if let Err(err) = syn::parse2::<syn::File>(output.clone()) {
        panic!("the macro's output does not parse as Rust items: {err}\n{output}");
    }
}

/// Files named in a description (`weights: "..."`, `= "model.toml"`) are read
/// relative to `CARGO_MANIFEST_DIR`. The targets run without it, so that a
/// fuzz input never reads files: those paths then report "not set".
pub fn forget_manifest_dir() {
    std::env::remove_var("CARGO_MANIFEST_DIR");
}

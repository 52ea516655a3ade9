//! The inline front end and everything after it: arbitrary text, lexed as
//! Rust tokens, as the body of `cnn_model! { ... }`. The macro must never
//! panic: it returns the generated model or `compile_error!`s, and either is
//! Rust items.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::str::FromStr;

fuzz_target!(
    init: cnn_fuzz::forget_manifest_dir(),
    |data: &[u8]| {
        let Ok(text) = std::str::from_utf8(data) else { return };
        // Text that does not lex as Rust never reaches a proc macro.
        let Ok(tokens) = proc_macro2::TokenStream::from_str(text) else { return };
        cnn_fuzz::expand_checked(tokens);
    }
);

//! The TOML front end and everything after it: arbitrary text as the inline
//! TOML of `cnn_model! { struct N = toml("..."); }`. Errors carry
//! `<inline TOML>:line:col:`, so the position arithmetic runs too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use proc_macro2::Literal;
use quote::quote;

fuzz_target!(
    init: cnn_fuzz::forget_manifest_dir(),
    |data: &[u8]| {
        let Ok(text) = std::str::from_utf8(data) else { return };
        let literal = Literal::string(text);
        cnn_fuzz::expand_checked(quote!(pub struct N = toml(#literal);));
    }
);

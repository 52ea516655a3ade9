//! The pipeline: parse, validate, generate; errors become `compile_error!`s
//! at the user's tokens.

use crate::front::inline;
use crate::{codegen, model};
use proc_macro2::TokenStream;

pub fn expand(tokens: TokenStream) -> TokenStream {
    let parsed = match inline::parse(tokens) {
        Ok(parsed) => parsed,
        Err(err) => return err.into_compile_error(),
    };
    match model::validate(&parsed.spec) {
        Ok(model) => codegen::generate(&parsed.header, &model),
        Err(diagnostics) => {
            let errors = diagnostics
                .into_iter()
                .map(|d| syn::Error::new(parsed.spans.span(d.loc), d.message).into_compile_error());
            codegen::fallback(&parsed.header, errors.collect())
        }
    }
}

//! The compile-time loader: the macro's check of an embedded weights file
//! (`weights: "w.safetensors"`) on arbitrary bytes, for a model with a conv,
//! a batch norm and a linear layer. It returns the tensor offsets or a list
//! of problems; it must never panic. When it accepts a file, the run-time
//! loader must accept it too (the embedded constructor relies on the checks).
#![no_main]

use cnn_fuzz::front::{inline, Invocation, Origins, Source};
use cnn_fuzz::{embed, model};
use cnn_runtime::{cnn_model, Model};
use libfuzzer_sys::fuzz_target;
use quote::quote;
use std::sync::OnceLock;

cnn_model! {
    struct Small {
        input: [1, 2, 2],
        conv: Conv2d(1, 2, 1),
        bn: BatchNorm2d(2),
        flatten: Flatten,
        fc: Linear(8, 3),
    }
}

fn small() -> &'static model::Model {
    static MODEL: OnceLock<model::Model> = OnceLock::new();
    MODEL.get_or_init(|| {
        let tokens = quote!(struct Small {
            input: [1, 2, 2],
            conv: Conv2d(1, 2, 1),
            bn: BatchNorm2d(2),
            flatten: Flatten,
            fc: Linear(8, 3),
        });
        let invocation: Invocation = syn::parse2(tokens).expect("parses");
        let Source::Inline(body) = invocation.source else {
            unreachable!("inline")
        };
        let (spec, errors) = inline::to_spec(body, invocation.header.ident.span(), &mut Origins::default());
        assert!(errors.is_empty());
        model::validate(&spec).expect("valid")
    })
}

fuzz_target!(|data: &[u8]| {
    let checked = embed::check(small(), data, "w.safetensors", "/w.safetensors".to_owned());
    match checked {
        Ok(embedded) => {
            assert_eq!(embedded.len, data.len());
            assert_eq!(embedded.offsets.len(), Small::PARAM_SPECS.len());
            if let Err(err) = Small::from_safetensors(data) {
                panic!("the macro embeds a file the run-time loader rejects: {err}");
            }
        }
        Err(problems) => assert!(!problems.is_empty(), "an empty problem list"),
    }
});

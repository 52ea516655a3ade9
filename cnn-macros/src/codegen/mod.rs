//! Rust code from a validated model. Nothing here can fail: every shape and
//! parameter was checked by `model::validate`.
//!
//! The output grows linearly with the number of layers: one field per weight
//! tensor, one kernel call per layer, one table row per layer.

mod conv;
mod embedded;
mod forward;
mod fusion;
mod tables;

use crate::embed::Embedded;
use crate::front::Header;
use crate::model::{Model, Shape, Weight};
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::quote;

/// `5` as an unsuffixed literal, so it works as a `usize` const argument.
pub fn lit(n: u64) -> Literal {
    Literal::u64_unsuffixed(n)
}

/// The nested array type of a shape: `[[[f32; W]; H]; C]` or `[f32; N]`.
pub fn tensor_type(dims: &[u64]) -> TokenStream {
    dims.iter().rev().fold(quote!(f32), |inner, d| {
        let d = lit(*d);
        quote!([#inner; #d])
    })
}

pub fn shape_type(shape: Shape) -> TokenStream {
    tensor_type(&shape.dims())
}

/// The struct field holding one weight tensor. Layer names are Rust
/// identifiers or keys checked by the front end; anything else is replaced,
/// so building the identifier cannot fail.
pub fn field(layer: &str, weight: &Weight) -> Ident {
    Ident::new(&format!("w_{}_{}", clean_name(layer), weight.role), Span::call_site())
}

/// A layer name as part of an identifier: anything but ASCII letters and
/// digits becomes `_`.
pub fn clean_name(layer: &str) -> String {
    layer
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// `const _: &str = include_str!(...)` for each file the description read, so
/// that Cargo rebuilds the crate when one changes (`tracked_path` is unstable).
fn track(files: &[String]) -> TokenStream {
    let files = files.iter();
    quote!(#(const _: &str = ::core::include_str!(#files);)*)
}

/// The struct and its `Model` impl.
pub fn generate(header: &Header, model: &Model, embedded: Option<&Embedded>, tracked: &[String]) -> TokenStream {
    let tracked = track(tracked);
    let embedded = embedded.map(|e| embedded::constructor(header, e));
    let Header { attrs, vis, ident } = header;
    let fields = model.layers.iter().flat_map(|layer| {
        layer.weights.iter().map(move |weight| {
            let name = field(&layer.name, weight);
            let ty = tensor_type(&weight.shape);
            quote!(#name: ::cnn_runtime::Param<#ty>)
        })
    });
    let packed_fields = conv::packed_fields(model);
    let weight_names: Vec<Ident> = model
        .layers
        .iter()
        .flat_map(|layer| layer.weights.iter().map(move |weight| field(&layer.name, weight)))
        .collect();
    let loads = weight_names
        .iter()
        .enumerate()
        .map(|(index, name)| quote!(let #name = ::cnn_runtime::__private::ParamSource::take(source, #index);));
    let packs = conv::pack_statements(model);
    let packed_names = conv::packed_names(model);
    let input_type = shape_type(model.input());
    let output_type = shape_type(model.output());
    let [scratch_a, scratch_b] = model.memory.sizes.map(lit);
    let name_text = ident.to_string();
    let input_shape = model.input().dims().into_iter().map(lit);
    let output_shape = model.output().dims().into_iter().map(lit);
    let input_len = lit(model.input().numel());
    let output_len = lit(model.output().numel());
    let params = lit(model.params);
    let macs = lit(model.macs);
    let weight_bytes = lit(model.weight_values * 4);
    let layers = tables::layer_infos(model);
    let specs = tables::param_specs(model);
    let ignored = tables::ignored_keys(model);
    let body = forward::forward_body(model);
    quote! {
        #(#attrs)*
        #vis struct #ident {
            #(#fields,)*
            #(#packed_fields,)*
        }

        #tracked
        #embedded

        impl ::cnn_runtime::Model for #ident {
            type Input = #input_type;
            type Output = #output_type;
            type Scratch = ::cnn_runtime::Scratch<#scratch_a, #scratch_b>;

            const NAME: &'static str = #name_text;
            const INPUT_SHAPE: &'static [usize] = &[#(#input_shape),*];
            const OUTPUT_SHAPE: &'static [usize] = &[#(#output_shape),*];
            const INPUT_LEN: usize = #input_len;
            const OUTPUT_LEN: usize = #output_len;
            const PARAMS: usize = #params;
            const MACS: u64 = #macs;
            const WEIGHT_BYTES: usize = #weight_bytes;
            const SCRATCH_BYTES: usize = ::core::mem::size_of::<::cnn_runtime::Scratch<#scratch_a, #scratch_b>>();
            const LAYERS: &'static [::cnn_runtime::LayerInfo] = &[#(#layers),*];
            const PARAM_SPECS: &'static [::cnn_runtime::ParamSpec] = &[#(#specs),*];
            const IGNORED_KEYS: &'static [&'static str] = &[#(#ignored),*];

            fn __from_params<S: ::cnn_runtime::__private::ParamSource>(source: &mut S) -> Self {
                #(#loads)*
                #(#packs)*
                #ident {
                    #(#weight_names,)*
                    #(#packed_names,)*
                }
            }

            #[inline]
            fn forward_observed<O: ::core::ops::FnMut(usize)>(
                &self,
                input: &Self::Input,
                scratch: &mut Self::Scratch,
                output: &mut Self::Output,
                mut observe: O,
            ) {
                #body
            }
        }
    }
}

/// What the user gets when the description has errors: the errors, plus a
/// stub of the type so that code using it does not add a cascade of "cannot
/// find type" errors (the approach of thiserror's fallback).
pub fn fallback(header: &Header, errors: TokenStream, tracked: &[String]) -> TokenStream {
    let Header { attrs, vis, ident } = header;
    let tracked = track(tracked);
    let name_text = ident.to_string();
    quote! {
        #errors
        #tracked

        #(#attrs)*
        #vis struct #ident {}

        impl ::cnn_runtime::Model for #ident {
            type Input = [f32; 0];
            type Output = [f32; 0];
            type Scratch = ::cnn_runtime::Scratch<0, 0>;

            const NAME: &'static str = #name_text;
            const INPUT_SHAPE: &'static [usize] = &[];
            const OUTPUT_SHAPE: &'static [usize] = &[];
            const INPUT_LEN: usize = 0;
            const OUTPUT_LEN: usize = 0;
            const PARAMS: usize = 0;
            const MACS: u64 = 0;
            const WEIGHT_BYTES: usize = 0;
            const SCRATCH_BYTES: usize = 0;
            const LAYERS: &'static [::cnn_runtime::LayerInfo] = &[];
            const PARAM_SPECS: &'static [::cnn_runtime::ParamSpec] = &[];
            const IGNORED_KEYS: &'static [&'static str] = &[];

            fn __from_params<S: ::cnn_runtime::__private::ParamSource>(_: &mut S) -> Self {
                ::core::unreachable!("the model description has errors")
            }

            fn forward_observed<O: ::core::ops::FnMut(usize)>(
                &self,
                _: &Self::Input,
                _: &mut Self::Scratch,
                _: &mut Self::Output,
                _: O,
            ) {
                ::core::unreachable!("the model description has errors")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    /// The expansion of a small model, pretty-printed. Review the diff when
    /// it changes: it is the code every user compiles.
    #[test]
    fn expansion_snapshot() {
        let tokens = crate::expand::expand(quote! {
            /// A small classifier.
            pub struct Small {
                input: [1, 8, 8],
                conv: Conv2d(1, 4, 3, padding = 1),
                bn: BatchNorm2d(4),
                relu: ReLU,
                pool: MaxPool2d(2),
                conv2: Conv2d(4, 4, 3, padding = 1),
                relu2: ReLU,
                flatten: Flatten,
                fc: Linear(64, 3),
                leaky: LeakyReLU(0.25),
                soft: Softmax,
            }
        });
        let file: syn::File = syn::parse2(tokens).unwrap_or_else(|e| panic!("generated code does not parse: {e}"));
        insta::assert_snapshot!(prettyplease::unparse(&file));
    }
}

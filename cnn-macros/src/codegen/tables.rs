//! The constant tables of a generated model: layer infos, `state_dict` specs.

use super::fusion::{fused_into_previous, pooled_into_conv};
use super::lit;
use crate::model::{Model, Op};
use proc_macro2::TokenStream;
use quote::quote;

pub fn layer_infos(model: &Model) -> Vec<TokenStream> {
    model
        .layers
        .iter()
        .enumerate()
        .map(|(index, layer)| {
            let fused = fused_into_previous(model, index) || pooled_into_conv(model, index);
            let name = &layer.name;
            let kind = &layer.description;
            let shape = model.tensor(layer.output).dims().into_iter().map(lit);
            let params = lit(layer.params);
            let macs = lit(layer.macs);
            let field = match layer.receptive_field {
                Some(rf) => {
                    let (h, w) = (lit(rf.h), lit(rf.w));
                    quote!(::core::option::Option::Some((#h, #w)))
                }
                None => quote!(::core::option::Option::None),
            };
            quote! {
                ::cnn_runtime::LayerInfo {
                    name: #name,
                    kind: #kind,
                    output_shape: &[#(#shape),*],
                    params: #params,
                    macs: #macs,
                    receptive_field: #field,
                    fused: #fused,
                }
            }
        })
        .collect()
}

pub fn param_specs(model: &Model) -> Vec<TokenStream> {
    model
        .layers
        .iter()
        .flat_map(|layer| {
            layer.weights.iter().map(move |weight| {
                let key = format!("{}.{}", layer.key, weight.role);
                let shape = weight.shape.iter().copied().map(lit);
                quote!(::cnn_runtime::ParamSpec { key: #key, shape: &[#(#shape),*] })
            })
        })
        .collect()
}

/// PyTorch saves `num_batches_tracked` with every batch norm; it is a
/// training counter, accepted and ignored.
pub fn ignored_keys(model: &Model) -> Vec<String> {
    model
        .layers
        .iter()
        .filter(|layer| matches!(layer.op, Op::BatchNorm2d { .. }))
        .map(|layer| format!("{}.num_batches_tracked", layer.key))
        .collect()
}

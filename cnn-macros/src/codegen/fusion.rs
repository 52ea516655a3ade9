//! Which activations run inside the convolution or linear layer before them:
//! a ReLU, ReLU6 or LeakyReLU reading exactly that layer's output is applied
//! by its kernel as the outputs are stored, and emits no pass of its own.
//!
//! The memory plan is unaffected: such an activation works in place, so its
//! tensor is the producer's output tensor, in the same buffer, either way.

use crate::model::{Model, Op};
use proc_macro2::TokenStream;
use quote::quote;

/// The `::cnn_runtime::kernels::Activation` an activation layer's op
/// becomes when fused, if it can be.
fn activation(op: &Op) -> Option<TokenStream> {
    match op {
        Op::ReLU => Some(quote!(::cnn_runtime::kernels::Activation::Relu)),
        Op::ReLU6 => Some(quote!(::cnn_runtime::kernels::Activation::Relu6)),
        Op::LeakyReLU(slope) => {
            // Validation keeps hyper-parameters finite in f32.
            #[allow(clippy::cast_possible_truncation)]
            let slope = proc_macro2::Literal::f32_suffixed(*slope as f32);
            Some(quote!(::cnn_runtime::kernels::Activation::LeakyRelu(#slope)))
        }
        _ => None,
    }
}

/// Whether layer `index` is an activation fused into the layer before it.
pub fn fused_into_previous(model: &Model, index: usize) -> bool {
    let (Some(previous), Some(layer)) = (
        index.checked_sub(1).and_then(|i| model.layers.get(i)),
        model.layers.get(index),
    ) else {
        return false;
    };
    matches!(previous.op, Op::Conv2d(_) | Op::Linear { .. })
        && layer.input == previous.output
        && activation(&layer.op).is_some()
}

/// The activation layer `index` (a convolution or linear layer) applies to
/// its outputs: the next layer's, when that one is fused into it.
pub fn epilogue(model: &Model, index: usize) -> Option<TokenStream> {
    let next = index.checked_add(1)?;
    if fused_into_previous(model, next) {
        activation(&model.layers.get(next)?.op)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::front::{inline, Invocation, Origins, Source};
    use crate::model::validate;
    use quote::quote;

    fn model(tokens: TokenStream) -> Model {
        let invocation: Invocation = syn::parse2(tokens).unwrap_or_else(|e| panic!("{e}"));
        let Source::Inline(body) = invocation.source else {
            panic!("not an inline description")
        };
        let (spec, errors) = inline::to_spec(body, invocation.header.ident.span(), &mut Origins::default());
        assert!(errors.is_empty(), "{errors:?}");
        validate(&spec).unwrap_or_else(|e| panic!("{e:?}"))
    }

    /// Only the ReLU family, and only right after a conv or linear layer.
    #[test]
    fn which_activations_fuse() {
        let m = model(quote! {
            struct Net {
                input: [1, 8, 8],
                relu0: ReLU,
                conv: Conv2d(1, 4, 3, padding = 1),
                relu: ReLU,
                relu_again: ReLU,
                conv6: Conv2d(4, 4, 3, padding = 1),
                six: ReLU6,
                bn: BatchNorm2d(4),
                after_bn: ReLU,
                conv_tanh: Conv2d(4, 4, 1),
                tanh: Tanh,
                flatten: Flatten,
                fc: Linear(256, 8),
                leaky: LeakyReLU(0.5),
                fc2: Linear(8, 2),
            }
        });
        let fused: Vec<&str> = (0..m.layers.len())
            .filter(|&i| fused_into_previous(&m, i))
            .map(|i| m.layers[i].name.as_str())
            .collect();
        assert_eq!(fused, ["relu", "six", "leaky"]);
        let with_epilogue: Vec<&str> = (0..m.layers.len())
            .filter(|&i| epilogue(&m, i).is_some())
            .map(|i| m.layers[i].name.as_str())
            .collect();
        assert_eq!(with_epilogue, ["conv", "conv6", "fc"]);
    }
}

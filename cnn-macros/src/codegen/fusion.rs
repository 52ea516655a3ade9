//! Which activations run inside the convolution or linear layer before them:
//! a ReLU, ReLU6 or LeakyReLU reading exactly that layer's output is applied
//! by its kernel as the outputs are stored, and emits no pass of its own.
//!
//! The memory plan is unaffected: such an activation works in place, so its
//! tensor is the producer's output tensor, in the same buffer, either way.

use crate::model::{Model, Op};
use proc_macro2::TokenStream;
use quote::quote;

/// The `::cnn_runtime::kernels::Activation` that layer `index` (an
/// activation) becomes when fused, if it can be.
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
    let Some(previous) = index.checked_sub(1).and_then(|i| model.layers.get(i)) else {
        return false;
    };
    let layer = &model.layers[index];
    matches!(previous.op, Op::Conv2d(_) | Op::Linear { .. })
        && layer.input == previous.output
        && activation(&layer.op).is_some()
}

/// The activation layer `index` (a convolution or linear layer) applies to
/// its outputs: the next layer's, when that one is fused into it.
pub fn epilogue(model: &Model, index: usize) -> Option<TokenStream> {
    let next = index.checked_add(1)?;
    if next < model.layers.len() && fused_into_previous(model, next) {
        activation(&model.layers[next].op)
    } else {
        None
    }
}

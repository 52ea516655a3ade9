//! Which layers run inside the convolution or linear layer before them:
//! a ReLU, ReLU6 or LeakyReLU reading exactly that layer's output is applied
//! by its kernel as the outputs are stored, and emits no pass of its own;
//! a global average pool or a 2×2 max pool that is the only reader of a
//! convolution's (activated) output is computed by the convolution's call.
//!
//! The memory plan is unaffected: such an activation works in place, so its
//! tensor is the producer's output tensor, in the same buffer, either way;
//! a fused pool's tensor is still written to the buffer the plan gives it.

use crate::model::{Hw, Layer, Model, Op, Shape};
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

/// The layer convolution `index` feeds, directly or through an activation
/// fused into it, if that layer is the only reader of the convolution's
/// (activated) output and `fits` takes it.
fn pool_after(model: &Model, index: usize, fits: impl Fn(&Layer) -> bool) -> Option<usize> {
    let conv = model.layers.get(index)?;
    if !matches!(conv.op, Op::Conv2d(_)) {
        return None;
    }
    let next = index.checked_add(1)?;
    let (pool, read) = if fused_into_previous(model, next) {
        (next.checked_add(1)?, model.layers.get(next)?.output)
    } else {
        (next, conv.output)
    };
    let layer = model.layers.get(pool)?;
    let readers = model
        .layers
        .iter()
        .filter(|l| l.input == read || l.input == conv.output)
        .count();
    let fused_readers = usize::from(read != conv.output);
    (fits(layer) && layer.input == read && readers == 1 + fused_readers).then_some(pool)
}

/// The global average pool (`AdaptiveAvgPool2d(1)`) that convolution
/// `index` feeds (see [`pool_after`]): the two then run as one kernel call,
/// which on the direct kernel and the Winograd mode sums the outputs per
/// channel as they are computed instead of storing them.
pub fn global_pool_after(model: &Model, index: usize) -> Option<usize> {
    pool_after(
        model,
        index,
        |layer| matches!(layer.op, Op::AdaptiveAvgPool2d(size) if size.h == 1 && size.w == 1),
    )
}

/// The 2×2, stride-2 max pool (`MaxPool2d(2)`: no padding or dilation,
/// floor mode) that convolution `index` feeds (see [`pool_after`]): the two
/// then run as one kernel call, which on the direct, Winograd and padded
/// kernels stores only the pooled values.
pub fn max_pool_after(model: &Model, index: usize) -> Option<usize> {
    pool_after(model, index, |layer| {
        let Op::MaxPool2d(w) = &layer.op else {
            return false;
        };
        let (Shape::Chw { h, w: width, .. }, Shape::Chw { h: oh, w: ow, .. }) =
            (model.tensor(layer.input), model.tensor(layer.output))
        else {
            return false;
        };
        let all = |hw: Hw<u64>, v: u64| hw.h == v && hw.w == v;
        all(w.kernel, 2)
            && all(w.stride, 2)
            && all(w.padding, 0)
            && all(w.dilation, 1)
            && oh == h / 2
            && ow == width / 2
    })
}

/// Whether layer `index` is a pool run by the convolution before it (see
/// [`global_pool_after`] and [`max_pool_after`]).
pub fn pooled_into_conv(model: &Model, index: usize) -> bool {
    (index.saturating_sub(2)..index)
        .any(|conv| global_pool_after(model, conv) == Some(index) || max_pool_after(model, conv) == Some(index))
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

    /// A global average pool right after a conv, or after its fused
    /// activation, runs in the conv's kernel; any other pool does not.
    #[test]
    fn which_global_pools_fuse() {
        let m = model(quote! {
            struct Net {
                input: [4, 8, 8],
                conv: Conv2d(4, 8, 3, padding = 1),
                relu: ReLU,
                gap: AdaptiveAvgPool2d(1),
                conv2: Conv2d(8, 8, 1),
                gap2: AdaptiveAvgPool2d(1),
                conv3: Conv2d(8, 8, 1),
                pool2x2: AdaptiveAvgPool2d(2),
                conv4: Conv2d(8, 8, 1),
                tanh: Tanh,
                gap4: AdaptiveAvgPool2d(1),
                flatten: Flatten,
            }
        });
        let pooled: Vec<&str> = (0..m.layers.len())
            .filter(|&i| pooled_into_conv(&m, i))
            .map(|i| m.layers[i].name.as_str())
            .collect();
        assert_eq!(pooled, ["gap", "gap2"]);
        let name = |i: usize| m.layers[i].name.as_str();
        let convs: Vec<(&str, &str)> = (0..m.layers.len())
            .filter_map(|i| global_pool_after(&m, i).map(|p| (name(i), name(p))))
            .collect();
        assert_eq!(convs, [("conv", "gap"), ("conv2", "gap2")]);
    }

    /// `MaxPool2d(2)` right after a conv, or after its fused activation,
    /// runs in the conv's kernel (floor mode dropping an odd edge too);
    /// other windows, a ceil-mode pool that keeps an odd edge, a pool after a non-fused activation, and a conv
    /// whose output has another reader do not.
    #[test]
    fn which_max_pools_fuse() {
        let m = model(quote! {
            struct Net {
                input: [4, 9, 9],
                conv: Conv2d(4, 8, 3, padding = 1),
                relu: ReLU,
                pool: MaxPool2d(2, rounding = "floor"),
                conv2: Conv2d(8, 8, 1),
                pool2: MaxPool2d(2),
                conv3: Conv2d(8, 8, 1, padding = 1),
                overlapping: MaxPool2d(2, stride = 1),
                conv4: Conv2d(8, 8, 1),
                ceil: MaxPool2d(2, ceil_mode = true),
                conv5: Conv2d(8, 8, 1),
                tanh: Tanh,
                after_tanh: MaxPool2d(2),
            }
        });
        let name = |i: usize| m.layers[i].name.as_str();
        let convs: Vec<(&str, &str)> = (0..m.layers.len())
            .filter_map(|i| max_pool_after(&m, i).map(|p| (name(i), name(p))))
            .collect();
        assert_eq!(convs, [("conv", "pool"), ("conv2", "pool2")]);
        let pooled: Vec<&str> = (0..m.layers.len())
            .filter(|&i| pooled_into_conv(&m, i))
            .map(|i| m.layers[i].name.as_str())
            .collect();
        assert_eq!(pooled, ["pool", "pool2"]);
        assert!(global_pool_after(&m, 0).is_none());
    }
}

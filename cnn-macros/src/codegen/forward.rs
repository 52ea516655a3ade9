//! The body of `forward_with`: one kernel call per layer, each tensor a typed
//! view into the caller's input or a scratch buffer.
//!
//! The view types repeat the shapes the model inferred, and each kernel's
//! const parameters are checked against them by rustc: if the macro ever got a
//! shape wrong, the generated code would not type-check.

use super::fusion::{epilogue, fused_into_previous, global_pool_after, max_pool_after, pooled_into_conv};
use super::{field, lit, shape_type};
use crate::model::{Layer, Model, Op, Place, Shape};
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

fn var(tensor: usize) -> Ident {
    format_ident!("t{}", tensor)
}

fn buffer(place: Place) -> TokenStream {
    match place {
        Place::A => quote!(__a),
        Place::B => quote!(__b),
        // The planner never writes to the input.
        Place::Input => quote!(__a),
    }
}

fn float(x: f64) -> Literal {
    // Validation keeps hyper-parameters finite in f32.
    #[allow(clippy::cast_possible_truncation)]
    Literal::f32_suffixed(x as f32)
}

pub fn forward_body(model: &Model) -> TokenStream {
    let input_var = var(0);
    let mut steps = vec![quote! {
        let (__a, __b) = ::cnn_runtime::ScratchSpace::split(scratch);
        let _ = (&__a, &__b);
        let #input_var: &Self::Input = input;
    }];
    for (index, layer) in model.layers.iter().enumerate() {
        steps.push(layer_step(model, index, layer));
        steps.push(quote!(observe(#index);));
    }
    let last = var(model.tensors.len() - 1);
    steps.push(quote!(::cnn_runtime::__private::copy(&*#last, output);));
    quote!(#(#steps)*)
}

fn layer_step(model: &Model, index: usize, layer: &Layer) -> TokenStream {
    let input = var(layer.input);
    let output = var(layer.output);
    let in_shape = model.tensor(layer.input);
    let out_shape = model.tensor(layer.output);
    let out_type = shape_type(out_shape);
    let from = model.memory.place(layer.input);
    let to = model.memory.place(layer.output);
    let weight = |role: &str| {
        layer
            .weights
            .iter()
            .find(|w| w.role == role)
            .map(|w| field(&layer.name, w))
    };
    let optional = |role: &str| match weight(role) {
        Some(f) => quote!(::core::option::Option::Some(&*self.#f)),
        None => quote!(::core::option::Option::None),
    };
    let required = |role: &str| match weight(role) {
        Some(f) => quote!(&*self.#f),
        // Validation gives every conv, linear and batch norm its tensors.
        None => quote!(::core::unreachable!()),
    };
    let fresh = {
        let buffer = buffer(to);
        quote!(let #output: &mut #out_type = ::cnn_runtime::__private::view_mut(&mut *#buffer);)
    };
    let (c, h, w) = match in_shape {
        Shape::Chw { c, h, w } => (lit(c), lit(h), lit(w)),
        Shape::Flat(n) => (lit(n), lit(1), lit(1)),
    };
    let (oh, ow) = match out_shape {
        Shape::Chw { h, w, .. } => (lit(h), lit(w)),
        Shape::Flat(_) => (lit(1), lit(1)),
    };
    // Element-wise kernels take the tensor as a flat slice, in place. When
    // the tensor is still the caller's input, copy it into scratch first.
    let in_place = |call: TokenStream| {
        if from == Place::Input {
            let buffer = buffer(to);
            quote! {
                let #output: &mut #out_type = ::cnn_runtime::__private::view_mut(&mut *#buffer);
                ::cnn_runtime::__private::copy(&*#input, #output);
                #call
            }
        } else {
            quote! {
                let #output = #input;
                #call
            }
        }
    };
    let flat = quote!(::cnn_runtime::__private::flat_mut(&mut *#output));
    if fused_into_previous(model, index) {
        // Applied by the previous layer's kernel; the tensor is its output.
        return quote!(let #output = #input;);
    }
    if pooled_into_conv(model, index) {
        // Computed, and its tensor defined, by the convolution's call.
        return quote!();
    }
    let act = epilogue(model, index);
    match &layer.op {
        Op::Conv2d(_) => {
            let (wt, bias) = (required("weight"), optional("bias"));
            let act = act.unwrap_or_else(|| quote!(::cnn_runtime::kernels::Activation::Identity));
            // A conv always has its tokens; the packed weights exist when it
            // has a weight tensor, which validation guarantees.
            match super::conv::conv_tokens(model, layer) {
                Some(super::conv::ConvTokens { consts, .. }) if weight("weight").is_some() => {
                    let packed = super::conv::packed_field(&layer.name);
                    if let Some(pool) = global_pool_after(model, index).and_then(|p| model.layers.get(p)) {
                        // The pool's output is written after the call: it may
                        // share a buffer with the conv's input.
                        let pooled = var(pool.output);
                        let pooled_type = shape_type(model.tensor(pool.output));
                        let pooled_buffer = buffer(model.memory.place(pool.output));
                        return quote! {
                            #fresh
                            let __pooled = ::cnn_runtime::kernels::conv2d_global_avg::<#consts, _>(
                                &*#input, #wt, &self.#packed, #bias, #act, #output,
                            );
                            let #pooled: &mut #pooled_type = ::cnn_runtime::__private::view_mut(&mut *#pooled_buffer);
                            ::cnn_runtime::__private::copy(&__pooled, #pooled);
                        };
                    }
                    if let Some(pool) = max_pool_after(model, index).and_then(|p| model.layers.get(p)) {
                        // The pooled tensor comes back as a view of the conv's
                        // output buffer, and is copied to the pool's own: that
                        // one may be the conv's input, still being read.
                        let pooled = var(pool.output);
                        let pooled_type = shape_type(model.tensor(pool.output));
                        let pooled_buffer = buffer(model.memory.place(pool.output));
                        let (poh, pow) = match model.tensor(pool.output) {
                            Shape::Chw { h, w, .. } => (lit(h), lit(w)),
                            Shape::Flat(_) => (lit(1), lit(1)),
                        };
                        return quote! {
                            #fresh
                            let __pooled = ::cnn_runtime::kernels::conv2d_max_pool2x2::<#consts, #poh, #pow, _>(
                                &*#input, #wt, &self.#packed, #bias, #act, #output,
                            );
                            let #pooled: &mut #pooled_type = ::cnn_runtime::__private::view_mut(&mut *#pooled_buffer);
                            ::cnn_runtime::__private::copy(&*__pooled, #pooled);
                        };
                    }
                    quote! {
                        #fresh
                        ::cnn_runtime::kernels::conv2d_prepacked::<#consts, _>(
                            &*#input, #wt, &self.#packed, #bias, #act, #output,
                        );
                    }
                }
                _ => quote!(::core::unreachable!();),
            }
        }
        Op::MaxPool2d(window) | Op::MinPool2d(window) => {
            let kernel = if matches!(layer.op, Op::MaxPool2d(_)) {
                quote!(max_pool2d)
            } else {
                quote!(min_pool2d)
            };
            let (kh, kw) = (lit(window.kernel.h), lit(window.kernel.w));
            let (sh, sw) = (lit(window.stride.h), lit(window.stride.w));
            let (pt, pl) = (lit(window.padding.h), lit(window.padding.w));
            let (dh, dw) = (lit(window.dilation.h), lit(window.dilation.w));
            quote! {
                #fresh
                ::cnn_runtime::kernels::#kernel::<#c, #h, #w, #oh, #ow, #kh, #kw, #sh, #sw, #pt, #pl, #dh, #dw>(&*#input, #output);
            }
        }
        Op::AvgPool2d {
            window,
            count_include_pad,
            divisor_override,
        } => {
            let (kh, kw) = (lit(window.kernel.h), lit(window.kernel.w));
            let (sh, sw) = (lit(window.stride.h), lit(window.stride.w));
            let (pt, pl) = (lit(window.padding.h), lit(window.padding.w));
            let divisor = lit(*divisor_override);
            quote! {
                #fresh
                ::cnn_runtime::kernels::avg_pool2d::<#c, #h, #w, #oh, #ow, #kh, #kw, #sh, #sw, #pt, #pl, #count_include_pad, #divisor>(&*#input, #output);
            }
        }
        Op::AdaptiveAvgPool2d(_) => quote! {
            #fresh
            ::cnn_runtime::kernels::adaptive_avg_pool2d::<#c, #h, #w, #oh, #ow>(&*#input, #output);
        },
        Op::Linear {
            in_features,
            out_features,
            ..
        } => {
            let (n_in, n_out) = (lit(*in_features), lit(*out_features));
            let (wt, bias) = (required("weight"), optional("bias"));
            let act = act.unwrap_or_else(|| quote!(::cnn_runtime::kernels::Activation::Identity));
            let packed = super::conv::packed_field(&layer.name);
            match weight("weight") {
                Some(_) => quote! {
                    #fresh
                    ::cnn_runtime::kernels::linear_prepacked::<#n_in, #n_out, _>(
                        &*#input, #wt, &self.#packed, #bias, #act, #output,
                    );
                },
                // Validation gives every linear layer its weight.
                None => quote!(::core::unreachable!();),
            }
        }
        Op::Flatten => {
            let reshape = if from == Place::Input {
                quote!(reshape_ref)
            } else {
                quote!(reshape_mut)
            };
            let ty = if from == Place::Input {
                quote!(&#out_type)
            } else {
                quote!(&mut #out_type)
            };
            quote!(let #output: #ty = ::cnn_runtime::__private::#reshape(#input);)
        }
        Op::Dropout => quote!(let #output = #input;),
        Op::BatchNorm2d { eps, .. } => {
            let eps = float(*eps);
            let (gamma, beta) = (optional("weight"), optional("bias"));
            let (mean, var) = (required("running_mean"), required("running_var"));
            in_place(quote! {
                ::cnn_runtime::kernels::batch_norm2d::<#c, #h, #w>(#output, #gamma, #beta, #mean, #var, #eps);
            })
        }
        Op::ReLU => in_place(quote!(::cnn_runtime::kernels::relu(#flat);)),
        Op::ReLU6 => in_place(quote!(::cnn_runtime::kernels::relu6(#flat);)),
        Op::LeakyReLU(slope) => {
            let slope = float(*slope);
            in_place(quote!(::cnn_runtime::kernels::leaky_relu(#flat, #slope);))
        }
        Op::Sigmoid => in_place(quote!(::cnn_runtime::kernels::sigmoid(#flat);)),
        Op::Tanh => in_place(quote!(::cnn_runtime::kernels::tanh(#flat);)),
        Op::Softmax => match in_shape {
            Shape::Flat(_) => in_place(quote!(::cnn_runtime::kernels::softmax(#flat);)),
            Shape::Chw { .. } => in_place(quote!(::cnn_runtime::kernels::softmax_channels::<#c, #h, #w>(#output);)),
        },
    }
}

//! Validation tables: descriptions in, shapes or errors (with the argument
//! they point at) out.

use super::{validate, Op, Shape};
use crate::diag::Loc;
use crate::front::{inline, Invocation, Origins, Source};
use crate::spec::{Spec, Value};
use quote::quote;

fn spec(tokens: proc_macro2::TokenStream) -> Spec {
    let invocation: Invocation = match syn::parse2(tokens) {
        Ok(invocation) => invocation,
        Err(err) => panic!("test description does not parse: {err}"),
    };
    let Source::Inline(body) = invocation.source else {
        panic!("not an inline description")
    };
    let (spec, errors) = inline::to_spec(body, invocation.header.ident.span(), &mut Origins::default());
    assert!(errors.is_empty(), "front-end errors: {errors:?}");
    spec
}

/// Names what a location points at: `name conv1`, `kind Conv2d`,
/// `stride` (a keyword argument's value), `arg 0` (a positional value),
/// `input`, `input 2` (a dimension), `key`, or `model`.
fn what(spec: &Spec, loc: Loc) -> String {
    if loc == spec.loc {
        return "model".into();
    }
    if let Some(input) = &spec.input {
        if input.loc == loc {
            return "input".into();
        }
        if let Some(i) = input.value.iter().position(|d| d.loc == loc) {
            return format!("input {i}");
        }
    }
    for layer in &spec.layers {
        if layer.name.loc == loc {
            return format!("name {}", layer.name.value);
        }
        if layer.kind.loc == loc {
            return format!("kind {}", layer.kind.value);
        }
        if layer.key.as_ref().is_some_and(|k| k.loc == loc) {
            return "key".into();
        }
        for (i, arg) in layer.args.iter().enumerate() {
            let label = arg
                .keyword
                .as_ref()
                .map_or_else(|| format!("arg {i}"), |k| k.value.clone());
            if arg.keyword.as_ref().is_some_and(|k| k.loc == loc) {
                return format!("keyword {label}");
            }
            if arg.value.loc == loc {
                return label;
            }
            if let Value::Tuple(items) = &arg.value.value {
                if let Some(j) = items.iter().position(|item| item.loc == loc) {
                    return format!("{label}.{j}");
                }
            }
        }
    }
    "?".into()
}

/// Every error as `(points at, message)`.
fn errors(tokens: proc_macro2::TokenStream) -> Vec<(String, String)> {
    let spec = spec(tokens);
    match validate(&spec) {
        Ok(_) => Vec::new(),
        Err(diags) => diags.into_iter().map(|d| (what(&spec, d.loc), d.message)).collect(),
    }
}

fn shapes(tokens: proc_macro2::TokenStream) -> Vec<Shape> {
    match validate(&spec(tokens)) {
        Ok(model) => model.tensors,
        Err(diags) => panic!("expected a valid model, got {diags:?}"),
    }
}

fn chw(c: u64, h: u64, w: u64) -> Shape {
    Shape::Chw { c, h, w }
}

#[test]
fn lenet5_shapes_params_and_macs() {
    let tokens = quote! {
        pub struct LeNet5 {
            input: [1, 28, 28],
            conv1: Conv2d(1, 6, 5, padding = 2),
            relu1: ReLU,
            pool1: MaxPool2d(2),
            conv2: Conv2d(6, 16, 5),
            relu2: ReLU,
            pool2: MaxPool2d(2),
            flatten: Flatten,
            fc1: Linear(400, 120),
            relu3: ReLU,
            fc2: Linear(120, 84),
            relu4: ReLU,
            fc3: Linear(84, 10),
        }
    };
    assert_eq!(
        shapes(tokens.clone()),
        vec![
            chw(1, 28, 28),
            chw(6, 28, 28),
            chw(6, 28, 28),
            chw(6, 14, 14),
            chw(16, 10, 10),
            chw(16, 10, 10),
            chw(16, 5, 5),
            Shape::Flat(400),
            Shape::Flat(120),
            Shape::Flat(120),
            Shape::Flat(84),
            Shape::Flat(84),
            Shape::Flat(10),
        ]
    );
    let model = validate(&spec(tokens)).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(model.params, 61_706);
    assert_eq!(model.macs, 416_520);
    // conv1 sees 5x5, pool1 6x6, conv2 14x14, pool2 16x16 of the input
    let fields: Vec<_> = model.layers.iter().map(|l| l.receptive_field.map(|f| f.h)).collect();
    assert_eq!(
        &fields[..7],
        &[Some(5), Some(5), Some(6), Some(14), Some(14), Some(16), None]
    );
    // ping-pong buffers: the largest tensors alternate between A and B
    assert_eq!(model.memory.sizes, [6 * 28 * 28, 6 * 14 * 14]);
}

#[test]
fn ten_5x5x3_filters_have_760_params() {
    let model = validate(&spec(quote! {
        struct Net { input: [3, 32, 32], conv: Conv2d(3, 10, 5) }
    }))
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(model.params, 760);
}

#[test]
fn cs231n_stride_that_does_not_fit() {
    let errors = errors(quote! {
        struct Net { input: [3, 7, 7], conv2: Conv2d(3, 8, 3, stride = 3) }
    });
    assert_eq!(errors.len(), 1, "{errors:?}");
    let (at, message) = &errors[0];
    assert_eq!(at, "stride");
    assert_eq!(
        message,
        "conv2: output height and width (7 - 3 + 2*0) / 3 + 1 = 2.33 is not a whole number; strides that fit: 1, 2; \
         or padding = 1 makes stride 3 fit; or add `rounding = \"floor\"` to this layer to drop the remainder as PyTorch does (output height and width 2; this drops input pixels)"
    );
}

#[test]
fn a_remainder_in_the_padding_only_says_so() {
    let errors = errors(quote! {
        struct Net { input: [8, 56, 56], conv: Conv2d(8, 8, 3, stride = 2, padding = 1) }
    });
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]
            .1
            .contains("(output height and width 28; this drops only padding)"),
        "{}",
        errors[0].1
    );
}

#[test]
fn rounding_opt_ins() {
    let floor = shapes(quote! {
        struct Net { input: [3, 7, 7], conv: Conv2d(3, 8, 3, stride = 3, rounding = "floor") }
    });
    assert_eq!(floor[1], chw(8, 2, 2));
    let ceil = shapes(quote! {
        struct Net { input: [3, 7, 7], pool: MaxPool2d(3, stride = 3, ceil_mode = true) }
    });
    assert_eq!(ceil[1], chw(3, 3, 3));
    let pool_floor = shapes(quote! {
        struct Net { input: [3, 7, 7], pool: AvgPool2d(2, rounding = "floor") }
    });
    assert_eq!(pool_floor[1], chw(3, 3, 3));
}

#[test]
fn same_padding_even_kernel() {
    let model = validate(&spec(quote! {
        struct Net { input: [2, 9, 6], conv: Conv2d(2, 4, (2, 4), padding = "same") }
    }))
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(model.tensors[1], chw(4, 9, 6));
    let Op::Conv2d(conv) = &model.layers[0].op else {
        panic!("not a conv")
    };
    assert_eq!((conv.pad_before.h, conv.pad_after.h), (0, 1));
    assert_eq!((conv.pad_before.w, conv.pad_after.w), (1, 2));
}

#[test]
fn one_build_reports_every_independent_error() {
    let errors = errors(quote! {
        struct Net {
            input: [1, 28, 28],
            conv1: Conv2d(1, 6, 5, stride = 2),
            conv2: Conv2d(8, 16, 3),
            bn: BatchNorm2d(6),
            fc: Linear(10, 3),
        }
    });
    let at: Vec<&str> = errors.iter().map(|(at, _)| at.as_str()).collect();
    // conv1's width does not fit, conv2's in_channels is wrong, bn's features
    // are wrong, fc lacks a Flatten. conv2's shape stays unknown after conv1,
    // so nothing cascades from the first error.
    assert_eq!(at, ["stride", "arg 0", "arg 0", "kind Linear"], "{errors:?}");
    assert!(
        errors[1].1.contains("in_channels is 8, but conv1 produces 6 channels"),
        "{}",
        errors[1].1
    );
    assert!(
        errors[2]
            .1
            .contains("num_features is 6, but conv2 produces 16 channels"),
        "{}",
        errors[2].1
    );
    assert!(
        errors[3].1.contains("add `flatten: Flatten,` before `fc`"),
        "{}",
        errors[3].1
    );
}

#[test]
fn linear_features_name_the_flattened_shape() {
    let errors = errors(quote! {
        struct Net {
            input: [16, 5, 5],
            flatten: Flatten,
            fc1: Linear(256, 120),
        }
    });
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, "arg 0");
    assert_eq!(
        errors[0].1,
        "fc1: in_features is 256, but flatten flattens 16x5x5 = 400 features; write Linear(400, 120)"
    );
}

#[test]
fn each_error_kind_points_at_its_argument() {
    #[rustfmt::skip]
    let table: Vec<(proc_macro2::TokenStream, &str, &str)> = vec![
        (quote!(struct N { input: [3, 8, 8], c: Conv2d(3, 0, 3) }), "arg 1", "must be at least 1"),
        (quote!(struct N { input: [3, 8, 8], c: Conv2d(3, 4, 3, groups = 2) }), "groups", "groups = 2 does not divide in_channels = 3"),
        (quote!(struct N { input: [3, 4, 4], c: Conv2d(3, 4, 5) }), "arg 2", "kernel height and width 5 is larger than the padded input"),
        (quote!(struct N { input: [3, 8, 8], p: MaxPool2d(3, padding = 2) }), "padding", "padding 2 (height and width) is more than half the kernel size 3"),
        (quote!(struct N { input: [3, 8, 8], c: Conv2D(3, 4, 3) }), "kind Conv2D", "did you mean `Conv2d`?"),
        (quote!(struct N { input: [3, 8, 8], c: Conv2d(3, 4, 3, strid = 2) }), "keyword strid", "did you mean `stride`?"),
        (quote!(struct N { input: [3, 8, 8], a: ReLU, a: ReLU }), "name a", "duplicate layer name `a`"),
        (quote!(struct N { input: [3, 8, 8], #[key = "x"] a: ReLU, #[key = "x"] b: ReLU }), "key", "already used by layer `a`"),
        (quote!(struct N { input: [3, 8, 8], c: Conv2d(3, 4, 3, stride = 2, padding = "same") }), "padding", "needs stride 1"),
        (quote!(struct N { input: [3, 8, 8], c: Conv2d(3, 4) }), "kind Conv2d", "missing its required argument `kernel_size`"),
        (quote!(struct N { input: [3, 8, 8], c: Conv2d(3, 4, 3, 1, 0, 1, 1, true, "zeros", 7) }), "arg 9", "at most 9 positional arguments"),
        (quote!(struct N { input: [3, 8, 8], c: Conv2d(3, 4, 3, stride = "2") }), "stride", "must be an integer"),
        (quote!(struct N { input: [3, 8, 8], f: Flatten, c: Conv2d(3, 4, 3) }), "kind Conv2d", "needs a CxHxW input"),
        (quote!(struct N { input: [3, 8, 8], s: Softmax(dim = 2) }), "dim", "not supported"),
        (quote!(struct N { input: [3, 8, 8], d: Dropout(1.5) }), "arg 0", "between 0 and 1"),
        (quote!(struct N { input: [3, 0, 8] }), "input 1", "at least 1"),
        (quote!(struct N { input: [3, 8] }), "input", "found 2 dimensions"),
        (quote!(struct N { c: ReLU }), "model", "needs its input shape"),
        (quote!(struct N { input: [3, 8, 8], p: MaxPool2d(2, rounding = "floor", ceil_mode = true) }), "rounding", "contradicts"),
        (quote!(struct N { input: [3, 8, 8], p: MaxPool2d(2, return_indices = true) }), "return_indices", "not supported"),
        (quote!(struct N { input: [3, 8, 8], c: Conv2d(3, 4, 3, padding_mode = "reflect") }), "padding_mode", "not supported"),
    ];
    for (tokens, expected_at, expected_text) in table {
        let errors = errors(tokens.clone());
        assert_eq!(errors.len(), 1, "{tokens}: {errors:?}");
        let (at, message) = &errors[0];
        assert_eq!(at, expected_at, "{tokens}: {message}");
        assert!(message.contains(expected_text), "{tokens}: {message}");
    }
}

#[test]
fn absurd_sizes_are_errors_not_overflows() {
    let errors = errors(quote! {
        struct N {
            input: [65536, 65536, 65536],
            c: Conv2d(65536, 18446744073709551615, 3),
        }
    });
    assert!(!errors.is_empty());
    assert!(
        errors
            .iter()
            .all(|(_, m)| m.contains("larger than") || m.contains("overflow")),
        "{errors:?}"
    );
    let errors = errors_of_huge_linear();
    assert!(
        errors.iter().any(|(_, m)| m.contains("larger than the 2047 MiB")),
        "{errors:?}"
    );
}

fn errors_of_huge_linear() -> Vec<(String, String)> {
    errors(quote! {
        struct N { input: [100000], fc: Linear(100000, 100000) }
    })
}

#[test]
fn every_layer_kind_validates() {
    let model = validate(&spec(quote! {
        struct All {
            input: [4, 16, 16],
            conv: Conv2d(4, 8, 3, padding = 1, dilation = 1, groups = 2, bias = false),
            bn: BatchNorm2d(8, eps = 1e-3),
            relu: ReLU,
            dw: nn.Conv2d(8, 8, (3, 5), stride = (1, 1), padding = (1, 2), groups = 8),
            relu6: ReLU6,
            maxp: MaxPool2d(2),
            minp: MinPool2d(3, stride = 1, padding = 1, dilation = 1),
            avgp: AvgPool2d(2, count_include_pad = False, divisor_override = 3),
            leaky: LeakyReLU(0.2),
            soft: Softmax(dim = 1),
            gap: AdaptiveAvgPool2d(1),
            flatten: Flatten,
            drop: Dropout(p = 0.1),
            fc: Linear(8, 4),
            sig: Sigmoid,
            tanh: Tanh,
        }
    }))
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(model.output(), Shape::Flat(4));
    assert_eq!(model.layers.len(), 16);
}

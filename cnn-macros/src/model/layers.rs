//! Walks the layers in order, tracking the shape that arrives at each, and
//! builds each layer kind with its checks.
//!
//! After an error the arriving shape may be only partly known (a conv whose
//! width does not fit still has known channels). Later checks run on what is
//! known, so one build reports every independent mistake without a cascade of
//! follow-on errors.

// Shape arithmetic on user-written sizes: checked or saturating only.
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

use super::check::{self, WindowFixes, WindowLocs};
use super::memory::MemoryPlan;
use super::shape::{adaptive_max_bin, same_padding, Axis, Rounding};
use super::signature::{bind, Bound};
use super::values::{Hw, Padding, Reader};
use super::{Conv2d, Layer, Model, Op, Shape, Weight, Window, MAX_LAYERS};
use crate::diag::{Diagnostics, Loc};
use crate::spec::{LayerSpec, Located, Spec};
use std::collections::HashMap;

/// The shape arriving at a layer, as far as it is known.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Partial {
    Chw {
        c: Option<u64>,
        hw: Option<Hw<u64>>,
    },
    /// `from` is the CxHxW shape it was flattened from, for messages.
    Flat {
        n: Option<u64>,
        from: Option<[u64; 3]>,
    },
    Unknown,
}

impl Partial {
    fn known(shape: Shape) -> Self {
        match shape {
            Shape::Chw { c, h, w } => Partial::Chw {
                c: Some(c),
                hw: Some(Hw { h, w }),
            },
            Shape::Flat(n) => Partial::Flat { n: Some(n), from: None },
        }
    }

    fn shape(&self) -> Option<Shape> {
        match *self {
            Partial::Chw {
                c: Some(c),
                hw: Some(Hw { h, w }),
            } => Some(Shape::Chw { c, h, w }),
            Partial::Flat { n: Some(n), .. } => Some(Shape::Flat(n)),
            _ => None,
        }
    }

    /// "6x14x14", "120 features", or "an unknown shape".
    fn describe(&self) -> String {
        match *self {
            Partial::Chw {
                c: Some(c),
                hw: Some(Hw { h, w }),
            } => format!("{c}x{h}x{w}"),
            Partial::Chw { c: Some(c), .. } => format!("{c} channels"),
            Partial::Flat { n: Some(n), .. } => format!("{n} features"),
            _ => "a tensor of unknown shape".to_owned(),
        }
    }
}

/// Receptive field of one element, and the input-pixel distance between
/// neighbouring elements, per axis.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Field {
    size: Hw<u64>,
    jump: Hw<u64>,
}

impl Field {
    fn through(self, kernel: Hw<u64>, stride: Hw<u64>) -> Field {
        let grow = |size: u64, jump: u64, k: u64| size.saturating_add(k.saturating_sub(1).saturating_mul(jump));
        Field {
            size: Hw {
                h: grow(self.size.h, self.jump.h, kernel.h),
                w: grow(self.size.w, self.jump.w, kernel.w),
            },
            jump: Hw {
                h: self.jump.h.saturating_mul(stride.h),
                w: self.jump.w.saturating_mul(stride.w),
            },
        }
    }
}

/// What one layer builder produces.
struct Built {
    op: Option<Op>,
    output: Partial,
    weights: Vec<Weight>,
    /// How the layer changes the receptive field: `Some((kernel, stride))`
    /// for windows; element-wise layers keep it; flattening ends it.
    window: Option<(Hw<u64>, Hw<u64>)>,
    description: String,
}

impl Built {
    /// A layer without weights that keeps the receptive field: element-wise
    /// layers, and any layer whose arguments were invalid (`op: None`).
    fn plain(op: Option<Op>, output: Partial, description: String) -> Self {
        Built {
            op,
            output,
            weights: Vec::new(),
            window: None,
            description,
        }
    }

    /// A layer whose arguments were invalid: its errors are reported, and
    /// what is known of its output shape lets later checks run.
    fn invalid(output: Partial) -> Self {
        Built::plain(None, output, String::new())
    }
}

/// What arrives at a layer: its shape and who made it.
struct Arriving {
    shape: Partial,
    /// `None` for the model input.
    producer: Option<String>,
}

impl Arriving {
    /// "pool1 produces" or "the input has", to start a description of it.
    fn produces(&self) -> String {
        match &self.producer {
            Some(name) => format!("{name} produces"),
            None => "the input has".to_owned(),
        }
    }

    /// The full shape, when every dimension is known: `6x14x14`.
    fn known_shape(&self) -> Option<String> {
        self.shape.shape().map(|_| self.shape.describe())
    }
}

fn hw_text(value: Hw<u64>) -> String {
    if value.h == value.w {
        value.h.to_string()
    } else {
        format!("({}, {})", value.h, value.w)
    }
}

fn values(hw: Hw<Located<u64>>) -> Hw<u64> {
    Hw {
        h: hw.h.value,
        w: hw.w.value,
    }
}

pub fn build(spec: &Spec, diags: &mut Diagnostics) -> Option<Model> {
    if let Some(first_extra) = spec.layers.get(MAX_LAYERS) {
        diags.error(
            first_extra.name.loc,
            format!(
                "the model has {} layers; the limit is {MAX_LAYERS}, because generated code and build time grow with every layer",
                spec.layers.len()
            ),
        );
        return None;
    }
    let input = input_shape(spec, diags);
    check_names(&spec.layers, diags);

    let mut tensors = Vec::new();
    let mut arriving = Arriving {
        shape: input.map_or(Partial::Unknown, Partial::known),
        producer: None,
    };
    let mut field = input.and_then(|shape| match shape {
        Shape::Chw { .. } => Some(Field {
            size: Hw::both(1),
            jump: Hw::both(1),
        }),
        Shape::Flat(_) => None,
    });
    tensors.extend(input);
    let mut layers = Vec::new();
    let mut complete = input.is_some();

    for (index, spec_layer) in spec.layers.iter().enumerate() {
        let Some(bound) = bind(spec_layer, diags) else {
            arriving = Arriving {
                shape: Partial::Unknown,
                producer: Some(spec_layer.name.value.clone()),
            };
            complete = false;
            continue;
        };
        let mut reader = Reader {
            bound: &bound,
            diags: &mut *diags,
        };
        let built = build_layer(&mut reader, &arriving);
        field = match (field, built.window, &built.op) {
            (_, _, Some(Op::Flatten) | Some(Op::Linear { .. })) => None,
            (Some(f), Some((kernel, stride)), _) => Some(f.through(kernel, stride)),
            (f, _, _) => f,
        };
        let output_shape = built.output.shape();
        let sized = output_shape.and_then(|shape| {
            check::check_tensor_size(
                diags,
                bound.kind_loc,
                &spec_layer.name.value,
                "the output",
                &shape.dims(),
            )
        });
        let weights_ok = built.weights.iter().all(|w| {
            let what = format!("its {} tensor", w.role);
            check::check_tensor_size(diags, bound.kind_loc, &spec_layer.name.value, &what, &w.shape).is_some()
        });
        match (built.op, output_shape, sized, weights_ok, arriving.shape.shape()) {
            (Some(op), Some(output), Some(_), true, Some(_)) if complete => {
                let (params, macs) = counts(&op, &built.weights, output);
                tensors.push(output);
                layers.push(Layer {
                    name: spec_layer.name.value.clone(),
                    key: spec_layer
                        .key
                        .as_ref()
                        .map_or_else(|| spec_layer.name.value.clone(), |k| k.value.clone()),
                    op,
                    input: index,
                    output: index.saturating_add(1),
                    weights: built.weights,
                    params,
                    macs,
                    receptive_field: field.map(|f| f.size),
                    description: built.description,
                });
            }
            _ => complete = false,
        }
        arriving = Arriving {
            shape: built.output,
            producer: Some(spec_layer.name.value.clone()),
        };
    }

    if !complete || !diags.is_empty() {
        return None;
    }
    let params = layers.iter().try_fold(0u64, |sum, l| sum.checked_add(l.params));
    let macs = layers.iter().try_fold(0u64, |sum, l| sum.checked_add(l.macs));
    let weight_values = layers
        .iter()
        .flat_map(|l| &l.weights)
        .try_fold(0u64, |sum, w| sum.checked_add(w.shape.iter().product()));
    let (Some(params), Some(macs), Some(weight_values)) = (params, macs, weight_values) else {
        diags.error(spec.loc, "the model's parameter or MAC count overflows");
        return None;
    };
    let memory = MemoryPlan::new(&tensors, &layers);
    Some(Model {
        tensors,
        layers,
        memory,
        params,
        macs,
        weight_values,
    })
}

/// Parameters (trainable) and multiply-accumulates of one layer.
fn counts(op: &Op, weights: &[Weight], output: Shape) -> (u64, u64) {
    let params = weights
        .iter()
        .filter(|w| w.trainable)
        .map(|w| w.shape.iter().fold(1u64, |n, d| n.saturating_mul(*d)))
        .fold(0u64, u64::saturating_add);
    // Sizes are bounded by the tensor limit, so these products stay far from
    // u64::MAX; saturating keeps that a fact rather than an assumption.
    let macs = match op {
        // Each output element of a conv reads (in/groups)*kh*kw weights.
        Op::Conv2d(conv) => output
            .numel()
            .saturating_mul(conv.in_channels.checked_div(conv.groups).unwrap_or(0))
            .saturating_mul(conv.kernel.h)
            .saturating_mul(conv.kernel.w),
        Op::Linear {
            in_features,
            out_features,
            ..
        } => in_features.saturating_mul(*out_features),
        _ => 0,
    };
    (params, macs)
}

fn input_shape(spec: &Spec, diags: &mut Diagnostics) -> Option<Shape> {
    let Some(input) = &spec.input else {
        diags.error(
            spec.loc,
            "the model needs its input shape first: `input: [channels, height, width],` (e.g. `input: [1, 28, 28]`)",
        );
        return None;
    };
    let mut ok = true;
    for dim in &input.value {
        if dim.value == 0 {
            diags.error(dim.loc, "input: every dimension must be at least 1");
            ok = false;
        }
    }
    let shape = match input.value.as_slice() {
        [c, h, w] => Shape::Chw {
            c: c.value,
            h: h.value,
            w: w.value,
        },
        [n] => Shape::Flat(n.value),
        other => {
            diags.error(
                input.loc,
                format!(
                    "input: expected [channels, height, width] (or [features] for a flat input), found {} dimensions",
                    other.len()
                ),
            );
            return None;
        }
    };
    let sized = check::check_tensor_size(diags, input.loc, "input", "the input", &shape.dims());
    (ok && sized.is_some()).then_some(shape)
}

/// Layer names become Rust fields and `state_dict` keys: both must be unique.
fn check_names(layers: &[LayerSpec], diags: &mut Diagnostics) {
    let mut names: HashMap<&str, &str> = HashMap::new();
    let mut keys: HashMap<&str, &str> = HashMap::new();
    for layer in layers {
        let name = layer.name.value.as_str();
        if names.insert(name, name).is_some() {
            diags.error(
                layer.name.loc,
                format!("duplicate layer name `{name}`: each layer needs its own name (it is the field and the state_dict key)"),
            );
            continue;
        }
        let (key, key_loc) = match &layer.key {
            Some(key) => {
                if key.value.is_empty() {
                    diags.error(key.loc, format!("{name}: the state_dict key must not be empty"));
                    continue;
                }
                (key.value.as_str(), key.loc)
            }
            None => (name, layer.name.loc),
        };
        if let Some(first) = keys.insert(key, name) {
            diags.error(
                key_loc,
                format!("{name}: state_dict key \"{key}\" is already used by layer `{first}`"),
            );
        }
    }
}

fn build_layer(r: &mut Reader, arriving: &Arriving) -> Built {
    match r.bound.kind {
        "Conv2d" => conv2d(r, arriving),
        "MaxPool2d" | "MinPool2d" | "AvgPool2d" => pool(r, arriving),
        "AdaptiveAvgPool2d" => adaptive_avg_pool(r, arriving),
        "Flatten" => flatten(r, arriving),
        "Linear" => linear(r, arriving),
        "BatchNorm2d" => batch_norm(r, arriving),
        _ => elementwise(r, arriving),
    }
}

/// The spatial part of the arriving shape, or an error if it is flat.
fn spatial(r: &mut Reader, arriving: &Arriving) -> Option<(Option<u64>, Option<Hw<u64>>)> {
    match arriving.shape {
        Partial::Chw { c, hw } => Some((c, hw)),
        Partial::Unknown => None,
        Partial::Flat { .. } => {
            let (layer, kind) = (r.bound.layer, r.bound.kind);
            let message = format!(
                "{layer}: {kind} needs a CxHxW input, but {} {}; spatial layers must come before Flatten",
                arriving.produces(),
                arriving.shape.describe()
            );
            r.diags.error(r.bound.kind_loc, message);
            None
        }
    }
}

fn axes(
    input: Hw<u64>,
    kernel: Hw<u64>,
    stride: Hw<u64>,
    before: Hw<u64>,
    after: Hw<u64>,
    dilation: Hw<u64>,
) -> Hw<Axis> {
    let axis = |i, k, s, b, a, d| Axis {
        input: i,
        kernel: k,
        stride: s,
        pad_before: b,
        pad_after: a,
        dilation: d,
    };
    Hw {
        h: axis(input.h, kernel.h, stride.h, before.h, after.h, dilation.h),
        w: axis(input.w, kernel.w, stride.w, before.w, after.w, dilation.w),
    }
}

fn conv2d(r: &mut Reader, arriving: &Arriving) -> Built {
    let bound: &Bound = r.bound;
    let layer = bound.layer;
    let in_channels = r.size("in_channels", 1, None);
    let out_channels = r.size("out_channels", 1, None);
    let kernel = r.pair("kernel_size", 1, None);
    let stride = r.pair("stride", 1, Some(1));
    let dilation = r.pair("dilation", 1, Some(1));
    let padding = r.padding(true);
    let groups = r.size("groups", 1, Some(1));
    let bias = r.flag("bias", true);
    let rounding = r.rounding(false);
    if let Some(mode) = r.string("padding_mode", "zeros") {
        if mode.value != "zeros" {
            let message = format!(
                "{layer}: padding_mode = \"{}\" is not supported; only \"zeros\" (PyTorch's default) is",
                mode.value
            );
            r.diags.error(mode.loc, message);
        }
    }

    // Padding: "same" and "valid" resolve once kernel and dilation are known.
    let resolved_padding = match (padding, kernel, dilation) {
        (Some(Padding::Explicit(p)), _, _) => Some((values(p), values(p), p.h.loc)),
        (Some(Padding::Valid(loc)), _, _) => Some((Hw::both(0), Hw::both(0), loc)),
        (Some(Padding::Same(loc)), Some(k), Some(d)) => {
            if let Some(s) = stride.filter(|s| s.h.value != 1 || s.w.value != 1) {
                let message = format!(
                    "{layer}: padding = \"same\" needs stride 1 (PyTorch refuses it for strided convolutions), but stride is {}; write the padding as a number",
                    hw_text(values(s))
                );
                r.diags.error(loc, message);
                None
            } else {
                match (same_padding(k.h.value, d.h.value), same_padding(k.w.value, d.w.value)) {
                    (Some((top, bottom)), Some((left, right))) => {
                        Some((Hw { h: top, w: left }, Hw { h: bottom, w: right }, loc))
                    }
                    _ => {
                        r.diags
                            .error(loc, format!("{layer}: padding = \"same\" overflows for this kernel"));
                        None
                    }
                }
            }
        }
        _ => None,
    };

    let mut ok_groups = true;
    if let (Some(g), Some(cin), Some(cout)) = (&groups, &in_channels, &out_channels) {
        ok_groups = check::check_groups(r.diags, layer, g, cin.value, cout.value);
    }

    let mut output_hw = None;
    let mut arriving_ok = true;
    if let Some((c, hw)) = spatial(r, arriving) {
        if let (Some(c), Some(cin)) = (c, &in_channels) {
            let fix = format!("Conv2d({c}, ...)");
            arriving_ok = check::check_channels(
                r.diags,
                layer,
                "in_channels",
                cin,
                &check::Source {
                    channels: c,
                    produces: arriving.produces(),
                    shape: arriving.known_shape(),
                },
                &fix,
            );
        }
        if let (Some(hw), Some(k), Some(s), Some(d), Some((before, after, _)), Some(rounding)) =
            (hw, kernel, stride, dilation, resolved_padding, rounding)
        {
            let locs = WindowLocs {
                kernel: k.h.loc,
                stride: bound.value("stride").map(|v| v.loc),
                kind: bound.kind_loc,
            };
            let axes = axes(hw, values(k), values(s), before, after, values(d));
            let fixes = WindowFixes {
                has_ceil_mode: false,
                max_padding: Hw {
                    h: axes.h.effective_kernel().unwrap_or(1) / 2,
                    w: axes.w.effective_kernel().unwrap_or(1) / 2,
                },
            };
            output_hw = check::check_window(r.diags, layer, axes, rounding, &locs, &fixes);
        }
    } else {
        arriving_ok = !matches!(arriving.shape, Partial::Flat { .. });
    }

    let output = Partial::Chw {
        c: out_channels.as_ref().map(|c| c.value),
        hw: output_hw,
    };
    let (Some(cin), Some(cout), Some(k), Some(s), Some(d), Some((before, after, _)), Some(g), Some(bias)) = (
        in_channels,
        out_channels,
        kernel,
        stride,
        dilation,
        resolved_padding,
        groups,
        bias,
    ) else {
        return Built {
            op: None,
            output,
            weights: Vec::new(),
            window: None,
            description: String::new(),
        };
    };
    let conv = Conv2d {
        in_channels: cin.value,
        out_channels: cout.value,
        kernel: values(k),
        stride: values(s),
        pad_before: before,
        pad_after: after,
        dilation: values(d),
        groups: g.value,
        bias: bias.value,
    };
    let mut weights = vec![Weight {
        role: "weight",
        shape: vec![
            conv.out_channels,
            conv.in_channels.checked_div(conv.groups).unwrap_or(0),
            conv.kernel.h,
            conv.kernel.w,
        ],
        trainable: true,
    }];
    if conv.bias {
        weights.push(Weight {
            role: "bias",
            shape: vec![conv.out_channels],
            trainable: true,
        });
    }
    let description = describe_conv(&conv, matches!(padding, Some(Padding::Same(_))));
    let effective = Hw {
        h: conv
            .dilation
            .h
            .saturating_mul(conv.kernel.h.saturating_sub(1))
            .saturating_add(1),
        w: conv
            .dilation
            .w
            .saturating_mul(conv.kernel.w.saturating_sub(1))
            .saturating_add(1),
    };
    let stride = conv.stride;
    Built {
        op: (ok_groups && arriving_ok).then_some(Op::Conv2d(conv)),
        output,
        weights,
        window: Some((effective, stride)),
        description,
    }
}

fn describe_conv(conv: &Conv2d, same: bool) -> String {
    let mut text = format!(
        "Conv2d({}, {}, kernel_size={}",
        conv.in_channels,
        conv.out_channels,
        hw_text(conv.kernel)
    );
    if conv.stride != Hw::both(1) {
        text.push_str(&format!(", stride={}", hw_text(conv.stride)));
    }
    if same {
        text.push_str(", padding=same");
    } else if conv.pad_before != Hw::both(0) {
        text.push_str(&format!(", padding={}", hw_text(conv.pad_before)));
    }
    if conv.dilation != Hw::both(1) {
        text.push_str(&format!(", dilation={}", hw_text(conv.dilation)));
    }
    if conv.groups != 1 {
        text.push_str(&format!(", groups={}", conv.groups));
    }
    if !conv.bias {
        text.push_str(", bias=False");
    }
    text.push(')');
    text
}

fn pool(r: &mut Reader, arriving: &Arriving) -> Built {
    let bound: &Bound = r.bound;
    let (layer, kind) = (bound.layer, bound.kind);
    let is_avg = kind == "AvgPool2d";
    let kernel = r.pair("kernel_size", 1, None);
    // PyTorch: stride defaults to kernel_size.
    let stride = match bound.value("stride") {
        Some(_) => r.pair("stride", 1, None),
        None => kernel,
    };
    let padding = r.padding(false);
    let dilation = if is_avg {
        Some(Hw::both(Located::new(1, bound.kind_loc)))
    } else {
        r.pair("dilation", 1, Some(1))
    };
    let rounding = r.rounding(true);
    let count_include_pad = if is_avg {
        r.flag("count_include_pad", true)
    } else {
        None
    };
    let divisor_override = if is_avg {
        r.size("divisor_override", 1, Some(0))
    } else {
        None
    };
    if !is_avg {
        r.unsupported_flag("return_indices", false, "the indices are for unpooling during training");
    }
    let padding = match padding {
        Some(Padding::Explicit(p)) => Some(p),
        _ => None,
    };

    let mut padding_ok = true;
    // PyTorch bounds pool padding by the undilated kernel, even with dilation.
    if let (Some(k), Some(p)) = (kernel, padding) {
        let same_axes = values(p).h == values(p).w && values(k).h == values(k).w;
        let axis = if same_axes { "height and width" } else { "height" };
        padding_ok &= check::check_pool_padding(r.diags, layer, &p.h, k.h.value, axis);
        if !same_axes {
            padding_ok &= check::check_pool_padding(r.diags, layer, &p.w, k.w.value, "width");
        }
    }

    let mut output_hw = None;
    let mut channels = None;
    if let Some((c, hw)) = spatial(r, arriving) {
        channels = c;
        if let (Some(hw), Some(k), Some(s), Some(p), Some(d), Some(rounding), true) =
            (hw, kernel, stride, padding, dilation, rounding, padding_ok)
        {
            let locs = WindowLocs {
                kernel: k.h.loc,
                stride: bound.value("stride").map(|v| v.loc),
                kind: bound.kind_loc,
            };
            let axes = axes(hw, values(k), values(s), values(p), values(p), values(d));
            let fixes = WindowFixes {
                has_ceil_mode: true,
                max_padding: Hw {
                    h: axes.h.effective_kernel().unwrap_or(1) / 2,
                    w: axes.w.effective_kernel().unwrap_or(1) / 2,
                },
            };
            output_hw = check::check_window(r.diags, layer, axes, rounding, &locs, &fixes);
        }
    }
    let output = Partial::Chw {
        c: channels,
        hw: output_hw,
    };
    let (Some(k), Some(s), Some(p), Some(d), Some(rounding)) = (kernel, stride, padding, dilation, rounding) else {
        return Built::invalid(output);
    };
    let window = Window {
        kernel: values(k),
        stride: values(s),
        padding: values(p),
        dilation: values(d),
    };
    let mut description = format!("{kind}({}", hw_text(window.kernel));
    if window.stride != window.kernel {
        description.push_str(&format!(", stride={}", hw_text(window.stride)));
    }
    if window.padding != Hw::both(0) {
        description.push_str(&format!(", padding={}", hw_text(window.padding)));
    }
    if window.dilation != Hw::both(1) {
        description.push_str(&format!(", dilation={}", hw_text(window.dilation)));
    }
    if rounding == Rounding::Ceil {
        description.push_str(", ceil_mode=True");
    }
    let effective = Hw {
        h: window
            .dilation
            .h
            .saturating_mul(window.kernel.h.saturating_sub(1))
            .saturating_add(1),
        w: window
            .dilation
            .w
            .saturating_mul(window.kernel.w.saturating_sub(1))
            .saturating_add(1),
    };
    let stride = window.stride;
    let op = match kind {
        "MaxPool2d" => Some(Op::MaxPool2d(window)),
        "MinPool2d" => Some(Op::MinPool2d(window)),
        _ => match (count_include_pad, divisor_override) {
            (Some(count), Some(divisor)) => {
                if !count.value {
                    description.push_str(", count_include_pad=False");
                }
                if divisor.value != 0 {
                    description.push_str(&format!(", divisor_override={}", divisor.value));
                }
                Some(Op::AvgPool2d {
                    window,
                    count_include_pad: count.value,
                    divisor_override: divisor.value,
                })
            }
            _ => None,
        },
    };
    description.push(')');
    Built {
        op: op.filter(|_| padding_ok),
        output,
        weights: Vec::new(),
        window: Some((effective, stride)),
        description,
    }
}

fn adaptive_avg_pool(r: &mut Reader, arriving: &Arriving) -> Built {
    let size = r.pair("output_size", 1, None);
    let mut output = Partial::Chw { c: None, hw: None };
    let mut window = None;
    if let Some((c, hw)) = spatial(r, arriving) {
        output = Partial::Chw {
            c,
            hw: size.map(values),
        };
        if let (Some(hw), Some(size)) = (hw, size) {
            let size = values(size);
            let bin = Hw {
                h: adaptive_max_bin(hw.h, size.h).unwrap_or(hw.h),
                w: adaptive_max_bin(hw.w, size.w).unwrap_or(hw.w),
            };
            // Bins start floor(i*W/out) apart; the widest bin bounds the field.
            let stride = Hw {
                h: hw.h.checked_div(size.h).unwrap_or(1).max(1),
                w: hw.w.checked_div(size.w).unwrap_or(1).max(1),
            };
            window = Some((bin, stride));
        }
    }
    let op = size.map(|s| Op::AdaptiveAvgPool2d(values(s)));
    let description = size.map_or_else(String::new, |s| format!("AdaptiveAvgPool2d({})", hw_text(values(s))));
    Built {
        op,
        output,
        weights: Vec::new(),
        window,
        description,
    }
}

fn flatten(r: &mut Reader, arriving: &Arriving) -> Built {
    let layer = r.bound.layer;
    let start = r.signed("start_dim", 1);
    let end = r.signed("end_dim", -1);
    let mut ok = true;
    if let Some(start) = start.filter(|s| s.value != 1) {
        r.diags.error(
            start.loc,
            format!("{layer}: only start_dim = 1 is supported (dimension 0 is the batch)"),
        );
        ok = false;
    }
    // The last dimension, as PyTorch counts with the batch: 3 for CxHxW, 1 for flat.
    let last = if matches!(arriving.shape, Partial::Flat { .. }) {
        1
    } else {
        3
    };
    if let Some(end) = end.filter(|e| e.value != -1 && e.value != last) {
        r.diags.error(
            end.loc,
            format!(
                "{layer}: only end_dim = -1 (or {last}, the last dimension here) is supported: Flatten merges everything after the batch"
            ),
        );
        ok = false;
    }
    let output = match arriving.shape {
        Partial::Chw {
            c: Some(c),
            hw: Some(Hw { h, w }),
        } => Partial::Flat {
            n: c.checked_mul(h).and_then(|n| n.checked_mul(w)),
            from: Some([c, h, w]),
        },
        Partial::Chw { .. } | Partial::Unknown => Partial::Flat { n: None, from: None },
        flat @ Partial::Flat { .. } => flat,
    };
    Built {
        op: (ok && start.is_some() && end.is_some()).then_some(Op::Flatten),
        output,
        weights: Vec::new(),
        window: None,
        description: "Flatten()".to_owned(),
    }
}

fn linear(r: &mut Reader, arriving: &Arriving) -> Built {
    let layer = r.bound.layer;
    let in_features = r.size("in_features", 1, None);
    let out_features = r.size("out_features", 1, None);
    let bias = r.flag("bias", true);
    let mut ok = true;
    match arriving.shape {
        Partial::Chw { c, hw } => {
            let shape = arriving.shape.describe();
            let flat = match (c, hw) {
                (Some(c), Some(hw)) => format!(" ({shape} = {} features)", c.saturating_mul(hw.h).saturating_mul(hw.w)),
                _ => String::new(),
            };
            let message = format!(
                "{layer}: Linear needs a flat input, but {} {shape}; add `flatten: Flatten,` before `{layer}`{flat}",
                arriving.produces()
            );
            r.diags.error(r.bound.kind_loc, message);
            ok = false;
        }
        Partial::Flat { n: Some(n), from } => {
            if let Some(written) = &in_features {
                let origin = match from {
                    Some([c, h, w]) => match &arriving.producer {
                        Some(name) => format!("{name} flattens {c}x{h}x{w}"),
                        None => format!("the input flattens {c}x{h}x{w}"),
                    },
                    None => arriving.produces(),
                };
                ok = check::check_features(
                    r.diags,
                    layer,
                    written,
                    n,
                    &origin,
                    out_features.as_ref().map(|o| o.value),
                );
            }
        }
        Partial::Flat { n: None, .. } | Partial::Unknown => {}
    }
    let output = Partial::Flat {
        n: out_features.as_ref().map(|o| o.value),
        from: None,
    };
    let (Some(inf), Some(outf), Some(bias)) = (in_features, out_features, bias) else {
        return Built::invalid(output);
    };
    let mut weights = vec![Weight {
        role: "weight",
        shape: vec![outf.value, inf.value],
        trainable: true,
    }];
    if bias.value {
        weights.push(Weight {
            role: "bias",
            shape: vec![outf.value],
            trainable: true,
        });
    }
    let description = if bias.value {
        format!("Linear({}, {})", inf.value, outf.value)
    } else {
        format!("Linear({}, {}, bias=False)", inf.value, outf.value)
    };
    Built {
        op: ok.then_some(Op::Linear {
            in_features: inf.value,
            out_features: outf.value,
            bias: bias.value,
        }),
        output,
        weights,
        window: None,
        description,
    }
}

fn batch_norm(r: &mut Reader, arriving: &Arriving) -> Built {
    let layer = r.bound.layer;
    let features = r.size("num_features", 1, None);
    let eps = r.number("eps", 1e-5);
    let _momentum = r.number("momentum", 0.1);
    let affine = r.flag("affine", true);
    r.unsupported_flag(
        "track_running_stats",
        true,
        "without running statistics, batch norm at inference uses the batch's own statistics",
    );
    if let Some(eps) = eps.as_ref().filter(|e| e.value < 0.0) {
        r.diags.error(
            eps.loc,
            format!("{layer}: eps must not be negative, found {}", eps.value),
        );
    }
    let mut ok = true;
    if let Some((c, _)) = spatial(r, arriving) {
        if let (Some(c), Some(written)) = (c, &features) {
            let fix = format!("BatchNorm2d({c})");
            ok = check::check_channels(
                r.diags,
                layer,
                "num_features",
                written,
                &check::Source {
                    channels: c,
                    produces: arriving.produces(),
                    shape: arriving.known_shape(),
                },
                &fix,
            );
        }
    } else {
        ok = !matches!(arriving.shape, Partial::Flat { .. });
    }
    let (Some(features), Some(eps), Some(affine)) = (features, eps, affine) else {
        return Built::invalid(arriving.shape);
    };
    let c = features.value;
    let mut weights = Vec::new();
    if affine.value {
        weights.push(Weight {
            role: "weight",
            shape: vec![c],
            trainable: true,
        });
        weights.push(Weight {
            role: "bias",
            shape: vec![c],
            trainable: true,
        });
    }
    weights.push(Weight {
        role: "running_mean",
        shape: vec![c],
        trainable: false,
    });
    weights.push(Weight {
        role: "running_var",
        shape: vec![c],
        trainable: false,
    });
    let mut description = format!("BatchNorm2d({c}");
    if eps.value != 1e-5 {
        description.push_str(&format!(", eps={}", eps.value));
    }
    if !affine.value {
        description.push_str(", affine=False");
    }
    description.push(')');
    let eps_value = eps.value;
    let op = (ok && eps_value >= 0.0).then_some(Op::BatchNorm2d {
        features: c,
        eps: eps_value,
        affine: affine.value,
    });
    Built {
        op,
        output: arriving.shape,
        weights,
        window: None,
        description,
    }
}

/// Activations, dropout and softmax: same shape out as in.
fn elementwise(r: &mut Reader, arriving: &Arriving) -> Built {
    let (layer, kind) = (r.bound.layer, r.bound.kind);
    let _inplace = r.flag("inplace", false);
    let op = match kind {
        "ReLU" => Some((Op::ReLU, "ReLU()".to_owned())),
        "ReLU6" => Some((Op::ReLU6, "ReLU6()".to_owned())),
        "Sigmoid" => Some((Op::Sigmoid, "Sigmoid()".to_owned())),
        "Tanh" => Some((Op::Tanh, "Tanh()".to_owned())),
        "LeakyReLU" => r
            .number("negative_slope", 0.01)
            .map(|s| (Op::LeakyReLU(s.value), format!("LeakyReLU(negative_slope={})", s.value))),
        "Dropout" => r.number("p", 0.5).and_then(|p| {
            if (0.0..=1.0).contains(&p.value) {
                Some((Op::Dropout, format!("Dropout(p={})", p.value)))
            } else {
                r.diags.error(
                    p.loc,
                    format!(
                        "{layer}: dropout probability has to be between 0 and 1, but got {}",
                        p.value
                    ),
                );
                None
            }
        }),
        "Softmax" => softmax_dim(r, arriving).map(|()| (Op::Softmax, "Softmax(dim=1)".to_owned())),
        _ => None,
    };
    match op {
        Some((op, description)) => Built::plain(Some(op), arriving.shape, description),
        None => Built::invalid(arriving.shape),
    }
}

/// Softmax runs over the features (flat) or channels (CxHxW): `dim = 1`.
fn softmax_dim(r: &mut Reader, arriving: &Arriving) -> Option<()> {
    let layer = r.bound.layer;
    let dim: Located<i128> = r.signed("dim", 1)?;
    let accepted: &[i128] = match arriving.shape {
        Partial::Flat { .. } => &[1, -1],
        Partial::Chw { .. } => &[1, -3],
        Partial::Unknown => &[1, -1, -3],
    };
    if accepted.contains(&dim.value) {
        return Some(());
    }
    let loc: Loc = dim.loc;
    r.diags.error(
        loc,
        format!(
            "{layer}: Softmax over dim = {} is not supported; it runs over the features or channels, dim = 1",
            dim.value
        ),
    );
    None
}

//! One function per rule. Each reports at the argument the user should change,
//! names the layer, shows the arithmetic with the user's numbers, and suggests
//! a fix.

// Shape arithmetic on user-written sizes: checked or saturating only.
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

use super::shape::{Axis, AxisError, Rounding};
use super::values::Hw;
use super::MAX_TENSOR_BYTES;
use crate::diag::{Diagnostics, Loc};
use crate::spec::Located;

/// Where the window arguments of a conv or pool layer were written.
pub struct WindowLocs {
    pub kernel: Loc,
    /// `None` when the stride was left at its default.
    pub stride: Option<Loc>,
    pub kind: Loc,
}

/// What the user can write to fix a window that does not fit.
pub struct WindowFixes {
    /// `ceil_mode = true` exists (pools).
    pub has_ceil_mode: bool,
    /// Largest padding worth suggesting (pools: half the kernel).
    pub max_padding: Hw<u64>,
}

/// `(W - F + 2P) / S + 1` with the user's numbers; the dilated and the
/// asymmetric ("same") forms when they apply.
fn formula(axis: &Axis) -> String {
    let Axis {
        input: w,
        kernel: k,
        stride: s,
        pad_before: pb,
        pad_after: pa,
        dilation: d,
    } = *axis;
    let padding = if pb == pa {
        format!("2*{pb}")
    } else {
        format!("{pb} + {pa}")
    };
    if d == 1 {
        format!("({w} - {k} + {padding}) / {s} + 1")
    } else {
        format!("({w} + {padding} - {d}*({k} - 1) - 1) / {s} + 1")
    }
}

/// Output size rule for both axes: a whole number, at least 1, no overflow.
/// Returns the output `(h, w)` when both axes are fine.
pub fn check_window(
    diags: &mut Diagnostics,
    layer: &str,
    axes: Hw<Axis>,
    rounding: Rounding,
    locs: &WindowLocs,
    fixes: &WindowFixes,
) -> Option<Hw<u64>> {
    let h = axes.h.output(rounding);
    let w = axes.w.output(rounding);
    if let (Ok(h), Ok(w)) = (h, w) {
        return Some(Hw { h, w });
    }
    // Identical failures on both axes (square input and window) read best as one.
    let same = axes.h == axes.w && h == w;
    let mut report = |axis: &Axis, result: Result<u64, AxisError>, name: &str, max_padding: u64| {
        let Err(error) = result else { return };
        match error {
            AxisError::Overflow => diags.error(
                locs.kind,
                format!("{layer}: output {name} overflows: the sizes in this layer are too large to compute"),
            ),
            AxisError::KernelTooLarge {
                effective_kernel,
                padded_input,
            } => {
                let kernel = if axis.dilation == 1 {
                    format!("kernel {name} {}", axis.kernel)
                } else {
                    format!(
                        "dilated kernel {name} {}*({} - 1) + 1 = {effective_kernel}",
                        axis.dilation, axis.kernel
                    )
                };
                let padded = if axis.pad_before == 0 && axis.pad_after == 0 {
                    format!("{padded_input}")
                } else {
                    format!(
                        "{} + {} + {} = {padded_input}",
                        axis.input, axis.pad_before, axis.pad_after
                    )
                };
                diags.error(
                    locs.kernel,
                    format!(
                        "{layer}: {kernel} is larger than the padded input {name} {padded}, so no window fits; use a kernel of at most {padded_input}, or more padding"
                    ),
                );
            }
            AxisError::NotWhole { span, floor } => {
                // Two decimals show how far from whole the size is, as in
                // CS231n's "2.33 does not fit". Sizes here are small.
                #[allow(clippy::cast_precision_loss)]
                let exact = span as f64 / axis.stride as f64 + 1.0;
                let mut message = format!(
                    "{layer}: output {name} {} = {exact:.2} is not a whole number",
                    formula(axis)
                );
                let strides = axis.strides_that_fit();
                if !strides.is_empty() {
                    let list: Vec<String> = strides.iter().map(u64::to_string).collect();
                    message.push_str(&format!("; strides that fit: {}", list.join(", ")));
                }
                if axis.pad_before == axis.pad_after {
                    if let Some(p) = axis.padding_that_fits(max_padding) {
                        message.push_str(&format!("; or padding = {p} makes stride {} fit", axis.stride));
                    }
                }
                // Where the last floored window ends, in padded coordinates:
                // if it reaches the last input pixel, flooring drops only padding.
                let last_end = floor
                    .saturating_sub(1)
                    .saturating_mul(axis.stride)
                    .saturating_add(axis.effective_kernel().unwrap_or(u64::MAX).saturating_sub(1));
                let drops = if last_end >= axis.pad_before.saturating_add(axis.input).saturating_sub(1) {
                    "only padding"
                } else {
                    "input pixels"
                };
                message.push_str(&format!(
                    "; or add `rounding = \"floor\"` to this layer to drop the remainder as PyTorch does (output {name} {floor}; this drops {drops})"
                ));
                if fixes.has_ceil_mode {
                    message.push_str(&format!(
                        ", or `ceil_mode = true` to round up (output {name} {})",
                        floor.saturating_add(1)
                    ));
                }
                diags.error(locs.stride.unwrap_or(locs.kernel), message);
            }
        }
    };
    if same {
        report(&axes.h, h, "height and width", fixes.max_padding.h);
    } else {
        report(&axes.h, h, "height", fixes.max_padding.h);
        report(&axes.w, w, "width", fixes.max_padding.w);
    }
    None
}

/// The tensor arriving at a layer, for channel messages.
pub struct Source {
    pub channels: u64,
    /// "pool1 produces" or "the input has".
    pub produces: String,
    /// `6x14x14`, when every dimension is known.
    pub shape: Option<String>,
}

/// `in_channels` / `num_features` must equal the channels arriving.
pub fn check_channels(
    diags: &mut Diagnostics,
    layer: &str,
    argument: &str,
    written: &Located<u64>,
    source: &Source,
    fix: &str,
) -> bool {
    if written.value == source.channels {
        return true;
    }
    let shape = source.shape.as_ref().map_or_else(String::new, |s| format!(" ({s})"));
    diags.error(
        written.loc,
        format!(
            "{layer}: {argument} is {}, but {} {} channels{shape}; write {fix}",
            written.value, source.produces, source.channels
        ),
    );
    false
}

/// `in_features` must equal the flattened size arriving.
pub fn check_features(
    diags: &mut Diagnostics,
    layer: &str,
    written: &Located<u64>,
    arriving: u64,
    arriving_from: &str,
    out_features: Option<u64>,
) -> bool {
    if written.value == arriving {
        return true;
    }
    let out = out_features.map_or_else(|| "...".to_owned(), |n| n.to_string());
    diags.error(
        written.loc,
        format!(
            "{layer}: in_features is {}, but {arriving_from} = {arriving} features; write Linear({arriving}, {out})",
            written.value
        ),
    );
    false
}

/// `groups` must divide both channel counts.
pub fn check_groups(
    diags: &mut Diagnostics,
    layer: &str,
    groups: &Located<u64>,
    in_channels: u64,
    out_channels: u64,
) -> bool {
    let g = groups.value;
    let mut bad = Vec::new();
    if !in_channels.is_multiple_of(g) {
        bad.push(format!("in_channels = {in_channels}"));
    }
    if !out_channels.is_multiple_of(g) {
        bad.push(format!("out_channels = {out_channels}"));
    }
    if bad.is_empty() {
        return true;
    }
    let divisors: Vec<String> = (1..=in_channels.min(out_channels).min(4096))
        .filter(|d| in_channels.is_multiple_of(*d) && out_channels.is_multiple_of(*d))
        .map(|d| d.to_string())
        .collect();
    diags.error(
        groups.loc,
        format!(
            "{layer}: groups = {g} does not divide {}; groups that divide both: {}",
            bad.join(" nor "),
            divisors.join(", ")
        ),
    );
    false
}

/// PyTorch's pooling rule: padding at most half the kernel size, so that no
/// window lies entirely in the padding.
pub fn check_pool_padding(
    diags: &mut Diagnostics,
    layer: &str,
    padding: &Located<u64>,
    kernel: u64,
    axis: &str,
) -> bool {
    let limit = kernel / 2;
    if padding.value <= limit {
        return true;
    }
    diags.error(
        padding.loc,
        format!(
            "{layer}: padding {} ({axis}) is more than half the kernel size {kernel}; pooling allows padding <= {kernel} / 2 = {limit}, as in PyTorch",
            padding.value
        ),
    );
    false
}

/// Every tensor must stay within [`MAX_TENSOR_BYTES`].
pub fn check_tensor_size(diags: &mut Diagnostics, loc: Loc, layer: &str, what: &str, dims: &[u64]) -> Option<u64> {
    let numel = dims.iter().try_fold(1u64, |n, d| n.checked_mul(*d));
    let fits = numel
        .and_then(|n| n.checked_mul(4))
        .is_some_and(|bytes| bytes <= MAX_TENSOR_BYTES);
    if fits {
        return numel;
    }
    let shape: Vec<String> = dims.iter().map(u64::to_string).collect();
    diags.error(
        loc,
        format!(
            "{layer}: {what} of shape {} is larger than the {} MiB a tensor may hold",
            shape.join("x"),
            MAX_TENSOR_BYTES / (1024 * 1024)
        ),
    );
    None
}

//! Output-size arithmetic for one spatial axis of a convolution or pooling
//! window. Pure integer functions, table-tested.
//!
//! The rule, for input `W`, kernel `K`, stride `S`, padding `P` on each side
//! (here `before + after`) and dilation `D`:
//!
//! ```text
//! out = (W + before + after - D*(K-1) - 1) / S + 1
//! ```
//!
//! PyTorch floors the division. We reject a remainder unless the layer opts in
//! (`rounding = "floor"`, or `ceil_mode = true` on a pool), because a remainder
//! means input pixels that no window ever reads: usually a mistake.

// Shape arithmetic on user-written sizes: checked or saturating only.
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

/// How a remainder in the output-size division is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// A remainder is an error (our default).
    Exact,
    /// Drop the remainder, as PyTorch does by default.
    Floor,
    /// Round up, as PyTorch pools do with `ceil_mode=True`; a last window that
    /// would start in the bottom/right padding is dropped, as in PyTorch.
    Ceil,
}

/// One spatial axis of a sliding window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Axis {
    pub input: u64,
    pub kernel: u64,
    pub stride: u64,
    pub pad_before: u64,
    pub pad_after: u64,
    pub dilation: u64,
}

/// Why an axis has no valid output size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AxisError {
    /// The dilated kernel is wider than the padded input: no window fits.
    KernelTooLarge { effective_kernel: u64, padded_input: u64 },
    /// `(padded - effective) / stride` leaves a remainder and the layer did not
    /// opt into rounding. `floor` is the size PyTorch would produce.
    NotWhole { span: u64, floor: u64 },
    /// A size exceeds `u64`: only absurd descriptions get here.
    Overflow,
}

impl Axis {
    /// `D*(K-1) + 1`: the extent the dilated kernel covers.
    pub fn effective_kernel(&self) -> Option<u64> {
        self.dilation.checked_mul(self.kernel.checked_sub(1)?)?.checked_add(1)
    }

    /// `W + before + after`.
    pub fn padded_input(&self) -> Option<u64> {
        self.input.checked_add(self.pad_before)?.checked_add(self.pad_after)
    }

    /// The output size under `rounding`. Callers have already checked that
    /// kernel, stride and dilation are at least 1.
    pub fn output(&self, rounding: Rounding) -> Result<u64, AxisError> {
        let effective = self.effective_kernel().ok_or(AxisError::Overflow)?;
        let padded = self.padded_input().ok_or(AxisError::Overflow)?;
        if effective > padded || self.stride == 0 {
            return Err(AxisError::KernelTooLarge {
                effective_kernel: effective,
                padded_input: padded,
            });
        }
        let span = padded.checked_sub(effective).ok_or(AxisError::Overflow)?;
        let floor = span
            .checked_div(self.stride)
            .and_then(|steps| steps.checked_add(1))
            .ok_or(AxisError::Overflow)?;
        if span.is_multiple_of(self.stride) {
            return Ok(floor);
        }
        match rounding {
            Rounding::Exact => Err(AxisError::NotWhole { span, floor }),
            Rounding::Floor => Ok(floor),
            Rounding::Ceil => {
                let ceil = floor.checked_add(1).ok_or(AxisError::Overflow)?;
                // PyTorch: the last window must start inside the input or its
                // leading padding, never entirely in the trailing padding.
                let last_start = floor.checked_mul(self.stride).ok_or(AxisError::Overflow)?;
                let limit = self.input.checked_add(self.pad_before).ok_or(AxisError::Overflow)?;
                Ok(if last_start >= limit { floor } else { ceil })
            }
        }
    }

    /// Strides up to the effective kernel that divide the span exactly: the
    /// suggestions for a `NotWhole` error. (A stride wider than the window would
    /// skip input pixels altogether.)
    pub fn strides_that_fit(&self) -> Vec<u64> {
        let (Some(effective), Some(padded)) = (self.effective_kernel(), self.padded_input()) else {
            return Vec::new();
        };
        let Some(span) = padded.checked_sub(effective) else {
            return Vec::new();
        };
        (1..=effective.min(64))
            .filter(|s| *s != self.stride && span.is_multiple_of(*s))
            .collect()
    }

    /// The smallest symmetric padding up to `max_padding`, other than the
    /// current one, with which the current stride fits exactly.
    pub fn padding_that_fits(&self, max_padding: u64) -> Option<u64> {
        let effective = self.effective_kernel()?;
        (0..=max_padding.min(1 << 16)).find(|p| {
            if *p == self.pad_before && *p == self.pad_after {
                return false;
            }
            let padded = p.checked_mul(2).and_then(|both| self.input.checked_add(both));
            match padded.and_then(|padded| padded.checked_sub(effective)) {
                Some(span) => span.is_multiple_of(self.stride),
                None => false,
            }
        })
    }
}

/// PyTorch's `padding="same"` for one axis: the total `D*(K-1)` split with the
/// extra pixel, for even kernels, at the end (bottom/right).
pub fn same_padding(kernel: u64, dilation: u64) -> Option<(u64, u64)> {
    let total = dilation.checked_mul(kernel.checked_sub(1)?)?;
    let before = total.checked_div(2)?;
    Some((before, total.checked_sub(before)?))
}

/// The PyTorch bins of adaptive average pooling along one axis:
/// `[floor(i*W/out), ceil((i+1)*W/out))`. Returns the widest bin, which sets
/// the receptive field.
pub fn adaptive_max_bin(input: u64, output: u64) -> Option<u64> {
    // One pass per output element: refuse sizes no valid model has (the
    // tensor limit rejects them anyway) rather than loop for hours.
    if output > 1 << 20 {
        return None;
    }
    (0..output)
        .map(|i| {
            let start = i.checked_mul(input)?.checked_div(output)?;
            let end = i.checked_add(1)?.checked_mul(input)?.checked_div(output)?;
            // ceil((i+1)*W/out): one more when the division has a remainder.
            let end = if end.checked_mul(output)? == i.checked_add(1)?.checked_mul(input)? {
                end
            } else {
                end.checked_add(1)?
            };
            end.checked_sub(start)
        })
        .try_fold(0, |widest, bin| Some(widest.max(bin?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use AxisError::*;
    use Rounding::*;

    fn axis(input: u64, kernel: u64, stride: u64, pad: u64, dilation: u64) -> Axis {
        Axis {
            input,
            kernel,
            stride,
            pad_before: pad,
            pad_after: pad,
            dilation,
        }
    }

    #[test]
    fn output_sizes() {
        #[rustfmt::skip]
        let table: &[(Axis, Rounding, Result<u64, AxisError>)] = &[
            // LeNet-5
            (axis(28, 5, 1, 2, 1), Exact, Ok(28)),
            (axis(28, 2, 2, 0, 1), Exact, Ok(14)),
            (axis(14, 5, 1, 0, 1), Exact, Ok(10)),
            (axis(10, 2, 2, 0, 1), Exact, Ok(5)),
            // CS231n: 7x7, 3x3 filter, stride 2 fits; stride 3 does not
            (axis(7, 3, 2, 0, 1), Exact, Ok(3)),
            (axis(7, 3, 3, 0, 1), Exact, Err(NotWhole { span: 4, floor: 2 })),
            (axis(7, 3, 3, 0, 1), Floor, Ok(2)),
            (axis(7, 3, 3, 0, 1), Ceil, Ok(3)),
            (axis(7, 3, 3, 1, 1), Exact, Ok(3)),
            // dilation: effective kernel 5
            (axis(9, 3, 1, 0, 2), Exact, Ok(5)),
            (axis(9, 3, 2, 0, 2), Exact, Ok(3)),
            (axis(8, 3, 2, 0, 2), Exact, Err(NotWhole { span: 3, floor: 2 })),
            (axis(8, 3, 2, 0, 2), Floor, Ok(2)),
            // kernel equal to and wider than the padded input
            (axis(5, 5, 1, 0, 1), Exact, Ok(1)),
            (axis(3, 5, 1, 0, 1), Exact, Err(KernelTooLarge { effective_kernel: 5, padded_input: 3 })),
            (axis(3, 5, 1, 1, 1), Exact, Ok(1)),
            (axis(3, 3, 1, 0, 2), Exact, Err(KernelTooLarge { effective_kernel: 5, padded_input: 3 })),
            // ceil mode: PyTorch drops a last window starting in the trailing padding
            (axis(5, 2, 2, 0, 1), Ceil, Ok(3)),
            (axis(6, 3, 2, 1, 1), Ceil, Ok(4)),
            (axis(5, 2, 2, 1, 1), Ceil, Ok(3)),
            (axis(4, 2, 3, 1, 1), Ceil, Ok(2)),
            (axis(4, 2, 3, 1, 1), Floor, Ok(2)),
            // overflow never panics
            (axis(u64::MAX, 3, 1, 1, 1), Exact, Err(Overflow)),
            (axis(10, u64::MAX, 1, 0, 2), Exact, Err(Overflow)),
        ];
        for (axis, rounding, expected) in table {
            assert_eq!(axis.output(*rounding), *expected, "{axis:?} {rounding:?}");
        }
    }

    #[test]
    fn asymmetric_padding() {
        // "same" for an even kernel: 4 -> total 3, split 1 before, 2 after
        let axis = Axis {
            input: 6,
            kernel: 4,
            stride: 1,
            pad_before: 1,
            pad_after: 2,
            dilation: 1,
        };
        assert_eq!(axis.output(Exact), Ok(6));
    }

    #[test]
    fn same_padding_splits_like_pytorch() {
        #[rustfmt::skip]
        let table = [
            ((3, 1), (1, 1)),
            ((5, 1), (2, 2)),
            ((4, 1), (1, 2)),
            ((2, 1), (0, 1)),
            ((1, 1), (0, 0)),
            ((3, 2), (2, 2)),
            ((4, 3), (4, 5)),
        ];
        for ((kernel, dilation), expected) in table {
            assert_eq!(
                same_padding(kernel, dilation),
                Some(expected),
                "k={kernel} d={dilation}"
            );
        }
    }

    #[test]
    fn suggestions() {
        let cs231n = axis(7, 3, 3, 0, 1);
        assert_eq!(cs231n.strides_that_fit(), vec![1, 2]);
        assert_eq!(cs231n.padding_that_fits(1), Some(1));
        let pool = axis(15, 2, 2, 0, 1);
        assert_eq!(pool.strides_that_fit(), vec![1]);
        assert_eq!(pool.padding_that_fits(1), None);
    }

    #[test]
    fn adaptive_bins() {
        assert_eq!(adaptive_max_bin(7, 1), Some(7));
        assert_eq!(adaptive_max_bin(7, 3), Some(3));
        assert_eq!(adaptive_max_bin(5, 3), Some(3));
        assert_eq!(adaptive_max_bin(6, 3), Some(2));
        assert_eq!(adaptive_max_bin(3, 5), Some(2)); // upsampling bins overlap
    }
}

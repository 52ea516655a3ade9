//! Adaptive average pooling (PyTorch `AdaptiveAvgPool2d`).

use super::window::{product, sum};
use core::ops::Range;

/// The shape of one [`adaptive_avg_pool2d`] call as plain numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdaptivePool2dGeometry {
    /// Channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
}

impl AdaptivePool2dGeometry {
    /// Elements in the input tensor.
    pub const fn input_len(&self) -> usize {
        self.c * self.h * self.w
    }

    /// Elements in the output tensor.
    pub const fn output_len(&self) -> usize {
        self.c * self.oh * self.ow
    }

    /// Whether the kernels can run this geometry; the error names the first
    /// broken rule. An output larger than the input is fine (bins overlap).
    pub const fn check(&self) -> Result<(), &'static str> {
        if self.c == 0 || self.h == 0 || self.w == 0 || self.oh == 0 || self.ow == 0 {
            return Err("adaptive_avg_pool2d: channels and sizes must be at least 1");
        }
        // The bin arithmetic forms `(i + 1) * len` for i < out.
        if product(&[self.c, self.h, self.w]).is_none()
            || product(&[self.c, self.oh, self.ow]).is_none()
            || product(&[self.oh, self.h]).is_none()
            || product(&[self.ow, self.w]).is_none()
        {
            return Err("adaptive_avg_pool2d: sizes overflow usize");
        }
        Ok(())
    }

    /// [`check`](Self::check), panicking with its message: in a `const`
    /// block this turns a bad geometry into a compile error.
    pub const fn assert_valid(&self) {
        if let Err(message) = self.check() {
            panic!("{}", message);
        }
    }
}

/// Adaptive average pooling with PyTorch's bins: output `i` of `out`
/// averages input `floor(i * len / out) .. ceil((i + 1) * len / out)`.
pub fn adaptive_avg_pool2d<const C: usize, const H: usize, const W: usize, const OH: usize, const OW: usize>(
    input: &[[[f32; W]; H]; C],
    output: &mut [[[f32; OW]; OH]; C],
) {
    let geometry = const {
        let geometry = AdaptivePool2dGeometry {
            c: C,
            h: H,
            w: W,
            oh: OH,
            ow: OW,
        };
        geometry.assert_valid();
        geometry
    };
    adaptive_avg_pool2d_kernel(
        &geometry,
        input.as_flattened().as_flattened(),
        output.as_flattened_mut().as_flattened_mut(),
    );
}

/// The run-time-shaped core of [`adaptive_avg_pool2d`], on flat CHW slices.
///
/// Bins may overlap, so this sums each bin directly instead of tap by tap;
/// rows are summed with lane-split accumulators, which makes the common
/// global pool (output 1×1) a vectorised reduction.
///
/// # Panics
///
/// If the geometry fails [`AdaptivePool2dGeometry::check`] or a slice
/// length does not match it; neither can happen through
/// [`adaptive_avg_pool2d`].
#[inline(always)]
pub fn adaptive_avg_pool2d_core(g: &AdaptivePool2dGeometry, input: &[f32], output: &mut [f32]) {
    if let Err(message) = g.check() {
        panic!("{}", message);
    }
    adaptive_avg_pool2d_kernel(g, input, output);
}

/// [`adaptive_avg_pool2d_core`] minus the geometry check: what the shaped wrapper calls,
/// having checked its geometry at compile time. A run-time `check()` call
/// would survive in the wrapper (LLVM does not always inline it) although
/// its result is known, so it is skipped rather than left to the optimiser.
#[inline(always)]
fn adaptive_avg_pool2d_kernel(g: &AdaptivePool2dGeometry, input: &[f32], output: &mut [f32]) {
    assert_eq!(input.len(), g.input_len(), "adaptive_avg_pool2d: input length");
    assert_eq!(output.len(), g.output_len(), "adaptive_avg_pool2d: output length");

    let planes = input.chunks_exact(g.h * g.w);
    for (plane, out) in planes.zip(output.chunks_exact_mut(g.oh * g.ow)) {
        for (oy, out_row) in out.chunks_exact_mut(g.ow).enumerate() {
            let rows = bin(oy, g.oh, g.h);
            let bin_rows = &plane[rows.start * g.w..rows.end * g.w];
            for (ox, o) in out_row.iter_mut().enumerate() {
                let cols = bin(ox, g.ow, g.w);
                // A bin spanning whole rows (global pooling) is one
                // contiguous run: one long reduction instead of a short one
                // per row, whose fixed cost dominated (64x28x28: 9.9 µs).
                let total = if cols.len() == g.w {
                    sum(bin_rows)
                } else {
                    bin_rows.chunks_exact(g.w).map(|row| sum(&row[cols.clone()])).sum()
                };
                // Two divisions, in this order, as PyTorch's CPU kernel does.
                *o = total / rows.len() as f32 / cols.len() as f32;
            }
        }
    }
}

/// Bin `i` of `out` over `len` inputs. Never empty: `floor(i * len / out) <
/// ceil((i + 1) * len / out)` because `len >= 1`; never past `len`.
#[inline(always)]
fn bin(i: usize, out: usize, len: usize) -> Range<usize> {
    (i * len / out)..((i + 1) * len).div_ceil(out)
}

#[cfg(test)]
mod tests {
    extern crate alloc;

    use super::*;
    use crate::kernels::reference;
    use crate::kernels::test_util::{abs, assert_close, data, fill};
    use alloc::vec;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    fn check_against_reference(g: &AdaptivePool2dGeometry, input: &[f32], got: &[f32]) {
        let mut want = vec![0.0; g.output_len()];
        reference::adaptive_avg_pool2d(g, input, &mut want);
        let mut scale = vec![0.0; g.output_len()];
        reference::adaptive_avg_pool2d(g, &abs(input), &mut scale);
        // The largest bin holds ceil(h / oh) + 1 rows by as many columns.
        let terms = (g.h.div_ceil(g.oh) + 1) * (g.w.div_ceil(g.ow) + 1);
        assert_close(got, &want, &scale, terms);
    }

    fn case() -> impl Strategy<Value = (AdaptivePool2dGeometry, Vec<f32>)> {
        (1..=6usize, 1..=12usize, 1..=12usize, 1..=12usize, 1..=12usize)
            .prop_map(|(c, h, w, oh, ow)| AdaptivePool2dGeometry { c, h, w, oh, ow })
            .prop_flat_map(|g| (Just(g), data(g.input_len())))
    }

    proptest! {
        #[test]
        fn core_matches_reference((g, input) in case()) {
            let mut got = vec![f32::NAN; g.output_len()];
            adaptive_avg_pool2d_core(&g, &input, &mut got);
            check_against_reference(&g, &input, &got);
        }
    }

    #[test]
    fn five_to_three_bins_by_hand() {
        // Bins of 5 -> 3: {0,1}, {1,2,3}, {3,4}.
        let input = [[[1.0, 2.0, 3.0, 4.0, 5.0]]];
        let mut out = [[[0.0f32; 3]; 1]; 1];
        adaptive_avg_pool2d::<1, 1, 5, 1, 3>(&input, &mut out);
        assert_eq!(out, [[[1.5, 3.0, 4.5]]]);

        // The same bins on both axes of a 5x5 input holding 10 * row + col.
        let mut input = [[[0.0f32; 5]; 5]; 1];
        for (r, row) in input[0].iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = (10 * r + c) as f32;
            }
        }
        let mut out = [[[0.0f32; 3]; 3]; 1];
        adaptive_avg_pool2d::<1, 5, 5, 3, 3>(&input, &mut out);
        // Mean of 10 * row + col = 10 * mean(rows) + mean(cols).
        let means = [0.5, 2.0, 3.5];
        for (r, row) in out[0].iter().enumerate() {
            for (c, &v) in row.iter().enumerate() {
                assert_eq!(v, 10.0 * means[r] + means[c], "{r} {c}");
            }
        }
    }

    #[test]
    fn wrapper_matches_reference() {
        let mut input = [[[0.0f32; 7]; 7]; 4];
        fill(11, input.as_flattened_mut().as_flattened_mut());
        let flat_in = input.as_flattened().as_flattened();

        let mut out = [[[0.0f32; 3]; 3]; 4];
        adaptive_avg_pool2d::<4, 7, 7, 3, 3>(&input, &mut out);
        let g = AdaptivePool2dGeometry {
            c: 4,
            h: 7,
            w: 7,
            oh: 3,
            ow: 3,
        };
        check_against_reference(&g, flat_in, out.as_flattened().as_flattened());

        // Global pooling, and upsampling (bins overlap and repeat).
        let mut out = [[[0.0f32; 1]; 1]; 4];
        adaptive_avg_pool2d::<4, 7, 7, 1, 1>(&input, &mut out);
        let g = AdaptivePool2dGeometry {
            c: 4,
            h: 7,
            w: 7,
            oh: 1,
            ow: 1,
        };
        check_against_reference(&g, flat_in, out.as_flattened().as_flattened());

        let mut out = [[[0.0f32; 9]; 8]; 4];
        adaptive_avg_pool2d::<4, 7, 7, 8, 9>(&input, &mut out);
        let g = AdaptivePool2dGeometry {
            c: 4,
            h: 7,
            w: 7,
            oh: 8,
            ow: 9,
        };
        check_against_reference(&g, flat_in, out.as_flattened().as_flattened());
    }
}

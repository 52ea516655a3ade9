//! Average pooling (PyTorch `AvgPool2d`).

use super::window::{product, valid_outputs};

/// The shape of one [`avg_pool2d`] call as plain numbers.
///
/// Padding is symmetric, as in PyTorch: `pt` rows above and below, `pl`
/// columns left and right. The bottom/right amount matters here, unlike for
/// max pooling, because it enters the divisor with `count_include_pad`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvgPool2dGeometry {
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
    /// Window height.
    pub kh: usize,
    /// Window width.
    pub kw: usize,
    /// Vertical stride.
    pub sh: usize,
    /// Horizontal stride.
    pub sw: usize,
    /// Padding above and below the input.
    pub pt: usize,
    /// Padding left and right of the input.
    pub pl: usize,
    /// Whether padding counts towards the divisor.
    pub count_include_pad: bool,
    /// The divisor for every window when non-zero (PyTorch's
    /// `divisor_override`).
    pub divisor_override: usize,
}

impl AvgPool2dGeometry {
    /// Elements in the input tensor.
    pub const fn input_len(&self) -> usize {
        self.c * self.h * self.w
    }

    /// Elements in the output tensor.
    pub const fn output_len(&self) -> usize {
        self.c * self.oh * self.ow
    }

    /// Whether the kernels can run this geometry; the error names the first
    /// broken rule. Padding is limited to half the window, as PyTorch does.
    pub const fn check(&self) -> Result<(), &'static str> {
        if self.c == 0 || self.h == 0 || self.w == 0 || self.oh == 0 || self.ow == 0 {
            return Err("avg_pool2d: channels and sizes must be at least 1");
        }
        if self.kh == 0 || self.kw == 0 {
            return Err("avg_pool2d: window sizes must be at least 1");
        }
        if self.sh == 0 || self.sw == 0 {
            return Err("avg_pool2d: strides must be at least 1");
        }
        if self.pt > self.kh / 2 || self.pl > self.kw / 2 {
            return Err("avg_pool2d: padding must be at most half the window size");
        }
        if product(&[self.c, self.h, self.w]).is_none() || product(&[self.c, self.oh, self.ow]).is_none() {
            return Err("avg_pool2d: tensor sizes overflow usize");
        }
        // The divisor arithmetic forms `len + 2 * pad` and
        // `(out - 1) * stride + k`, both below `len + pad + pad + k`.
        if !axis_ok(self.h, self.pt, self.kh, self.sh, self.oh) {
            return Err("avg_pool2d: the last output row's window must start inside the input or its top padding");
        }
        if !axis_ok(self.w, self.pl, self.kw, self.sw, self.ow) {
            return Err("avg_pool2d: the last output column's window must start inside the input or its left padding");
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

/// [`super::window::axis_ok`] with the symmetric padding counted twice in
/// the reach, since the divisor looks at the padding after the input too.
const fn axis_ok(len: usize, pad: usize, k: usize, stride: usize, out: usize) -> bool {
    match pad.checked_add(k) {
        Some(reach) => super::window::axis_ok(len, pad, reach, stride, out),
        None => false,
    }
}

/// Average pooling with PyTorch's `AvgPool2d` semantics exactly.
///
/// Per window: `start = o * S - P`, `end = min(start + K, len + P)`, and
/// the padded size `(end - start)` per axis is taken *before* clipping to
/// the input (so a ceil-mode window running past the bottom padding is not
/// counted in full); then the window is clipped to the input and summed.
/// The divisor is `DIVISOR_OVERRIDE` if non-zero, else the padded size if
/// `COUNT_INCLUDE_PAD`, else the clipped element count.
pub fn avg_pool2d<
    const C: usize,
    const H: usize,
    const W: usize,
    const OH: usize,
    const OW: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const PT: usize,
    const PL: usize,
    const COUNT_INCLUDE_PAD: bool,
    const DIVISOR_OVERRIDE: usize,
>(
    input: &[[[f32; W]; H]; C],
    output: &mut [[[f32; OW]; OH]; C],
) {
    let geometry = const {
        let geometry = AvgPool2dGeometry {
            c: C,
            h: H,
            w: W,
            oh: OH,
            ow: OW,
            kh: KH,
            kw: KW,
            sh: SH,
            sw: SW,
            pt: PT,
            pl: PL,
            count_include_pad: COUNT_INCLUDE_PAD,
            divisor_override: DIVISOR_OVERRIDE,
        };
        geometry.assert_valid();
        geometry
    };
    avg_pool2d_kernel(
        &geometry,
        input.as_flattened().as_flattened(),
        output.as_flattened_mut().as_flattened_mut(),
    );
}

/// The run-time-shaped core of [`avg_pool2d`], on flat CHW slices.
///
/// Sums tap by tap over whole output rows (the same vectorisable shape as
/// the convolution), then divides each sum; the divisor factorises into a
/// row part and a column part, both cheap integer arithmetic.
///
/// # Panics
///
/// If the geometry fails [`AvgPool2dGeometry::check`] or a slice length
/// does not match it; neither can happen through [`avg_pool2d`].
#[inline(always)]
pub fn avg_pool2d_core(g: &AvgPool2dGeometry, input: &[f32], output: &mut [f32]) {
    if let Err(message) = g.check() {
        panic!("{}", message);
    }
    avg_pool2d_kernel(g, input, output);
}

/// [`avg_pool2d_core`] minus the geometry check: what the shaped wrapper calls,
/// having checked its geometry at compile time. A run-time `check()` call
/// would survive in the wrapper (LLVM does not always inline it) although
/// its result is known, so it is skipped rather than left to the optimiser.
#[inline(always)]
fn avg_pool2d_kernel(g: &AvgPool2dGeometry, input: &[f32], output: &mut [f32]) {
    assert_eq!(input.len(), g.input_len(), "avg_pool2d: input length");
    assert_eq!(output.len(), g.output_len(), "avg_pool2d: output length");

    let planes = input.chunks_exact(g.h * g.w);
    for (plane, out) in planes.zip(output.chunks_exact_mut(g.oh * g.ow)) {
        out.fill(0.0);
        for ky in 0..g.kh {
            let rows = valid_outputs(ky, g.pt, g.sh, g.h, g.oh);
            for kx in 0..g.kw {
                let cols = valid_outputs(kx, g.pl, g.sw, g.w, g.ow);
                if cols.is_empty() {
                    continue;
                }
                let ix0 = cols.start * g.sw + kx - g.pl;
                for oy in rows.clone() {
                    let iy = oy * g.sh + ky - g.pt;
                    let in_row = &plane[iy * g.w..][..g.w];
                    let out_row = &mut out[oy * g.ow..][..g.ow][cols.clone()];
                    if g.sw == 1 {
                        let in_row = &in_row[ix0..][..out_row.len()];
                        for (o, &x) in out_row.iter_mut().zip(in_row) {
                            *o += x;
                        }
                    } else {
                        let in_row = in_row[ix0..].iter().step_by(g.sw);
                        for (o, &x) in out_row.iter_mut().zip(in_row) {
                            *o += x;
                        }
                    }
                }
            }
        }
        for (oy, out_row) in out.chunks_exact_mut(g.ow).enumerate() {
            let (rows_padded, rows) = extent(oy, g.sh, g.pt, g.kh, g.h);
            for (ox, o) in out_row.iter_mut().enumerate() {
                let (cols_padded, cols) = extent(ox, g.sw, g.pl, g.kw, g.w);
                let divisor = if g.divisor_override != 0 {
                    g.divisor_override
                } else if g.count_include_pad {
                    rows_padded * cols_padded
                } else {
                    rows * cols
                };
                // PyTorch writes 0 for a window with no input element; the
                // check rules such windows out, but never divide by zero.
                *o = if rows == 0 || cols == 0 {
                    0.0
                } else {
                    *o / divisor as f32
                };
            }
        }
    }
}

/// The window of output `o` along one axis: (size within the padded input,
/// elements inside the input). Works in coordinates shifted by `pad` so that
/// nothing goes negative: the window is `[o * s, o * s + k)` in a padded
/// axis of `len + 2 * pad`, and the input occupies `[pad, pad + len)`.
#[inline(always)]
fn extent(o: usize, s: usize, pad: usize, k: usize, len: usize) -> (usize, usize) {
    let start = o * s;
    let end = (start + k).min(len + 2 * pad);
    let padded = end.saturating_sub(start);
    let inside = end.min(pad + len).saturating_sub(start.max(pad));
    (padded, inside)
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

    /// PyTorch's `pooling_output_shape` (dilation 1, symmetric padding).
    fn pooled_len(len: usize, k: usize, s: usize, p: usize, ceil: bool) -> usize {
        let numerator = len + 2 * p - k + if ceil { s - 1 } else { 0 };
        let mut out = numerator / s + 1;
        if ceil && (out - 1) * s >= len + p {
            out -= 1;
        }
        out
    }

    fn axis() -> impl Strategy<Value = (usize, usize, usize, usize, usize)> {
        (1..=5usize, 1..=3usize, any::<bool>())
            .prop_flat_map(|(k, s, ceil)| (Just((k, s, ceil)), 0..=k / 2))
            .prop_flat_map(|((k, s, ceil), p)| {
                let min_len = k.saturating_sub(2 * p).max(1);
                (Just((k, s, ceil, p)), min_len..=min_len.max(12))
            })
            .prop_map(|((k, s, ceil, p), len)| (k, s, p, len, pooled_len(len, k, s, p, ceil)))
    }

    fn case() -> impl Strategy<Value = (AvgPool2dGeometry, Vec<f32>)> {
        let divisor = prop_oneof![3 => Just(0usize), 1 => 1..=10usize];
        (1..=6usize, axis(), axis(), any::<bool>(), divisor)
            .prop_map(
                |(c, (kh, sh, pt, h, oh), (kw, sw, pl, w, ow), count_include_pad, divisor_override)| {
                    AvgPool2dGeometry {
                        c,
                        h,
                        w,
                        oh,
                        ow,
                        kh,
                        kw,
                        sh,
                        sw,
                        pt,
                        pl,
                        count_include_pad,
                        divisor_override,
                    }
                },
            )
            .prop_flat_map(|g| (Just(g), data(g.input_len())))
    }

    /// Compares with the reference; the scale is the reference on absolute
    /// values (the divisor applies to both alike).
    fn check_against_reference(g: &AvgPool2dGeometry, input: &[f32], got: &[f32]) {
        let mut want = vec![0.0; g.output_len()];
        reference::avg_pool2d(g, input, &mut want);
        let mut scale = vec![0.0; g.output_len()];
        reference::avg_pool2d(g, &abs(input), &mut scale);
        assert_close(got, &want, &scale, g.kh * g.kw);
    }

    proptest! {
        #[test]
        fn core_matches_reference((g, input) in case()) {
            prop_assert!(g.check().is_ok(), "{:?}", g.check());
            let mut got = vec![f32::NAN; g.output_len()];
            avg_pool2d_core(&g, &input, &mut got);
            check_against_reference(&g, &input, &got);
        }
    }

    #[test]
    fn padding_and_divisor_by_hand() {
        // 3x3 input, window 2, stride 2, padding 1: the windows hold 1, 2,
        // 2 and 4 input elements, each out of 4 padded positions.
        let input = [[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]];
        let mut out = [[[0.0f32; 2]; 2]; 1];
        avg_pool2d::<1, 3, 3, 2, 2, 2, 2, 2, 2, 1, 1, true, 0>(&input, &mut out);
        assert_eq!(out, [[[1.0 / 4.0, 5.0 / 4.0], [11.0 / 4.0, 28.0 / 4.0]]]);
        avg_pool2d::<1, 3, 3, 2, 2, 2, 2, 2, 2, 1, 1, false, 0>(&input, &mut out);
        assert_eq!(out, [[[1.0, 5.0 / 2.0], [11.0 / 2.0, 28.0 / 4.0]]]);
        avg_pool2d::<1, 3, 3, 2, 2, 2, 2, 2, 2, 1, 1, true, 3>(&input, &mut out);
        assert_eq!(out, [[[1.0 / 3.0, 5.0 / 3.0], [11.0 / 3.0, 28.0 / 3.0]]]);
    }

    #[test]
    fn ceil_mode_overhang_is_not_counted_by_hand() {
        // 3x3, window 2, stride 2, no padding, ceil mode: the second window
        // starts at 2 and is cut at len + pad = 3, so its padded size is 1,
        // not 2, even with count_include_pad.
        let input = [[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]];
        let mut out = [[[0.0f32; 2]; 2]; 1];
        avg_pool2d::<1, 3, 3, 2, 2, 2, 2, 2, 2, 0, 0, true, 0>(&input, &mut out);
        assert_eq!(out, [[[12.0 / 4.0, 9.0 / 2.0], [15.0 / 2.0, 9.0]]]);

        // 4x4 (values 0..16), window 3, stride 2, padding 1, ceil mode:
        // 3 outputs per axis, the last window starting at row/col 3 and
        // reaching into the bottom padding (size 2 of 3).
        let mut input = [[[0.0f32; 4]; 4]; 1];
        for (i, v) in input.as_flattened_mut().as_flattened_mut().iter_mut().enumerate() {
            *v = i as f32;
        }
        let mut out = [[[0.0f32; 3]; 3]; 1];
        avg_pool2d::<1, 4, 4, 3, 3, 3, 3, 2, 2, 1, 1, true, 0>(&input, &mut out);
        // Top-left: rows/cols {0,1} of a 3x3 padded window.
        assert_eq!(out[0][0][0], (0.0 + 1.0 + 4.0 + 5.0) / 9.0);
        // Bottom-right: element 15 alone, in a 2x2 padded window.
        assert_eq!(out[0][2][2], 15.0 / 4.0);
        // Middle-right: rows {1,2,3}, col {3}, padded 3x2.
        assert_eq!(out[0][1][2], (7.0 + 11.0 + 15.0) / 6.0);
        avg_pool2d::<1, 4, 4, 3, 3, 3, 3, 2, 2, 1, 1, false, 0>(&input, &mut out);
        assert_eq!(out[0][0][0], 10.0 / 4.0);
        assert_eq!(out[0][2][2], 15.0);
        assert_eq!(out[0][1][2], 33.0 / 3.0);
    }

    #[test]
    fn wrapper_matches_reference() {
        let mut input = [[[0.0f32; 13]; 10]; 3];
        fill(9, input.as_flattened_mut().as_flattened_mut());
        let flat_in = input.as_flattened().as_flattened();

        // Window 3, stride 2, padding 1, floor mode.
        assert_eq!((pooled_len(10, 3, 2, 1, false), pooled_len(13, 3, 2, 1, false)), (5, 7));
        let mut out = [[[0.0f32; 7]; 5]; 3];
        avg_pool2d::<3, 10, 13, 5, 7, 3, 3, 2, 2, 1, 1, false, 0>(&input, &mut out);
        let g = AvgPool2dGeometry {
            c: 3,
            h: 10,
            w: 13,
            oh: 5,
            ow: 7,
            kh: 3,
            kw: 3,
            sh: 2,
            sw: 2,
            pt: 1,
            pl: 1,
            count_include_pad: false,
            divisor_override: 0,
        };
        check_against_reference(&g, flat_in, out.as_flattened().as_flattened());

        // Rows: window 2, stride 3, ceil mode, the last window overhanging;
        // columns: window 3, stride 1.
        assert_eq!((pooled_len(10, 2, 3, 0, true), pooled_len(10, 2, 3, 0, false)), (4, 3));
        assert_eq!(pooled_len(13, 3, 1, 0, false), 11);
        let mut out = [[[0.0f32; 11]; 4]; 3];
        avg_pool2d::<3, 10, 13, 4, 11, 2, 3, 3, 1, 0, 0, true, 0>(&input, &mut out);
        let g = AvgPool2dGeometry {
            c: 3,
            h: 10,
            w: 13,
            oh: 4,
            ow: 11,
            kh: 2,
            kw: 3,
            sh: 3,
            sw: 1,
            pt: 0,
            pl: 0,
            count_include_pad: true,
            divisor_override: 0,
        };
        check_against_reference(&g, flat_in, out.as_flattened().as_flattened());
        // The overhanging row window holds one row, so it is divided by 1 * 3.
        let last: f32 = (0..3).map(|x| input[0][9][x]).sum();
        assert_eq!(out[0][3][0], last / 3.0);
    }

    #[test]
    fn check_rejects_bad_geometries() {
        let good = AvgPool2dGeometry {
            c: 1,
            h: 4,
            w: 4,
            oh: 2,
            ow: 2,
            kh: 2,
            kw: 2,
            sh: 2,
            sw: 2,
            pt: 1,
            pl: 1,
            count_include_pad: true,
            divisor_override: 0,
        };
        assert_eq!(good.check(), Ok(()));
        for g in [
            AvgPool2dGeometry { pl: 2, ..good },
            AvgPool2dGeometry { sh: 0, ..good },
            AvgPool2dGeometry { oh: 4, ..good },
            AvgPool2dGeometry { kh: usize::MAX, ..good },
        ] {
            assert!(g.check().is_err(), "{g:?}");
        }
    }
}

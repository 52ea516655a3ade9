//! Max and min pooling (PyTorch `MaxPool2d`, and its mirror image).

mod pool2x2;
#[cfg(target_arch = "x86_64")]
mod x86;

use super::isa::{self, Isa};
use super::window::{axis_ok, mul_add, product, valid_outputs};

/// The shape of one [`max_pool2d`] or [`min_pool2d`] call as plain numbers.
///
/// Padding is PyTorch's symmetric `padding`, but only the top/left amount
/// matters: a window only ever counts the elements inside the input, so the
/// bottom/right extent (including ceil mode's overhang) is implied by the
/// output size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dGeometry {
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
    /// Padding above the input.
    pub pt: usize,
    /// Padding left of the input.
    pub pl: usize,
    /// Vertical dilation.
    pub dh: usize,
    /// Horizontal dilation.
    pub dw: usize,
}

impl Pool2dGeometry {
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
            return Err("pool2d: channels and sizes must be at least 1");
        }
        if self.kh == 0 || self.kw == 0 {
            return Err("pool2d: window sizes must be at least 1");
        }
        if self.sh == 0 || self.sw == 0 {
            return Err("pool2d: strides must be at least 1");
        }
        if self.dh == 0 || self.dw == 0 {
            return Err("pool2d: dilations must be at least 1");
        }
        if self.pt > self.kh / 2 || self.pl > self.kw / 2 {
            return Err("pool2d: padding must be at most half the window size");
        }
        if product(&[self.c, self.h, self.w]).is_none() || product(&[self.c, self.oh, self.ow]).is_none() {
            return Err("pool2d: tensor sizes overflow usize");
        }
        let (Some(reach_h), Some(reach_w)) = (mul_add(self.kh - 1, self.dh, 0), mul_add(self.kw - 1, self.dw, 0))
        else {
            return Err("pool2d: window extent overflows usize");
        };
        if !axis_ok(self.h, self.pt, reach_h, self.sh, self.oh) {
            return Err("pool2d: the last output row's window must start inside the input or its top padding");
        }
        if !axis_ok(self.w, self.pl, reach_w, self.sw, self.ow) {
            return Err("pool2d: the last output column's window must start inside the input or its left padding");
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

/// Max pooling, PyTorch semantics.
///
/// Padding never wins (it acts as -inf), NaN propagates (a window holding a
/// NaN gives NaN), and windows may run past the bottom/right of the input
/// (ceil mode): only in-range elements count. A window that sees nothing but
/// padding, possible with dilation, gives -inf, as in PyTorch.
pub fn max_pool2d<
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
    const DH: usize,
    const DW: usize,
>(
    input: &[[[f32; W]; H]; C],
    output: &mut [[[f32; OW]; OH]; C],
) {
    extreme_pool2d::<true, C, H, W, OH, OW, KH, KW, SH, SW, PT, PL, DH, DW>(input, output);
}

/// Min pooling: the minimum over each window. Padding never wins (it acts
/// as +inf) and NaN propagates; otherwise exactly like [`max_pool2d`].
pub fn min_pool2d<
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
    const DH: usize,
    const DW: usize,
>(
    input: &[[[f32; W]; H]; C],
    output: &mut [[[f32; OW]; OH]; C],
) {
    extreme_pool2d::<false, C, H, W, OH, OW, KH, KW, SH, SW, PT, PL, DH, DW>(input, output);
}

/// The body both max and min pooling share: the geometry, checked at compile
/// time, and the dispatch to the kernel for the instruction set.
#[inline(always)]
fn extreme_pool2d<
    const IS_MAX: bool,
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
    const DH: usize,
    const DW: usize,
>(
    input: &[[[f32; W]; H]; C],
    output: &mut [[[f32; OW]; OH]; C],
) {
    let geometry = const {
        let geometry = Pool2dGeometry {
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
            dh: DH,
            dw: DW,
        };
        geometry.assert_valid();
        geometry
    };
    // Geometry checked at compile time above, so no run-time check.
    pool_dispatch::<IS_MAX>(
        &geometry,
        input.as_flattened().as_flattened(),
        output.as_flattened_mut().as_flattened_mut(),
    );
}

/// The run-time-shaped core of [`max_pool2d`], on flat CHW slices.
///
/// # Panics
///
/// If the geometry fails [`Pool2dGeometry::check`] or a slice length does
/// not match it; neither can happen through [`max_pool2d`].
#[inline(always)]
pub fn max_pool2d_core(g: &Pool2dGeometry, input: &[f32], output: &mut [f32]) {
    if let Err(message) = g.check() {
        panic!("{}", message);
    }
    pool_dispatch::<true>(g, input, output);
}

/// The run-time-shaped core of [`min_pool2d`], on flat CHW slices.
///
/// # Panics
///
/// If the geometry fails [`Pool2dGeometry::check`] or a slice length does
/// not match it; neither can happen through [`min_pool2d`].
#[inline(always)]
pub fn min_pool2d_core(g: &Pool2dGeometry, input: &[f32], output: &mut [f32]) {
    if let Err(message) = g.check() {
        panic!("{}", message);
    }
    pool_dispatch::<false>(g, input, output);
}

/// Max (`MAX`) or min pooling of a checked geometry: the vector 2×2
/// stride-2 kernel when it fits and the CPU has AVX-512F or AVX2 (see
/// [`super::isa`]), else the portable [`pool_kernel`].
#[inline(always)]
fn pool_dispatch<const MAX: bool>(g: &Pool2dGeometry, input: &[f32], output: &mut [f32]) {
    if pool2x2::fits(g) {
        assert_eq!(input.len(), g.input_len(), "pool2d: input length");
        assert_eq!(output.len(), g.output_len(), "pool2d: output length");
        match isa::active() {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `isa::active` returns Avx512 only if the CPU has AVX-512F.
            Isa::Avx512 => return unsafe { x86::pool2x2_avx512::<MAX>(g, input, output) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `isa::active` returns Avx2 only if the CPU has AVX2 and FMA.
            Isa::Avx2 => return unsafe { x86::pool2x2_avx2::<MAX>(g, input, output) },
            _ => {}
        }
    }
    if MAX {
        pool_kernel(g, input, output, f32::NEG_INFINITY, max_pick);
    } else {
        pool_kernel(g, input, output, f32::INFINITY, min_pick);
    }
}

/// PyTorch's max step, `val > max || isnan(val)`: once the running value is
/// NaN nothing compares greater, so NaN sticks. `f32::max` would drop it.
#[inline(always)]
pub(crate) fn max_pick(acc: f32, x: f32) -> f32 {
    if x > acc || x.is_nan() {
        x
    } else {
        acc
    }
}

/// The mirror image of [`max_pick`].
#[inline(always)]
fn min_pick(acc: f32, x: f32) -> f32 {
    if x < acc || x.is_nan() {
        x
    } else {
        acc
    }
}

/// Folds every window with `pick`, starting from `identity`; the geometry
/// must already be checked (at compile time by the wrappers, at run time by
/// the `*_core` functions), since a run-time check would not always fold
/// away here.
///
/// Like the convolution, it works tap by tap over whole output rows with the
/// valid column range solved up front, so padding is simply never visited
/// (it can never win) and the inner loop is a branch-free select.
#[inline(always)]
fn pool_kernel(g: &Pool2dGeometry, input: &[f32], output: &mut [f32], identity: f32, pick: impl Fn(f32, f32) -> f32) {
    assert_eq!(input.len(), g.input_len(), "pool2d: input length");
    assert_eq!(output.len(), g.output_len(), "pool2d: output length");

    let planes = input.chunks_exact(g.h * g.w);
    for (plane, out) in planes.zip(output.chunks_exact_mut(g.oh * g.ow)) {
        out.fill(identity);
        for ky in 0..g.kh {
            let rows = valid_outputs(ky * g.dh, g.pt, g.sh, g.h, g.oh);
            for kx in 0..g.kw {
                let cols = valid_outputs(kx * g.dw, g.pl, g.sw, g.w, g.ow);
                if cols.is_empty() {
                    continue;
                }
                let ix0 = cols.start * g.sw + kx * g.dw - g.pl;
                for oy in rows.clone() {
                    let iy = oy * g.sh + ky * g.dh - g.pt;
                    let in_row = &plane[iy * g.w..][..g.w];
                    let out_row = &mut out[oy * g.ow..][..g.ow][cols.clone()];
                    if g.sw == 1 {
                        let in_row = &in_row[ix0..][..out_row.len()];
                        for (o, &x) in out_row.iter_mut().zip(in_row) {
                            *o = pick(*o, x);
                        }
                    } else {
                        let in_row = in_row[ix0..].iter().step_by(g.sw);
                        for (o, &x) in out_row.iter_mut().zip(in_row) {
                            *o = pick(*o, x);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate alloc;

    use super::*;
    use crate::kernels::isa::for_each_isa;
    use crate::kernels::reference;
    use crate::kernels::test_util::{assert_same, fill, special_data};
    use alloc::vec;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    const NAN: f32 = f32::NAN;
    const INF: f32 = f32::INFINITY;

    /// 2×2 stride-2 geometries: up to 4 channels, rows up to 40 outputs wide
    /// (whole vectors and tails), odd input sizes (last row or column
    /// unused), special values mixed in.
    fn pool2x2_case() -> impl Strategy<Value = (Pool2dGeometry, Vec<f32>)> {
        (1..=4usize, 1..=9usize, 1..=40usize, 0..=1usize, 0..=1usize)
            .prop_map(|(c, oh, ow, extra_h, extra_w)| Pool2dGeometry {
                c,
                h: 2 * oh + extra_h,
                w: 2 * ow + extra_w,
                oh,
                ow,
                kh: 2,
                kw: 2,
                sh: 2,
                sw: 2,
                pt: 0,
                pl: 0,
                dh: 1,
                dw: 1,
            })
            .prop_flat_map(|g| (Just(g), special_data(g.input_len())))
    }

    /// Max and min pooling on every instruction set, against the reference.
    fn check_all_isas(g: &Pool2dGeometry, input: &[f32]) {
        for_each_isa(|_| {
            let mut got = vec![0.0; g.output_len()];
            let mut want = vec![0.0; g.output_len()];
            max_pool2d_core(g, input, &mut got);
            reference::max_pool2d(g, input, &mut want);
            assert_same(&got, &want);
            min_pool2d_core(g, input, &mut got);
            reference::min_pool2d(g, input, &mut want);
            assert_same(&got, &want);
        });
    }

    /// PyTorch's `pooling_output_shape` (symmetric padding).
    pub(crate) fn pooled_len(len: usize, k: usize, s: usize, p: usize, d: usize, ceil: bool) -> usize {
        let span = d * (k - 1) + 1;
        let numerator = len + 2 * p - span + if ceil { s - 1 } else { 0 };
        let mut out = numerator / s + 1;
        if ceil && (out - 1) * s >= len + p {
            out -= 1;
        }
        out
    }

    /// (k, s, d, p, len, out) for one axis, floor or ceil mode.
    fn axis() -> impl Strategy<Value = (usize, usize, usize, usize, usize, usize)> {
        (1..=5usize, 1..=3usize, 1..=3usize, any::<bool>())
            .prop_flat_map(|(k, s, d, ceil)| (Just((k, s, d, ceil)), 0..=k / 2))
            .prop_flat_map(|((k, s, d, ceil), p)| {
                let span = d * (k - 1) + 1;
                let min_len = span.saturating_sub(2 * p).max(1);
                (Just((k, s, d, ceil, p)), min_len..=min_len.max(12))
            })
            .prop_map(|((k, s, d, ceil, p), len)| (k, s, d, p, len, pooled_len(len, k, s, p, d, ceil)))
    }

    fn case() -> impl Strategy<Value = (Pool2dGeometry, Vec<f32>)> {
        (1..=6usize, axis(), axis())
            .prop_map(|(c, (kh, sh, dh, pt, h, oh), (kw, sw, dw, pl, w, ow))| Pool2dGeometry {
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
                dh,
                dw,
            })
            .prop_flat_map(|g| (Just(g), special_data(g.input_len())))
    }

    proptest! {
        #[test]
        fn max_core_matches_reference((g, input) in case()) {
            prop_assert!(g.check().is_ok(), "{:?}", g.check());
            check_all_isas(&g, &input);
        }

        #[test]
        fn min_core_matches_reference((g, input) in case()) {
            prop_assert!(g.check().is_ok(), "{:?}", g.check());
            check_all_isas(&g, &input);
        }

        /// The vector 2×2 stride-2 path: rows of any width (whole vectors
        /// and tails), odd input sizes (last row or column unused), special
        /// values everywhere.
        #[test]
        fn pool2x2_matches_reference((g, input) in pool2x2_case()) {
            prop_assert!(g.check().is_ok() && pool2x2::fits(&g));
            check_all_isas(&g, &input);
        }
    }

    #[test]
    fn wrappers_match_reference() {
        for_each_isa(|_| wrappers_match_reference_once());
    }

    fn wrappers_match_reference_once() {
        // LeNet's 2x2 pool, then a 3x3 stride-2 pad-1 ceil-mode pool whose
        // last window overhangs (ResNet stem style), then a dilated one.
        let mut input = [[[0.0f32; 28]; 28]; 6];
        fill(7, input.as_flattened_mut().as_flattened_mut());
        let flat_in = input.as_flattened().as_flattened();

        let mut out = [[[0.0f32; 14]; 14]; 6];
        max_pool2d::<6, 28, 28, 14, 14, 2, 2, 2, 2, 0, 0, 1, 1>(&input, &mut out);
        let g = Pool2dGeometry {
            c: 6,
            h: 28,
            w: 28,
            oh: 14,
            ow: 14,
            kh: 2,
            kw: 2,
            sh: 2,
            sw: 2,
            pt: 0,
            pl: 0,
            dh: 1,
            dw: 1,
        };
        let mut want = vec![0.0; g.output_len()];
        reference::max_pool2d(&g, flat_in, &mut want);
        assert_same(out.as_flattened().as_flattened(), &want);

        assert_eq!(pooled_len(28, 3, 2, 1, 1, true), 15);
        let mut out = [[[0.0f32; 15]; 15]; 6];
        min_pool2d::<6, 28, 28, 15, 15, 3, 3, 2, 2, 1, 1, 1, 1>(&input, &mut out);
        let g = Pool2dGeometry {
            c: 6,
            h: 28,
            w: 28,
            oh: 15,
            ow: 15,
            kh: 3,
            kw: 3,
            sh: 2,
            sw: 2,
            pt: 1,
            pl: 1,
            dh: 1,
            dw: 1,
        };
        let mut want = vec![0.0; g.output_len()];
        reference::min_pool2d(&g, flat_in, &mut want);
        assert_same(out.as_flattened().as_flattened(), &want);

        assert_eq!(pooled_len(28, 3, 3, 1, 2, false), 9);
        let mut out = [[[0.0f32; 9]; 9]; 6];
        max_pool2d::<6, 28, 28, 9, 9, 3, 3, 3, 3, 1, 1, 2, 2>(&input, &mut out);
        let g = Pool2dGeometry {
            c: 6,
            h: 28,
            w: 28,
            oh: 9,
            ow: 9,
            kh: 3,
            kw: 3,
            sh: 3,
            sw: 3,
            pt: 1,
            pl: 1,
            dh: 2,
            dw: 2,
        };
        let mut want = vec![0.0; g.output_len()];
        reference::max_pool2d(&g, flat_in, &mut want);
        assert_same(out.as_flattened().as_flattened(), &want);
    }

    #[test]
    fn by_hand() {
        for_each_isa(|_| by_hand_once());
    }

    fn by_hand_once() {
        let input = [[[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0], [7.0, -8.0, 9.0]]];
        let mut out = [[[0.0f32; 2]; 2]; 1];
        max_pool2d::<1, 3, 3, 2, 2, 2, 2, 1, 1, 0, 0, 1, 1>(&input, &mut out);
        assert_eq!(out, [[[5.0, 5.0], [7.0, 9.0]]]);
        min_pool2d::<1, 3, 3, 2, 2, 2, 2, 1, 1, 0, 0, 1, 1>(&input, &mut out);
        assert_eq!(out, [[[-4.0, -6.0], [-8.0, -8.0]]]);
        // Ceil mode, stride 2: the second window holds only the last column/row.
        max_pool2d::<1, 3, 3, 2, 2, 2, 2, 2, 2, 0, 0, 1, 1>(&input, &mut out);
        assert_eq!(out, [[[5.0, 3.0], [7.0, 9.0]]]);
    }

    #[test]
    fn nan_anywhere_in_a_window_propagates() {
        for_each_isa(|_| nan_anywhere_once());
    }

    /// The vector 2×2 stride-2 path: a NaN in any of a window's four
    /// positions, in any lane of a vector (two AVX-512 vectors per row).
    #[test]
    fn nan_anywhere_in_a_vector_window_propagates() {
        for_each_isa(|_| {
            for position in 0..128 {
                let mut input = [[[1.0f32; 64]; 2]; 1];
                input[0][position / 64][position % 64] = NAN;
                let mut out = [[[0.0f32; 32]; 1]; 1];
                max_pool2d::<1, 2, 64, 1, 32, 2, 2, 2, 2, 0, 0, 1, 1>(&input, &mut out);
                for (ox, &v) in out[0][0].iter().enumerate() {
                    assert_eq!(
                        v.is_nan(),
                        ox == position % 64 / 2,
                        "max, NaN at {position}, output {ox}"
                    );
                }
                min_pool2d::<1, 2, 64, 1, 32, 2, 2, 2, 2, 0, 0, 1, 1>(&input, &mut out);
                for (ox, &v) in out[0][0].iter().enumerate() {
                    assert_eq!(
                        v.is_nan(),
                        ox == position % 64 / 2,
                        "min, NaN at {position}, output {ox}"
                    );
                }
            }
        });
    }

    fn nan_anywhere_once() {
        for position in 0..4 {
            let mut input = [[[1.0f32, 2.0], [3.0, 4.0]]];
            input[0][position / 2][position % 2] = NAN;
            let mut out = [[[0.0f32; 1]; 1]; 1];
            max_pool2d::<1, 2, 2, 1, 1, 2, 2, 1, 1, 0, 0, 1, 1>(&input, &mut out);
            assert!(out[0][0][0].is_nan(), "max, NaN at {position}");
            min_pool2d::<1, 2, 2, 1, 1, 2, 2, 1, 1, 0, 0, 1, 1>(&input, &mut out);
            assert!(out[0][0][0].is_nan(), "min, NaN at {position}");
        }
        // Only the windows that hold the NaN are NaN.
        let input = [[[NAN, 1.0, 2.0]]];
        let mut out = [[[0.0f32; 2]; 1]; 1];
        max_pool2d::<1, 1, 3, 1, 2, 1, 2, 1, 1, 0, 0, 1, 1>(&input, &mut out);
        assert!(out[0][0][0].is_nan());
        assert_eq!(out[0][0][1], 2.0);
    }

    #[test]
    fn padding_never_wins() {
        // Every window mixes padding with infinities that sit on the losing
        // side: a pool that treated padding as zero would return zeros.
        let input = [[[-INF, -INF]]];
        let mut out = [[[0.0f32; 3]; 2]; 1];
        max_pool2d::<1, 1, 2, 2, 3, 2, 2, 1, 1, 1, 1, 1, 1>(&input, &mut out);
        assert_eq!(out, [[[-INF; 3]; 2]; 1]);
        let input = [[[INF, INF]]];
        min_pool2d::<1, 1, 2, 2, 3, 2, 2, 1, 1, 1, 1, 1, 1>(&input, &mut out);
        assert_eq!(out, [[[INF; 3]; 2]; 1]);

        // Negative values next to padding stay negative.
        let input = [[[-3.0, -1.0], [-2.0, -5.0]]];
        let mut out = [[[0.0f32; 2]; 2]; 1];
        max_pool2d::<1, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1>(&input, &mut out);
        assert_eq!(out, [[[-3.0, -1.0], [-2.0, -5.0]]]);

        // Infinities win or lose like any value.
        let input = [[[-INF, 3.0, INF]]];
        let mut out = [[[0.0f32; 2]; 1]; 1];
        max_pool2d::<1, 1, 3, 1, 2, 1, 2, 1, 1, 0, 0, 1, 1>(&input, &mut out);
        assert_eq!(out, [[[3.0, INF]]]);
        min_pool2d::<1, 1, 3, 1, 2, 1, 2, 1, 1, 0, 0, 1, 1>(&input, &mut out);
        assert_eq!(out, [[[-INF, 3.0]]]);
    }

    #[test]
    fn window_of_only_padding_is_the_identity() {
        // Kernel 2, dilation 3, padding 1 on a height-2 input: the only
        // window reads rows -1 and 2, both outside. PyTorch gives -inf.
        assert_eq!(pooled_len(2, 2, 1, 1, 3, false), 1);
        let input = [[[1.0f32], [2.0]]];
        let mut out = [[[0.0f32; 1]; 1]; 1];
        max_pool2d::<1, 2, 1, 1, 1, 2, 1, 1, 1, 1, 0, 3, 1>(&input, &mut out);
        assert_eq!(out[0][0][0], -INF);
        min_pool2d::<1, 2, 1, 1, 1, 2, 1, 1, 1, 1, 0, 3, 1>(&input, &mut out);
        assert_eq!(out[0][0][0], INF);
    }

    #[test]
    fn check_rejects_bad_geometries() {
        let good = Pool2dGeometry {
            c: 1,
            h: 4,
            w: 4,
            oh: 2,
            ow: 2,
            kh: 2,
            kw: 2,
            sh: 2,
            sw: 2,
            pt: 0,
            pl: 0,
            dh: 1,
            dw: 1,
        };
        assert_eq!(good.check(), Ok(()));
        for g in [
            Pool2dGeometry { pt: 2, ..good },
            Pool2dGeometry { sw: 0, ..good },
            Pool2dGeometry { dh: 0, ..good },
            Pool2dGeometry { kw: 0, ..good },
            Pool2dGeometry { c: 0, ..good },
            // (3 - 1) * 2 = 4 is not < 4 + 0.
            Pool2dGeometry { oh: 3, ..good },
        ] {
            assert!(g.check().is_err(), "{g:?}");
        }
    }
}

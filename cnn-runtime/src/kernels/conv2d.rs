//! 2-D convolution (PyTorch `Conv2d`).

use super::window::{conv_axis_ok, mul_add, product, valid_outputs};

/// The shape of one [`conv2d`] call as plain numbers, so one core function
/// serves every monomorphisation and tests can draw geometries at run time.
///
/// Bottom and right padding are not stored: whatever the output size makes a
/// window read past the input is zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dGeometry {
    /// Input channels.
    pub cin: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub cout: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Vertical stride.
    pub sh: usize,
    /// Horizontal stride.
    pub sw: usize,
    /// Zero padding above the input.
    pub pt: usize,
    /// Zero padding left of the input.
    pub pl: usize,
    /// Vertical dilation.
    pub dh: usize,
    /// Horizontal dilation.
    pub dw: usize,
    /// Groups: input and output channels split into this many independent
    /// convolutions (`groups == cin` is depthwise).
    pub groups: usize,
}

impl Conv2dGeometry {
    /// Input channels per group, the weight's second dimension.
    pub const fn cin_per_group(&self) -> usize {
        self.cin / self.groups
    }

    /// Elements in the input tensor.
    pub const fn input_len(&self) -> usize {
        self.cin * self.h * self.w
    }

    /// Elements in the weight tensor, `[cout][cin / groups][kh][kw]`.
    pub const fn weight_len(&self) -> usize {
        self.cout * self.cin_per_group() * self.kh * self.kw
    }

    /// Elements in the output tensor.
    pub const fn output_len(&self) -> usize {
        self.cout * self.oh * self.ow
    }

    /// Whether the kernels can run this geometry without panicking or
    /// computing meaningless outputs; the error names the first broken rule.
    pub const fn check(&self) -> Result<(), &'static str> {
        if self.groups == 0 {
            return Err("conv2d: groups must be at least 1");
        }
        if self.cin == 0 || self.cout == 0 {
            return Err("conv2d: channel counts must be at least 1");
        }
        if !self.cin.is_multiple_of(self.groups) || !self.cout.is_multiple_of(self.groups) {
            return Err("conv2d: input and output channels must be multiples of groups");
        }
        if self.h == 0 || self.w == 0 || self.oh == 0 || self.ow == 0 {
            return Err("conv2d: input and output sizes must be at least 1");
        }
        if self.kh == 0 || self.kw == 0 {
            return Err("conv2d: kernel sizes must be at least 1");
        }
        if self.sh == 0 || self.sw == 0 {
            return Err("conv2d: strides must be at least 1");
        }
        if self.dh == 0 || self.dw == 0 {
            return Err("conv2d: dilations must be at least 1");
        }
        if product(&[self.cin, self.h, self.w]).is_none()
            || product(&[self.cout, self.oh, self.ow]).is_none()
            || product(&[self.cout, self.cin_per_group(), self.kh, self.kw]).is_none()
        {
            return Err("conv2d: tensor sizes overflow usize");
        }
        let (Some(reach_h), Some(reach_w)) = (mul_add(self.kh - 1, self.dh, 0), mul_add(self.kw - 1, self.dw, 0))
        else {
            return Err("conv2d: kernel extent overflows usize");
        };
        if !conv_axis_ok(self.h, self.pt, reach_h, self.sh, self.oh) {
            return Err("conv2d: the last output row's window must end inside the padded input");
        }
        if !conv_axis_ok(self.w, self.pl, reach_w, self.sw, self.ow) {
            return Err("conv2d: the last output column's window must end inside the padded input");
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

/// 2-D convolution, PyTorch semantics (cross-correlation, zero padding).
///
/// The weight layout is PyTorch's `[COUT][CIN / G][KH][KW]`, with
/// `CING = CIN / G`. `PT`/`PL` pad the top/left; bottom/right padding is
/// implied by `OH`/`OW` (anything read outside the input is zero). `SH`/`SW`
/// are the strides, `DH`/`DW` the dilations and `G` the groups.
///
/// The geometry is checked at compile time (see [`Conv2dGeometry::check`]).
pub fn conv2d<
    const CIN: usize,
    const H: usize,
    const W: usize,
    const COUT: usize,
    const OH: usize,
    const OW: usize,
    const CING: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const PT: usize,
    const PL: usize,
    const DH: usize,
    const DW: usize,
    const G: usize,
>(
    input: &[[[f32; W]; H]; CIN],
    weight: &[[[[f32; KW]; KH]; CING]; COUT],
    bias: Option<&[f32; COUT]>,
    output: &mut [[[f32; OW]; OH]; COUT],
) {
    let geometry = const {
        assert!(CIN == CING * G, "conv2d: CIN must equal CING * G");
        let geometry = Conv2dGeometry {
            cin: CIN,
            h: H,
            w: W,
            cout: COUT,
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
            groups: G,
        };
        geometry.assert_valid();
        geometry
    };
    conv2d_kernel(
        &geometry,
        input.as_flattened().as_flattened(),
        weight.as_flattened().as_flattened().as_flattened(),
        bias.map(|b| b.as_slice()),
        output.as_flattened_mut().as_flattened_mut(),
    );
}

/// The run-time-shaped core of [`conv2d`], on flat CHW slices.
///
/// For each output channel the plane starts at the bias, then every weight
/// tap is broadcast and accumulated into whole output rows. Per tap the
/// range of output columns that read inside the input is solved up front, so
/// the innermost loop has no branches and, at stride 1, walks both rows
/// contiguously: the shape LLVM vectorises.
///
/// # Panics
///
/// If the geometry fails [`Conv2dGeometry::check`] or a slice length does
/// not match it. Neither can happen through [`conv2d`], where both are
/// compile-time facts.
#[inline(always)]
pub fn conv2d_core(g: &Conv2dGeometry, input: &[f32], weight: &[f32], bias: Option<&[f32]>, output: &mut [f32]) {
    if let Err(message) = g.check() {
        panic!("{}", message);
    }
    conv2d_kernel(g, input, weight, bias, output);
}

/// [`conv2d_core`] minus the geometry check: what the shaped wrapper calls,
/// having checked its geometry at compile time. A run-time `check()` call
/// would survive in the wrapper (LLVM does not always inline it) although
/// its result is known, so it is skipped rather than left to the optimiser.
#[inline(always)]
fn conv2d_kernel(g: &Conv2dGeometry, input: &[f32], weight: &[f32], bias: Option<&[f32]>, output: &mut [f32]) {
    assert_eq!(input.len(), g.input_len(), "conv2d: input length");
    assert_eq!(weight.len(), g.weight_len(), "conv2d: weight length");
    assert_eq!(output.len(), g.output_len(), "conv2d: output length");
    if let Some(bias) = bias {
        assert_eq!(bias.len(), g.cout, "conv2d: bias length");
    }

    let cing = g.cin_per_group();
    let cout_per_group = g.cout / g.groups;
    let in_plane = g.h * g.w;
    let filter_len = cing * g.kh * g.kw;
    let out_planes = output.chunks_exact_mut(g.oh * g.ow);
    for (co, (out, filter)) in out_planes.zip(weight.chunks_exact(filter_len)).enumerate() {
        out.fill(bias.map_or(0.0, |b| b[co]));
        let group = co / cout_per_group;
        let group_input = &input[group * cing * in_plane..][..cing * in_plane];
        let kernels = filter.chunks_exact(g.kh * g.kw);
        for (plane, kernel) in group_input.chunks_exact(in_plane).zip(kernels) {
            accumulate_plane(g, plane, kernel, out);
        }
    }
}

/// Adds one input plane convolved with one `kh × kw` kernel into `out`.
#[inline(always)]
fn accumulate_plane(g: &Conv2dGeometry, plane: &[f32], kernel: &[f32], out: &mut [f32]) {
    for (ky, kernel_row) in kernel.chunks_exact(g.kw).enumerate() {
        let rows = valid_outputs(ky * g.dh, g.pt, g.sh, g.h, g.oh);
        for (kx, &weight) in kernel_row.iter().enumerate() {
            let cols = valid_outputs(kx * g.dw, g.pl, g.sw, g.w, g.ow);
            if cols.is_empty() {
                continue;
            }
            // Input column read by the first valid output column; never
            // underflows because `cols` starts where the tap clears padding.
            let ix0 = cols.start * g.sw + kx * g.dw - g.pl;
            for oy in rows.clone() {
                let iy = oy * g.sh + ky * g.dh - g.pt;
                let in_row = &plane[iy * g.w..][..g.w];
                let out_row = &mut out[oy * g.ow..][..g.ow][cols.clone()];
                if g.sw == 1 {
                    let in_row = &in_row[ix0..][..out_row.len()];
                    for (o, &x) in out_row.iter_mut().zip(in_row) {
                        *o += weight * x;
                    }
                } else {
                    let in_row = in_row[ix0..].iter().step_by(g.sw);
                    for (o, &x) in out_row.iter_mut().zip(in_row) {
                        *o += weight * x;
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
    use crate::kernels::reference;
    use crate::kernels::test_util::{abs, assert_close, data, fill, fill_vec};
    use alloc::vec;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    /// One spatial axis: kernel, stride, dilation, padding before, input and
    /// output length (PyTorch's formula, with an implied padding after).
    #[derive(Clone, Copy, Debug)]
    struct Axis {
        k: usize,
        s: usize,
        d: usize,
        pad: usize,
        len: usize,
        out: usize,
    }

    /// Padding up to the whole dilated kernel (a window may then lie entirely
    /// in the padding, as PyTorch allows for convs), with the end padding
    /// equal or one more, as "same" gives for even kernels.
    fn axis() -> impl Strategy<Value = Axis> {
        (1..=5usize, 1..=3usize, 1..=3usize)
            .prop_flat_map(|(k, s, d)| {
                let span = d * (k - 1) + 1;
                (Just((k, s, d)), 0..=span)
            })
            .prop_flat_map(|((k, s, d), pad)| (Just((k, s, d)), Just(pad), pad..=pad + 1))
            .prop_flat_map(|((k, s, d), pad, pad_after)| {
                let span = d * (k - 1) + 1;
                let min_len = span.saturating_sub(pad + pad_after).max(1);
                (Just((k, s, d, pad, pad_after)), min_len..=min_len.max(12))
            })
            .prop_map(|((k, s, d, pad, pad_after), len)| {
                let span = d * (k - 1) + 1;
                let out = (len + pad + pad_after - span) / s + 1;
                Axis { k, s, d, pad, len, out }
            })
    }

    /// (groups, cin, cout): general grouping and depthwise (with a channel
    /// multiplier), channel counts up to 6.
    fn channels() -> impl Strategy<Value = (usize, usize, usize)> {
        let general = (1..=6usize)
            .prop_flat_map(|g| (Just(g), 1..=6 / g, 1..=6 / g))
            .prop_map(|(g, cing, coutg)| (g, g * cing, g * coutg));
        let depthwise = (1..=6usize, 1..=2usize).prop_map(|(c, m)| (c, c, c * m));
        prop_oneof![general, depthwise]
    }

    type Case = (Conv2dGeometry, Vec<f32>, Vec<f32>, Option<Vec<f32>>);

    fn case() -> impl Strategy<Value = Case> {
        (channels(), axis(), axis())
            .prop_map(|((groups, cin, cout), y, x)| Conv2dGeometry {
                cin,
                h: y.len,
                w: x.len,
                cout,
                oh: y.out,
                ow: x.out,
                kh: y.k,
                kw: x.k,
                sh: y.s,
                sw: x.s,
                pt: y.pad,
                pl: x.pad,
                dh: y.d,
                dw: x.d,
                groups,
            })
            .prop_flat_map(|g| {
                (
                    Just(g),
                    data(g.input_len()),
                    data(g.weight_len()),
                    proptest::option::of(data(g.cout)),
                )
            })
    }

    /// Runs the fast core and the reference and compares them. The scale
    /// for the tolerance is the reference on absolute values: the sum of
    /// the magnitudes of every term (see `assert_close`).
    fn check_against_reference(g: &Conv2dGeometry, input: &[f32], weight: &[f32], bias: Option<&[f32]>, got: &[f32]) {
        let mut want = vec![0.0; g.output_len()];
        reference::conv2d(g, input, weight, bias, &mut want);
        let mut scale = vec![0.0; g.output_len()];
        let abs_bias = bias.map(abs);
        reference::conv2d(g, &abs(input), &abs(weight), abs_bias.as_deref(), &mut scale);
        let terms = g.cin_per_group() * g.kh * g.kw + 1;
        assert_close(got, &want, &scale, terms);
    }

    proptest! {
        #[test]
        fn core_matches_reference((g, input, weight, bias) in case()) {
            prop_assert!(g.check().is_ok(), "{:?}", g.check());
            let mut got = vec![f32::NAN; g.output_len()];
            conv2d_core(&g, &input, &weight, bias.as_deref(), &mut got);
            check_against_reference(&g, &input, &weight, bias.as_deref(), &got);
        }
    }

    /// Runs the shaped wrapper on seeded data and checks it against the
    /// reference, so the const-parameter plumbing is tested too.
    macro_rules! wrapper_case {
        ($cin:literal, $h:literal, $w:literal, $cout:literal, $oh:literal, $ow:literal,
         $cing:literal, $kh:literal, $kw:literal, $sh:literal, $sw:literal,
         $pt:literal, $pl:literal, $dh:literal, $dw:literal, $g:literal) => {{
            let mut input = [[[0.0f32; $w]; $h]; $cin];
            let mut weight = [[[[0.0f32; $kw]; $kh]; $cing]; $cout];
            let mut bias = [0.0f32; $cout];
            fill(1, input.as_flattened_mut().as_flattened_mut());
            fill(2, weight.as_flattened_mut().as_flattened_mut().as_flattened_mut());
            fill(3, &mut bias);
            let mut output = [[[f32::NAN; $ow]; $oh]; $cout];
            conv2d::<$cin, $h, $w, $cout, $oh, $ow, $cing, $kh, $kw, $sh, $sw, $pt, $pl, $dh, $dw, $g>(
                &input,
                &weight,
                Some(&bias),
                &mut output,
            );
            let g = Conv2dGeometry {
                cin: $cin,
                h: $h,
                w: $w,
                cout: $cout,
                oh: $oh,
                ow: $ow,
                kh: $kh,
                kw: $kw,
                sh: $sh,
                sw: $sw,
                pt: $pt,
                pl: $pl,
                dh: $dh,
                dw: $dw,
                groups: $g,
            };
            check_against_reference(
                &g,
                input.as_flattened().as_flattened(),
                weight.as_flattened().as_flattened().as_flattened(),
                Some(&bias),
                output.as_flattened().as_flattened(),
            );
        }};
    }

    #[test]
    fn wrapper_lenet_conv1() {
        // 1x28x28 -> 6x28x28, kernel 5, padding 2.
        wrapper_case!(1, 28, 28, 6, 28, 28, 1, 5, 5, 1, 1, 2, 2, 1, 1, 1);
    }

    #[test]
    fn wrapper_strided_dilated_asymmetric() {
        // H: (11 + 2 + 1 - 5) / 2 + 1 = 5; W: (9 + 1 + 0 - 3) / 3 + 1 = 3.
        wrapper_case!(3, 11, 9, 4, 5, 3, 3, 3, 2, 2, 3, 2, 1, 2, 3, 1);
    }

    #[test]
    fn wrapper_depthwise_and_grouped() {
        // Depthwise with channel multiplier 2, kernel 3, padding 1.
        wrapper_case!(4, 10, 10, 8, 10, 10, 1, 3, 3, 1, 1, 1, 1, 1, 1, 4);
        // Two groups of 3 -> 2 channels, stride 2, no padding.
        wrapper_case!(6, 7, 8, 4, 3, 3, 3, 3, 3, 2, 2, 0, 0, 1, 1, 2);
    }

    #[test]
    fn ones_kernel_by_hand() {
        let input = [[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]];
        let weight = [[[[1.0f32; 2]; 2]; 1]; 1];
        let mut output = [[[0.0f32; 2]; 2]; 1];
        conv2d::<1, 3, 3, 1, 2, 2, 1, 2, 2, 1, 1, 0, 0, 1, 1, 1>(&input, &weight, None, &mut output);
        assert_eq!(output, [[[12.0, 16.0], [24.0, 28.0]]]);

        conv2d::<1, 3, 3, 1, 2, 2, 1, 2, 2, 1, 1, 0, 0, 1, 1, 1>(&input, &weight, Some(&[0.5]), &mut output);
        assert_eq!(output, [[[12.5, 16.5], [24.5, 28.5]]]);

        // Padding 1 all round: the corners see a single input element.
        let mut padded = [[[0.0f32; 4]; 4]; 1];
        conv2d::<1, 3, 3, 1, 4, 4, 1, 2, 2, 1, 1, 1, 1, 1, 1, 1>(&input, &weight, None, &mut padded);
        let want = [[
            [1.0, 3.0, 5.0, 3.0],
            [5.0, 12.0, 16.0, 9.0],
            [11.0, 24.0, 28.0, 15.0],
            [7.0, 15.0, 17.0, 9.0],
        ]];
        assert_eq!(padded, want);
    }

    #[test]
    fn output_is_overwritten_not_accumulated() {
        let input = [[[1.0f32; 3]; 3]; 1];
        let weight = [[[[1.0f32; 1]; 1]; 1]; 1];
        let mut output = [[[100.0f32; 3]; 3]; 1];
        conv2d::<1, 3, 3, 1, 3, 3, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1>(&input, &weight, None, &mut output);
        assert_eq!(output, [[[1.0f32; 3]; 3]; 1]);
    }

    #[test]
    fn check_rejects_bad_geometries() {
        let good = Conv2dGeometry {
            cin: 2,
            h: 5,
            w: 5,
            cout: 2,
            oh: 5,
            ow: 5,
            kh: 3,
            kw: 3,
            sh: 1,
            sw: 1,
            pt: 1,
            pl: 1,
            dh: 1,
            dw: 1,
            groups: 2,
        };
        assert_eq!(good.check(), Ok(()));
        let bad = [
            Conv2dGeometry { groups: 0, ..good },
            Conv2dGeometry { cin: 3, ..good },
            Conv2dGeometry { cout: 3, ..good },
            Conv2dGeometry { sh: 0, ..good },
            Conv2dGeometry { dw: 0, ..good },
            Conv2dGeometry { kh: 0, ..good },
            Conv2dGeometry { oh: 0, ..good },
            // the last window would end at (7 - 1) * 1 + 2 = 8, past the
            // padded input 5 + 1 + (1 + 1) = 8 (0-based end 7)
            Conv2dGeometry { oh: 7, ..good },
            Conv2dGeometry { ow: 7, ..good },
            Conv2dGeometry { dh: usize::MAX, ..good },
            Conv2dGeometry { h: usize::MAX, ..good },
        ];
        for g in bad {
            assert!(g.check().is_err(), "{g:?}");
        }
    }

    #[test]
    fn seeded_runtime_geometries() {
        // A deterministic sweep on top of proptest: every small geometry with
        // 2 input and 2 output channels in 1 and 2 groups.
        for groups in [1, 2] {
            for (k, s, d, p) in [(1, 1, 1, 0), (2, 2, 1, 1), (3, 1, 2, 2), (3, 3, 1, 1)] {
                for len in 3..7 {
                    let span = d * (k - 1) + 1;
                    if len + 2 * p < span {
                        continue;
                    }
                    let out = (len + 2 * p - span) / s + 1;
                    let g = Conv2dGeometry {
                        cin: 2,
                        h: len,
                        w: len + 1,
                        cout: 2,
                        oh: out,
                        ow: (len + 1 + 2 * p - span) / s + 1,
                        kh: k,
                        kw: k,
                        sh: s,
                        sw: s,
                        pt: p,
                        pl: p,
                        dh: d,
                        dw: d,
                        groups,
                    };
                    let input = fill_vec(4, g.input_len());
                    let weight = fill_vec(5, g.weight_len());
                    let mut got = vec![0.0; g.output_len()];
                    conv2d_core(&g, &input, &weight, None, &mut got);
                    check_against_reference(&g, &input, &weight, None, &got);
                }
            }
        }
    }
}

//! A convolution followed by a global average pool (`AdaptiveAvgPool2d(1)`),
//! the usual end of a classifier's feature extractor: on the direct kernel
//! (and the Winograd mode, which stores through it) the activated outputs
//! are summed per channel from the partial sums as each tile finishes, and
//! never stored or read back (MobileNet block: the
//! strided conv's output transposes and the pool's pass over its 200 KB
//! output, about 16 and 7 µs).

use super::prepacked::{conv2d_packed_len, geometry};
use super::{conv2d_kernel, Conv2dGeometry, Plans};
#[cfg(target_arch = "x86_64")]
use super::{direct::Sink, plan::Mode, x86};
use crate::kernels::adaptive_pool::adaptive_avg_pool2d;
use crate::kernels::epilogue::Activation;
use crate::Packed;

/// [`super::conv2d_prepacked`] followed by the global average of each
/// output channel, returned: `act` is applied to each output before it is
/// averaged, the sum divided by `OH` and then by `OW` (as PyTorch's
/// `AdaptiveAvgPool2d(1)`). Where the convolution runs on the direct kernel
/// or the Winograd mode the outputs are summed as they are computed and `conv_out` is not
/// written; otherwise the convolution is stored into `conv_out` and pooled
/// from there. The sums run in another order than the pool kernel's, so
/// results may differ from the unfused pair in the last bits.
///
/// ```
/// use cnn_runtime::kernels::{adaptive_avg_pool2d, conv2d_fused, conv2d_global_avg, Activation};
/// use cnn_runtime::Packed;
///
/// let input = [[[0.25f32; 12]; 12]; 8];
/// let weight = [[[[0.5f32; 3]; 3]; 8]; 16];
/// let mut conv_out = [[[0.0f32; 12]; 12]; 16];
/// let pooled = conv2d_global_avg::<8, 12, 12, 16, 12, 12, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0>(
///     &input, &weight, &Packed::NONE, None, Activation::Relu, &mut conv_out,
/// );
/// // The same as the convolution, then the pool.
/// let mut full = [[[0.0f32; 12]; 12]; 16];
/// conv2d_fused::<8, 12, 12, 16, 12, 12, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1>(&input, &weight, None, Activation::Relu, &mut full);
/// let mut want = [[[0.0f32; 1]; 1]; 16];
/// adaptive_avg_pool2d(&full, &mut want);
/// for (got, want) in pooled.iter().zip(&want) {
///     assert!((got[0][0] - want[0][0]).abs() <= 1e-5 * want[0][0].abs());
/// }
/// ```
#[allow(clippy::too_many_arguments)]
pub fn conv2d_global_avg<
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
    const N: usize,
>(
    input: &[[[f32; W]; H]; CIN],
    weight: &[[[[f32; KW]; KH]; CING]; COUT],
    packed: &Packed<N>,
    bias: Option<&[f32; COUT]>,
    act: Activation,
    conv_out: &mut [[[f32; OW]; OH]; COUT],
) -> [[[f32; 1]; 1]; COUT] {
    let (geometry, plans) = const {
        let geometry = geometry::<CIN, H, W, COUT, OH, OW, CING, KH, KW, SH, SW, PT, PL, DH, DW, G>();
        assert!(
            N == 0 || N == conv2d_packed_len(&geometry),
            "conv2d_global_avg: N must be 0 or conv2d_packed_len"
        );
        (geometry, Plans::new(&geometry))
    };
    let input = input.as_flattened().as_flattened();
    let weight = weight.as_flattened().as_flattened().as_flattened();
    let bias = bias.map(|b| b.as_slice());
    let mut pooled = [[[0.0f32; 1]; 1]; COUT];
    let sums = pooled.as_flattened_mut().as_flattened_mut();
    if sum_outputs(&geometry, &plans, input, weight, packed, bias, act, sums) {
        for s in sums.iter_mut() {
            // Two divisions, in this order, as PyTorch's CPU kernel does.
            *s = *s / OH as f32 / OW as f32;
        }
    } else {
        conv2d_kernel(
            &geometry,
            &plans,
            input,
            weight,
            packed.get(),
            bias,
            act,
            conv_out.as_flattened_mut().as_flattened_mut(),
        );
        adaptive_avg_pool2d(conv_out, &mut pooled);
    }
    pooled
}

/// Adds each output channel's activated outputs into `sums`, if the plan
/// the convolution runs now is the direct kernel's or the Winograd mode's;
/// returns whether it did.
#[allow(clippy::too_many_arguments)]
fn sum_outputs<const N: usize>(
    g: &Conv2dGeometry,
    plans: &Plans,
    input: &[f32],
    weight: &[f32],
    packed: &Packed<N>,
    bias: Option<&[f32]>,
    act: Activation,
    sums: &mut [f32],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if let (Some((isa, plan)), packed) = plans.with_packed(packed.get()) {
        if matches!(plan.mode, Mode::Direct | Mode::Winograd) {
            // SAFETY: `chosen` returns an instruction set only if the CPU has
            // its features.
            unsafe { x86::conv2d_sink(isa, g, plan, input, weight, packed, bias, act, Sink::Sums(sums)) };
            return true;
        }
    }
    let _ = (g, plans, input, weight, packed, bias, act, sums);
    false
}

#[cfg(test)]
mod tests {
    extern crate alloc;
    extern crate std;

    use super::*;
    use crate::kernels::conv2d::{conv2d_fused, conv2d_pack};
    use crate::kernels::isa::{self, for_each_isa, with_winograd};
    use crate::kernels::test_util::fill;
    use alloc::boxed::Box;
    use alloc::vec;

    /// Each activation, instruction set and Winograd switch, with and
    /// without packed weights: the fused result against the convolution
    /// then the pool, within the pool's rounding (relative to the mean of
    /// the absolute outputs); and on the direct kernel `conv_out` untouched.
    macro_rules! check {
        ($($c:literal),*; $g:expr) => {{
            const GEO: Conv2dGeometry = $g;
            const N: usize = conv2d_packed_len(&GEO);
            let mut input = vec![0.0f32; GEO.input_len()];
            let mut weight = vec![0.0f32; GEO.weight_len()];
            let mut bias = vec![0.0f32; GEO.cout];
            fill(1, &mut input);
            fill(2, &mut weight);
            fill(3, &mut bias);
            let input = bytemuck::from_bytes(bytemuck::cast_slice(&input));
            let weight = bytemuck::from_bytes(bytemuck::cast_slice(&weight));
            let bias = bytemuck::from_bytes(bytemuck::cast_slice(&bias));
            let mut fused_somewhere = false;
            for_each_isa(|isa| {
                for wino in [false, true] {
                    with_winograd(wino, || {
                        let packed = Packed::<N>::from_fn(|out| conv2d_pack::<$($c),*, N>(weight, out));
                        for act in [Activation::Identity, Activation::Relu, Activation::LeakyRelu(0.1)] {
                            for packed in [&packed, &Packed::NONE] {
                                let mut conv_out: Box<[[[f32; GEO.ow]; GEO.oh]; GEO.cout]> = bytemuck::zeroed_box();
                                conv_out.as_flattened_mut().as_flattened_mut().fill(f32::NAN);
                                let got = conv2d_global_avg::<$($c),*, N>(input, weight, packed, Some(bias), act, &mut conv_out);
                                let untouched = conv_out.as_flattened().as_flattened().iter().all(|x| x.is_nan());
                                fused_somewhere |= untouched;
                                let mut full: Box<[[[f32; GEO.ow]; GEO.oh]; GEO.cout]> = bytemuck::zeroed_box();
                                conv2d_fused::<$($c),*>(input, weight, Some(bias), act, &mut full);
                                let mut want = [[[0.0f32; 1]; 1]; GEO.cout];
                                adaptive_avg_pool2d(&full, &mut want);
                                let plane = GEO.oh * GEO.ow;
                                for (c, (got, want)) in got.iter().zip(&want).enumerate() {
                                    let out = full[c].as_flattened();
                                    let scale = out.iter().map(|x| x.abs()).sum::<f32>() / plane as f32;
                                    let (got, want) = (got[0][0], want[0][0]);
                                    assert!(
                                        (got - want).abs() <= 1e-6 * scale + f32::MIN_POSITIVE,
                                        "{isa:?} winograd {wino} {act:?} channel {c}: {got} vs {want}"
                                    );
                                }
                            }
                        }
                    });
                }
            });
            fused_somewhere
        }};
    }

    #[test]
    fn fused_global_average_matches_conv_then_pool() {
        // The MobileNet block's strided conv (direct on AVX2 and AVX-512).
        let direct = check!(64, 56, 56, 64, 28, 28, 64, 3, 3, 2, 2, 1, 1, 1, 1, 1; Conv2dGeometry {
            cin: 64, h: 56, w: 56, cout: 64, oh: 28, ow: 28, kh: 3, kw: 3,
            sh: 2, sw: 2, pt: 1, pl: 1, dh: 1, dw: 1, groups: 1,
        });
        // Grouped, strided, channels not a whole vector per group.
        check!(24, 20, 20, 40, 10, 10, 12, 3, 3, 2, 2, 1, 1, 1, 1, 2; Conv2dGeometry {
            cin: 24, h: 20, w: 20, cout: 40, oh: 10, ow: 10, kh: 3, kw: 3,
            sh: 2, sw: 2, pt: 1, pl: 1, dh: 1, dw: 1, groups: 2,
        });
        // 3x3 stride 1 (the Winograd mode when it is on), odd plane: bands
        // past the bottom and right edges.
        let winograd = check!(24, 11, 13, 40, 11, 13, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1; Conv2dGeometry {
            cin: 24, h: 11, w: 13, cout: 40, oh: 11, ow: 13, kh: 3, kw: 3,
            sh: 1, sw: 1, pt: 1, pl: 1, dh: 1, dw: 1, groups: 1,
        });
        let g = Conv2dGeometry {
            cin: 24,
            h: 11,
            w: 13,
            cout: 40,
            oh: 11,
            ow: 13,
            kh: 3,
            kw: 3,
            sh: 1,
            sw: 1,
            pt: 1,
            pl: 1,
            dh: 1,
            dw: 1,
            groups: 1,
        };
        let plans = Plans::new(&g);
        assert_eq!((plans.avx512.mode, plans.avx2.mode), (Mode::Winograd, Mode::Winograd));
        // Few channels (the padded kernel) and depthwise: never direct.
        let padded = check!(1, 28, 28, 6, 28, 28, 1, 5, 5, 1, 1, 2, 2, 1, 1, 1; Conv2dGeometry {
            cin: 1, h: 28, w: 28, cout: 6, oh: 28, ow: 28, kh: 5, kw: 5,
            sh: 1, sw: 1, pt: 2, pl: 2, dh: 1, dw: 1, groups: 1,
        });
        let depthwise = check!(32, 14, 14, 32, 14, 14, 1, 3, 3, 1, 1, 1, 1, 1, 1, 32; Conv2dGeometry {
            cin: 32, h: 14, w: 14, cout: 32, oh: 14, ow: 14, kh: 3, kw: 3,
            sh: 1, sw: 1, pt: 1, pl: 1, dh: 1, dw: 1, groups: 32,
        });
        assert!(!padded && !depthwise, "only direct and Winograd plans skip the stores");
        if isa::detected() >= isa::Isa::Avx2 && cfg!(target_arch = "x86_64") {
            assert!(direct, "the direct plan never took the fused path");
            assert!(winograd, "the Winograd plan never took the fused path");
        }
    }
}

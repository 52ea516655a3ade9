//! The convolution fused with a 2×2 max pool ([`conv2d_max_pool2x2`])
//! against the convolution then the pool, bit for bit, on every
//! instruction set and plan: direct (tiles of rows even, odd and ragged),
//! Winograd, padded, and the fallbacks that pool in place.

extern crate alloc;

use super::plan::Mode;
use super::{conv2d_max_pool2x2, conv2d_pack, conv2d_packed_len, conv2d_prepacked, Conv2dGeometry, Plans};
use crate::kernels::epilogue::Activation;
use crate::kernels::isa::{self, for_each_isa, with_winograd};
use crate::kernels::max_pool2d;
use crate::kernels::test_util::fill;
use crate::Packed;
use alloc::boxed::Box;
use alloc::vec;

/// Runs every instruction set, Winograd switch, activation (a negative
/// LeakyReLU slope too: the activation must come before the max) and
/// packing on one geometry, with a few NaN inputs; returns whether any run
/// left `conv_out` past the pooled values untouched (pooled as it went).
macro_rules! check {
    ($($c:literal),*; $g:expr) => {{
        const GEO: Conv2dGeometry = $g;
        const N: usize = conv2d_packed_len(&GEO);
        const POH: usize = GEO.oh / 2;
        const POW: usize = GEO.ow / 2;
        let mut input = vec![0.0f32; GEO.input_len()];
        let mut weight = vec![0.0f32; GEO.weight_len()];
        let mut bias = vec![0.0f32; GEO.cout];
        fill(1, &mut input);
        fill(2, &mut weight);
        fill(3, &mut bias);
        // NaN reaches the outputs whose windows read these inputs.
        input[GEO.input_len() / 3] = f32::NAN;
        input[GEO.input_len() - 1] = f32::NAN;
        let input = bytemuck::from_bytes(bytemuck::cast_slice(&input));
        let weight = bytemuck::from_bytes(bytemuck::cast_slice(&weight));
        let bias = bytemuck::from_bytes(bytemuck::cast_slice(&bias));
        let mut pooled_as_it_went = false;
        for_each_isa(|isa| {
            for wino in [false, true] {
                with_winograd(wino, || {
                    let packed = Packed::<N>::from_fn(|out| conv2d_pack::<$($c),*, N>(weight, out));
                    for act in [Activation::Identity, Activation::Relu, Activation::LeakyRelu(-0.5)] {
                        for packed in [&packed, &Packed::NONE] {
                            let mut conv_out: Box<[[[f32; GEO.ow]; GEO.oh]; GEO.cout]> = bytemuck::zeroed_box();
                            let flat = conv_out.as_flattened_mut().as_flattened_mut();
                            flat.fill(f32::INFINITY);
                            let got = *conv2d_max_pool2x2::<$($c),*, POH, POW, N>(
                                input, weight, packed, Some(bias), act, &mut conv_out,
                            );
                            let rest = &conv_out.as_flattened().as_flattened()[GEO.cout * POH * POW..];
                            pooled_as_it_went |= rest.iter().all(|&x| x == f32::INFINITY);
                            let mut full: Box<[[[f32; GEO.ow]; GEO.oh]; GEO.cout]> = bytemuck::zeroed_box();
                            conv2d_prepacked::<$($c),*, N>(input, weight, packed, Some(bias), act, &mut full);
                            let mut want = [[[0.0f32; POW]; POH]; GEO.cout];
                            max_pool2d::<{ GEO.cout }, { GEO.oh }, { GEO.ow }, POH, POW, 2, 2, 2, 2, 0, 0, 1, 1>(
                                &full, &mut want,
                            );
                            let (got, want) = (got.as_flattened().as_flattened(), want.as_flattened().as_flattened());
                            assert!(want.iter().any(|x| x.is_nan()), "no NaN reached the outputs");
                            for (i, (g, w)) in got.iter().zip(want).enumerate() {
                                assert!(
                                    g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
                                    "{isa:?} winograd {wino} {act:?} packed {} pooled {i}: {g} vs {w}",
                                    packed.get().is_some()
                                );
                            }
                        }
                    }
                });
            }
        });
        pooled_as_it_went
    }};
}

/// Wide rows: direct tiles of two rows, the odd last row left over (and
/// an odd last column), strided, two groups.
#[rustfmt::skip]
const RAGGED: Conv2dGeometry = Conv2dGeometry {
    cin: 16, h: 27, w: 113, cout: 128, oh: 13, ow: 56, kh: 3, kw: 3,
    sh: 2, sw: 2, pt: 0, pl: 1, dh: 1, dw: 1, groups: 2,
};

/// Padded on AVX2 (Flat on AVX-512) with an odd plane (the last row and
/// column dropped), three vectors per row (an odd count: the column pass
/// reads a vector no tile wrote), channels past a whole tile, two groups.
#[rustfmt::skip]
const PADDED_ODD: Conv2dGeometry = Conv2dGeometry {
    cin: 4, h: 19, w: 19, cout: 14, oh: 17, ow: 19, kh: 3, kw: 3,
    sh: 1, sw: 1, pt: 0, pl: 1, dh: 1, dw: 1, groups: 2,
};

/// Padded (on AVX-512 with tiles of two vectors per row): three vectors per
/// row on AVX-512 (a pair, then a single vector), an odd plane, channels
/// past a whole tile.
#[rustfmt::skip]
const PADDED_PAIRS: Conv2dGeometry = Conv2dGeometry {
    cin: 2, h: 41, w: 41, cout: 10, oh: 37, ow: 37, kh: 5, kw: 5,
    sh: 1, sw: 1, pt: 0, pl: 0, dh: 1, dw: 1, groups: 1,
};

#[test]
fn fused_max_pool_matches_conv_then_pool() {
    // LeNet-5's second conv: direct, one tile of all ten rows.
    let lenet = check!(6, 14, 14, 16, 10, 10, 6, 5, 5, 1, 1, 0, 0, 1, 1, 1; Conv2dGeometry {
        cin: 6, h: 14, w: 14, cout: 16, oh: 10, ow: 10, kh: 5, kw: 5,
        sh: 1, sw: 1, pt: 0, pl: 0, dh: 1, dw: 1, groups: 1,
    });
    let ragged = check!(16, 27, 113, 128, 13, 56, 8, 3, 3, 2, 2, 0, 1, 1, 1, 2; RAGGED);
    // 3x3 stride 1 with an odd plane: Winograd when it is on, bands past
    // the bottom and right edges.
    let winograd = check!(24, 11, 13, 40, 11, 13, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1; Conv2dGeometry {
        cin: 24, h: 11, w: 13, cout: 40, oh: 11, ow: 13, kh: 3, kw: 3,
        sh: 1, sw: 1, pt: 1, pl: 1, dh: 1, dw: 1, groups: 1,
    });
    // LeNet-5's first conv: padded, rows of 28 (whole vector pairs).
    let padded = check!(1, 28, 28, 6, 28, 28, 1, 5, 5, 1, 1, 2, 2, 1, 1, 1; Conv2dGeometry {
        cin: 1, h: 28, w: 28, cout: 6, oh: 28, ow: 28, kh: 5, kw: 5,
        sh: 1, sw: 1, pt: 2, pl: 2, dh: 1, dw: 1, groups: 1,
    });
    let padded_odd = check!(4, 19, 19, 14, 17, 19, 2, 3, 3, 1, 1, 0, 1, 1, 1, 2; PADDED_ODD);
    let padded_pairs = check!(2, 41, 41, 10, 37, 37, 2, 5, 5, 1, 1, 0, 0, 1, 1, 1; PADDED_PAIRS);
    // Depthwise: pooled in place after the convolution.
    let depthwise = check!(32, 14, 14, 32, 14, 14, 1, 3, 3, 1, 1, 1, 1, 1, 1, 32; Conv2dGeometry {
        cin: 32, h: 14, w: 14, cout: 32, oh: 14, ow: 14, kh: 3, kw: 3,
        sh: 1, sw: 1, pt: 1, pl: 1, dh: 1, dw: 1, groups: 32,
    });
    assert!(!depthwise, "depthwise plans store the whole convolution");
    let ragged_plans = Plans::new(&RAGGED);
    let odd_plans = Plans::new(&PADDED_ODD);
    assert_eq!(odd_plans.avx2.mode, Mode::Padded);
    // Six channels per tile (a whole one and a ragged one of four): few
    // enough for tiles of two vectors per row on AVX-512.
    let pairs_plans = Plans::new(&PADDED_PAIRS);
    assert_eq!((pairs_plans.avx512.mode, pairs_plans.avx512.mr), (Mode::Padded, 6));
    for plan in [&ragged_plans.avx2, &ragged_plans.avx512] {
        assert_eq!(plan.mode, Mode::Direct);
        assert!(plan.direct.rows < 13, "the ragged case has more than one tile of rows");
    }
    if isa::detected() >= isa::Isa::Avx2 && cfg!(target_arch = "x86_64") {
        assert!(lenet && ragged, "a direct plan never pooled as it went");
        assert!(winograd, "the Winograd plan never pooled as it went");
        assert!(
            padded && padded_odd && padded_pairs,
            "a padded plan never pooled as it went"
        );
    }
}

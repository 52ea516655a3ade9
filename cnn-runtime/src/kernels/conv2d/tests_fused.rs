//! Fused activations and the padded mode: every mode each instruction set
//! can run, forced plan by plan, against the (unfused) reference followed by
//! the activation.

extern crate alloc;
extern crate std;

use super::plan::{self, Plan};
use super::tests::{case, check_plan_invariants, run_plan_fused, square_conv, wide_case, Case};
use super::*;
use crate::kernels::isa::for_each_isa;
use crate::kernels::reference;
use crate::kernels::test_util::{abs, assert_close, special_data};
use alloc::vec;
use alloc::vec::Vec;
use proptest::prelude::*;

/// The activations the generated code fuses (slopes within 1 in magnitude,
/// so the reference's rounding bound still holds after the activation).
fn activation() -> impl Strategy<Value = Activation> {
    prop_oneof![
        Just(Activation::Identity),
        Just(Activation::Relu),
        Just(Activation::Relu6),
        Just(Activation::LeakyRelu(0.01)),
        Just(Activation::LeakyRelu(-0.75)),
    ]
}

/// Checks `got` against the reference convolution followed by `act`.
fn check_fused(g: &Conv2dGeometry, input: &[f32], weight: &[f32], bias: Option<&[f32]>, act: Activation, got: &[f32]) {
    let mut want = vec![0.0; g.output_len()];
    reference::conv2d(g, input, weight, bias, &mut want);
    for v in &mut want {
        *v = act.apply(*v);
    }
    let mut scale = vec![0.0; g.output_len()];
    let abs_bias = bias.map(abs);
    reference::conv2d(g, &abs(input), &abs(weight), abs_bias.as_deref(), &mut scale);
    assert_close(got, &want, &scale, g.cin_per_group() * g.kh * g.kw + 1);
}

/// Every plan a target has for `g`: the planner's choice, each GEMM and
/// padded register tile, each direct width.
fn plans(g: &Conv2dGeometry, t: &plan::Target) -> Vec<Plan> {
    let mut all = vec![Plan::new(g, t)];
    for &(mr, nv) in t.shapes {
        all.push(Plan::with_shape(g, t, mr, nv));
        all.extend(Plan::padded(g, t, mr, nv));
    }
    for &tile in t.direct_tiles {
        all.extend(Plan::direct(g, t, tile));
    }
    all
}

/// The fused core on every instruction set (portable included) and every
/// forced plan against the reference then the activation.
fn check_every_mode(g: &Conv2dGeometry, input: &[f32], weight: &[f32], bias: Option<&[f32]>, act: Activation) {
    for_each_isa(|isa| {
        std::eprintln!("{isa:?}: {g:?} {act:?}");
        let mut got = vec![f32::NAN; g.output_len()];
        conv2d_core_fused(g, input, weight, bias, act, &mut got);
        check_fused(g, input, weight, bias, act, &got);
    });
    for t in [plan::AVX512, plan::AVX2] {
        for plan in plans(g, &t) {
            if plan.mode == plan::Mode::Portable {
                continue;
            }
            check_plan_invariants(g, &t, &plan);
            if let Some(got) = run_plan_fused(&t, &plan, g, input, weight, bias, act) {
                std::eprintln!("{plan:?}");
                check_fused(g, input, weight, bias, act, &got);
            }
        }
    }
}

/// Small geometries with NaN and infinities in the input: the fused
/// activation must keep NaN exactly where the reference then ReLU does.
fn special_case() -> impl Strategy<Value = Case> {
    case().prop_flat_map(|(g, _, weight, bias)| (Just(g), special_data(g.input_len()), Just(weight), Just(bias)))
}

/// Direct-mode sized geometries (a whole vector of output channels and
/// more), a few of them to keep the run short.
pub(super) fn direct_sized() -> impl Strategy<Value = Case> {
    wide_case().prop_map(|(g, input, _, bias)| {
        let cout = 16 + 3 * g.cout;
        let g = Conv2dGeometry { cout, ..g };
        let weight = crate::kernels::test_util::fill_vec(g.cout as u64, g.weight_len());
        let bias = bias.map(|_| crate::kernels::test_util::fill_vec(7, g.cout));
        (g, input, weight, bias)
    })
}

proptest! {
    #[test]
    fn fused_matches_reference_then_activation((g, input, weight, bias) in case(), act in activation()) {
        check_every_mode(&g, &input, &weight, bias.as_deref(), act);
    }

    #[test]
    fn fused_keeps_nan_like_reference_then_activation((g, input, weight, bias) in special_case(), act in activation()) {
        check_every_mode(&g, &input, &weight, bias.as_deref(), act);
    }

    #[test]
    fn fused_wide_matches_reference_then_activation((g, input, weight, bias) in wide_case(), act in activation()) {
        check_every_mode(&g, &input, &weight, bias.as_deref(), act);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn fused_direct_sized_matches_reference_then_activation(
        (g, input, weight, bias) in direct_sized(),
        act in activation(),
    ) {
        check_every_mode(&g, &input, &weight, bias.as_deref(), act);
    }
}

/// Tiles of one channel vector (16 output channels on AVX-512, 8 on AVX2,
/// or the last block of a ragged split), where undilated 3- and 5-wide
/// kernels broadcast each input once per kernel row: strides 1 and 2 across,
/// padding on every side, rows shorter and longer than a tile, and a
/// dilated kernel, which keeps the per-column form.
#[test]
fn one_vector_tiles_match_reference() {
    use crate::kernels::test_util::fill_vec;
    for (cin, h, w, cout, k, (sh, sw), pad, dil) in [
        (6, 14, 14, 16, 5, (1, 1), 0, 1),
        (3, 11, 23, 16, 3, (1, 2), 1, 1),
        (5, 13, 31, 16, 5, (2, 2), 2, 1),
        (4, 9, 17, 24, 3, (1, 1), 1, 1),
        (7, 12, 40, 40, 5, (1, 2), 1, 1),
        (4, 10, 19, 16, 3, (1, 1), 2, 2),
    ] {
        let span = dil * (k - 1) + 1;
        let g = Conv2dGeometry {
            cin,
            h,
            w,
            cout,
            oh: (h + 2 * pad - span) / sh + 1,
            ow: (w + 2 * pad - span) / sw + 1,
            kh: k,
            kw: k,
            sh,
            sw,
            pt: pad,
            pl: pad,
            dh: dil,
            dw: dil,
            groups: 1,
        };
        assert_eq!(g.check(), Ok(()), "{g:?}");
        let input = fill_vec(11, g.input_len());
        let weight = fill_vec(12, g.weight_len());
        let bias = fill_vec(13, g.cout);
        check_every_mode(&g, &input, &weight, Some(&bias), Activation::LeakyRelu(0.01));
    }
}

/// LeNet-5's layers through the shaped wrapper, fused, against the
/// reference then ReLU, on every instruction set.
#[test]
fn wrapper_lenet_layers_fused() {
    use crate::kernels::test_util::fill;
    let mut x1 = [[[0.0f32; 28]; 28]; 1];
    let mut w1 = [[[[0.0f32; 5]; 5]; 1]; 6];
    let mut b1 = [0.0f32; 6];
    let mut x2 = [[[0.0f32; 14]; 14]; 6];
    let mut w2 = [[[[0.0f32; 5]; 5]; 6]; 16];
    let mut b2 = [0.0f32; 16];
    fill(1, x1.as_flattened_mut().as_flattened_mut());
    fill(2, w1.as_flattened_mut().as_flattened_mut().as_flattened_mut());
    fill(3, &mut b1);
    fill(4, x2.as_flattened_mut().as_flattened_mut());
    fill(5, w2.as_flattened_mut().as_flattened_mut().as_flattened_mut());
    fill(6, &mut b2);
    for_each_isa(|_| {
        let mut o1 = [[[f32::NAN; 28]; 28]; 6];
        conv2d_fused::<1, 28, 28, 6, 28, 28, 1, 5, 5, 1, 1, 2, 2, 1, 1, 1>(
            &x1,
            &w1,
            Some(&b1),
            Activation::Relu,
            &mut o1,
        );
        let g1 = Conv2dGeometry {
            cin: 1,
            h: 28,
            w: 28,
            cout: 6,
            oh: 28,
            ow: 28,
            kh: 5,
            kw: 5,
            sh: 1,
            sw: 1,
            pt: 2,
            pl: 2,
            dh: 1,
            dw: 1,
            groups: 1,
        };
        check_fused(
            &g1,
            x1.as_flattened().as_flattened(),
            w1.as_flattened().as_flattened().as_flattened(),
            Some(&b1),
            Activation::Relu,
            o1.as_flattened().as_flattened(),
        );
        let mut o2 = [[[f32::NAN; 10]; 10]; 16];
        conv2d_fused::<6, 14, 14, 16, 10, 10, 6, 5, 5, 1, 1, 0, 0, 1, 1, 1>(
            &x2,
            &w2,
            Some(&b2),
            Activation::Relu,
            &mut o2,
        );
        let g2 = Conv2dGeometry {
            cin: 6,
            h: 14,
            w: 14,
            cout: 16,
            oh: 10,
            ow: 10,
            pt: 0,
            pl: 0,
            ..g1
        };
        check_fused(
            &g2,
            x2.as_flattened().as_flattened(),
            w2.as_flattened().as_flattened().as_flattened(),
            Some(&b2),
            Activation::Relu,
            o2.as_flattened().as_flattened(),
        );
    });
}

/// Times every plan of the small zoo layers on AVX-512 (fastest of many
/// runs). Not a correctness test: run it by hand, in a release build, e.g.
/// `cargo test --release -p cnn-runtime --lib plan_timings -- --ignored --nocapture`.
#[test]
#[ignore = "timing, not correctness"]
fn plan_timings() {
    use crate::kernels::test_util::fill_vec;
    let conv = |cin, h, cout, oh, k, p| square_conv(cin, h, cout, oh, k, 1, p, 1);
    for (name, g) in [
        ("lenet conv1", conv(1, 28, 6, 28, 5, 2)),
        ("lenet conv2", conv(6, 14, 16, 10, 5, 0)),
        ("vgg conv1_1", conv(3, 32, 32, 32, 3, 1)),
    ] {
        let input = fill_vec(1, g.input_len());
        let weight = fill_vec(2, g.weight_len());
        let bias = fill_vec(3, g.cout);
        let macs = (g.output_len() * g.cin_per_group() * g.kh * g.kw) as f64;
        let t = plan::AVX512;
        let chosen = Plan::new(&g, &t);
        for plan in plans(&g, &t) {
            let mut best = f64::MAX;
            for _ in 0..3000 {
                let start = std::time::Instant::now();
                let got = run_plan_fused(&t, &plan, &g, &input, &weight, Some(&bias), Activation::Relu);
                best = best.min(start.elapsed().as_secs_f64());
                if got.is_none() {
                    return;
                }
            }
            std::println!(
                "{name:12} {:?} mr {} nv {} px {} {} {:7.2} us {:6.1} GFLOP/s",
                plan.mode,
                plan.mr,
                plan.nv,
                plan.direct.pixels,
                if plan == chosen { "*" } else { " " },
                best * 1e6,
                2.0 * macs / best / 1e9
            );
        }
    }
}

/// [`plan_timings`] for LeNet-5's first conv through the shaped wrapper.
#[test]
#[ignore = "timing, not correctness"]
fn wrapper_timings() {
    use crate::kernels::test_util::fill;
    let mut x1 = [[[0.0f32; 28]; 28]; 1];
    let mut w1 = [[[[0.0f32; 5]; 5]; 1]; 6];
    let mut b1 = [0.0f32; 6];
    fill(1, x1.as_flattened_mut().as_flattened_mut());
    fill(2, w1.as_flattened_mut().as_flattened_mut().as_flattened_mut());
    fill(3, &mut b1);
    let mut o1 = [[[0.0f32; 28]; 28]; 6];
    let mut best = f64::MAX;
    for _ in 0..5000 {
        let start = std::time::Instant::now();
        conv2d_fused::<1, 28, 28, 6, 28, 28, 1, 5, 5, 1, 1, 2, 2, 1, 1, 1>(
            core::hint::black_box(&x1),
            &w1,
            Some(&b1),
            Activation::Relu,
            &mut o1,
        );
        best = best.min(start.elapsed().as_secs_f64());
        core::hint::black_box(&mut o1);
    }
    std::println!("lenet conv1 wrapper {:7.2} us", best * 1e6);
}

/// Depthwise 3×3 stride-1 layers, the framed kernel's (both of its AVX-512
/// blocks: 16 rows take 8-row blocks, the others 7) and the general one's
/// (a plane too large for the frame): planes narrower than a vector,
/// exactly one, ragged and MobileNet's 56 wide; heights that leave a
/// partial block of rows; padding 0 to 2 with the bottom's implied by the
/// output height; channel multipliers 1 to 3; every fused activation, with
/// and without bias.
#[test]
fn depthwise_3x3_matches_reference_then_activation() {
    use crate::kernels::test_util::fill_vec;
    let acts = [
        Activation::Identity,
        Activation::Relu,
        Activation::Relu6,
        Activation::LeakyRelu(0.01),
        Activation::LeakyRelu(-0.75),
    ];
    for (i, &(cin, multiplier, h, w, pad, oh)) in [
        (3, 1, 1, 1, 1, 1),
        (2, 2, 5, 8, 1, 5),
        (4, 1, 9, 13, 0, 7),
        (3, 3, 7, 17, 2, 9),
        (5, 1, 11, 56, 1, 10),
        (2, 1, 56, 56, 1, 56),
        (1, 2, 6, 23, 1, 6),
        (2, 1, 16, 20, 1, 16),
        (1, 1, 100, 120, 1, 100),
    ]
    .iter()
    .enumerate()
    {
        let g = Conv2dGeometry {
            cin,
            h,
            w,
            cout: cin * multiplier,
            oh,
            ow: w + 2 * pad - 2,
            kh: 3,
            kw: 3,
            sh: 1,
            sw: 1,
            pt: pad,
            pl: pad,
            dh: 1,
            dw: 1,
            groups: cin,
        };
        assert_eq!(g.check(), Ok(()), "{g:?}");
        let input = fill_vec(30 + i as u64, g.input_len());
        let weight = fill_vec(40 + i as u64, g.weight_len());
        let bias = fill_vec(50 + i as u64, g.cout);
        for (j, &act) in acts.iter().enumerate() {
            let bias = (j % 2 == 0).then_some(&bias[..]);
            check_every_mode(&g, &input, &weight, bias, act);
        }
    }
}

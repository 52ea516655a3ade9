//! Every convolution path against the naive reference, on each instruction
//! set this machine has (`for_each_isa`).

extern crate alloc;
extern crate std;

use super::plan::{Target, MAX_TILE, PANEL_FLOATS};
use super::*;
use crate::kernels::isa::for_each_isa;
use crate::kernels::reference;
use crate::kernels::test_util::{abs, assert_close, data, fill, fill_vec, special_data};
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

pub(super) type Case = (Conv2dGeometry, Vec<f32>, Vec<f32>, Option<Vec<f32>>);

pub(super) fn case() -> impl Strategy<Value = Case> {
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

/// [`conv2d_core`] on every instruction set, each checked against the
/// reference.
fn check_core_all_isas(g: &Conv2dGeometry, input: &[f32], weight: &[f32], bias: Option<&[f32]>) {
    for_each_isa(|isa| {
        // Captured by the test harness; shown only if the check fails.
        std::eprintln!("{isa:?}: {g:?}");
        let mut got = vec![f32::NAN; g.output_len()];
        conv2d_core(g, input, weight, bias, &mut got);
        check_against_reference(g, input, weight, bias, &got);
    });
}

proptest! {
    #[test]
    fn core_matches_reference((g, input, weight, bias) in case()) {
        prop_assert!(g.check().is_ok(), "{:?}", g.check());
        check_core_all_isas(&g, &input, &weight, bias.as_deref());
    }

    /// Channel counts past the register tiles (several row tiles, ragged
    /// last ones) and planes past one pixel tile, so weight-row remainders,
    /// pixel tails and multi-panel accumulation (K > kc) are all exercised.
    #[test]
    fn core_matches_reference_wide((g, input, weight, bias) in wide_case()) {
        prop_assert!(g.check().is_ok(), "{:?}", g.check());
        check_core_all_isas(&g, &input, &weight, bias.as_deref());
    }

    /// NaN and infinities in the input reach exactly the outputs whose
    /// windows hold them (weights stay finite: a padded tap multiplies the
    /// weight by zero, which PyTorch's im2col also does).
    #[test]
    fn special_inputs_propagate_like_the_reference((g, input, weight, bias) in special_case()) {
        check_core_all_isas(&g, &input, &weight, bias.as_deref());
    }
}

/// A geometry with larger channel counts and planes: groups 1–2, up to 20
/// input and 20 output channels per group, planes up to 24 × 40.
pub(super) fn wide_case() -> impl Strategy<Value = Case> {
    let axis_wide = |max_len: usize| {
        (1..=5usize, 1..=3usize, 1..=2usize)
            .prop_flat_map(move |(k, s, d)| {
                let span = d * (k - 1) + 1;
                (Just((k, s, d)), 0..=span.min(3), span..=max_len.max(span))
            })
            .prop_map(|((k, s, d), pad, len)| {
                let span = d * (k - 1) + 1;
                Axis {
                    k,
                    s,
                    d,
                    pad,
                    len,
                    out: (len + 2 * pad - span) / s + 1,
                }
            })
    };
    (1..=2usize, 1..=20usize, 1..=20usize, axis_wide(24), axis_wide(40))
        .prop_map(|(groups, cing, coutg, y, x)| geometry(groups, groups * cing, groups * coutg, y, x))
        .prop_flat_map(|g| {
            (
                Just(g),
                data(g.input_len()),
                data(g.weight_len()),
                proptest::option::of(data(g.cout)),
            )
        })
}

/// Small geometries with NaN and infinities in the input.
fn special_case() -> impl Strategy<Value = Case> {
    (channels(), axis(), axis())
        .prop_map(|((groups, cin, cout), y, x)| geometry(groups, cin, cout, y, x))
        .prop_flat_map(|g| {
            (
                Just(g),
                special_data(g.input_len()),
                data(g.weight_len()),
                proptest::option::of(data(g.cout)),
            )
        })
}

fn geometry(groups: usize, cin: usize, cout: usize, y: Axis, x: Axis) -> Conv2dGeometry {
    Conv2dGeometry {
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
    }
}

/// A square, undilated conv layer as the zoo models have them: `cin` x `h`
/// x `h` in, `cout` x `oh` x `oh` out, a `k` x `k` kernel, stride `s` and
/// padding `p` both ways.
#[allow(clippy::too_many_arguments)]
pub(super) fn square_conv(
    cin: usize,
    h: usize,
    cout: usize,
    oh: usize,
    k: usize,
    s: usize,
    p: usize,
    groups: usize,
) -> Conv2dGeometry {
    Conv2dGeometry {
        cin,
        h,
        w: h,
        cout,
        oh,
        ow: oh,
        kh: k,
        kw: k,
        sh: s,
        sw: s,
        pt: p,
        pl: p,
        dh: 1,
        dw: 1,
        groups,
    }
}

/// Runs `plan` on the instruction set it was made for, if the CPU has it.
pub(super) fn run_plan(
    t: &Target,
    plan: &Plan,
    g: &Conv2dGeometry,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
) -> Option<Vec<f32>> {
    run_plan_fused(t, plan, g, input, weight, bias, Activation::Identity)
}

/// [`run_plan`] with an activation fused into the stores.
pub(super) fn run_plan_fused(
    t: &Target,
    plan: &Plan,
    g: &Conv2dGeometry,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
) -> Option<Vec<f32>> {
    let u = filter_transforms(t, plan, g, weight);
    run_plan_packed(t, plan, g, input, weight, u.as_deref(), bias, act)
}

/// The Winograd mode's filter transforms for `plan` (which runs only with
/// them); `None` for the other modes.
pub(super) fn filter_transforms(t: &Target, plan: &Plan, g: &Conv2dGeometry, weight: &[f32]) -> Option<Vec<f32>> {
    (plan.mode == Mode::Winograd).then(|| {
        let mut u = vec![0.0; super::winograd::plan::packed_len(g, t.lanes)];
        super::winograd::filter::pack(g, &plan.winograd, t.lanes, weight, &mut u);
        u
    })
}

/// [`run_plan_fused`] with the packed weights given (see
/// [`filter_transforms`]).
#[allow(clippy::too_many_arguments)]
pub(super) fn run_plan_packed(
    t: &Target,
    plan: &Plan,
    g: &Conv2dGeometry,
    input: &[f32],
    weight: &[f32],
    packed: Option<&[f32]>,
    bias: Option<&[f32]>,
    act: Activation,
) -> Option<Vec<f32>> {
    let mut got = vec![f32::NAN; g.output_len()];
    #[cfg(target_arch = "x86_64")]
    {
        let have = isa::detected();
        if t.lanes == plan::AVX512.lanes && have >= Isa::Avx512 {
            // SAFETY: the CPU has AVX-512F.
            unsafe { x86::conv2d_avx512(g, plan, input, weight, packed, bias, act, &mut got) };
            return Some(got);
        }
        if t.lanes == plan::AVX2.lanes && have >= Isa::Avx2 {
            // SAFETY: the CPU has AVX2 and FMA.
            unsafe { x86::conv2d_avx2(g, plan, input, weight, packed, bias, act, &mut got) };
            return Some(got);
        }
    }
    let _ = packed;
    let _ = (t, plan, input, weight, bias, act);
    None
}

/// Geometries that pick each mode, run with every register-tile shape of
/// every instruction set (the automatic choice would use only some).
#[test]
fn every_register_tile_in_every_mode() {
    let base = Conv2dGeometry {
        cin: 10,
        h: 13,
        w: 21,
        cout: 14,
        oh: 13,
        ow: 21,
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
    let geometries = [
        // Flat, K = 90 over several panels when tiles are wide.
        base,
        // Pointwise, ragged last tile.
        Conv2dGeometry {
            kh: 1,
            kw: 1,
            pt: 0,
            pl: 0,
            ..base
        },
        // Rows: stride 2, asymmetric "floor" output.
        Conv2dGeometry {
            sh: 2,
            sw: 2,
            oh: 7,
            ow: 11,
            ..base
        },
        // Rows: valid convolution (ow < w), dilated.
        Conv2dGeometry {
            pt: 0,
            pl: 0,
            dh: 2,
            dw: 2,
            oh: 9,
            ow: 17,
            ..base
        },
        // Flat with groups.
        Conv2dGeometry { groups: 2, ..base },
        // Rows, one row wider than a tile: row segments, stride 3.
        Conv2dGeometry {
            cin: 2,
            cout: 5,
            h: 4,
            w: 1200,
            oh: 2,
            ow: 400,
            sh: 3,
            sw: 3,
            ..base
        },
        // Flat, K = 40 * 9 = 360: many panels.
        Conv2dGeometry {
            cin: 40,
            h: 9,
            w: 9,
            oh: 9,
            ow: 9,
            ..base
        },
    ];
    for g in geometries {
        assert_eq!(g.check(), Ok(()), "{g:?}");
        let input = fill_vec(11, g.input_len());
        let weight = fill_vec(12, g.weight_len());
        let bias = fill_vec(13, g.cout);
        for t in [plan::AVX512, plan::AVX2] {
            for &tile in t.direct_tiles {
                // Direct needs a whole vector of output channels, stride 1
                // or 2 across and a row that fits its buffers.
                let bigger = Conv2dGeometry {
                    cout: 2 * g.cout + 20,
                    ..g
                };
                let Some(plan) = Plan::direct(&bigger, &t, tile) else {
                    assert!(g.sw > 2 || g.ow > 100 || tile.1 == 1, "{g:?}");
                    continue;
                };
                check_plan_invariants(&bigger, &t, &plan);
                let weight = fill_vec(14, bigger.weight_len());
                let bias = fill_vec(15, bigger.cout);
                for b in [None, Some(&bias[..])] {
                    if let Some(got) = run_plan(&t, &plan, &bigger, &input, &weight, b) {
                        std::eprintln!("{plan:?}");
                        check_against_reference(&bigger, &input, &weight, b, &got);
                    }
                }
            }
            for &(mr, nv) in t.shapes {
                if let Some(plan) = Plan::padded(&g, &t, mr, nv) {
                    check_plan_invariants(&g, &t, &plan);
                    for b in [None, Some(&bias[..])] {
                        if let Some(got) = run_plan(&t, &plan, &g, &input, &weight, b) {
                            std::eprintln!("{plan:?}");
                            check_against_reference(&g, &input, &weight, b, &got);
                        }
                    }
                }
                let plan = Plan::with_shape(&g, &t, mr, nv);
                assert!(plan.mode != Mode::Portable && plan.mode != Mode::Depthwise, "{g:?}");
                check_plan_invariants(&g, &t, &plan);
                for b in [None, Some(&bias[..])] {
                    if let Some(got) = run_plan(&t, &plan, &g, &input, &weight, b) {
                        std::eprintln!("{plan:?}");
                        check_against_reference(&g, &input, &weight, b, &got);
                    }
                }
            }
        }
    }
}

pub(super) fn check_plan_invariants(g: &Conv2dGeometry, t: &Target, plan: &Plan) {
    if plan.mode == Mode::Direct {
        let d = plan.direct;
        assert!(
            t.direct_tiles.contains(&(d.pixels, d.max_cb)) && d.rows >= 1 && d.cc >= 1,
            "{plan:?}"
        );
        assert!(
            d.owp >= g.ow && d.coutp >= g.cout / g.groups && d.coutp.is_multiple_of(t.lanes),
            "{plan:?}"
        );
        assert!(d.rows * d.owp * d.coutp <= plan::DIRECT_ACC_FLOATS, "{plan:?}");
        assert!(d.max_cb >= 1 && d.max_cb <= plan::DIRECT_MAX_CB, "{plan:?}");
        // Accumulators, weight vectors and a broadcast within the registers
        // (twice as many as lanes per vector: AVX-512 32, AVX2 16).
        assert!(d.max_cb * d.pixels + d.max_cb < 2 * t.lanes, "{plan:?}");
        let block = direct::ChannelBlocks::new(d.coutp / t.lanes, d.max_cb).widest() * t.lanes;
        assert!(d.cc * g.kh * g.kw * block <= plan::DIRECT_WT_FLOATS, "{plan:?}");
        let rows_in = (d.rows - 1) * g.sh + (g.kh - 1) * g.dh + 1;
        assert!(
            d.xp_row <= d.wp && d.cc * rows_in.min(g.h) * d.xp_row <= plan::DIRECT_XP_FLOATS,
            "{plan:?}"
        );
        return;
    }
    if plan.mode == Mode::Winograd {
        super::winograd::tests::check_invariants(g, t, plan);
        return;
    }
    if matches!(plan.mode, Mode::Portable | Mode::Depthwise) {
        return;
    }
    if plan.mode == Mode::Padded {
        assert!(
            t.shapes.contains(&(plan.mr, plan.nv)) && g.sh == 1 && g.sw == 1,
            "{plan:?}"
        );
        let d = plan::PaddedDims::new(g, t.lanes);
        assert!(d.len <= plan::PADDED_FLOATS && d.wp >= g.ow && d.hp >= g.oh, "{plan:?}");
        return;
    }
    let width = plan.nv * t.lanes;
    assert!(plan.kc >= 1 && plan.kc <= g.cin_per_group() * g.kh * g.kw, "{plan:?}");
    assert!(
        plan.kc * plan.ldb <= PANEL_FLOATS && plan.ldb.is_multiple_of(width),
        "{plan:?}"
    );
    assert!(plan.tile >= 1, "{plan:?}");
    if plan.mode == Mode::Rows {
        assert!(plan.tile_cols >= 1 && plan.tile_cols <= g.ow, "{plan:?}");
        assert!(plan.tile == 1 || plan.tile_cols == g.ow, "{plan:?}");
        assert!(plan.tile * plan.tile_cols <= plan.ldb && plan.tile * plan.tile_cols <= MAX_TILE + width);
    } else {
        assert!(plan.tile <= plan.ldb && plan.ldb <= MAX_TILE, "{plan:?}");
    }
}

proptest! {
    /// The planner's output is self-consistent for any valid geometry.
    #[test]
    fn plans_are_consistent((g, _, _, _) in case()) {
        for t in [plan::AVX512, plan::AVX2] {
            check_plan_invariants(&g, &t, &Plan::new(&g, &t));
        }
    }

    /// The direct mode, forced with each register-tile width, on geometries
    /// it takes: whole vectors of output channels (plus ragged ones),
    /// strides 1 and 2 across (any down), dilation, padding, groups, several
    /// tiles of rows and several chunks of input channels.
    #[test]
    fn direct_mode_matches_reference((g, input, weight, bias) in direct_case()) {
        for t in [plan::AVX512, plan::AVX2] {
            for &tile in t.direct_tiles {
                let Some(plan) = Plan::direct(&g, &t, tile) else { continue };
                check_plan_invariants(&g, &t, &plan);
                if let Some(got) = run_plan(&t, &plan, &g, &input, &weight, bias.as_deref()) {
                    std::eprintln!("{plan:?}");
                    check_against_reference(&g, &input, &weight, bias.as_deref(), &got);
                }
            }
        }
    }
}

/// Geometries for the direct mode: 16 to 70 output channels per group,
/// horizontal stride 1 or 2.
fn direct_case() -> impl Strategy<Value = Case> {
    let axis_with = |max_len: usize, max_stride: usize| {
        (1..=5usize, 1..=max_stride, 1..=2usize)
            .prop_flat_map(move |(k, s, d)| {
                let span = d * (k - 1) + 1;
                (Just((k, s, d)), 0..=span.min(3), span..=max_len.max(span))
            })
            .prop_map(|((k, s, d), pad, len)| {
                let span = d * (k - 1) + 1;
                Axis {
                    k,
                    s,
                    d,
                    pad,
                    len,
                    out: (len + 2 * pad - span) / s + 1,
                }
            })
    };
    (
        1..=2usize,
        1..=40usize,
        16..=70usize,
        axis_with(30, 3),
        axis_with(40, 2),
    )
        .prop_map(|(groups, cing, coutg, y, x)| geometry(groups, groups * cing, groups * coutg, y, x))
        .prop_flat_map(|g| {
            (
                Just(g),
                data(g.input_len()),
                data(g.weight_len()),
                proptest::option::of(data(g.cout)),
            )
        })
}

/// Depthwise (with and without a channel multiplier, every padding, both
/// strides, rows wider than one register block) and a single-input-channel
/// conv, which is not depthwise-shaped work.
#[test]
fn depthwise_and_single_channel() {
    for (cin, cout, groups, k, pad, len, stride) in [
        (32, 32, 32, 3, 1, 19, 1),
        (32, 32, 32, 3, 1, 19, 2),
        (3, 3, 3, 3, 1, 75, 1),
        (3, 6, 3, 3, 0, 140, 2),
        (5, 10, 5, 3, 2, 9, 1),
        (7, 7, 7, 5, 0, 23, 1),
        (7, 7, 7, 5, 2, 23, 2),
        (2, 2, 2, 5, 2, 70, 1),
        (3, 3, 3, 1, 0, 17, 1),
        (4, 4, 4, 5, 4, 6, 1),
        (1, 6, 1, 5, 2, 28, 1),
        // 5x5 at stride 1 with a multiplier: the general kernel's padded
        // copy, shared by the output channels of one input channel.
        (3, 6, 3, 5, 2, 20, 1),
    ] {
        let span = k;
        let out = (len + 2 * pad - span) / stride + 1;
        let out_h = (len + 1 + 2 * pad - span) / stride + 1;
        let g = Conv2dGeometry {
            cin,
            h: len + 1,
            w: len,
            cout,
            oh: out_h,
            ow: out,
            kh: k,
            kw: k,
            sh: stride,
            sw: stride,
            pt: pad,
            pl: pad,
            dh: 1,
            dw: 1,
            groups,
        };
        assert_eq!(g.check(), Ok(()), "{g:?}");
        let input = fill_vec(21, g.input_len());
        let weight = fill_vec(22, g.weight_len());
        let bias = fill_vec(23, g.cout);
        check_core_all_isas(&g, &input, &weight, Some(&bias));
        check_core_all_isas(&g, &input, &weight, None);
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
        for_each_isa(|_| {
            let mut output = alloc::boxed::Box::new([[[f32::NAN; $ow]; $oh]; $cout]);
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
        });
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
    for_each_isa(|_| ones_kernel_by_hand_once());
}

fn ones_kernel_by_hand_once() {
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
    for_each_isa(|_| output_is_overwritten_once());
}

fn output_is_overwritten_once() {
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
                check_core_all_isas(&g, &input, &weight, None);
            }
        }
    }
}

/// The zoo's layer shapes, end to end through the shaped wrapper.
#[test]
fn zoo_layer_shapes() {
    // VGG: 3x3 same convs at 32x32 and 8x8.
    wrapper_case!(3, 32, 32, 32, 32, 32, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1);
    wrapper_case!(64, 8, 8, 72, 8, 8, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1);
    // MobileNet block (smaller planes): depthwise, pointwise, strided.
    wrapper_case!(16, 20, 20, 16, 20, 20, 1, 3, 3, 1, 1, 1, 1, 1, 1, 16);
    wrapper_case!(16, 20, 20, 24, 20, 20, 16, 1, 1, 1, 1, 0, 0, 1, 1, 1);
    wrapper_case!(24, 20, 20, 24, 10, 10, 24, 3, 3, 2, 2, 1, 1, 1, 1, 1);
    // LeNet-5's second conv: valid, 14 -> 10.
    wrapper_case!(6, 14, 14, 16, 10, 10, 6, 5, 5, 1, 1, 0, 0, 1, 1, 1);
}

/// The planner's choices for the zoo's layers on AVX-512, which the cost
/// models were fitted to (measured on Zen 4, e.g. with `winograd_timings`
/// below): a change here should come with new measurements. Where two modes
/// measure about the same (VGG's conv3_1, within a few %), either is
/// accepted.
#[test]
fn zoo_layers_get_the_measured_best_modes() {
    let conv = square_conv;
    let either = &[Mode::Flat, Mode::Direct, Mode::Winograd][..];
    for (name, g, modes) in [
        ("vgg conv1_1", conv(3, 32, 32, 32, 3, 1, 1, 1), &[Mode::Padded][..]),
        ("vgg conv1_2", conv(32, 32, 32, 32, 3, 1, 1, 1), &[Mode::Winograd]),
        ("vgg conv2_1", conv(32, 16, 64, 16, 3, 1, 1, 1), &[Mode::Winograd]),
        ("vgg conv2_2", conv(64, 16, 64, 16, 3, 1, 1, 1), &[Mode::Winograd]),
        ("vgg conv3_1", conv(64, 8, 128, 8, 3, 1, 1, 1), either),
        ("vgg conv3_2", conv(128, 8, 128, 8, 3, 1, 1, 1), &[Mode::Winograd]),
        ("mobilenet dw", conv(32, 56, 32, 56, 3, 1, 1, 32), &[Mode::Depthwise]),
        ("mobilenet pw", conv(32, 56, 64, 56, 1, 1, 0, 1), &[Mode::Pointwise]),
        ("mobilenet down", conv(64, 56, 64, 28, 3, 2, 1, 1), &[Mode::Direct]),
        ("lenet conv1", conv(1, 28, 6, 28, 5, 1, 2, 1), &[Mode::Padded]),
        ("lenet conv2", conv(6, 14, 16, 10, 5, 1, 0, 1), &[Mode::Direct]),
    ] {
        assert_eq!(g.check(), Ok(()), "{name}");
        let plan = Plan::new(&g, &plan::AVX512);
        assert!(modes.contains(&plan.mode), "{name}: {plan:?}");
        check_plan_invariants(&g, &plan::AVX512, &plan);
    }
    // Its 14 x 2 tile measured 3-8% faster than 7 x 2 (the same
    // multiply-adds in twice the calls) on a Xeon with AVX-512.
    let down = Plan::new(&conv(64, 56, 64, 28, 3, 2, 1, 1), &plan::AVX512);
    assert_eq!((down.direct.pixels, down.direct.max_cb), (14, 2), "{down:?}");
}

/// The planner's AVX2 tiles for the zoo layers the four- and five-pixel
/// tiles were added for (measured on Zen 3 with AVX2 only, alternating
/// variants in one process): LeNet-5's conv2 on rows of 10 takes five
/// pixels (11.4 -> 7.5 µs), MobileNet's stride-2 layer on rows of 28 takes
/// four (747 -> 693 µs). Six by two stays the tile for rows it divides.
#[test]
fn zoo_layers_on_avx2_get_the_measured_best_tiles() {
    let conv = square_conv;
    for (name, g, tile) in [
        ("lenet conv2", conv(6, 14, 16, 10, 5, 1, 0, 1), (5, 2)),
        ("mobilenet down", conv(64, 56, 64, 28, 3, 2, 1, 1), (4, 2)),
    ] {
        let plan = Plan::new(&g, &plan::AVX2);
        assert_eq!(plan.mode, Mode::Direct, "{name}: {plan:?}");
        assert_eq!((plan.direct.pixels, plan.direct.max_cb), tile, "{name}: {plan:?}");
        check_plan_invariants(&g, &plan::AVX2, &plan);
    }
    let pw = Plan::new(&conv(32, 56, 64, 56, 1, 1, 0, 1), &plan::AVX2);
    assert_eq!(pw.mode, Mode::Pointwise, "{pw:?}");
}

/// Without the Winograd mode (cores where it does not pay, see
/// `isa::winograd`), the VGG layers that take it on Zen 4 get the direct
/// kernel, which measured fastest on a Xeon with two 512-bit FMA units;
/// the other layers keep their plans.
#[test]
fn zoo_layers_without_winograd_get_the_direct_kernel() {
    let conv = square_conv;
    for (name, g) in [
        ("vgg conv1_2", conv(32, 32, 32, 32, 3, 1, 1, 1)),
        ("vgg conv2_1", conv(32, 16, 64, 16, 3, 1, 1, 1)),
        ("vgg conv2_2", conv(64, 16, 64, 16, 3, 1, 1, 1)),
        ("vgg conv3_1", conv(64, 8, 128, 8, 3, 1, 1, 1)),
        ("vgg conv3_2", conv(128, 8, 128, 8, 3, 1, 1, 1)),
    ] {
        let plan = Plan::new(&g, &plan::AVX512_NO_WINOGRAD);
        assert_eq!(plan.mode, Mode::Direct, "{name}: {plan:?}");
        check_plan_invariants(&g, &plan::AVX512_NO_WINOGRAD, &plan);
    }
    for (name, g) in [
        ("vgg conv1_1", conv(3, 32, 32, 32, 3, 1, 1, 1)),
        ("mobilenet down", conv(64, 56, 64, 28, 3, 2, 1, 1)),
        ("lenet conv2", conv(6, 14, 16, 10, 5, 1, 0, 1)),
    ] {
        assert_eq!(
            Plan::new(&g, &plan::AVX512_NO_WINOGRAD),
            Plan::new(&g, &plan::AVX512),
            "{name}"
        );
    }
}

/// The dispatcher runs the Winograd plan when the mode is on and its filter
/// transforms are given, and the plan without it when the mode is off or
/// they are missing (packed for another plan, or none: `conv2d_core`), bit
/// for bit what each plan gives on its own.
#[test]
fn dispatch_follows_the_winograd_switch() {
    if isa::detected() < Isa::Avx512 {
        return;
    }
    let g = square_conv(32, 16, 64, 16, 3, 1, 1, 1);
    let with = Plan::new(&g, &plan::AVX512);
    let without = Plan::new(&g, &plan::AVX512_NO_WINOGRAD);
    assert_eq!((with.mode, without.mode), (Mode::Winograd, Mode::Direct));
    let input = fill_vec(1, g.input_len());
    let weight = fill_vec(2, g.weight_len());
    let bias = fill_vec(3, g.cout);
    let u = filter_transforms(&plan::AVX512, &with, &g, &weight).expect("a Winograd plan");
    let plans = Plans::new(&g);
    let for_with = Some((&u[..], PackLayout(Layout::Conv(with))));
    // Laid out for another plan: not read.
    let for_other = Some((&u[..], PackLayout(Layout::Conv(without))));
    for (on, packed, plan) in [
        (true, for_with, &with),
        (true, for_other, &without),
        (true, None, &without),
        (false, for_with, &without),
        (false, None, &without),
    ] {
        let mut got = vec![0.0; g.output_len()];
        isa::with_winograd(on, || {
            let act = Activation::Identity;
            conv2d_kernel(&g, &plans, &input, &weight, packed, Some(&bias), act, &mut got)
        });
        let want = run_plan(&plan::AVX512, plan, &g, &input, &weight, Some(&bias)).expect("AVX-512");
        assert!(
            got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()),
            "winograd {on}, {:?} packed, expected {:?}",
            packed.map(|(_, layout)| layout.plan().map(|p| p.mode)),
            plan.mode
        );
    }
    let mut got = vec![0.0; g.output_len()];
    isa::with_winograd(true, || conv2d_core(&g, &input, &weight, Some(&bias), &mut got));
    let want = run_plan(&plan::AVX512, &without, &g, &input, &weight, Some(&bias)).expect("AVX-512");
    assert_eq!(got, want, "conv2d_core has no filter transforms");
}

/// Times [`conv2d_core`] on every instruction set for a few zoo layers.
/// Not a correctness test: run it by hand, in a release build, e.g.
/// `cargo test --release -p cnn-runtime --lib isa_timings -- --ignored --nocapture`.
#[test]
#[ignore = "timing, not correctness"]
fn isa_timings() {
    let conv = square_conv;
    for (name, g) in [
        ("vgg conv1_2", conv(32, 32, 32, 32, 3, 1, 1, 1)),
        ("vgg conv2_2", conv(64, 16, 64, 16, 3, 1, 1, 1)),
        ("vgg conv3_2", conv(128, 8, 128, 8, 3, 1, 1, 1)),
        ("mobilenet dw", conv(32, 56, 32, 56, 3, 1, 1, 32)),
        ("mobilenet pw", conv(32, 56, 64, 56, 1, 1, 0, 1)),
        ("mobilenet down", conv(64, 56, 64, 28, 3, 2, 1, 1)),
    ] {
        let input = fill_vec(1, g.input_len());
        let weight = fill_vec(2, g.weight_len());
        let bias = fill_vec(3, g.cout);
        let mut out = vec![0.0; g.output_len()];
        let macs = (g.output_len() * g.cin_per_group() * g.kh * g.kw) as f64;
        for_each_isa(|isa| {
            let mut best = f64::MAX;
            for _ in 0..30 {
                let t = std::time::Instant::now();
                conv2d_core(&g, &input, &weight, Some(&bias), &mut out);
                best = best.min(t.elapsed().as_secs_f64());
            }
            std::println!(
                "{name:15} {isa:9?} {:8.1} us {:6.1} GFLOP/s",
                best * 1e6,
                2.0 * macs / best / 1e9
            );
        });
    }
}

/// [`isa_timings`] for the shaped wrapper (every loop bound a constant) of
/// MobileNet's strided convolution.
#[test]
#[ignore = "timing, not correctness"]
fn isa_timings_wrapper() {
    let mut input: alloc::boxed::Box<[[[f32; 56]; 56]; 64]> = bytemuck::zeroed_box();
    let mut weight: alloc::boxed::Box<[[[[f32; 3]; 3]; 64]; 64]> = bytemuck::zeroed_box();
    fill(1, input.as_flattened_mut().as_flattened_mut());
    fill(2, weight.as_flattened_mut().as_flattened_mut().as_flattened_mut());
    let mut out: alloc::boxed::Box<[[[f32; 28]; 28]; 64]> = bytemuck::zeroed_box();
    let macs = (64 * 28 * 28 * 64 * 9) as f64;
    for_each_isa(|isa| {
        let mut best = f64::MAX;
        for _ in 0..10 {
            let t = std::time::Instant::now();
            conv2d::<64, 56, 56, 64, 28, 28, 64, 3, 3, 2, 2, 1, 1, 1, 1, 1>(&input, &weight, None, &mut out);
            best = best.min(t.elapsed().as_secs_f64());
        }
        std::println!(
            "down (wrapper)  {isa:9?} {:8.1} us {:6.1} GFLOP/s",
            best * 1e6,
            2.0 * macs / best / 1e9
        );
    });
}

/// The Winograd mode (each register tile width and a few band heights)
/// against the best other plan on the VGG layers (and VGG-16's),
/// interleaved so both see the same machine load, with the cost model's
/// estimate. Not a correctness test: run it by hand, in a release build,
/// e.g. `cargo test --release -p cnn-runtime --lib winograd_timings --
/// --ignored --nocapture` (`WINOGRAD_TIMINGS=conv3_2` times only the
/// layers whose name has it; `WINOGRAD_ISA=avx2` the AVX2 plans).
#[test]
#[ignore = "timing, not correctness"]
fn winograd_timings() {
    let conv = |cin, h, cout| square_conv(cin, h, cout, h, 3, 1, 1, 1);
    let t = if std::env::var("WINOGRAD_ISA").is_ok_and(|isa| isa == "avx2") {
        plan::AVX2
    } else {
        plan::AVX512
    };
    let without = Target {
        winograd_tiles: &[],
        ..t
    };
    for (name, g) in [
        ("vgg conv1_2", conv(32, 32, 32)),
        ("vgg conv2_1", conv(32, 16, 64)),
        ("vgg conv2_2", conv(64, 16, 64)),
        ("vgg conv3_1", conv(64, 8, 128)),
        ("vgg conv3_2", conv(128, 8, 128)),
        ("vgg16 conv1_2", conv(64, 224, 64)),
        ("vgg16 conv3_2", conv(256, 56, 256)),
        ("vgg16 conv5_2", conv(512, 14, 512)),
    ] {
        if std::env::var("WINOGRAD_TIMINGS").is_ok_and(|only| !name.contains(&only)) {
            continue;
        }
        let input = fill_vec(1, g.input_len());
        let weight = fill_vec(2, g.weight_len());
        let bias = fill_vec(3, g.cout);
        let macs = (g.output_len() * g.cin_per_group() * g.kh * g.kw) as f64;
        let mut candidates = vec![("best other", Plan::new(&g, &without))];
        for &tiles in t.winograd_tiles {
            for p in super::winograd::tests::band_variants(&g, &t, tiles) {
                candidates.push(("winograd", p));
            }
        }
        let chosen = Plan::new(&g, &t);
        let runs = if macs > 1e9 { 3 } else { 40 };
        let runs = std::env::var("WINOGRAD_RUNS").map_or(runs, |r| r.parse().expect("a number of runs"));
        let packed: Vec<_> = candidates
            .iter()
            .map(|(_, p)| filter_transforms(&t, p, &g, &weight))
            .collect();
        let mut best = vec![f64::MAX; candidates.len()];
        for _ in 0..runs {
            for (((_, p), u), best) in candidates.iter().zip(&packed).zip(best.iter_mut()) {
                let t0 = std::time::Instant::now();
                let act = Activation::Identity;
                std::hint::black_box(run_plan_packed(
                    &t,
                    p,
                    &g,
                    &input,
                    &weight,
                    u.as_deref(),
                    Some(&bias),
                    act,
                ));
                *best = best.min(t0.elapsed().as_secs_f64());
            }
        }
        for ((what, p), best) in candidates.iter().zip(&best) {
            let cost = match p.mode {
                Mode::Winograd => super::winograd::plan::cost(&g, p, t.lanes),
                _ => 0,
            };
            let w = p.winograd;
            std::println!(
                "{name:14} {what:10} {:?} tiles {} cb {} rows {} {:9.1} us {:6.1} GFLOP/s-eq  model {:.1} us{}",
                p.mode,
                w.tiles,
                w.max_cb,
                w.tr,
                best * 1e6,
                2.0 * macs / best / 1e9,
                cost as f64 / 100.0 / 3.0e3,
                if p == &chosen { "  <- chosen" } else { "" }
            );
        }
    }
}

//! The Winograd mode against the naive reference (forced plans of every
//! shape the planner may pick), its planning, and its error against an f64
//! reference.

extern crate alloc;
extern crate std;

use super::super::plan::{self, Mode, Plan, Target};
use super::super::tests::run_plan_fused;
use super::super::Conv2dGeometry;
use super::plan::{tiles, with_band, with_tiles, MAX_CB, M_FLOATS, POSITIONS, V_FLOATS, Y_FLOATS};
use crate::kernels::epilogue::Activation;
use crate::kernels::reference;
use crate::kernels::test_util::{abs, assert_close, data, fill_vec};
use alloc::vec;
use alloc::vec::Vec;
use proptest::prelude::*;

/// A 3×3, stride-1 geometry: `pad` above/left, output `h + 2 * pad - 2`
/// (or one less, as an odd "floor" output leaves it) in each axis.
#[allow(clippy::too_many_arguments)]
fn geometry(cin: usize, cout: usize, h: usize, w: usize, pt: usize, pl: usize, short: (bool, bool)) -> Conv2dGeometry {
    let oh = (h + 2 * pt - 2).saturating_sub(short.0 as usize).max(1);
    let ow = (w + 2 * pl - 2).saturating_sub(short.1 as usize).max(1);
    Conv2dGeometry {
        cin,
        h,
        w,
        cout,
        oh,
        ow,
        kh: 3,
        kw: 3,
        sh: 1,
        sw: 1,
        pt,
        pl,
        dh: 1,
        dw: 1,
        groups: 1,
    }
}

/// The plan with `tiles` per register tile and each band height from one
/// tile row to the most the buffers hold (`with_tiles` picks the most).
pub(in crate::kernels::conv2d) fn band_variants(g: &Conv2dGeometry, t: &Target, tiles_per_reg: usize) -> Vec<Plan> {
    let Some(most) = with_tiles(g, t, tiles_per_reg) else {
        return Vec::new();
    };
    let w = most.winograd;
    let mut plans = Vec::new();
    // Fewer rows, or (one row) narrower segments, down to one tile.
    let smaller = (1..w.tr).map(|tr| (tr, w.tc)).chain((1..w.tc).rev().map(|tc| (1, tc)));
    for (tr, tc) in core::iter::once((w.tr, w.tc)).chain(smaller.take(4)) {
        plans.extend(with_band(g, t, tiles_per_reg, tr, tc));
    }
    plans
}

/// Every plan the mode can run for `g` on `t`: each register tile width and
/// band height.
fn all_plans(g: &Conv2dGeometry, t: &Target) -> Vec<Plan> {
    t.winograd_tiles.iter().flat_map(|&n| band_variants(g, t, n)).collect()
}

/// Both instruction sets' targets.
const TARGETS: [Target; 2] = [plan::AVX512, plan::AVX2];

/// Compares with the reference; the tolerance is `assert_close`'s bound
/// for the direct sum (see there), which the transforms stay far inside.
/// The reference is followed by `act` (slopes within 1 in magnitude keep
/// its rounding bound).
fn check_fused(g: &Conv2dGeometry, input: &[f32], weight: &[f32], bias: Option<&[f32]>, act: Activation, got: &[f32]) {
    let mut want = vec![0.0; g.output_len()];
    reference::conv2d(g, input, weight, bias, &mut want);
    for v in &mut want {
        *v = act.apply(*v);
    }
    let mut scale = vec![0.0; g.output_len()];
    let abs_bias = bias.map(abs);
    reference::conv2d(g, &abs(input), &abs(weight), abs_bias.as_deref(), &mut scale);
    assert_close(got, &want, &scale, g.cin * 9 + 1);
}

type Case = (Conv2dGeometry, Vec<f32>, Vec<f32>, Option<Vec<f32>>);

/// Activations fused into the stores: applied once, on the last pass over
/// the input chunks (a ReLU on a partial sum would be wrong, and these
/// tests have several chunks).
const FUSED: [Activation; 4] = [
    Activation::Identity,
    Activation::Relu,
    Activation::Relu6,
    Activation::LeakyRelu(-0.75),
];

/// Channel counts around the packed blocks (16 rows) and chunk sizes,
/// planes from 2 to 21 (odd sizes: partial last tiles), padding 0 to 2.
fn case() -> impl Strategy<Value = Case> {
    (
        8..=40usize,
        8..=70usize,
        2..=21usize,
        2..=21usize,
        0..=2usize,
        0..=2usize,
        any::<(bool, bool)>(),
    )
        .prop_filter("the output needs a row and a column", |&(_, _, h, w, pt, pl, _)| {
            h + 2 * pt > 3 && w + 2 * pl > 3
        })
        .prop_map(|(cin, cout, h, w, pt, pl, short)| geometry(cin, cout, h, w, pt, pl, short))
        .prop_flat_map(|g| {
            (
                Just(g),
                data(g.input_len()),
                data(g.weight_len()),
                proptest::option::of(data(g.cout)),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every Winograd plan of the geometry matches the reference.
    #[test]
    fn every_plan_matches_reference((g, input, weight, bias) in case()) {
        prop_assert_eq!(g.check(), Ok(()));
        for t in TARGETS {
            let plans = all_plans(&g, &t);
            prop_assert!(!plans.is_empty(), "{:?}", g);
            for p in plans {
                check_invariants(&g, &t, &p);
                for act in FUSED {
                    if let Some(got) = run_plan_fused(&t, &p, &g, &input, &weight, bias.as_deref(), act) {
                        std::eprintln!("{p:?} {act:?}");
                        check_fused(&g, &input, &weight, bias.as_deref(), act, &got);
                    }
                }
            }
        }
    }
}

/// What `run` relies on: the register tile one of the target's, the
/// buffers within their bounds, whole register tiles per band.
pub(in crate::kernels::conv2d) fn check_invariants(g: &Conv2dGeometry, t: &Target, p: &Plan) {
    let w = p.winograd;
    assert_eq!(p.mode, Mode::Winograd);
    let lanes = t.lanes;
    assert!(t.winograd_tiles.contains(&w.tiles), "{p:?}");
    assert!(
        w.max_cb >= 1 && w.max_cb <= MAX_CB && w.tiles * w.max_cb <= t.direct_accumulators,
        "{p:?}"
    );
    assert!(
        w.coutp >= g.cout && w.coutp.is_multiple_of(lanes) && w.coutp < g.cout + lanes,
        "{p:?}"
    );
    let (nty, ntx) = tiles(g);
    assert!(
        w.tr >= 1 && w.tr <= nty && w.tc >= 1 && w.tc <= ntx && w.owp == 2 * w.tc,
        "{p:?}"
    );
    assert!(w.tr == 1 || w.tc == ntx, "{p:?}");
    assert!(
        w.tp >= w.tr * w.tc && w.tp.is_multiple_of(w.tiles) && w.tp < w.tr * w.tc + w.tiles,
        "{p:?}"
    );
    assert!(w.cc >= 1 && w.cc <= g.cin, "{p:?}");
    let width = super::super::direct::ChannelBlocks::new(w.coutp / lanes, w.max_cb).widest() * lanes;
    assert!(POSITIONS * w.cc * w.tp <= V_FLOATS, "{p:?}");
    assert!(POSITIONS * w.tp * width <= M_FLOATS, "{p:?}");
    assert!(2 * w.tr * w.owp * width <= Y_FLOATS, "{p:?}");
}

/// Larger planes and channel counts: several bands and blocks of output
/// channels (balanced, of unequal widths), ragged last register tiles.
#[test]
fn many_bands_blocks_and_chunks() {
    for (cin, cout, h, w, pad) in [
        (70, 40, 23, 37, 1),
        (33, 17, 9, 130, 1),
        (64, 64, 16, 16, 1),
        (20, 90, 30, 5, 0),
    ] {
        let g = geometry(cin, cout, h, w, pad, pad, (false, false));
        assert_eq!(g.check(), Ok(()), "{g:?}");
        let input = fill_vec(31, g.input_len());
        let weight = fill_vec(32, g.weight_len());
        let bias = fill_vec(33, g.cout);
        for t in TARGETS {
            let plans = all_plans(&g, &t);
            assert!(!plans.is_empty(), "{g:?}");
            for p in plans {
                check_invariants(&g, &t, &p);
                for b in [None, Some(&bias[..])] {
                    for act in FUSED {
                        if let Some(got) = run_plan_fused(&t, &p, &g, &input, &weight, b, act) {
                            std::eprintln!("{p:?} {act:?}");
                            check_fused(&g, &input, &weight, b, act, &got);
                        }
                    }
                }
            }
        }
    }
}

fn conv(cin: usize, h: usize, cout: usize) -> Conv2dGeometry {
    geometry(cin, cout, h, h, 1, 1, (false, false))
}

/// The planner picks the mode for the VGG-style net's 3×3 layers past the
/// first (measured faster: see `winograd_timings` in `conv2d/tests.rs`),
/// on both instruction sets, and never where it does not apply.
#[test]
fn planner_picks_winograd_where_it_pays() {
    for (name, g) in [
        ("cifar conv1_2", conv(32, 32, 32)),
        ("cifar conv2_1", conv(32, 16, 64)),
        ("cifar conv2_2", conv(64, 16, 64)),
        ("cifar conv3_2", conv(128, 8, 128)),
    ] {
        for t in TARGETS {
            let p = Plan::new(&g, &t);
            assert_eq!(p.mode, Mode::Winograd, "{name}: {p:?}");
            check_invariants(&g, &t, &p);
        }
    }
    let base = conv(64, 16, 64);
    for (name, g) in [
        ("cifar conv1_1 (3 input channels)", conv(3, 32, 32)),
        (
            "stride 2",
            Conv2dGeometry {
                sh: 2,
                sw: 2,
                oh: 8,
                ow: 8,
                ..base
            },
        ),
        (
            "dilation 2",
            Conv2dGeometry {
                dh: 2,
                dw: 2,
                oh: 14,
                ow: 14,
                ..base
            },
        ),
        ("groups 2", Conv2dGeometry { groups: 2, ..base }),
        ("depthwise", Conv2dGeometry { groups: 64, ..base }),
        (
            "5×5",
            Conv2dGeometry {
                kh: 5,
                kw: 5,
                pt: 2,
                pl: 2,
                ..base
            },
        ),
        (
            "1×1",
            Conv2dGeometry {
                kh: 1,
                kw: 1,
                pt: 0,
                pl: 0,
                ..base
            },
        ),
        ("3×1", Conv2dGeometry { kw: 1, pl: 0, ..base }),
        ("4 output channels", Conv2dGeometry { cout: 4, ..base }),
    ] {
        assert_eq!(g.check(), Ok(()), "{name}");
        for t in [plan::AVX512, plan::AVX2] {
            assert_ne!(Plan::new(&g, &t).mode, Mode::Winograd, "{name}");
        }
        for t in TARGETS {
            assert!(all_plans(&g, &t).is_empty(), "{name}");
        }
    }
}

/// `conv2d` accumulated in f64 (the products of f32 values are exact in
/// f64; only the sums round).
fn reference_f64(g: &Conv2dGeometry, input: &[f32], weight: &[f32], bias: &[f32]) -> Vec<f64> {
    let mut out = vec![0.0f64; g.output_len()];
    for co in 0..g.cout {
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let mut acc = bias[co] as f64;
                for ci in 0..g.cin {
                    for ky in 0..3 {
                        for kx in 0..3 {
                            let (iy, ix) = ((oy + ky) as isize - g.pt as isize, (ox + kx) as isize - g.pl as isize);
                            if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize {
                                continue;
                            }
                            let x = input[(ci * g.h + iy as usize) * g.w + ix as usize] as f64;
                            acc += x * weight[((co * g.cin + ci) * 3 + ky) * 3 + kx] as f64;
                        }
                    }
                }
                out[(co * g.oh + oy) * g.ow + ox] = acc;
            }
        }
    }
    out
}

/// Error against f64 on realistic data: PyTorch's default initialisation
/// (weights and bias uniform in ±1/sqrt(9 cin)) and inputs uniform in
/// `[0, 1)` (post-ReLU) or `[-1, 1)`, `cin` up to 512. Reported as the largest
/// `|got - exact| / max|exact|` and as a fraction of the golden tests'
/// tolerance (`1e-5 * |exact| + 1e-5 * max|exact|`), for this mode and the
/// mode the planner would otherwise pick.
///
/// Measured (Zen 4, AVX-512; `cargo test --release -p cnn-runtime --lib
/// winograd_error_vs_f64 -- --nocapture`), worst case over these shapes:
/// Winograd F(2×2, 3×3) up to 9.8e-7 of max|exact| and 8.4% of the golden
/// tolerance (cin 512 on 6×6, with the first forced plan), 2e-7 to 5e-7
/// on the VGG-like shapes; the direct mode up to 2.6e-6 (16.5%, cin 512):
/// the products sum over one chunk of input channels at a time, shorter
/// chains than the direct sum over all taps.
#[test]
fn winograd_error_vs_f64() {
    let without = Target {
        winograd_tiles: &[],
        ..plan::AVX512
    };
    for (cin, cout, h) in [
        (32, 32, 32),
        (64, 64, 16),
        (128, 64, 8),
        (256, 32, 8),
        (512, 32, 6),
        (512, 16, 14),
    ] {
        for signed in [false, true] {
            let g = conv(cin, h, cout);
            let bound = 1.0 / ((9 * cin) as f32).sqrt();
            let weight: Vec<f32> = fill_vec(41, g.weight_len()).iter().map(|x| x * bound).collect();
            let bias: Vec<f32> = fill_vec(42, g.cout).iter().map(|x| x * bound).collect();
            let input: Vec<f32> = fill_vec(43, g.input_len())
                .iter()
                .map(|&x| if signed { x } else { 0.5 * (x + 1.0) })
                .collect();
            let exact = reference_f64(&g, &input, &weight, &bias);
            let top = exact.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            // Where the planner does not pick it, the first plan it could.
            let picked = Plan::new(&g, &plan::AVX512);
            let wino = if picked.mode == Mode::Winograd {
                picked
            } else {
                all_plans(&g, &plan::AVX512)[0]
            };
            let other = Plan::new(&g, &without);
            for (what, p) in [("winograd", wino), ("other", other)] {
                let act = Activation::Identity;
                let Some(got) = run_plan_fused(&plan::AVX512, &p, &g, &input, &weight, Some(&bias), act) else {
                    return;
                };
                let (mut err, mut frac) = (0.0f64, 0.0f64);
                for (&a, &b) in got.iter().zip(&exact) {
                    let e = (a as f64 - b).abs();
                    err = err.max(e / top);
                    frac = frac.max(e / (1e-5 * b.abs() + 1e-5 * top));
                }
                std::println!(
                    "cin {cin:3} cout {cout:3} {h:2}x{h:<2} {} {what:8} {:?}: max err {err:.2e} of max|exact|, {:.1}% of the golden tolerance",
                    if signed { "[-1,1)" } else { "[0,1) " },
                    p.mode,
                    100.0 * frac
                );
                if what == "winograd" {
                    // An order of magnitude inside the golden tolerance.
                    assert!(frac < 0.1, "{g:?}: {frac}");
                }
            }
        }
    }
}

/// Small Winograd geometries with NaN and infinities in the input.
fn special_case() -> impl Strategy<Value = Case> {
    (8..=20usize, 8..=20usize, 2..=9usize, 2..=9usize, 0..=2usize, 0..=2usize)
        .prop_filter("the output needs a row and a column", |&(_, _, h, w, pt, pl)| {
            h + 2 * pt > 3 && w + 2 * pl > 3
        })
        .prop_map(|(cin, cout, h, w, pt, pl)| geometry(cin, cout, h, w, pt, pl, (false, false)))
        .prop_flat_map(|g| {
            (
                Just(g),
                crate::kernels::test_util::special_data(g.input_len()),
                data(g.weight_len()),
                proptest::option::of(data(g.cout)),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// The documented difference for non-finite inputs (module docs): NaN
    /// exactly where the reference has NaN, the reference's infinity or
    /// NaN where it has an infinity (`inf - inf` inside the transforms),
    /// and where the reference is finite (no infinity or NaN in the
    /// window), the same value within the usual tolerance.
    #[test]
    fn special_inputs_differ_only_as_documented((g, input, weight, bias) in special_case()) {
        let mut want = vec![0.0; g.output_len()];
        reference::conv2d(&g, &input, &weight, bias.as_deref(), &mut want);
        let mut scale = vec![0.0; g.output_len()];
        let abs_bias = bias.as_deref().map(abs);
        reference::conv2d(&g, &abs(&input), &abs(&weight), abs_bias.as_deref(), &mut scale);
        for p in TARGETS.iter().flat_map(|t| all_plans(&g, t).into_iter().map(move |p| (t, p))) {
            let (t, p) = p;
            let act = Activation::Identity;
            let Some(got) = run_plan_fused(t, &p, &g, &input, &weight, bias.as_deref(), act) else { continue };
            let mut finite = (Vec::new(), Vec::new(), Vec::new());
            for ((&a, &b), &sc) in got.iter().zip(&want).zip(&scale) {
                if b.is_nan() {
                    prop_assert!(a.is_nan(), "got {a}, want NaN: {p:?}");
                } else if b.is_infinite() {
                    prop_assert!(a == b || a.is_nan(), "got {a}, want {b}: {p:?}");
                } else {
                    finite.0.push(a);
                    finite.1.push(b);
                    finite.2.push(sc);
                }
            }
            assert_close(&finite.0, &finite.1, &finite.2, g.cin * 9 + 1);
        }
    }
}

//! The Winograd mode against the naive reference (forced plans of every
//! shape the planner may pick), its planning, and its error against an f64
//! reference.

extern crate alloc;
extern crate std;

use super::super::plan::{self, Mode, Plan, Target};
use super::super::Conv2dGeometry;
use super::plan::{with_shape, WinogradPlan, WINOGRAD_FLOATS};
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

/// Every plan the mode can run for `g` on `t`: each register tile, block
/// of output channels and band width.
fn all_plans(g: &Conv2dGeometry, t: &Target) -> Vec<Plan> {
    let mut plans: Vec<Plan> = Vec::new();
    for &(mr, nv) in t.winograd_shapes {
        for cob in [16, 32, 48, 64] {
            for v in 1..=8 {
                for chunk_outer in [false, true] {
                    if let Some(p) = with_shape(g, t, mr, nv, cob, v * nv * t.lanes, chunk_outer) {
                        if !plans.contains(&p) {
                            plans.push(p);
                        }
                    }
                }
            }
        }
    }
    plans
}

/// Runs `plan` with AVX-512 if the CPU has it.
fn run_avx512(
    plan: &Plan,
    g: &Conv2dGeometry,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
) -> Option<Vec<f32>> {
    run_avx512_fused(plan, g, input, weight, bias, Activation::Identity)
}

/// [`run_avx512`] with an activation fused into the stores.
fn run_avx512_fused(
    plan: &Plan,
    g: &Conv2dGeometry,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
) -> Option<Vec<f32>> {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::kernels::isa::{detected, Isa};
        if detected() >= Isa::Avx512 {
            let mut got = vec![f32::NAN; g.output_len()];
            // SAFETY: the CPU has AVX-512F.
            unsafe { super::super::x86::conv2d_avx512(g, plan, input, weight, None, bias, act, &mut got) };
            return Some(got);
        }
    }
    let _ = (plan, g, input, weight, bias, act);
    None
}

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
        let plans = all_plans(&g, &plan::AVX512);
        prop_assert!(!plans.is_empty(), "{:?}", g);
        for p in plans {
            check_invariants(&g, &p);
            for act in FUSED {
                if let Some(got) = run_avx512_fused(&p, &g, &input, &weight, bias.as_deref(), act) {
                    std::eprintln!("{p:?} {act:?}");
                    check_fused(&g, &input, &weight, bias.as_deref(), act, &got);
                }
            }
        }
    }
}

fn check_invariants(g: &Conv2dGeometry, p: &Plan) {
    let w: WinogradPlan = p.winograd;
    assert_eq!(p.mode, Mode::Winograd);
    let (uf, vf, mf) = w.floats();
    assert!(uf + vf + mf <= WINOGRAD_FLOATS, "{p:?}");
    assert!(
        w.cob >= 16 && w.cob.is_multiple_of(16) && w.cc >= 1 && w.cc <= g.cin,
        "{p:?}"
    );
    assert!(
        w.tr >= 1 && w.tc >= 1 && w.tr * w.tc <= w.tp && w.tp.is_multiple_of(16),
        "{p:?}"
    );
    assert!(w.tr == 1 || w.tc == g.ow.div_ceil(2), "{p:?}");
}

/// Larger planes and channel counts: several bands (segments of wide
/// rows too), several blocks and chunks, products accumulated in the
/// output.
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
        for p in all_plans(&g, &plan::AVX512) {
            check_invariants(&g, &p);
            for b in [None, Some(&bias[..])] {
                for act in FUSED {
                    if let Some(got) = run_avx512_fused(&p, &g, &input, &weight, b, act) {
                        std::eprintln!("{p:?} {act:?}");
                        check_fused(&g, &input, &weight, b, act, &got);
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
/// first (measured faster on Zen 4: see `winograd_timings` in
/// `conv2d/tests.rs`), and never where it does not apply.
#[test]
fn planner_picks_winograd_where_it_pays() {
    for (name, g) in [
        ("cifar conv1_2", conv(32, 32, 32)),
        ("cifar conv2_1", conv(32, 16, 64)),
        ("cifar conv2_2", conv(64, 16, 64)),
        ("cifar conv3_2", conv(128, 8, 128)),
    ] {
        let p = Plan::new(&g, &plan::AVX512);
        assert_eq!(p.mode, Mode::Winograd, "{name}: {p:?}");
        check_invariants(&g, &p);
        // AVX2 has no Winograd mode.
        assert_ne!(Plan::new(&g, &plan::AVX2).mode, Mode::Winograd, "{name}");
    }
    // Planes past L2 (VGG-16's first and third blocks): measured slower.
    for (name, g) in [
        ("vgg16 conv1_2", conv(64, 224, 64)),
        ("vgg16 conv3_2", conv(256, 56, 256)),
    ] {
        assert_ne!(Plan::new(&g, &plan::AVX512).mode, Mode::Winograd, "{name}");
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
        assert!(all_plans(&g, &plan::AVX512).is_empty(), "{name}");
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
        winograd_shapes: &[],
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
                let Some(got) = run_avx512(&p, &g, &input, &weight, Some(&bias)) else {
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
        for p in all_plans(&g, &plan::AVX512) {
            let Some(got) = run_avx512(&p, &g, &input, &weight, bias.as_deref()) else { return Ok(()) };
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

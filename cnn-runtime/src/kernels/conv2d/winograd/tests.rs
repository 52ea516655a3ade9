//! The Winograd mode against the naive reference (forced plans of every
//! shape the planner may pick), its planning, and its error against an f64
//! reference.

extern crate alloc;
extern crate std;

use super::super::plan::{self, Mode, Plan, Target};
use super::super::tests::run_plan_fused;
use super::super::Conv2dGeometry;
use super::plan::{band_shape, band_shapes, tiles, with_band, MAX_CB, M_FLOATS, POSITIONS, V_FLOATS, Y_FLOATS};
use crate::kernels::epilogue::Activation;
use crate::kernels::reference;
use crate::kernels::test_util::{abs, assert_close, data, fill_vec};
use alloc::vec;
use alloc::vec::Vec;
use proptest::prelude::*;

/// A 3×3, stride-1 geometry: `pad` above/left, output `h + 2 * pad - 2`
/// (or one less, as an odd "floor" output leaves it) in each axis.
fn geometry(
    cin: usize,
    cout: usize,
    (h, w): (usize, usize),
    (pt, pl): (usize, usize),
    short: (bool, bool),
) -> Conv2dGeometry {
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

/// Plans with `tiles` per register tile and some of the band shapes the
/// planner tries (see `band_shape`) that the buffers hold.
pub(in crate::kernels::conv2d) fn band_variants(g: &Conv2dGeometry, t: &Target, tiles_per_reg: usize) -> Vec<Plan> {
    let (nty, ntx) = tiles(g);
    let plans: Vec<Plan> = (0..band_shapes(nty, ntx))
        .filter_map(|step| {
            let (tr, tc) = band_shape(nty, ntx, step);
            with_band(g, t, tiles_per_reg, tr, tc)
        })
        .collect();
    // The largest few and the smallest: the others add run time, not cases.
    let mut picked: Vec<Plan> = plans.iter().take(4).copied().collect();
    picked.extend(plans.last().filter(|p| !picked.contains(p)));
    picked
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

/// Channel counts around the channel blocks and chunk sizes, planes from 2
/// to 21 (odd sizes: partial last tiles), padding 0 to 2.
fn case() -> impl Strategy<Value = Case> {
    (
        8..=40usize,
        8..=70usize,
        (2..=21usize, 2..=21usize),
        (0..=2usize, 0..=2usize),
        any::<(bool, bool)>(),
    )
        .prop_filter("the output needs a row and a column", |&(_, _, (h, w), (pt, pl), _)| {
            h + 2 * pt > 3 && w + 2 * pl > 3
        })
        .prop_map(|(cin, cout, hw, pad, short)| geometry(cin, cout, hw, pad, short))
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
        w.max_cb >= 1 && w.max_cb <= MAX_CB && w.tiles * w.max_cb <= t.winograd_accumulators,
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
    assert!(POSITIONS * super::plan::v_position(w.cc, w.tp) <= V_FLOATS, "{p:?}");
    assert!(POSITIONS * super::plan::m_position(w.tp, width) <= M_FLOATS, "{p:?}");
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
        // Several chunks of input channels.
        (300, 24, 12, 12, 1),
    ] {
        let g = geometry(cin, cout, (h, w), (pad, pad), (false, false));
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
    geometry(cin, cout, (h, h), (1, 1), (false, false))
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
        ("stride 2 across only", Conv2dGeometry { sw: 2, ow: 8, ..base }),
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
/// Measured (Intel Xeon, AVX-512; `cargo test --release -p cnn-runtime
/// --lib winograd_error_vs_f64 -- --nocapture`), worst case over these
/// shapes: Winograd F(2×2, 3×3) up to 9.8e-7 of max|exact| and 8.4% of the
/// golden tolerance (cin 512 on 6×6), 2.6e-7 to 4.6e-7 on the VGG-like
/// shapes; the direct mode up to 2.6e-6 (16.5%, cin 512): each Winograd
/// product sums `cin` terms (or one chunk's), the direct sum `9 × cin`.
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
    (
        8..=20usize,
        8..=20usize,
        (2..=9usize, 2..=9usize),
        (0..=2usize, 0..=2usize),
    )
        .prop_filter("the output needs a row and a column", |&(_, _, (h, w), (pt, pl))| {
            h + 2 * pt > 3 && w + 2 * pl > 3
        })
        .prop_map(|(cin, cout, hw, pad)| geometry(cin, cout, hw, pad, (false, false)))
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

/// Times the mode's phases on their own for the CIFAR VGG layers (a
/// profiling aid): the input transforms, the products and the output
/// transforms with the stores, each over the whole layer as `run` does
/// them. Run by hand: `cargo test --release -p cnn-runtime --lib
/// winograd_phase_timings -- --ignored --nocapture`.
#[test]
#[ignore = "timing, not correctness"]
#[cfg(target_arch = "x86_64")]
fn winograd_phase_timings() {
    use super::super::direct::{AccLayout, ChannelBlocks, Sink};
    use super::super::kernels::Kernels;
    use super::{filter, micro, output, transform, Band};
    use crate::kernels::isa::{detected, Isa};
    use crate::kernels::simd::Avx512;
    if detected() < Isa::Avx512 {
        return;
    }
    #[target_feature(enable = "avx512f")]
    unsafe fn phases(g: &Conv2dGeometry, p: &Plan, input: &[f32], u: &[f32], out: &mut [f32]) -> [f64; 3] {
        // SAFETY: the caller checked AVX-512F.
        let s = unsafe { Avx512::new_unchecked() };
        let w = p.winograd;
        let lanes = 16;
        let blocks = ChannelBlocks::new(w.coutp / lanes, w.max_cb);
        let width = blocks.widest() * lanes;
        let v_ldp = super::plan::v_position(w.cc, w.tp);
        let positions = POSITIONS;
        let mut v = vec![0.0f32; positions * v_ldp];
        let mut m = vec![0.0f32; positions * super::plan::m_position(w.tp, width)];
        let mut y = vec![0.0f32; 2 * w.tr * w.owp * width];
        let (nty, ntx) = tiles(g);
        let bands: Vec<Band> = (0..nty)
            .step_by(w.tr)
            .flat_map(|ty0| {
                (0..ntx).step_by(w.tc).map(move |tx0| Band {
                    ty0,
                    tr: w.tr.min(nty - ty0),
                    tx0,
                    tc: w.tc.min(ntx - tx0),
                })
            })
            .collect();
        let mut times = [f64::MAX; 3];
        for _ in 0..50 {
            let t = std::time::Instant::now();
            for band in &bands {
                for c0 in (0..g.cin).step_by(w.cc) {
                    let chunk = (c0, w.cc.min(g.cin - c0));
                    transform::input(s, g, input, band, chunk, (w.tp, v_ldp), &mut v);
                }
            }
            times[0] = times[0].min(t.elapsed().as_secs_f64());
            let t = std::time::Instant::now();
            for band in &bands {
                let band_tiles = band.tr * band.tc;
                for (co0, cb) in blocks.iter(lanes) {
                    let bw = cb * lanes;
                    let m_ldp = super::plan::m_position(w.tp, bw);
                    let ub = &u[filter::offset(g, co0, bw, 0, 0)..][..positions * g.cin * bw];
                    for c0 in (0..g.cin).step_by(w.cc) {
                        let cc = w.cc.min(g.cin - c0);
                        for pos in 0..positions {
                            for t0 in (0..band_tiles).step_by(w.tiles) {
                                let blk = micro::Block {
                                    u: ub,
                                    u_off: (pos * g.cin + c0) * bw,
                                    v: &v,
                                    v_off: pos * v_ldp + t0,
                                    ldv: w.tp,
                                    k: cc,
                                    m_off: pos * m_ldp + t0 * bw,
                                    ldm: bw,
                                };
                                match w.tiles {
                                    4 => s.winograd_tile::<4>(cb, &blk, &mut m, c0 > 0),
                                    6 => s.winograd_tile::<6>(cb, &blk, &mut m, c0 > 0),
                                    8 => s.winograd_tile::<8>(cb, &blk, &mut m, c0 > 0),
                                    _ => s.winograd_tile::<12>(cb, &blk, &mut m, c0 > 0),
                                }
                            }
                        }
                    }
                }
            }
            times[1] = times[1].min(t.elapsed().as_secs_f64());
            let t = std::time::Instant::now();
            for band in &bands {
                for (co0, cb) in blocks.iter(lanes) {
                    let prod = output::Products {
                        m: &m,
                        ldp: super::plan::m_position(w.tp, cb * lanes),
                        co0,
                        cb,
                        tiles: band.tr * band.tc,
                        ntx: band.tc,
                    };
                    output::to_acc(s, &w, &prod, None, &mut y);
                    let layout = AccLayout {
                        owp: w.owp,
                        coutp: cb * lanes,
                    };
                    let (oy0, ox0) = (2 * band.ty0, 2 * band.tx0);
                    let rows = (2 * band.tr).min(g.oh - oy0);
                    let cols = (2 * band.tc).min(g.ow - ox0);
                    let n = (cb * lanes).min(g.cout - co0);
                    let mut sink = Sink::Planes(&mut out[..]);
                    let act = Activation::Identity;
                    sink.channels(g, co0, n)
                        .take(s, g, layout, &y, (oy0, rows), (ox0, cols), act);
                }
            }
            times[2] = times[2].min(t.elapsed().as_secs_f64());
        }
        times
    }
    for (cin, h, cout) in [(32, 32, 32), (32, 16, 64), (64, 16, 64), (64, 8, 128), (128, 8, 128)] {
        let g = conv(cin, h, cout);
        let (p, _) = super::plan::best(&g, &plan::AVX512).expect("a Winograd plan");
        let input = fill_vec(1, g.input_len());
        let weight = fill_vec(2, g.weight_len());
        let mut u = vec![0.0; super::plan::packed_len(&g, 16)];
        filter::pack(&g, &p.winograd, 16, &weight, &mut u);
        let mut out = vec![0.0; g.output_len()];
        // SAFETY: the CPU has AVX-512F.
        let t = unsafe { phases(&g, &p, &input, &u, &mut out) };
        let macs = (POSITIONS * g.oh.div_ceil(2) * g.ow.div_ceil(2) * cin * cout) as f64;
        std::println!(
            "{cin}x{h}x{cout} {:?}: input {:.1} us, products {:.1} us ({:.0} GFLOP/s), output and stores {:.1} us",
            p.winograd,
            t[0] * 1e6,
            t[1] * 1e6,
            2.0 * macs / t[1] / 1e9,
            t[2] * 1e6
        );
    }
}

/// The products' register tiles on data in L1 (a profiling aid: the
/// ceiling the mode's products can reach on this core). Run by hand:
/// `cargo test --release -p cnn-runtime --lib winograd_micro_timings --
/// --ignored --nocapture`.
#[test]
#[ignore = "timing, not correctness"]
#[cfg(target_arch = "x86_64")]
fn winograd_micro_timings() {
    use super::super::kernels::Kernels;
    use super::micro;
    use crate::kernels::isa::{detected, Isa};
    use crate::kernels::simd::Avx512;
    if detected() < Isa::Avx512 {
        return;
    }
    // SAFETY: the CPU has AVX-512F.
    let s = unsafe { Avx512::new_unchecked() };
    let k = 64;
    for (tiles, cb) in [(4, 4), (6, 4), (8, 3), (12, 2), (8, 2)] {
        let width = cb * 16;
        let u = fill_vec(1, k * width);
        let v = fill_vec(2, k * 16);
        let mut m = vec![0.0f32; 16 * width];
        let blk = micro::Block {
            u: &u,
            u_off: 0,
            v: &v,
            v_off: 0,
            ldv: 16,
            k,
            m_off: 0,
            ldm: width,
        };
        let calls = 20_000;
        let mut best = f64::MAX;
        for _ in 0..20 {
            let t = std::time::Instant::now();
            for _ in 0..calls {
                match tiles {
                    4 => s.winograd_tile::<4>(cb, &blk, &mut m, false),
                    6 => s.winograd_tile::<6>(cb, &blk, &mut m, false),
                    8 => s.winograd_tile::<8>(cb, &blk, &mut m, false),
                    _ => s.winograd_tile::<12>(cb, &blk, &mut m, false),
                }
                std::hint::black_box(&mut m);
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        let flops = 2.0 * (calls * k * tiles * width) as f64;
        std::println!("{tiles} tiles x {cb} vectors, k {k}: {:.0} GFLOP/s", flops / best / 1e9);
    }
}

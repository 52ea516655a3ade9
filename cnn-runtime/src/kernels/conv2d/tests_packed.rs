//! Packed weights (see `prepacked.rs`): the direct kernel reading them gives
//! bit for bit what it gives transposing per call, on every instruction set
//! and direct width; and the shaped wrapper uses them only on the plan they
//! were packed for, whatever instruction set or Winograd switch is forced
//! between packing and use (the Winograd mode, which runs only with its
//! filter transforms, then gives what that plan gives on its own; every
//! other plan what the unpacked wrapper gives).

extern crate alloc;
extern crate std;

use super::plan::{self, Mode, Plan, Target};
use super::tests::{case, wide_case, Case};
use super::tests_fused::direct_sized;
use super::*;
use crate::kernels::isa::{for_each_isa, with_winograd};
use crate::kernels::test_util::fill;
use alloc::vec;
use alloc::vec::Vec;
use proptest::prelude::*;

/// Runs `plan` on `t`'s instruction set with and without packed weights,
/// if the CPU has it: `(unpacked, packed)` outputs.
#[cfg(target_arch = "x86_64")]
fn run_both(t: &Target, plan: &Plan, (g, input, weight, bias): &Case) -> Option<(Vec<f32>, Vec<f32>)> {
    let have = isa::detected();
    let bias = bias.as_deref();
    let mut packed = vec![f32::NAN; direct::packed_len(g, &plan.direct)];
    let mut plain = vec![f32::NAN; g.output_len()];
    let mut fast = vec![f32::NAN; g.output_len()];
    let act = Activation::Relu;
    if t.lanes == plan::AVX512.lanes && have >= Isa::Avx512 {
        // SAFETY: the CPU has AVX-512F.
        unsafe {
            x86::pack_direct_avx512(g, plan, weight, &mut packed);
            x86::conv2d_avx512(g, plan, input, weight, None, bias, act, &mut plain);
            x86::conv2d_avx512(g, plan, input, weight, Some(&packed), bias, act, &mut fast);
        }
    } else if t.lanes == plan::AVX2.lanes && have >= Isa::Avx2 {
        // SAFETY: the CPU has AVX2 and FMA.
        unsafe {
            x86::pack_direct_avx2(g, plan, weight, &mut packed);
            x86::conv2d_avx2(g, plan, input, weight, None, bias, act, &mut plain);
            x86::conv2d_avx2(g, plan, input, weight, Some(&packed), bias, act, &mut fast);
        }
    } else {
        return None;
    }
    Some((plain, fast))
}

/// Every direct plan of both vector targets on `case`: packed equals
/// unpacked, bit for bit. Returns how many plans it compared.
#[cfg(target_arch = "x86_64")]
fn check_packed_direct(case: &Case) -> usize {
    let g = &case.0;
    let mut compared = 0;
    for t in [plan::AVX512, plan::AVX2] {
        let mut plans: Vec<Plan> = t
            .direct_tiles
            .iter()
            .filter_map(|&tile| Plan::direct(g, &t, tile))
            .collect();
        plans.push(Plan::new(g, &t));
        for plan in plans.iter().filter(|p| p.mode == Mode::Direct) {
            if let Some((plain, fast)) = run_both(&t, plan, case) {
                let same = plain.iter().zip(&fast).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{g:?} {plan:?}");
                compared += 1;
            }
        }
    }
    compared
}

#[cfg(target_arch = "x86_64")]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn packed_direct_matches_unpacked(case in case()) {
        check_packed_direct(&case);
    }

    #[test]
    fn packed_direct_matches_unpacked_wide(case in wide_case()) {
        check_packed_direct(&case);
    }

    #[test]
    fn packed_direct_matches_unpacked_direct_sized(case in direct_sized()) {
        let compared = check_packed_direct(&case);
        // At least 16 output channels per group at stride 1 or 2 across:
        // every target the CPU has makes direct plans.
        let (g, have) = (&case.0, isa::detected());
        if have >= Isa::Avx2 && g.cout / g.groups >= 16 && g.sw <= 2 {
            prop_assert!(compared > 0, "no direct plan compared on {:?}", g);
        }
    }
}

/// A zoo layer through the shaped wrappers: packed under each instruction
/// set and Winograd switch, run under each, against `conv2d_fused` under
/// the run's settings.
macro_rules! check_wrapper {
    ($($c:literal),*; $g:expr) => {{
        const G: Conv2dGeometry = $g;
        const N: usize = conv2d_packed_len(&G);
        let mut input = vec![0.0f32; G.input_len()];
        let mut weight = vec![0.0f32; G.weight_len()];
        let mut bias = vec![0.0f32; G.cout];
        fill(1, &mut input);
        fill(2, &mut weight);
        fill(3, &mut bias);
        let input = bytemuck::from_bytes(bytemuck::cast_slice(&input));
        let weight = bytemuck::from_bytes(bytemuck::cast_slice(&weight));
        let bias = bytemuck::from_bytes(bytemuck::cast_slice(&bias));
        let mut settings = vec![];
        for_each_isa(|isa| settings.extend([(isa, false), (isa, true)]));
        let mut packed_some = false;
        for &(pack_isa, pack_wino) in &settings {
            let packed = crate::kernels::isa::force(pack_isa, || {
                with_winograd(pack_wino, || {
                    crate::Packed::<N>::from_fn(|out| conv2d_pack::<$($c),*, N>(weight, out))
                })
            });
            packed_some |= packed.is_packed();
            for &(run_isa, run_wino) in &settings {
                crate::kernels::isa::force(run_isa, || {
                    with_winograd(run_wino, || {
                        let mut got = alloc::boxed::Box::new(bytemuck::Zeroable::zeroed());
                        let mut plain = alloc::boxed::Box::new(bytemuck::Zeroable::zeroed());
                        conv2d_prepacked::<$($c),*, N>(input, weight, &packed, Some(bias), Activation::Relu, &mut got);
                        conv2d_fused::<$($c),*>(input, weight, Some(bias), Activation::Relu, &mut plain);
                        let (got, plain): (&[f32], &[f32]) = (bytemuck::cast_slice(&got[..]), bytemuck::cast_slice(&plain[..]));
                        let want = winograd_run(&G, &packed, bias, bytemuck::cast_slice(&input[..]), bytemuck::cast_slice(&weight[..])).unwrap_or(plain.to_vec());
                        assert!(
                            got.iter().zip(want).all(|(a, b)| a.to_bits() == b.to_bits()),
                            "packed on {pack_isa:?}/{pack_wino}, run on {run_isa:?}/{run_wino}"
                        );
                    })
                });
            }
        }
        // Where the machine has a vector path the direct plan needs, some
        // setting packed the weights.
        if isa::detected() >= Isa::Avx2 && cfg!(target_arch = "x86_64") {
            assert!(packed_some, "{:?}: never packed", G);
        }
    }};
}

/// What the wrapper should give when it runs a Winograd plan (on this
/// thread's settings) with weights packed for it: that plan on its own,
/// with fresh filter transforms. `None` when it runs another plan.
fn winograd_run<const N: usize>(
    g: &Conv2dGeometry,
    packed: &crate::Packed<N>,
    bias: &[f32],
    input: &[f32],
    weight: &[f32],
) -> Option<Vec<f32>> {
    let plans = Plans::new(g);
    let (Some((isa, plan)), Some(_)) = plans.with_packed(packed.get()) else {
        return None;
    };
    if plan.mode != Mode::Winograd {
        return None;
    }
    let t = if isa == Isa::Avx512 { plan::AVX512 } else { plan::AVX2 };
    super::tests::run_plan_fused(&t, plan, g, input, weight, Some(bias), Activation::Relu)
}

#[test]
fn wrappers_use_packed_weights_only_on_their_plan() {
    // LeNet-5's second conv: 6 -> 16, 5x5, 14x14 -> 10x10 (direct).
    check_wrapper!(6, 14, 14, 16, 10, 10, 6, 5, 5, 1, 1, 0, 0, 1, 1, 1; Conv2dGeometry {
        cin: 6, h: 14, w: 14, cout: 16, oh: 10, ow: 10, kh: 5, kw: 5,
        sh: 1, sw: 1, pt: 0, pl: 0, dh: 1, dw: 1, groups: 1,
    });
    // The CIFAR VGG's 64 -> 64 conv on 16x16 (Winograd or direct).
    check_wrapper!(64, 16, 16, 64, 16, 16, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1; Conv2dGeometry {
        cin: 64, h: 16, w: 16, cout: 64, oh: 16, ow: 16, kh: 3, kw: 3,
        sh: 1, sw: 1, pt: 1, pl: 1, dh: 1, dw: 1, groups: 1,
    });
    // A grouped, strided conv: 24 -> 48 in 2 groups, 3x3 stride 2.
    check_wrapper!(24, 20, 20, 48, 10, 10, 12, 3, 3, 2, 2, 1, 1, 1, 1, 2; Conv2dGeometry {
        cin: 24, h: 20, w: 20, cout: 48, oh: 10, ow: 10, kh: 3, kw: 3,
        sh: 2, sw: 2, pt: 1, pl: 1, dh: 1, dw: 1, groups: 2,
    });
}

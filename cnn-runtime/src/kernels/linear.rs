//! Fully connected layer (PyTorch `Linear`).

mod gemv;
#[cfg(target_arch = "x86_64")]
mod x86;

use super::epilogue::Activation;
use super::isa::{self, Isa};
use super::window::dot;

/// The shape of one [`linear`] call as plain numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearGeometry {
    /// Input features.
    pub in_features: usize,
    /// Output features.
    pub out_features: usize,
}

/// `y = W x + b`, with the weight in PyTorch's `[OUT][IN]` layout.
#[inline(always)]
pub fn linear<const IN: usize, const OUT: usize>(
    input: &[f32; IN],
    weight: &[[f32; IN]; OUT],
    bias: Option<&[f32; OUT]>,
    output: &mut [f32; OUT],
) {
    linear_fused(input, weight, bias, Activation::Identity, output);
}

/// [`linear`] followed by the activation `act`, applied as each output is
/// stored: the same results as [`linear`] and then the standalone kernel.
pub fn linear_fused<const IN: usize, const OUT: usize>(
    input: &[f32; IN],
    weight: &[[f32; IN]; OUT],
    bias: Option<&[f32; OUT]>,
    act: Activation,
    output: &mut [f32; OUT],
) {
    let geometry = LinearGeometry {
        in_features: IN,
        out_features: OUT,
    };
    linear_core_fused(
        &geometry,
        input,
        weight.as_flattened(),
        bias.map(|b| b.as_slice()),
        act,
        output,
    );
}

/// The run-time-shaped core of [`linear`], on flat slices.
///
/// With AVX-512F or AVX2+FMA (detected at run time), eight weight rows are
/// dotted with the input at once in vector registers; elsewhere each output
/// is one dot product with eight independent accumulators, which LLVM
/// vectorises. PyTorch's own summation order differs anyway.
///
/// # Panics
///
/// If a slice length does not match the geometry; this cannot happen
/// through [`linear`].
#[inline(always)]
pub fn linear_core(g: &LinearGeometry, input: &[f32], weight: &[f32], bias: Option<&[f32]>, output: &mut [f32]) {
    linear_core_fused(g, input, weight, bias, Activation::Identity, output);
}

/// [`linear_core`] with the activation `act` fused into the stores (see
/// [`linear_fused`]).
///
/// # Panics
///
/// As [`linear_core`].
#[inline(always)]
pub fn linear_core_fused(
    g: &LinearGeometry,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    output: &mut [f32],
) {
    assert_eq!(input.len(), g.in_features, "linear: input length");
    assert_eq!(output.len(), g.out_features, "linear: output length");
    assert_eq!(
        Some(weight.len()),
        g.in_features.checked_mul(g.out_features),
        "linear: weight length"
    );
    if let Some(bias) = bias {
        assert_eq!(bias.len(), g.out_features, "linear: bias length");
    }
    if g.in_features == 0 {
        // No rows to walk (and `chunks_exact(0)` would panic): y = b.
        match bias {
            Some(b) => output.copy_from_slice(b),
            None => output.fill(0.0),
        }
        act.apply_slice(output);
        return;
    }
    match isa::active() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa::active` returns Avx512 only if the CPU has AVX-512F.
        Isa::Avx512 => unsafe { x86::gemv_avx512(input, weight, bias, act, output) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa::active` returns Avx2 only if the CPU has AVX2 and FMA.
        Isa::Avx2 => unsafe { x86::gemv_avx2(input, weight, bias, act, output) },
        _ => portable(g, input, weight, bias, act, output),
    }
}

/// The portable path of [`linear_core`]: slice lengths already checked,
/// `in_features > 0`.
#[inline(always)]
fn portable(
    g: &LinearGeometry,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    output: &mut [f32],
) {
    let rows = weight.chunks_exact(g.in_features);
    for (o, (y, row)) in output.iter_mut().zip(rows).enumerate() {
        *y = act.apply(bias.map_or(0.0, |b| b[o]) + dot(row, input));
    }
}

#[cfg(test)]
mod tests {
    extern crate alloc;

    use super::*;
    use crate::kernels::isa::for_each_isa;
    use crate::kernels::reference;
    use crate::kernels::test_util::{abs, assert_close, data, fill};
    use alloc::vec;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    fn check_against_reference(g: &LinearGeometry, input: &[f32], weight: &[f32], bias: Option<&[f32]>, got: &[f32]) {
        let mut want = vec![0.0; g.out_features];
        reference::linear(g, input, weight, bias, &mut want);
        let mut scale = vec![0.0; g.out_features];
        let abs_bias = bias.map(abs);
        reference::linear(g, &abs(input), &abs(weight), abs_bias.as_deref(), &mut scale);
        assert_close(got, &want, &scale, g.in_features + 1);
    }

    type Case = (LinearGeometry, Vec<f32>, Vec<f32>, Option<Vec<f32>>);

    fn case() -> impl Strategy<Value = Case> {
        let sizes = prop_oneof![Just(1usize), Just(17), Just(33), 1..=70usize];
        (sizes, 1..=20usize)
            .prop_map(|(in_features, out_features)| LinearGeometry {
                in_features,
                out_features,
            })
            .prop_flat_map(|g| {
                (
                    Just(g),
                    data(g.in_features),
                    data(g.in_features * g.out_features),
                    proptest::option::of(data(g.out_features)),
                )
            })
    }

    proptest! {
        #[test]
        fn core_matches_reference((g, input, weight, bias) in case()) {
            for_each_isa(|_| {
                let mut got = vec![f32::NAN; g.out_features];
                linear_core(&g, &input, &weight, bias.as_deref(), &mut got);
                check_against_reference(&g, &input, &weight, bias.as_deref(), &got);
            });
        }
    }

    fn wrapper_case<const IN: usize, const OUT: usize>() {
        for_each_isa(|_| wrapper_case_once::<IN, OUT>());
    }

    fn wrapper_case_once<const IN: usize, const OUT: usize>() {
        let mut input = [0.0f32; IN];
        let mut weight = [[0.0f32; IN]; OUT];
        let mut bias = [0.0f32; OUT];
        fill(IN as u64, &mut input);
        fill(OUT as u64 + 100, weight.as_flattened_mut());
        fill(7, &mut bias);
        let mut got = [f32::NAN; OUT];
        linear(&input, &weight, Some(&bias), &mut got);
        let g = LinearGeometry {
            in_features: IN,
            out_features: OUT,
        };
        check_against_reference(&g, &input, weight.as_flattened(), Some(&bias), &got);
        linear(&input, &weight, None, &mut got);
        check_against_reference(&g, &input, weight.as_flattened(), None, &got);
    }

    #[test]
    fn wrapper_odd_sizes() {
        wrapper_case::<1, 1>();
        wrapper_case::<17, 3>();
        wrapper_case::<33, 10>();
        wrapper_case::<400, 120>();
        wrapper_case::<2048, 13>();
        wrapper_case::<31, 1>();
    }

    #[test]
    fn by_hand() {
        for_each_isa(|_| by_hand_once());
    }

    /// NaN and infinities in the input or weights reach exactly the outputs
    /// whose dot products hold them.
    #[test]
    fn special_values_propagate() {
        for_each_isa(|_| {
            let n = 37;
            let mut input = vec![0.5f32; n];
            let mut weight = vec![0.25f32; n * 5];
            input[3] = f32::NAN;
            weight[n + 36] = f32::INFINITY;
            weight[2 * n + 36] = f32::INFINITY;
            weight[2 * n + 35] = f32::NEG_INFINITY;
            let mut got = [0.0f32; 5];
            let g = LinearGeometry {
                in_features: n,
                out_features: 5,
            };
            linear_core(&g, &input, &weight, None, &mut got);
            assert!(got.iter().all(|y| y.is_nan()), "{got:?}");
            input[3] = 1.0;
            linear_core(&g, &input, &weight, None, &mut got);
            assert_eq!(got[1], f32::INFINITY);
            assert!(got[2].is_nan());
            assert!(got[0].is_finite() && got[3].is_finite() && got[4].is_finite());
        });
    }

    fn by_hand_once() {
        let weight = [[1.0, 2.0, 3.0], [-1.0, 0.0, 1.0]];
        let mut out = [0.0f32; 2];
        linear(&[1.0, 1.0, 2.0], &weight, Some(&[0.5, -0.5]), &mut out);
        assert_eq!(out, [9.5, 0.5]);
        linear(&[1.0, 1.0, 2.0], &weight, None, &mut out);
        assert_eq!(out, [9.0, 1.0]);
    }

    #[test]
    fn zero_inputs_give_the_bias() {
        let mut out = [f32::NAN; 2];
        linear::<0, 2>(&[], &[[], []], Some(&[1.0, 2.0]), &mut out);
        assert_eq!(out, [1.0, 2.0]);
    }
}

//! Fully connected layer (PyTorch `Linear`).

mod columns;
mod gemv;
#[cfg(target_arch = "x86_64")]
mod x86;

use super::conv2d::Layout;
use super::epilogue::Activation;
use super::isa::{self, Isa};
use super::window::dot;
use crate::kernels::PackLayout;
use crate::Packed;

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

/// Floats of packed weights a linear layer of `in_features` × `out_features`
/// can use: its weights in column blocks for AVX2 or AVX-512, whichever
/// takes more (see [`linear_pack`]). It is 0 when neither takes blocks for
/// the layer (AVX2 needs at least 57 outputs, eight vectors of eight;
/// AVX-512 at least 49 outputs, four vectors of sixteen, and at most 256
/// inputs), with no inputs, and on targets other than x86-64. The generated
/// code sizes each layer's [`Packed`] with it.
///
/// ```
/// use cnn_runtime::kernels::linear_packed_len;
///
/// // LeNet-5's fc1: 120 outputs, one block of 15 vectors of eight (AVX2;
/// // AVX-512 reads its 400 inputs per row in place).
/// let len = linear_packed_len(400, 120);
/// assert!(len == 0 || len == 400 * 120);
/// // Its fc2: 84 outputs, 11 vectors of eight (AVX2, 88 outputs) or six
/// // of sixteen (AVX-512, 96).
/// assert!(matches!(linear_packed_len(120, 84), 0 | 11520));
/// // Ten outputs: the row-major product, nothing packed.
/// assert_eq!(linear_packed_len(84, 10), 0);
/// ```
pub const fn linear_packed_len(in_features: usize, out_features: usize) -> usize {
    if !cfg!(target_arch = "x86_64") || in_features == 0 {
        return 0;
    }
    columns::packed_len(in_features, out_features)
}

/// Lays out a linear layer's weights (`[OUT][IN]`, PyTorch's order) once,
/// for [`linear_prepacked`]: when the kernels run on AVX2 or AVX-512, in
/// blocks of up to 15 vectors of outputs, `[block][input][output]`, so that
/// a call reads them as one contiguous stream (on the portable path, for
/// layers with too few outputs or, on AVX-512, more than 256 inputs, or with
/// `N == 0`, nothing is packed and `None` returned). `out` must start
/// zeroed. `N` must be 0 or [`linear_packed_len`]`(IN, OUT)`.
///
/// ```
/// use cnn_runtime::kernels::{linear_fused, linear_pack, linear_packed_len, linear_prepacked, Activation};
/// use cnn_runtime::Packed;
///
/// const N: usize = linear_packed_len(16, 64);
/// let weight: [[f32; 16]; 64] = core::array::from_fn(|o| core::array::from_fn(|i| (o as f32 - i as f32) / 64.0));
/// let packed = Packed::<N>::from_fn(|out| linear_pack(&weight, out));
/// let input = [0.5f32; 16];
/// let (mut got, mut want) = ([0.0f32; 64], [0.0f32; 64]);
/// linear_prepacked(&input, &weight, &packed, None, Activation::Relu, &mut got);
/// linear_fused(&input, &weight, None, Activation::Relu, &mut want);
/// for (g, w) in got.iter().zip(&want) {
///     assert!((g - w).abs() <= 1e-5);
/// }
/// ```
pub fn linear_pack<const IN: usize, const OUT: usize, const N: usize>(
    weight: &[[f32; IN]; OUT],
    out: &mut [f32; N],
) -> Option<PackLayout> {
    const {
        assert!(
            N == 0 || N == linear_packed_len(IN, OUT),
            "linear_pack: N must be 0 or linear_packed_len"
        )
    };
    if N == 0 {
        return None;
    }
    let isa = isa::active();
    let blocks = columns_for(isa)?;
    let (_, vectors) = blocks.blocking(IN, OUT)?;
    columns::pack(weight.as_flattened(), IN, OUT, blocks, vectors, out);
    Some(PackLayout(Layout::Linear { isa, vectors }))
}

/// The column blocks of the kernels for `isa`, if it has them.
fn columns_for(isa: Isa) -> Option<columns::Blocks> {
    match isa {
        Isa::Avx2 => Some(columns::AVX2),
        Isa::Avx512 => Some(columns::AVX512),
        _ => None,
    }
}

/// [`linear_fused`] reading the weights [`linear_pack`] laid out, when they
/// were packed for the instruction set the kernels run on now; otherwise
/// (and with [`Packed::NONE`]) the same as [`linear_fused`] on `weight`.
/// The sums run in another order than [`linear_fused`]'s, so results may
/// differ in the last bits.
pub fn linear_prepacked<const IN: usize, const OUT: usize, const N: usize>(
    input: &[f32; IN],
    weight: &[[f32; IN]; OUT],
    packed: &Packed<N>,
    bias: Option<&[f32; OUT]>,
    act: Activation,
    output: &mut [f32; OUT],
) {
    #[cfg(target_arch = "x86_64")]
    if let Some((
        data,
        PackLayout(Layout::Linear {
            isa: packed_for,
            vectors,
        }),
    )) = packed.get()
    {
        let bias = bias.map(|b| b.as_slice());
        match (packed_for, isa::active()) {
            // SAFETY: `isa::active` returns Avx512 only if the CPU has
            // AVX-512F.
            (Isa::Avx512, Isa::Avx512) => {
                return unsafe { x86::columns_avx512(vectors, input, data, bias, act, output) };
            }
            // SAFETY: `isa::active` returns Avx2 only if the CPU has AVX2
            // and FMA.
            (Isa::Avx2, Isa::Avx2) => return unsafe { x86::columns_avx2(vectors, input, data, bias, act, output) },
            _ => {}
        }
    }
    let _ = packed;
    linear_fused(input, weight, bias, act, output);
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

    /// Packed (column blocks on AVX2 and AVX-512) against the reference,
    /// through each activation, on every instruction set: packing happens
    /// only where the kernels have column blocks for the layer, and is read
    /// only on the instruction set it was packed for.
    fn prepacked_case<const IN: usize, const OUT: usize, const N: usize>() {
        let mut input = [0.0f32; IN];
        let mut weight = alloc::boxed::Box::new([[0.0f32; IN]; OUT]);
        let mut bias = [0.0f32; OUT];
        fill(IN as u64 + 3, &mut input);
        fill(OUT as u64 + 200, weight.as_flattened_mut());
        fill(9, &mut bias);
        let g = LinearGeometry {
            in_features: IN,
            out_features: OUT,
        };
        let mut packed_somewhere = false;
        for_each_isa(|isa| {
            let packed = Packed::<N>::from_fn(|out| linear_pack(&weight, out));
            let blocks = columns_for(isa).and_then(|b| b.blocking(IN, OUT));
            assert_eq!(packed.is_packed(), blocks.is_some() && N > 0, "{isa:?} {IN}x{OUT}");
            packed_somewhere |= packed.is_packed();
            for act in [Activation::Identity, Activation::Relu, Activation::LeakyRelu(0.25)] {
                for bias in [Some(&bias), None] {
                    let mut got = [f32::NAN; OUT];
                    linear_prepacked(&input, &weight, &packed, bias, act, &mut got);
                    // The activation undone on the reference's side: check the
                    // product, then that the activation was applied.
                    let mut plain = [f32::NAN; OUT];
                    linear_prepacked(&input, &weight, &packed, bias, Activation::Identity, &mut plain);
                    check_against_reference(&g, &input, weight.as_flattened(), bias.map(|b| &b[..]), &plain);
                    for (g, p) in got.iter().zip(&plain) {
                        assert_eq!(g.to_bits(), act.apply(*p).to_bits(), "{isa:?} {act:?}");
                    }
                }
            }
        });
        if isa::detected() >= Isa::Avx2 && cfg!(target_arch = "x86_64") && N > 0 {
            assert!(packed_somewhere, "{IN}x{OUT} never packed");
        }
    }

    #[test]
    fn prepacked_matches_reference() {
        // Blocks as (AVX2; AVX-512, for at most 256 inputs).
        // LeNet-5's fc1 (one block of 15; none) and fc2 (11 vectors, a
        // ragged one; 6 vectors, a ragged one).
        prepacked_case::<400, 120, { linear_packed_len(400, 120) }>();
        prepacked_case::<120, 84, { linear_packed_len(120, 84) }>();
        // CIFAR VGG's fc1: three blocks of 11 vectors, the last one short;
        // none.
        prepacked_case::<2048, 256, { linear_packed_len(2048, 256) }>();
        // One input; the smallest layer with AVX2 column blocks (one of 8;
        // one of 4).
        prepacked_case::<1, 64, { linear_packed_len(1, 64) }>();
        // The smallest with AVX-512 blocks (too few for AVX2; 4 vectors,
        // the last holding one output).
        prepacked_case::<7, 49, { linear_packed_len(7, 49) }>();
        // Two blocks of 8 (16 vectors) and an odd width past them; one
        // block of 8, the last vector ragged.
        prepacked_case::<33, 121, { linear_packed_len(33, 121) }>();
        // Five blocks of 13, the last short; three of 11, the last short.
        prepacked_case::<3, 500, { linear_packed_len(3, 500) }>();
        // Too few outputs: nothing packed.
        assert_eq!(linear_packed_len(84, 10), 0);
        assert_eq!(linear_packed_len(84, 48), 0);
        // Widest rows with AVX-512 blocks, and one past.
        prepacked_case::<256, 50, { linear_packed_len(256, 50) }>();
        assert_eq!(linear_packed_len(257, 50), 0);
        prepacked_case::<84, 10, 0>();
    }
}

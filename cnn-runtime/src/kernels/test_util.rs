//! Helpers shared by the kernel tests: data, and comparison against the
//! reference.

extern crate alloc;

use alloc::vec::Vec;
use proptest::prelude::*;

/// Finite test data in `[-1, 1)`.
pub(crate) fn data(len: usize) -> impl Strategy<Value = Vec<f32>> {
    proptest::collection::vec(-1.0f32..1.0, len)
}

/// Mostly finite data with NaN and both infinities mixed in, for kernels
/// whose special-value behaviour is part of the contract (pooling).
pub(crate) fn special_data(len: usize) -> impl Strategy<Value = Vec<f32>> {
    let value = prop_oneof![
        12 => -1.0f32..1.0,
        1 => Just(f32::NAN),
        1 => Just(f32::INFINITY),
        1 => Just(f32::NEG_INFINITY),
    ];
    proptest::collection::vec(value, len)
}

/// Element-wise absolute values.
pub(crate) fn abs(x: &[f32]) -> Vec<f32> {
    x.iter().map(|v| v.abs()).collect()
}

/// Fills `out` with deterministic pseudo-random values in `[-1, 1)`.
pub(crate) fn fill(seed: u64, out: &mut [f32]) {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for v in out {
        // xorshift64*: plenty for test data, and no dependency.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let bits = state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40;
        *v = bits as f32 / (1u64 << 23) as f32 - 1.0;
    }
}

/// [`fill`] into a new vector.
pub(crate) fn fill_vec(seed: u64, len: usize) -> Vec<f32> {
    let mut v = alloc::vec![0.0; len];
    fill(seed, &mut v);
    v
}

/// Checks a fast kernel's output against the reference's.
///
/// The fast kernels add the same rounded terms as the reference, in a
/// different order (lane-split dot products, tap-major convolution). Higham's
/// bound for recursive summation puts each order within
/// `(n - 1) * u * sum|t_i|` of the exact sum (`u = EPSILON / 2`), so the two
/// differ by at most `n * EPSILON * sum|t_i|`; two more units cover one final
/// division or scaling rounded on each side. `scale[i]` is `sum|t_i|` for
/// output `i` (tests get it by running the reference on absolute values) and
/// `terms` is `n`. A fixed relative tolerance such as `1e-5 * (1 + |want|)`
/// is both too loose for short sums and, under cancellation, too tight for
/// long ones; this bound is rigorous, so the property tests cannot flake,
/// yet it is orders of magnitude below what any indexing mistake (a term
/// dropped, doubled or misplaced) produces.
///
/// NaN must match NaN, and infinities must match exactly.
pub(crate) fn assert_close(got: &[f32], want: &[f32], scale: &[f32], terms: usize) {
    assert_eq!(got.len(), want.len(), "length");
    assert_eq!(scale.len(), want.len(), "scale length");
    for (i, ((&a, &b), &s)) in got.iter().zip(want).zip(scale).enumerate() {
        if a.is_nan() || b.is_nan() {
            assert!(a.is_nan() && b.is_nan(), "element {i}: got {a}, want {b}");
            continue;
        }
        if a == b {
            continue;
        }
        // The MIN_POSITIVE slack covers terms that underflowed to subnormals,
        // where the relative bound does not hold.
        let tolerance = (terms + 2) as f32 * f32::EPSILON * s + terms as f32 * f32::MIN_POSITIVE;
        assert!(
            (a - b).abs() <= tolerance,
            "element {i}: got {a}, want {b}, |diff| {} > tolerance {tolerance}",
            (a - b).abs()
        );
    }
}

/// Checks exact agreement (for kernels that only select, never round),
/// treating NaN as equal to NaN and `0.0` as equal to `-0.0`.
pub(crate) fn assert_same(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "length");
    for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
        assert!(a == b || (a.is_nan() && b.is_nan()), "element {i}: got {a}, want {b}");
    }
}

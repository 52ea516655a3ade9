//! The x86-64 entry points of [`super::linear_core`].

use super::gemv;
use crate::kernels::epilogue::Activation;
use crate::kernels::simd::{Avx2, Avx512};

/// [`gemv::run`] on AVX-512F.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn gemv_avx512(
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    output: &mut [f32],
) {
    // SAFETY: the caller guarantees AVX-512F.
    gemv::run(unsafe { Avx512::new_unchecked() }, input, weight, bias, act, output)
}

/// [`gemv::run`] on AVX2 with FMA.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn gemv_avx2(
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    output: &mut [f32],
) {
    // SAFETY: the caller guarantees AVX2 and FMA.
    gemv::run(unsafe { Avx2::new_unchecked() }, input, weight, bias, act, output)
}

//! The x86-64 entry points of [`super::linear_core`].

use super::{columns, gemv};
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

/// [`columns::run`] on AVX2 with FMA, for blocks of `vectors` vectors.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn columns_avx2(
    vectors: usize,
    input: &[f32],
    packed: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    output: &mut [f32],
) {
    // SAFETY: the caller guarantees AVX2 and FMA.
    let s = unsafe { Avx2::new_unchecked() };
    let (x, w, y) = (input, packed, output);
    match vectors {
        8 => columns::run::<_, 8>(s, x, w, bias, act, y),
        9 => columns::run::<_, 9>(s, x, w, bias, act, y),
        10 => columns::run::<_, 10>(s, x, w, bias, act, y),
        11 => columns::run::<_, 11>(s, x, w, bias, act, y),
        12 => columns::run::<_, 12>(s, x, w, bias, act, y),
        13 => columns::run::<_, 13>(s, x, w, bias, act, y),
        14 => columns::run::<_, 14>(s, x, w, bias, act, y),
        15 => columns::run::<_, 15>(s, x, w, bias, act, y),
        _ => unreachable!("column blocks have MIN_VECTORS to MAX_VECTORS vectors"),
    }
}

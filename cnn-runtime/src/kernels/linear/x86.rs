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

/// `columns::run` for the block width `vectors`, one instance per width
/// listed: the instruction set's widths only, since every instance costs
/// build time.
macro_rules! columns_for {
    ($s:expr, $vectors:expr, ($x:expr, $w:expr, $bias:expr, $act:expr, $y:expr), [$($nv:literal)*]) => {
        match $vectors {
            $($nv => columns::run::<_, $nv>($s, $x, $w, $bias, $act, $y),)*
            _ => unreachable!("column blocks have min_vectors to MAX_VECTORS vectors"),
        }
    };
}

/// [`columns::run`] on AVX2 with FMA, for blocks of `vectors` vectors
/// ([`columns::AVX2`]).
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
    const { assert!(columns::AVX2.min_vectors == 8 && columns::MAX_VECTORS == 15) };
    columns_for!(s, vectors, (input, packed, bias, act, output), [8 9 10 11 12 13 14 15])
}

/// [`columns::run`] on AVX-512F, for blocks of `vectors` vectors
/// ([`columns::AVX512`]).
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn columns_avx512(
    vectors: usize,
    input: &[f32],
    packed: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    output: &mut [f32],
) {
    // SAFETY: the caller guarantees AVX-512F.
    let s = unsafe { Avx512::new_unchecked() };
    const { assert!(columns::AVX512.min_vectors == 4 && columns::MAX_VECTORS == 15) };
    columns_for!(s, vectors, (input, packed, bias, act, output), [4 5 6 7 8 9 10 11 12 13 14 15])
}

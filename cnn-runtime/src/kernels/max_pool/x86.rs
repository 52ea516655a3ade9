//! The x86-64 entry points of the 2×2 stride-2 pool.

use super::{pool2x2, Pool2dGeometry};
use crate::kernels::simd::{Avx2, Avx512};

/// [`pool2x2::run`] on AVX-512F.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn pool2x2_avx512<const MAX: bool>(g: &Pool2dGeometry, input: &[f32], output: &mut [f32]) {
    // SAFETY: the caller guarantees AVX-512F.
    pool2x2::run::<_, MAX>(unsafe { Avx512::new_unchecked() }, g, input, output)
}

/// [`pool2x2::run`] on AVX2.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn pool2x2_avx2<const MAX: bool>(g: &Pool2dGeometry, input: &[f32], output: &mut [f32]) {
    // SAFETY: the caller guarantees AVX2 and FMA.
    pool2x2::run::<_, MAX>(unsafe { Avx2::new_unchecked() }, g, input, output)
}

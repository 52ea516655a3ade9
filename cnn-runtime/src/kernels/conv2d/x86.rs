//! The x86-64 entry points and [`Kernels`] implementations, each compiled
//! for its instruction set with the generic vector code inlined into it.

use super::direct::{self, micro as direct_micro};
use super::kernels::Kernels;
use super::micro::{self, Block, Start};
use super::plan::{Mode, Plan};
use super::tiled;
use super::winograd::{self, micro as winograd_micro};
use super::{depthwise, pack, Conv2dGeometry};
use crate::kernels::simd::{Avx2, Avx512};

/// Implements [`Kernels`] for an instruction-set token, with outlined
/// `#[target_feature]` functions.
macro_rules! kernels {
    ($token:ident, $features:literal) => {
        impl Kernels for $token {
            #[inline(always)]
            fn depthwise(
                self,
                g: &Conv2dGeometry,
                input: &[f32],
                weight: &[f32],
                bias: Option<&[f32]>,
                output: &mut [f32],
            ) {
                #[target_feature(enable = $features)]
                #[inline(never)]
                unsafe fn imp(
                    s: $token,
                    g: &Conv2dGeometry,
                    input: &[f32],
                    weight: &[f32],
                    bias: Option<&[f32]>,
                    output: &mut [f32],
                ) {
                    depthwise::run(s, g, input, weight, bias, output)
                }
                // SAFETY: the token proves the CPU has these features.
                unsafe { imp(self, g, input, weight, bias, output) }
            }

            #[inline(always)]
            fn pack_flat(
                self,
                g: &Conv2dGeometry,
                input: &[f32],
                pixels: (usize, usize),
                ks: (usize, usize),
                panel: &mut [f32],
                ldb: usize,
            ) {
                #[target_feature(enable = $features)]
                #[inline(never)]
                unsafe fn imp(
                    s: $token,
                    g: &Conv2dGeometry,
                    input: &[f32],
                    pixels: (usize, usize),
                    ks: (usize, usize),
                    panel: &mut [f32],
                    ldb: usize,
                ) {
                    pack::flat(s, g, input, pixels, ks, panel, ldb)
                }
                // SAFETY: the token proves the CPU has these features.
                unsafe { imp(self, g, input, pixels, ks, panel, ldb) }
            }

            #[inline(always)]
            fn pack_rows(
                self,
                g: &Conv2dGeometry,
                input: &[f32],
                rows: (usize, usize),
                cols: (usize, usize),
                ks: (usize, usize),
                panel: &mut [f32],
                ldb: usize,
            ) {
                #[target_feature(enable = $features)]
                #[inline(never)]
                #[allow(clippy::too_many_arguments)]
                unsafe fn imp(
                    s: $token,
                    g: &Conv2dGeometry,
                    input: &[f32],
                    rows: (usize, usize),
                    cols: (usize, usize),
                    ks: (usize, usize),
                    panel: &mut [f32],
                    ldb: usize,
                ) {
                    pack::rows(s, g, input, rows, cols, ks, panel, ldb)
                }
                // SAFETY: the token proves the CPU has these features.
                unsafe { imp(self, g, input, rows, cols, ks, panel, ldb) }
            }

            #[inline(always)]
            fn micro<const MR: usize, const NV: usize>(self, blk: &Block<'_>, c: &mut [f32], start: Start<'_>) {
                #[target_feature(enable = $features)]
                #[inline(never)]
                unsafe fn imp<const MR: usize, const NV: usize>(
                    s: $token,
                    blk: &Block<'_>,
                    c: &mut [f32],
                    start: Start<'_>,
                ) {
                    micro::run::<$token, MR, NV>(s, blk, c, start)
                }
                // SAFETY: the token proves the CPU has these features.
                unsafe { imp::<MR, NV>(self, blk, c, start) }
            }

            #[inline(always)]
            fn direct_tile<const P: usize, const STRIDE: usize>(
                self,
                cb: usize,
                blk: &direct_micro::Block<'_>,
                acc: &mut [f32],
                start: direct_micro::Start<'_>,
            ) {
                #[target_feature(enable = $features)]
                #[inline(never)]
                unsafe fn imp<const P: usize, const CB: usize, const STRIDE: usize>(
                    s: $token,
                    blk: &direct_micro::Block<'_>,
                    acc: &mut [f32],
                    start: direct_micro::Start<'_>,
                ) {
                    direct_micro::run::<$token, P, CB, STRIDE>(s, blk, acc, start)
                }
                // SAFETY (each arm): the token proves the CPU has these features.
                match cb {
                    1 => unsafe { imp::<P, 1, STRIDE>(self, blk, acc, start) },
                    2 => unsafe { imp::<P, 2, STRIDE>(self, blk, acc, start) },
                    3 => unsafe { imp::<P, 3, STRIDE>(self, blk, acc, start) },
                    _ => unreachable!("direct tiles have 1 to DIRECT_MAX_CB channel vectors"),
                }
            }

            #[inline(always)]
            fn winograd_tile<const NV: usize>(self, blk: &winograd_micro::Block<'_>, m: &mut [f32], accumulate: bool) {
                #[target_feature(enable = $features)]
                #[inline(never)]
                unsafe fn imp<const NV: usize>(
                    s: $token,
                    blk: &winograd_micro::Block<'_>,
                    m: &mut [f32],
                    accumulate: bool,
                ) {
                    winograd_micro::run::<$token, NV>(s, blk, m, accumulate)
                }
                // SAFETY: the token proves the CPU has these features.
                unsafe { imp::<NV>(self, blk, m, accumulate) }
            }
        }
    };
}

kernels!(Avx512, "avx512f");
kernels!(Avx2, "avx2,fma");

/// [`super::conv2d_core`] on AVX-512F, following `plan` (from
/// [`super::plan::AVX512`]).
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn conv2d_avx512(
    g: &Conv2dGeometry,
    plan: &Plan,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    // SAFETY: the caller guarantees AVX-512F.
    let s = unsafe { Avx512::new_unchecked() };
    // Each mode runs in its own outlined function, so the stack holds one
    // mode's buffers at a time (LLVM does not overlap them all when they
    // are inlined into one frame) and a call stays within ~96 KiB.
    // SAFETY (each arm): the caller guarantees AVX-512F.
    match (plan.mode, plan.mr, plan.nv) {
        (Mode::Depthwise, _, _) => s.depthwise(g, input, weight, bias, output),
        (Mode::Direct, _, _) => match (plan.direct.pixels, g.sw) {
            (8, 1) => unsafe { direct_avx512::<8, 1>(s, g, plan, input, weight, bias, output) },
            (8, 2) => unsafe { direct_avx512::<8, 2>(s, g, plan, input, weight, bias, output) },
            (7, 1) => unsafe { direct_avx512::<7, 1>(s, g, plan, input, weight, bias, output) },
            (7, 2) => unsafe { direct_avx512::<7, 2>(s, g, plan, input, weight, bias, output) },
            (6, 1) => unsafe { direct_avx512::<6, 1>(s, g, plan, input, weight, bias, output) },
            (6, 2) => unsafe { direct_avx512::<6, 2>(s, g, plan, input, weight, bias, output) },
            (5, 1) => unsafe { direct_avx512::<5, 1>(s, g, plan, input, weight, bias, output) },
            (5, 2) => unsafe { direct_avx512::<5, 2>(s, g, plan, input, weight, bias, output) },
            _ => unreachable!("direct plans use plan::AVX512.direct_pixels and stride 1 or 2"),
        },
        (Mode::Winograd, _, 1) => unsafe { winograd_avx512::<1>(s, g, plan, input, weight, bias, output) },
        (Mode::Winograd, _, _) => unreachable!("AVX-512 Winograd plans use plan::AVX512.winograd_shapes"),
        (_, 8, 3) => unsafe { tiled_avx512::<8, 3>(s, g, plan, input, weight, bias, output) },
        (_, 6, 4) => unsafe { tiled_avx512::<6, 4>(s, g, plan, input, weight, bias, output) },
        (_, 12, 2) => unsafe { tiled_avx512::<12, 2>(s, g, plan, input, weight, bias, output) },
        _ => unreachable!("AVX-512 plans use the shapes of plan::AVX512"),
    }
}

/// Defines an outlined AVX-512F entry point running one mode's `run`.
macro_rules! outlined_avx512 {
    ($(#[$doc:meta])* $name:ident, $module:ident, <$(const $param:ident: usize),*>) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// The CPU must support AVX-512F.
        #[target_feature(enable = "avx512f")]
        #[inline(never)]
        unsafe fn $name<$(const $param: usize),*>(
            s: Avx512,
            g: &Conv2dGeometry,
            plan: &Plan,
            input: &[f32],
            weight: &[f32],
            bias: Option<&[f32]>,
            output: &mut [f32],
        ) {
            $module::run::<_, $($param),*>(s, g, plan, input, weight, bias, output)
        }
    };
}

outlined_avx512!(
    /// [`direct::run`] on AVX-512F.
    direct_avx512, direct, <const P: usize, const STRIDE: usize>
);
outlined_avx512!(
    /// [`tiled::run`] on AVX-512F.
    tiled_avx512, tiled, <const MR: usize, const NV: usize>
);
outlined_avx512!(
    /// [`winograd::run`] on AVX-512F.
    winograd_avx512, winograd, <const NV: usize>
);

/// [`super::conv2d_core`] on AVX2 with FMA, following `plan` (from
/// [`super::plan::AVX2`]).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn conv2d_avx2(
    g: &Conv2dGeometry,
    plan: &Plan,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    // SAFETY: the caller guarantees AVX2 and FMA.
    let s = unsafe { Avx2::new_unchecked() };
    match (plan.mode, plan.mr, plan.nv) {
        (Mode::Depthwise, _, _) => s.depthwise(g, input, weight, bias, output),
        (Mode::Direct, _, _) => unreachable!("plan::AVX2 has no direct mode"),
        (Mode::Winograd, _, _) => unreachable!("plan::AVX2 has no Winograd mode"),
        (_, 6, 2) => tiled::run::<_, 6, 2>(s, g, plan, input, weight, bias, output),
        (_, 4, 2) => tiled::run::<_, 4, 2>(s, g, plan, input, weight, bias, output),
        _ => unreachable!("AVX2 plans use the shapes of plan::AVX2"),
    }
}

//! The x86-64 entry points and [`Kernels`] implementations, each compiled
//! for its instruction set with the generic vector code inlined into it.

use super::direct::{self, micro as direct_micro, Sink};
use super::kernels::Kernels;
use super::micro::{self, Block, Start};
use super::plan::{Mode, Plan};
use super::tiled;
use super::winograd::{self, micro as winograd_micro};
use super::{depthwise, pack, padded, padded_pooled, Conv2dGeometry};
use crate::kernels::epilogue::Activation;
use crate::kernels::isa::Isa;
use crate::kernels::simd::{Avx2, Avx512};

/// Implements [`Kernels`] for an instruction-set token, with outlined
/// `#[target_feature]` functions.
///
/// Each method calls its `imp` through `call`, a `#[target_feature]`
/// function marked `#[inline]`. rustc puts the `noinline` of a
/// `#[target_feature]` function on its call sites, and only on those in
/// callers with the same features: called straight from these featureless
/// methods, `imp` was inlined once the method was inlined into a kernel
/// body, which fat LTO does (the stride-2 direct layer of MobileNet's block
/// ran 8% slower, its register tiles inlined into the tile loops).
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
                act: Activation,
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
                    act: Activation,
                    output: &mut [f32],
                ) {
                    depthwise::run(s, g, input, weight, bias, act, output)
                }
                #[target_feature(enable = $features)]
                #[inline]
                unsafe fn call(
                    s: $token,
                    g: &Conv2dGeometry,
                    input: &[f32],
                    weight: &[f32],
                    bias: Option<&[f32]>,
                    act: Activation,
                    output: &mut [f32],
                ) {
                    // SAFETY: the token proves the CPU has these features.
                    unsafe { imp(s, g, input, weight, bias, act, output) }
                }
                // SAFETY: the token proves the CPU has these features.
                unsafe { call(self, g, input, weight, bias, act, output) }
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
                #[target_feature(enable = $features)]
                #[inline]
                unsafe fn call(
                    s: $token,
                    g: &Conv2dGeometry,
                    input: &[f32],
                    pixels: (usize, usize),
                    ks: (usize, usize),
                    panel: &mut [f32],
                    ldb: usize,
                ) {
                    // SAFETY: the token proves the CPU has these features.
                    unsafe { imp(s, g, input, pixels, ks, panel, ldb) }
                }
                // SAFETY: the token proves the CPU has these features.
                unsafe { call(self, g, input, pixels, ks, panel, ldb) }
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
                #[target_feature(enable = $features)]
                #[inline]
                #[allow(clippy::too_many_arguments)]
                unsafe fn call(
                    s: $token,
                    g: &Conv2dGeometry,
                    input: &[f32],
                    rows: (usize, usize),
                    cols: (usize, usize),
                    ks: (usize, usize),
                    panel: &mut [f32],
                    ldb: usize,
                ) {
                    // SAFETY: the token proves the CPU has these features.
                    unsafe { imp(s, g, input, rows, cols, ks, panel, ldb) }
                }
                // SAFETY: the token proves the CPU has these features.
                unsafe { call(self, g, input, rows, cols, ks, panel, ldb) }
            }

            #[inline(always)]
            fn micro<const MR: usize, const NV: usize>(
                self,
                blk: &Block<'_>,
                c: &mut [f32],
                start: Start<'_>,
                act: Activation,
            ) {
                #[target_feature(enable = $features)]
                #[inline(never)]
                unsafe fn imp<const MR: usize, const NV: usize>(
                    s: $token,
                    blk: &Block<'_>,
                    c: &mut [f32],
                    start: Start<'_>,
                    act: Activation,
                ) {
                    micro::run::<$token, MR, NV>(s, blk, c, start, act)
                }
                #[target_feature(enable = $features)]
                #[inline]
                unsafe fn call<const MR: usize, const NV: usize>(
                    s: $token,
                    blk: &Block<'_>,
                    c: &mut [f32],
                    start: Start<'_>,
                    act: Activation,
                ) {
                    // SAFETY: the token proves the CPU has these features.
                    unsafe { imp::<MR, NV>(s, blk, c, start, act) }
                }
                // SAFETY: the token proves the CPU has these features.
                unsafe { call::<MR, NV>(self, blk, c, start, act) }
            }

            #[inline(always)]
            fn padded_tile<const MR: usize, const NV: usize>(
                self,
                blk: &padded::Block<'_>,
                c: &mut [f32],
                bias: Option<&[f32]>,
                act: Activation,
            ) {
                #[target_feature(enable = $features)]
                #[inline(never)]
                unsafe fn imp<const MR: usize, const NV: usize>(
                    s: $token,
                    blk: &padded::Block<'_>,
                    c: &mut [f32],
                    bias: Option<&[f32]>,
                    act: Activation,
                ) {
                    padded::tile::<$token, MR, NV>(s, blk, c, bias, act)
                }
                #[target_feature(enable = $features)]
                #[inline]
                unsafe fn call<const MR: usize, const NV: usize>(
                    s: $token,
                    blk: &padded::Block<'_>,
                    c: &mut [f32],
                    bias: Option<&[f32]>,
                    act: Activation,
                ) {
                    // SAFETY: the token proves the CPU has these features.
                    unsafe { imp::<MR, NV>(s, blk, c, bias, act) }
                }
                // SAFETY: the token proves the CPU has these features.
                unsafe { call::<MR, NV>(self, blk, c, bias, act) }
            }

            #[inline(always)]
            fn padded_pooled_tile<const MR: usize>(
                self,
                blk: &padded::Block<'_>,
                rows: &mut [f32],
                bias: Option<&[f32]>,
                act: Activation,
            ) {
                #[target_feature(enable = $features)]
                #[inline(never)]
                unsafe fn imp<const MR: usize>(
                    s: $token,
                    blk: &padded::Block<'_>,
                    rows: &mut [f32],
                    bias: Option<&[f32]>,
                    act: Activation,
                ) {
                    padded_pooled::tile::<$token, MR>(s, blk, rows, bias, act)
                }
                #[target_feature(enable = $features)]
                #[inline]
                unsafe fn call<const MR: usize>(
                    s: $token,
                    blk: &padded::Block<'_>,
                    rows: &mut [f32],
                    bias: Option<&[f32]>,
                    act: Activation,
                ) {
                    // SAFETY: the token proves the CPU has these features.
                    unsafe { imp::<MR>(s, blk, rows, bias, act) }
                }
                // SAFETY: the token proves the CPU has these features.
                unsafe { call::<MR>(self, blk, rows, bias, act) }
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
                #[target_feature(enable = $features)]
                #[inline]
                unsafe fn call<const P: usize, const STRIDE: usize>(
                    s: $token,
                    cb: usize,
                    blk: &direct_micro::Block<'_>,
                    acc: &mut [f32],
                    start: direct_micro::Start<'_>,
                ) {
                    // SAFETY (each arm): the token proves the CPU has these features.
                    match cb {
                        1 => unsafe { imp::<P, 1, STRIDE>(s, blk, acc, start) },
                        2 => unsafe { imp::<P, 2, STRIDE>(s, blk, acc, start) },
                        3 => unsafe { imp::<P, 3, STRIDE>(s, blk, acc, start) },
                        _ => unreachable!("direct tiles have 1 to DIRECT_MAX_CB channel vectors"),
                    }
                }
                // SAFETY: the token proves the CPU has these features.
                unsafe { call::<P, STRIDE>(self, cb, blk, acc, start) }
            }

            #[inline(always)]
            fn winograd_tile<const T: usize>(
                self,
                cb: usize,
                blk: &winograd_micro::Block<'_>,
                m: &mut [f32],
                accumulate: bool,
            ) {
                #[target_feature(enable = $features)]
                #[inline(never)]
                unsafe fn imp<const T: usize, const CB: usize>(
                    s: $token,
                    blk: &winograd_micro::Block<'_>,
                    m: &mut [f32],
                    accumulate: bool,
                ) {
                    winograd_micro::run::<$token, T, CB>(s, blk, m, accumulate)
                }
                #[target_feature(enable = $features)]
                #[inline]
                unsafe fn call<const T: usize>(
                    s: $token,
                    cb: usize,
                    blk: &winograd_micro::Block<'_>,
                    m: &mut [f32],
                    accumulate: bool,
                ) {
                    // SAFETY (each arm): the token proves the CPU has these features.
                    match cb {
                        1 => unsafe { imp::<T, 1>(s, blk, m, accumulate) },
                        2 => unsafe { imp::<T, 2>(s, blk, m, accumulate) },
                        3 => unsafe { imp::<T, 3>(s, blk, m, accumulate) },
                        4 => unsafe { imp::<T, 4>(s, blk, m, accumulate) },
                        _ => unreachable!("Winograd tiles have 1 to MAX_CB channel vectors"),
                    }
                }
                // SAFETY: the token proves the CPU has these features.
                unsafe { call::<T>(self, cb, blk, m, accumulate) }
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
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn conv2d_avx512(
    g: &Conv2dGeometry,
    plan: &Plan,
    input: &[f32],
    weight: &[f32],
    packed: Option<&[f32]>,
    bias: Option<&[f32]>,
    act: Activation,
    output: &mut [f32],
) {
    // SAFETY: the caller guarantees AVX-512F.
    let s = unsafe { Avx512::new_unchecked() };
    // Each mode runs in its own outlined function, so the stack holds one
    // mode's buffers at a time (LLVM does not overlap them all when they
    // are inlined into one frame) and a call stays within ~215 KiB.
    // SAFETY (each arm): the caller guarantees AVX-512F.
    match (plan.mode, plan.mr, plan.nv) {
        (Mode::Depthwise, _, _) => s.depthwise(g, input, weight, bias, act, output),
        (Mode::Direct, _, _) => unsafe {
            direct_sink_avx512(s, g, plan, input, weight, packed, bias, act, Sink::Planes(output))
        },
        (Mode::Winograd, _, _) => unsafe {
            let u = packed.expect("winograd: plans run with their filter transforms");
            winograd_sink_avx512(s, g, plan, input, u, bias, act, Sink::Planes(output))
        },
        (Mode::Padded, 8, 3) => unsafe { padded_avx512::<8, 3>(s, g, plan, input, weight, bias, act, output) },
        (Mode::Padded, 6, 4) => unsafe { padded_avx512::<6, 4>(s, g, plan, input, weight, bias, act, output) },
        (Mode::Padded, 12, 2) => unsafe { padded_avx512::<12, 2>(s, g, plan, input, weight, bias, act, output) },
        (_, 8, 3) => unsafe { tiled_avx512::<8, 3>(s, g, plan, input, weight, bias, act, output) },
        (_, 6, 4) => unsafe { tiled_avx512::<6, 4>(s, g, plan, input, weight, bias, act, output) },
        (_, 12, 2) => unsafe { tiled_avx512::<12, 2>(s, g, plan, input, weight, bias, act, output) },
        _ => unreachable!("AVX-512 plans use the shapes of plan::AVX512"),
    }
}

/// Defines an outlined entry point running one mode's `run` for one
/// instruction set.
macro_rules! outlined {
    ($(#[$doc:meta])* $name:ident, $token:ident, $features:literal, $module:ident, <$(const $param:ident: usize),*>) => {
        $(#[$doc])*
        ///
        /// # Safety
        #[doc = concat!("The CPU must support ", $features, ".")]
        #[target_feature(enable = $features)]
        #[inline(never)]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name<$(const $param: usize),*>(
            s: $token,
            g: &Conv2dGeometry,
            plan: &Plan,
            input: &[f32],
            weight: &[f32],
            bias: Option<&[f32]>,
            act: Activation,
            output: &mut [f32],
        ) {
            $module::run::<_, $($param),*>(s, g, plan, input, weight, bias, act, output)
        }
    };
}

outlined!(
    /// [`tiled::run`] on AVX-512F.
    tiled_avx512, Avx512, "avx512f", tiled, <const MR: usize, const NV: usize>
);
outlined!(
    /// [`padded::run`] on AVX-512F.
    padded_avx512, Avx512, "avx512f", padded, <const MR: usize, const NV: usize>
);
outlined!(
    /// [`tiled::run`] on AVX2 with FMA.
    tiled_avx2, Avx2, "avx2,fma", tiled, <const MR: usize, const NV: usize>
);
outlined!(
    /// [`padded::run`] on AVX2 with FMA.
    padded_avx2, Avx2, "avx2,fma", padded, <const MR: usize, const NV: usize>
);

/// [`super::conv2d_core`] on AVX2 with FMA, following `plan` (from
/// [`super::plan::AVX2`]).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn conv2d_avx2(
    g: &Conv2dGeometry,
    plan: &Plan,
    input: &[f32],
    weight: &[f32],
    packed: Option<&[f32]>,
    bias: Option<&[f32]>,
    act: Activation,
    output: &mut [f32],
) {
    // SAFETY: the caller guarantees AVX2 and FMA.
    let s = unsafe { Avx2::new_unchecked() };
    // Outlined per mode, as on AVX-512: one mode's buffers on the stack.
    // SAFETY (each arm): the caller guarantees AVX2 and FMA.
    match (plan.mode, plan.mr, plan.nv) {
        (Mode::Depthwise, _, _) => s.depthwise(g, input, weight, bias, act, output),
        (Mode::Direct, _, _) => unsafe {
            direct_sink_avx2(s, g, plan, input, weight, packed, bias, act, Sink::Planes(output))
        },
        (Mode::Winograd, _, _) => unsafe {
            let u = packed.expect("winograd: plans run with their filter transforms");
            winograd_sink_avx2(s, g, plan, input, u, bias, act, Sink::Planes(output))
        },
        (Mode::Padded, 6, 2) => unsafe { padded_avx2::<6, 2>(s, g, plan, input, weight, bias, act, output) },
        (Mode::Padded, 4, 2) => unsafe { padded_avx2::<4, 2>(s, g, plan, input, weight, bias, act, output) },
        (_, 6, 2) => unsafe { tiled_avx2::<6, 2>(s, g, plan, input, weight, bias, act, output) },
        (_, 4, 2) => unsafe { tiled_avx2::<4, 2>(s, g, plan, input, weight, bias, act, output) },
        _ => unreachable!("AVX2 plans use the shapes of plan::AVX2"),
    }
}

/// Defines the direct mode's outlined entry point for one instruction set
/// (as `outlined!`, plus the packed weights).
macro_rules! direct_entry {
    ($(#[$doc:meta])* $name:ident, $token:ident, $features:literal) => {
        $(#[$doc])*
        ///
        /// # Safety
        #[doc = concat!("The CPU must support ", $features, ".")]
        #[target_feature(enable = $features)]
        #[inline(never)]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name<const P: usize, const STRIDE: usize>(
            s: $token,
            g: &Conv2dGeometry,
            plan: &Plan,
            input: &[f32],
            weight: &[f32],
            packed: Option<&[f32]>,
            bias: Option<&[f32]>,
            act: Activation,
            sink: direct::Sink<'_>,
        ) {
            direct::run::<_, P, STRIDE>(s, g, plan, input, weight, packed, bias, act, sink)
        }
    };
}

direct_entry!(
    /// [`direct::run`] on AVX-512F.
    direct_avx512, Avx512, "avx512f"
);
direct_entry!(
    /// [`direct::run`] on AVX2 with FMA.
    direct_avx2, Avx2, "avx2,fma"
);

/// Defines the Winograd mode's entry point for one instruction set: the
/// plan's register tile width matched to an outlined `winograd::run`.
macro_rules! winograd_entry {
    ($(#[$doc:meta])* $name:ident, $token:ident, $features:literal) => {
        $(#[$doc])*
        ///
        /// # Safety
        #[doc = concat!("The CPU must support ", $features, ".")]
        #[target_feature(enable = $features)]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name(
            s: $token,
            g: &Conv2dGeometry,
            plan: &Plan,
            input: &[f32],
            u: &[f32],
            bias: Option<&[f32]>,
            act: Activation,
            sink: Sink<'_>,
        ) {
            #[target_feature(enable = $features)]
            #[inline(never)]
            #[allow(clippy::too_many_arguments)]
            unsafe fn imp<const T: usize>(
                s: $token,
                g: &Conv2dGeometry,
                plan: &Plan,
                input: &[f32],
                u: &[f32],
                bias: Option<&[f32]>,
                act: Activation,
                sink: Sink<'_>,
            ) {
                winograd::run::<_, T>(s, g, plan, input, u, bias, act, sink)
            }
            // SAFETY (each arm): the caller guarantees the features.
            match plan.winograd.tiles {
                4 => unsafe { imp::<4>(s, g, plan, input, u, bias, act, sink) },
                6 => unsafe { imp::<6>(s, g, plan, input, u, bias, act, sink) },
                8 => unsafe { imp::<8>(s, g, plan, input, u, bias, act, sink) },
                12 => unsafe { imp::<12>(s, g, plan, input, u, bias, act, sink) },
                _ => unreachable!("Winograd plans use their target's winograd_tiles"),
            }
        }
    };
}

winograd_entry!(
    /// [`winograd::run`] on AVX-512F.
    winograd_sink_avx512, Avx512, "avx512f"
);
winograd_entry!(
    /// [`winograd::run`] on AVX2 with FMA.
    winograd_sink_avx2, Avx2, "avx2,fma"
);

/// [`direct::pack`] on AVX-512F.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn pack_direct_avx512(g: &Conv2dGeometry, plan: &Plan, weight: &[f32], out: &mut [f32]) {
    // SAFETY: the caller guarantees AVX-512F.
    let s = unsafe { Avx512::new_unchecked() };
    direct::pack(s, g, plan, weight, out);
}

/// [`direct::pack`] on AVX2 with FMA.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn pack_direct_avx2(g: &Conv2dGeometry, plan: &Plan, weight: &[f32], out: &mut [f32]) {
    // SAFETY: the caller guarantees AVX2 and FMA.
    let s = unsafe { Avx2::new_unchecked() };
    direct::pack(s, g, plan, weight, out);
}

/// A direct plan on AVX-512F, its results going to `sink`: the match of
/// [`conv2d_avx512`]'s direct arm, shared with [`conv2d_sink`].
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn direct_sink_avx512(
    s: Avx512,
    g: &Conv2dGeometry,
    plan: &Plan,
    input: &[f32],
    weight: &[f32],
    packed: Option<&[f32]>,
    bias: Option<&[f32]>,
    act: Activation,
    sink: Sink<'_>,
) {
    // SAFETY (each arm): the caller guarantees AVX-512F.
    match (plan.direct.pixels, g.sw) {
        (8, 1) => unsafe { direct_avx512::<8, 1>(s, g, plan, input, weight, packed, bias, act, sink) },
        (8, 2) => unsafe { direct_avx512::<8, 2>(s, g, plan, input, weight, packed, bias, act, sink) },
        (7, 1) => unsafe { direct_avx512::<7, 1>(s, g, plan, input, weight, packed, bias, act, sink) },
        (7, 2) => unsafe { direct_avx512::<7, 2>(s, g, plan, input, weight, packed, bias, act, sink) },
        (6, 1) => unsafe { direct_avx512::<6, 1>(s, g, plan, input, weight, packed, bias, act, sink) },
        (6, 2) => unsafe { direct_avx512::<6, 2>(s, g, plan, input, weight, packed, bias, act, sink) },
        (5, 1) => unsafe { direct_avx512::<5, 1>(s, g, plan, input, weight, packed, bias, act, sink) },
        (5, 2) => unsafe { direct_avx512::<5, 2>(s, g, plan, input, weight, packed, bias, act, sink) },
        (10, 1) => unsafe { direct_avx512::<10, 1>(s, g, plan, input, weight, packed, bias, act, sink) },
        (10, 2) => unsafe { direct_avx512::<10, 2>(s, g, plan, input, weight, packed, bias, act, sink) },
        (14, 1) => unsafe { direct_avx512::<14, 1>(s, g, plan, input, weight, packed, bias, act, sink) },
        (14, 2) => unsafe { direct_avx512::<14, 2>(s, g, plan, input, weight, packed, bias, act, sink) },
        _ => unreachable!("direct plans use plan::AVX512.direct_tiles and stride 1 or 2"),
    }
}

/// [`direct_sink_avx512`] on AVX2 with FMA.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn direct_sink_avx2(
    s: Avx2,
    g: &Conv2dGeometry,
    plan: &Plan,
    input: &[f32],
    weight: &[f32],
    packed: Option<&[f32]>,
    bias: Option<&[f32]>,
    act: Activation,
    sink: Sink<'_>,
) {
    // SAFETY (each arm): the caller guarantees AVX2 and FMA.
    match (plan.direct.pixels, g.sw) {
        (4, 1) => unsafe { direct_avx2::<4, 1>(s, g, plan, input, weight, packed, bias, act, sink) },
        (4, 2) => unsafe { direct_avx2::<4, 2>(s, g, plan, input, weight, packed, bias, act, sink) },
        (5, 1) => unsafe { direct_avx2::<5, 1>(s, g, plan, input, weight, packed, bias, act, sink) },
        (5, 2) => unsafe { direct_avx2::<5, 2>(s, g, plan, input, weight, packed, bias, act, sink) },
        (6, 1) => unsafe { direct_avx2::<6, 1>(s, g, plan, input, weight, packed, bias, act, sink) },
        (6, 2) => unsafe { direct_avx2::<6, 2>(s, g, plan, input, weight, packed, bias, act, sink) },
        _ => unreachable!("direct plans use plan::AVX2.direct_tiles and stride 1 or 2"),
    }
}

/// Defines the entry point running a direct or Winograd plan into a
/// [`Sink`] for one instruction set: the match of `conv2d_*`'s direct and
/// Winograd arms, for the fused pools (`Sink::Sums`, `Sink::MaxPool2x2`).
macro_rules! sink_entry {
    ($(#[$doc:meta])* $name:ident, $token:ident, $features:literal, $direct:ident, $winograd:ident) => {
        $(#[$doc])*
        ///
        /// # Safety
        #[doc = concat!("The CPU must support ", $features, ".")]
        #[target_feature(enable = $features)]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name(
            g: &Conv2dGeometry,
            plan: &Plan,
            input: &[f32],
            weight: &[f32],
            packed: Option<&[f32]>,
            bias: Option<&[f32]>,
            act: Activation,
            sink: Sink<'_>,
        ) {
            // SAFETY: the caller guarantees the features.
            let s = unsafe { $token::new_unchecked() };
            // SAFETY (each arm): as above.
            match plan.mode {
                Mode::Winograd => unsafe {
                    let u = packed.expect("winograd: plans run with their filter transforms");
                    $winograd(s, g, plan, input, u, bias, act, sink)
                },
                Mode::Direct => unsafe { $direct(s, g, plan, input, weight, packed, bias, act, sink) },
                _ => unreachable!("only direct and Winograd plans run into a sink"),
            }
        }
    };
}

sink_entry!(
    /// A direct or Winograd `plan` on AVX-512F, its results going to `sink`.
    conv2d_sink_avx512, Avx512, "avx512f", direct_sink_avx512, winograd_sink_avx512
);
sink_entry!(
    /// A direct or Winograd `plan` on AVX2 with FMA, its results going to
    /// `sink`.
    conv2d_sink_avx2, Avx2, "avx2,fma", direct_sink_avx2, winograd_sink_avx2
);

/// A direct or Winograd `plan` on `isa` (AVX-512F or AVX2 with FMA), its
/// results going to `sink` instead of the output planes: a pool fused into
/// the convolution.
///
/// # Safety
/// The CPU must support `isa`'s features.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn conv2d_sink(
    isa: Isa,
    g: &Conv2dGeometry,
    plan: &Plan,
    input: &[f32],
    weight: &[f32],
    packed: Option<&[f32]>,
    bias: Option<&[f32]>,
    act: Activation,
    sink: Sink<'_>,
) {
    // SAFETY (each arm): the caller guarantees the features.
    match isa {
        Isa::Avx512 => unsafe { conv2d_sink_avx512(g, plan, input, weight, packed, bias, act, sink) },
        _ => unsafe { conv2d_sink_avx2(g, plan, input, weight, packed, bias, act, sink) },
    }
}

/// A padded `plan` on `isa` (AVX-512F or AVX2 with FMA) storing the 2×2
/// max pool of the activated outputs into `pooled` (see
/// [`super::padded_pooled`]).
///
/// # Safety
/// The CPU must support `isa`'s features.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn conv2d_padded_pooled(
    isa: Isa,
    g: &Conv2dGeometry,
    plan: &Plan,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    pooled: &mut [f32],
) {
    // SAFETY (each arm): the caller guarantees the features, and the token
    // is made only for the instruction set they are.
    unsafe {
        match (isa, plan.mr) {
            (Isa::Avx512, 8) => {
                padded_pooled_avx512::<8>(Avx512::new_unchecked(), g, plan, input, weight, bias, act, pooled)
            }
            (Isa::Avx512, 6) => {
                padded_pooled_avx512::<6>(Avx512::new_unchecked(), g, plan, input, weight, bias, act, pooled)
            }
            (Isa::Avx512, 12) => {
                padded_pooled_avx512::<12>(Avx512::new_unchecked(), g, plan, input, weight, bias, act, pooled)
            }
            (Isa::Avx2, 6) => padded_pooled_avx2::<6>(Avx2::new_unchecked(), g, plan, input, weight, bias, act, pooled),
            (Isa::Avx2, 4) => padded_pooled_avx2::<4>(Avx2::new_unchecked(), g, plan, input, weight, bias, act, pooled),
            _ => unreachable!("padded plans use the shapes of plan::AVX512 and plan::AVX2"),
        }
    }
}

/// Defines the padded mode's pooled entry point for one instruction set:
/// [`padded::run_into`] with tiles of `MR` channels × two rows.
macro_rules! padded_pooled_entry {
    ($(#[$doc:meta])* $name:ident, $token:ident, $features:literal) => {
        $(#[$doc])*
        ///
        /// # Safety
        #[doc = concat!("The CPU must support ", $features, ".")]
        #[target_feature(enable = $features)]
        #[inline(never)]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name<const MR: usize>(
            s: $token,
            g: &Conv2dGeometry,
            plan: &Plan,
            input: &[f32],
            weight: &[f32],
            bias: Option<&[f32]>,
            act: Activation,
            pooled: &mut [f32],
        ) {
            padded::run_into::<_, MR, 2>(s, g, plan, input, weight, bias, act, padded::Output::MaxPool2x2(pooled))
        }
    };
}

padded_pooled_entry!(
    /// [`padded::run_into`] on AVX-512F, pooling.
    padded_pooled_avx512, Avx512, "avx512f"
);
padded_pooled_entry!(
    /// [`padded::run_into`] on AVX2 with FMA, pooling.
    padded_pooled_avx2, Avx2, "avx2,fma"
);

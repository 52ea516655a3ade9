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

/// Defines `$name`, an `#[inline]` `#[target_feature]` trampoline around
/// an `#[inline(never)]` `#[target_feature]` function running `$body`.
///
/// rustc puts the `noinline` of a `#[target_feature]` function on its call
/// sites, and only on those in callers with the same features. Called
/// straight from the featureless [`Kernels`] methods, the outlined function
/// was inlined once the method was inlined into a kernel body, which fat
/// LTO does (the stride-2 direct layer of MobileNet's block ran 8% slower,
/// its register tiles inlined into the tile loops). The trampoline is
/// inlined into the kernel body, and its call to the outlined function,
/// now in a caller with the same features, stays a call.
macro_rules! trampoline {
    ($features:literal, fn $name:ident<$(const $cp:ident: usize),*>($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        #[target_feature(enable = $features)]
        #[inline]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name<$(const $cp: usize),*>($($arg: $ty),*) {
            #[target_feature(enable = $features)]
            #[inline(never)]
            #[allow(clippy::too_many_arguments)]
            unsafe fn imp<$(const $cp: usize),*>($($arg: $ty),*) $body
            // SAFETY: the caller guarantees the features.
            unsafe { imp::<$($cp),*>($($arg),*) }
        }
    };
}

/// Defines a [`Kernels`] method running `$body` in a function outlined for
/// `$features` (through a [`trampoline!`]), `self` bound to `$s` in it.
macro_rules! outlined_method {
    (
        $features:literal, $token:ident,
        fn $name:ident<$(const $cp:ident: usize),*>(self as $s:ident $(, $arg:ident: $ty:ty)* $(,)?) $body:block
    ) => {
        #[inline(always)]
        fn $name<$(const $cp: usize),*>(self $(, $arg: $ty)*) {
            trampoline!($features, fn outlined<$(const $cp: usize),*>($s: $token $(, $arg: $ty)*) $body);
            // SAFETY: the token proves the CPU has these features.
            unsafe { outlined::<$($cp),*>(self $(, $arg)*) }
        }
    };
}

/// Implements [`Kernels`] for an instruction-set token, each method's work
/// in a function outlined for `$features`.
macro_rules! kernels {
    ($token:ident, $features:literal) => {
        impl Kernels for $token {
            outlined_method!($features, $token, fn depthwise<>(
                self as s,
                g: &Conv2dGeometry,
                input: &[f32],
                weight: &[f32],
                bias: Option<&[f32]>,
                act: Activation,
                output: &mut [f32],
            ) {
                depthwise::run(s, g, input, weight, bias, act, output)
            });

            outlined_method!($features, $token, fn pack_flat<>(
                self as s,
                g: &Conv2dGeometry,
                input: &[f32],
                pixels: (usize, usize),
                ks: (usize, usize),
                panel: &mut [f32],
                ldb: usize,
            ) {
                pack::flat(s, g, input, pixels, ks, panel, ldb)
            });

            outlined_method!($features, $token, fn pack_rows<>(
                self as s,
                g: &Conv2dGeometry,
                input: &[f32],
                rows: (usize, usize),
                cols: (usize, usize),
                ks: (usize, usize),
                panel: &mut [f32],
                ldb: usize,
            ) {
                pack::rows(s, g, input, rows, cols, ks, panel, ldb)
            });

            outlined_method!($features, $token, fn micro<const MR: usize, const NV: usize>(
                self as s,
                blk: &Block<'_>,
                c: &mut [f32],
                start: Start<'_>,
                act: Activation,
            ) {
                micro::run::<$token, MR, NV>(s, blk, c, start, act)
            });

            outlined_method!($features, $token, fn padded_tile<const MR: usize, const NV: usize>(
                self as s,
                blk: &padded::Block<'_>,
                c: &mut [f32],
                bias: Option<&[f32]>,
                act: Activation,
            ) {
                padded::tile::<$token, MR, NV>(s, blk, c, bias, act)
            });

            outlined_method!($features, $token, fn padded_pooled_tile<const MR: usize, const NACC: usize>(
                self as s,
                blk: &padded::Block<'_>,
                rows: &mut [f32],
                bias: Option<&[f32]>,
                act: Activation,
            ) {
                padded_pooled::tile::<$token, MR, NACC>(s, blk, rows, bias, act)
            });

            #[inline(always)]
            fn direct_tile<const P: usize, const STRIDE: usize>(
                self,
                cb: usize,
                blk: &direct_micro::Block<'_>,
                acc: &mut [f32],
                start: direct_micro::Start<'_>,
            ) {
                trampoline!($features, fn tile<const P: usize, const CB: usize, const STRIDE: usize>(
                    s: $token,
                    blk: &direct_micro::Block<'_>,
                    acc: &mut [f32],
                    start: direct_micro::Start<'_>,
                ) {
                    direct_micro::run::<$token, P, CB, STRIDE>(s, blk, acc, start)
                });
                // SAFETY (each arm): the token proves the CPU has these features.
                match cb {
                    1 => unsafe { tile::<P, 1, STRIDE>(self, blk, acc, start) },
                    2 => unsafe { tile::<P, 2, STRIDE>(self, blk, acc, start) },
                    3 => unsafe { tile::<P, 3, STRIDE>(self, blk, acc, start) },
                    _ => unreachable!("direct tiles have 1 to DIRECT_MAX_CB channel vectors"),
                }
            }

            #[inline(always)]
            fn winograd_tile<const T: usize>(
                self,
                cb: usize,
                blk: &winograd_micro::Block<'_>,
                m: &mut [f32],
                accumulate: bool,
            ) {
                trampoline!($features, fn tile<const T: usize, const CB: usize>(
                    s: $token,
                    blk: &winograd_micro::Block<'_>,
                    m: &mut [f32],
                    accumulate: bool,
                ) {
                    winograd_micro::run::<$token, T, CB>(s, blk, m, accumulate)
                });
                // SAFETY (each arm): the token proves the CPU has these features.
                match cb {
                    1 => unsafe { tile::<T, 1>(self, blk, m, accumulate) },
                    2 => unsafe { tile::<T, 2>(self, blk, m, accumulate) },
                    3 => unsafe { tile::<T, 3>(self, blk, m, accumulate) },
                    4 => unsafe { tile::<T, 4>(self, blk, m, accumulate) },
                    _ => unreachable!("Winograd tiles have 1 to MAX_CB channel vectors"),
                }
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

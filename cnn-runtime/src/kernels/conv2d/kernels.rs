//! The per-instruction-set building blocks the convolution algorithms
//! call (see each method's kernel for what it does).

use super::direct::micro as direct;
use super::winograd::micro as winograd;
use super::{micro, padded, Conv2dGeometry};
use crate::kernels::epilogue::Activation;
use crate::kernels::simd::Simd;

/// The building blocks of one instruction set, each compiled for it as a
/// separate (never inlined) function: inlined into one body with the tile
/// loops, their registers would spill, while a call per panel or register
/// tile costs nothing by comparison. Implemented in `super::x86`.
pub(crate) trait Kernels: Simd {
    /// `super::depthwise::run` for this instruction set.
    fn depthwise(
        self,
        g: &Conv2dGeometry,
        input: &[f32],
        weight: &[f32],
        bias: Option<&[f32]>,
        act: Activation,
        output: &mut [f32],
    );
    /// `pack::flat` for this instruction set.
    fn pack_flat(
        self,
        g: &Conv2dGeometry,
        input: &[f32],
        pixels: (usize, usize),
        ks: (usize, usize),
        panel: &mut [f32],
        ldb: usize,
    );
    /// `pack::rows` for this instruction set.
    #[allow(clippy::too_many_arguments)]
    fn pack_rows(
        self,
        g: &Conv2dGeometry,
        input: &[f32],
        rows: (usize, usize),
        cols: (usize, usize),
        ks: (usize, usize),
        panel: &mut [f32],
        ldb: usize,
    );
    /// `micro::run` for this instruction set.
    fn micro<const MR: usize, const NV: usize>(
        self,
        blk: &micro::Block<'_>,
        c: &mut [f32],
        start: micro::Start<'_>,
        act: Activation,
    );
    /// `padded::tile` for this instruction set.
    fn padded_tile<const MR: usize, const NV: usize>(
        self,
        blk: &padded::Block<'_>,
        c: &mut [f32],
        bias: Option<&[f32]>,
        act: Activation,
    );
    /// `padded_pooled::tile` for this instruction set, `NACC` accumulators
    /// per channel (two rows of one or two vectors).
    fn padded_pooled_tile<const MR: usize, const NACC: usize>(
        self,
        blk: &padded::Block<'_>,
        rows: &mut [f32],
        bias: Option<&[f32]>,
        act: Activation,
    );
    /// `direct::micro::run` for this instruction set with `cb` (1 to
    /// `DIRECT_MAX_CB`) channel vectors.
    fn direct_tile<const P: usize, const STRIDE: usize>(
        self,
        cb: usize,
        blk: &direct::Block<'_>,
        acc: &mut [f32],
        start: direct::Start<'_>,
    );
    /// `winograd::micro::run` for this instruction set with `cb` (1 to
    /// `winograd::plan::MAX_CB`) channel vectors.
    fn winograd_tile<const T: usize>(self, cb: usize, blk: &winograd::Block<'_>, m: &mut [f32], accumulate: bool);
}

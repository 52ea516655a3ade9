//! Depthwise convolution (one input channel per group), with no packing:
//! channel by channel, a block of output rows at a time, each input row the
//! block reads is loaded once per kernel column (a shifted, masked load)
//! and multiplied into every output row of the block that uses it.

use super::depthwise_framed as framed;
use super::pack::{ColumnTable, MAX_KW, MAX_ROW_VECS};
use super::padded::copy_row;
use super::plan::MAX_TILE;
use super::stack::StackBuffer;
use super::Conv2dGeometry;
use crate::kernels::epilogue::Activation;
use crate::kernels::simd::Simd;

/// The framed kernel's block with 16 registers, (output rows, vectors):
/// four accumulators beside the nine taps. On Zen 3 (AVX2) MobileNet's
/// 56x56 layer took 49-52 µs with 2 x 1, 4 x 1, 6 x 1 and 2 x 2 alike
/// (80 µs in the general kernel); four rows divide its planes.
const FRAMED_BLOCK: (usize, usize) = (4, 1);

/// The framed kernel's blocks with 32 registers, (output rows, vectors):
/// fourteen or sixteen accumulators beside the nine taps. On a Xeon
/// (AVX-512) MobileNet's 56x56 layer took 36.1 µs in the general kernel,
/// 30.9 µs framed in 7 x 2 blocks, 32.2 in 8 x 2 and 32.1 in 4 x 4 and
/// 4 x 2 (best of five alternating runs each; a later six: 7 x 2 31.4, 8 x
/// 2 31.8). Of the two rows per block, the one leaving fewer rows past the
/// plane's end is taken.
const FRAMED_BLOCKS_WIDE: [(usize, usize); 2] = [(7, 2), (8, 2)];

/// Of [`FRAMED_BLOCKS_WIDE`], the one computing the fewest rows past the
/// end of `oh` output rows (the first on a tie).
const fn framed_block_wide(oh: usize) -> usize {
    let [(a, _), (b, _)] = FRAMED_BLOCKS_WIDE;
    if oh.div_ceil(b) * b < oh.div_ceil(a) * a {
        1
    } else {
        0
    }
}

/// Output rows computed together.
const ROWS: usize = 4;
/// Vectors of a row computed together (`ROWS * VECS` FMA chains).
const VECS: usize = 4;

/// Whether [`run`] takes `g`: one input channel per group, stride 1 or 2
/// across, a kernel at most [`MAX_KW`] wide and rows at most [`MAX_TILE`].
pub(crate) const fn fits(g: &Conv2dGeometry) -> bool {
    g.cin == g.groups && (g.sw == 1 || g.sw == 2) && g.kw <= MAX_KW && g.ow <= MAX_TILE
}

/// Depthwise convolution, any channel multiplier, for geometries that
/// [`fits`], applying `act` as the outputs are stored.
///
/// # Panics
/// If `g` does not fit or a slice length does not match it.
#[inline(always)]
pub(crate) fn run<S: Simd>(
    s: S,
    g: &Conv2dGeometry,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    output: &mut [f32],
) {
    assert!(fits(g) && VECS <= MAX_ROW_VECS - MAX_TILE / 8);
    let square = |k: usize| g.kh == k && g.kw == k && g.dh == 1 && g.dw == 1 && g.sh == g.sw;
    match g.sw {
        1 if square(3) && S::REGISTERS <= 16 && framed::fits(g, S::LANES, FRAMED_BLOCK) => {
            framed::run::<S, { FRAMED_BLOCK.0 }, { FRAMED_BLOCK.1 }>(s, g, input, weight, bias, act, output)
        }
        1 if square(3)
            && S::REGISTERS > 16
            && framed::fits(g, S::LANES, FRAMED_BLOCKS_WIDE[framed_block_wide(g.oh)]) =>
        {
            const A: (usize, usize) = FRAMED_BLOCKS_WIDE[0];
            const B: (usize, usize) = FRAMED_BLOCKS_WIDE[1];
            match framed_block_wide(g.oh) {
                0 => framed::run::<S, { A.0 }, { A.1 }>(s, g, input, weight, bias, act, output),
                _ => framed::run::<S, { B.0 }, { B.1 }>(s, g, input, weight, bias, act, output),
            }
        }
        1 if square(3) => run_square::<S, 1, 3>(s, g, input, weight, bias, act, output),
        2 if square(3) => run_square::<S, 2, 3>(s, g, input, weight, bias, act, output),
        1 if square(5) => run_square::<S, 1, 5>(s, g, input, weight, bias, act, output),
        2 if square(5) => run_square::<S, 2, 5>(s, g, input, weight, bias, act, output),
        1 => run_stride::<S, 1>(s, g, input, weight, bias, act, output),
        _ => run_stride::<S, 2>(s, g, input, weight, bias, act, output),
    }
}

/// [`run_stride`] for the kernels depthwise layers almost always have (3×3
/// or 5×5, undilated, the same stride both ways), with the kernel size and
/// stride as constants: which kernel row each input row is for, per output
/// row of a block, is then known at compile time, so the block's loops
/// unroll into straight-line FMAs instead of branching per tap (MobileNet's
/// 32-channel 56x56 layer: 49 -> 36 µs).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn run_square<S: Simd, const STRIDE: usize, const K: usize>(
    s: S,
    g: &Conv2dGeometry,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    output: &mut [f32],
) {
    let lanes = S::LANES;
    let multiplier = g.cout / g.cin;
    let (plane, out_plane) = (g.h * g.w, g.oh * g.ow);
    assert!(g.kh == K && g.kw == K && g.dh == 1 && g.dw == 1 && g.sh == STRIDE && g.sw == STRIDE);
    assert!(input.len() == g.cin * plane && output.len() == g.cout * out_plane && weight.len() == g.cout * K * K);
    let table = ColumnTable::new::<STRIDE>(g, lanes, 0, g.ow);
    // Stride 1: each channel's plane is first copied into zero-padded
    // rows, so that the multiply-adds read whole vectors at any offset
    // without per-load masks (MobileNet's 32-channel 56x56 layer was
    // load-bound on the masked loads, each with its mask and offset looked
    // up). The whole plane, not a block's rows: loads right after the
    // stores that wrote them, straddling two of them, would wait for the
    // stores to complete (measured slower than no copy).
    let rows = (STRIDE == 1).then(|| PaddedRows::new(s, g, table.vecs)).flatten();
    let mut plane_buf = StackBuffer::<PLANE_FLOATS>::new();
    let plane_buf = plane_buf.zeroed_prefix(rows.as_ref().map_or(0, |r| g.h * r.width));

    for (co, out) in output.chunks_exact_mut(out_plane).enumerate() {
        // The channel's taps broadcast once, not once per block: with the
        // broadcasts from memory in every block the loads (many of them
        // split across cache lines) outnumbered what the FMAs left room for.
        const { assert!(K * K <= MAX_SQUARE_TAPS) };
        let mut filter = [s.zero(); MAX_SQUARE_TAPS];
        for (f, &w) in filter.iter_mut().zip(&weight[co * K * K..][..K * K]) {
            *f = s.splat(w);
        }
        let block = Block {
            s,
            g,
            table: &table,
            channel: &input[co / multiplier * plane..][..plane],
            filter,
        };
        let b = s.splat(bias.map_or(0.0, |b| b[co]));
        // Output channels of one input channel (multiplier > 1) share its
        // copy, as in the framed kernel.
        if let (Some(rows), 0) = (&rows, co % multiplier) {
            rows.copy(s, g, block.channel, plane_buf);
        }
        for oy0 in (0..g.oh).step_by(ROWS) {
            let iy_first = (oy0 * STRIDE) as isize - g.pt as isize;
            for j0 in (0..table.vecs).step_by(VECS) {
                let mut acc = [[b; VECS]; ROWS];
                // Input row `i` of the block's span; the largest span is
                // (ROWS - 1) * 2 + 5 = 11 rows (stride 2, 5x5).
                macro_rules! span {
                    ($($i:literal)*) => {$(
                        if $i < (ROWS - 1) * STRIDE + K {
                            match &rows {
                                Some(rows) => block.padded_row::<K, $i>(iy_first, j0, (plane_buf, rows.width), &mut acc),
                                None => block.input_row::<STRIDE, K, $i>(iy_first, j0, &mut acc),
                            }
                        }
                    )*};
                }
                span!(0 1 2 3 4 5 6 7 8 9 10);
                act.apply_tile(s, &mut acc);
                store_block(s, g, &table, (oy0, j0), &acc, out);
            }
        }
    }
}

/// Floats of [`run_square`]'s zero-padded copy of a plane at stride 1
/// (48 KiB); larger planes use the masked loads.
const PLANE_FLOATS: usize = 12288;

/// How [`run_square`] copies a plane at stride 1: input row `iy` at `iy *
/// width` in the buffer, padded column `c` holding input column `c - pl`
/// (zero outside the input), so output column `ox` reads column `ox + kx`
/// for kernel column `kx`.
struct PaddedRows {
    /// Floats per row: whole vectors for every output vector the blocks
    /// compute (rounded up to groups of `VECS`), plus one for the kernel's
    /// reach past them.
    width: usize,
}

impl PaddedRows {
    /// The copy for `g` with `vecs` output vectors per row, if the plane
    /// fits [`PLANE_FLOATS`].
    #[inline(always)]
    fn new<S: Simd>(_: S, g: &Conv2dGeometry, vecs: usize) -> Option<Self> {
        let lanes = S::LANES;
        let vectors = vecs.div_ceil(VECS) * VECS + 1;
        let width = vectors * lanes;
        if g.kw > lanes + 1 || vectors > MAX_ROW_VECS || g.h * width > PLANE_FLOATS {
            return None;
        }
        Some(PaddedRows { width })
    }

    /// Copies the plane `channel` into `buf`'s rows at column `pl`. Only
    /// the input's columns are written: the padding around them stays as
    /// zeroed once, before the first channel.
    #[inline(always)]
    fn copy<S: Simd>(&self, s: S, g: &Conv2dGeometry, channel: &[f32], buf: &mut [f32]) {
        assert!(buf.len() >= g.h * self.width && channel.len() == g.h * g.w);
        // Input columns past the row's last vector feed no output column.
        let cols = g.w.min(self.width - g.pl.min(self.width));
        for iy in 0..g.h {
            copy_row(
                s,
                &channel[iy * g.w..][..cols],
                &mut buf[iy * self.width + g.pl..][..cols],
            );
        }
    }
}

/// Taps of the largest kernel [`run_square`] takes (5×5).
const MAX_SQUARE_TAPS: usize = 25;

/// One channel of [`run_square`]: what a block of output rows reads.
struct Block<'a, S: Simd> {
    s: S,
    g: &'a Conv2dGeometry,
    table: &'a ColumnTable,
    channel: &'a [f32],
    /// The channel's `K × K` taps, each in every lane.
    filter: [S::V; MAX_SQUARE_TAPS],
}

impl<S: Simd> Block<'_, S> {
    /// Multiplies input row `I` of the block (input row `iy_first + I`)
    /// into every output row of the block that uses it: output row `r`
    /// uses it as kernel row `I - r * STRIDE`, a constant here.
    #[inline(always)]
    fn input_row<const STRIDE: usize, const K: usize, const I: usize>(
        &self,
        iy_first: isize,
        j0: usize,
        acc: &mut [[S::V; VECS]; ROWS],
    ) {
        let (s, g) = (self.s, self.g);
        let iy = iy_first + I as isize;
        if iy < 0 || iy >= g.h as isize {
            return;
        }
        // In range: 0 <= iy < h.
        let src = self.channel[iy as usize * g.w..][..g.w].as_ptr();
        for kx in 0..K {
            let x = load_vectors::<S, STRIDE>(s, self.table, src, kx, j0);
            for (r, acc) in acc.iter_mut().enumerate() {
                if I >= r * STRIDE && I - r * STRIDE < K {
                    let w = self.filter[(I - r * STRIDE) * K + kx];
                    for (a, &x) in acc.iter_mut().zip(&x) {
                        *a = s.fma(w, x, *a);
                    }
                }
            }
        }
    }
}

impl<S: Simd> Block<'_, S> {
    /// [`Block::input_row`] at stride 1 from the zero-padded copy of the
    /// plane (`plane`, rows `width` apart, see [`PaddedRows`]): plain vector
    /// loads, no masks.
    #[inline(always)]
    fn padded_row<const K: usize, const I: usize>(
        &self,
        iy_first: isize,
        j0: usize,
        (plane, width): (&[f32], usize),
        acc: &mut [[S::V; VECS]; ROWS],
    ) {
        let (s, g) = (self.s, self.g);
        let lanes = S::LANES;
        let iy = iy_first + I as isize;
        if iy < 0 || iy >= g.h as isize {
            return;
        }
        // In range: 0 <= iy < h.
        let row = &plane[iy as usize * width..][..width];
        assert!((j0 + VECS) * lanes + K - 1 <= row.len(), "depthwise: padded row");
        for kx in 0..K {
            let mut x = [s.zero(); VECS];
            for (v, x) in x.iter_mut().enumerate() {
                // SAFETY: reads `row[(j0 + v) * lanes + kx ..][..lanes]`,
                // inside `row` by the assert (`v < VECS`, `kx < K`).
                *x = unsafe { s.load(row.as_ptr().add((j0 + v) * lanes + kx)) };
            }
            for (r, acc) in acc.iter_mut().enumerate() {
                if I >= r && I - r < K {
                    let w = self.filter[(I - r) * K + kx];
                    for (a, &x) in acc.iter_mut().zip(&x) {
                        *a = s.fma(w, x, *a);
                    }
                }
            }
        }
    }
}

#[inline(always)]
fn run_stride<S: Simd, const STRIDE: usize>(
    s: S,
    g: &Conv2dGeometry,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    output: &mut [f32],
) {
    let lanes = S::LANES;
    let taps = g.kh * g.kw;
    let multiplier = g.cout / g.cin;
    let (plane, out_plane) = (g.h * g.w, g.oh * g.ow);
    assert!(input.len() == g.cin * plane && output.len() == g.cout * out_plane && weight.len() == g.cout * taps);
    let table = ColumnTable::new::<STRIDE>(g, lanes, 0, g.ow);

    for (co, out) in output.chunks_exact_mut(out_plane).enumerate() {
        let channel = &input[co / multiplier * plane..][..plane];
        let filter = &weight[co * taps..][..taps];
        let b = s.splat(bias.map_or(0.0, |b| b[co]));
        for oy0 in (0..g.oh).step_by(ROWS) {
            // Input rows `iy_first + i` for `i < span` feed the block; row
            // `i` is kernel row `(i - r * sh) / dh` of output row `oy0 + r`
            // when that divides exactly and is below `kh`.
            let span = (ROWS - 1) * g.sh + (g.kh - 1) * g.dh + 1;
            let iy_first = (oy0 * g.sh) as isize - g.pt as isize;
            for j0 in (0..table.vecs).step_by(VECS) {
                // Whole groups: rows past the plane are skipped, vectors
                // past the row have no lanes in the table.
                let mut acc = [[b; VECS]; ROWS];
                for i in 0..span {
                    let iy = iy_first + i as isize;
                    if iy < 0 || iy >= g.h as isize {
                        continue;
                    }
                    // For each output row of the block: the kernel row this
                    // input row is for it, if any. (A fixed-size loop over
                    // the rows below keeps the accumulators in registers.)
                    let mut ky_of = [usize::MAX; ROWS];
                    for (r, ky) in ky_of.iter_mut().enumerate().take(g.oh - oy0) {
                        if let Some(d) = i.checked_sub(r * g.sh) {
                            if d.is_multiple_of(g.dh) && d / g.dh < g.kh {
                                *ky = d / g.dh;
                            }
                        }
                    }
                    if ky_of.iter().all(|&ky| ky == usize::MAX) {
                        continue;
                    }
                    // In range: 0 <= iy < h.
                    let src = channel[iy as usize * g.w..][..g.w].as_ptr();
                    for kx in 0..g.kw {
                        let x = load_vectors::<S, STRIDE>(s, &table, src, kx, j0);
                        for (acc, &ky) in acc.iter_mut().zip(&ky_of) {
                            if ky != usize::MAX {
                                let w = s.splat(filter[ky * g.kw + kx]);
                                for (a, &x) in acc.iter_mut().zip(&x) {
                                    *a = s.fma(w, x, *a);
                                }
                            }
                        }
                    }
                }
                act.apply_tile(s, &mut acc);
                store_block(s, g, &table, (oy0, j0), &acc, out);
            }
        }
    }
}

/// The `VECS` vectors of an input row that kernel column `kx` multiplies
/// into output vectors `j0 ..` of a row (zeros where the table enables no
/// element: padding, or past the row).
#[inline(always)]
fn load_vectors<S: Simd, const STRIDE: usize>(
    s: S,
    table: &ColumnTable,
    src: *const f32,
    kx: usize,
    j0: usize,
) -> [S::V; VECS] {
    let (offsets, los, his) = (&table.offset[kx][j0..], &table.lo[kx][j0..], &table.hi[kx][j0..]);
    let mut x = [s.zero(); VECS];
    for (v, x) in x.iter_mut().enumerate() {
        let p = src.wrapping_offset(offsets[v]);
        // SAFETY: the table enables only elements inside the input row `src`
        // points to (asserted when it was built); disabled lanes are not
        // accessed.
        *x = unsafe {
            if STRIDE == 1 {
                s.maskz_load(p, s.mask_from_bits(los[v]))
            } else {
                s.maskz_load_pairs_even(p, s.mask_from_bits(los[v]), s.mask_from_bits(his[v]))
            }
        };
    }
    x
}

/// Stores a block's accumulators: output rows `oy0 ..` (those below `oh`),
/// vectors `j0 ..` of each row (those the table has).
#[inline(always)]
fn store_block<S: Simd>(
    s: S,
    g: &Conv2dGeometry,
    table: &ColumnTable,
    (oy0, j0): (usize, usize),
    acc: &[[S::V; VECS]; ROWS],
    out: &mut [f32],
) {
    let lanes = S::LANES;
    for (r, acc) in acc.iter().enumerate().take(g.oh - oy0) {
        let row = &mut out[(oy0 + r) * g.ow..][..g.ow];
        for (v, &a) in acc.iter().enumerate().take(table.vecs - j0) {
            let j = j0 + v;
            // SAFETY: `store` enables the lanes of vector `j` inside the row:
            // `j * lanes .. min((j + 1) * lanes, ow)`.
            unsafe { s.mask_store(row.as_mut_ptr().add(j * lanes), s.mask_from_bits(table.store[j]), a) };
        }
    }
}

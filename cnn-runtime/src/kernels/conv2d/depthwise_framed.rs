//! Depthwise 3×3 stride-1 convolution: each input channel is copied into a zero frame (its padding, and
//! slack for the last block's rows and vectors), so that every block of
//! output rows is straight-line code: unmasked loads at constant offsets,
//! no bounds or padding test per input row, and a register tile that fits
//! beside the channel's nine broadcast taps.
//!
//! The general depthwise kernel (`super::depthwise`) keeps 4 × 4
//! accumulators and tests each input row of a block against the plane and
//! the copy; with 16 registers that spilled the accumulators on every row
//! (MobileNet's 32-channel 56x56 layer at 22% of the AVX2 peak on Zen 3),
//! and with 32 it ran 15% slower than this kernel (AVX-512, Xeon). It
//! remains for planes whose frame does not fit the stack buffer.

use super::padded::copy_row;
use super::stack::StackBuffer;
use super::Conv2dGeometry;
use crate::kernels::epilogue::Activation;
use crate::kernels::simd::Simd;

/// Floats of the framed copy of one plane (48 KiB of stack).
const FRAME_FLOATS: usize = 12288;

/// The framed copy of a plane for `R`-row blocks: input row `iy` at buffer
/// row `iy + pt`, input column `ix` at buffer column `ix + pl`, zeros
/// elsewhere, so output pixel `(oy, ox)` reads buffer `(oy + ky, ox + kx)`.
#[derive(Clone, Copy)]
struct Frame {
    /// Floats per buffer row: the output vectors rounded up to whole
    /// blocks, and one more for the kernel's reach.
    width: usize,
    /// Buffer rows: the output rows rounded up to whole blocks, plus two.
    rows: usize,
    /// Output vectors per row.
    vecs: usize,
}

impl Frame {
    const fn new(g: &Conv2dGeometry, lanes: usize, (block_rows, block_vecs): (usize, usize)) -> Self {
        let vecs = g.ow.div_ceil(lanes);
        Frame {
            width: (vecs.div_ceil(block_vecs) * block_vecs + 1) * lanes,
            rows: g.oh.div_ceil(block_rows) * block_rows + 2,
            vecs,
        }
    }
}

/// Whether [`run`] takes `g` with blocks of `(rows, vectors)` on
/// `lanes`-wide vectors: one input channel per group, an undilated 3×3
/// kernel at stride 1, and a plane whose frame fits [`FRAME_FLOATS`].
pub(crate) const fn fits(g: &Conv2dGeometry, lanes: usize, block: (usize, usize)) -> bool {
    let f = Frame::new(g, lanes, block);
    g.cin == g.groups
        && g.kh == 3
        && g.kw == 3
        && g.sh == 1
        && g.sw == 1
        && g.dh == 1
        && g.dw == 1
        && matches!(f.width.checked_mul(f.rows), Some(n) if n <= FRAME_FLOATS)
}

/// Depthwise 3×3 stride-1 convolution (any channel multiplier) of a
/// geometry that [`fits`], in blocks of `R` output rows by `V` vectors,
/// applying `act` as the outputs are stored.
///
/// # Panics
/// If `g` does not fit or a slice length does not match it.
#[inline(always)]
pub(crate) fn run<S: Simd, const R: usize, const V: usize>(
    s: S,
    g: &Conv2dGeometry,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    output: &mut [f32],
) {
    let lanes = S::LANES;
    assert!(R >= 1 && V >= 1 && fits(g, lanes, (R, V)));
    let (plane, out_plane) = (g.h * g.w, g.oh * g.ow);
    assert!(input.len() == g.cin * plane && output.len() == g.cout * out_plane && weight.len() == g.cout * 9);
    if let Some(b) = bias {
        assert_eq!(b.len(), g.cout, "depthwise: bias");
    }
    let multiplier = g.cout / g.cin;
    let f = Frame::new(g, lanes, (R, V));
    let mut buf = StackBuffer::<FRAME_FLOATS>::new();
    // Zeroed once: every channel rewrites only the input's part.
    let buf = buf.zeroed_prefix(f.rows * f.width);
    // Input rows and columns that land inside the frame.
    let copy_rows = g.h.min(f.rows - g.pt.min(f.rows));
    let copy_cols = g.w.min(f.width - g.pl.min(f.width));

    for (co, out) in output.chunks_exact_mut(out_plane).enumerate() {
        let ci = co / multiplier;
        if co % multiplier == 0 {
            let channel = &input[ci * plane..][..plane];
            for iy in 0..copy_rows {
                let dst = &mut buf[(iy + g.pt) * f.width + g.pl..][..copy_cols];
                copy_row(s, &channel[iy * g.w..][..copy_cols], dst);
            }
        }
        let mut taps = [s.zero(); 9];
        for (t, &w) in taps.iter_mut().zip(&weight[co * 9..][..9]) {
            *t = s.splat(w);
        }
        let b = s.splat(bias.map_or(0.0, |b| b[co]));
        for oy0 in (0..g.oh).step_by(R) {
            for j0 in (0..f.vecs).step_by(V) {
                let acc = block::<S, R, V>(s, buf, f, (oy0, j0), &taps, b);
                store(s, g, f, (oy0, j0), act, acc, out);
            }
        }
    }
}

/// The block of output rows `oy0 ..` and vectors `j0 ..`: `R + 2` buffer
/// rows, each loaded once per kernel column and multiplied into every
/// output row it is a kernel row of.
#[inline(always)]
fn block<S: Simd, const R: usize, const V: usize>(
    s: S,
    buf: &[f32],
    f: Frame,
    (oy0, j0): (usize, usize),
    taps: &[S::V; 9],
    bias: S::V,
) -> [[S::V; V]; R] {
    let lanes = S::LANES;
    // The furthest read: row `oy0 + R + 1`, vector `j0 + V - 1` shifted by
    // two (inside the frame for every block: its rows and width are whole
    // blocks plus the kernel's reach).
    assert!(
        (oy0 + R + 1) * f.width + (j0 + V) * lanes + 2 <= buf.len(),
        "depthwise: frame"
    );
    let base = buf[oy0 * f.width + j0 * lanes..].as_ptr();
    let mut acc = [[bias; V]; R];
    for i in 0..R + 2 {
        for kx in 0..3 {
            let mut x = [s.zero(); V];
            for (v, x) in x.iter_mut().enumerate() {
                // SAFETY: reads buffer row `oy0 + i`, floats `(j0 + v) *
                // lanes + kx ..` for `lanes`, inside `buf` by the assert
                // (`i <= R + 1`, `v < V`, `kx <= 2`).
                *x = unsafe { s.load(base.add(i * f.width + v * lanes + kx)) };
            }
            for (r, acc) in acc.iter_mut().enumerate() {
                if i >= r && i - r < 3 {
                    let w = taps[(i - r) * 3 + kx];
                    for (a, &x) in acc.iter_mut().zip(&x) {
                        *a = s.fma(w, x, *a);
                    }
                }
            }
        }
    }
    acc
}

/// Stores a block's rows below `oh` and the lanes of its vectors inside
/// the row, through `act`.
#[inline(always)]
fn store<S: Simd, const R: usize, const V: usize>(
    s: S,
    g: &Conv2dGeometry,
    f: Frame,
    (oy0, j0): (usize, usize),
    act: Activation,
    mut acc: [[S::V; V]; R],
    out: &mut [f32],
) {
    let lanes = S::LANES;
    act.apply_tile(s, &mut acc);
    for (r, acc) in acc.iter().enumerate().take(g.oh - oy0) {
        let row = &mut out[(oy0 + r) * g.ow..][..g.ow];
        for (v, &a) in acc.iter().enumerate().take(f.vecs - j0) {
            let x0 = (j0 + v) * lanes;
            let n = lanes.min(g.ow - x0);
            // SAFETY: lanes `x0 .. x0 + n` are inside the row (`x0 < ow`:
            // vector `j0 + v < vecs`).
            unsafe {
                let p = row.as_mut_ptr().add(x0);
                if n == lanes {
                    s.store(p, a);
                } else {
                    s.mask_store(p, s.first_lanes(n), a);
                }
            }
        }
    }
}

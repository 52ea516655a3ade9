//! The padded kernel (see [`super::padded`]) for a convolution fused with a
//! 2×2, stride-2 max pool: each register tile is `MR` output channels × the
//! same one or two vectors of two output rows, `2 py` and `2 py + 1`. Its
//! epilogue keeps only the larger of the two rows (through the activation)
//! in a stack buffer of one pooled row per channel. Once a row pair is done, a
//! pass over that buffer takes the larger of each pair of columns and
//! stores the pooled row. The convolution's outputs are never stored, and
//! an odd last row is never computed.

use super::kernels::Kernels;
use super::padded::{accumulate, Block};
use super::plan::{Mode, PaddedDims, Plan};
use super::Conv2dGeometry;
use crate::kernels::epilogue::Activation;
use crate::kernels::simd::Simd;

/// Floats in the stack buffer of row maxima (16 KiB).
pub(crate) const ROW_FLOATS: usize = 4096;

/// Floats of the buffer of row maxima for `MR` channels: whole pairs of
/// vectors per row, so the column pass reads whole pairs.
pub(crate) const fn row_floats<const MR: usize>(d: &PaddedDims, lanes: usize) -> usize {
    MR * d.vpr.next_multiple_of(2) * lanes
}

/// Whether a padded `plan` can pool as it goes with `lanes` floats per
/// vector: its row maxima fit [`ROW_FLOATS`].
pub(crate) fn fits(g: &Conv2dGeometry, plan: &Plan, lanes: usize) -> bool {
    let d = PaddedDims::new(g, lanes);
    plan.mode == Mode::Padded && plan.mr * d.vpr.next_multiple_of(2) * lanes <= ROW_FLOATS
}

/// Pools the outputs of the block of channels `blk` describes (`blk.co0`,
/// `blk.rows`; its other fields are those of every tile) into the group's
/// pooled planes `out` (`oh / 2 × ow / 2` each), `rows` holding the row
/// maxima ([`row_floats`]).
///
/// A pooled row's last vector is stored whole when its plane has room: the
/// lanes past the row end land on the next pooled row, stored later.
///
/// # Panics
/// If the buffers do not match the geometry.
#[inline(always)]
pub(crate) fn run_block<S: Kernels, const MR: usize>(
    s: S,
    blk: &Block<'_>,
    g: &Conv2dGeometry,
    rows: &mut [f32],
    out: &mut [f32],
    bias: Option<&[f32]>,
    act: Activation,
) {
    let lanes = S::LANES;
    let d = blk.dims;
    let (poh, pow) = (g.oh / 2, g.ow / 2);
    let pooled_plane = poh * pow;
    let row_len = d.vpr.next_multiple_of(2) * lanes;
    assert!(rows.len() == row_floats::<MR>(&d, lanes) && (1..=MR).contains(&blk.rows));
    assert!(
        out.len() >= (blk.co0 + blk.rows) * pooled_plane,
        "padded pooled: output"
    );
    // Two vectors of each row per tile where the registers hold their
    // `4 * MR` accumulators, 4 input vectors and a broadcast weight: half
    // the tiles, and each broadcast feeds four FMAs instead of two.
    // (Measured on a Xeon with AVX-512, LeNet-5's conv1 with MR = 6: 2.40-2.55
    // -> 2.14-2.27 µs in the profile.)
    let pairs = 4 * MR + 5 <= S::REGISTERS;
    for py in 0..poh {
        let mut j = 0;
        while j < d.vpr {
            let tile = Block {
                first: (2 * py, j),
                v0: 2 * py * d.vpr + j,
                ..*blk
            };
            if pairs && j + 1 < d.vpr {
                s.padded_pooled_tile::<MR, 4>(&tile, rows, bias, act);
                j += 2;
            } else {
                s.padded_pooled_tile::<MR, 2>(&tile, rows, bias, act);
                j += 1;
            }
        }
        for m in 0..blk.rows {
            let row = &rows[m * row_len..][..row_len];
            let plane = &mut out[(blk.co0 + m) * pooled_plane..][..pooled_plane];
            for px0 in (0..pow).step_by(lanes) {
                let n = lanes.min(pow - px0);
                let at = py * pow + px0;
                // SAFETY: `2 * px0` is a whole pair of vectors before the
                // end of `row` (`px0 < pow <= vpr * lanes / 2`, a multiple
                // of `lanes`). The store writes `plane[at ..][..lanes]` when
                // that is inside the plane, else the first `n` lanes, which
                // are `plane[at ..][..n]`.
                unsafe {
                    let p = row.as_ptr().add(2 * px0);
                    let (even, odd) = s.deinterleave(s.load(p), s.load(p.add(lanes)));
                    let v = s.max_nan(even, odd);
                    let dst = plane.as_mut_ptr().add(at);
                    if at + lanes <= pooled_plane {
                        s.store(dst, v);
                    } else {
                        s.mask_store(dst, s.first_lanes(n), v);
                    }
                }
            }
        }
    }
}

/// One register tile: output rows `blk.first.0` and the one below, the
/// `NACC / 2` vectors from `blk.first.1` of each (`NACC` is 2 or 4), for the
/// block's channels; stores per channel `m` the larger of the two rows
/// (through `act`) at those vectors of row `m` of `rows`.
///
/// # Panics
/// If the tile reaches outside its slices (checked once, up front).
#[inline(always)]
pub(crate) fn tile<S: Simd, const MR: usize, const NACC: usize>(
    s: S,
    blk: &Block<'_>,
    rows: &mut [f32],
    bias: Option<&[f32]>,
    act: Activation,
) {
    const { assert!(NACC == 2 || NACC == 4, "padded pooled: two rows of one or two vectors") };
    let lanes = S::LANES;
    let vw = NACC / 2;
    let (d, taps) = (&blk.dims, blk.taps);
    let (oy, j) = blk.first;
    let row_len = rows.len() / MR;
    assert!(taps.len >= 1 && (1..=MR).contains(&blk.rows) && j + vw <= d.vpr);
    assert!(blk.wt.len() == taps.len * MR, "padded pooled: weights");
    assert!(
        rows.len() == MR * row_len && (j + vw) * lanes <= row_len,
        "padded pooled: rows"
    );
    // The upper row's vectors, then the lower row's.
    let x_off: [usize; NACC] = core::array::from_fn(|i| (oy + i / vw) * d.wp + (j + i % vw) * lanes);
    // The furthest read: the lower row's last vector, last tap.
    assert!(
        x_off[NACC - 1] + taps.max + lanes <= blk.xp.len(),
        "padded pooled: input"
    );
    if let Some(b) = bias {
        assert!(b.len() >= blk.co0 + blk.rows, "padded pooled: bias");
    }
    let mut acc = accumulate::<S, MR, NACC>(s, blk, &x_off, bias);
    act.apply_tile(s, &mut acc);
    let dst = rows.as_mut_ptr();
    for (m, row) in acc.into_iter().enumerate() {
        for v in 0..vw {
            // SAFETY: vector `j + v < j + vw` of row `m < MR` is inside
            // `rows` (the rows assert).
            unsafe { s.store(dst.add(m * row_len + (j + v) * lanes), s.max_nan(row[v], row[vw + v])) };
        }
    }
}

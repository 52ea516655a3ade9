//! The filter and input transforms of F(2×2, 3×3): `U = G g Gᵀ` per
//! (output, input) channel pair, and `V = Bᵀ d B` per input channel and
//! 4×4 input tile (tiles overlap by two rows and columns), with
//!
//! ```text
//!     | 1    0    0  |          | 1  0 -1  0 |
//! G = | 1/2  1/2  1/2|     Bᵀ = | 0  1  1  0 |
//!     | 1/2 -1/2  1/2|          | 0 -1  1  0 |
//!     | 0    0    1  |          | 0  1  0 -1 |
//! ```
//!
//! Position `p = 4 * i + j` of a transformed tile is row `i`, column `j`.

use super::micro::ROWS;
use super::plan::{WinogradPlan, POSITIONS};
use super::Band;
use crate::kernels::conv2d::Conv2dGeometry;
use crate::kernels::simd::{even_element_bits, Simd};

/// `U` for output channels `co0 .. co0 + cob` and input channels `c0 ..
/// c0 + cc`, in packed blocks of [`ROWS`] output channels: position `p`,
/// block `b`, input channel `ci` and row `r` at `((p * blocks + b) * cc +
/// ci) * ROWS + r` (`blocks = w.cob / ROWS`, strides from `w`). Rows past
/// `cob` are zero. Vectorised across output channels: the 9 taps of 16
/// channels are loaded as 16 rows and transposed (a gather per tap is
/// several times slower on Zen 4).
#[inline(always)]
pub(crate) fn filter<S: Simd>(
    s: S,
    g: &Conv2dGeometry,
    weight: &[f32],
    (co0, cob): (usize, usize),
    (c0, cc): (usize, usize),
    w: &WinogradPlan,
    u: &mut [f32],
) {
    assert!(S::LANES == ROWS, "winograd: the filter transform needs 16 lanes");
    assert!(cob <= w.cob && cc <= w.cc && co0 + cob <= g.cout && c0 + cc <= g.cin);
    assert!(weight.len() == g.weight_len() && u.len() >= POSITIONS * w.cob * w.cc);
    let blocks = w.cob / ROWS;
    let half = s.splat(0.5);
    let nine = s.first_lanes(9);
    let per_co = g.cin * 9;
    let mut k = [s.zero(); ROWS];
    for b in 0..cob.div_ceil(ROWS) {
        let rows = ROWS.min(cob - b * ROWS);
        let first = &weight[(co0 + b * ROWS) * per_co..][..(rows - 1) * per_co + g.cin * 9];
        for ci in 0..cc {
            for (r, k) in k.iter_mut().enumerate() {
                *k = if r < rows {
                    let taps = &first[r * per_co + (c0 + ci) * 9..][..9];
                    // SAFETY: the 9 lanes are `taps`.
                    unsafe { s.maskz_load(taps.as_ptr(), nine) }
                } else {
                    s.zero()
                };
            }
            // `k[tap]` now holds that tap of each output channel.
            s.transpose(&mut k);
            // `g Gᵀ`: each kernel row becomes 4 values ...
            let mut kr = [[s.zero(); 4]; 3];
            for (r, row) in kr.iter_mut().enumerate() {
                *row = g_times(s, half, k[3 * r], k[3 * r + 1], k[3 * r + 2]);
            }
            // ... then `G (g Gᵀ)` column by column.
            for j in 0..4 {
                let col = g_times(s, half, kr[0][j], kr[1][j], kr[2][j]);
                for (i, &v) in col.iter().enumerate() {
                    let dst = &mut u[(((4 * i + j) * blocks + b) * w.cc + ci) * ROWS..][..ROWS];
                    // SAFETY: `dst` holds ROWS = LANES floats.
                    unsafe { s.store(dst.as_mut_ptr(), v) };
                }
            }
        }
    }
}

/// One row (or column) of `G` applied to three kernel values.
#[inline(always)]
fn g_times<S: Simd>(s: S, half: S::V, a: S::V, b: S::V, c: S::V) -> [S::V; 4] {
    let ac = s.add(a, c);
    [a, s.mul(s.add(ac, b), half), s.mul(s.sub(ac, b), half), c]
}

/// `Bᵀ` (or `B` from the right) on four values: `x0 - x2, x1 + x2, x2 - x1,
/// x1 - x3`.
#[inline(always)]
fn b_times<S: Simd>(s: S, x: [S::V; 4]) -> [S::V; 4] {
    [
        s.sub(x[0], x[2]),
        s.add(x[1], x[2]),
        s.sub(x[2], x[1]),
        s.sub(x[1], x[3]),
    ]
}

/// Most vectors of tiles in one tile row of a band.
const MAX_ROW_VECTORS: usize = super::plan::MAX_BAND_TILES / 8;

/// `V[p][ci][t]` (at `(p * cc + ci) * tp + t`, strides from `w`; tile `t`
/// is band row `t / band.tc`, column `t % band.tc`) for input channels `c0
/// .. c0 + cc`, vectorised across the tiles of a row: the four columns of
/// each tile are four stride-2 loads straight from the input row (masked
/// where they fall in the padding, which reads as zero).
#[inline(always)]
pub(crate) fn input<S: Simd>(
    s: S,
    g: &Conv2dGeometry,
    input: &[f32],
    band: &Band,
    (c0, cc): (usize, usize),
    w: &WinogradPlan,
    v: &mut [f32],
) {
    let lanes = S::LANES;
    let plane = g.h * g.w;
    assert!(cc <= w.cc && c0 + cc <= g.cin && input.len() == g.input_len());
    assert!(band.tr * band.tc <= w.tp && v.len() >= POSITIONS * w.cc * w.tp);
    let vectors = band.tc.div_ceil(lanes);
    assert!(vectors <= MAX_ROW_VECTORS);
    // Per vector and column of the tiles: the input column of lane 0 and
    // the elements a stride-2 load may read (the same for every row).
    let mut starts = [[0isize; 4]; MAX_ROW_VECTORS];
    let mut bits = [[(0u32, 0u32); 4]; MAX_ROW_VECTORS];
    for j in 0..vectors {
        let n = lanes.min(band.tc - j * lanes);
        for off in 0..4 {
            let b = (2 * (band.tx0 + j * lanes) + off) as isize - g.pl as isize;
            // Lane `i` reads column `b + 2 * i`: inside the row for `lo <= i < hi`.
            let lo = if b >= 0 { 0 } else { (1 - b) as usize / 2 };
            let hi = if (g.w as isize) > b {
                ((g.w as isize - b + 1) / 2) as usize
            } else {
                0
            };
            let hi = hi.min(n);
            starts[j][off] = b;
            bits[j][off] = even_element_bits(lanes, lo.min(hi), hi);
        }
    }
    for ci in 0..cc {
        let chan = &input[(c0 + ci) * plane..][..plane];
        for r in 0..band.tr {
            let top = 2 * (band.ty0 + r) as isize - g.pt as isize;
            let mut rows: [Option<&[f32]>; 4] = [None; 4];
            for (k, row) in rows.iter_mut().enumerate() {
                let iy = top + k as isize;
                if iy >= 0 && (iy as usize) < g.h {
                    *row = Some(&chan[iy as usize * g.w..][..g.w]);
                }
            }
            for j in 0..vectors {
                let n = lanes.min(band.tc - j * lanes);
                // `d B` for each of the four input rows (zero in the padding) ...
                let mut h = [[s.zero(); 4]; 4];
                for (hk, row) in h.iter_mut().zip(rows) {
                    let Some(row) = row else { continue };
                    let mut x = [s.zero(); 4];
                    for (off, x) in x.iter_mut().enumerate() {
                        let p = row.as_ptr().wrapping_offset(starts[j][off]);
                        let (lo, hi) = bits[j][off];
                        // SAFETY: the enabled elements are columns `0 .. w`
                        // of `row` (see `bits`); `p` itself may point
                        // outside, formed with wrapping arithmetic.
                        *x = unsafe { s.maskz_load_pairs_even(p, s.mask_from_bits(lo), s.mask_from_bits(hi)) };
                    }
                    *hk = b_times(s, x);
                }
                // ... then `Bᵀ (d B)` column by column.
                let t = r * band.tc + j * lanes;
                for jj in 0..4 {
                    let col = b_times(s, [h[0][jj], h[1][jj], h[2][jj], h[3][jj]]);
                    for (i, &x) in col.iter().enumerate() {
                        let dst = &mut v[((4 * i + jj) * w.cc + ci) * w.tp + t..][..n];
                        // SAFETY: the first `n` lanes are `dst`.
                        unsafe { s.mask_store(dst.as_mut_ptr(), s.first_lanes(n), x) };
                    }
                }
            }
        }
    }
}

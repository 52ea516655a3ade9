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
use crate::kernels::simd::Simd;

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

/// Most runs of tiles from different tile rows in one vector: a vector of
/// 16 tiles spans at most 16 rows.
const MAX_RUNS: usize = 16;

/// The tiles of one vector that share a tile row: band row `r`, lanes
/// `lanes` (bits), lane `i` reading input columns `start + 2 * i .. start
/// + 2 * i + 4`; and the elements of the three vectors loaded from column
/// `start` on that these lanes read inside the input (bits).
#[derive(Clone, Copy)]
struct Run {
    r: usize,
    start: isize,
    lanes: u32,
    bits: [u32; 3],
}

/// `V[p][ci][t]` (at `(p * cc + ci) * tp + t`, strides from `w`; tile `t`
/// is band row `t / band.tc`, column `t % band.tc`) for input channels `c0
/// .. c0 + cc`, vectorised across the band's tiles in order (a vector may
/// span several tile rows when they are short). Each input row of a run of
/// tiles is three loads (masked where they fall in the padding, which
/// reads as zero), split into the tiles' four columns by permutes.
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
    let tiles = band.tr * band.tc;
    assert!(cc <= w.cc && c0 + cc <= g.cin && input.len() == g.input_len());
    assert!(tiles <= w.tp && v.len() >= POSITIONS * w.cc * w.tp);
    // Lane `i` of the four columns: elements `2 * i + off` of the loaded
    // `a`, `b` (and `c` past them), built from the even and odd ones.
    let mut index = [[0i32; 16]; 4];
    for (i, lane) in (0..lanes as i32).enumerate() {
        index[0][i] = 2 * lane;
        index[1][i] = 2 * lane + 1;
        // The even (odd) elements moved down a lane, `c`'s first (second)
        // element last.
        index[2][i] = lane + 1;
        index[3][i] = if i + 1 < lanes { lane + 1 } else { lane + 2 };
    }
    let index = [
        s.load_i32(&index[0]),
        s.load_i32(&index[1]),
        s.load_i32(&index[2]),
        s.load_i32(&index[3]),
    ];
    let all = s.first_lanes(lanes);
    let mut runs = [Run {
        r: 0,
        start: 0,
        lanes: 0,
        bits: [0; 3],
    }; MAX_RUNS];
    for t0 in (0..tiles).step_by(lanes) {
        let n = lanes.min(tiles - t0);
        let mut count = 0;
        let mut lo = 0;
        while lo < n {
            let r = (t0 + lo) / band.tc;
            let hi = n.min((r + 1) * band.tc - t0);
            // Lane `i` is tile column `t0 + i - r * tc` (a negative start
            // is fine: such lanes are not this run's).
            let start = 2 * (band.tx0 + t0) as isize - 2 * (r * band.tc) as isize - g.pl as isize;
            // Elements `2 * lo .. 2 * hi + 2`, inside the row.
            let first = (2 * lo as isize).max(-start);
            let end = (2 * hi as isize + 2).min(g.w as isize - start);
            let mut bits = [0u32; 3];
            for (k, bits) in bits.iter_mut().enumerate() {
                let base = (k * lanes) as isize;
                let (from, to) = (
                    (first - base).clamp(0, lanes as isize),
                    (end - base).clamp(0, lanes as isize),
                );
                if from < to {
                    *bits = (((1u64 << to) - 1) & !((1u64 << from) - 1)) as u32;
                }
            }
            runs[count] = Run {
                r,
                start,
                lanes: (((1u64 << hi) - 1) & !((1u64 << lo) - 1)) as u32,
                bits,
            };
            count += 1;
            lo = hi;
        }
        let runs = &runs[..count];
        let store = s.first_lanes(n);
        for ci in 0..cc {
            let chan = &input[(c0 + ci) * plane..][..plane];
            // `d[k][off]` for every tile of the vector, zero in the padding ...
            let mut d = [[s.zero(); 4]; 4];
            for run in runs {
                let top = 2 * (band.ty0 + run.r) as isize - g.pt as isize;
                let mask = s.mask_from_bits(run.lanes);
                for (k, dk) in d.iter_mut().enumerate() {
                    let iy = top + k as isize;
                    if iy < 0 || iy as usize >= g.h {
                        continue;
                    }
                    let row = &chan[iy as usize * g.w..][..g.w];
                    let p = row.as_ptr().wrapping_offset(run.start);
                    // SAFETY: the enabled elements are columns `0 .. w` of
                    // `row` (see `Run::bits`); the pointers themselves may
                    // point outside, formed with wrapping arithmetic.
                    let (a, b, c) = unsafe {
                        (
                            s.maskz_load(p, s.mask_from_bits(run.bits[0])),
                            s.maskz_load(p.wrapping_add(lanes), s.mask_from_bits(run.bits[1])),
                            s.maskz_load(p.wrapping_add(2 * lanes), s.mask_from_bits(run.bits[2])),
                        )
                    };
                    let even = s.maskz_permute2(all, a, b, index[0]);
                    let odd = s.maskz_permute2(all, a, b, index[1]);
                    // Other runs' lanes zeroed: the element after this
                    // run's last lane was loaded (for columns 2 and 3) and
                    // lands in the next lane of `even` and `odd`, the one
                    // before its first in the previous lane of the shifts.
                    let x = [
                        s.maskz_permute2(mask, a, b, index[0]),
                        s.maskz_permute2(mask, a, b, index[1]),
                        s.maskz_permute2(mask, even, c, index[2]),
                        s.maskz_permute2(mask, odd, c, index[3]),
                    ];
                    for (dk, x) in dk.iter_mut().zip(x) {
                        // Runs have disjoint lanes (zero in the others).
                        *dk = if count == 1 { x } else { s.add(*dk, x) };
                    }
                }
            }
            // ... then `d B` row by row and `Bᵀ (d B)` column by column.
            let h = [b_times(s, d[0]), b_times(s, d[1]), b_times(s, d[2]), b_times(s, d[3])];
            for j in 0..4 {
                let col = b_times(s, [h[0][j], h[1][j], h[2][j], h[3][j]]);
                for (i, &x) in col.iter().enumerate() {
                    let dst = &mut v[((4 * i + j) * w.cc + ci) * w.tp + t0..][..n];
                    // SAFETY: the first `n` lanes are `dst`.
                    unsafe { s.mask_store(dst.as_mut_ptr(), store, x) };
                }
            }
        }
    }
}

//! The input transform of F(2×2, 3×3), `V = Bᵀ d B` per input channel and
//! 4×4 input tile (tiles overlap by two rows and columns), with
//!
//! ```text
//!      | 1  0 -1  0 |
//! Bᵀ = | 0  1  1  0 |
//!      | 0 -1  1  0 |
//!      | 0  1  0 -1 |
//! ```
//!
//! Position `p = 4 * i + j` of a transformed tile is row `i`, column `j`.

use super::Band;
use crate::kernels::conv2d::Conv2dGeometry;
use crate::kernels::simd::Simd;

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

/// `V[p][ci][t]` (at `p * ldp + ci * tp + t`; tile `t`
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
    (tp, ldp): (usize, usize),
    v: &mut [f32],
) {
    let lanes = S::LANES;
    let plane = g.h * g.w;
    let tiles = band.tr * band.tc;
    assert!(c0 + cc <= g.cin && input.len() == g.input_len());
    assert!(tiles <= tp && ldp >= cc * tp && v.len() >= 15 * ldp + cc * tp);
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
            // `d B` row by row, in the order `Bᵀ` consumes the rows, so that
            // at most two of them stay live (all 16 values and their
            // transforms at once spilled): rows 1 and 2 give positions 1
            // and 2, then row 0 position 0 and row 3 position 3.
            let rows = RowSource {
                chan,
                runs,
                ty0: band.ty0,
                index: &index,
                all,
            };
            let h1 = b_times(s, rows.row(s, g, 1));
            let h2 = b_times(s, rows.row(s, g, 2));
            let h0 = b_times(s, rows.row(s, g, 0));
            let h3 = b_times(s, rows.row(s, g, 3));
            let first = ci * tp + t0;
            for j in 0..4 {
                let col = [
                    s.sub(h0[j], h2[j]),
                    s.add(h1[j], h2[j]),
                    s.sub(h2[j], h1[j]),
                    s.sub(h1[j], h3[j]),
                ];
                for (i, &x) in col.iter().enumerate() {
                    let dst = &mut v[(4 * i + j) * ldp + first..][..n];
                    // SAFETY: the first `n` lanes are `dst`.
                    unsafe { s.mask_store(dst.as_mut_ptr(), store, x) };
                }
            }
        }
    }
}

/// Where [`input`] reads one input channel's rows for a vector of tiles.
struct RowSource<'a, S: Simd> {
    /// The channel's plane.
    chan: &'a [f32],
    /// The vector's runs of tiles from one tile row.
    runs: &'a [Run],
    /// The band's first tile row.
    ty0: usize,
    /// The permutes that split loaded elements into the tiles' columns.
    index: &'a [S::I; 4],
    /// Every lane.
    all: S::M,
}

impl<S: Simd> RowSource<'_, S> {
    /// Row `k` (of 4) of every tile of the vector, as its four columns, zero
    /// in the padding.
    #[inline(always)]
    fn row(&self, s: S, g: &Conv2dGeometry, k: usize) -> [S::V; 4] {
        let lanes = S::LANES;
        let mut d = [s.zero(); 4];
        for run in self.runs {
            let iy = 2 * (self.ty0 + run.r) as isize - g.pt as isize + k as isize;
            if iy < 0 || iy as usize >= g.h {
                continue;
            }
            let mask = s.mask_from_bits(run.lanes);
            let row = &self.chan[iy as usize * g.w..][..g.w];
            let p = row.as_ptr().wrapping_offset(run.start);
            // SAFETY: the enabled elements are columns `0 .. w` of `row` (see
            // `Run::bits`); the pointers themselves may point outside,
            // formed with wrapping arithmetic.
            let (a, b, c) = unsafe {
                (
                    s.maskz_load(p, s.mask_from_bits(run.bits[0])),
                    s.maskz_load(p.wrapping_add(lanes), s.mask_from_bits(run.bits[1])),
                    s.maskz_load(p.wrapping_add(2 * lanes), s.mask_from_bits(run.bits[2])),
                )
            };
            let index = self.index;
            let even = s.maskz_permute2(self.all, a, b, index[0]);
            let odd = s.maskz_permute2(self.all, a, b, index[1]);
            // Other runs' lanes zeroed: the element after this run's last
            // lane was loaded (for columns 2 and 3) and lands in the next
            // lane of `even` and `odd`, the one before its first in the
            // previous lane of the shifts.
            let x = [
                s.maskz_permute2(mask, a, b, index[0]),
                s.maskz_permute2(mask, a, b, index[1]),
                s.maskz_permute2(mask, even, c, index[2]),
                s.maskz_permute2(mask, odd, c, index[3]),
            ];
            for (d, x) in d.iter_mut().zip(x) {
                // Runs have disjoint lanes (zero in the others); one run is
                // taken as it is (adding zero would turn -0 into +0).
                *d = if self.runs.len() == 1 { x } else { s.add(*d, x) };
            }
        }
        d
    }
}

//! The output transform of F(2×2, 3×3), `Y = Aᵀ M A` with
//!
//! ```text
//! Aᵀ = | 1  1  1  0 |
//!      | 0  1 -1 -1 |
//! ```
//!
//! vectorised across output channels, into the band's outputs laid out as
//! the direct kernel's partial sums (`[pixel][channel]`), which the direct
//! kernel's stores then transpose into the output (or sum, for a fused
//! global pool).

use super::plan::{WinogradPlan, POSITIONS};
use crate::kernels::simd::Simd;

/// The products of one block of channels for one band.
pub(crate) struct Products<'a> {
    /// `M[p][t][c]` at `p * ldp + t * width + c`.
    pub m: &'a [f32],
    /// Floats between positions in `m` (see `super::plan::m_position`).
    pub ldp: usize,
    /// The block's first channel.
    pub co0: usize,
    /// Channel vectors in the block.
    pub cb: usize,
    /// Tiles in the band (`tr` rows of `ntx`).
    pub tiles: usize,
    /// Tiles per tile row.
    pub ntx: usize,
}

/// `Y = Aᵀ M A (+ bias)` for every tile of the band and channel of the
/// block, into `acc` at `(y * owp + x) * width + c` (band-relative pixel
/// `(y, x)`, channel `co0 + c`, `width` the block's channels). Channels
/// past `bias`'s end get no bias.
#[inline(always)]
pub(crate) fn to_acc<S: Simd>(s: S, w: &WinogradPlan, prod: &Products<'_>, bias: Option<&[f32]>, acc: &mut [f32]) {
    let lanes = S::LANES;
    let width = prod.cb * lanes;
    let rows = prod.tiles.div_ceil(prod.ntx);
    assert!(prod.ldp >= w.tp * width && prod.tiles <= w.tp && 2 * prod.ntx <= w.owp);
    assert!(prod.m.len() >= (POSITIONS - 1) * prod.ldp + w.tp * width);
    assert!(prod.co0 + width <= w.coutp && acc.len() >= 2 * rows * w.owp * width);
    let pos = prod.ldp;
    for j in 0..prod.cb {
        let co = prod.co0 + j * lanes;
        let b = match bias {
            Some(bias) if co < bias.len() => {
                let n = lanes.min(bias.len() - co);
                // SAFETY: the first `n` lanes are `bias[co..co + n]`.
                unsafe { s.maskz_load(bias.as_ptr().add(co), s.first_lanes(n)) }
            }
            _ => s.zero(),
        };
        for t in 0..prod.tiles {
            let src = &prod.m[t * width + j * lanes..][..(POSITIONS - 1) * pos + lanes];
            let mut m = [s.zero(); POSITIONS];
            for (p, m) in m.iter_mut().enumerate() {
                // SAFETY: `src[p * pos ..][..lanes]` is inside `src`.
                *m = unsafe { s.load(src.as_ptr().add(p * pos)) };
            }
            let y = transform(s, &m);
            let (ty, tx) = (t / prod.ntx, t % prod.ntx);
            for (dy, y) in y.iter().enumerate() {
                let (y0, y1) = (s.add(y[0], b), s.add(y[1], b));
                let at = ((2 * ty + dy) * w.owp + 2 * tx) * width + j * lanes;
                let dst = &mut acc[at..][..width + lanes];
                // SAFETY: pixels `2 * tx` and `2 * tx + 1` of the row, `lanes`
                // channels from `j * lanes`: inside `dst`.
                unsafe {
                    s.store(dst.as_mut_ptr(), y0);
                    s.store(dst.as_mut_ptr().add(width), y1);
                }
            }
        }
    }
}

/// `Aᵀ M A` (positions `4 * i + j`), as `[row][column]`.
#[inline(always)]
fn transform<S: Simd>(s: S, m: &[S::V; POSITIONS]) -> [[S::V; 2]; 2] {
    // `Aᵀ M`: rows 0 and 1 of four columns ...
    let mut r = [[s.zero(); 4]; 2];
    for q in 0..4 {
        let (m0, m1, m2, m3) = (m[q], m[4 + q], m[8 + q], m[12 + q]);
        r[0][q] = s.add(s.add(m0, m1), m2);
        r[1][q] = s.sub(s.sub(m1, m2), m3);
    }
    // ... then `(Aᵀ M) A`.
    let mut y = [[s.zero(); 2]; 2];
    for (y, r) in y.iter_mut().zip(&r) {
        *y = [s.add(s.add(r[0], r[1]), r[2]), s.sub(s.sub(r[1], r[2]), r[3])];
    }
    y
}

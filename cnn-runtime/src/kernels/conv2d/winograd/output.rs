//! The output transform of F(2×2, 3×3), `Y = Aᵀ M A` with
//!
//! ```text
//! Aᵀ = | 1  1  1  0 |
//!      | 0  1 -1 -1 |
//! ```
//!
//! vectorised across tiles, and the one place results reach the output
//! tensor ([`store_segment`]).

use super::plan::{WinogradPlan, POSITIONS};
use super::Band;
use crate::kernels::conv2d::Conv2dGeometry;
use crate::kernels::epilogue::Activation;
use crate::kernels::simd::Simd;

/// How a pass's results combine with the output tensor, and the activation
/// to apply as they are stored: the fused one on the last chunk's pass,
/// [`Activation::Identity`] on the others (it must see the whole sum).
#[derive(Clone, Copy)]
pub(crate) enum Store<'a> {
    /// Overwrite, adding the bias (of all `cout` channels) if any: the first
    /// (or only) chunk of input channels.
    First(Option<&'a [f32]>, Activation),
    /// Add to what earlier chunks stored.
    Add(Activation),
}

impl Store<'_> {
    /// The first chunk's store when `last` is false, else the final one.
    pub(crate) fn pass(bias: Option<&[f32]>, first: bool, last: bool, act: Activation) -> Store<'_> {
        let act = if last { act } else { Activation::Identity };
        if first {
            Store::First(bias, act)
        } else {
            Store::Add(act)
        }
    }
}

/// `Y = Aᵀ M A` for the band's tiles and output channels `co0 .. co0 +
/// cob` (`M[p][co][t]` at `(p * cob + co) * tp + t`), stored into `out`
/// (NCHW, all channels) as `store` says. Outputs of partial tiles past
/// `oh` / `ow` are dropped.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn output<S: Simd>(
    s: S,
    g: &Conv2dGeometry,
    m: &[f32],
    band: &Band,
    (co0, cob): (usize, usize),
    w: &WinogradPlan,
    store: Store<'_>,
    out: &mut [f32],
) {
    let lanes = S::LANES;
    let out_plane = g.oh * g.ow;
    let tiles = band.tr * band.tc;
    assert!(cob <= w.cob && co0 + cob <= g.cout && out.len() == g.output_len());
    assert!(tiles <= w.tp && w.tp.is_multiple_of(lanes) && m.len() >= POSITIONS * w.cob * w.tp);
    if let Store::First(Some(bias), _) = store {
        assert!(bias.len() == g.cout);
    }
    for t0 in (0..tiles).step_by(lanes) {
        // The vector's tiles by band row (the same for every channel):
        // each run is contiguous in two output rows.
        let mut runs = [OutRun {
            oy: 0,
            x0: 0,
            from: 0,
            count: 0,
        }; MAX_RUNS];
        let mut n_runs = 0;
        let t_end = tiles.min(t0 + lanes);
        let mut t = t0;
        while t < t_end {
            let br = t / band.tc;
            let run_end = t_end.min((br + 1) * band.tc);
            let x0 = 2 * (band.tx0 + t - br * band.tc);
            runs[n_runs] = OutRun {
                oy: 2 * (band.ty0 + br),
                x0,
                from: 2 * (t - t0),
                count: (2 * (run_end - t)).min(g.ow - x0),
            };
            n_runs += 1;
            t = run_end;
        }
        let runs = &runs[..n_runs];
        for co in 0..cob {
            let plane = &mut out[(co0 + co) * out_plane..][..out_plane];
            let mut x = [s.zero(); POSITIONS];
            for (p, x) in x.iter_mut().enumerate() {
                // SAFETY: `(p * cob + co) * tp + t0 + lanes <= POSITIONS *
                // cob * tp <= m.len()`, as `t0 < tiles <= tp` and `tp` is a
                // multiple of `lanes`.
                *x = unsafe { s.load(m.as_ptr().add((p * w.cob + co) * w.tp + t0)) };
            }
            // `Aᵀ M`: two rows of four ...
            let mut r = [[s.zero(); 4]; 2];
            for j in 0..4 {
                let (a, b, c, d) = (x[j], x[4 + j], x[8 + j], x[12 + j]);
                r[0][j] = s.add(s.add(a, b), c);
                r[1][j] = s.sub(s.sub(b, c), d);
            }
            // ... then `(Aᵀ M) A`: per output row, each tile's two columns
            // side by side (`2 * lanes` values in two vectors).
            let bias = match store {
                Store::First(Some(bias), _) => Some(s.splat(bias[co0 + co])),
                _ => None,
            };
            let mut rows = [(s.zero(), s.zero()); 2];
            for (row, r) in rows.iter_mut().zip(&r) {
                let mut left = s.add(s.add(r[0], r[1]), r[2]);
                let mut right = s.sub(s.sub(r[1], r[2]), r[3]);
                if let Some(b) = bias {
                    left = s.add(left, b);
                    right = s.add(right, b);
                }
                *row = s.interleave(left, right);
            }
            for run in runs {
                for (dy, &row) in rows.iter().enumerate() {
                    let oy = run.oy + dy;
                    if oy < g.oh {
                        let dst = &mut plane[oy * g.ow + run.x0..][..run.count];
                        store_run(s, row, run.from, dst, store);
                    }
                }
            }
        }
    }
}

/// Most runs of tiles from different tile rows in one vector.
const MAX_RUNS: usize = 16;

/// Tiles of one vector from one tile row: output rows `oy` and `oy + 1`,
/// columns `x0 .. x0 + count`, which are values `from ..` of the vector's
/// interleaved output rows.
#[derive(Clone, Copy)]
struct OutRun {
    oy: usize,
    x0: usize,
    from: usize,
    count: usize,
}

/// Writes values `from .. from + dst.len()` of the `2 * LANES` in `row`
/// to `dst` (overwriting or adding, as `store` says) with masked stores
/// straight from the registers (a copy through memory would stall on
/// store forwarding): the only place the mode writes the output tensor,
/// and so where the fused activation is applied (by the last chunk's pass).
#[inline(always)]
fn store_run<S: Simd>(s: S, row: (S::V, S::V), from: usize, dst: &mut [f32], store: Store<'_>) {
    let lanes = S::LANES;
    let end = from + dst.len();
    assert!(end <= 2 * lanes);
    for (half, v) in [(0, row.0), (1, row.1)] {
        // Lanes `lo .. hi` of this half go to `dst[half * lanes + lane - from]`.
        let lo = from.clamp(half * lanes, half * lanes + lanes) - half * lanes;
        let hi = end.clamp(half * lanes, half * lanes + lanes) - half * lanes;
        if lo == hi {
            continue;
        }
        let mask = s.mask_from_bits((((1u64 << hi) - 1) & !((1u64 << lo) - 1)) as u32);
        let p = dst
            .as_mut_ptr()
            .wrapping_offset((half * lanes) as isize - from as isize);
        // SAFETY: an enabled lane `lo <= i < hi` is `dst[half * lanes + i -
        // from]`, inside `dst` (`from <= half * lanes + i < end`); `p`
        // itself may point outside, formed with wrapping arithmetic.
        unsafe {
            let v = match store {
                Store::First(_, act) => act.apply_vec(s, v),
                Store::Add(act) => act.apply_vec(s, s.add(v, s.maskz_load(p, mask))),
            };
            s.mask_store(p, mask, v);
        }
    }
}

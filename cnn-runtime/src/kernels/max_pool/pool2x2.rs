//! The common 2×2, stride-2 pool with every window inside the input, in
//! vectors: per output row, both input rows combined with NaN-propagating
//! max or min (plain loads), then the even and odd columns of the result.

use super::Pool2dGeometry;
use crate::kernels::simd::Simd;

/// Whether [`run`] takes `g`.
pub(crate) const fn fits(g: &Pool2dGeometry) -> bool {
    g.kh == 2
        && g.kw == 2
        && g.sh == 2
        && g.sw == 2
        && g.pt == 0
        && g.pl == 0
        && g.dh == 1
        && g.dw == 1
        && 2 * g.oh <= g.h
        && 2 * g.ow <= g.w
}

/// 2×2 stride-2 max pooling (`MAX`) or min pooling for a geometry that
/// [`fits`].
///
/// Rows are written in order, each in whole vectors even where it ends
/// mid-vector: the lanes past its end land on outputs that are written
/// later and overwrite them, so only the last vectors of the tensor need
/// masks. Masked stores are slow on AMD (Zen 3: one per 12 cycles against
/// one per cycle), and LeNet-5's rows of 14 and 5 outputs end mid-vector
/// on every row (its two pools 1.04 -> 0.76 and 0.68 -> 0.47 µs on Zen 3
/// with AVX2).
///
/// # Panics
/// If `g` does not fit or a slice length does not match it.
#[inline(always)]
pub(crate) fn run<S: Simd, const MAX: bool>(s: S, g: &Pool2dGeometry, input: &[f32], output: &mut [f32]) {
    let lanes = S::LANES;
    assert!(fits(g) && input.len() == g.input_len() && output.len() == g.output_len());
    let pick = |a, b| if MAX { s.max_nan(a, b) } else { s.min_nan(a, b) };
    let (in_len, out_len) = (input.len(), output.len());
    let (src, dst) = (input.as_ptr(), output.as_mut_ptr());
    for c in 0..g.c {
        for oy in 0..g.oh {
            // Flat indices of the output row and of its two input rows.
            let out_row = (c * g.oh + oy) * g.ow;
            let top = c * g.h * g.w + 2 * oy * g.w;
            for ox0 in (0..g.ow).step_by(lanes) {
                let (o, t) = (out_row + ox0, top + 2 * ox0);
                let whole = o + lanes <= out_len && t + g.w + 2 * lanes <= in_len;
                // SAFETY: whole vectors read `t .. t + 2 * lanes` and the
                // same `w` later, and write `o .. o + lanes`, all inside the
                // slices (`whole`). Otherwise the enabled lanes read columns
                // `2 * ox0 .. 2 * (ox0 + n)` of rows at least `2 * ow` long
                // and write outputs `ox0 .. ox0 + n` of the row; with no
                // lane enabled the second pointer (formed with wrapping
                // arithmetic) is not accessed.
                unsafe {
                    let (tp, bp, op) = (src.add(t), src.add(t + g.w), dst.add(o));
                    if whole {
                        let first = pick(s.load(tp), s.load(bp));
                        let second = pick(s.load(tp.add(lanes)), s.load(bp.add(lanes)));
                        let (even, odd) = s.deinterleave(first, second);
                        s.store(op, pick(even, odd));
                    } else {
                        let n = lanes.min(g.ow - ox0);
                        let (lo, hi) = ((2 * n).min(lanes), (2 * n).saturating_sub(lanes));
                        let (m_lo, m_hi) = (s.first_lanes(lo), s.first_lanes(hi));
                        let first = pick(s.maskz_load(tp, m_lo), s.maskz_load(bp, m_lo));
                        let second = pick(
                            s.maskz_load(tp.wrapping_add(lanes), m_hi),
                            s.maskz_load(bp.wrapping_add(lanes), m_hi),
                        );
                        // Rows combined first, then each pair of columns.
                        let (even, odd) = s.deinterleave(first, second);
                        s.mask_store(op, s.first_lanes(n), pick(even, odd));
                    }
                }
            }
        }
    }
}

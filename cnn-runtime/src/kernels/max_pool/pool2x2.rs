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
/// # Panics
/// If `g` does not fit or a slice length does not match it.
#[inline(always)]
pub(crate) fn run<S: Simd, const MAX: bool>(s: S, g: &Pool2dGeometry, input: &[f32], output: &mut [f32]) {
    let lanes = S::LANES;
    assert!(fits(g) && input.len() == g.input_len() && output.len() == g.output_len());
    let pick = |a, b| if MAX { s.max_nan(a, b) } else { s.min_nan(a, b) };
    // Segments of an output row outermost: their masks are computed once,
    // not per row (a row is usually a single segment).
    for ox0 in (0..g.ow).step_by(lanes) {
        let n = lanes.min(g.ow - ox0);
        // Input columns `at .. at + 2 * n`: the first `lo` in the first
        // vector, the other `hi` in the second.
        let at = 2 * ox0;
        let (lo, hi) = ((2 * n).min(lanes), (2 * n).saturating_sub(lanes));
        let (m_lo, m_hi, m_out) = (s.first_lanes(lo), s.first_lanes(hi), s.first_lanes(n));
        let planes = input.chunks_exact(g.h * g.w);
        for (plane, out) in planes.zip(output.chunks_exact_mut(g.oh * g.ow)) {
            for (oy, out_row) in out.chunks_exact_mut(g.ow).enumerate() {
                // Both rows, each at least `2 * ow` long.
                let top = &plane[2 * oy * g.w..][..2 * g.ow];
                let bottom = &plane[(2 * oy + 1) * g.w..][..2 * g.ow];
                // SAFETY: the enabled lanes read columns `at .. at + 2 * n`
                // of rows of `2 * ow >= at + 2 * n` floats; with no lane
                // enabled the second pointer (formed with wrapping
                // arithmetic) is not accessed.
                let v = unsafe {
                    let (t, b) = (top.as_ptr().add(at), bottom.as_ptr().add(at));
                    let first = pick(s.maskz_load(t, m_lo), s.maskz_load(b, m_lo));
                    let second = pick(
                        s.maskz_load(t.wrapping_add(lanes), m_hi),
                        s.maskz_load(b.wrapping_add(lanes), m_hi),
                    );
                    // Rows combined first, then each pair of columns.
                    let (even, odd) = s.deinterleave(first, second);
                    pick(even, odd)
                };
                let dst = &mut out_row[ox0..][..n];
                // SAFETY: the first `n` lanes are `dst`.
                unsafe { s.mask_store(dst.as_mut_ptr(), m_out, v) };
            }
        }
    }
}

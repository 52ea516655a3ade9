//! The Winograd products' register tile: 16 output channels (broadcast
//! from a packed block of `U`, 16 floats per input channel, so one pointer
//! and constant offsets address them all) × `NV` vectors of tiles (from
//! `V`), accumulated over `kc` input channels.

use crate::kernels::simd::Simd;

/// Output channels per register tile (and per packed block of `U`).
pub(crate) const ROWS: usize = 16;

/// One register tile's operands.
pub(crate) struct Block<'a> {
    /// Packed filter transforms: input channel `k`'s 16 rows at `u_off + k
    /// * ROWS`.
    pub u: &'a [f32],
    /// See `u`.
    pub u_off: usize,
    /// Input transforms: input channel `k`'s tiles at `v_off + k * ldv`.
    pub v: &'a [f32],
    /// See `v`.
    pub v_off: usize,
    /// Floats between input channels in `v`.
    pub ldv: usize,
    /// Input channels.
    pub kc: usize,
    /// Offset of row 0's first tile in the products.
    pub m_off: usize,
    /// Floats between rows of the products.
    pub ldm: usize,
}

/// `m[row][tile] (+)= Σ_k u[k][row] · v[k][tile]`: added to what `m`
/// holds if `accumulate`, else overwriting it.
///
/// # Panics
/// If the tile reaches outside its slices (checked once, up front).
#[inline(always)]
pub(crate) fn run<S: Simd, const NV: usize>(s: S, blk: &Block<'_>, m: &mut [f32], accumulate: bool) {
    let lanes = S::LANES;
    assert!(blk.kc >= 1, "winograd micro-kernel: depth");
    assert!(blk.u_off + blk.kc * ROWS <= blk.u.len(), "winograd micro-kernel: u");
    assert!(
        blk.v_off + (blk.kc - 1) * blk.ldv + NV * lanes <= blk.v.len(),
        "winograd micro-kernel: v"
    );
    assert!(
        blk.m_off + (ROWS - 1) * blk.ldm + NV * lanes <= m.len(),
        "winograd micro-kernel: m"
    );
    let m_ptr = m.as_mut_ptr();
    let mut acc = [[s.zero(); NV]; ROWS];
    if accumulate {
        for (r, row) in acc.iter_mut().enumerate() {
            for (j, a) in row.iter_mut().enumerate() {
                // SAFETY: inside `m` by the last assert.
                *a = unsafe { s.load(m_ptr.add(blk.m_off + r * blk.ldm + j * lanes)) };
            }
        }
    }
    let mut u_ptr = blk.u[blk.u_off..].as_ptr();
    let mut v_ptr = blk.v[blk.v_off..].as_ptr();
    for _ in 0..blk.kc {
        let mut x = [s.zero(); NV];
        for (j, x) in x.iter_mut().enumerate() {
            // SAFETY: channel `k < kc` of `v` is inside `v` (second assert).
            *x = unsafe { s.load(v_ptr.add(j * lanes)) };
        }
        for (r, row) in acc.iter_mut().enumerate() {
            // SAFETY: channel `k < kc` of `u` is inside `u` (first assert).
            let w = s.splat(unsafe { *u_ptr.add(r) });
            for (a, &x) in row.iter_mut().zip(&x) {
                *a = s.fma(w, x, *a);
            }
        }
        // Wrapping: after the last channel the pointers may pass the end unused.
        u_ptr = u_ptr.wrapping_add(ROWS);
        v_ptr = v_ptr.wrapping_add(blk.ldv);
    }
    for (r, row) in acc.iter().enumerate() {
        for (j, &a) in row.iter().enumerate() {
            // SAFETY: inside `m` by the last assert.
            unsafe { s.store(m_ptr.add(blk.m_off + r * blk.ldm + j * lanes), a) };
        }
    }
}

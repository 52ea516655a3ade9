//! The Winograd products' register tile: `T` tiles (broadcast from `V`,
//! where one input channel's tiles are adjacent) × `CB` vectors of output
//! channels (from the packed filter transforms `U`, one block's channels
//! adjacent per input channel), accumulated over every input channel, at
//! one position of the transformed tile.

use crate::kernels::simd::Simd;

/// One register tile's operands.
pub(crate) struct Block<'a> {
    /// Filter transforms: input channel `k`'s `CB` vectors at `u_off + k *
    /// CB * LANES`.
    pub u: &'a [f32],
    /// See `u`.
    pub u_off: usize,
    /// Input transforms: input channel `k`'s `T` tiles at `v_off + k * ldv`.
    pub v: &'a [f32],
    /// See `v`.
    pub v_off: usize,
    /// Floats between input channels in `v`.
    pub ldv: usize,
    /// Input channels.
    pub k: usize,
    /// Offset of tile 0's first channel in the products.
    pub m_off: usize,
    /// Floats between tiles in the products.
    pub ldm: usize,
}

/// `m[tile][channel] (+)= Σ_k v[k][tile] · u[k][channel]`: added to what
/// `m` holds if `accumulate`, else overwriting it.
///
/// # Panics
/// If the tile reaches outside its slices (checked once, up front).
#[inline(always)]
pub(crate) fn run<S: Simd, const T: usize, const CB: usize>(s: S, blk: &Block<'_>, m: &mut [f32], accumulate: bool) {
    let lanes = S::LANES;
    let width = CB * lanes;
    assert!(blk.k >= 1, "winograd micro-kernel: depth");
    assert!(blk.u_off + blk.k * width <= blk.u.len(), "winograd micro-kernel: u");
    assert!(
        blk.v_off + (blk.k - 1) * blk.ldv + T <= blk.v.len(),
        "winograd micro-kernel: v"
    );
    assert!(
        blk.m_off + (T - 1) * blk.ldm + width <= m.len(),
        "winograd micro-kernel: m"
    );
    let m_ptr = m.as_mut_ptr();
    let mut acc = [[s.zero(); CB]; T];
    if accumulate {
        for (i, row) in acc.iter_mut().enumerate() {
            for (c, a) in row.iter_mut().enumerate() {
                // SAFETY: inside `m` by the last assert.
                *a = unsafe { s.load(m_ptr.add(blk.m_off + i * blk.ldm + c * lanes)) };
            }
        }
    }
    // SAFETY (all pointer arithmetic below): input channel `k`'s operands
    // are `u[u_off + k * width ..][..width]` and `v[v_off + k * ldv ..][..T]`,
    // inside the slices by the asserts for every `k < blk.k`.
    let mut u = unsafe { blk.u.as_ptr().add(blk.u_off) };
    let mut v = unsafe { blk.v.as_ptr().add(blk.v_off) };
    for _ in 0..blk.k {
        let mut w = [s.zero(); CB];
        for (c, w) in w.iter_mut().enumerate() {
            *w = unsafe { s.load(u.add(c * lanes)) };
        }
        for (i, row) in acc.iter_mut().enumerate() {
            let x = s.splat(unsafe { *v.add(i) });
            for (a, &w) in row.iter_mut().zip(&w) {
                *a = s.fma(x, w, *a);
            }
        }
        u = u.wrapping_add(width);
        v = v.wrapping_add(blk.ldv);
    }
    for (i, row) in acc.iter().enumerate() {
        for (c, &a) in row.iter().enumerate() {
            // SAFETY: inside `m` by the last assert.
            unsafe { s.store(m_ptr.add(blk.m_off + i * blk.ldm + c * lanes), a) };
        }
    }
}

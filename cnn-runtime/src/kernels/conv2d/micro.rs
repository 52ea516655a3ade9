//! The register-blocked micro-kernel: `MR` weight rows times `NV` vectors
//! of pixels, accumulated over `kc` patch rows in `MR * NV` vector
//! registers.

use crate::kernels::epilogue::Activation;
use crate::kernels::simd::Simd;

/// How the accumulators start.
#[derive(Clone, Copy)]
pub(crate) enum Start<'a> {
    /// At zero (no bias, first panel).
    Zero,
    /// At the bias of each row (first panel).
    Bias(&'a [f32]),
    /// At the output's current values (later panels add to earlier ones).
    Output,
}

/// One block of weights (`a`, row-major with stride `lda`, PyTorch's own
/// layout), patch rows (`b`, stride `ldb`) and outputs (`c`, stride `ldc`).
pub(crate) struct Block<'a> {
    /// The weights; row `m` of the block starts at `a_off + m * lda`.
    pub a: &'a [f32],
    /// Offset of the block's first weight.
    pub a_off: usize,
    /// Floats between weight rows.
    pub lda: usize,
    /// The patch rows (a packed panel or the input planes).
    pub b: &'a [f32],
    /// Offset of the block's first pixel in patch row 0.
    pub b_off: usize,
    /// Floats between patch rows.
    pub ldb: usize,
    /// Patch rows to accumulate over.
    pub kc: usize,
    /// Weight (output channel) rows that exist, `1..=MR`; the others
    /// repeat the last one and are not stored.
    pub rows: usize,
    /// Output pixels that exist, at least 1: the block is a strip of
    /// `pixels.div_ceil(NV * LANES)` register tiles side by side (the
    /// lanes of the last one past `pixels` are computed, from in-bounds
    /// patch data, but not stored).
    pub pixels: usize,
    /// Floats between output rows (channel planes).
    pub ldc: usize,
    /// Offset of the block's first output.
    pub c_off: usize,
}

/// `c[m][p] = act(start + sum_k a[m][k] * b[k][p])` for the block's rows
/// and pixels (`act` is the identity but on the last panel), one register
/// tile after another along the strip. A strip per call rather than a tile:
/// with few patch rows (a 1x1 conv over 32 channels: 32 steps per tile) the
/// call, the checks and the set-up cost a fifth of the tile's time.
///
/// # Panics
/// If the block reaches outside its slices (checked once, up front).
#[inline(always)]
pub(crate) fn run<S: Simd, const MR: usize, const NV: usize>(
    s: S,
    blk: &Block<'_>,
    c: &mut [f32],
    start: Start<'_>,
    act: Activation,
) {
    let lanes = S::LANES;
    let width = NV * lanes;
    assert!(blk.kc >= 1 && (1..=MR).contains(&blk.rows) && blk.pixels >= 1);
    assert!(
        blk.a_off + (blk.rows - 1) * blk.lda + blk.kc <= blk.a.len(),
        "micro-kernel: weights"
    );
    assert!(
        blk.b_off + (blk.kc - 1) * blk.ldb + blk.pixels.div_ceil(width) * width <= blk.b.len(),
        "micro-kernel: patch"
    );
    assert!(
        blk.c_off + (blk.rows - 1) * blk.ldc + blk.pixels <= c.len(),
        "micro-kernel: output"
    );
    if let Start::Bias(bias) = start {
        assert!(bias.len() >= blk.rows, "micro-kernel: bias");
    }

    // Row `m` of `a` is read at `a_off + min(m, rows - 1) * lda + k` for
    // `k < kc`: inside `a` by the first assert. Rows exist only up to
    // `rows - 1`, and the pointers are clamped to it. (No closures here: they
    // would not inherit the caller's target features.)
    let mut a_rows = [blk.a.as_ptr(); MR];
    for (m, row) in a_rows.iter_mut().enumerate() {
        *row = blk.a[blk.a_off + m.min(blk.rows - 1) * blk.lda..].as_ptr();
    }
    let c_ptr = c.as_mut_ptr();
    for v0 in (0..blk.pixels).step_by(width) {
        // This tile's pixels (`1..=width`), its first patch column and
        // output offset.
        let pixels = (blk.pixels - v0).min(width);
        let c_off = blk.c_off + v0;
        let out = (c_ptr, c_off, pixels);
        // A whole tile (all rows, all lanes) gets its own instance, whose
        // loads and stores need no per-row or per-vector test: with 32
        // patch rows per tile (MobileNet's 1x1 conv) those tests cost about
        // 4% of the layer (Xeon, AVX-512: 86.8 -> 83.2 µs in the model).
        // SAFETY: the tile is part of the strip `run` checked.
        unsafe {
            if pixels == width && blk.rows == MR {
                tile::<S, MR, NV, true>(s, blk, &a_rows, blk.b_off + v0, out, start, act)
            } else {
                tile::<S, MR, NV, false>(s, blk, &a_rows, blk.b_off + v0, out, start, act)
            }
        };
    }
}

/// One register tile of [`run`]: `pixels` output pixels from `c_off`, the
/// patch columns from `b_off`. `FULL`: the tile is known to have all `MR`
/// rows and `NV * LANES` pixels.
///
/// # Safety
/// The tile must be inside the slices, as `run`'s asserts check for the
/// whole strip (`c_ptr` is the output slice's start). With `FULL` it must
/// be whole: `blk.rows == MR` and `pixels == NV * LANES`, for its loads
/// and stores take those bounds instead of the arguments.
#[inline(always)]
unsafe fn tile<S: Simd, const MR: usize, const NV: usize, const FULL: bool>(
    s: S,
    blk: &Block<'_>,
    a_rows: &[*const f32; MR],
    b_off: usize,
    (c_ptr, c_off, pixels): (*mut f32, usize, usize),
    start: Start<'_>,
    act: Activation,
) {
    let lanes = S::LANES;
    debug_assert!(!FULL || (blk.rows == MR && pixels == NV * lanes));
    let (rows, pixels) = if FULL { (MR, NV * lanes) } else { (blk.rows, pixels) };
    let mut acc = [[s.zero(); NV]; MR];
    match start {
        Start::Zero => {}
        Start::Bias(bias) => {
            for (m, row) in acc.iter_mut().enumerate().take(rows) {
                *row = [s.splat(bias[m]); NV];
            }
        }
        Start::Output => {
            for (m, row) in acc.iter_mut().enumerate().take(rows) {
                for (v, a) in row.iter_mut().enumerate() {
                    let valid = pixels.saturating_sub(v * lanes);
                    if valid > 0 {
                        // SAFETY: lane `i < valid` is output `c_off + m * ldc
                        // + v * lanes + i < c_off + (rows - 1) * ldc + pixels`,
                        // inside `c` by `run`'s third assert.
                        *a = unsafe {
                            let p = c_ptr.add(c_off + m * blk.ldc + v * lanes);
                            s.maskz_load(p, s.first_lanes(valid))
                        };
                    }
                }
            }
        }
    }

    let mut b_ptr = blk.b[b_off..].as_ptr();
    for k in 0..blk.kc {
        let mut x = [s.zero(); NV];
        for (v, x) in x.iter_mut().enumerate() {
            // SAFETY: patch row `k` is read at `b_off + k * ldb + [0, NV *
            // lanes)`, inside `b` by `run`'s second assert.
            *x = unsafe { s.load(b_ptr.add(v * lanes)) };
        }
        for m in 0..MR {
            // SAFETY: `k < kc`: inside `a` (see `a_rows`).
            let w = s.splat(unsafe { *a_rows[m].add(k) });
            for v in 0..NV {
                acc[m][v] = s.fma(w, x[v], acc[m][v]);
            }
        }
        // Wrapping: after the last row the pointer may pass the end unused.
        b_ptr = b_ptr.wrapping_add(blk.ldb);
    }

    act.apply_tile(s, &mut acc);
    for (m, row) in acc.iter().enumerate().take(rows) {
        for (v, &a) in row.iter().enumerate() {
            let valid = pixels.saturating_sub(v * lanes);
            if valid == 0 {
                break;
            }
            // SAFETY: as for `Start::Output`: the lanes written are inside `c`.
            unsafe {
                let p = c_ptr.add(c_off + m * blk.ldc + v * lanes);
                if valid >= lanes {
                    s.store(p, a);
                } else {
                    s.mask_store(p, s.first_lanes(valid), a);
                }
            }
        }
    }
}

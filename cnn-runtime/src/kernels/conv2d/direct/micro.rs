//! The direct kernel's register tile: `P` output pixels (along one output
//! row, `STRIDE` input columns apart) × `CB` vectors of output channels,
//! accumulated over (input channel, kernel row, kernel column). Each step
//! loads `CB` weight vectors and broadcasts `P` input values: no packing of
//! the input, whatever the stride.

use crate::kernels::simd::Simd;

/// How the accumulators start.
#[derive(Clone, Copy)]
pub(crate) enum Start<'a> {
    /// At the bias of each channel of the block (the slice may stop short
    /// of the block's end; missing channels start at zero).
    Bias(&'a [f32]),
    /// At zero.
    Zero,
    /// At the partial sums already in the accumulator buffer.
    Acc,
}

/// One register tile's operands.
pub(crate) struct Block<'a> {
    /// Transposed weights, `[k][coutp]`; the tile's first step at `wt_off`.
    pub wt: &'a [f32],
    /// Offset of the first step's first channel.
    pub wt_off: usize,
    /// Floats between input channels.
    pub wt_ci: usize,
    /// Floats between kernel rows.
    pub wt_ky: usize,
    /// Floats between kernel columns.
    pub wt_kx: usize,
    /// Zero-padded input rows; pixel 0's input for the first step at
    /// `xp_off`, pixel `p`'s at `xp_off + p * STRIDE`.
    pub xp: &'a [f32],
    /// Offset of the first step's input for pixel 0.
    pub xp_off: usize,
    /// Floats between input channels.
    pub xp_ci: usize,
    /// Floats between kernel rows.
    pub xp_ky: usize,
    /// Floats between kernel columns.
    pub xp_kx: usize,
    /// Input channels.
    pub cc: usize,
    /// Kernel rows (only those reading inside the input).
    pub nky: usize,
    /// Kernel columns.
    pub kw: usize,
    /// Offset in the accumulator buffer (`[pixel][coutp]`) of pixel 0's
    /// first channel.
    pub acc_off: usize,
    /// Floats between pixels in the accumulator buffer.
    pub acc_px: usize,
}

/// Accumulates one register tile and stores it to `acc`.
///
/// # Panics
/// If the tile reaches outside its slices (checked once, up front).
#[inline(always)]
pub(crate) fn run<S: Simd, const P: usize, const CB: usize, const STRIDE: usize>(
    s: S,
    blk: &Block<'_>,
    acc: &mut [f32],
    start: Start<'_>,
) {
    let lanes = S::LANES;
    let steps = blk.cc * blk.nky * blk.kw;
    assert!(
        blk.acc_off + (P - 1) * blk.acc_px + CB * lanes <= acc.len(),
        "direct: accumulators"
    );
    if steps > 0 {
        let (ci, ky, kx) = (blk.cc - 1, blk.nky - 1, blk.kw - 1);
        let wt_last = blk.wt_off + ci * blk.wt_ci + ky * blk.wt_ky + kx * blk.wt_kx + CB * lanes;
        let xp_last = blk.xp_off + ci * blk.xp_ci + ky * blk.xp_ky + kx * blk.xp_kx + (P - 1) * STRIDE;
        assert!(wt_last <= blk.wt.len() && xp_last < blk.xp.len(), "direct: operands");
    }

    let mut tile = [[s.zero(); CB]; P];
    let acc_ptr = acc.as_mut_ptr();
    match start {
        Start::Zero => {}
        Start::Bias(bias) => {
            let mut v = [s.zero(); CB];
            for (cb, v) in v.iter_mut().enumerate() {
                let have = bias.len().saturating_sub(cb * lanes).min(lanes);
                if have > 0 {
                    // SAFETY: lanes `cb * lanes .. cb * lanes + have` of `bias`.
                    *v = unsafe { s.maskz_load(bias.as_ptr().add(cb * lanes), s.first_lanes(have)) };
                }
            }
            tile = [v; P];
        }
        Start::Acc => {
            for (p, row) in tile.iter_mut().enumerate() {
                for (cb, a) in row.iter_mut().enumerate() {
                    // SAFETY: inside `acc` by the first assert.
                    *a = unsafe { s.load(acc_ptr.add(blk.acc_off + p * blk.acc_px + cb * lanes)) };
                }
            }
        }
    }

    if steps > 0 {
        // SAFETY: every step's operands are inside the slices (the second
        // assert checks the last step's, which has the largest offsets).
        unsafe {
            match (blk.kw, CB == 1 && blk.xp_kx == 1) {
                // One channel vector, undilated: each input value is
                // broadcast once per kernel row, not once per column.
                (3, true) => accumulate_sliding::<S, P, CB, STRIDE, 3>(s, blk, &mut tile),
                (5, true) => accumulate_sliding::<S, P, CB, STRIDE, 5>(s, blk, &mut tile),
                // A compile-time kernel width unrolls the columns: one
                // loop branch per kernel row, not per column.
                (3, false) => accumulate::<S, P, CB, STRIDE, 3>(s, blk, &mut tile),
                (5, false) => accumulate::<S, P, CB, STRIDE, 5>(s, blk, &mut tile),
                _ => accumulate::<S, P, CB, STRIDE, 0>(s, blk, &mut tile),
            }
        }
    }

    for (p, row) in tile.iter().enumerate() {
        for (cb, &a) in row.iter().enumerate() {
            // SAFETY: inside `acc` by the first assert.
            unsafe { s.store(acc_ptr.add(blk.acc_off + p * blk.acc_px + cb * lanes), a) };
        }
    }
}

/// Adds every step of `blk` to `tile`: `KW` kernel columns per kernel row
/// (0: `blk.kw`, not known at compile time).
///
/// # Safety
/// Every step's weight vectors and input values must be inside `blk.wt`
/// and `blk.xp` (as `run` checks for the last step).
#[inline(always)]
unsafe fn accumulate<S: Simd, const P: usize, const CB: usize, const STRIDE: usize, const KW: usize>(
    s: S,
    blk: &Block<'_>,
    tile: &mut [[S::V; CB]; P],
) {
    let lanes = S::LANES;
    let kw = if KW == 0 { blk.kw } else { KW };
    let (wt, xp) = (blk.wt.as_ptr(), blk.xp.as_ptr());
    for ci in 0..blk.cc {
        for ky in 0..blk.nky {
            let w_row = blk.wt_off + ci * blk.wt_ci + ky * blk.wt_ky;
            let x_row = blk.xp_off + ci * blk.xp_ci + ky * blk.xp_ky;
            for kx in 0..kw {
                let (w_at, x_at) = (w_row + kx * blk.wt_kx, x_row + kx * blk.xp_kx);
                let mut w = [s.zero(); CB];
                for (cb, w) in w.iter_mut().enumerate() {
                    // SAFETY: inside `blk.wt` (the caller's contract).
                    *w = unsafe { s.load(wt.add(w_at + cb * lanes)) };
                }
                for (p, row) in tile.iter_mut().enumerate() {
                    // SAFETY: inside `blk.xp` (the caller's contract).
                    let x = s.splat(unsafe { *xp.add(x_at + p * STRIDE) });
                    for (a, &w) in row.iter_mut().zip(&w) {
                        *a = s.fma(x, w, *a);
                    }
                }
            }
        }
    }
}

/// [`accumulate`] for one channel vector (`CB` = 1), `KW` kernel columns
/// and no dilation (`blk.xp_kx` = 1): per kernel row, the `KW` weight
/// vectors stay in registers and each input value the row's pixels read is
/// broadcast once and multiplied into every pixel it is a tap of. The
/// per-column form broadcasts once per multiply-add, which bounds a tile of
/// one vector by its loads (LeNet-5's second conv, 10 pixels: 11 loads per
/// 10 multiply-adds; here 19 per 50). Each accumulator still adds its taps
/// in (channel, row, column) order, so the sums are the same bit for bit.
///
/// # Safety
/// As for [`accumulate`].
#[inline(always)]
unsafe fn accumulate_sliding<S: Simd, const P: usize, const CB: usize, const STRIDE: usize, const KW: usize>(
    s: S,
    blk: &Block<'_>,
    tile: &mut [[S::V; CB]; P],
) {
    debug_assert!(CB == 1 && blk.kw == KW && blk.xp_kx == 1);
    let (wt, xp) = (blk.wt.as_ptr(), blk.xp.as_ptr());
    // Input columns a kernel row of the tile reads: `0 .. span`, which
    // `columns!` below covers.
    let span = (P - 1) * STRIDE + KW;
    const { assert!((P - 1) * STRIDE + KW <= 40) };
    for ci in 0..blk.cc {
        for ky in 0..blk.nky {
            let w_row = blk.wt_off + ci * blk.wt_ci + ky * blk.wt_ky;
            let x_row = blk.xp_off + ci * blk.xp_ci + ky * blk.xp_ky;
            let mut w = [s.zero(); KW];
            for (kx, w) in w.iter_mut().enumerate() {
                // SAFETY: inside `blk.wt` (the caller's contract).
                *w = unsafe { s.load(wt.add(w_row + kx * blk.wt_kx)) };
            }
            // Column by column as literals, not a loop: with constant
            // columns every accumulator index is a constant, which keeps
            // the tile in registers (a 14-pixel tile's 18-column loop was
            // not unrolled, and ran 4 times slower).
            macro_rules! columns {
                ($($c:literal)*) => {$(
                    if $c < span {
                        // SAFETY: column `c` is tap `kx` of pixel `p` with
                        // `c = p * STRIDE + kx`, inside `blk.xp` (the
                        // caller's contract).
                        let x = s.splat(unsafe { *xp.add(x_row + $c) });
                        for (kx, &w) in w.iter().enumerate() {
                            if $c >= kx && ($c - kx) % STRIDE == 0 && ($c - kx) / STRIDE < P {
                                let a = &mut tile[($c - kx) / STRIDE][0];
                                *a = s.fma(x, w, *a);
                            }
                        }
                    }
                )*};
            }
            columns!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39);
        }
    }
}

//! The padded convolution (see [`super::plan::Mode::Padded`]): a group's
//! input copied once into zero-padded planes on the stack, then every
//! register tile (`MR` output channels × `NV` vectors of output pixels)
//! accumulates over all taps, loading each tap's inputs from the copy at a
//! shifted offset. With stride 1 the pixels of an output row read
//! consecutive inputs for every tap, so no patch matrix is ever packed.

use super::kernels::Kernels;
use super::plan::{PaddedDims, Plan, PADDED_FLOATS, PADDED_MAX_TAPS};
use super::stack::StackBuffer;
use super::Conv2dGeometry;
use crate::kernels::epilogue::Activation;
use crate::kernels::simd::Simd;

/// Offsets into the padded copy of each tap (input channel, kernel row,
/// kernel column, PyTorch's weight order) relative to its output pixel,
/// with their maximum (the only way to build one, so `max` is right).
pub(crate) struct Taps {
    pub(crate) offsets: [u32; PADDED_MAX_TAPS],
    pub(crate) len: usize,
    pub(crate) max: usize,
}

impl Taps {
    pub(crate) fn new(g: &Conv2dGeometry, d: &PaddedDims) -> Self {
        let len = g.cin / g.groups * g.kh * g.kw;
        assert!(len <= PADDED_MAX_TAPS && d.len <= u32::MAX as usize);
        let mut offsets = [0u32; PADDED_MAX_TAPS];
        let mut max = 0;
        let mut i = 0;
        for ci in 0..g.cin / g.groups {
            for ky in 0..g.kh {
                for kx in 0..g.kw {
                    let at = ci * d.plane + ky * g.dh * d.wp + kx * g.dw;
                    offsets[i] = at as u32;
                    max = max.max(at);
                    i += 1;
                }
            }
        }
        Taps { offsets, len, max }
    }
}

/// Most output channels per register tile (of any target's shapes).
const MAX_MR: usize = 12;

/// One register tile's operands.
pub(crate) struct Block<'a> {
    /// The tile's weights transposed, `[tap][MR]` (channels past `rows`
    /// repeat the last): one pointer walks them, each tap's `MR` weights at
    /// constant offsets, so they are broadcast straight from memory.
    pub wt: &'a [f32],
    /// The tile's first output channel (within the group).
    pub co0: usize,
    /// Output channels that exist, `1..=MR` (the others repeat the last).
    pub rows: usize,
    /// The padded copy.
    pub xp: &'a [f32],
    /// Its tap offsets.
    pub taps: &'a Taps,
    /// Its shape.
    pub dims: PaddedDims,
    /// The tile's first vector, counting `vpr` vectors per output row.
    pub v0: usize,
    /// That vector's output row and vector within the row (`v0 / vpr`,
    /// `v0 % vpr`), carried along by the caller instead of divided out per
    /// tile: the divisor is only known at run time.
    pub first: (usize, usize),
    /// Vectors that exist, `1..=NV` (the others repeat the last).
    pub vectors: usize,
    /// Output columns.
    pub ow: usize,
    /// Floats per output plane.
    pub out_plane: usize,
}

/// Runs a padded plan with `MR × NV` register tiles, applying `act` as the
/// outputs are stored.
///
/// # Panics
/// If the plan does not fit the geometry or a slice length does not match
/// it.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn run<S: Kernels, const MR: usize, const NV: usize>(
    s: S,
    g: &Conv2dGeometry,
    plan: &Plan,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    output: &mut [f32],
) {
    assert!(plan.nv == NV);
    run_into::<S, MR, NV>(s, g, plan, input, weight, bias, act, Output::Planes(output));
}

/// Where [`run_into`] puts its results.
pub(crate) enum Output<'a> {
    /// The NCHW output planes, from register tiles of `MR × NV`.
    Planes(&'a mut [f32]),
    /// The planes of the 2×2, stride-2 max pool of the activated outputs
    /// (`oh / 2 × ow / 2` each), from register tiles of `MR` channels × two
    /// rows (see [`super::padded_pooled`]).
    MaxPool2x2(&'a mut [f32]),
}

/// [`run`], its results going to `output`.
///
/// # Panics
/// As [`run`]; for pooled output, also if a row of the pool's stack buffer
/// does not fit (see [`super::padded_pooled::fits`]).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_into<S: Kernels, const MR: usize, const NV: usize>(
    s: S,
    g: &Conv2dGeometry,
    plan: &Plan,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    mut output: Output<'_>,
) {
    let d = PaddedDims::new(g, S::LANES);
    assert!(plan.mr == MR && g.sh == 1 && g.sw == 1);
    let (cing, coutg) = (g.cin / g.groups, g.cout / g.groups);
    let k = cing * g.kh * g.kw;
    let (plane, out_plane) = (g.h * g.w, g.oh * g.ow);
    let pooled = matches!(output, Output::MaxPool2x2(_));
    let group_out = if pooled {
        coutg * (g.oh / 2) * (g.ow / 2)
    } else {
        coutg * out_plane
    };
    let mut rows_buf = StackBuffer::<{ super::padded_pooled::ROW_FLOATS }>::new();
    let pool_rows = rows_buf.zeroed_prefix(if pooled {
        super::padded_pooled::row_floats::<MR>(&d, S::LANES)
    } else {
        0
    });
    let taps = Taps::new(g, &d);
    assert!(MR <= MAX_MR);
    let mut wt_buf = StackBuffer::<{ PADDED_MAX_TAPS * MAX_MR }>::new();
    let wt = wt_buf.zeroed_prefix(k * MR);
    // Zeroed once: each group rewrites only the input part, the padding
    // and slack stay zero.
    let mut xp_buf = StackBuffer::<PADDED_FLOATS>::new();
    let xp = xp_buf.zeroed_prefix(d.len);
    // Input rows and columns that land inside the padded planes.
    let rows = g.h.min(d.hp.saturating_sub(g.pt));
    let cols = g.w.min(d.wp.saturating_sub(g.pl));
    let vectors = g.oh * d.vpr;
    for grp in 0..g.groups {
        let gin = &input[grp * cing * plane..][..cing * plane];
        let gw = &weight[grp * coutg * k..][..coutg * k];
        let gout = match &mut output {
            Output::Planes(out) | Output::MaxPool2x2(out) => &mut out[grp * group_out..][..group_out],
        };
        let gbias = bias.map(|b| &b[grp * coutg..][..coutg]);
        for ci in 0..cing {
            for iy in 0..rows {
                let src = &gin[ci * plane + iy * g.w..][..cols];
                copy_row(s, src, &mut xp[ci * d.plane + (iy + g.pt) * d.wp + g.pl..][..cols]);
            }
        }
        for co0 in (0..coutg).step_by(MR) {
            let rows = MR.min(coutg - co0);
            for (t, w) in wt.chunks_exact_mut(MR).enumerate() {
                for (m, w) in w.iter_mut().enumerate() {
                    *w = gw[(co0 + m.min(rows - 1)) * k + t];
                }
            }
            if pooled {
                let blk = Block {
                    wt,
                    co0,
                    rows,
                    xp,
                    taps: &taps,
                    dims: d,
                    v0: 0,
                    first: (0, 0),
                    vectors: 1,
                    ow: g.ow,
                    out_plane,
                };
                super::padded_pooled::run_block::<S, MR>(s, &blk, g, pool_rows, gout, gbias, act);
                continue;
            }
            let mut first = (0, 0);
            for v0 in (0..vectors).step_by(NV) {
                let blk = Block {
                    wt,
                    co0,
                    rows,
                    xp,
                    taps: &taps,
                    dims: d,
                    v0,
                    first,
                    vectors: NV.min(vectors - v0),
                    ow: g.ow,
                    out_plane,
                };
                s.padded_tile::<MR, NV>(&blk, gout, gbias, act);
                first = advance(first, NV, d.vpr);
            }
        }
    }
}

/// The vector `n` after the one at output row `oy`, vector `j` of the row
/// (`vpr` vectors per row).
#[inline(always)]
fn advance((mut oy, mut j): (usize, usize), n: usize, vpr: usize) -> (usize, usize) {
    j += n;
    while j >= vpr {
        j -= vpr;
        oy += 1;
    }
    (oy, j)
}

/// `dst.copy_from_slice(src)` in vectors, with a masked move only for rows
/// shorter than a vector (AMD's masked moves are slow: with one per vector
/// the copy was a quarter of MobileNet's depthwise layer on Zen 3). A row
/// of one or two vectors' length takes two plain, possibly overlapping
/// moves and no loop (a loop of moves becomes a `memcpy` call, which costs
/// more than the copy for the few floats of a direct-mode window).
#[inline(always)]
pub(super) fn copy_row<S: Simd>(s: S, src: &[f32], dst: &mut [f32]) {
    let lanes = S::LANES;
    let n = src.len();
    assert_eq!(n, dst.len());
    let (from, to) = (src.as_ptr(), dst.as_mut_ptr());
    if n < lanes {
        let m = s.first_lanes(n);
        // SAFETY: the first `n` lanes are inside both slices.
        unsafe { s.mask_store(to, m, s.maskz_load(from, m)) };
        return;
    }
    let mut i = 0;
    while i + 2 * lanes <= n {
        // SAFETY: `i + lanes <= n`: inside both slices.
        unsafe { s.store(to.add(i), s.load(from.add(i))) };
        i += lanes;
    }
    // `lanes <= n - i < 2 * lanes` floats left: the vector from `i` and the
    // one ending at `n` (overlapping it, or the same) cover them.
    // SAFETY: `i + lanes <= n` and `n - lanes >= i`: inside both slices.
    unsafe {
        let (a, b) = (s.load(from.add(i)), s.load(from.add(n - lanes)));
        s.store(to.add(i), a);
        s.store(to.add(n - lanes), b);
    }
}

/// `c[co][pixel] = act(bias[co] + sum_t a[co][t] * xp[pixel's input + tap
/// t])` for the tile's channels and vectors of pixels.
///
/// # Panics
/// If the tile reaches outside its slices (checked once, up front).
#[inline(always)]
pub(crate) fn tile<S: Simd, const MR: usize, const NV: usize>(
    s: S,
    blk: &Block<'_>,
    c: &mut [f32],
    bias: Option<&[f32]>,
    act: Activation,
) {
    let lanes = S::LANES;
    let (d, taps) = (&blk.dims, blk.taps);
    let k = taps.len;
    assert!(k >= 1 && (1..=MR).contains(&blk.rows) && (1..=NV).contains(&blk.vectors));
    assert!(blk.wt.len() == k * MR && d.vpr * lanes >= blk.ow, "padded: weights");
    let last = blk.v0 + blk.vectors - 1;
    assert!(
        blk.first.1 < d.vpr && blk.first.0 * d.vpr + blk.first.1 == blk.v0,
        "padded: first vector"
    );
    // Vector `v` covers columns `j * lanes ..` of output row `oy`: input
    // offset `oy * wp + j * lanes` for tap 0, output offset `oy * ow + j *
    // lanes`, and the lanes inside the row. Vectors past the tile's repeat
    // its last.
    let mut x_off = [0usize; NV];
    let mut c_off = [0usize; NV];
    let mut valid = [0usize; NV];
    let (mut oy, mut j) = blk.first;
    for v in 0..NV {
        x_off[v] = oy * d.wp + j * lanes;
        c_off[v] = oy * blk.ow + j * lanes;
        valid[v] = if v < blk.vectors {
            (blk.ow - j * lanes).min(lanes)
        } else {
            0
        };
        if v + 1 < blk.vectors {
            (oy, j) = advance((oy, j), 1, d.vpr);
        }
    }
    // The furthest read: the last vector's last tap, a whole vector.
    assert!(
        oy * d.wp + j * lanes + taps.max + lanes <= blk.xp.len(),
        "padded: input"
    );
    let out = &mut c[blk.co0 * blk.out_plane..];
    assert!(
        (blk.rows - 1) * blk.out_plane + oy * blk.ow + j * lanes + valid[last - blk.v0] <= out.len(),
        "padded: output"
    );
    if let Some(b) = bias {
        assert!(b.len() >= blk.co0 + blk.rows, "padded: bias");
    }

    let mut acc = accumulate::<S, MR, NV>(s, blk, &x_off, bias);

    // A row's last vector is stored whole when its plane has room: the
    // lanes past the row land on the next row's first outputs, which a
    // later vector (of this tile or a later one, in increasing order)
    // overwrites. Masked stores are slow on AMD (Zen 3: one per 12 cycles),
    // and LeNet-5's conv1 ends all its 28-wide rows mid-vector.
    let mut whole = [false; NV];
    for v in 0..NV {
        whole[v] = valid[v] == lanes || c_off[v] + lanes <= blk.out_plane;
    }
    assert!(blk.rows * blk.out_plane <= out.len(), "padded: output planes");
    act.apply_tile(s, &mut acc);
    let out_ptr = out.as_mut_ptr();
    for (m, row) in acc.iter().enumerate() {
        for (v, &a) in row.iter().enumerate() {
            if m >= blk.rows || valid[v] == 0 {
                continue;
            }
            // SAFETY: lanes `c_off[v] .. c_off[v] + valid[v]` of channel
            // `m`'s plane; the output assert bounds the last vector's, and
            // the vectors are in increasing order. A whole vector that is
            // not all valid ends inside channel `m`'s plane (`whole`), and
            // `m < rows` planes are inside `out` (the planes assert).
            unsafe {
                let p = out_ptr.add(m * blk.out_plane + c_off[v]);
                if whole[v] {
                    s.store(p, a);
                } else {
                    s.mask_store(p, s.first_lanes(valid[v]), a);
                }
            }
        }
    }
}

/// The register tile's sums for a block whose vector `v` reads the padded
/// copy from `x_off[v]` (for tap 0): each channel's bias (channels past
/// `blk.rows` repeat the last), plus every tap's weight times its inputs.
/// The caller has checked that every read is inside `blk.xp` and `blk.wt`.
#[inline(always)]
pub(crate) fn accumulate<S: Simd, const MR: usize, const NV: usize>(
    s: S,
    blk: &Block<'_>,
    x_off: &[usize; NV],
    bias: Option<&[f32]>,
) -> [[S::V; NV]; MR] {
    let k = blk.taps.len;
    // Fixed-size loops only, here and in the stores: an early exit or a
    // run-time bound would keep the accumulators in memory.
    let mut acc = [[s.zero(); NV]; MR];
    if let Some(b) = bias {
        for (m, row) in acc.iter_mut().enumerate() {
            *row = [s.splat(b[blk.co0 + m.min(blk.rows - 1)]); NV];
        }
    }
    // Wrapping: the pointers are only dereferenced at in-bounds offsets.
    let mut xv = [blk.xp.as_ptr(); NV];
    for (p, &off) in xv.iter_mut().zip(x_off) {
        *p = p.wrapping_add(off);
    }
    let mut w_ptr = blk.wt.as_ptr();
    for &offset in &blk.taps.offsets[..k] {
        let base = offset as usize;
        let mut x = [s.zero(); NV];
        for (v, x) in x.iter_mut().enumerate() {
            // SAFETY: `base <= taps.max` and `x_off[v]` is at most the last
            // vector's, so the read ends inside `xp` (the caller's check).
            *x = unsafe { s.load(xv[v].add(base)) };
        }
        for (m, row) in acc.iter_mut().enumerate() {
            // SAFETY: tap `t < k` reads `wt[t * MR + m]`, inside `wt`
            // (`k * MR` floats, the caller's check).
            let w = s.splat(unsafe { *w_ptr.add(m) });
            for (a, &x) in row.iter_mut().zip(&x) {
                *a = s.fma(w, x, *a);
            }
        }
        w_ptr = w_ptr.wrapping_add(MR);
    }
    acc
}

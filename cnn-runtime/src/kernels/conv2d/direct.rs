//! The direct convolution: output channels in the vector lanes (see
//! [`super::plan::Mode::Direct`]).
//!
//! Per group and tile of output rows, for each chunk of input channels: the
//! input the chunk reads past the row ends is copied with zero padding (the
//! rest is read in place); then for each block of (up to three vectors of)
//! output channels, the chunk's weights for the block come transposed to
//! `[k][channel]` (packed once at load, or transposed on the stack), and
//! each register tile of the micro-kernel (`P` pixels of a row × the
//! block's channels) adds the chunk to its partial sums, kept
//! `[pixel][channel]` on the stack. At the end of the tile the sums are
//! transposed into the NCHW output.

pub(crate) mod micro;

use super::kernels::Kernels;
use super::padded::copy_row;
use super::plan::{direct_interior, DirectPlan, Plan, DIRECT_ACC_FLOATS, DIRECT_WT_FLOATS, DIRECT_XP_FLOATS};
use super::stack::StackBuffer;
use super::Conv2dGeometry;
use crate::kernels::epilogue::Activation;
use crate::kernels::simd::Simd;
use micro::{Block, Start};

/// Runs a direct plan with `P` pixels per register tile and horizontal
/// stride `STRIDE`, applying `act` as the outputs are stored. `packed`, if
/// given, is `weight` as [`pack`] laid it out for this plan: the chunks are
/// read from it instead of being transposed on the stack for every tile of
/// rows.
///
/// # Panics
/// If the plan does not fit the geometry or a slice length does not match
/// it.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn run<S: Kernels, const P: usize, const STRIDE: usize>(
    s: S,
    g: &Conv2dGeometry,
    plan: &Plan,
    input: &[f32],
    weight: &[f32],
    packed: Option<&[f32]>,
    bias: Option<&[f32]>,
    act: Activation,
    mut sink: Sink<'_>,
) {
    let d = plan.direct;
    let lanes = S::LANES;
    let (cing, coutg) = (g.cin / g.groups, g.cout / g.groups);
    let taps = g.kh * g.kw;
    let k = cing * taps;
    let plane = g.h * g.w;
    let blocks = ChannelBlocks::new(d.coutp / lanes, d.max_cb);
    let block_width = blocks.widest() * lanes;
    assert!(d.pixels == P && g.sw == STRIDE && d.coutp.is_multiple_of(lanes) && d.coutp >= coutg);
    assert!(d.owp >= g.ow && d.owp.is_multiple_of(P) && d.wp > (d.owp - 1) * STRIDE + (g.kw - 1) * g.dw);
    assert!(d.cc >= 1 && d.rows * d.owp * d.coutp <= DIRECT_ACC_FLOATS);
    if let Some(packed) = packed {
        assert!(packed.len() >= packed_len(g, &d), "direct: packed weights");
    }

    // Only the parts a tile of this geometry uses are zeroed (and used).
    let input_rows_max = g.h.min((d.rows - 1) * g.sh + (g.kh - 1) * g.dh + 1);
    let mut acc_buf = StackBuffer::<DIRECT_ACC_FLOATS>::new();
    let acc = acc_buf.zeroed_prefix(d.rows * d.owp * d.coutp);
    let mut wt_buf = StackBuffer::<DIRECT_WT_FLOATS>::new();
    // Packed weights need no stack copy.
    let wt = wt_buf.zeroed_prefix(if packed.is_some() { 0 } else { d.cc * taps * block_width });
    let mut xp_buf = StackBuffer::<DIRECT_XP_FLOATS>::new();
    let xp = xp_buf.zeroed_prefix(d.cc * input_rows_max * d.xp_row);
    let edges = Edges::new::<P>(g, &d);
    for grp in 0..g.groups {
        let gin = &input[grp * cing * plane..][..cing * plane];
        let gw = &weight[grp * coutg * k..][..coutg * k];
        let mut gsink = sink.channels(g, grp * coutg, coutg);
        let gbias = bias.map(|b| &b[grp * coutg..][..coutg]);
        for oy0 in (0..g.oh).step_by(d.rows) {
            let rows = d.rows.min(g.oh - oy0);
            // The input rows this tile reads: `iy0 .. iy0 + input_rows`.
            let first = (oy0 * g.sh).saturating_sub(g.pt).min(g.h);
            let end = ((oy0 + rows - 1) * g.sh + (g.kh - 1) * g.dh + 1)
                .saturating_sub(g.pt)
                .min(g.h);
            let (iy0, input_rows) = (first, end.saturating_sub(first));
            // Chunks outside blocks: each chunk's padded rows are copied once
            // and serve every block (the partial sums of all blocks live in
            // `acc` side by side).
            for c0 in (0..cing).step_by(d.cc) {
                let cc = d.cc.min(cing - c0);
                let chunk = &gin[c0 * plane..][..cc * plane];
                let xp = pad_chunk::<S, P, STRIDE>(s, g, &d, &edges, chunk, (iy0, input_rows), xp);
                for (co0, cb) in blocks.iter(lanes) {
                    let width = cb * lanes;
                    let wt: &[f32] = match packed {
                        Some(packed) => &packed[packed_offset(g, &d, grp, co0, c0, width)..][..cc * taps * width],
                        None => {
                            let wt = &mut wt[..cc * taps * width];
                            transpose_weights(s, gw, k, (co0, width), (c0 * taps, cc * taps), coutg, wt);
                            wt
                        }
                    };
                    let block = cc * input_rows * edges.copy_width(&d);
                    for r in 0..rows {
                        let oy = oy0 + r;
                        // Kernel rows reading inside the input: `ky0 .. ky0 + nky`.
                        let (ky0, nky) = valid_kernel_rows(g, oy);
                        // The first of them, as an input row (valid if nky > 0).
                        let iy = (oy * g.sh + ky0 * g.dh).saturating_sub(g.pt);
                        let mut e = 0;
                        for ox0 in (0..d.owp).step_by(P) {
                            // Where this segment's inputs come from: the
                            // input planes themselves, or a padded copy.
                            let (xp, xp_off, xp_ci, xp_ky) = if edges.strips && edges.interior(g, ox0) {
                                // Interior: every column read is inside the
                                // row, `ox0 * STRIDE - pl >= 0`.
                                let at = if nky > 0 { iy * g.w + ox0 * STRIDE - g.pl } else { 0 };
                                (chunk, at, plane, g.dh * g.w)
                            } else if edges.strips {
                                e += 1;
                                let at = if nky > 0 { (iy - iy0) * edges.width } else { 0 };
                                let copy = &xp[(e - 1) * block..][..block];
                                (copy, at, input_rows * edges.width, g.dh * edges.width)
                            } else {
                                let at = if nky > 0 { (iy - iy0) * d.wp + ox0 * STRIDE } else { 0 };
                                (xp, at, input_rows * d.wp, g.dh * d.wp)
                            };
                            let blk = Block {
                                wt,
                                wt_off: ky0 * g.kw * width,
                                wt_ci: taps * width,
                                wt_ky: g.kw * width,
                                wt_kx: width,
                                xp,
                                xp_off,
                                xp_ci,
                                xp_ky,
                                xp_kx: g.dw,
                                cc,
                                nky,
                                kw: g.kw,
                                acc_off: (r * d.owp + ox0) * d.coutp + co0,
                                acc_px: d.coutp,
                            };
                            let start = match (c0, gbias) {
                                (0, Some(b)) => Start::Bias(b.get(co0..).unwrap_or(&[])),
                                (0, None) => Start::Zero,
                                _ => Start::Acc,
                            };
                            s.direct_tile::<P, STRIDE>(cb, &blk, acc, start);
                        }
                    }
                }
            }
            let layout = AccLayout {
                owp: d.owp,
                coutp: d.coutp,
            };
            gsink.take(s, g, layout, acc, (oy0, rows), (0, g.ow), act);
        }
    }
}

/// Where [`run`] puts its results.
pub(crate) enum Sink<'a> {
    /// The NCHW output planes.
    Planes(&'a mut [f32]),
    /// Per output channel, the sum over its plane of the activated outputs,
    /// added to the value there (a global average pool fused into the
    /// convolution: the outputs themselves are never stored).
    Sums(&'a mut [f32]),
    /// The NCHW planes of the 2×2, stride-2 max pool of the activated
    /// outputs (`oh / 2 × ow / 2` each, PyTorch's `MaxPool2d(2)`): a max
    /// pool fused into the convolution, whose outputs are never stored.
    /// Every tile handed over must start on an even row and column and
    /// span an even number of each, except where it reaches the plane's
    /// end (see [`super::max_pooled::store_pooled`]).
    MaxPool2x2(&'a mut [f32]),
}

impl Sink<'_> {
    /// The part of this sink for the `n` output channels from `co0`.
    #[inline(always)]
    pub(crate) fn channels(&mut self, g: &Conv2dGeometry, co0: usize, n: usize) -> Sink<'_> {
        let plane = g.oh * g.ow;
        match self {
            Sink::Planes(out) => Sink::Planes(&mut out[co0 * plane..][..n * plane]),
            Sink::Sums(sums) => Sink::Sums(&mut sums[co0..][..n]),
            Sink::MaxPool2x2(out) => {
                let pooled = (g.oh / 2) * (g.ow / 2);
                Sink::MaxPool2x2(&mut out[co0 * pooled..][..n * pooled])
            }
        }
    }

    /// Hands over the finished partial sums of output rows `oy0 .. oy0 +
    /// rows`, columns `ox0 .. ox0 + cols` (all of this sink's channels),
    /// through `act`.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn take<S: Simd>(
        &mut self,
        s: S,
        g: &Conv2dGeometry,
        layout: AccLayout,
        acc: &[f32],
        (oy0, rows): (usize, usize),
        (ox0, cols): (usize, usize),
        act: Activation,
    ) {
        match self {
            Sink::Planes(out) => {
                let coutg = out.len() / (g.oh * g.ow);
                store_outputs(s, g, layout, acc, (oy0, rows), (ox0, cols), coutg, act, out)
            }
            Sink::Sums(sums) => add_outputs(s, layout, acc, (rows, cols), act, sums),
            Sink::MaxPool2x2(out) => {
                let coutg = out.len() / ((g.oh / 2) * (g.ow / 2));
                super::max_pooled::store_pooled(s, g, layout, acc, (oy0, rows), (ox0, cols), coutg, act, out)
            }
        }
    }
}

/// How a tile of output rows' partial sums are laid out: output row `r`
/// (from the tile's first), column `ox`, channel `co` at `(r * owp + ox) *
/// coutp + co`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AccLayout {
    /// Pixels per row (at least the columns handed over).
    pub owp: usize,
    /// Floats per pixel: the channels rounded up to whole vectors.
    pub coutp: usize,
}

/// Floats of the packed weights of a direct plan: per group, `coutp`
/// channels (whole vectors, zero past `cout / groups`) by every
/// `(input channel, ky, kx)`.
pub(crate) const fn packed_len(g: &Conv2dGeometry, d: &DirectPlan) -> usize {
    g.groups * d.coutp * (g.cin / g.groups) * g.kh * g.kw
}

/// Where [`pack`] puts the chunk of input channels from `c0` of the block
/// of channels from `co0` (`width` wide) of group `grp`: the blocks of a
/// group one after another, each `width × k`, its chunks in order within it.
fn packed_offset(g: &Conv2dGeometry, d: &DirectPlan, grp: usize, co0: usize, c0: usize, width: usize) -> usize {
    let taps = g.kh * g.kw;
    let k = g.cin / g.groups * taps;
    grp * d.coutp * k + co0 * k + c0 * taps * width
}

/// Lays `weight` out for a direct plan, once: each chunk transposed to
/// `[k][channel]` exactly as [`run`] would transpose it per tile of rows,
/// at [`packed_offset`]. `out` must hold [`packed_len`] floats.
#[inline(always)]
pub(crate) fn pack<S: Simd>(s: S, g: &Conv2dGeometry, plan: &Plan, weight: &[f32], out: &mut [f32]) {
    let d = plan.direct;
    let lanes = S::LANES;
    let (cing, coutg) = (g.cin / g.groups, g.cout / g.groups);
    let taps = g.kh * g.kw;
    let k = cing * taps;
    assert!(d.cc >= 1 && d.coutp.is_multiple_of(lanes) && d.coutp >= coutg && out.len() >= packed_len(g, &d));
    let blocks = ChannelBlocks::new(d.coutp / lanes, d.max_cb);
    for grp in 0..g.groups {
        let gw = &weight[grp * coutg * k..][..coutg * k];
        for (co0, cb) in blocks.iter(lanes) {
            let width = cb * lanes;
            for c0 in (0..cing).step_by(d.cc) {
                let cc = d.cc.min(cing - c0);
                let wt = &mut out[packed_offset(g, &d, grp, co0, c0, width)..][..cc * taps * width];
                transpose_weights(s, gw, k, (co0, width), (c0 * taps, cc * taps), coutg, wt);
            }
        }
    }
}

/// The output channel vectors of a group in balanced blocks of at most
/// the plan's `max_cb` (with three: 64 channels as 32 + 32, not 48 + 16).
#[derive(Clone, Copy)]
pub(crate) struct ChannelBlocks {
    vectors: usize,
    count: usize,
}

impl ChannelBlocks {
    pub(crate) const fn new(vectors: usize, max_cb: usize) -> Self {
        ChannelBlocks {
            vectors,
            count: vectors.div_ceil(max_cb),
        }
    }

    /// Vectors in the widest block.
    pub(crate) const fn widest(&self) -> usize {
        self.vectors.div_ceil(self.count)
    }

    /// Blocks, as (first channel, vectors).
    pub(crate) fn iter(self, lanes: usize) -> impl Iterator<Item = (usize, usize)> {
        let mut co0 = 0;
        (0..self.count).map(move |b| {
            let cb = self.vectors / self.count + usize::from(b < self.vectors % self.count);
            co0 += cb * lanes;
            (co0 - cb * lanes, cb)
        })
    }
}

/// Copies the chunk's padded input (whole rows, or the edge segments'
/// windows, in segment order, each `[channel][row][width]`) into `xp`;
/// returns the part written.
#[inline(always)]
fn pad_chunk<'a, S: Simd, const P: usize, const STRIDE: usize>(
    s: S,
    g: &Conv2dGeometry,
    d: &DirectPlan,
    edges: &Edges,
    chunk: &[f32],
    (iy0, input_rows): (usize, usize),
    xp: &'a mut [f32],
) -> &'a [f32] {
    let cc = chunk.len() / (g.h * g.w);
    let block = cc * input_rows * edges.copy_width(d);
    let copies = if edges.strips { edges.count } else { 1 };
    let xp = &mut xp[..copies * block];
    if edges.strips {
        let mut e = 0;
        for seg in 0..d.owp / P {
            if !edges.interior(g, seg * P) {
                let window = (seg * P * STRIDE, edges.width);
                pad_rows(s, g, chunk, (iy0, input_rows), window, &mut xp[e * block..][..block]);
                e += 1;
            }
        }
    } else {
        pad_rows(s, g, chunk, (iy0, input_rows), (0, d.wp), xp);
    }
    xp
}

/// Which register-tile segments of a row (`P` output columns from `ox0`)
/// read the input row in place and which need a zero-padded copy of their
/// window (see [`super::plan::direct_xp_row`]).
struct Edges {
    /// Segments with a tap outside the input row.
    count: usize,
    /// Padded columns one segment reads: `(P - 1) * sw + (kw - 1) * dw + 1`.
    width: usize,
    /// Whether to copy just the edge segments' windows (else whole rows,
    /// when the windows together would be as wide).
    strips: bool,
}

impl Edges {
    fn new<const P: usize>(g: &Conv2dGeometry, d: &DirectPlan) -> Self {
        let width = (P - 1) * g.sw + (g.kw - 1) * g.dw + 1;
        let count = (0..d.owp / P)
            .filter(|&seg| !direct_interior(g, seg * P, width))
            .count();
        let strips = count * width < d.wp;
        assert_eq!(
            d.xp_row,
            if strips { count * width } else { d.wp },
            "direct: plan's padded row"
        );
        Edges { count, width, strips }
    }

    /// Whether the segment from `ox0` reads only input columns.
    fn interior(&self, g: &Conv2dGeometry, ox0: usize) -> bool {
        direct_interior(g, ox0, self.width)
    }

    /// Floats per row of one padded copy.
    fn copy_width(&self, d: &DirectPlan) -> usize {
        if self.strips {
            self.width
        } else {
            d.wp
        }
    }
}

/// The kernel rows of output row `oy` that read inside the input, as
/// `(first, count)`.
#[inline(always)]
fn valid_kernel_rows(g: &Conv2dGeometry, oy: usize) -> (usize, usize) {
    let mut first = 0;
    let mut count = 0;
    for ky in 0..g.kh {
        let iy = oy * g.sh + ky * g.dh;
        if iy >= g.pt && iy - g.pt < g.h {
            if count == 0 {
                first = ky;
            }
            count += 1;
        }
    }
    (first, count)
}

/// Weights `gw[co0 + c][k0 .. k0 + kc]` (rows `k` floats apart) for the
/// `width` channels of a block into `wt[kk][c]` (rows `width` apart), zero
/// for channels past `coutg`, a `LANES × LANES` block at a time.
#[inline(always)]
fn transpose_weights<S: Simd>(
    s: S,
    gw: &[f32],
    k: usize,
    (co0, width): (usize, usize),
    (k0, kc): (usize, usize),
    coutg: usize,
    wt: &mut [f32],
) {
    let lanes = S::LANES;
    assert!(wt.len() == kc * width && width.is_multiple_of(lanes) && k0 + kc <= k && gw.len() == coutg * k);
    let mut block = [s.zero(); 16];
    let block = &mut block[..lanes];
    for c0 in (0..width).step_by(lanes) {
        let co = co0 + c0;
        for kb in (0..kc).step_by(lanes) {
            let n = lanes.min(kc - kb);
            if co + lanes <= coutg && n == lanes {
                // A whole block: plain loads, no per-row test.
                let rows = &gw[co * k + k0 + kb..][..(lanes - 1) * k + lanes];
                for (i, v) in block.iter_mut().enumerate() {
                    // SAFETY: row `i` is `rows[i * k .. i * k + lanes]`,
                    // inside `rows` (whose length covers the last row).
                    *v = unsafe { s.load(rows.as_ptr().add(i * k)) };
                }
            } else {
                for (i, v) in block.iter_mut().enumerate() {
                    *v = if co + i < coutg {
                        let row = &gw[(co + i) * k + k0 + kb..][..n];
                        // SAFETY: the first `n` lanes are `row`.
                        unsafe { s.maskz_load(row.as_ptr(), s.first_lanes(n)) }
                    } else {
                        s.zero()
                    };
                }
            }
            s.transpose(block);
            let dst = &mut wt[kb * width + c0..][..(n - 1) * width + lanes];
            for (j, &v) in block.iter().enumerate().take(n) {
                // SAFETY: `dst[j * width .. j * width + lanes]` is inside
                // `dst` (whose length covers row `n - 1`).
                unsafe { s.store(dst.as_mut_ptr().add(j * width), v) };
            }
        }
    }
}

/// Copies padded columns `c0 .. c0 + width` of input rows `iy0 .. iy0 +
/// rows` of each channel of `input` into `xp` (`[channel][row][width]`):
/// padded column `c` is input column `c - pl`, zero outside the input.
///
/// Each row's input columns are copied by [`copy_row`] and its padding
/// columns zeroed with `fill`: no masked load or store for a window whose
/// input run is whole vectors (AMD's are slow: with a masked load and a
/// masked store per row, the copies were 4% of MobileNet's stride-2 layer
/// on Zen 3).
#[inline(always)]
fn pad_rows<S: Simd>(
    s: S,
    g: &Conv2dGeometry,
    input: &[f32],
    (iy0, rows): (usize, usize),
    (c0, width): (usize, usize),
    xp: &mut [f32],
) {
    let plane = g.h * g.w;
    assert!(iy0 + rows <= g.h && xp.len() == input.len() / plane * rows * width);
    if xp.is_empty() {
        return;
    }
    // The window's input columns, as window offsets `lo .. hi` (input
    // columns are padded columns `pl .. pl + w`). The same for every row.
    let lo = g.pl.clamp(c0, c0 + width) - c0;
    let hi = (g.pl + g.w).clamp(c0, c0 + width) - c0;
    let from = (c0 + lo).saturating_sub(g.pl);
    for (c, dst_rows) in xp.chunks_exact_mut(rows * width).enumerate() {
        for (r, dst) in dst_rows.chunks_exact_mut(width).enumerate() {
            let src = &input[c * plane + (iy0 + r) * g.w..][..g.w];
            dst[..lo].fill(0.0);
            dst[hi..].fill(0.0);
            copy_row(s, &src[from..][..hi - lo], &mut dst[lo..hi]);
        }
    }
}

/// Adds, per channel, the tile's activated outputs (`acc` at
/// `(r * owp + ox) * coutp + co`, columns `ox < cols`, rows `r < rows`)
/// to `sums[co]`: a vector of channels at a time, the pixels in raster
/// order.
#[inline(always)]
fn add_outputs<S: Simd>(
    s: S,
    d: AccLayout,
    acc: &[f32],
    (rows, cols): (usize, usize),
    act: Activation,
    sums: &mut [f32],
) {
    let lanes = S::LANES;
    let coutg = sums.len();
    assert!(rows * d.owp * d.coutp <= acc.len() && d.coutp >= coutg && d.owp >= cols && cols >= 1);
    for co0 in (0..coutg).step_by(lanes) {
        let mut total = s.zero();
        for r in 0..rows {
            let row = &acc[r * d.owp * d.coutp + co0..][..(cols - 1) * d.coutp + lanes];
            for ox in 0..cols {
                // SAFETY: `row[ox * coutp ..][..lanes]` is inside `row`
                // (`co0 + lanes <= coutp`: `coutp` is whole vectors).
                let v = unsafe { s.load(row.as_ptr().add(ox * d.coutp)) };
                total = s.add(total, act.apply_vec(s, v));
            }
        }
        let n = lanes.min(coutg - co0);
        let mask = s.first_lanes(n);
        let dst = &mut sums[co0..][..n];
        // SAFETY: the first `n` lanes are `dst`.
        unsafe {
            let before = s.maskz_load(dst.as_ptr(), mask);
            s.mask_store(dst.as_mut_ptr(), mask, s.add(before, total));
        }
    }
}

/// Transposes the tile's partial sums `acc[(r * owp + ox) * coutp + co]`
/// (`ox < cols`) into `out[co][oy0 + r][ox0 + ox]`, a `LANES × LANES` block
/// at a time, through `act`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn store_outputs<S: Simd>(
    s: S,
    g: &Conv2dGeometry,
    d: AccLayout,
    acc: &[f32],
    (oy0, rows): (usize, usize),
    (ox0, cols): (usize, usize),
    coutg: usize,
    act: Activation,
    out: &mut [f32],
) {
    let lanes = S::LANES;
    let out_plane = g.oh * g.ow;
    assert!(rows * d.owp * d.coutp <= acc.len() && out.len() == coutg * out_plane && oy0 + rows <= g.oh);
    assert!(cols >= 1 && cols <= d.owp && ox0 + cols <= g.ow);
    // With whole rows and no padding columns in the tile (`owp == ow`) its
    // rows are one run of pixels in the output planes as in `acc`:
    // transposed as a whole, LeNet-5's 10x10 second conv takes 7 full-width
    // blocks instead of 10 blocks of 10 lanes, one per row (0.9 -> 0.5 µs).
    let (runs, run_len, acc_stride) = if d.owp == g.ow && cols == g.ow {
        (1, rows * g.ow, 0)
    } else {
        (rows, cols, d.owp)
    };
    let mut whole = [s.zero(); 16];
    for r in 0..runs {
        for px0 in (0..run_len).step_by(lanes) {
            let np = lanes.min(run_len - px0);
            for co0 in (0..coutg).step_by(lanes) {
                for (i, v) in whole[..lanes].iter_mut().enumerate() {
                    *v = if i < np {
                        let src = &acc[(r * acc_stride + px0 + i) * d.coutp + co0..][..lanes];
                        // SAFETY: `src` is `lanes` floats.
                        unsafe { s.load(src.as_ptr()) }
                    } else {
                        s.zero()
                    };
                }
                // The activation is element-wise, so it goes before the
                // transpose: matched once per block, not per stored vector.
                act.apply_tile(s, core::array::from_mut(&mut whole));
                let at = (oy0 + r) * g.ow + ox0 + px0;
                let planes = &mut out[co0 * out_plane..];
                store_transposed(s, &mut whole[..lanes], coutg - co0, (out_plane, at), np, planes);
            }
        }
    }
}

/// Transposes `block` (one vector of channels per pixel, `LANES` of them)
/// and stores its first `np` pixels of each of its first `channels`
/// channels (at most `LANES`) at `out[c * plane + at ..]`.
#[inline(always)]
pub(super) fn store_transposed<S: Simd>(
    s: S,
    block: &mut [S::V],
    channels: usize,
    (plane, at): (usize, usize),
    np: usize,
    out: &mut [f32],
) {
    s.transpose(block);
    let mask = s.first_lanes(np);
    for (c, &v) in block.iter().enumerate().take(channels) {
        let dst = &mut out[c * plane + at..][..np];
        // SAFETY: the first `np` lanes are `dst`.
        unsafe { s.mask_store(dst.as_mut_ptr(), mask, v) };
    }
}

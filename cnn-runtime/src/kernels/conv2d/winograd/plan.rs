//! The Winograd mode's tiling and cost model (`const fn`, like the rest of
//! the planner).
//!
//! One call keeps three arrays on the stack, all indexed by the 16
//! positions `p` of the transformed 4×4 tile: the filter transform `U[p]
//! [co][ci]` of a block of `cob` output × `cc` input channels, the input
//! transform `V[p][ci][t]` of a *band* of up to `tp` tiles × `cc` input
//! channels, and their products `M[p][co][t]`. Their sizes trade against
//! each other within [`WINOGRAD_FLOATS`]; the planner tries a few shapes and
//! keeps the cheapest by the cost model below.

use super::super::plan::{Mode, Plan, Target};
use super::super::Conv2dGeometry;
use super::micro::ROWS;

/// Floats of stack the mode's three arrays share (84 KiB; its whole frame
/// is about 89 KiB, and no call holds another mode's buffers: see
/// `conv2d_avx512`).
pub(crate) const WINOGRAD_FLOATS: usize = 21504;

/// Most tiles per band, so the per-band mask tables stay small.
pub(crate) const MAX_BAND_TILES: usize = 256;

/// Transformed positions per tile (4 × 4).
pub(crate) const POSITIONS: usize = 16;

/// The Winograd mode's tiling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WinogradPlan {
    /// Output channels per block (rows of `U` and `M`), a multiple of
    /// [`ROWS`].
    pub cob: usize,
    /// Input channels per chunk (columns of `U`, rows of `V`).
    pub cc: usize,
    /// Tile rows per band.
    pub tr: usize,
    /// Tile columns per band (all of a tile row, or a segment of it when
    /// `tr == 1`).
    pub tc: usize,
    /// Tiles per band rounded up to whole micro-kernel widths: the row
    /// stride of `V` and `M`.
    pub tp: usize,
    /// One band covers the plane, and the loops run over chunks of input
    /// channels outside blocks of output channels: each chunk's input
    /// transform is then computed once (not once per block), at the price
    /// of adding each chunk's products to the output.
    pub chunk_outer: bool,
}

impl WinogradPlan {
    /// No Winograd tiling (the other modes).
    pub(crate) const NONE: WinogradPlan = WinogradPlan {
        cob: 0,
        cc: 0,
        tr: 0,
        tc: 0,
        tp: 0,
        chunk_outer: false,
    };

    /// Floats of `U`, `V` and `M`.
    pub(crate) const fn floats(&self) -> (usize, usize, usize) {
        (
            POSITIONS * self.cob * self.cc,
            POSITIONS * self.cc * self.tp,
            POSITIONS * self.cob * self.tp,
        )
    }
}

/// Whether the Winograd mode computes `g` at all: a 3×3 kernel, stride and
/// dilation 1, one group, and a few channels (the transforms would dominate
/// otherwise; the cost model decides the rest).
pub(crate) const fn fits(g: &Conv2dGeometry) -> bool {
    g.kh == 3
        && g.kw == 3
        && g.sh == 1
        && g.sw == 1
        && g.dh == 1
        && g.dw == 1
        && g.groups == 1
        && g.cin >= 8
        && g.cout >= 8
}

/// Output tiles down and across.
pub(crate) const fn tiles(g: &Conv2dGeometry) -> (usize, usize) {
    (g.oh.div_ceil(2), g.ow.div_ceil(2))
}

/// The cheapest Winograd plan for `g` on `t` and its cost (in the units of
/// the other modes' cost models), if the mode fits.
pub(crate) const fn best(g: &Conv2dGeometry, t: &Target) -> Option<(Plan, u128)> {
    if !fits(g) || g.input_len() + g.output_len() > CACHED_FLOATS {
        return None;
    }
    let mut best: Option<(Plan, u128)> = None;
    let mut i = 0;
    while i < t.winograd_shapes.len() {
        let (mr, nv) = t.winograd_shapes[i];
        let mut c = 0;
        while c < COB_CANDIDATES.len() {
            let mut v = 1;
            while v <= 8 {
                let mut order = 0;
                while order < 2 {
                    if let Some(plan) = with_shape(g, t, mr, nv, COB_CANDIDATES[c], v * nv * t.lanes, order == 1) {
                        let cost = cost(g, &plan, t.lanes);
                        let better = match best {
                            Some((_, b)) => cost < b,
                            None => true,
                        };
                        if better {
                            best = Some((plan, cost));
                        }
                    }
                    order += 1;
                }
                v += 1;
            }
            c += 1;
        }
        i += 1;
    }
    best
}

/// The most floats of input and output the mode is planned for: it passes
/// over the input once per block of output channels and over the output
/// once per chunk of input channels, which stays cheap while both fit in
/// Zen 4's 1 MiB L2. Past that the cost model does not account for the
/// traffic and the mode measured slower than the GEMM modes (VGG-16's
/// 224 × 224 and 56 × 56 layers; its 14 × 14 ones, inside the bound, are
/// faster).
const CACHED_FLOATS: usize = 1 << 18;

/// Output-channel block sizes tried.
const COB_CANDIDATES: [usize; 4] = [16, 32, 48, 64];

/// The plan with the `mr × nv` register tile, up to `cob` output channels
/// per block and up to `band` tiles per band (a multiple of `nv * lanes`),
/// with as many input channels per chunk as the stack then holds, if at
/// least a few fit; `chunk_outer` as [`WinogradPlan::chunk_outer`] (only
/// if one band covers the plane).
pub(crate) const fn with_shape(
    g: &Conv2dGeometry,
    t: &Target,
    mr: usize,
    nv: usize,
    cob: usize,
    band: usize,
    chunk_outer: bool,
) -> Option<Plan> {
    if !fits(g) || mr != ROWS || nv == 0 || band == 0 || !band.is_multiple_of(nv * t.lanes) {
        return None;
    }
    if !cob.is_multiple_of(ROWS) {
        return None;
    }
    let cob = min(cob, g.cout.div_ceil(ROWS) * ROWS);
    let (nty, ntx) = tiles(g);
    let (tr, tc) = if ntx <= band {
        (min(nty, band / ntx), ntx)
    } else {
        (1, ntx.div_ceil(ntx.div_ceil(band)))
    };
    if chunk_outer && (tr < nty || tc < ntx) {
        return None;
    }
    let width = nv * t.lanes;
    let tp = (tr * tc).div_ceil(width) * width;
    if tp > MAX_BAND_TILES {
        return None;
    }
    let per_position = WINOGRAD_FLOATS / POSITIONS;
    if cob * tp >= per_position {
        return None;
    }
    let cc = min(g.cin, (per_position - cob * tp) / (cob + tp));
    if cc < min(g.cin, 8) {
        return None;
    }
    // Equal chunks: no short last one.
    let cc = g.cin.div_ceil(g.cin.div_ceil(cc));
    let mut plan = Plan::PORTABLE;
    plan.mode = Mode::Winograd;
    plan.mr = mr;
    plan.nv = nv;
    plan.winograd = WinogradPlan {
        cob,
        cc,
        tr,
        tc,
        tp,
        chunk_outer,
    };
    Some(plan)
}

/// Estimated cycles (hundredths; a vector multiply-add is 100), fitted to
/// Zen 4 (see `winograd_phase_timings` in `conv2d/tests.rs`): the matrix
/// products at 97% of peak plus each micro-kernel call's set-up and
/// accumulator traffic; the filter transform (about 8 cycles per (output,
/// input) channel pair); the input transform (about 45 cycles per input
/// channel and vector of tiles, plus 52 per run of tiles from one tile row
/// in it; once per block of output channels unless `chunk_outer`); and
/// the output transform (about 145 cycles per output channel and vector of
/// tiles, once per chunk of input channels unless a single band lets the
/// products accumulate).
pub(crate) const fn cost(g: &Conv2dGeometry, plan: &Plan, lanes: usize) -> u128 {
    let w = plan.winograd;
    let (nty, ntx) = tiles(g);
    let bands = (nty.div_ceil(w.tr) * ntx.div_ceil(w.tc)) as u128;
    let blocks = g.cout.div_ceil(w.cob) as u128;
    let chunks = g.cin.div_ceil(w.cc) as u128;
    let (mr, nv) = (plan.mr as u128, plan.nv as u128);
    let calls_per = POSITIONS as u128 * (w.cob as u128).div_ceil(mr) * (w.tp / (plan.nv * lanes)) as u128;
    let calls = blocks * chunks * bands * calls_per;
    let fma = calls * mr * nv * w.cc as u128 * 100 / 97 * 100;
    let accumulate = bands == 1 && !w.chunk_outer;
    let overhead = calls * (if accumulate { 2 * mr * nv } else { mr * nv } + 10) * 100;
    let filter = (g.cin * g.cout) as u128 * 800;
    // Vectors of tiles per band, and runs of one tile row in them.
    let band_tiles = w.tr * w.tc;
    let vectors = band_tiles.div_ceil(lanes) as u128;
    let runs = if w.tc >= lanes {
        vectors + w.tr as u128
    } else {
        vectors * (lanes / w.tc + 1) as u128
    };
    let input_passes = if w.chunk_outer { 1 } else { blocks };
    let input = input_passes * g.cin as u128 * bands * (vectors * 4500 + runs * 5200);
    let output_passes = if accumulate { 1 } else { chunks };
    let output = output_passes * g.cout as u128 * bands * vectors * 14500;
    fma + overhead + filter + input + output
}

const fn min(a: usize, b: usize) -> usize {
    if a < b {
        a
    } else {
        b
    }
}

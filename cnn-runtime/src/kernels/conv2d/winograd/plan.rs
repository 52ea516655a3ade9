//! The Winograd mode's tiling and cost model (`const fn`, like the rest of
//! the planner).
//!
//! A call works through *bands* of whole tile rows (each tile is 2×2
//! outputs), or of segments of one tile row when a row is too wide. Per
//! band it keeps three arrays on the stack: the input transform
//! `V[p][ci][t]` of a chunk of input channels (all of them when they fit)
//! for the band's tiles, the products `M[p][t][c]` of one block of output
//! channels, and that block's outputs `[pixel][channel]` as the direct
//! kernel lays them out (which stores them the same way, see
//! `super::super::direct`). Their bounds limit the band shapes and chunk
//! sizes; the cost model picks among the shapes that fit.

use super::super::plan::{Mode, Plan, Target};
use super::super::Conv2dGeometry;

/// Floats of the input transforms of one band (128 KiB, and the padding
/// between positions).
pub(crate) const V_FLOATS: usize = 32768 + POSITIONS * POSITION_PAD;

/// Floats of the products of one band and block of output channels
/// (64 KiB, and the padding between positions).
pub(crate) const M_FLOATS: usize = 16384 + POSITIONS * POSITION_PAD;

/// Floats of one band's outputs for one block of output channels (16 KiB).
pub(crate) const Y_FLOATS: usize = 4096;

/// Transformed positions per tile (4 × 4).
pub(crate) const POSITIONS: usize = 16;

/// Floats added to the stride between positions in `V` and `M`, so that a
/// tile's 16 positions do not all fall on the same L1 set: with strides of
/// 2 or 4 KiB (32 channels × 16 tiles, 64 × 16, 128 × 8) the input
/// transform's stores and the output transform's loads ran 2 to 3 times
/// slower.
pub(crate) const POSITION_PAD: usize = 16;

/// Floats between positions of `V` for chunks of `cc` input channels and
/// `tp` tiles.
pub(crate) const fn v_position(cc: usize, tp: usize) -> usize {
    cc * tp + POSITION_PAD
}

/// Floats between positions of `M` for `tp` tiles of a block `width`
/// channels wide.
pub(crate) const fn m_position(tp: usize, width: usize) -> usize {
    tp * width + POSITION_PAD
}

/// Most channel vectors in one register tile.
pub(crate) const MAX_CB: usize = 4;

/// The Winograd mode's tiling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WinogradPlan {
    /// Tiles per register tile (one of the target's `winograd_tiles`).
    pub tiles: usize,
    /// Most channel vectors per register tile (and per block of output
    /// channels).
    pub max_cb: usize,
    /// Output channels rounded up to whole vectors.
    pub coutp: usize,
    /// Tile rows per band.
    pub tr: usize,
    /// Tile columns per band: all of a tile row, or a segment of it when
    /// `tr == 1`.
    pub tc: usize,
    /// Input channels per chunk: all of them, or as many as `V` holds for a
    /// band (then each chunk's input transform is redone per block of
    /// output channels).
    pub cc: usize,
    /// Tiles per band (`tr × tc`) rounded up to whole register tiles: the
    /// row stride of `V` and of `M`.
    pub tp: usize,
    /// Output columns of a band's tiles (`2 * tc`): the row stride of the
    /// band's outputs, in pixels.
    pub owp: usize,
}

impl WinogradPlan {
    /// No Winograd tiling (the other modes).
    pub(crate) const NONE: WinogradPlan = WinogradPlan {
        tiles: 0,
        max_cb: 0,
        coutp: 0,
        tr: 0,
        tc: 0,
        cc: 0,
        tp: 0,
        owp: 0,
    };
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

/// Floats of packed weights (filter transforms) the mode reads for `g`:
/// every position, input channel and output channel (whole vectors); 0 if
/// the mode does not fit.
pub(crate) const fn packed_len(g: &Conv2dGeometry, lanes: usize) -> usize {
    if fits(g) {
        POSITIONS * g.cin * g.cout.div_ceil(lanes) * lanes
    } else {
        0
    }
}

/// The cheapest Winograd plan for `g` on `t` and its cost (in the units of
/// the other modes' cost models), if the mode fits: every register tile
/// width and band (whole tile rows, or segments of one row) the stack
/// buffers hold.
pub(crate) const fn best(g: &Conv2dGeometry, t: &Target) -> Option<(Plan, u128)> {
    let mut best: Option<(Plan, u128)> = None;
    if !fits(g) {
        return None;
    }
    let (nty, ntx) = tiles(g);
    let mut i = 0;
    while i < t.winograd_tiles.len() {
        let mut step = 0;
        while step < band_shapes(nty, ntx) {
            let (tr, tc) = band_shape(nty, ntx, step);
            if let Some(plan) = with_band(g, t, t.winograd_tiles[i], tr, tc) {
                let cost = cost(g, &plan, t.lanes);
                let better = match best {
                    Some((_, b)) => cost < b,
                    None => true,
                };
                if better {
                    best = Some((plan, cost));
                }
            }
            step += 1;
        }
        i += 1;
    }
    best
}

/// How many band shapes [`band_shape`] has for `nty × ntx` tiles.
pub(crate) const fn band_shapes(nty: usize, ntx: usize) -> usize {
    nty + ntx - 1
}

/// The band shapes the planner tries, as (tile rows, tile columns), largest
/// first: `nty` whole rows down to one, then one row cut into 2, 3, ...
/// equal segments.
pub(crate) const fn band_shape(nty: usize, ntx: usize, step: usize) -> (usize, usize) {
    if step < nty {
        (nty - step, ntx)
    } else {
        (1, ntx.div_ceil(step - nty + 2))
    }
}

/// Fewest input channels per chunk worth planning: fewer, and redoing the
/// input transform per block of output channels would cost as much as the
/// products it feeds.
const MIN_CHUNK: usize = 32;

/// The plan with `tiles` tiles per register tile and bands of `tr` tile
/// rows of `tc` tiles, if the stack buffers hold them.
pub(crate) const fn with_band(
    g: &Conv2dGeometry,
    t: &Target,
    tiles_per_reg: usize,
    tr: usize,
    tc: usize,
) -> Option<Plan> {
    let lanes = t.lanes;
    if !fits(g) || tiles_per_reg == 0 || tr == 0 || tc == 0 {
        return None;
    }
    let max_cb = min(MAX_CB, t.winograd_accumulators / tiles_per_reg);
    if max_cb == 0 {
        return None;
    }
    let coutp = g.cout.div_ceil(lanes) * lanes;
    let width = super::super::direct::ChannelBlocks::new(coutp / lanes, max_cb).widest() * lanes;
    let owp = 2 * tc;
    let tp = (tr * tc).div_ceil(tiles_per_reg) * tiles_per_reg;
    let cc = min(g.cin, (V_FLOATS / POSITIONS - POSITION_PAD) / tp);
    if cc < min(g.cin, MIN_CHUNK) || POSITIONS * m_position(tp, width) > M_FLOATS || 2 * tr * owp * width > Y_FLOATS {
        return None;
    }
    // Equal chunks: no short last one.
    let cc = g.cin.div_ceil(g.cin.div_ceil(cc));
    let mut plan = Plan::PORTABLE;
    plan.mode = Mode::Winograd;
    plan.winograd = WinogradPlan {
        tiles: tiles_per_reg,
        max_cb,
        coutp,
        tr,
        tc,
        cc,
        tp,
        owp,
    };
    Some(plan)
}

/// Estimated cycles (hundredths; a vector multiply-add is 100), fitted to
/// a Xeon with two 512-bit FMA units (`winograd_phase_timings` and
/// `winograd_micro_timings` in `tests.rs`): the products' multiply-adds
/// (register tiles rounded up to whole tiles and channel vectors) at the
/// register tile's measured rate in L1 (88% of peak with 24 accumulators,
/// 78% with fewer), each register tile's stores and set-up; reading the
/// packed filter transforms once per band (about 1.5 cycles a vector: in a
/// whole network they come from L3); the input transform (about 86 cycles
/// per input channel and vector of tiles while `V` fits in 32 KiB, 175
/// past it; redone per block of output channels when the input channels
/// come in chunks); the output transform (about 46 cycles per tile and
/// channel vector); and the outputs' transposes (as the direct kernel's).
pub(crate) const fn cost(g: &Conv2dGeometry, plan: &Plan, lanes: usize) -> u128 {
    let w = plan.winograd;
    let positions = POSITIONS as u128;
    let (nty, ntx) = tiles(g);
    let bands = (nty.div_ceil(w.tr) * ntx.div_ceil(w.tc)) as u128;
    let vectors = (w.coutp / lanes) as u128;
    let per_band_tiles = (w.tr * w.tc) as u128;
    let reg_tiles = per_band_tiles.div_ceil(w.tiles as u128);
    let blocks = vectors.div_ceil(w.max_cb as u128);
    let calls = bands * blocks * positions * g.cin.div_ceil(w.cc) as u128 * reg_tiles;
    let rate = if w.tiles * w.max_cb >= 24 { 88 } else { 78 };
    let fma = bands * reg_tiles * w.tiles as u128 * vectors * positions * g.cin as u128 * 100 / rate * 100;
    let per_call = (w.tiles as u128 * vectors / blocks) + 20;
    let filter = bands * positions * g.cin as u128 * vectors * 150;
    let tile_vectors = per_band_tiles.div_ceil(lanes as u128);
    let input_passes = if w.cc < g.cin { blocks } else { 1 };
    let per_vector = if POSITIONS * v_position(w.cc, w.tp) <= 8192 {
        8600
    } else {
        17500
    };
    let input = input_passes * bands * g.cin as u128 * tile_vectors * per_vector;
    let output = bands * per_band_tiles * vectors * 4600;
    let stores = (g.oh * g.ow.div_ceil(lanes)) as u128 * vectors * 100 * 100;
    fma + calls * per_call * 100 + filter + input + output + stores
}

const fn min(a: usize, b: usize) -> usize {
    if a < b {
        a
    } else {
        b
    }
}

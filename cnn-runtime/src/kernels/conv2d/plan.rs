//! How the vector paths split one convolution into tiles: chosen per
//! geometry and instruction set by `const fn`s, so the shaped wrapper
//! computes its plans at compile time and only the run-time-shaped core
//! pays for planning.
//!
//! A (non-depthwise) convolution is, per group, the matrix product
//! `out[co][p] = bias[co] + sum_k weight[co][k] * patch[k][p]`, where `k`
//! runs over (input channel, ky, kx) in PyTorch's weight order and `patch`
//! is the implicit im2col matrix. Output pixels are cut into *tiles*; for
//! each tile, chunks of `kc` rows of `patch` are packed into a small panel
//! on the stack, which a register-blocked micro-kernel multiplies by `mr`
//! weight rows at a time, `nv` vectors of pixels wide.

use super::winograd::plan::WinogradPlan;
use super::Conv2dGeometry;

/// Which vector algorithm runs a convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The portable kernel: no vector path fits this geometry.
    Portable,
    /// 1×1, stride 1, no padding: the input planes already are the patch
    /// matrix (only a ragged last tile is packed).
    Pointwise,
    /// Stride 1 and `ow == w`: output pixels and their inputs advance
    /// together across rows, so a tile is any run of pixels in flat order
    /// and packing is one masked load per vector.
    Flat,
    /// Anything else: tiles are whole output rows (or one row's segment),
    /// packed row by row with the stride applied.
    Rows,
    /// One input channel per group, few outputs each (depthwise): per
    /// channel shifted-row FMAs, no packing.
    Depthwise,
    /// Output channels in the vector lanes: each step broadcasts input
    /// pixels (read in place from zero-padded row copies, any stride) against
    /// a vector of weights (transposed per call into a stack tile). No patch
    /// packing, and kernel rows that only see padding are skipped.
    Direct,
    /// Stride 1, the whole (group's) input fits a zero-padded copy on the
    /// stack: output pixels in the lanes, each register tile (`mr` output
    /// channels × `nv` vectors of output rows) reads every tap's input
    /// straight from the copy at a shifted offset. No packing at all: the
    /// mode for few channels (LeNet's first layers), where packing a patch
    /// matrix costs as much as the multiply-adds.
    Padded,
    /// 3×3, stride 1, one group: Winograd F(2×2, 3×3), output channels in
    /// the vector lanes, reading filter transforms packed at load (see
    /// `super::winograd`).
    Winograd,
}

/// One instruction set's vector width and register-tile shapes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Target {
    /// f32 lanes per vector.
    pub lanes: usize,
    /// Candidate `(mr, nv)` register tiles: weight rows × pixel vectors.
    pub shapes: &'static [(usize, usize)],
    /// Register tiles of the direct mode, as (pixels, most channel vectors)
    /// (empty: no direct mode). A tile of `p` pixels by `v` vectors takes
    /// `p × v` accumulators, `v` weight vectors and a broadcast input. A tile
    /// of at most one vector is planned only for groups of one vector of
    /// output channels (a wide row of few channels, like LeNet's second
    /// conv), where it is the only way to hold enough accumulators.
    pub direct_tiles: &'static [(usize, usize)],
    /// Accumulator registers a register tile of the Winograd mode's matrix
    /// products may use (the rest hold its filter vectors and a broadcast
    /// input): bounds tiles × channel vectors.
    pub winograd_accumulators: usize,
    /// Tiles per register tile of the Winograd mode's matrix products, each
    /// with as many channel vectors as `winograd_accumulators` allows
    /// (empty: no Winograd mode).
    pub winograd_tiles: &'static [usize],
}

/// AVX-512: 32 registers, up to 28 accumulators.
pub(crate) const AVX512: Target = Target {
    lanes: 16,
    shapes: &[(8, 3), (6, 4), (12, 2)],
    // Fourteen pixels by two vectors (28 accumulators, 31 registers) loads
    // fewer operands per multiply-add than seven by two or three: on
    // MobileNet's stride-2 3x3 layer (28 output columns) 356 -> 347 µs
    // in isolation, and 2.5% more of the peak in L1.
    direct_tiles: &[(8, 3), (7, 3), (6, 3), (5, 3), (10, 1), (14, 2)],
    winograd_accumulators: 24,
    winograd_tiles: &[8, 6, 4, 12],
};

/// AVX-512 without the Winograd mode, for cores where it does not pay (see
/// `isa::winograd`).
pub(crate) const AVX512_NO_WINOGRAD: Target = Target {
    winograd_tiles: &[],
    ..AVX512
};

/// AVX2: 16 registers, 12 accumulators.
pub(crate) const AVX2: Target = Target {
    lanes: 8,
    shapes: &[(6, 2), (4, 2)],
    // Six pixels by two vectors: 12 accumulators, 2 weight vectors and a
    // broadcast. Four by three (16 of 16 registers) spilled, and measured
    // slower than the tiled product (Zen 4, AVX2 forced: 64-channel 16x16
    // conv 107 -> 185 µs), so it is not offered; seven by two spilled too
    // (Zen 3: MobileNet's stride-2 layer at 48 GFLOP/s). Five and four by
    // two waste no columns on rows of 10 and 28 (Zen 3, AVX2 only: LeNet-5's
    // conv2 11.4 -> 7.5 µs, MobileNet's stride-2 layer 747 -> 693 µs).
    direct_tiles: &[(6, 2), (5, 2), (4, 2)],
    winograd_accumulators: 12,
    winograd_tiles: &[6, 12, 4],
};

/// AVX2 without the Winograd mode (see [`AVX512_NO_WINOGRAD`]).
pub(crate) const AVX2_NO_WINOGRAD: Target = Target {
    winograd_tiles: &[],
    ..AVX2
};

/// Most channel vectors per direct register tile.
pub(crate) const DIRECT_MAX_CB: usize = 3;

/// Floats in the direct mode's stack buffers: partial sums (`[pixel]
/// [channel]` for a tile of rows), transposed weights (`[k][channel]` for a
/// chunk of input channels) and zero-padded input rows (for that chunk).
pub(crate) const DIRECT_ACC_FLOATS: usize = 8192;
/// See [`DIRECT_ACC_FLOATS`].
pub(crate) const DIRECT_WT_FLOATS: usize = 6144;
/// See [`DIRECT_ACC_FLOATS`].
pub(crate) const DIRECT_XP_FLOATS: usize = 4096;

/// The direct mode's tiling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DirectPlan {
    /// Pixels per register tile (one of the target's `direct_tiles`).
    pub pixels: usize,
    /// Output rows per tile.
    pub rows: usize,
    /// Input channels per chunk.
    pub cc: usize,
    /// Output columns rounded up to whole register tiles.
    pub owp: usize,
    /// Floats per zero-padded input row.
    pub wp: usize,
    /// Output channels per group rounded up to whole vectors.
    pub coutp: usize,
    /// Floats of zero-padded input per input row and channel: whole padded
    /// rows (`wp`), or just the windows of the segments that touch the
    /// padding (the others read the input in place).
    pub xp_row: usize,
    /// Most channel vectors per register tile: `pixels` times this many
    /// accumulators fit the target's registers.
    pub max_cb: usize,
}

/// Floats in the padded mode's copy of a group's input (24 KiB).
pub(crate) const PADDED_FLOATS: usize = 6144;
/// Most taps (`cin / groups * kh * kw`) of a padded-mode convolution: the
/// size of its table of tap offsets.
pub(crate) const PADDED_MAX_TAPS: usize = 512;

/// The padded mode's copy of one group's input: `hp × wp` planes, of which
/// output pixel `(oy, ox)` with tap `(ky, kx)` reads row `oy + ky * dh`,
/// column `ox + kx * dw` (input row `iy` is padded row `iy + pt`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PaddedDims {
    /// Rows per padded plane: those the outputs read.
    pub hp: usize,
    /// Floats per padded row.
    pub wp: usize,
    /// Vectors per output row.
    pub vpr: usize,
    /// Floats per padded plane.
    pub plane: usize,
    /// Floats in the copy: the planes, and the slack the last vector's
    /// lanes past the row end read (computed, never stored).
    pub len: usize,
}

impl PaddedDims {
    /// The copy for `g` (stride 1) with `lanes` floats per vector.
    pub(crate) const fn new(g: &Conv2dGeometry, lanes: usize) -> PaddedDims {
        let hp = g.oh + (g.kh - 1) * g.dh;
        let wp = g.ow + (g.kw - 1) * g.dw;
        let vpr = g.ow.div_ceil(lanes);
        let plane = hp * wp;
        PaddedDims {
            hp,
            wp,
            vpr,
            plane,
            len: g.cin / g.groups * plane + vpr * lanes - g.ow,
        }
    }
}

/// Floats in the packed panel on the stack (24 KiB: leaves room in a 32 KiB
/// L1 for the weight rows and outputs being accumulated).
pub(crate) const PANEL_FLOATS: usize = 6144;

/// Most pixels in one tile; bounds the lane-coordinate buffers too.
pub(crate) const MAX_TILE: usize = 256;

/// The vector plan for one convolution on one [`Target`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The algorithm.
    pub mode: Mode,
    /// Weight rows per micro-kernel call.
    pub mr: usize,
    /// Pixel vectors per micro-kernel call.
    pub nv: usize,
    /// Pointwise/Flat: pixels per tile (a multiple of `nv * lanes` unless it
    /// is the whole plane). Rows: output rows per tile.
    pub tile: usize,
    /// Rows: output columns per tile (`ow`, unless one row is too wide).
    pub tile_cols: usize,
    /// Patch rows per packed panel.
    pub kc: usize,
    /// Floats between panel rows: the tile's pixels rounded up to whole
    /// micro-kernel widths, so every call reads inside the panel.
    pub ldb: usize,
    /// Direct mode: its tiling (unused by the other modes).
    pub direct: DirectPlan,
    /// Winograd mode: its tiling (unused by the other modes; `mr` and `nv`
    /// are its matrix products' register tile).
    pub winograd: WinogradPlan,
}

impl Plan {
    pub(crate) const PORTABLE: Plan = Plan {
        mode: Mode::Portable,
        mr: 0,
        nv: 0,
        tile: 0,
        tile_cols: 0,
        kc: 0,
        ldb: 0,
        direct: DirectPlan {
            pixels: 0,
            rows: 0,
            cc: 0,
            owp: 0,
            wp: 0,
            coutp: 0,
            xp_row: 0,
            max_cb: 0,
        },
        winograd: WinogradPlan::NONE,
    };

    /// The plan for `g` (which must pass [`Conv2dGeometry::check`]) on `t`:
    /// depthwise when it fits, else the register tile that issues the
    /// fewest multiply-adds (padding rows and lanes included).
    pub(crate) const fn new(g: &Conv2dGeometry, t: &Target) -> Plan {
        if !fits_i32(g) {
            return Plan::PORTABLE;
        }
        let (cing, coutg) = (g.cin / g.groups, g.cout / g.groups);
        if cing == 1 && coutg < 4 && super::depthwise::fits(g) {
            let mut plan = Plan::PORTABLE;
            plan.mode = Mode::Depthwise;
            return plan;
        }
        let mut best = Plan::PORTABLE;
        let mut best_cost = u128::MAX;
        let mut i = 0;
        while i < t.shapes.len() {
            let (mr, nv) = t.shapes[i];
            let plan = Plan::with_shape(g, t, mr, nv);
            let cost = gemm_cost(g, &plan, t.lanes);
            if cost < best_cost {
                best = plan;
                best_cost = cost;
            }
            i += 1;
        }
        if let Some((plan, cost)) = super::winograd::plan::best(g, t) {
            if cost < best_cost {
                best = plan;
                best_cost = cost;
            }
        }
        let mut j = 0;
        while j < t.direct_tiles.len() {
            if let Some(plan) = Plan::direct(g, t, t.direct_tiles[j]) {
                let cost = direct_cost(g, &plan.direct, t.lanes);
                if cost < best_cost {
                    best = plan;
                    best_cost = cost;
                }
            }
            j += 1;
        }
        let mut j = 0;
        while j < t.shapes.len() {
            let (mr, nv) = t.shapes[j];
            if let Some(plan) = Plan::padded(g, t, mr, nv) {
                let cost = padded_cost(g, &plan, t.lanes);
                if cost < best_cost {
                    best = plan;
                    best_cost = cost;
                }
            }
            j += 1;
        }
        best
    }

    /// The padded plan for `g` with the `mr × nv` register tile, if the
    /// geometry fits it: stride 1, the group's padded input within
    /// [`PADDED_FLOATS`] and its taps within [`PADDED_MAX_TAPS`].
    pub(crate) const fn padded(g: &Conv2dGeometry, t: &Target, mr: usize, nv: usize) -> Option<Plan> {
        let taps = g.cin / g.groups * g.kh * g.kw;
        if g.sh != 1 || g.sw != 1 || taps > PADDED_MAX_TAPS || PaddedDims::new(g, t.lanes).len > PADDED_FLOATS {
            return None;
        }
        let mut plan = Plan::PORTABLE;
        plan.mode = Mode::Padded;
        plan.mr = mr;
        plan.nv = nv;
        Some(plan)
    }

    /// The direct plan for `g` with the register tile `(pixels, most
    /// channel vectors)` (one of the target's `direct_tiles`), if the
    /// geometry fits it: stride 1 or 2 across, a whole vector of output
    /// channels per group, and stack buffers holding at least one output
    /// row and one input channel.
    pub(crate) const fn direct(g: &Conv2dGeometry, t: &Target, (pixels, max_cb): (usize, usize)) -> Option<Plan> {
        let (cing, coutg) = (g.cin / g.groups, g.cout / g.groups);
        if !(g.sw == 1 || g.sw == 2) || coutg < t.lanes || pixels == 0 || max_cb == 0 || max_cb > DIRECT_MAX_CB {
            return None;
        }
        let coutp = coutg.div_ceil(t.lanes) * t.lanes;
        if max_cb == 1 && coutp != t.lanes {
            return None;
        }
        let owp = g.ow.div_ceil(pixels) * pixels;
        let row_acc = owp * coutp;
        if row_acc > DIRECT_ACC_FLOATS {
            return None;
        }
        let rows = min(g.oh, DIRECT_ACC_FLOATS / row_acc);
        let wp = (owp - 1) * g.sw + (g.kw - 1) * g.dw + 1;
        let xp_row = direct_xp_row(g, pixels, owp, wp);
        let input_rows = min(g.h, (rows - 1) * g.sh + (g.kh - 1) * g.dh + 1);
        let taps = g.kh * g.kw;
        // No segment touching the padding: no copies to hold.
        let xp_cc = if xp_row == 0 {
            cing
        } else {
            DIRECT_XP_FLOATS / (input_rows * xp_row)
        };
        // The weights of one block of channel vectors per chunk.
        let block = super::direct::ChannelBlocks::new(coutp / t.lanes, max_cb).widest() * t.lanes;
        let cc = min(cing, min(DIRECT_WT_FLOATS / (taps * block), xp_cc));
        if cc == 0 {
            return None;
        }
        // Equal chunks: no short last one.
        let cc = cing.div_ceil(cing.div_ceil(cc));
        let mut plan = Plan::PORTABLE;
        plan.mode = Mode::Direct;
        plan.direct = DirectPlan {
            pixels,
            rows,
            cc,
            owp,
            wp,
            coutp,
            xp_row,
            max_cb,
        };
        Some(plan)
    }

    /// The Pointwise, Flat or Rows plan for `g` with the `mr × nv` register
    /// tile (which must be one of `t.shapes`), whatever its cost.
    pub(crate) const fn with_shape(g: &Conv2dGeometry, t: &Target, mr: usize, nv: usize) -> Plan {
        let k = g.cin / g.groups * g.kh * g.kw;
        let flat = g.sh == 1 && g.sw == 1 && g.ow == g.w;
        if g.kh == 1 && g.kw == 1 && g.pt == 0 && g.pl == 0 && flat && g.oh == g.h {
            flat_plan(g, Mode::Pointwise, t.lanes, mr, nv, k)
        } else if flat {
            flat_plan(g, Mode::Flat, t.lanes, mr, nv, k)
        } else {
            rows_plan(g, t.lanes, mr, nv, k)
        }
    }
}

// The cost models estimate cycles (in hundredths) of one group, with the
// constants fitted to measurements on Zen 4 (AVX-512) of the zoo's layers:
// they pick the faster mode for each of them. A vector multiply-add is 100.

/// The GEMM modes: multiply-adds issued (padding rows and lanes included)
/// at 95% of peak, each micro-kernel call's set-up and accumulator traffic,
/// and packing (about 5 cycles per packed vector in flat mode, 12 in rows
/// mode, none for pointwise).
const fn gemm_cost(g: &Conv2dGeometry, plan: &Plan, lanes: usize) -> u128 {
    let coutg = g.cout / g.groups;
    let k = (g.cin / g.groups * g.kh * g.kw) as u128;
    let (mr, nv) = (plan.mr as u128, plan.nv as u128);
    let vectors = issued_vectors(g, plan, lanes);
    let row_blocks = coutg.div_ceil(plan.mr) as u128;
    let fma = row_blocks * mr * vectors * k * 100 / 95 * 100;
    let chunks = k.div_ceil(plan.kc as u128);
    let calls = chunks * row_blocks * (vectors / nv);
    let pack = match plan.mode {
        Mode::Pointwise => 0,
        Mode::Flat => 5,
        _ => 12,
    };
    let packed = k * (g.oh * g.ow).div_ceil(lanes) as u128;
    fma + calls * (mr * nv * 2 + 60) * 100 + packed * pack * 100
}

/// The direct mode: multiply-adds issued (kernel rows in the padding
/// skipped; padded channels and columns included) at 93% of peak, each
/// register tile's set-up and partial-sum traffic, transposing weights (per
/// tile of rows) and outputs (about 100 cycles per 16 × 16 block), and
/// padding input rows.
const fn direct_cost(g: &Conv2dGeometry, d: &DirectPlan, lanes: usize) -> u128 {
    let (cing, taps) = (g.cin / g.groups, g.kh * g.kw);
    let vectors = (d.coutp / lanes) as u128;
    // Kernel rows reading inside the input, summed over output rows.
    let mut rows_read = 0u128;
    let mut oy = 0;
    while oy < g.oh {
        rows_read += valid_outputs_count(oy, g) as u128;
        oy += 1;
    }
    let fma = vectors * d.owp as u128 * rows_read * (g.kw * cing) as u128 * 100 / 93 * 100;
    let chunks = cing.div_ceil(d.cc) as u128;
    let tiles = g.oh.div_ceil(d.rows) as u128;
    let blocks = vectors.div_ceil(d.max_cb as u128);
    let calls = blocks * chunks * g.oh as u128 * (d.owp / d.pixels) as u128;
    // Each call loads and stores its accumulators (one cycle per vector)
    // and pays about 100 cycles besides, which the stride-2 3x3 layer of
    // MobileNet's block shows (this Xeon, AVX-512): the 14 x 2 tile makes
    // half the calls of 7 x 2 for the same multiply-adds and ran 3-8%
    // faster, as 5 x 2 and 6 x 2 (three calls per row of 14 for two) ran
    // about 5% slower than their multiply-adds alone predict.
    let per_call = d.pixels as u128 * vectors / blocks + 100;
    let weights = tiles * (cing * taps).div_ceil(lanes) as u128 * vectors;
    let outputs = (g.oh * g.ow.div_ceil(lanes)) as u128 * vectors;
    let input_rows = min(g.h, (d.rows - 1) * g.sh + (g.kh - 1) * g.dh + 1);
    let inputs = tiles * (cing * input_rows * d.xp_row.div_ceil(lanes)) as u128;
    fma + calls * per_call * 100 + (weights + outputs) * 100 * 100 + inputs * 4 * 100
}

/// The padded mode: multiply-adds issued (whole register tiles, padding
/// taps and lanes included) at 95% of peak, each call's set-up and stores,
/// a tap-offset load per step, and the copy of the input.
const fn padded_cost(g: &Conv2dGeometry, plan: &Plan, lanes: usize) -> u128 {
    let d = PaddedDims::new(g, lanes);
    let coutg = g.cout / g.groups;
    let k = (g.cin / g.groups * g.kh * g.kw) as u128;
    let (mr, nv) = (plan.mr as u128, plan.nv as u128);
    let vectors = (g.oh * d.vpr) as u128;
    let calls = coutg.div_ceil(plan.mr) as u128 * vectors.div_ceil(nv);
    let fma = calls * mr * nv * k * 100 / 95 * 100;
    let copy = (g.cin / g.groups * d.plane).div_ceil(lanes) as u128 * 2;
    fma + calls * (mr * nv * 2 + 60 + k) * 100 + copy * 100
}

/// The direct mode's [`DirectPlan::xp_row`]: a register-tile segment of
/// `pixels` output columns from `ox0` reads padded columns `ox0 * sw ..
/// ox0 * sw + width`; those inside the input (`pl .. pl + w`) read it in
/// place, the others get a padded copy of their window, unless the windows
/// together are as wide as a padded row.
pub(crate) const fn direct_xp_row(g: &Conv2dGeometry, pixels: usize, owp: usize, wp: usize) -> usize {
    let width = (pixels - 1) * g.sw + (g.kw - 1) * g.dw + 1;
    let mut edges = 0;
    let mut ox0 = 0;
    while ox0 < owp {
        if !direct_interior(g, ox0, width) {
            edges += 1;
        }
        ox0 += pixels;
    }
    if edges * width < wp {
        edges * width
    } else {
        wp
    }
}

/// Whether a direct segment from `ox0`, `width` padded columns wide, reads
/// only input columns.
pub(crate) const fn direct_interior(g: &Conv2dGeometry, ox0: usize, width: usize) -> bool {
    ox0 * g.sw >= g.pl && ox0 * g.sw + width <= g.pl + g.w
}

/// How many kernel rows of output row `oy` read inside the input.
const fn valid_outputs_count(oy: usize, g: &Conv2dGeometry) -> usize {
    let mut n = 0;
    let mut ky = 0;
    while ky < g.kh {
        let iy = oy * g.sh + ky * g.dh;
        if iy >= g.pt && iy - g.pt < g.h {
            n += 1;
        }
        ky += 1;
    }
    n
}

/// Whether every coordinate the vector paths form fits an `i32` lane with
/// room to spare (they compute `oy + ky * dh - pt` and similar).
const fn fits_i32(g: &Conv2dGeometry) -> bool {
    let limit = 1usize << 29;
    let dims = [
        g.h,
        g.w,
        g.oh,
        g.ow,
        g.pt,
        g.pl,
        (g.kh - 1) * g.dh,
        (g.kw - 1) * g.dw,
        g.oh * g.sh,
        g.ow * g.sw,
    ];
    let mut i = 0;
    while i < dims.len() {
        if dims[i] >= limit {
            return false;
        }
        i += 1;
    }
    true
}

/// Pointwise/Flat: tiles of whole micro-kernel widths, as many as fit
/// [`MAX_TILE`] while a panel still holds [`KC_TARGET`] patch rows (or all
/// of them).
const fn flat_plan(g: &Conv2dGeometry, mode: Mode, lanes: usize, mr: usize, nv: usize, k: usize) -> Plan {
    let width = nv * lanes;
    let pixels = g.oh * g.ow;
    let want_kc = min(k, KC_TARGET);
    let mut per_tile = MAX_TILE / width;
    if per_tile == 0 {
        per_tile = 1;
    }
    while per_tile > 1 && PANEL_FLOATS / (per_tile * width) < want_kc {
        per_tile -= 1;
    }
    let tile = min(per_tile * width, pixels);
    let ldb = tile.div_ceil(width) * width;
    Plan {
        mode,
        mr,
        nv,
        tile,
        tile_cols: 0,
        kc: balanced_kc(k, ldb),
        ldb,
        direct: Plan::PORTABLE.direct,
        winograd: WinogradPlan::NONE,
    }
}

/// Patch rows per panel worth keeping: fewer, and reloading the outputs
/// between panels and the per-call set-up start to show.
const KC_TARGET: usize = 64;

/// The panel depth for `k` patch rows `ldb` wide: as few panels as fit,
/// of equal depth (no short last panel).
const fn balanced_kc(k: usize, ldb: usize) -> usize {
    let most = PANEL_FLOATS / ldb;
    let panels = k.div_ceil(most);
    k.div_ceil(panels)
}

/// Rows: the number of whole output rows per tile that wastes the fewest
/// lanes (ties: more rows); one row's segment if a row alone is too wide.
const fn rows_plan(g: &Conv2dGeometry, lanes: usize, mr: usize, nv: usize, k: usize) -> Plan {
    let width = nv * lanes;
    if g.ow > MAX_TILE {
        let cols = MAX_TILE / width * width;
        let cols = if cols == 0 { width } else { cols };
        return Plan {
            mode: Mode::Rows,
            mr,
            nv,
            tile: 1,
            tile_cols: cols,
            kc: balanced_kc(k, cols),
            ldb: cols,
            direct: Plan::PORTABLE.direct,
            winograd: WinogradPlan::NONE,
        };
    }
    let max_rows = min(g.oh, MAX_TILE / g.ow);
    let mut best_rows = 1;
    let mut best_waste = u128::MAX;
    let mut rows = 1;
    while rows <= max_rows {
        let plan = rows_plan_with(g, width, mr, nv, k, rows);
        let issued = issued_vectors(g, &plan, lanes) * lanes as u128;
        let waste = issued - (g.oh * g.ow) as u128;
        // Relative waste, compared exactly: waste / issued.
        if best_waste == u128::MAX || waste * 1024 / issued <= best_waste {
            best_waste = waste * 1024 / issued;
            best_rows = rows;
        }
        rows += 1;
    }
    rows_plan_with(g, width, mr, nv, k, best_rows)
}

const fn rows_plan_with(g: &Conv2dGeometry, width: usize, mr: usize, nv: usize, k: usize, rows: usize) -> Plan {
    let ldb = (rows * g.ow).div_ceil(width) * width;
    Plan {
        mode: Mode::Rows,
        mr,
        nv,
        tile: rows,
        tile_cols: g.ow,
        kc: balanced_kc(k, ldb),
        ldb,
        direct: Plan::PORTABLE.direct,
        winograd: WinogradPlan::NONE,
    }
}

/// Pixel vectors the micro-kernel computes over the whole output plane
/// (each tile rounded up to whole `nv`-vector calls).
const fn issued_vectors(g: &Conv2dGeometry, plan: &Plan, lanes: usize) -> u128 {
    let width = plan.nv * lanes;
    let (tiles, per_tile, rest) = match plan.mode {
        Mode::Rows if plan.tile_cols < g.ow => {
            // Each row is cut into `tile_cols`-wide segments.
            let row =
                (g.ow / plan.tile_cols) as u128 * calls(plan.tile_cols, width) + calls(g.ow % plan.tile_cols, width);
            return g.oh as u128 * row * plan.nv as u128;
        }
        Mode::Rows => (g.oh / plan.tile, plan.tile * g.ow, g.oh % plan.tile * g.ow),
        _ => {
            let pixels = g.oh * g.ow;
            (pixels / plan.tile, plan.tile, pixels % plan.tile)
        }
    };
    (tiles as u128 * calls(per_tile, width) + calls(rest, width)) * plan.nv as u128
}

/// Micro-kernel calls to cover `pixels` pixels, `width` per call.
const fn calls(pixels: usize, width: usize) -> u128 {
    pixels.div_ceil(width) as u128
}

const fn min(a: usize, b: usize) -> usize {
    if a < b {
        a
    } else {
        b
    }
}

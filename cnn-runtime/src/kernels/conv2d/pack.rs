//! Packing chunks of the implicit im2col matrix into the stack panel.
//!
//! Panel row `kk` holds patch row `k0 + kk`, i.e. (input channel, ky, kx)
//! in PyTorch's weight order, for each pixel of the tile: the input that
//! tap reads for that output pixel, or zero where it reads padding.

use super::plan::MAX_TILE;
use super::Conv2dGeometry;
use crate::kernels::simd::{even_element_bits, Simd};
use crate::kernels::window::valid_outputs;
use core::ops::Range;

/// Output row and column of each pixel of a tile, as i32 lanes; pixels
/// past the tile get a row so negative that no tap brings it into range.
pub(crate) struct LaneCoords {
    oy: [i32; MAX_TILE + 64],
    ox: [i32; MAX_TILE + 64],
}

/// Row coordinate of lanes past the tile: `FAR + dy` stays far below zero
/// for every `dy` the plan allows (`|dy| < 2^29`).
const FAR: i32 = i32::MIN / 2;

impl LaneCoords {
    /// Coordinates of pixels `p0 .. p0 + np` of a plane `ow` wide, padded
    /// with far-away lanes up to a whole vector.
    #[inline(always)]
    pub(crate) fn new(p0: usize, np: usize, ow: usize, lanes: usize) -> Self {
        let mut c = LaneCoords {
            oy: [FAR; MAX_TILE + 64],
            ox: [0; MAX_TILE + 64],
        };
        assert!(np.div_ceil(lanes) * lanes <= c.oy.len(), "tile too large");
        let (mut y, mut x) = (p0 / ow, p0 % ow);
        for (oy, ox) in c.oy[..np].iter_mut().zip(&mut c.ox[..np]) {
            // The plan keeps every coordinate below 2^29.
            *oy = y as i32;
            *ox = x as i32;
            x += 1;
            if x == ow {
                x = 0;
                y += 1;
            }
        }
        c
    }

    /// Rows of the lanes of vector `v`.
    #[inline(always)]
    pub(crate) fn oy<S: Simd>(&self, s: S, v: usize) -> S::I {
        s.load_i32(&self.oy[v * S::LANES..])
    }

    /// Columns of the lanes of vector `v`.
    #[inline(always)]
    pub(crate) fn ox<S: Simd>(&self, s: S, v: usize) -> S::I {
        s.load_i32(&self.ox[v * S::LANES..])
    }
}

/// Flat mode (stride 1, `ow == w`): packs patch rows `k0 .. k0 + kc` for
/// output pixels `p0 .. p0 + np` into `panel` (row stride `ldb`). `input`
/// is the group's input planes.
///
/// In flat mode a tap's input for pixel `p` is at `p + dy * w + dx` in the
/// channel plane, so a vector of pixels is one load, masked to the lanes
/// whose (row, column) lands inside the plane.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn flat<S: Simd>(
    s: S,
    g: &Conv2dGeometry,
    input: &[f32],
    (p0, np): (usize, usize),
    (k0, kc): (usize, usize),
    panel: &mut [f32],
    ldb: usize,
) {
    let lanes = S::LANES;
    let plane = g.h * g.w;
    let taps = g.kh * g.kw;
    let nvec = np.div_ceil(lanes);
    assert!(g.ow == g.w && g.sh == 1 && g.sw == 1 && p0 + np <= g.oh * g.ow);
    assert!(nvec * lanes <= ldb && kc >= 1 && kc * ldb <= panel.len());
    assert!((k0 + kc).div_ceil(taps) * plane <= input.len());
    let coords = LaneCoords::new(p0, np, g.ow, lanes);
    let (h, w) = (s.splat_i32(g.h as i32), s.splat_i32(g.w as i32));
    let mut masks = [s.first_lanes(0); MAX_TILE / 8];
    // Tap-major, so each tap's lane masks serve every channel in the chunk:
    // panel row `k - k0` holds (ci, tap) with `k = ci * taps + tap`.
    for tap in 0..taps {
        let (ky, kx) = (tap / g.kw, tap % g.kw);
        let dy = (ky * g.dh) as isize - g.pt as isize;
        let dx = (kx * g.dw) as isize - g.pl as isize;
        let (vy, vx) = (s.splat_i32(dy as i32), s.splat_i32(dx as i32));
        for (v, m) in masks[..nvec].iter_mut().enumerate() {
            *m = s.mask_and(
                s.in_range(s.add_i32(coords.oy(s, v), vy), h),
                s.in_range(s.add_i32(coords.ox(s, v), vx), w),
            );
        }
        // Offset in a channel plane (possibly negative or past the end) of
        // pixel p0's input; only in-plane lanes are ever read from it.
        let base = p0 as isize + dy * g.w as isize + dx;
        // Channels whose row `ci * taps + tap` falls in `k0 .. k0 + kc`.
        let first = if k0 > tap { (k0 - tap).div_ceil(taps) } else { 0 };
        let end = if k0 + kc > tap {
            (k0 + kc - tap).div_ceil(taps)
        } else {
            0
        };
        for ci in first..end {
            let channel = &input[ci * plane..][..plane];
            let row = &mut panel[(ci * taps + tap - k0) * ldb..][..nvec * lanes];
            let (src, dst) = (channel.as_ptr(), row.as_mut_ptr());
            for (v, &m) in masks[..nvec].iter().enumerate() {
                let p = src.wrapping_offset(base + (v * lanes) as isize);
                // SAFETY: an enabled lane is a tile pixel (oy, ox) whose
                // input (iy, ix) = (oy + dy, ox + dx) lies in the h × w
                // plane; its offset `base + v * lanes + lane = iy * w + ix`
                // (the pixel is `oy * w + ox` since ow == w) is inside
                // `channel`. Disabled lanes are not accessed. The store is
                // lanes `v * lanes ..` of `row`, which holds `nvec` vectors.
                unsafe { s.store(dst.add(v * lanes), s.maskz_load(p, m)) };
            }
        }
    }
}

/// Rows mode: packs patch rows `k0 .. k0 + kc` for output rows `oy0 ..
/// oy0 + rows`, columns `ox0 .. ox0 + cols` (`cols == ow` when `rows > 1`),
/// pixel `(r, j)` at panel column `r * cols + j`.
///
/// Channel-major, so each channel's input rows are read in order. For
/// strides 1 and 2 (and kernels up to [`MAX_KW`] wide) each `kx`'s lane
/// masks and offsets are tabulated once, and a row is a few masked loads
/// (stride 2: two per vector and a lane permutation) with no branches;
/// other geometries copy lane by lane.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn rows<S: Simd>(
    s: S,
    g: &Conv2dGeometry,
    input: &[f32],
    (oy0, rows): (usize, usize),
    (ox0, cols): (usize, usize),
    (k0, kc): (usize, usize),
    panel: &mut [f32],
    ldb: usize,
) {
    let taps = g.kh * g.kw;
    assert!(rows * cols <= ldb && kc >= 1 && kc * ldb <= panel.len());
    assert!(oy0 + rows <= g.oh && ox0 + cols <= g.ow && (rows == 1 || cols == g.ow));
    assert!(cols <= MAX_TILE && (k0 + kc).div_ceil(taps) * g.h * g.w <= input.len());
    let tile = RowTile { oy0, rows, ox0, cols };
    match g.sw {
        1 if g.kw <= MAX_KW => rows_tabled::<S, 1>(s, g, input, tile, (k0, kc), panel, ldb),
        2 if g.kw <= MAX_KW => rows_tabled::<S, 2>(s, g, input, tile, (k0, kc), panel, ldb),
        _ => rows_by_lane(s, g, input, tile, (k0, kc), panel, ldb),
    }
}

/// Widest kernel whose column masks [`rows`] tabulates.
pub(crate) const MAX_KW: usize = 11;

/// Most vectors in one row of a tile (`MAX_TILE` columns, 8 lanes), plus
/// room for kernels that walk whole groups of vectors past the row's end
/// (those entries enable no lanes).
pub(crate) const MAX_ROW_VECS: usize = MAX_TILE / 8 + 8;

/// The output rows and columns of a rows-mode tile.
#[derive(Clone, Copy)]
struct RowTile {
    oy0: usize,
    rows: usize,
    ox0: usize,
    cols: usize,
}

/// Walks patch rows (channel, ky, kx) in order from `k0`.
struct Taps {
    ci: usize,
    ky: usize,
    kx: usize,
    kh: usize,
    kw: usize,
}

impl Taps {
    #[inline(always)]
    fn new(g: &Conv2dGeometry, k0: usize) -> Self {
        let taps = g.kh * g.kw;
        Taps {
            ci: k0 / taps,
            ky: k0 % taps / g.kw,
            kx: k0 % g.kw,
            kh: g.kh,
            kw: g.kw,
        }
    }

    #[inline(always)]
    fn advance(&mut self) {
        self.kx += 1;
        if self.kx == self.kw {
            self.kx = 0;
            self.ky += 1;
            if self.ky == self.kh {
                self.ky = 0;
                self.ci += 1;
            }
        }
    }
}

/// Per `kx` and vector of a tile row: where lane 0 reads in the input row
/// and which elements the load enables (stride 1: the lanes; stride 2: the
/// two halves of the element pairs), plus the lanes each vector stores.
pub(crate) struct ColumnTable {
    /// Vectors per row.
    pub vecs: usize,
    /// Input column (in the row, possibly negative) of lane 0.
    pub offset: [[isize; MAX_ROW_VECS]; MAX_KW],
    /// Elements enabled in the first (or only) load.
    pub lo: [[u32; MAX_ROW_VECS]; MAX_KW],
    /// Elements enabled in the second load (stride 2).
    pub hi: [[u32; MAX_ROW_VECS]; MAX_KW],
    /// Lanes of each vector inside the row.
    pub store: [u32; MAX_ROW_VECS],
}

impl ColumnTable {
    /// # Panics
    /// If an enabled element would fall outside the input row (it cannot:
    /// the valid range is solved from the geometry), or the tile is too
    /// wide.
    #[inline(always)]
    pub(crate) fn new<const STRIDE: usize>(g: &Conv2dGeometry, lanes: usize, ox0: usize, cols: usize) -> Self {
        let vecs = cols.div_ceil(lanes);
        assert!(vecs <= MAX_TILE / 8 && g.kw <= MAX_KW && g.sw == STRIDE);
        let mut t = ColumnTable {
            vecs,
            offset: [[0; MAX_ROW_VECS]; MAX_KW],
            lo: [[0; MAX_ROW_VECS]; MAX_KW],
            hi: [[0; MAX_ROW_VECS]; MAX_KW],
            store: [0; MAX_ROW_VECS],
        };
        let all = (1u64 << lanes) - 1;
        for (j, store) in t.store[..vecs].iter_mut().enumerate() {
            *store = (all >> (lanes - (cols - j * lanes).min(lanes))) as u32;
        }
        for kx in 0..g.kw {
            let valid = valid_outputs(kx * g.dw, g.pl, STRIDE, g.w, g.ow);
            let ja = valid.start.clamp(ox0, ox0 + cols) - ox0;
            let jb = valid.end.clamp(ox0, ox0 + cols) - ox0;
            // Input column of tile column 0 (negative in the padding).
            let ix0 = (ox0 * STRIDE + kx * g.dw) as isize - g.pl as isize;
            for j in 0..vecs {
                let j0 = j * lanes;
                let lo = ja.clamp(j0, j0 + lanes) - j0;
                let hi = jb.clamp(j0, j0 + lanes) - j0;
                let start = ix0 + (j0 * STRIDE) as isize;
                t.offset[kx][j] = start;
                if lo < hi {
                    // Every element from the first lane's column to the
                    // last lane's is inside the row.
                    let (first, last) = (start + (lo * STRIDE) as isize, start + ((hi - 1) * STRIDE) as isize);
                    assert!(first >= 0 && last < g.w as isize, "pack: column table");
                    let (m_lo, m_hi) = if STRIDE == 1 {
                        (((all >> (lanes - (hi - lo))) << lo) as u32, 0)
                    } else {
                        even_element_bits(lanes, lo, hi)
                    };
                    t.lo[kx][j] = m_lo;
                    t.hi[kx][j] = m_hi;
                }
            }
        }
        t
    }
}

/// [`rows`] for stride `STRIDE` (1 or 2) through a [`ColumnTable`].
#[inline(always)]
fn rows_tabled<S: Simd, const STRIDE: usize>(
    s: S,
    g: &Conv2dGeometry,
    input: &[f32],
    tile: RowTile,
    (k0, kc): (usize, usize),
    panel: &mut [f32],
    ldb: usize,
) {
    let lanes = S::LANES;
    let plane = g.h * g.w;
    let table = ColumnTable::new::<STRIDE>(g, lanes, tile.ox0, tile.cols);
    let valid_rows = AxisRanges::new(g.kh, |ky| valid_outputs(ky * g.dh, g.pt, g.sh, g.h, g.oh));
    let mut tap = Taps::new(g, k0);
    for prow in panel.chunks_exact_mut(ldb).take(kc) {
        let channel = &input[tap.ci * plane..][..plane];
        let row_range = valid_rows.get(tap.ky);
        let (offsets, los, his) = (&table.offset[tap.kx], &table.lo[tap.kx], &table.hi[tap.kx]);
        for (r, out) in prow[..tile.rows * tile.cols].chunks_exact_mut(tile.cols).enumerate() {
            let oy = tile.oy0 + r;
            let dst = out.as_mut_ptr();
            if !row_range.contains(&oy) {
                for (j, &store) in table.store[..table.vecs].iter().enumerate() {
                    // SAFETY: `store` enables lanes `0 .. min(lanes, cols -
                    // j * lanes)`: inside `out`.
                    unsafe { s.mask_store(dst.add(j * lanes), s.mask_from_bits(store), s.zero()) };
                }
                continue;
            }
            // In range: `oy` is a valid output row for this tap.
            let src = channel[(oy * g.sh + tap.ky * g.dh - g.pt) * g.w..][..g.w].as_ptr();
            for j in 0..table.vecs {
                let p = src.wrapping_offset(offsets[j]);
                // SAFETY: the table enables only elements inside this input
                // row (asserted when it was built); disabled lanes are not
                // accessed.
                let v = unsafe {
                    if STRIDE == 1 {
                        s.maskz_load(p, s.mask_from_bits(los[j]))
                    } else {
                        s.maskz_load_pairs_even(p, s.mask_from_bits(los[j]), s.mask_from_bits(his[j]))
                    }
                };
                // SAFETY: as for the zero rows: inside `out`.
                unsafe { s.mask_store(dst.add(j * lanes), s.mask_from_bits(table.store[j]), v) };
            }
        }
        tap.advance();
    }
}

/// [`rows`] for any stride and kernel width, lane by lane.
#[inline(always)]
fn rows_by_lane<S: Simd>(
    s: S,
    g: &Conv2dGeometry,
    input: &[f32],
    tile: RowTile,
    (k0, kc): (usize, usize),
    panel: &mut [f32],
    ldb: usize,
) {
    let _ = s;
    let plane = g.h * g.w;
    let valid_rows = AxisRanges::new(g.kh, |ky| valid_outputs(ky * g.dh, g.pt, g.sh, g.h, g.oh));
    let valid_cols = AxisRanges::new(g.kw, |kx| valid_outputs(kx * g.dw, g.pl, g.sw, g.w, g.ow));
    let mut tap = Taps::new(g, k0);
    for prow in panel.chunks_exact_mut(ldb).take(kc) {
        let channel = &input[tap.ci * plane..][..plane];
        let row_range = valid_rows.get(tap.ky);
        let col_range = valid_cols.get(tap.kx);
        let (ox0, cols) = (tile.ox0, tile.cols);
        let ja = col_range.start.clamp(ox0, ox0 + cols) - ox0;
        let jb = col_range.end.clamp(ox0, ox0 + cols) - ox0;
        for (r, out) in prow[..tile.rows * cols].chunks_exact_mut(cols).enumerate() {
            let oy = tile.oy0 + r;
            if !row_range.contains(&oy) || ja >= jb {
                out.fill(0.0);
                continue;
            }
            // In range: `oy` and columns `ja .. jb` are valid for this tap.
            let src = &channel[(oy * g.sh + tap.ky * g.dh - g.pt) * g.w..][..g.w];
            let ix = (ox0 + ja) * g.sw + tap.kx * g.dw - g.pl;
            out[..ja].fill(0.0);
            for (i, d) in out[ja..jb].iter_mut().enumerate() {
                *d = src[ix + i * g.sw];
            }
            out[jb..].fill(0.0);
        }
        tap.advance();
    }
}

/// Per kernel index along one axis, the output range whose tap reads
/// inside the input: cached for the first [`AxisRanges::CACHED`] indices
/// (solving one takes divisions), recomputed beyond.
pub(crate) struct AxisRanges<F> {
    cached: [Range<usize>; AxisRanges::<()>::CACHED],
    solve: F,
}

impl AxisRanges<()> {
    const CACHED: usize = 16;
}

impl<F: Fn(usize) -> Range<usize>> AxisRanges<F> {
    #[inline(always)]
    pub(crate) fn new(k: usize, solve: F) -> Self {
        let mut cached = [const { 0..0 }; AxisRanges::<()>::CACHED];
        for (i, range) in cached.iter_mut().enumerate().take(k) {
            *range = solve(i);
        }
        AxisRanges { cached, solve }
    }

    #[inline(always)]
    pub(crate) fn get(&self, i: usize) -> Range<usize> {
        match self.cached.get(i) {
            Some(range) => range.clone(),
            None => (self.solve)(i),
        }
    }
}

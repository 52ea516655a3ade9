//! The tiled matrix-product convolution: tiles of output pixels, panels of
//! packed patch rows, and `MR × NV` micro-kernel calls over both (see
//! [`super::plan`]).

use super::kernels::Kernels;
use super::micro::{Block, Start};
use super::plan::{Mode, Plan, PANEL_FLOATS};
use super::stack::StackBuffer;
use super::Conv2dGeometry;
use crate::kernels::epilogue::Activation;

/// One tile of output pixels: `np` pixels from flat index `p0`, which are
/// `rows` output rows from `oy0` (columns `ox0 .. ox0 + cols`) in rows mode.
#[derive(Clone, Copy)]
struct Tile {
    p0: usize,
    np: usize,
    oy0: usize,
    rows: usize,
    ox0: usize,
    cols: usize,
}

/// Runs a Pointwise, Flat or Rows plan whose register tile is `MR × NV`,
/// applying `act` as the last panel's sums are stored.
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
    assert!(plan.mr == MR && plan.nv == NV && plan.kc >= 1 && plan.kc * plan.ldb <= PANEL_FLOATS);
    assert!(plan.ldb.is_multiple_of(NV * S::LANES));
    let cing = g.cin / g.groups;
    let coutg = g.cout / g.groups;
    let k = cing * g.kh * g.kw;
    let (plane, out_plane) = (g.h * g.w, g.oh * g.ow);
    // Zeroed once: the micro-kernel reads whole vectors, and lanes past a
    // tile's pixels (computed, never stored) must still be initialised.
    let mut panel_buf = StackBuffer::<PANEL_FLOATS>::new();
    let panel = panel_buf.zeroed_prefix(plan.kc * plan.ldb);

    for grp in 0..g.groups {
        let gin = &input[grp * cing * plane..][..cing * plane];
        let gw = &weight[grp * coutg * k..][..coutg * k];
        let gout = &mut output[grp * coutg * out_plane..][..coutg * out_plane];
        let gbias = bias.map(|b| &b[grp * coutg..][..coutg]);
        for tile in Tiles::new(g, plan) {
            for k0 in (0..k).step_by(plan.kc) {
                let kc = plan.kc.min(k - k0);
                let width = tile.np.div_ceil(NV * S::LANES) * NV * S::LANES;
                // Pointwise tiles read the input planes in place when every
                // vector the micro-kernel loads stays inside its plane.
                let direct = plan.mode == Mode::Pointwise && tile.p0 + width <= plane;
                let (b, b_off, ldb): (&[f32], usize, usize) = if direct {
                    (gin, k0 * plane + tile.p0, plane)
                } else {
                    let dst = &mut panel[..];
                    if plan.mode == Mode::Rows {
                        let (rows, cols) = ((tile.oy0, tile.rows), (tile.ox0, tile.cols));
                        s.pack_rows(g, gin, rows, cols, (k0, kc), dst, plan.ldb);
                    } else {
                        s.pack_flat(g, gin, (tile.p0, tile.np), (k0, kc), dst, plan.ldb);
                    }
                    (&panel[..], 0, plan.ldb)
                };
                let panel_act = if k0 + kc == k { act } else { Activation::Identity };
                for co0 in (0..coutg).step_by(MR) {
                    let rows = MR.min(coutg - co0);
                    let start = match (k0, gbias) {
                        (0, Some(b)) => Start::Bias(&b[co0..]),
                        (0, None) => Start::Zero,
                        _ => Start::Output,
                    };
                    let blk = Block {
                        a: gw,
                        a_off: co0 * k + k0,
                        lda: k,
                        b,
                        b_off,
                        ldb,
                        kc,
                        rows,
                        pixels: tile.np,
                        ldc: out_plane,
                        c_off: co0 * out_plane + tile.p0,
                    };
                    s.micro::<MR, NV>(&blk, gout, start, panel_act);
                }
            }
        }
    }
}

/// The tiles of a plan, in order. (An iterator rather than a callback: a
/// closure would be compiled as its own function, without the caller's
/// target features, and every vector operation in it would become a call.)
struct Tiles {
    rows_mode: bool,
    step_rows: usize,
    step_cols: usize,
    oh: usize,
    ow: usize,
    pixels: usize,
    next: usize,
    oy: usize,
    ox: usize,
}

impl Tiles {
    fn new(g: &Conv2dGeometry, plan: &Plan) -> Self {
        Tiles {
            rows_mode: plan.mode == Mode::Rows,
            step_rows: plan.tile,
            step_cols: plan.tile_cols,
            oh: g.oh,
            ow: g.ow,
            pixels: g.oh * g.ow,
            next: 0,
            oy: 0,
            ox: 0,
        }
    }
}

impl Iterator for Tiles {
    type Item = Tile;

    #[inline]
    fn next(&mut self) -> Option<Tile> {
        if !self.rows_mode {
            let p0 = self.next;
            if p0 >= self.pixels {
                return None;
            }
            let np = self.step_rows.min(self.pixels - p0);
            self.next += np;
            return Some(Tile {
                p0,
                np,
                oy0: 0,
                rows: 0,
                ox0: 0,
                cols: 0,
            });
        }
        if self.oy >= self.oh {
            return None;
        }
        let (oy0, ox0) = (self.oy, self.ox);
        let rows = self.step_rows.min(self.oh - oy0);
        let cols = self.step_cols.min(self.ow - ox0);
        self.ox += cols;
        if self.ox >= self.ow {
            self.ox = 0;
            self.oy += rows;
        }
        Some(Tile {
            p0: oy0 * self.ow + ox0,
            np: rows * cols,
            oy0,
            rows,
            ox0,
            cols,
        })
    }
}

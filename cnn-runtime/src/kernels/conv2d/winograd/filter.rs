//! The filter transform of F(2×2, 3×3), `U = G g Gᵀ` per (output, input)
//! channel pair, with
//!
//! ```text
//!     | 1    0    0  |
//! G = | 1/2  1/2  1/2|
//!     | 1/2 -1/2  1/2|
//!     | 0    0    1  |
//! ```
//!
//! computed once, when a model is built, into the layout the products read:
//! per block of output channels (as [`ChannelBlocks`] splits them), per
//! position, per input channel, the block's channels side by side.

use super::plan::{WinogradPlan, POSITIONS};
use crate::kernels::conv2d::direct::ChannelBlocks;
use crate::kernels::conv2d::Conv2dGeometry;

/// Where [`pack`] puts position `p`, input channel `ci` of the block of
/// channels from `co0` (`width` wide): blocks one after another, each
/// `POSITIONS × cin × width`.
pub(crate) const fn offset(g: &Conv2dGeometry, co0: usize, width: usize, p: usize, ci: usize) -> usize {
    co0 * POSITIONS * g.cin + (p * g.cin + ci) * width
}

/// Lays out `U` for the plan `w`: `out` must hold
/// [`super::plan::packed_len`] floats; channels past `cout` are zero.
pub(crate) fn pack(g: &Conv2dGeometry, w: &WinogradPlan, lanes: usize, weight: &[f32], out: &mut [f32]) {
    assert!(weight.len() == g.weight_len() && g.kh == 3 && g.kw == 3 && g.groups == 1);
    assert!(out.len() >= POSITIONS * g.cin * w.coutp && w.coutp >= g.cout);
    let blocks = ChannelBlocks::new(w.coutp / lanes, w.max_cb);
    for (co0, cb) in blocks.iter(lanes) {
        let width = cb * lanes;
        for c in 0..width {
            let co = co0 + c;
            for ci in 0..g.cin {
                let u = if co < g.cout {
                    let taps = &weight[(co * g.cin + ci) * 9..][..9];
                    transform(taps.try_into().expect("9 taps"))
                } else {
                    [0.0; POSITIONS]
                };
                for (p, &x) in u.iter().enumerate() {
                    out[offset(g, co0, width, p, ci) + c] = x;
                }
            }
        }
    }
}

/// `G k Gᵀ` of one 3×3 kernel (row-major), position `4 * i + j` at row `i`,
/// column `j`.
pub(crate) fn transform(k: &[f32; 9]) -> [f32; POSITIONS] {
    // `k Gᵀ`: each kernel row becomes 4 values, then `G (k Gᵀ)` per column.
    let rows = [0, 1, 2].map(|r| g_times(k[3 * r], k[3 * r + 1], k[3 * r + 2]));
    let mut u = [0.0; POSITIONS];
    for j in 0..4 {
        let col = g_times(rows[0][j], rows[1][j], rows[2][j]);
        for (i, &x) in col.iter().enumerate() {
            u[4 * i + j] = x;
        }
    }
    u
}

/// One row (or column) of `G` applied to three kernel values.
fn g_times(a: f32, b: f32, c: f32) -> [f32; 4] {
    let ac = a + c;
    [a, (ac + b) * 0.5, (ac - b) * 0.5, c]
}

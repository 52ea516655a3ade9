//! Winograd F(2×2, 3×3) for 3×3, stride-1, single-group convolutions (see
//! [`super::plan::Mode::Winograd`]).
//!
//! Each 2×2 tile of outputs is `Aᵀ [Σ_ci (G g Gᵀ) ⊙ (Bᵀ d B)] A` over its
//! 4×4 input tile `d`: 16 multiply-adds per input channel instead of 36.
//! Per position `p` of the 4×4 transformed tile the sum over input channels
//! is a matrix product `M[p] = V[p] · U[p]` (tiles × input channels times
//! input channels × output channels).
//!
//! The filter transforms `U` are computed once, when the model is built
//! ([`filter::pack`], through [`crate::Packed`]); without them the
//! dispatcher runs the layer's other plan. A call then works band by band
//! (whole rows of tiles, or segments of one row): the input transform `V` of the band for every
//! input channel ([`transform::input`]; in chunks of input channels when
//! they do not fit, redone per block of output channels); per block of
//! output channels and position, register tiles of `T` tiles × up to four
//! vectors of output channels ([`micro`]: the tiles broadcast, the
//! channels in the lanes, as in the direct kernel); the output transform
//! into the block's outputs laid out `[pixel][channel]` ([`output`]); and
//! the direct kernel's transposing stores into the output (or its sums for
//! a fused global pool). Everything lives in bounded stack buffers
//! ([`plan::V_FLOATS`], [`plan::M_FLOATS`], [`plan::Y_FLOATS`]).
//!
//! # Numerics
//!
//! The transforms only add, subtract and halve, so F(2×2, 3×3) stays close
//! to the direct sum (F(4×4, 3×3) would need 2.25 times fewer multiplies
//! again, but its transforms scale values by up to 8 and its error grows
//! with them). Against an f64 reference, on PyTorch's default
//! initialisation (weights and bias uniform in ±1/sqrt(9 cin)) with inputs
//! in [0, 1) or [-1, 1), cin 32 to 512 on 6×6 to 32×32 planes, the largest
//! error measured was about 1e-6 of the largest output (at most 8.4% of the
//! golden tests' tolerance; 2.6e-7 to 4.6e-7 on the VGG-like shapes),
//! against 2.6e-6 (16.5%) for the direct mode (`winograd_error_vs_f64` in
//! `tests.rs`).
//!
//! # Non-finite inputs
//!
//! An input pixel only enters the transformed values that the output
//! transform combines into the outputs whose windows hold it, so NaN
//! reaches exactly the outputs it does in PyTorch, and outputs whose
//! windows hold no infinity or NaN are finite as there. But where PyTorch
//! returns an infinity, this mode may return NaN: the transforms subtract
//! neighbouring pixels (`inf - inf`), and a transformed weight can be zero
//! where the weight is not (`inf * 0`). Finite inputs whose transforms
//! overflow (beyond about 1e38) can likewise give NaN or an infinity where
//! the direct sum does not. `special_inputs_differ_only_as_documented` in
//! `tests.rs` checks this. The planner only picks the mode for 3×3,
//! stride-1, undilated, ungrouped convolutions with at least 8 input and
//! output channels.

pub(crate) mod filter;
pub(crate) mod micro;
pub(crate) mod output;
pub(crate) mod plan;
pub(crate) mod transform;

use super::direct::{AccLayout, ChannelBlocks, Sink};
use super::kernels::Kernels;
use super::plan::{Mode, Plan};
use super::stack::StackBuffer;
use super::Conv2dGeometry;
use crate::kernels::epilogue::Activation;
use plan::{fits, m_position, packed_len, tiles, v_position, M_FLOATS, POSITIONS, V_FLOATS, Y_FLOATS};

/// A band of tiles: `tr` tile rows from `ty0`, `tc` tile columns from
/// `tx0`; tile `t` of the band is row `t / tc`, column `t % tc`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Band {
    /// First tile row.
    pub ty0: usize,
    /// Tile rows.
    pub tr: usize,
    /// First tile column.
    pub tx0: usize,
    /// Tile columns.
    pub tc: usize,
}

/// Runs a Winograd plan with `T` tiles per register tile, reading the
/// filter transforms `u` ([`filter::pack`] for this plan) and sending the
/// results (through `act`) to `sink`.
///
/// # Panics
/// If the plan does not fit the geometry or a slice length does not match
/// it.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn run<S: Kernels, const T: usize>(
    s: S,
    g: &Conv2dGeometry,
    plan: &Plan,
    input: &[f32],
    u: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    mut sink: Sink<'_>,
) {
    let w = plan.winograd;
    let lanes = S::LANES;
    let (nty, ntx) = tiles(g);
    let blocks = ChannelBlocks::new(w.coutp / lanes, w.max_cb);
    let width = blocks.widest() * lanes;
    assert!(fits(g) && plan.mode == Mode::Winograd && w.tiles == T && input.len() == g.input_len());
    assert!(w.tr >= 1 && w.tc >= 1 && (w.tr == 1 || w.tc >= ntx) && w.owp == 2 * w.tc);
    assert!(w.tp >= w.tr * w.tc && w.tp.is_multiple_of(T));
    assert!(w.coutp >= g.cout && w.coutp.is_multiple_of(lanes) && u.len() >= packed_len(g, lanes));
    assert!(w.cc >= 1 && w.cc <= g.cin);
    let chunked = w.cc < g.cin;
    let v_ldp = v_position(w.cc, w.tp);
    // Zeroed once: lanes of `V` past a band's tiles are multiplied (their
    // products never stored) and must hold numbers.
    let mut v_buf = StackBuffer::<V_FLOATS>::new();
    let v = v_buf.zeroed_prefix(POSITIONS * v_ldp);
    let mut m_buf = StackBuffer::<M_FLOATS>::new();
    let m = m_buf.zeroed_prefix(POSITIONS * m_position(w.tp, width));
    let mut y_buf = StackBuffer::<Y_FLOATS>::new();
    let y = y_buf.zeroed_prefix(2 * w.tr * w.owp * width);
    let bands = (0..nty)
        .step_by(w.tr)
        .flat_map(|ty0| (0..ntx).step_by(w.tc).map(move |tx0| (ty0, tx0)));
    for (ty0, tx0) in bands {
        let band = Band {
            ty0,
            tr: w.tr.min(nty - ty0),
            tx0,
            tc: w.tc.min(ntx - tx0),
        };
        let band_tiles = band.tr * band.tc;
        if !chunked {
            transform::input(s, g, input, &band, (0, g.cin), (w.tp, v_ldp), v);
        }
        for (co0, cb) in blocks.iter(lanes) {
            let block_width = cb * lanes;
            let m_ldp = m_position(w.tp, block_width);
            let ub = &u[filter::offset(g, co0, block_width, 0, 0)..][..POSITIONS * g.cin * block_width];
            for c0 in (0..g.cin).step_by(w.cc) {
                let cc = w.cc.min(g.cin - c0);
                if chunked {
                    transform::input(s, g, input, &band, (c0, cc), (w.tp, v_ldp), v);
                }
                for p in 0..POSITIONS {
                    for t0 in (0..band_tiles).step_by(T) {
                        let blk = micro::Block {
                            u: ub,
                            u_off: (p * g.cin + c0) * block_width,
                            v,
                            v_off: p * v_ldp + t0,
                            ldv: w.tp,
                            k: cc,
                            m_off: p * m_ldp + t0 * block_width,
                            ldm: block_width,
                        };
                        s.winograd_tile::<T>(cb, &blk, m, c0 > 0);
                    }
                }
            }
            let prod = output::Products {
                m,
                ldp: m_ldp,
                co0,
                cb,
                tiles: band_tiles,
                ntx: band.tc,
            };
            output::to_acc(s, &w, &prod, bias, y);
            let layout = AccLayout {
                owp: w.owp,
                coutp: block_width,
            };
            let (oy0, ox0) = (2 * ty0, 2 * tx0);
            let rows = (2 * band.tr).min(g.oh - oy0);
            let cols = (2 * band.tc).min(g.ow - ox0);
            let n = block_width.min(g.cout - co0);
            sink.channels(g, co0, n)
                .take(s, g, layout, y, (oy0, rows), (ox0, cols), act);
        }
    }
}

#[cfg(test)]
pub(super) mod tests;

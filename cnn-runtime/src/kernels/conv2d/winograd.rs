//! Winograd F(2×2, 3×3) for 3×3, stride-1, single-group convolutions (see
//! [`super::plan::Mode::Winograd`]).
//!
//! Each 2×2 tile of outputs is `Aᵀ [Σ_ci (G g Gᵀ) ⊙ (Bᵀ d B)] A` over its
//! 4×4 input tile `d`: 16 multiply-adds per input channel instead of 36.
//! Per position `p` of the 4×4 transformed tile the sum over input channels
//! is a matrix product `M[p] = U[p] · V[p]` (output channels × input
//! channels times input channels × tiles), run by a register-blocked
//! micro-kernel ([`micro`]) with tiles in the vector lanes and 16 output
//! channels broadcast from a packed block of `U`. AVX-512 only: the filter
//! transform loads a channel's 9 taps as one vector.
//!
//! The weights are read in place, so the filter transform `U` runs per call,
//! a block of output channels × a chunk of input channels at a time, each
//! block transformed once and used for every tile ("U-stationary"). The
//! input transform `V` of a band of tiles is redone per block of output
//! channels; `M` of a band either accumulates over the chunks (when one
//! band covers the plane) or is transformed and added to the output after
//! each chunk. When one band covers the plane the loops may also run the
//! other way round (chunks outside blocks: each `V` computed once, each
//! chunk's products added to the output), whichever the cost model
//! prefers. Everything lives in one bounded stack buffer
//! ([`plan::WINOGRAD_FLOATS`]).
//!
//! # Numerics
//!
//! The transforms only add, subtract and halve, so F(2×2, 3×3) stays close
//! to the direct sum (F(4×4, 3×3) would need 2.25 times fewer multiplies
//! again, but its transforms scale values by up to 8 and its error grows
//! with them). Each product sums over at most one chunk of input channels
//! and the chunks are then added, so the rounding error is if anything
//! smaller than the direct modes' long sums: against an f64 reference, on
//! PyTorch's default initialisation (weights and bias uniform in
//! ±1/sqrt(9 cin)) with inputs in [0, 1) or [-1, 1), cin 32 to 512 on 6×6 to
//! 32×32 planes, the largest error measured was about 1e-6 of the largest
//! output (at most ~8% of the golden tests' tolerance; 2e-7 to 5e-7 on the
//! VGG-like shapes), against 2.6e-6 (~17%) for the direct mode
//! (`winograd_error_vs_f64` in `tests.rs`).
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

pub(crate) mod micro;
pub(crate) mod output;
pub(crate) mod plan;
pub(crate) mod transform;

use super::kernels::Kernels;
use super::plan::{Mode, Plan};
use super::stack::StackBuffer;
use super::Conv2dGeometry;
use crate::kernels::epilogue::Activation;
use output::Store;
use plan::{fits, tiles, WinogradPlan, MAX_BAND_TILES, POSITIONS, WINOGRAD_FLOATS};

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

/// Runs a Winograd plan whose matrix products use the `16 × NV` register
/// tile.
///
/// # Panics
/// If the plan does not fit the geometry or a slice length does not match
/// it.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn run<S: Kernels, const NV: usize>(
    s: S,
    g: &Conv2dGeometry,
    plan: &Plan,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    output: &mut [f32],
) {
    let w = plan.winograd;
    let width = NV * S::LANES;
    assert!(
        fits(g)
            && plan.mode == Mode::Winograd
            && plan.mr == micro::ROWS
            && plan.nv == NV
            && w.cob.is_multiple_of(micro::ROWS)
    );
    assert!(w.cob >= 1 && w.cc >= 1 && w.tr >= 1 && w.tc >= 1);
    assert!(w.tr * w.tc <= w.tp && w.tp.is_multiple_of(width) && w.tp <= MAX_BAND_TILES);
    let (uf, vf, mf) = w.floats();
    // Zeroed once: lanes of `V` past a band's tiles are multiplied (never
    // stored) and must hold numbers.
    let mut buf = StackBuffer::<WINOGRAD_FLOATS>::new();
    let (u, rest) = buf.zeroed_prefix(uf + vf + mf).split_at_mut(uf);
    let (v, m) = rest.split_at_mut(vf);
    let (nty, ntx) = tiles(g);
    // One band covers the plane: its products accumulate over the chunks.
    let single = nty <= w.tr && ntx <= w.tc;
    let first_band = Band {
        ty0: 0,
        tr: nty.min(w.tr),
        tx0: 0,
        tc: ntx.min(w.tc),
    };
    if w.chunk_outer {
        assert!(single, "winograd: chunks outside blocks need a single band");
        for c0 in (0..g.cin).step_by(w.cc) {
            let cc = w.cc.min(g.cin - c0);
            transform::input(s, g, input, &first_band, (c0, cc), &w, v);
            for co0 in (0..g.cout).step_by(w.cob) {
                let cob = w.cob.min(g.cout - co0);
                transform::filter(s, g, weight, (co0, cob), (c0, cc), &w, u);
                products::<S, NV>(s, &w, (u, v, m), (cob, cc), false);
                let store = Store::pass(bias, c0 == 0, c0 + cc == g.cin, act);
                output::output(s, g, m, &first_band, (co0, cob), &w, store, output);
            }
        }
        return;
    }
    for co0 in (0..g.cout).step_by(w.cob) {
        let cob = w.cob.min(g.cout - co0);
        for c0 in (0..g.cin).step_by(w.cc) {
            let cc = w.cc.min(g.cin - c0);
            transform::filter(s, g, weight, (co0, cob), (c0, cc), &w, u);
            for ty0 in (0..nty).step_by(w.tr) {
                for tx0 in (0..ntx).step_by(w.tc) {
                    let band = Band {
                        ty0,
                        tr: w.tr.min(nty - ty0),
                        tx0,
                        tc: w.tc.min(ntx - tx0),
                    };
                    transform::input(s, g, input, &band, (c0, cc), &w, v);
                    products::<S, NV>(s, &w, (u, v, m), (cob, cc), single && c0 > 0);
                    if !single {
                        let store = Store::pass(bias, c0 == 0, c0 + cc == g.cin, act);
                        output::output(s, g, m, &band, (co0, cob), &w, store, output);
                    }
                }
            }
        }
        if single {
            let store = Store::First(bias, act);
            output::output(s, g, m, &first_band, (co0, cob), &w, store, output);
        }
    }
}

/// `M[p] (+)= U[p] · V[p]` for the 16 positions: `cob` rows (rounded up to
/// whole packed blocks), `cc` deep, all `tp` tiles wide (lanes past the
/// band's tiles included).
#[inline(always)]
pub(crate) fn products<S: Kernels, const NV: usize>(
    s: S,
    w: &WinogradPlan,
    (u, v, m): (&[f32], &[f32], &mut [f32]),
    (cob, cc): (usize, usize),
    accumulate: bool,
) {
    let width = NV * S::LANES;
    let blocks = w.cob / micro::ROWS;
    for p in 0..POSITIONS {
        for b in 0..cob.div_ceil(micro::ROWS) {
            for t0 in (0..w.tp).step_by(width) {
                let blk = micro::Block {
                    u,
                    u_off: (p * blocks + b) * w.cc * micro::ROWS,
                    v,
                    v_off: p * w.cc * w.tp + t0,
                    ldv: w.tp,
                    kc: cc,
                    m_off: (p * w.cob + b * micro::ROWS) * w.tp + t0,
                    ldm: w.tp,
                };
                s.winograd_tile::<NV>(&blk, m, accumulate);
            }
        }
    }
}

#[cfg(test)]
mod tests;

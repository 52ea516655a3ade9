//! The vector matrix-vector product behind [`super::linear`]: eight weight
//! rows at a time, each dotted with the input in one vector accumulator.
//!
//! A layer's weights are read exactly once and usually come from L2, so the
//! product is bound by how fast the rows stream in, not by the FMAs. Eight
//! rows with one accumulator each (eight independent FMA chains, enough to
//! hide the latency) load the input vector once per eight weight vectors,
//! and their eight sums come out of one shuffle tree ([`Simd::reduce_add8`])
//! into one vector for the bias, activation and store:
//! measured on Zen 4 with LeNet-5's `fc1` (400 × 120, weights in L2 and the
//! cache disturbed between calls as in a forward pass), this streams about
//! 15 % faster than four rows with two accumulators each.

use crate::kernels::epilogue::Activation;
use crate::kernels::simd::Simd;

/// Rows per pass over the input.
const ROWS: usize = 8;

/// `output[o] = act(bias[o] + dot(weight[o], input))`, with `weight` row-major
/// (PyTorch's `[out][in]`). `input` must not be empty.
///
/// # Panics
/// If the slice lengths disagree.
#[inline(always)]
pub(crate) fn run<S: Simd>(
    s: S,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    output: &mut [f32],
) {
    let n = input.len();
    let lanes = S::LANES;
    assert!(n > 0 && weight.len() == n * output.len());
    if let Some(b) = bias {
        assert_eq!(b.len(), output.len());
    }
    let x = input.as_ptr();
    let tail = n % lanes;
    let full = n - tail;
    let tail_mask = s.first_lanes(tail);
    for (block, out) in output.chunks_mut(ROWS).enumerate() {
        let o0 = block * ROWS;
        let rows = out.len();
        // Rows past the end repeat the last one (computed, not stored).
        let mut w = [weight.as_ptr(); ROWS];
        for (r, w) in w.iter_mut().enumerate() {
            *w = weight[(o0 + r.min(rows - 1)) * n..][..n].as_ptr();
        }
        let mut acc = [s.zero(); ROWS];
        let mut i = 0;
        while i < full {
            // SAFETY: `i + lanes <= full <= n`: the vector of the input and
            // of each row (`n` floats from `w[r]`) is in bounds.
            unsafe {
                let x0 = s.load(x.add(i));
                for (a, &w) in acc.iter_mut().zip(&w) {
                    *a = s.fma(s.load(w.add(i)), x0, *a);
                }
            }
            i += lanes;
        }
        if tail > 0 {
            // SAFETY: the masked lanes are `full .. n`, in bounds.
            unsafe {
                let x0 = s.maskz_load(x.add(full), tail_mask);
                for (a, &w) in acc.iter_mut().zip(&w) {
                    *a = s.fma(s.maskz_load(w.add(full), tail_mask), x0, *a);
                }
            }
        }
        // The eight sums in one vector, then bias, activation and store
        // for the rows that exist, all vector operations.
        let mut y = s.reduce_add8(acc);
        let store = s.first_lanes(rows);
        if let Some(b) = bias {
            // SAFETY: the first `rows` lanes are `b[o0 .. o0 + rows]`.
            y = s.add(y, unsafe { s.maskz_load(b[o0..][..rows].as_ptr(), store) });
        }
        // SAFETY: the first `rows` lanes are `out`.
        unsafe { s.mask_store(out.as_mut_ptr(), store, act.apply_vec(s, y)) };
    }
}

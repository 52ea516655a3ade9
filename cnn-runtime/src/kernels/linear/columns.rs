//! The linear layer on weights packed once at load into column blocks:
//! `[block][input][vectors × LANES outputs]`, the outputs zero-padded to
//! whole blocks. Each block's outputs stay in `vectors` accumulators while
//! its weights stream in as one contiguous run, a broadcast input times one
//! weight vector per accumulator.
//!
//! The row-major product ([`super::gemv`]) reads eight weight rows side by
//! side: eight streams, which the hardware prefetchers follow less well
//! than one. Measured on Zen 3 with AVX2 (LeNet-5's `fc1`, 400 × 120,
//! weights in L2): 2.33 µs for eight rows, 2.00 for the same rows
//! interleaved into one stream, 1.91 for these column blocks.

use crate::kernels::epilogue::Activation;
use crate::kernels::simd::Simd;

/// Most accumulator vectors per block: 15 accumulators and the broadcast
/// input fill AVX2's 16 registers (the weights are FMA memory operands).
/// AVX-512 keeps the same bound: more outputs per block would only save
/// rereads of the input, which sits in L1.
pub(crate) const MAX_VECTORS: usize = 15;

/// One instruction set's column blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Blocks {
    /// Floats per vector.
    pub lanes: usize,
    /// Fewest vectors per block; a layer with fewer output vectors takes
    /// the row-major product.
    pub min_vectors: usize,
    /// Most inputs; a layer with more takes the row-major product.
    pub max_inputs: usize,
}

/// AVX2: below eight vectors, eight FMA chains could not hide the latency
/// and the row-major product was as fast (Zen 3).
pub(crate) const AVX2: Blocks = Blocks {
    lanes: 8,
    min_vectors: 8,
    max_inputs: usize::MAX,
};

/// AVX-512, for short rows only. Measured in the per-layer profile on a
/// Xeon (family 6 model 167): LeNet-5's `fc2` (120 inputs, 84 outputs in
/// six vectors) 0.53-0.56 -> 0.34-0.36 µs, where the row-major product's
/// per-row sums dominate; but `fc1` (400 inputs) 1.70 -> 1.78 µs and CIFAR
/// VGG's `fc1` (2048 inputs) 77 -> 94 µs, where the weights stream from L2
/// or beyond and eight rows read side by side came in faster than one
/// stream (why, not known: on Zen 3 it was the other way round).
pub(crate) const AVX512: Blocks = Blocks {
    lanes: 16,
    min_vectors: 4,
    max_inputs: 256,
};

impl Blocks {
    /// The blocking of a layer of `inputs` × `outputs`, as (blocks, vectors
    /// per block), or `None` when it takes no column blocks.
    pub(crate) const fn blocking(self, inputs: usize, outputs: usize) -> Option<(usize, usize)> {
        let vectors = outputs.div_ceil(self.lanes);
        if vectors < self.min_vectors || inputs > self.max_inputs {
            return None;
        }
        let blocks = vectors.div_ceil(MAX_VECTORS);
        Some((blocks, vectors.div_ceil(blocks)))
    }

    /// Floats of a layer's column blocks (0 when it takes none).
    pub(crate) const fn packed_len(self, inputs: usize, outputs: usize) -> usize {
        match self.blocking(inputs, outputs) {
            Some((blocks, vectors)) => blocks * inputs * vectors * self.lanes,
            None => 0,
        }
    }
}

/// Floats that hold a layer's column blocks for any instruction set.
pub(crate) const fn packed_len(inputs: usize, outputs: usize) -> usize {
    let (a, b) = (AVX2.packed_len(inputs, outputs), AVX512.packed_len(inputs, outputs));
    if a > b {
        a
    } else {
        b
    }
}

/// Lays out `weight` (`[out][in]`, PyTorch's order) in column blocks of
/// `vectors` vectors of `lanes` floats into the front of `out`, which must
/// hold at least `blocks.packed_len` floats and be zeroed.
pub(crate) fn pack(weight: &[f32], inputs: usize, outputs: usize, blocks: Blocks, vectors: usize, out: &mut [f32]) {
    let width = vectors * blocks.lanes;
    assert!(weight.len() == inputs * outputs && out.len() >= blocks.packed_len(inputs, outputs));
    assert!(blocks
        .blocking(inputs, outputs)
        .is_some_and(|(n, v)| v == vectors && outputs <= n * width));
    for (o, row) in weight.chunks_exact(inputs).enumerate() {
        let (b, col) = (o / width, o % width);
        for (i, &w) in row.iter().enumerate() {
            out[(b * inputs + i) * width + col] = w;
        }
    }
}

/// `output[o] = act(bias[o] + sum_i packed[o][i] * input[i])` over column
/// blocks of `NV` vectors of `S::LANES` floats (`packed` as [`pack`] laid
/// it out; it may hold more floats, unread).
///
/// # Panics
/// If the slice lengths disagree with the blocking.
#[inline(always)]
pub(crate) fn run<S: Simd, const NV: usize>(
    s: S,
    input: &[f32],
    packed: &[f32],
    bias: Option<&[f32]>,
    act: Activation,
    output: &mut [f32],
) {
    let lanes = S::LANES;
    let (n, width) = (input.len(), NV * lanes);
    let blocks = output.len().div_ceil(width);
    assert!(
        n > 0 && packed.len() >= blocks * n * width,
        "linear columns: packed weights"
    );
    if let Some(b) = bias {
        assert_eq!(b.len(), output.len());
    }
    for (b, out) in output.chunks_mut(width).enumerate() {
        let w = &packed[b * n * width..][..n * width];
        let mut acc = [s.zero(); NV];
        let mut p = w.as_ptr();
        for &x in input {
            let x = s.splat(x);
            for (v, a) in acc.iter_mut().enumerate() {
                // SAFETY: input `i` (the `i`-th step) reads `w[i * width ..
                // (i + 1) * width]`, inside `w` (`n * width` floats).
                *a = s.fma(unsafe { s.load(p.add(v * lanes)) }, x, *a);
            }
            p = p.wrapping_add(width);
        }
        for (v, a) in acc.iter().enumerate() {
            let o0 = v * lanes;
            if o0 >= out.len() {
                break;
            }
            let m = s.first_lanes(out.len() - o0);
            let mut y = *a;
            if let Some(bias) = bias {
                // SAFETY: the lanes of `m` are `bias[b * width + o0 ..]`
                // inside the bias (as long as the output).
                y = s.add(y, unsafe { s.maskz_load(bias[b * width + o0..].as_ptr(), m) });
            }
            // SAFETY: the lanes of `m` are `out[o0 ..]`, inside `out`.
            unsafe { s.mask_store(out.as_mut_ptr().add(o0), m, act.apply_vec(s, y)) };
        }
    }
}

//! Batch inference behind [`Model::forward_batch`] and
//! [`Model::forward_batch_with`]: sequential, or with the `rayon` feature split
//! into one contiguous chunk per pool thread.
//!
//! Every image goes through [`Model::forward_with`] exactly as a single call
//! would, so a batch result is bitwise the per-image result whatever the split.

use crate::{Model, ShapeError};

/// The one batch error: `outputs` must have one tensor per input. Reported in
/// `f32` values, like every [`ShapeError`].
pub(crate) fn check_lengths<M: Model>(inputs: usize, outputs: usize) -> Result<(), ShapeError> {
    if inputs == outputs {
        Ok(())
    } else {
        Err(ShapeError::output(
            inputs.saturating_mul(M::OUTPUT_LEN),
            outputs.saturating_mul(M::OUTPUT_LEN),
        ))
    }
}

/// Images one after another through one scratch.
fn sequential<M: Model>(model: &M, inputs: &[M::Input], scratch: &mut M::Scratch, outputs: &mut [M::Output]) {
    for (input, output) in inputs.iter().zip(outputs) {
        model.forward_with(input, scratch, output);
    }
}

/// How many chunks a batch of `batch` images is cut into: one per pool thread,
/// never more than images or `limit` (the caller's scratches), never zero for
/// a non-empty batch.
#[cfg(any(test, feature = "rayon"))]
fn chunk_count(batch: usize, limit: usize, threads: usize) -> usize {
    threads.min(batch).min(limit).max(1)
}

/// Images per chunk so that `chunks` chunks cover the batch: the last chunk
/// may be shorter, so a batch that is not a multiple of the thread count is
/// still split `chunks` ways or fewer.
#[cfg(any(test, feature = "rayon"))]
fn chunk_len(batch: usize, chunks: usize) -> usize {
    batch.div_ceil(chunks).max(1)
}

/// [`Model::forward_batch_with`] after the length check.
pub(crate) fn forward_with<M: Model>(
    model: &M,
    inputs: &[M::Input],
    scratches: &mut [M::Scratch],
    outputs: &mut [M::Output],
) {
    if inputs.is_empty() {
        return;
    }
    assert!(
        !scratches.is_empty(),
        "forward_batch_with needs at least one scratch for a non-empty batch"
    );
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        let chunks = chunk_count(inputs.len(), scratches.len(), rayon::current_num_threads());
        if chunks > 1 {
            let len = chunk_len(inputs.len(), chunks);
            inputs
                .par_chunks(len)
                .zip(outputs.par_chunks_mut(len))
                .zip(scratches.par_iter_mut())
                .for_each(|((inputs, outputs), scratch)| sequential(model, inputs, scratch, outputs));
            return;
        }
    }
    sequential(model, inputs, &mut scratches[0], outputs);
}

/// [`Model::forward_batch`] after the length check: one boxed scratch per
/// chunk, allocated by the thread that runs the chunk (never on its stack).
#[cfg(feature = "alloc")]
pub(crate) fn forward<M: Model>(model: &M, inputs: &[M::Input], outputs: &mut [M::Output]) {
    use crate::ScratchSpace;
    if inputs.is_empty() {
        return;
    }
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        let chunks = chunk_count(inputs.len(), usize::MAX, rayon::current_num_threads());
        if chunks > 1 {
            let len = chunk_len(inputs.len(), chunks);
            inputs
                .par_chunks(len)
                .zip(outputs.par_chunks_mut(len))
                .for_each(|(inputs, outputs)| sequential(model, inputs, &mut M::Scratch::new_boxed(), outputs));
            return;
        }
    }
    sequential(model, inputs, &mut M::Scratch::new_boxed(), outputs);
}

#[cfg(test)]
mod tests {
    use super::{chunk_count, chunk_len};

    /// Chunks cover the batch exactly, and there are never more chunks than
    /// threads, images or scratches.
    #[test]
    fn chunks_cover_every_batch() {
        for threads in 1..=5 {
            for batch in 1..=23 {
                for limit in [1, 2, 3, usize::MAX] {
                    let chunks = chunk_count(batch, limit, threads);
                    assert!(chunks >= 1 && chunks <= threads.min(batch).min(limit));
                    let len = chunk_len(batch, chunks);
                    let made = batch.div_ceil(len);
                    assert!(made <= chunks, "batch {batch}, {chunks} chunks of {len}");
                    assert!(made * len >= batch && (made - 1) * len < batch);
                }
            }
        }
    }
}

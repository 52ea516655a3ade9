//! Index arithmetic and reductions shared by the fast kernels (never by
//! [`super::reference`], so the two cannot share a mistake).

use core::ops::Range;

/// The output positions whose window tap at `offset` reads inside the input.
///
/// Output `o` reads input `o * stride + offset - pad`. Solving
/// `pad <= o * stride + offset < len + pad` once per tap lets the inner loops
/// run over a plain range with no per-element padding branch, which is what
/// makes them vectorisable. The result is empty when the tap only ever sees
/// padding. Everything stays unsigned: the subtractions are guarded.
#[inline(always)]
pub(crate) fn valid_outputs(offset: usize, pad: usize, stride: usize, len: usize, out_len: usize) -> Range<usize> {
    let first = if pad > offset {
        (pad - offset).div_ceil(stride)
    } else {
        0
    };
    let end = if len + pad > offset {
        (len + pad - offset).div_ceil(stride).min(out_len)
    } else {
        0
    };
    first.min(end)..end
}

/// `a * b + c`, or `None` on overflow: geometry checks use it to reject sizes
/// whose index arithmetic would wrap, so the kernels never have to.
pub(crate) const fn mul_add(a: usize, b: usize, c: usize) -> Option<usize> {
    match a.checked_mul(b) {
        Some(p) => p.checked_add(c),
        None => None,
    }
}

/// The product of `dims`, or `None` on overflow: tensor lengths for the
/// geometry checks.
pub(crate) const fn product(dims: &[usize]) -> Option<usize> {
    let mut acc: usize = 1;
    let mut i = 0;
    while i < dims.len() {
        acc = match acc.checked_mul(dims[i]) {
            Some(p) => p,
            None => return None,
        };
        i += 1;
    }
    Some(acc)
}

/// Whether one spatial axis of a windowed kernel has sane index arithmetic:
/// the furthest coordinate the kernels form, `len + pad + reach`, fits in a
/// usize, and the last window starts inside the input or its leading padding
/// (`(out - 1) * stride < len + pad`, PyTorch's ceil-mode rule), so no output
/// is computed from nothing but trailing padding. Needs `out >= 1`.
pub(crate) const fn axis_ok(len: usize, pad: usize, reach: usize, stride: usize, out: usize) -> bool {
    let Some(limit) = len.checked_add(pad) else {
        return false;
    };
    if limit.checked_add(reach).is_none() {
        return false;
    }
    match (out - 1).checked_mul(stride) {
        Some(last) => last < limit,
        None => false,
    }
}

/// The convolution version of [`axis_ok`]. PyTorch pads a conv symmetrically,
/// except that "same" puts one extra pixel at the end for even extents, so the
/// bottom padding is at most `pad + 1`, and every window must end inside the
/// padded input: `(out - 1) * stride + reach < len + 2 * pad + 1`. Unlike
/// pooling, a conv window may lie entirely in the padding (padding larger than
/// the kernel); its output is the bias.
pub(crate) const fn conv_axis_ok(len: usize, pad: usize, reach: usize, stride: usize, out: usize) -> bool {
    let Some(end) = len.checked_add(1) else {
        return false;
    };
    let Some(limit) = mul_add(pad, 2, end) else {
        return false;
    };
    if len.checked_add(pad).is_none() || limit.checked_add(reach).is_none() {
        return false;
    }
    match mul_add(out - 1, stride, reach) {
        Some(last_end) => last_end < limit,
        None => false,
    }
}

/// Independent accumulators for reductions. Float addition is not
/// associative, so LLVM may not split one running sum into SIMD lanes by
/// itself; eight explicit lanes give it the parallelism (one AVX register or
/// two SSE/NEON ones) without any target-specific code.
const LANES: usize = 8;

/// The dot product of two equally long slices.
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (a_chunks, a_tail) = a.as_chunks::<LANES>();
    let (b_chunks, b_tail) = b.as_chunks::<LANES>();
    let mut acc = [0.0f32; LANES];
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for ((s, &x), &y) in acc.iter_mut().zip(x).zip(y) {
            *s += x * y;
        }
    }
    let mut tail = 0.0;
    for (&x, &y) in a_tail.iter().zip(b_tail) {
        tail += x * y;
    }
    reduce_lanes(acc) + tail
}

/// The sum of a slice.
#[inline(always)]
pub(crate) fn sum(a: &[f32]) -> f32 {
    // Four register-wide chains, not one: a lone chain waits out the add
    // latency on every step, which made long sums (global pooling) latency-
    // rather than throughput-bound.
    let (blocks, rest) = a.as_chunks::<{ 4 * LANES }>();
    let mut wide = [[0.0f32; LANES]; 4];
    for block in blocks {
        for (acc, x) in wide.iter_mut().zip(block.as_chunks::<LANES>().0) {
            for (s, &x) in acc.iter_mut().zip(x) {
                *s += x;
            }
        }
    }
    let [w0, w1, w2, w3] = wide;
    let mut acc = [0.0f32; LANES];
    for (i, s) in acc.iter_mut().enumerate() {
        *s = (w0[i] + w1[i]) + (w2[i] + w3[i]);
    }
    let (chunks, tail) = rest.as_chunks::<LANES>();
    for x in chunks {
        for (s, &x) in acc.iter_mut().zip(x) {
            *s += x;
        }
    }
    reduce_lanes(acc) + tail.iter().sum::<f32>()
}

/// Pairwise, so the final reduction is a few shuffles rather than a chain.
#[inline(always)]
fn reduce_lanes(acc: [f32; LANES]) -> f32 {
    let [a, b, c, d, e, f, g, h] = acc;
    ((a + e) + (c + g)) + ((b + f) + (d + h))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force over the defining inequality.
    fn brute(offset: usize, pad: usize, stride: usize, len: usize, out_len: usize) -> Range<usize> {
        let valid = |o: usize| {
            let i = (o * stride + offset) as isize - pad as isize;
            i >= 0 && (i as usize) < len
        };
        let first = (0..out_len).find(|&o| valid(o));
        match first {
            None => 0..0,
            Some(f) => {
                let end = (f..out_len).find(|&o| !valid(o)).unwrap_or(out_len);
                // Valid outputs form one contiguous run.
                assert!((end..out_len).all(|o| !valid(o)));
                f..end
            }
        }
    }

    #[test]
    fn valid_outputs_matches_brute_force() {
        for offset in 0..12 {
            for pad in 0..6 {
                for stride in 1..4 {
                    for len in 1..8 {
                        for out_len in 1..10 {
                            let got = valid_outputs(offset, pad, stride, len, out_len);
                            let want = brute(offset, pad, stride, len, out_len);
                            if want.is_empty() {
                                assert!(got.is_empty());
                            } else {
                                assert_eq!(got, want, "{offset} {pad} {stride} {len} {out_len}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn lane_reductions_cover_every_element() {
        for n in 0..80usize {
            let a: [f32; 80] = core::array::from_fn(|i| (i + 1) as f32);
            let b: [f32; 80] = core::array::from_fn(|i| (i % 3) as f32);
            let want_sum: f32 = a[..n].iter().sum();
            let want_dot: f32 = a[..n].iter().zip(&b[..n]).map(|(x, y)| x * y).sum();
            // Small integers: every partial sum is exact, so any order agrees.
            assert_eq!(sum(&a[..n]), want_sum);
            assert_eq!(dot(&a[..n], &b[..n]), want_dot);
        }
    }

    #[test]
    fn mul_add_detects_overflow() {
        assert_eq!(mul_add(3, 4, 5), Some(17));
        assert_eq!(mul_add(usize::MAX, 2, 0), None);
        assert_eq!(mul_add(usize::MAX, 1, 1), None);
    }
}

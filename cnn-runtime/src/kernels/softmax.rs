//! Softmax over the feature vector and over channels.

use super::shape::ChwShape;
use super::window::sum;

/// PyTorch's NaN-propagating maximum: once the running value is NaN nothing
/// compares greater, so it sticks.
#[inline(always)]
fn nan_max(acc: f32, x: f32) -> f32 {
    if x > acc || x.is_nan() {
        x
    } else {
        acc
    }
}

/// Softmax over the whole slice (the feature dimension of a flat tensor).
///
/// As PyTorch: the maximum is subtracted first so `exp` cannot overflow, and
/// the exponentials are scaled by the reciprocal of their sum. Any NaN input
/// makes every output NaN, and so does `+inf` (`inf - inf` is NaN), both as
/// in PyTorch.
pub fn softmax(x: &mut [f32]) {
    let max = x.iter().fold(f32::NEG_INFINITY, |m, &v| nan_max(m, v));
    for v in x.iter_mut() {
        *v = libm::expf(*v - max);
    }
    let scale = 1.0 / sum(x);
    for v in x.iter_mut() {
        *v *= scale;
    }
}

/// Softmax over channels (dim 1 of NCHW) at every pixel, in place.
pub fn softmax_channels<const C: usize, const H: usize, const W: usize>(x: &mut [[[f32; W]; H]; C]) {
    let shape = const {
        let shape = ChwShape { c: C, h: H, w: W };
        shape.assert_valid();
        shape
    };
    softmax_channels_kernel(&shape, x.as_flattened_mut().as_flattened_mut());
}

/// Pixels per block in [`softmax_channels_core`]: the per-pixel maxima and
/// sums live in stack arrays this long (no heap), and 64 lanes are plenty
/// for vectorising across pixels.
const BLOCK: usize = 64;

/// The run-time-shaped core of [`softmax_channels`], on a flat CHW slice.
///
/// A pixel's channels are a whole plane apart, so a per-pixel loop would
/// be strided and scalar. Instead it works on blocks of neighbouring pixels,
/// walking each channel's contiguous run: maxima, then exponentials and
/// sums, then scaling, each pass a vectorisable loop across pixels.
///
/// # Panics
///
/// If the shape fails [`ChwShape::check`] or the slice length does not
/// match it; neither can happen through [`softmax_channels`].
#[inline(always)]
pub fn softmax_channels_core(shape: &ChwShape, x: &mut [f32]) {
    if let Err(message) = shape.check() {
        panic!("softmax_channels: {}", message);
    }
    softmax_channels_kernel(shape, x);
}

/// [`softmax_channels_core`] minus the geometry check: what the shaped wrapper calls,
/// having checked its geometry at compile time. A run-time `check()` call
/// would survive in the wrapper (LLVM does not always inline it) although
/// its result is known, so it is skipped rather than left to the optimiser.
#[inline(always)]
fn softmax_channels_kernel(shape: &ChwShape, x: &mut [f32]) {
    assert_eq!(x.len(), shape.len(), "softmax_channels: tensor length");

    let plane = shape.plane_len();
    let mut start = 0;
    while start < plane {
        let n = BLOCK.min(plane - start);
        let mut max = [f32::NEG_INFINITY; BLOCK];
        let mut total = [0.0f32; BLOCK];
        let (max, total) = (&mut max[..n], &mut total[..n]);
        for channel in x.chunks_exact(plane) {
            for (m, &v) in max.iter_mut().zip(&channel[start..start + n]) {
                *m = nan_max(*m, v);
            }
        }
        for channel in x.chunks_exact_mut(plane) {
            let values = channel[start..start + n].iter_mut();
            for ((v, &m), t) in values.zip(&*max).zip(total.iter_mut()) {
                *v = libm::expf(*v - m);
                *t += *v;
            }
        }
        for t in total.iter_mut() {
            *t = 1.0 / *t;
        }
        for channel in x.chunks_exact_mut(plane) {
            for (v, &s) in channel[start..start + n].iter_mut().zip(&*total) {
                *v *= s;
            }
        }
        start += n;
    }
}

#[cfg(test)]
mod tests {
    extern crate alloc;

    use super::*;
    use crate::kernels::reference;
    use crate::kernels::test_util::{assert_close, fill};
    use alloc::vec::Vec;
    use proptest::prelude::*;

    const NAN: f32 = f32::NAN;
    const INF: f32 = f32::INFINITY;

    /// The exponentials are bit-identical on both sides (same libm call on
    /// the same exact difference); only the order of the all-positive sum
    /// and reciprocal-versus-division differ, so the error is relative to
    /// each output itself.
    fn assert_softmax_close(got: &[f32], want: &[f32], n: usize) {
        let scale: Vec<f32> = want.iter().map(|v| v.abs()).collect();
        assert_close(got, want, &scale, n + 2);
    }

    fn values(len: impl Strategy<Value = usize>) -> impl Strategy<Value = Vec<f32>> {
        len.prop_flat_map(|n| proptest::collection::vec(-20.0f32..20.0, n))
    }

    proptest! {
        #[test]
        fn matches_reference(x in values(1..=70usize)) {
            let mut got = x.clone();
            softmax(&mut got);
            let mut want = x.clone();
            reference::softmax(&mut want);
            assert_softmax_close(&got, &want, x.len());
            let total: f32 = got.iter().sum();
            prop_assert!((total - 1.0).abs() < 1e-5);
        }

        #[test]
        fn channels_match_reference(
            (shape, x) in (1..=6usize, 1..=12usize, 1..=12usize)
                .prop_map(|(c, h, w)| ChwShape { c, h, w })
                .prop_flat_map(|s| (Just(s), proptest::collection::vec(-20.0f32..20.0, s.len())))
        ) {
            let mut got = x.clone();
            softmax_channels_core(&shape, &mut got);
            let mut want = x.clone();
            reference::softmax_channels(&shape, &mut want);
            assert_softmax_close(&got, &want, shape.c);
        }
    }

    #[test]
    fn large_equal_inputs_do_not_overflow() {
        let mut x = [1000.0f32, 1000.0];
        softmax(&mut x);
        assert_eq!(x, [0.5, 0.5]);
        let mut x = [-1000.0f32, -1000.0, -1000.0, -1000.0];
        softmax(&mut x);
        assert_eq!(x, [0.25; 4]);
    }

    #[test]
    fn special_values_as_pytorch() {
        let mut x = [1.0, NAN, 2.0];
        softmax(&mut x);
        assert!(x.iter().all(|v| v.is_nan()), "{x:?}");
        // +inf: inf - inf is NaN, which poisons the sum.
        let mut x = [INF, 1.0];
        softmax(&mut x);
        assert!(x.iter().all(|v| v.is_nan()), "{x:?}");
        // -inf simply gets probability 0.
        let mut x = [-INF, 0.0];
        softmax(&mut x);
        assert_eq!(x, [0.0, 1.0]);
        softmax(&mut []);
    }

    #[test]
    fn channels_wrapper_by_pixel() {
        // 3 channels over a 9x10 plane (90 pixels: a full block and a
        // partial one), checked pixel by pixel against the vector softmax.
        let mut x = [[[0.0f32; 10]; 9]; 3];
        fill(31, x.as_flattened_mut().as_flattened_mut());
        x[1][8][9] = NAN;
        x[0][0][0] = 1000.0;
        x[2][0][0] = 1000.0;
        let original = x;
        softmax_channels(&mut x);
        for r in 0..9 {
            for c in 0..10 {
                let mut pixel = [original[0][r][c], original[1][r][c], original[2][r][c]];
                softmax(&mut pixel);
                let got = [x[0][r][c], x[1][r][c], x[2][r][c]];
                assert_softmax_close(&got, &pixel, 3);
            }
        }
        assert!(x[0][8][9].is_nan() && x[2][8][9].is_nan());
        assert_eq!([x[0][0][0], x[2][0][0]], [0.5, 0.5]);
    }
}

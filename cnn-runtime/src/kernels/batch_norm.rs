//! Batch normalisation at inference (PyTorch `BatchNorm2d` in eval mode).

use super::shape::ChwShape;

/// BatchNorm2d inference, in place:
/// `y = (x - mean) / sqrt(var + eps) * weight + bias`.
///
/// `weight`/`bias` are `None` for `affine=False` (taken as 1 and 0).
/// Computed as PyTorch's CPU kernel does, folded per channel into one
/// multiply-add: `alpha = weight * (1 / sqrt(var + eps))`,
/// `beta = bias - mean * alpha`, `y = x * alpha + beta`.
pub fn batch_norm2d<const C: usize, const H: usize, const W: usize>(
    x: &mut [[[f32; W]; H]; C],
    weight: Option<&[f32; C]>,
    bias: Option<&[f32; C]>,
    running_mean: &[f32; C],
    running_var: &[f32; C],
    eps: f32,
) {
    let shape = const {
        let shape = ChwShape { c: C, h: H, w: W };
        shape.assert_valid();
        shape
    };
    batch_norm2d_kernel(
        &shape,
        x.as_flattened_mut().as_flattened_mut(),
        weight.map(|w| w.as_slice()),
        bias.map(|b| b.as_slice()),
        running_mean,
        running_var,
        eps,
    );
}

/// The run-time-shaped core of [`batch_norm2d`], on a flat CHW slice.
///
/// # Panics
///
/// If the shape fails [`ChwShape::check`] or a slice length does not match
/// it; neither can happen through [`batch_norm2d`].
#[inline(always)]
pub fn batch_norm2d_core(
    shape: &ChwShape,
    x: &mut [f32],
    weight: Option<&[f32]>,
    bias: Option<&[f32]>,
    running_mean: &[f32],
    running_var: &[f32],
    eps: f32,
) {
    if let Err(message) = shape.check() {
        panic!("batch_norm2d: {}", message);
    }
    batch_norm2d_kernel(shape, x, weight, bias, running_mean, running_var, eps);
}

/// [`batch_norm2d_core`] minus the geometry check: what the shaped wrapper calls,
/// having checked its geometry at compile time. A run-time `check()` call
/// would survive in the wrapper (LLVM does not always inline it) although
/// its result is known, so it is skipped rather than left to the optimiser.
#[inline(always)]
fn batch_norm2d_kernel(
    shape: &ChwShape,
    x: &mut [f32],
    weight: Option<&[f32]>,
    bias: Option<&[f32]>,
    running_mean: &[f32],
    running_var: &[f32],
    eps: f32,
) {
    assert_eq!(x.len(), shape.len(), "batch_norm2d: tensor length");
    assert_eq!(running_mean.len(), shape.c, "batch_norm2d: running_mean length");
    assert_eq!(running_var.len(), shape.c, "batch_norm2d: running_var length");
    if let Some(weight) = weight {
        assert_eq!(weight.len(), shape.c, "batch_norm2d: weight length");
    }
    if let Some(bias) = bias {
        assert_eq!(bias.len(), shape.c, "batch_norm2d: bias length");
    }

    let planes = x.chunks_exact_mut(shape.plane_len());
    let stats = running_mean.iter().zip(running_var);
    for (c, (plane, (&mean, &var))) in planes.zip(stats).enumerate() {
        // PyTorch takes the reciprocal square root first and then scales by
        // the weight; doing the same keeps the rounding identical.
        let inv_std = 1.0 / libm::sqrtf(var + eps);
        let alpha = inv_std * weight.map_or(1.0, |w| w[c]);
        let beta = bias.map_or(0.0, |b| b[c]) - mean * alpha;
        for v in plane {
            *v = *v * alpha + beta;
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate alloc;

    use super::*;
    use crate::kernels::reference;
    use crate::kernels::test_util::{assert_close, data, fill};
    use alloc::vec;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    type Params = (Option<Vec<f32>>, Option<Vec<f32>>, Vec<f32>, Vec<f32>, f32);

    /// Compares with the reference, which normalises first: `(x - mean)`
    /// then scales. The folded form instead cancels `x * alpha` against
    /// `mean * alpha`, so its error scales with those magnitudes (plus the
    /// bias), over a handful of roundings (`terms`).
    fn check_against_reference(shape: &ChwShape, x: &[f32], params: &Params, got: &[f32]) {
        let (weight, bias, mean, var, eps) = params;
        let mut want = x.to_vec();
        reference::batch_norm2d(shape, &mut want, weight.as_deref(), bias.as_deref(), mean, var, *eps);
        let plane = shape.plane_len();
        let scale: Vec<f32> = x
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let c = i / plane;
                let alpha = (weight.as_ref().map_or(1.0, |w| w[c]) / libm::sqrtf(var[c] + eps)).abs();
                (v.abs() + mean[c].abs()) * alpha + bias.as_ref().map_or(0.0, |b| b[c].abs())
            })
            .collect();
        assert_close(got, &want, &scale, 6);
    }

    fn case() -> impl Strategy<Value = (ChwShape, Vec<f32>, Params)> {
        (1..=6usize, 1..=8usize, 1..=8usize)
            .prop_map(|(c, h, w)| ChwShape { c, h, w })
            .prop_flat_map(|shape| {
                let c = shape.c;
                let params = (
                    proptest::option::of(data(c)),
                    proptest::option::of(data(c)),
                    data(c),
                    proptest::collection::vec(0.0f32..2.0, c),
                    prop_oneof![Just(1e-5f32), Just(1e-3f32)],
                );
                (Just(shape), data(shape.len()), params)
            })
    }

    proptest! {
        #[test]
        fn core_matches_reference((shape, x, params) in case()) {
            let (weight, bias, mean, var, eps) = &params;
            let mut got = x.clone();
            batch_norm2d_core(&shape, &mut got, weight.as_deref(), bias.as_deref(), mean, var, *eps);
            check_against_reference(&shape, &x, &params, &got);
        }
    }

    #[test]
    fn wrapper_matches_reference() {
        let mut x = [[[0.0f32; 5]; 4]; 3];
        fill(21, x.as_flattened_mut().as_flattened_mut());
        let original: Vec<f32> = x.as_flattened().as_flattened().to_vec();
        let params: Params = (
            Some(vec![0.5, -2.0, 1.0]),
            None,
            vec![0.1, -0.3, 0.0],
            vec![1.0, 0.25, 4.0],
            1e-5,
        );
        let weight = [0.5, -2.0, 1.0];
        batch_norm2d(&mut x, Some(&weight), None, &[0.1, -0.3, 0.0], &[1.0, 0.25, 4.0], 1e-5);
        let shape = ChwShape { c: 3, h: 4, w: 5 };
        check_against_reference(&shape, &original, &params, x.as_flattened().as_flattened());
    }

    #[test]
    fn by_hand() {
        // var 3 + eps 1 = 4: alpha = 2 * 0.5 = 1, beta = 1 - 2 * 1 = -1.
        let mut x = [[[2.0f32, 4.0]], [[2.0, 4.0]]];
        batch_norm2d(
            &mut x,
            Some(&[2.0, 1.0]),
            Some(&[1.0, 0.0]),
            &[2.0, 0.0],
            &[3.0, 0.0],
            1.0,
        );
        assert_eq!(x, [[[1.0, 3.0]], [[2.0, 4.0]]]);
        // affine=False: pure standardisation.
        let mut x = [[[5.0f32, 1.0]]];
        batch_norm2d(&mut x, None, None, &[3.0], &[4.0], 0.0);
        assert_eq!(x, [[[1.0, -1.0]]]);
    }
}

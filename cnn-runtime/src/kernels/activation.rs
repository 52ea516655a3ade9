//! Element-wise activations, in place over a flat slice (generated code
//! flattens any tensor to `&mut [f32]` for these).
//!
//! Each is a branch-free select or a single libm call per element, so LLVM
//! vectorises the selects; NaN passes through wherever PyTorch lets it.

/// ReLU, `max(x, 0)` with NaN kept as NaN (as PyTorch).
///
/// Written as a comparison rather than `f32::max`, which returns the
/// non-NaN operand and would turn NaN into 0.
pub fn relu(x: &mut [f32]) {
    for v in x {
        *v = if *v < 0.0 { 0.0 } else { *v };
    }
}

/// ReLU6, `clamp(x, 0, 6)` with NaN kept as NaN.
pub fn relu6(x: &mut [f32]) {
    for v in x {
        // Unlike `max`/`min`, `f32::clamp` returns NaN for NaN.
        *v = v.clamp(0.0, 6.0);
    }
}

/// Leaky ReLU: `x` if `x > 0`, else `x * negative_slope` (NaN stays NaN).
pub fn leaky_relu(x: &mut [f32], negative_slope: f32) {
    for v in x {
        *v = if *v > 0.0 { *v } else { *v * negative_slope };
    }
}

/// Logistic sigmoid, `1 / (1 + exp(-x))`.
///
/// This form saturates cleanly: for very negative `x`, `exp(-x)` is `inf`
/// and the result `0`; for very positive, `exp(-x)` is `0` and the result
/// `1`. The tempting `exp(x) / (1 + exp(x))` would give `inf / inf = NaN`.
pub fn sigmoid(x: &mut [f32]) {
    for v in x {
        *v = 1.0 / (1.0 + libm::expf(-*v));
    }
}

/// Hyperbolic tangent (`libm::tanhf`, since `f32::tanh` needs std).
pub fn tanh(x: &mut [f32]) {
    for v in x {
        *v = libm::tanhf(*v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAN: f32 = f32::NAN;
    const INF: f32 = f32::INFINITY;

    /// Exact comparison with NaN equal to NaN.
    fn same(got: &[f32], want: &[f32]) -> bool {
        got.len() == want.len() && got.iter().zip(want).all(|(a, b)| a == b || (a.is_nan() && b.is_nan()))
    }

    #[test]
    fn relu_family_by_hand_keeping_nan() {
        let mut x = [NAN, -1.0, 0.0, 2.5, -INF, INF];
        relu(&mut x);
        assert!(same(&x, &[NAN, 0.0, 0.0, 2.5, 0.0, INF]), "{x:?}");

        let mut x = [NAN, -1.0, 3.0, 7.0, -INF, INF, 6.0];
        relu6(&mut x);
        assert!(same(&x, &[NAN, 0.0, 3.0, 6.0, 0.0, 6.0, 6.0]), "{x:?}");

        let mut x = [NAN, -2.0, 3.0, 0.0, -INF];
        leaky_relu(&mut x, 0.1);
        assert!(same(&x, &[NAN, -2.0 * 0.1, 3.0, 0.0, -INF]), "{x:?}");
    }

    #[test]
    fn sigmoid_saturates_without_nan() {
        let mut x = [-1000.0, 1000.0, -INF, INF, 0.0, NAN];
        sigmoid(&mut x);
        assert!(same(&x, &[0.0, 1.0, 0.0, 1.0, 0.5, NAN]), "{x:?}");
        let mut x = [2.0f32];
        sigmoid(&mut x);
        assert!((x[0] - 0.880_797_1).abs() < 1e-6);
    }

    #[test]
    fn tanh_values() {
        let mut x = [0.0, 1.0, -1.0, 20.0, -INF, NAN];
        tanh(&mut x);
        assert!((x[1] - 0.761_594_2).abs() < 1e-6);
        assert_eq!(x[2], -x[1]);
        assert!(same(&[x[0], x[3], x[4]], &[0.0, 1.0, -1.0]));
        assert!(x[5].is_nan());
    }

    #[test]
    fn empty_slices_are_fine() {
        relu(&mut []);
        relu6(&mut []);
        leaky_relu(&mut [], 0.2);
        sigmoid(&mut []);
        tanh(&mut []);
    }
}

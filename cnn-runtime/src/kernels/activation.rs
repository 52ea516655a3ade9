//! Element-wise activations, in place over a flat slice (generated code
//! flattens any tensor to `&mut [f32]` for these).
//!
//! Each is a branch-free select or a single libm call per element, so LLVM
//! vectorises the selects; NaN passes through wherever PyTorch lets it.
//! The selects are also compiled for AVX-512 and AVX2 and picked at run time
//! (see [`super::isa`]): the same source, so the same NaN semantics.

#[cfg(target_arch = "x86_64")]
use super::epilogue::Activation;
use super::isa::{self, Isa};
#[cfg(target_arch = "x86_64")]
use super::simd::{Avx2, Avx512, Simd};

/// Runs `$body` (a loop over `$x`) compiled for the best instruction set
/// the CPU has.
macro_rules! multiversion {
    ($x:ident, $body:block) => {{
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512($x: &mut [f32]) $body
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2($x: &mut [f32]) $body
        #[inline(always)]
        fn portable($x: &mut [f32]) $body
        match isa::active() {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `isa::active` returns Avx512 only if the CPU has AVX-512F.
            Isa::Avx512 => unsafe { avx512($x) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `isa::active` returns Avx2 only if the CPU has AVX2 and FMA.
            Isa::Avx2 => unsafe { avx2($x) },
            _ => portable($x),
        }
    }};
}

/// ReLU, `max(x, 0)` with NaN kept as NaN (as PyTorch).
///
/// Written as a comparison rather than `f32::max`, which returns the
/// non-NaN operand and would turn NaN into 0.
pub fn relu(x: &mut [f32]) {
    match isa::active() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa::active` returns Avx512 only if the CPU has AVX-512F.
        Isa::Avx512 => unsafe { relu_avx512(x) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa::active` returns Avx2 only if the CPU has AVX2 and FMA.
        Isa::Avx2 => unsafe { relu_avx2(x) },
        _ => relu_loop(x),
    }
}

#[inline(always)]
fn relu_loop(x: &mut [f32]) {
    for v in x {
        *v = if *v < 0.0 { 0.0 } else { *v };
    }
}

/// [`relu_loop`] with explicit vectors, through the fused epilogue's ReLU
/// ([`Activation::apply_vec`]), so the standalone and fused kernels share one
/// vector op: compiled for AVX2, LLVM turns the loop's select into a
/// conditional store (`vmaskmovps`), which AMD CPUs run in microcode, ten
/// times slower than a plain store (MobileNet's 200 K element ReLU: 84 µs).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn relu_vectors<S: Simd>(s: S, x: &mut [f32]) {
    let mut chunks = x.chunks_exact_mut(S::LANES);
    for chunk in &mut chunks {
        let p = chunk.as_mut_ptr();
        // SAFETY: `p` points to the `LANES` floats of this chunk.
        unsafe { s.store(p, Activation::Relu.apply_vec(s, s.load(p))) };
    }
    relu_loop(chunks.into_remainder());
}

/// [`relu_vectors`] on AVX2.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn relu_avx2(x: &mut [f32]) {
    // SAFETY: the caller guarantees AVX2 and FMA.
    relu_vectors(unsafe { Avx2::new_unchecked() }, x)
}

/// [`relu_vectors`] on AVX-512F.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn relu_avx512(x: &mut [f32]) {
    // SAFETY: the caller guarantees AVX-512F.
    relu_vectors(unsafe { Avx512::new_unchecked() }, x)
}

/// ReLU6, `clamp(x, 0, 6)` with NaN kept as NaN.
pub fn relu6(x: &mut [f32]) {
    multiversion!(x, {
        for v in x {
            // Unlike `max`/`min`, `f32::clamp` returns NaN for NaN.
            *v = v.clamp(0.0, 6.0);
        }
    })
}

/// Leaky ReLU: `x` if `x > 0`, else `x * negative_slope` (NaN stays NaN).
pub fn leaky_relu(x: &mut [f32], negative_slope: f32) {
    let slope = negative_slope;
    match isa::active() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa::active` returns Avx512 only if the CPU has AVX-512F.
        Isa::Avx512 => unsafe { leaky_relu_avx512(x, slope) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa::active` returns Avx2 only if the CPU has AVX2 and FMA.
        Isa::Avx2 => unsafe { leaky_relu_avx2(x, slope) },
        _ => leaky_relu_loop(x, slope),
    }
}

#[inline(always)]
fn leaky_relu_loop(x: &mut [f32], negative_slope: f32) {
    for v in x {
        *v = if *v > 0.0 { *v } else { *v * negative_slope };
    }
}

/// [`leaky_relu_loop`] compiled for AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn leaky_relu_avx512(x: &mut [f32], negative_slope: f32) {
    leaky_relu_loop(x, negative_slope)
}

/// [`leaky_relu_loop`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn leaky_relu_avx2(x: &mut [f32], negative_slope: f32) {
    leaky_relu_loop(x, negative_slope)
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
    extern crate alloc;

    use super::*;
    use crate::kernels::isa::for_each_isa;

    const NAN: f32 = f32::NAN;
    const INF: f32 = f32::INFINITY;

    /// Exact comparison with NaN equal to NaN.
    fn same(got: &[f32], want: &[f32]) -> bool {
        got.len() == want.len() && got.iter().zip(want).all(|(a, b)| a == b || (a.is_nan() && b.is_nan()))
    }

    #[test]
    fn relu_family_by_hand_keeping_nan() {
        for_each_isa(|_| relu_family_once());
    }

    /// Long slices (whole vectors, then a tail) with NaN, infinities and
    /// signed zeros in every lane position, on every instruction set.
    #[test]
    fn relu_family_long_slices() {
        let pattern = [NAN, -1.5, 0.0, -0.0, 2.5, -INF, INF, 6.5, 3.0, -7.0, 1e-30];
        let input: alloc::vec::Vec<f32> = (0..100)
            .map(|i| pattern[i % pattern.len()] * (1 + i % 3) as f32)
            .collect();
        for_each_isa(|_| {
            let mut x = input.clone();
            relu(&mut x);
            for (&got, &v) in x.iter().zip(&input) {
                let want = if v < 0.0 { 0.0 } else { v };
                assert!(
                    got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                    "relu({v}) = {got}"
                );
            }
            let mut x = input.clone();
            relu6(&mut x);
            for (&got, &v) in x.iter().zip(&input) {
                assert!(
                    got == v.clamp(0.0, 6.0) || (got.is_nan() && v.is_nan()),
                    "relu6({v}) = {got}"
                );
            }
            let mut x = input.clone();
            leaky_relu(&mut x, 0.25);
            for (&got, &v) in x.iter().zip(&input) {
                let want = if v > 0.0 { v } else { v * 0.25 };
                assert!(
                    got == want || (got.is_nan() && want.is_nan()),
                    "leaky_relu({v}) = {got}"
                );
            }
        });
    }

    fn relu_family_once() {
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

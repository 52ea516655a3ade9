//! Activations fused into the store of a convolution's or linear layer's
//! outputs: the values are still in registers, so a following ReLU costs a
//! vector max instead of another pass over the tensor.

use super::simd::Simd;

/// The element-wise activation a layer applies to its outputs as it stores
/// them, with exactly the semantics of the standalone kernels
/// ([`relu`](super::relu), [`relu6`](super::relu6),
/// [`leaky_relu`](super::leaky_relu)): NaN stays NaN, as in PyTorch.
///
/// ```
/// use cnn_runtime::kernels::Activation;
/// assert_eq!(Activation::Relu.apply(-2.0), 0.0);
/// assert!(Activation::Relu.apply(f32::NAN).is_nan());
/// assert_eq!(Activation::Relu6.apply(7.0), 6.0);
/// assert_eq!(Activation::LeakyRelu(0.5).apply(-2.0), -1.0);
/// assert_eq!(Activation::Identity.apply(-2.0), -2.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// No activation: outputs are stored as computed.
    Identity,
    /// `max(x, 0)`, NaN kept.
    Relu,
    /// `clamp(x, 0, 6)`, NaN kept.
    Relu6,
    /// `x` if `x > 0`, else `x * negative_slope`.
    LeakyRelu(f32),
}

impl Activation {
    /// The activation of one value, written as the standalone kernels'
    /// loops are (so the two agree bit for bit).
    #[inline(always)]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Identity => x,
            Activation::Relu => {
                if x < 0.0 {
                    0.0
                } else {
                    x
                }
            }
            Activation::Relu6 => x.clamp(0.0, 6.0),
            Activation::LeakyRelu(slope) => {
                if x > 0.0 {
                    x
                } else {
                    x * slope
                }
            }
        }
    }

    /// [`Activation::apply`] on every lane, with the same results (see
    /// [`Simd::floor_at`] for why `vmaxps` keeps NaN and `-0.0`).
    #[inline(always)]
    pub(crate) fn apply_vec<S: Simd>(self, s: S, v: S::V) -> S::V {
        match self {
            Activation::Identity => v,
            Activation::Relu => s.floor_at(v, s.zero()),
            Activation::Relu6 => s.ceil_at(s.floor_at(v, s.zero()), s.splat(6.0)),
            Activation::LeakyRelu(slope) => s.leaky(v, s.splat(slope)),
        }
    }

    /// [`Activation::apply_vec`] on a whole register tile. The activation
    /// is matched once, outside the fixed-size loops, so the tile stays in
    /// registers (a match per vector inside a store loop made LLVM keep the
    /// accumulators in memory).
    #[inline(always)]
    pub(crate) fn apply_tile<S: Simd, const M: usize, const N: usize>(self, s: S, tile: &mut [[S::V; N]; M]) {
        match self {
            Activation::Identity => {}
            Activation::Relu => {
                let zero = s.zero();
                for row in tile.iter_mut() {
                    for v in row.iter_mut() {
                        *v = s.floor_at(*v, zero);
                    }
                }
            }
            Activation::Relu6 => {
                let (zero, six) = (s.zero(), s.splat(6.0));
                for row in tile.iter_mut() {
                    for v in row.iter_mut() {
                        *v = s.ceil_at(s.floor_at(*v, zero), six);
                    }
                }
            }
            Activation::LeakyRelu(slope) => {
                let slope = s.splat(slope);
                for row in tile.iter_mut() {
                    for v in row.iter_mut() {
                        *v = s.leaky(*v, slope);
                    }
                }
            }
        }
    }

    /// [`Activation::apply`] over a slice, in place.
    #[inline(always)]
    pub(crate) fn apply_slice(self, x: &mut [f32]) {
        if self != Activation::Identity {
            for v in x {
                *v = self.apply(*v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::{leaky_relu, relu, relu6};

    const VALUES: [f32; 12] = [
        f32::NAN,
        -f32::NAN,
        -1.5,
        0.0,
        -0.0,
        2.5,
        f32::NEG_INFINITY,
        f32::INFINITY,
        6.0,
        6.5,
        -7.0,
        1e-30,
    ];

    /// The scalar form agrees bit for bit with the standalone kernels.
    #[test]
    fn scalar_matches_the_standalone_kernels() {
        type Kernel = fn(&mut [f32]);
        let cases: [(Activation, Kernel); 4] = [
            (Activation::Identity, |_| {}),
            (Activation::Relu, relu),
            (Activation::Relu6, relu6),
            (Activation::LeakyRelu(0.125), |x| leaky_relu(x, 0.125)),
        ];
        for (act, kernel) in cases {
            let mut want = VALUES;
            kernel(&mut want);
            for (&x, &w) in VALUES.iter().zip(&want) {
                let got = act.apply(x);
                assert!(
                    got.to_bits() == w.to_bits() || (got.is_nan() && w.is_nan()),
                    "{act:?}({x}) = {got}, want {w}"
                );
            }
        }
    }

    /// The vector form agrees with the scalar one on every instruction set.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn vector_matches_scalar() {
        use crate::kernels::isa::{detected, Isa};
        use crate::kernels::simd::{Avx2, Avx512};
        fn check<S: Simd>(s: S) {
            let mut buf = [0.0f32; 16];
            for act in [
                Activation::Identity,
                Activation::Relu,
                Activation::Relu6,
                Activation::LeakyRelu(-0.5),
            ] {
                for chunk in VALUES.chunks(S::LANES.min(VALUES.len())) {
                    buf[..chunk.len()].copy_from_slice(chunk);
                    // SAFETY: `buf` holds 16 >= LANES floats.
                    unsafe {
                        let v = act.apply_vec(s, s.load(buf.as_ptr()));
                        s.store(buf.as_mut_ptr(), v);
                    }
                    for (&x, &got) in chunk.iter().zip(&buf) {
                        let want = act.apply(x);
                        assert!(
                            got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                            "{act:?}({x}) = {got}, want {want}"
                        );
                    }
                }
            }
        }
        if detected() >= Isa::Avx2 {
            // SAFETY: the CPU has AVX2 and FMA.
            check(unsafe { Avx2::new_unchecked() });
        }
        if detected() >= Isa::Avx512 {
            // SAFETY: the CPU has AVX-512F.
            check(unsafe { Avx512::new_unchecked() });
        }
    }
}

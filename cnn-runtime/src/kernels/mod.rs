//! The numeric kernels that generated models call.
//!
//! Tensors are PyTorch's NCHW with batch 1, stored as nested fixed-size
//! arrays: a C×H×W tensor is `[[[f32; W]; H]; C]`. Every shape is a const
//! generic, so a shape mistake is a compile error, not a run-time panic.
//!
//! Each shaped kernel is a thin wrapper: it packs its const parameters into a
//! plain geometry struct (checked at compile time by a `const { }` block) and
//! hands flat slices to a `*_core` function marked `#[inline(always)]`. The
//! core is therefore compiled once per shape with every loop bound a
//! constant, which is what lets LLVM unroll and vectorise it, while one
//! source serves all shapes and stays testable with run-time geometries.
//!
//! [`mod@reference`] holds naive versions written straight from PyTorch's
//! definitions; the tests check every fast core against them, on every
//! instruction set the machine has.
//!
//! # Instruction sets
//!
//! The compute-heavy kernels (convolution, linear, 2×2 pooling, the ReLU
//! family) have paths for x86-64 AVX-512F and AVX2+FMA next to the portable
//! one, chosen at run time: with `std` the CPU is probed once and the answer
//! cached; without it the compile-time target features decide. A build for
//! the default target therefore still uses AVX-512 where the CPU has it.
//!
//! With `std`, the environment variable [`MAX_ISA_VAR`]
//! (`CNN_RUNTIME_MAX_ISA`) caps that choice at `portable`, `avx2` or
//! `avx512`, read once at the first kernel call: to measure or debug a
//! weaker path on a stronger CPU (an unknown value is reported on stderr and
//! ignored; a cap above what the CPU has changes nothing).
//!
//! ```
//! // Run this process's models on AVX2 at most (set before the first
//! // inference; later changes are not seen).
//! std::env::set_var(cnn_runtime::kernels::MAX_ISA_VAR, "avx2");
//! ```
//!
//! The vector code is written once, generic over a small vector trait whose
//! implementors are zero-sized proofs that the CPU supports the instruction
//! set; each instruction set has thin `#[target_feature]` entry points that
//! instantiate it. Weights are read in place, in PyTorch's layout, except by
//! the direct convolution kernel, which reads them transposed to
//! `[input channel, ky, kx][output channel]` in blocks, and the Winograd
//! mode, which reads their filter transforms: generated models lay those
//! out once, when they are built ([`crate::Packed`], [`conv2d_pack`]).
//! Without them the direct kernel transposes chunks per call, and a
//! Winograd layer runs its plan without Winograd. Only per-call tiles
//! (packed input panels, padded input rows, a band's Winograd transforms)
//! are built, on the stack (at most about 215 KiB, the Winograd mode's).
//!
//! A convolution is planned per geometry and instruction set (at compile
//! time for the shaped wrapper) by a cost model fitted to measurements: a
//! register-blocked matrix product over packed im2col panels, a direct
//! kernel with output channels in the vector lanes (no packing, any stride,
//! padding rows skipped), a padded kernel for few channels (output pixels in
//! the lanes, every tap read at a shifted offset from a zero-padded copy of
//! the input: no packing at all), a depthwise kernel, or (3×3 stride 1)
//! Winograd F(2×2, 3×3), whose filter transforms are computed once, when
//! the model is built.
//!
//! The Winograd mode changes the arithmetic (fewer multiplies, different
//! rounding; see the `conv2d::winograd` module notes on non-finite inputs),
//! so it can be switched off: both plans are made at compile time, and with
//! `std`, [`WINOGRAD_VAR`] (`CNN_RUNTIME_WINOGRAD=off` or `on`) chooses,
//! read once like [`MAX_ISA_VAR`] ([`winograd_enabled`] reports it).
//!
//! # Fused activations
//!
//! [`conv2d_fused`] and [`linear_fused`] apply an [`Activation`] (ReLU,
//! ReLU6, LeakyReLU) to each output as it is stored, while it is still in a
//! register; generated code uses them when such an activation directly
//! follows a convolution or linear layer, and emits no pass for it.

mod activation;
mod adaptive_pool;
mod avg_pool;
mod batch_norm;
mod conv2d;
mod epilogue;
mod isa;
pub use isa::{instruction_set, winograd_enabled, MAX_ISA_VAR, WINOGRAD_VAR};
mod linear;
mod max_pool;
pub mod reference;
mod shape;
mod simd;
mod softmax;
#[cfg(test)]
mod test_util;
mod window;

pub use activation::{leaky_relu, relu, relu6, sigmoid, tanh};
pub use adaptive_pool::{adaptive_avg_pool2d, AdaptivePool2dGeometry};
pub use avg_pool::{avg_pool2d, AvgPool2dGeometry};
pub use batch_norm::batch_norm2d;
pub use conv2d::{
    conv2d, conv2d_fused, conv2d_global_avg, conv2d_max_pool2x2, conv2d_pack, conv2d_packed_len, conv2d_prepacked,
    Conv2dGeometry, PackLayout,
};
pub use epilogue::Activation;
pub use linear::{linear, linear_fused, linear_pack, linear_packed_len, linear_prepacked, LinearGeometry};
pub use max_pool::{max_pool2d, min_pool2d, Pool2dGeometry};
pub use shape::ChwShape;
pub use softmax::{softmax, softmax_channels};

// The run-time-shaped cores: public so benchmarks and integration tests can
// drive them with arbitrary geometries, hidden because generated code only
// ever calls the shaped wrappers above.
#[doc(hidden)]
pub use adaptive_pool::adaptive_avg_pool2d_core;
#[doc(hidden)]
pub use avg_pool::avg_pool2d_core;
#[doc(hidden)]
pub use batch_norm::batch_norm2d_core;
#[doc(hidden)]
pub use conv2d::{conv2d_core, conv2d_core_fused};
#[doc(hidden)]
pub use linear::{linear_core, linear_core_fused};
#[doc(hidden)]
pub use max_pool::{max_pool2d_core, min_pool2d_core};
#[doc(hidden)]
pub use softmax::softmax_channels_core;

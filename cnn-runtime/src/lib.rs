//! Statically shaped CNN inference for Rust.
//!
//! `cnn-runtime` is the one crate a user depends on. It holds:
//! - the [`cnn_model!`] macro (re-exported from `cnn-macros`), which turns a
//!   PyTorch-style network description into a struct whose every tensor shape is
//!   checked at compile time;
//! - the [`Model`] trait that generated structs implement;
//! - the [`kernels`] those structs call: ordinary const-generic functions over
//!   nested arrays, each tested against a naive reference;
//! - weight loading from PyTorch `state_dict`s saved as safetensors
//!   ([`Model::from_safetensors`], with the `alloc` feature).
//!
//! Features: `std` (default) and `alloc` for loading weights; `rayon` (off by
//! default, needs `std`) runs [`Model::forward_batch`] across all cores.
//!
//! ```
//! use cnn_runtime::{cnn_model, Model};
//!
//! cnn_model! {
//!     /// A tiny classifier.
//!     pub struct Tiny {
//!         input: [1, 8, 8],
//!         conv: Conv2d(1, 4, 3, padding = 1),
//!         relu: ReLU,
//!         pool: MaxPool2d(2),
//!         flatten: Flatten,
//!         fc: Linear(64, 3),
//!     }
//! }
//!
//! assert_eq!(Tiny::OUTPUT_SHAPE, &[3]);
//! assert_eq!(Tiny::PARAMS, 4 * 9 + 4 + 64 * 3 + 3);
//! ```
#![no_std]
#![deny(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod batch;
#[cfg(feature = "alloc")]
mod header;
pub mod kernels;
mod model;
mod packed;
mod param;
mod scratch;
mod shape_error;
mod summary;
#[cfg(feature = "alloc")]
mod weights;

#[doc(hidden)]
pub mod __private;

/// Generates a statically shaped CNN inference struct from a PyTorch-style
/// description, checking every shape at compile time.
///
/// ```
/// use cnn_runtime::{cnn_model, Model};
///
/// cnn_model! {
///     /// LeNet-5 for 28x28 grayscale digits.
///     pub struct LeNet5 {
///         input: [1, 28, 28],                    // [channels, height, width]
///         conv1: Conv2d(1, 6, 5, padding = 2),   // in, out, kernel_size; then keywords
///         relu1: ReLU,
///         pool1: MaxPool2d(2),                   // stride defaults to kernel_size
///         conv2: Conv2d(6, 16, 5),
///         relu2: ReLU,
///         pool2: MaxPool2d(2),
///         flatten: Flatten,
///         fc1: Linear(400, 120),
///         relu3: ReLU,
///         fc2: Linear(120, 84),
///         relu4: ReLU,
///         fc3: Linear(84, 10),
///     }
/// }
///
/// assert_eq!(LeNet5::OUTPUT_SHAPE, &[10]);
/// assert_eq!(LeNet5::PARAMS, 61_706);
/// assert_eq!(LeNet5::MACS, 416_520);
/// ```
///
/// # The language
///
/// - The first entry is `input: [C, H, W]` (or `input: [N]` for a flat input).
/// - Each layer is `name: Kind` or `name: Kind(args)`, with PyTorch's argument
///   names, positions and defaults: positional arguments first, then
///   `keyword = value`. Pairs are `(h, w)`. `True`/`False` and a leading `nn.`
///   are accepted, so a `torch.nn` definition can be pasted.
/// - The layer name is the `state_dict` prefix (`conv1.weight`). Give another
///   with `#[key = "features.0"]` before the layer (`nn.Sequential` models).
/// - Kinds: `Conv2d(in_channels, out_channels, kernel_size, stride = 1,
///   padding = 0, dilation = 1, groups = 1, bias = true)` (padding may be
///   `"same"` or `"valid"`); `MaxPool2d` / `MinPool2d(kernel_size, stride =
///   kernel_size, padding = 0, dilation = 1, ceil_mode = false)`;
///   `AvgPool2d(kernel_size, stride = kernel_size, padding = 0, ceil_mode =
///   false, count_include_pad = true, divisor_override)`;
///   `AdaptiveAvgPool2d(output_size)`; `Flatten`; `Linear(in_features,
///   out_features, bias = true)`; `BatchNorm2d(num_features, eps = 1e-5,
///   affine = true)`; `Dropout(p)`; `ReLU`; `ReLU6`; `LeakyReLU(negative_slope
///   = 0.01)`; `Sigmoid`; `Tanh`; `Softmax(dim = 1)`.
///
/// # Checks
///
/// Every conv and pool output size `(W + 2P - D*(K-1) - 1) / S + 1` must be a
/// whole number of at least 1. A layer accepts PyTorch's rounding only when it
/// says so: `rounding = "floor"` (conv and pools) or `ceil_mode = true` (pools).
///
/// ```
/// use cnn_runtime::{cnn_model, Model};
///
/// cnn_model! {
///     struct Downsample {
///         input: [8, 32, 32],
///         // (32 + 2 - 3) / 2 + 1 = 16.5: PyTorch floors to 16
///         down: Conv2d(8, 16, 3, stride = 2, padding = 1, rounding = "floor"),
///         pool: MaxPool2d(3, stride = 2, ceil_mode = true),
///     }
/// }
///
/// assert_eq!(Downsample::LAYERS[0].output_shape, &[16, 16, 16]);
/// assert_eq!(Downsample::OUTPUT_SHAPE, &[16, 8, 8]);
/// ```
///
/// Without the opt-in, the build fails with the formula and a fix:
///
/// ```compile_fail
/// cnn_runtime::cnn_model! {
///     struct Net {
///         input: [3, 7, 7],
///         conv2: Conv2d(3, 8, 3, stride = 3), // (7 - 3 + 2*0) / 3 + 1 = 2.33
///     }
/// }
/// # fn main() {}
/// ```
///
/// Channels (`in_channels`, `num_features`), `in_features` against the
/// flattened size, `groups`, kernel and padding sizes, unknown kinds and
/// keywords, duplicate names and keys are all checked, and one build reports
/// every error, each at the argument to change.
pub use cnn_macros::cnn_model;
pub use model::{Model, STACK_SCRATCH_LIMIT};
pub use packed::Packed;
pub use param::{Param, ParamSpec};
pub use scratch::{Scratch, ScratchSpace};
pub use shape_error::{Buffer, ShapeError};
pub use summary::{LayerInfo, Summary};
#[cfg(feature = "alloc")]
pub use weights::{WeightProblem, WeightsError};

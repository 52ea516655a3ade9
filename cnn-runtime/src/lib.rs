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

pub mod kernels;
mod model;
mod param;
mod scratch;
mod shape_error;
mod summary;
#[cfg(feature = "alloc")]
mod weights;

#[doc(hidden)]
pub mod __private;

pub use cnn_macros::cnn_model;
pub use model::Model;
pub use param::{Param, ParamSpec};
pub use scratch::{Scratch, ScratchSpace};
pub use shape_error::{Buffer, ShapeError};
pub use summary::{LayerInfo, Summary};
#[cfg(feature = "alloc")]
pub use weights::{WeightProblem, WeightsError};

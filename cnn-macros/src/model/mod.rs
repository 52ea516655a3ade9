//! The validated model: every tensor shape known, every check passed.
//!
//! [`validate`] is the only way to build one. It is pure (integers and strings,
//! no syn), collects every error it can find, and when it succeeds codegen
//! cannot fail.
//!
//! The model is a list of tensors and the layers between them. Today each layer
//! reads the tensor the previous one wrote; residual (add) and concat branches
//! will give a layer several input tensor ids, and the memory plan already
//! works on tensor ids, not positions.

mod check;
mod layers;
mod memory;
pub mod shape;
mod signature;
mod values;

pub use memory::{MemoryPlan, Place};
pub use values::Hw;

use crate::diag::{Diagnostic, Diagnostics};
use crate::spec::Spec;

/// Largest tensor (activation or weight) a model may hold, in bytes. Sizes stay
/// addressable on 32-bit targets, and absurd descriptions fail here with a
/// message instead of making rustc build gigantic arrays.
pub const MAX_TENSOR_BYTES: u64 = i32::MAX as u64;

/// The shape of a tensor, without the batch dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Channels, height, width.
    Chw { c: u64, h: u64, w: u64 },
    /// A flat feature vector.
    Flat(u64),
}

impl Shape {
    pub fn dims(&self) -> Vec<u64> {
        match *self {
            Shape::Chw { c, h, w } => vec![c, h, w],
            Shape::Flat(n) => vec![n],
        }
    }

    /// Validation has checked that this cannot overflow.
    pub fn numel(&self) -> u64 {
        self.dims().iter().product()
    }
}

/// A 2-D convolution, with padding resolved to explicit top/left and
/// bottom/right amounts ("same" is uneven for even kernels).
#[derive(Debug, Clone, PartialEq)]
pub struct Conv2d {
    pub in_channels: u64,
    pub out_channels: u64,
    pub kernel: Hw<u64>,
    pub stride: Hw<u64>,
    pub pad_before: Hw<u64>,
    pub pad_after: Hw<u64>,
    pub dilation: Hw<u64>,
    pub groups: u64,
    pub bias: bool,
}

/// A pooling window with symmetric padding.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub kernel: Hw<u64>,
    pub stride: Hw<u64>,
    pub padding: Hw<u64>,
    pub dilation: Hw<u64>,
}

/// What a layer computes.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Conv2d(Conv2d),
    MaxPool2d(Window),
    MinPool2d(Window),
    AvgPool2d {
        window: Window,
        count_include_pad: bool,
        /// 0 when unset.
        divisor_override: u64,
    },
    AdaptiveAvgPool2d(Hw<u64>),
    Flatten,
    Linear {
        in_features: u64,
        out_features: u64,
        bias: bool,
    },
    BatchNorm2d {
        features: u64,
        eps: f64,
        affine: bool,
    },
    Dropout,
    ReLU,
    ReLU6,
    LeakyReLU(f64),
    Sigmoid,
    Tanh,
    Softmax,
}

/// Identifies a tensor of the model; 0 is the input.
pub type TensorId = usize;

/// One `state_dict` tensor a layer owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Weight {
    /// The tensor's name inside the layer: `weight`, `bias`, `running_mean`, ...
    pub role: &'static str,
    /// PyTorch's shape for it.
    pub shape: Vec<u64>,
    /// Counted in `PARAMS` (running statistics are not).
    pub trainable: bool,
}

/// A validated layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// The name in the description; also the Rust field prefix.
    pub name: String,
    /// The `state_dict` prefix.
    pub key: String,
    pub op: Op,
    pub input: TensorId,
    pub output: TensorId,
    pub weights: Vec<Weight>,
    pub params: u64,
    pub macs: u64,
    /// Receptive field on the model input; `None` once the tensor is flat.
    pub receptive_field: Option<Hw<u64>>,
    /// The layer as PyTorch would print it, e.g. `Conv2d(1, 6, kernel_size=5, padding=2)`.
    pub description: String,
}

/// A model whose every shape is known and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// `tensors[0]` is the input; layer `i` writes `tensors[layers[i].output]`.
    pub tensors: Vec<Shape>,
    pub layers: Vec<Layer>,
    pub memory: MemoryPlan,
    pub params: u64,
    pub macs: u64,
    /// Every weight value, running statistics included.
    pub weight_values: u64,
}

impl Model {
    pub fn input(&self) -> Shape {
        self.tensors[0]
    }

    pub fn output(&self) -> Shape {
        self.tensors[self.tensors.len() - 1]
    }
}

/// Infers every shape and runs every check. Returns all errors found.
pub fn validate(spec: &Spec) -> Result<Model, Vec<Diagnostic>> {
    let mut diags = Diagnostics::default();
    let model = layers::build(spec, &mut diags);
    match model {
        Some(model) if diags.is_empty() => Ok(model),
        _ => {
            if diags.is_empty() {
                // Every path that yields no model reports why; this keeps the
                // promise of an error, not a panic, if one ever does not.
                diags.error(
                    spec.loc,
                    "internal error: the model could not be built; please report this description",
                );
            }
            Err(diags.into_vec())
        }
    }
}

#[cfg(test)]
mod tests;

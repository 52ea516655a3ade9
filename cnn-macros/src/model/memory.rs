//! Activation memory: which buffer holds each tensor.
//!
//! Two ping-pong buffers suffice for a chain: a layer that needs a separate
//! output (conv, pool, linear) writes to the buffer its input is not in;
//! element-wise layers work in place; Flatten and Dropout only re-view the
//! tensor. The input belongs to the caller and is never written.

// Shape arithmetic on user-written sizes: checked or saturating only.
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

use super::{Layer, Op, Shape, TensorId};

/// Where a tensor lives during inference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The caller's input (read-only).
    Input,
    /// Scratch buffer A.
    A,
    /// Scratch buffer B.
    B,
}

/// How a layer uses memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads one buffer, writes the other.
    OutOfPlace,
    /// Rewrites its tensor.
    InPlace,
    /// Changes only how the tensor is viewed.
    View,
}

pub fn access(op: &Op) -> Access {
    match op {
        Op::Conv2d(_)
        | Op::MaxPool2d(_)
        | Op::MinPool2d(_)
        | Op::AvgPool2d { .. }
        | Op::AdaptiveAvgPool2d(_)
        | Op::Linear { .. } => Access::OutOfPlace,
        Op::Flatten | Op::Dropout => Access::View,
        Op::BatchNorm2d { .. } | Op::ReLU | Op::ReLU6 | Op::LeakyReLU(_) | Op::Sigmoid | Op::Tanh | Op::Softmax => {
            Access::InPlace
        }
    }
}

/// The buffer of every tensor, and the two buffer sizes in floats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryPlan {
    /// Indexed by [`TensorId`].
    pub places: Vec<Place>,
    /// Floats in buffers A and B.
    pub sizes: [u64; 2],
}

impl MemoryPlan {
    pub fn new(tensors: &[Shape], layers: &[Layer]) -> MemoryPlan {
        let mut places = vec![Place::Input; tensors.len()];
        for layer in layers {
            let from = places.get(layer.input).copied().unwrap_or(Place::Input);
            let to = match (access(&layer.op), from) {
                (Access::View, place) => place,
                // The caller's input is read-only: copy into scratch first.
                (Access::InPlace, Place::Input) => Place::A,
                (Access::InPlace, place) => place,
                (Access::OutOfPlace, Place::A) => Place::B,
                (Access::OutOfPlace, Place::Input | Place::B) => Place::A,
            };
            if let Some(slot) = places.get_mut(layer.output) {
                *slot = to;
            }
        }
        let (mut a, mut b) = (0u64, 0u64);
        for (place, shape) in places.iter().zip(tensors) {
            match place {
                Place::Input => {}
                Place::A => a = a.max(shape.numel()),
                Place::B => b = b.max(shape.numel()),
            }
        }
        MemoryPlan { places, sizes: [a, b] }
    }

    /// Validation gives every tensor id a place; the input's is the default.
    pub fn place(&self, tensor: TensorId) -> Place {
        self.places.get(tensor).copied().unwrap_or(Place::Input)
    }
}

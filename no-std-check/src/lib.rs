//! The firmware path, proven: this crate is `#![no_std]`, uses no allocator,
//! and depends on `cnn-runtime` without its `std` and `alloc` features. It
//! embeds the trained MNIST LeNet-5 and classifies a 28x28 image with
//! activations on the stack.
//!
//! Build it alone (`cargo build -p cnn-no-std-check`) so that Cargo does not
//! unify `cnn-runtime`'s features with the rest of the workspace.
#![no_std]
#![deny(missing_docs)]

use cnn_runtime::{cnn_model, Model};

cnn_model! {
    /// LeNet-5 trained on MNIST, weights embedded at compile time.
    pub struct Digits {
        input: [1, 28, 28],
        weights: "../examples/digits/weights.safetensors",
        conv1: Conv2d(1, 6, 5, padding = 2),
        relu1: ReLU,
        pool1: MaxPool2d(2),
        conv2: Conv2d(6, 16, 5),
        relu2: ReLU,
        pool2: MaxPool2d(2),
        flatten: Flatten,
        fc1: Linear(400, 120),
        relu3: ReLU,
        fc2: Linear(120, 84),
        relu4: ReLU,
        fc3: Linear(84, 10),
    }
}

/// The digit in a 28x28 grayscale image of raw pixels (0..=255).
pub fn classify(pixels: &[[u8; 28]; 28]) -> u8 {
    let mut image = [[[0.0f32; 28]; 28]; 1];
    for (row, pixel_row) in image[0].iter_mut().zip(pixels) {
        for (value, pixel) in row.iter_mut().zip(pixel_row) {
            // The normalisation the model was trained with.
            *value = (f32::from(*pixel) / 255.0 - 0.1307) / 0.3081;
        }
    }
    let logits = Digits::embedded().forward(&image);
    let mut best = 0;
    for (digit, logit) in logits.iter().enumerate() {
        if *logit > logits[best] {
            best = digit;
        }
    }
    best as u8
}

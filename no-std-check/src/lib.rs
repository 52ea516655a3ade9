//! The firmware path, proven: this crate is `#![no_std]`, uses no allocator,
//! and depends on `cnn-runtime` without its `std` and `alloc` features. It
//! embeds the trained MNIST LeNet-5 and classifies a 28x28 image (or a batch
//! of them) with activations on the stack.
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

/// The model's input for a 28x28 image of raw pixels (0..=255).
fn normalise(pixels: &[[u8; 28]; 28]) -> [[[f32; 28]; 28]; 1] {
    let mut image = [[[0.0f32; 28]; 28]; 1];
    for (row, pixel_row) in image[0].iter_mut().zip(pixels) {
        for (value, pixel) in row.iter_mut().zip(pixel_row) {
            // The normalisation the model was trained with.
            *value = (f32::from(*pixel) / 255.0 - 0.1307) / 0.3081;
        }
    }
    image
}

/// The digit with the largest logit (the first, on a tie).
fn argmax(logits: &[f32; 10]) -> u8 {
    let mut best = 0;
    for (digit, logit) in logits.iter().enumerate() {
        if *logit > logits[best] {
            best = digit;
        }
    }
    best as u8
}

/// The digit in a 28x28 grayscale image of raw pixels (0..=255).
pub fn classify(pixels: &[[u8; 28]; 28]) -> u8 {
    argmax(&Digits::embedded().forward(&normalise(pixels)))
}

/// The digits of many images, `digits[i]` for `images[i]`, through
/// `forward_batch_with`: groups of 8 images and one scratch on the stack,
/// no allocator.
///
/// # Panics
/// When `digits` and `images` differ in length.
pub fn classify_batch(images: &[[[u8; 28]; 28]], digits: &mut [u8]) {
    const GROUP: usize = 8;
    assert_eq!(images.len(), digits.len(), "one digit per image");
    let mut scratch = [<Digits as Model>::Scratch::new()];
    let mut inputs = [[[[0.0f32; 28]; 28]; 1]; GROUP];
    let mut logits = [[0.0f32; 10]; GROUP];
    for (images, digits) in images.chunks(GROUP).zip(digits.chunks_mut(GROUP)) {
        for (input, pixels) in inputs.iter_mut().zip(images) {
            *input = normalise(pixels);
        }
        let n = images.len();
        Digits::embedded()
            .forward_batch_with(&inputs[..n], &mut scratch, &mut logits[..n])
            .expect("one output per input");
        for (digit, logits) in digits.iter_mut().zip(&logits) {
            *digit = argmax(logits);
        }
    }
}

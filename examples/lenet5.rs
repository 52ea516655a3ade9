//! The main job: a LeNet-5 trained in PyTorch on MNIST, embedded in the binary,
//! classifying the held-out handwritten digits.
//!
//! - The network is described with `cnn_model!`; every shape is checked while
//!   compiling.
//! - `weights: "..."` embeds the trained `state_dict` (saved by PyTorch with
//!   `safetensors.torch.save_file`): the macro checks every tensor name, shape
//!   and dtype at compile time and includes the file as bytes. At run time
//!   there is no file I/O, no parsing and no allocation (the first
//!   `embedded()` call lays out the weights of the direct-kernel convolution
//!   once, into a static buffer).
//! - The 2,000 held-out MNIST test images are classified; the accuracy must
//!   match what the training script reported, and every logit must agree with
//!   PyTorch's.
//!
//! Run: `cargo run --release --example lenet5`
//! Data and training: `examples/digits/README.md`, `scripts/train_digits.py`.

use cnn_runtime::{cnn_model, Model};
use std::error::Error;
use std::time::Instant;

cnn_model! {
    /// LeNet-5 for 28x28 grayscale digits, trained on MNIST.
    pub struct LeNet5 {
        input: [1, 28, 28],                    // [channels, height, width]
        weights: "examples/digits/weights.safetensors",
        conv1: Conv2d(1, 6, 5, padding = 2),   // in, out, kernel_size; then keywords
        relu1: ReLU,
        pool1: MaxPool2d(2),                   // stride defaults to kernel_size
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

/// The held-out split: raw pixels, labels and PyTorch's logits.
const TEST_SET: &[u8] = include_bytes!("digits/test_set.safetensors");
/// What `scripts/train_digits.py` printed for the same 2,000 images.
const PYTORCH_ACCURACY: (usize, usize) = (1968, 2000);
/// Logits must agree with PyTorch's within this fraction of the largest
/// logit: f32 sums in another order move results by a few ulps.
const TOLERANCE: f32 = 1e-5;

/// PyTorch's preprocessing: `(pixel / 255 - mean) / std`, in f32.
fn normalise(pixel: u8) -> f32 {
    (f32::from(pixel) / 255.0 - 0.1307) / 0.3081
}

fn argmax(logits: &[f32]) -> usize {
    let mut best = 0;
    for (i, value) in logits.iter().enumerate() {
        if *value > logits[best] {
            best = i;
        }
    }
    best
}

/// A digit as ASCII art, one character per pixel.
fn ascii(pixels: &[u8]) -> Vec<String> {
    const RAMP: &[u8] = b" .:-=+*#%@";
    pixels
        .chunks(28)
        .map(|row| {
            row.iter()
                .map(|&p| RAMP[usize::from(p) * (RAMP.len() - 1) / 255] as char)
                .collect()
        })
        .collect()
}

fn main() -> Result<(), Box<dyn Error>> {
    let start = Instant::now();
    let model = LeNet5::embedded();
    let load_time = start.elapsed();
    // Later calls reuse what the first one laid out.
    let start = Instant::now();
    let _again = LeNet5::embedded();
    let again = start.elapsed();
    print!("{}", LeNet5::summary());
    println!(
        "weights embedded at compile time; ready in {load_time:?} (no parse, no allocation; the first call \
         lays out conv weights for the direct kernel), {again:?} on a later call\n"
    );

    let file = safetensors::SafeTensors::deserialize(TEST_SET)?;
    let images = file.tensor("images")?;
    let labels = file.tensor("labels")?;
    let reference = file.tensor("logits")?;
    let pytorch: Vec<f32> = reference
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let count = labels.data().len();

    // Normalise every image up front so the timed loop is inference only.
    let inputs: Vec<f32> = images.data().iter().map(|&p| normalise(p)).collect();
    let mut logits = vec![[0.0f32; 10]; count];
    let timer = Instant::now();
    for (input, out) in inputs.chunks_exact(LeNet5::INPUT_LEN).zip(&mut logits) {
        *out = model.forward(LeNet5::input_from_slice(input)?);
    }
    let per_image = timer.elapsed() / u32::try_from(count)?;

    let predictions: Vec<usize> = logits.iter().map(|l| argmax(l)).collect();
    let correct = predictions
        .iter()
        .zip(labels.data())
        .filter(|(p, l)| **p == usize::from(**l))
        .count();
    let worst = logits
        .iter()
        .flatten()
        .zip(&pytorch)
        .map(|(ours, theirs)| (ours - theirs).abs())
        .fold(0.0f32, f32::max);
    let scale = pytorch.iter().fold(0.0f32, |m, x| m.max(x.abs()));

    // A few digits, and the first one the network gets wrong.
    let wrong = (0..count).find(|&i| predictions[i] != usize::from(labels.data()[i]));
    let shown: Vec<usize> = [0, 1, 2].into_iter().chain(wrong).collect();
    let arts: Vec<Vec<String>> = shown
        .iter()
        .map(|&i| ascii(&images.data()[i * 784..(i + 1) * 784]))
        .collect();
    for row in 0..28 {
        let line: Vec<&str> = arts.iter().map(|art| art[row].as_str()).collect();
        println!("  {}", line.join("  |  "));
    }
    let captions: Vec<String> = shown
        .iter()
        .map(|&i| format!("#{i:<4} label {} -> {}", labels.data()[i], predictions[i]))
        .map(|c| format!("{c:<28}"))
        .collect();
    println!("  {}\n", captions.join("  |  "));

    println!(
        "held-out accuracy: {:.4} ({correct}/{count}); PyTorch reported {:.4} ({}/{})",
        correct as f64 / count as f64,
        PYTORCH_ACCURACY.0 as f64 / PYTORCH_ACCURACY.1 as f64,
        PYTORCH_ACCURACY.0,
        PYTORCH_ACCURACY.1
    );
    println!(
        "logits vs PyTorch: max |difference| {worst:.2e} ({:.2e} of the largest logit; tolerance {TOLERANCE:.0e})",
        worst / scale
    );
    println!("time per image: {per_image:?} (one thread, batch 1, no allocation)");

    if (correct, count) != PYTORCH_ACCURACY {
        return Err(format!("accuracy {correct}/{count} differs from PyTorch's").into());
    }
    if worst > TOLERANCE * scale {
        return Err(format!("logits differ from PyTorch's by {worst:e}").into());
    }
    println!("agrees with PyTorch");
    Ok(())
}

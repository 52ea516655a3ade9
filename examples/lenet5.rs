//! The main job: LeNet-5 from a PyTorch `state_dict`, checked against PyTorch.
//!
//! Builds the network with `cnn_model!` (every shape checked at compile time),
//! loads the weights PyTorch saved with `safetensors.torch.save_file`, runs the
//! reference input, prints the summary, and compares the output with the one
//! PyTorch computed (fixtures from `scripts/gen_golden.py`).
//!
//! Run: `cargo run --release --example lenet5`

use cnn_runtime::{cnn_model, Model};
use std::error::Error;
use std::time::Instant;

cnn_model! {
    /// LeNet-5 for 28x28 grayscale digits.
    pub struct LeNet5 {
        input: [1, 28, 28],                    // [channels, height, width]
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

const WEIGHTS: &[u8] = include_bytes!("../tests/fixtures/golden/lenet5.weights.safetensors");
const REFERENCE: &[u8] = include_bytes!("../tests/fixtures/golden/lenet5.io.safetensors");

/// Relative tolerance against PyTorch, scaled by the output's magnitude: f32
/// sums taken in another order differ by a few ulps of the largest partial sum.
const TOLERANCE: f32 = 1e-5;

fn tensor(file: &safetensors::SafeTensors, name: &str) -> Result<Vec<f32>, Box<dyn Error>> {
    let view = file.tensor(name)?;
    Ok(view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

fn main() -> Result<(), Box<dyn Error>> {
    let model = LeNet5::from_safetensors(WEIGHTS)?;
    print!("{}", LeNet5::summary());

    let reference = safetensors::SafeTensors::deserialize(REFERENCE)?;
    let input = tensor(&reference, "input")?;
    let expected = tensor(&reference, "output")?;
    let mut output = [0.0f32; LeNet5::OUTPUT_LEN];
    model.forward_slice(&input, &mut output)?;

    let scale = expected.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let worst = output
        .iter()
        .zip(&expected)
        .map(|(got, want)| (got - want).abs())
        .fold(0.0f32, f32::max);
    println!("\noutput:  {output:.5?}");
    println!("PyTorch: {expected:.5?}");
    println!(
        "max |difference| = {worst:.2e} ({:.2e} of the output scale; tolerance {TOLERANCE:.0e})",
        worst / scale
    );

    // Timing: the typed entry point, scratch on the stack, nothing allocated.
    let image = LeNet5::input_from_slice(&input)?;
    let runs = 2000;
    let start = Instant::now();
    let mut sink = 0.0f32;
    for _ in 0..runs {
        sink += std::hint::black_box(model.forward(std::hint::black_box(image)))[0];
    }
    let per_image = start.elapsed() / runs;
    println!("{runs} inferences: {per_image:?} per image (checksum {sink:.3})");

    if worst > TOLERANCE * scale {
        return Err(format!("output differs from PyTorch by {worst:e}").into());
    }
    println!("agrees with PyTorch");
    Ok(())
}

//! The trained MNIST LeNet-5 on its 2,000 held-out test images: a regression
//! in any kernel, the loader or the embedding shows up here as a changed
//! accuracy or a logit that no longer agrees with PyTorch.

use cnn_runtime::{cnn_model, Model};

cnn_model!(struct Digits = "examples/digits/lenet5.toml");

const TEST_SET: &[u8] = include_bytes!("../examples/digits/test_set.safetensors");
const WEIGHTS: &[u8] = include_bytes!("../examples/digits/weights.safetensors");

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Logits for every held-out image, and the labels and PyTorch's logits.
fn evaluate(model: &Digits) -> (Vec<[f32; 10]>, Vec<u8>, Vec<f32>) {
    let file = safetensors::SafeTensors::deserialize(TEST_SET).expect("test set parses");
    let images = file.tensor("images").expect("images");
    let labels = file.tensor("labels").expect("labels").data().to_vec();
    let pytorch = f32s(file.tensor("logits").expect("logits").data());
    let logits = images
        .data()
        .chunks_exact(784)
        .map(|pixels| {
            let input: Vec<f32> = pixels
                .iter()
                .map(|&p| (f32::from(p) / 255.0 - 0.1307) / 0.3081)
                .collect();
            let mut out = [0.0f32; 10];
            model.forward_slice(&input, &mut out).expect("784 in, 10 out");
            out
        })
        .collect();
    (logits, labels, pytorch)
}

fn argmax(logits: &[f32; 10]) -> u8 {
    let mut best = 0;
    for i in 1..10 {
        if logits[i] > logits[best] {
            best = i;
        }
    }
    best as u8
}

#[test]
fn held_out_accuracy_matches_pytorch() {
    let (logits, labels, pytorch) = evaluate(&Digits::embedded());
    assert_eq!(logits.len(), 2000);
    let correct = logits.iter().zip(&labels).filter(|(l, y)| argmax(l) == **y).count();
    // scripts/train_digits.py: "held-out accuracy: 0.9840 (1968/2000)"
    assert_eq!(correct, 1968);
    // PyTorch's decisions, image by image, not just their count.
    for (i, (ours, theirs)) in logits.iter().zip(pytorch.chunks_exact(10)).enumerate() {
        let theirs: [f32; 10] = theirs.try_into().expect("10 logits");
        assert_eq!(argmax(ours), argmax(&theirs), "image {i}: {ours:?} vs {theirs:?}");
    }
    let scale = pytorch.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let worst = logits
        .iter()
        .flatten()
        .zip(&pytorch)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(worst <= 1e-5 * scale, "max logit difference {worst} (scale {scale})");
}

#[test]
fn embedded_and_loaded_weights_give_identical_logits() {
    let embedded = evaluate(&Digits::embedded()).0;
    let loaded = evaluate(&Digits::from_safetensors(WEIGHTS).expect("weights load")).0;
    assert_eq!(embedded, loaded);
}

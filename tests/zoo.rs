//! The model zoo under `models/`: every description compiles from its TOML
//! file, has the expected shapes and counts, and runs.

use cnn_runtime::{cnn_model, Model, ScratchSpace};

cnn_model!(pub struct LeNet5 = "models/lenet5.toml");
cnn_model!(pub struct CifarVgg = "models/cifar_vgg.toml");
cnn_model!(pub struct MobileNetBlock = "models/mobilenet_block.toml");
cnn_model!(pub struct Vgg16 = "models/vgg16.toml");

/// Small deterministic weights, scaled by fan-in.
fn weight(spec: &cnn_runtime::ParamSpec, index: usize) -> f32 {
    let fan_in: usize = spec.shape.iter().skip(1).product::<usize>().max(1);
    let unit = ((index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) % 2001;
    (unit as f32 / 1000.0 - 1.0) * (3.0 / fan_in as f32).sqrt()
}

fn run<M: Model>() -> Vec<f32> {
    let model = M::from_fn(weight);
    let mut scratch = M::Scratch::new_boxed();
    let input: Vec<f32> = (0..M::INPUT_LEN).map(|i| (i % 97) as f32 / 97.0 - 0.5).collect();
    let mut output = vec![0.0; M::OUTPUT_LEN];
    model
        .forward_slice_with(&input, &mut scratch, &mut output)
        .expect("lengths match");
    assert!(output.iter().all(|x| x.is_finite()), "{}: non-finite output", M::NAME);
    output
}

#[test]
fn lenet5_from_toml_matches_the_inline_description() {
    assert_eq!(LeNet5::INPUT_SHAPE, &[1, 28, 28]);
    assert_eq!(LeNet5::OUTPUT_SHAPE, &[10]);
    assert_eq!(LeNet5::PARAMS, 61_706);
    assert_eq!(LeNet5::MACS, 416_520);
    run::<LeNet5>();
}

#[test]
fn cifar_vgg() {
    assert_eq!(CifarVgg::OUTPUT_SHAPE, &[10]);
    // 3x3 convs: 896 + 9248 + 18496 + 36928 + 73856 + 147584; fc: 524544 + 2570
    assert_eq!(CifarVgg::PARAMS, 814_122);
    assert_eq!(CifarVgg::MACS, 39_160_320); // the issue table's "39.2 M"
    run::<CifarVgg>();
}

#[test]
fn mobilenet_block() {
    assert_eq!(MobileNetBlock::LAYERS[4].output_shape, &[64, 28, 28]);
    assert_eq!(MobileNetBlock::OUTPUT_SHAPE, &[10]);
    assert_eq!(MobileNetBlock::MACS, 36_227_712);
    run::<MobileNetBlock>();
}

#[test]
fn vgg16_from_toml() {
    assert_eq!(Vgg16::PARAMS, 138_357_544);
    assert_eq!(Vgg16::MACS, 15_470_264_320);
    assert_eq!(Vgg16::PARAM_SPECS[0].key, "features.0.weight");
    assert_eq!(Vgg16::PARAM_SPECS[31].key, "classifier.6.bias");
}

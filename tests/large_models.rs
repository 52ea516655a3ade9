//! Large models build and run without overflowing the stack.
//!
//! VGG-16 at 224x224 (138 M parameters, 15.5 G MACs) runs on a 2 MiB thread,
//! the size of a test thread: activations live in a boxed scratch, weights in
//! boxed tensors, and the generated code keeps no large locals.

use cnn_runtime::{cnn_model, Model, ScratchSpace};

cnn_model! {
    /// VGG-16 (configuration D) for 224x224 RGB images.
    pub struct Vgg16 {
        input: [3, 224, 224],
        #[key = "features.0"] conv1_1: Conv2d(3, 64, 3, padding = 1),
        relu1_1: ReLU,
        #[key = "features.2"] conv1_2: Conv2d(64, 64, 3, padding = 1),
        relu1_2: ReLU,
        pool1: MaxPool2d(2),
        #[key = "features.5"] conv2_1: Conv2d(64, 128, 3, padding = 1),
        relu2_1: ReLU,
        #[key = "features.7"] conv2_2: Conv2d(128, 128, 3, padding = 1),
        relu2_2: ReLU,
        pool2: MaxPool2d(2),
        #[key = "features.10"] conv3_1: Conv2d(128, 256, 3, padding = 1),
        relu3_1: ReLU,
        #[key = "features.12"] conv3_2: Conv2d(256, 256, 3, padding = 1),
        relu3_2: ReLU,
        #[key = "features.14"] conv3_3: Conv2d(256, 256, 3, padding = 1),
        relu3_3: ReLU,
        pool3: MaxPool2d(2),
        #[key = "features.17"] conv4_1: Conv2d(256, 512, 3, padding = 1),
        relu4_1: ReLU,
        #[key = "features.19"] conv4_2: Conv2d(512, 512, 3, padding = 1),
        relu4_2: ReLU,
        #[key = "features.21"] conv4_3: Conv2d(512, 512, 3, padding = 1),
        relu4_3: ReLU,
        pool4: MaxPool2d(2),
        #[key = "features.24"] conv5_1: Conv2d(512, 512, 3, padding = 1),
        relu5_1: ReLU,
        #[key = "features.26"] conv5_2: Conv2d(512, 512, 3, padding = 1),
        relu5_2: ReLU,
        #[key = "features.28"] conv5_3: Conv2d(512, 512, 3, padding = 1),
        relu5_3: ReLU,
        pool5: MaxPool2d(2),
        flatten: Flatten,
        #[key = "classifier.0"] fc6: Linear(25088, 4096),
        relu6: ReLU,
        drop6: Dropout(0.5),
        #[key = "classifier.3"] fc7: Linear(4096, 4096),
        relu7: ReLU,
        drop7: Dropout(0.5),
        #[key = "classifier.6"] fc8: Linear(4096, 1000),
    }
}

/// Deterministic weights in [-sqrt(3/fan_in), sqrt(3/fan_in)] (unit variance
/// through each layer), so activations neither vanish nor explode.
fn weight(spec: &cnn_runtime::ParamSpec, index: usize) -> f32 {
    let fan_in: usize = spec.shape.iter().skip(1).product::<usize>().max(1);
    let hashed = (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    let unit = (hashed % 2001) as f32 / 1000.0 - 1.0;
    if spec.key.ends_with(".bias") {
        0.01 * unit
    } else {
        unit * (3.0 / fan_in as f32).sqrt()
    }
}

#[test]
fn vgg16_shapes_and_counts() {
    assert_eq!(Vgg16::PARAMS, 138_357_544); // torchvision's vgg16
    assert_eq!(Vgg16::MACS, 15_470_264_320);
    assert_eq!(Vgg16::OUTPUT_SHAPE, &[1000]);
    // Two ping-pong buffers, each the size of the largest activation (64x224x224).
    assert_eq!(Vgg16::SCRATCH_BYTES, 2 * 64 * 224 * 224 * 4);
}

#[test]
fn vgg16_runs_on_a_2_mib_thread() {
    let run = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let model = Vgg16::from_fn(weight);
            let mut scratch = <Vgg16 as Model>::Scratch::new_boxed();
            let input: Vec<f32> = (0..Vgg16::INPUT_LEN)
                .map(|i| ((i % 255) as f32) / 255.0 - 0.5)
                .collect();
            let mut output = vec![0.0f32; Vgg16::OUTPUT_LEN];
            let result = model.forward_slice_with(&input, &mut scratch, &mut output);
            (result, output)
        })
        .expect("spawn a 2 MiB thread");
    let (result, output) = run.join().expect("VGG-16 overflowed or panicked on a 2 MiB stack");
    assert_eq!(result, Ok(()));
    assert!(output.iter().all(|x| x.is_finite()), "non-finite output");
    let distinct = output.iter().filter(|x| (**x - output[0]).abs() > 1e-6).count();
    assert!(distinct > 900, "output is nearly constant: {:?}", &output[..8]);
}

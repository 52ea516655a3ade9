// Depthwise (groups = channels), with a channel multiplier, and grouped.
use cnn_runtime::{cnn_model, Model};

cnn_model! {
    struct MobileBlock {
        input: [32, 56, 56],
        dw: Conv2d(32, 32, 3, padding = 1, groups = 32),
        relu1: ReLU,
        pw: Conv2d(32, 64, 1),
        relu2: ReLU,
        // stride 2 over an even size leaves a remainder that falls in the padding
        mult: Conv2d(64, 128, 3, stride = 2, padding = 1, groups = 64, rounding = "floor"),
        grouped: Conv2d(128, 64, 1, groups = 4),
    }
}

fn main() {
    assert_eq!(MobileBlock::OUTPUT_SHAPE, &[64, 28, 28]);
    // depthwise: 32 filters of 1x3x3 + 32 biases
    assert_eq!(MobileBlock::LAYERS[0].params, 32 * 9 + 32);
    assert_eq!(MobileBlock::LAYERS[5].params, 64 * 32 + 64);
}

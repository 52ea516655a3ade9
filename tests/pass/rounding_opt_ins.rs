// Each opt-in rounding compiles, and yields PyTorch's sizes.
use cnn_runtime::{cnn_model, Model};

cnn_model! {
    struct Floor {
        input: [3, 7, 7],
        conv: Conv2d(3, 8, 3, stride = 3, rounding = "floor"),
        pool: MaxPool2d(2, rounding = "floor"),
    }
}

cnn_model! {
    struct Ceil {
        input: [3, 7, 7],
        max: MaxPool2d(2, ceil_mode = true),
        avg: AvgPool2d(3, stride = 2, padding = 1, ceil_mode = true),
        min: MinPool2d(2, ceil_mode = true),
    }
}

fn main() {
    assert_eq!(Floor::LAYERS[0].output_shape, &[8, 2, 2]);
    assert_eq!(Floor::OUTPUT_SHAPE, &[8, 1, 1]);
    assert_eq!(Ceil::LAYERS[0].output_shape, &[3, 4, 4]);
    assert_eq!(Ceil::LAYERS[1].output_shape, &[3, 3, 3]);
    assert_eq!(Ceil::OUTPUT_SHAPE, &[3, 2, 2]);
}

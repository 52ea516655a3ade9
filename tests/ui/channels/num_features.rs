use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [3, 8, 8],
        conv: Conv2d(3, 16, 3, padding = 1),
        bn: BatchNorm2d(32),
    }
}

fn main() {}

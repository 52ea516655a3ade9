use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [64],
        bn: BatchNorm2d(64),
    }
}

fn main() {}

// One build reports every independent mistake, without follow-on errors.
use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [1, 28, 28],
        conv1: Conv2d(1, 6, 5, stride = 2),
        conv2: Conv2d(8, 16, 3),
        bn: BatchNorm2d(6),
        fc: Linear(10, 3),
    }
}

fn main() {}

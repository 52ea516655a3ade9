// CS231n: a 7x7 input with a 3x3 filter at stride 3 does not fit.
use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [3, 7, 7],
        conv2: Conv2d(3, 8, 3, stride = 3),
    }
}

fn main() {}

// Dilation widens the window: the formula shows D*(K-1).
use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [1, 10, 10],
        conv: Conv2d(1, 4, 3, stride = 2, dilation = 2),
    }
}

fn main() {}

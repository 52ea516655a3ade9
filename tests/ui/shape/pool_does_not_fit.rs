// A 2x2 max pool over 15x15 leaves a row and a column that no window reads.
use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [3, 30, 30],
        conv: Conv2d(3, 8, 3, padding = 1),
        pool1: MaxPool2d(2),
        pool2: MaxPool2d(2),
    }
}

fn main() {}

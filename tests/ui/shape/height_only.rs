// Only the height has a remainder: the error names that axis alone.
use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [1, 9, 8],
        conv: Conv2d(1, 4, (2, 2), stride = 2),
    }
}

fn main() {}

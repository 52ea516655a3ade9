use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [3, 8, 8],
        conv: Conv2d(3, 8, 3, strides = 1),
        pool: MaxPool2d(2, count_include_pad = false),
        act: ReLU(alpha = 1),
    }
}

fn main() {}

use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [1, 28, 28],
        conv1: Conv2d(1, 6, 5, padding = 2),
        pool1: MaxPool2d(2),
        conv2: Conv2d(8, 16, 5),
    }
}

fn main() {}

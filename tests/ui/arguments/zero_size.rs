use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [3, 8, 8],
        conv: Conv2d(3, 0, 3),
        pool: MaxPool2d(2, stride = 0),
    }
}

fn main() {}

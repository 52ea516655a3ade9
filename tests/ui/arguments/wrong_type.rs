use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [3, 8, 8],
        conv: Conv2d(3, 8, 3, stride = "2", bias = 1),
        pool: MaxPool2d(2, padding = "same"),
        act: LeakyReLU(negative_slope = true),
    }
}

fn main() {}

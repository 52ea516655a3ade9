use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [1, 8, 8],
        conv: Conv2d(1, 4, 3, stride = 2, padding = "same"),
    }
}

fn main() {}

use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [3, 8, 8],
        conv: Conv2d(3, 8, kernel_size => 3),
    }
}

fn main() {}

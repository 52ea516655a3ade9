use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [1, 4, 4],
        conv: Conv2d(1, 4, 5),
    }
}

fn main() {}

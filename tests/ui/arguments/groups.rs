use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [6, 8, 8],
        conv: Conv2d(6, 9, 3, groups = 4),
    }
}

fn main() {}

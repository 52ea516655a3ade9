use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        conv: Conv2d(3, 8, 3),
    }
}

fn main() {}

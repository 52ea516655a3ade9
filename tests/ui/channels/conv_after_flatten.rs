use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [4, 6, 6],
        flatten: Flatten,
        fc: Linear(144, 10),
        conv: Conv2d(10, 4, 1),
    }
}

fn main() {}

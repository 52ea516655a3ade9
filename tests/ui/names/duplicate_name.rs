use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [3, 8, 8],
        conv: Conv2d(3, 8, 3),
        relu: ReLU,
        conv: Conv2d(8, 8, 3),
    }
}

fn main() {}

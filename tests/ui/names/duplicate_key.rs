use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [3, 8, 8],
        #[key = "features.0"]
        conv1: Conv2d(3, 8, 3),
        #[key = "features.0"]
        conv2: Conv2d(8, 8, 3),
    }
}

fn main() {}

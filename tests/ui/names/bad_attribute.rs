use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [3, 8, 8],
        #[name = "features.0"]
        conv: Conv2d(3, 8, 3),
    }
}

fn main() {}

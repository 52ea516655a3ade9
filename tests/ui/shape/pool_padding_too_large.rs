use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [1, 8, 8],
        pool: MaxPool2d(3, stride = 1, padding = 2),
    }
}

fn main() {}

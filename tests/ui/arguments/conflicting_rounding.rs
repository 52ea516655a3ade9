use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [3, 7, 7],
        pool: MaxPool2d(2, rounding = "floor", ceil_mode = true),
        conv: Conv2d(3, 8, 3, rounding = "ceil"),
    }
}

fn main() {}

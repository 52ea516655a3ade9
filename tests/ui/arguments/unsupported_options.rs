use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [3, 8, 8],
        conv: Conv2d(3, 8, 3, padding = 1, padding_mode = "reflect"),
        pool: MaxPool2d(2, return_indices = true),
        bn: BatchNorm2d(8, track_running_stats = false),
        soft: Softmax(dim = 2),
        drop: Dropout(1.5),
    }
}

fn main() {}

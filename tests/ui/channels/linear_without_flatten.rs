use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [16, 5, 5],
        fc1: Linear(400, 120),
    }
}

fn main() {}

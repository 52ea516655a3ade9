use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [16],
        fc: Linear(16, 4, true, 3),
    }
}

fn main() {}

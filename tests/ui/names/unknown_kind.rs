use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [3, 8, 8],
        conv: Conv2D(3, 8, 3),
        act: Relu,
        attn: MultiheadAttention(8, 2),
    }
}

fn main() {}

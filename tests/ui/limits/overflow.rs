// Absurd sizes are errors with a message, never an overflow or a rustc crash.
use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [65536, 65536, 65536],
        conv: Conv2d(65536, 18446744073709551615, 3),
    }
}

cnn_model! {
    struct Huge {
        input: [100000],
        fc: Linear(100000, 100000),
    }
}

cnn_model! {
    struct TooBig {
        input: [1, 340282366920938463463374607431768211456, 1],
    }
}

fn main() {}

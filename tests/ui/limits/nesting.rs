// Absurdly nested argument values stop at a limit, before they can exhaust the
// compiler's stack.
use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [3, 8, 8],
        conv: Conv2d(3, 8, (((((3))))), padding = ((1, 1), 1)),
    }
}

fn main() {}

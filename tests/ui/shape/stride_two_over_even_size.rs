// The common downsampling conv (k3, stride 2, padding 1) over an even size
// leaves a remainder too; here it falls in the padding only, and the message
// says so: `rounding = "floor"` is then harmless.
use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [3, 32, 32],
        down: Conv2d(3, 8, 3, stride = 2, padding = 1),
    }
}

fn main() {}

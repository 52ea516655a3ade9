// Hyper-parameters are computed in f32: a value beyond its range is an error
// at the value, not an infinity in the generated code.
use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [4, 2, 2],
        bn: BatchNorm2d(4, eps = 1e300),
        flatten: Flatten,
        act: LeakyReLU(negative_slope = -3.5e38),
        again: Flatten(end_dim = 3),
    }
}

fn main() {}

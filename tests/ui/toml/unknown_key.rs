// Unknown keys, at the top and in a layer, each with "did you mean".
use cnn_runtime::cnn_model;

cnn_model! {
    struct Net = toml(r#"
input = [3, 8, 8]
layer = []
"#);
}

cnn_model! {
    struct Other = toml(r#"
input = [3, 8, 8]
layers = [
    { name = "conv", kind = "Conv2d", args = [3, 8, 3], strides = 1 },
    { name = "act", kind = "Relu" },
]
"#);
}

fn main() {}

use cnn_runtime::cnn_model;

cnn_model! {
    struct Net = toml(r#"
input = "1x28x28"
"#);
}

cnn_model! {
    struct Layers = toml(r#"
input = [3, 8, 8]
layers = [
    { name = "conv", kind = "Conv2d", args = [3, 8, "3"] },
    { name = "features.0", kind = "ReLU" },
    { kind = "ReLU" },
]
"#);
}

fn main() {}

// Embedded weights that are not there: the error is at the path.
use cnn_runtime::cnn_model;

cnn_model! {
    struct Net {
        input: [2],
        weights: "no_such_weights.safetensors",
        fc: Linear(2, 1),
    }
}

cnn_model! {
    struct FromToml = toml(r#"
input = [2]
weights = "no_such_weights.safetensors"
layers = [{ name = "fc", kind = "Linear", args = [2, 1] }]
"#);
}

fn main() {}

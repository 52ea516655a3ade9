// Every check of the inline language holds for TOML, with the file position.
use cnn_runtime::cnn_model;

cnn_model! {
    struct LeNet5 = toml(r#"
input = [1, 28, 28]
layers = [
    { name = "conv1", kind = "Conv2d", args = [1, 6, 5], padding = 2 },
    { name = "pool1", kind = "MaxPool2d", args = [2] },
    { name = "conv2", kind = "Conv2d", args = [8, 16, 5] },
    { name = "pool2", kind = "MaxPool2d", args = [2], stride = 3 },
    { name = "flatten", kind = "Flatten" },
    { name = "fc1", kind = "Linear", args = [256, 120] },
]
"#);
}

fn main() {}

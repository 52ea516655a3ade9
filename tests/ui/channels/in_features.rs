// PyTorch's "mat1 and mat2 shapes cannot be multiplied", at compile time.
use cnn_runtime::cnn_model;

cnn_model! {
    struct LeNet5 {
        input: [1, 28, 28],
        conv1: Conv2d(1, 6, 5, padding = 2),
        relu1: ReLU,
        pool1: MaxPool2d(2),
        conv2: Conv2d(6, 16, 5),
        relu2: ReLU,
        pool2: MaxPool2d(2),
        flatten: Flatten,
        fc1: Linear(256, 120),
        fc2: Linear(120, 10),
    }
}

fn main() {}

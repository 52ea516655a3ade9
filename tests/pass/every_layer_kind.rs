// One model with every layer kind, and it runs.
use cnn_runtime::{cnn_model, Model};

cnn_model! {
    /// Every layer kind the language has.
    pub struct Everything {
        input: [4, 16, 16],
        #[key = "features.0"]
        conv: Conv2d(4, 8, 3, padding = 1, bias = false),
        bn: BatchNorm2d(8),
        relu: ReLU,
        dw: nn.Conv2d(8, 8, (3, 5), padding = (1, 2), groups = 8),
        relu6: ReLU6,
        maxp: MaxPool2d(2),
        minp: MinPool2d(3, stride = 1, padding = 1),
        avgp: AvgPool2d(2, count_include_pad = False),
        leaky: LeakyReLU(0.2),
        tanh: Tanh,
        soft: Softmax(dim = 1),
        gap: AdaptiveAvgPool2d(1),
        flatten: Flatten,
        drop: Dropout(0.5),
        fc: Linear(8, 4),
        sig: Sigmoid,
        out: Softmax,
    }
}

fn main() {
    assert_eq!(Everything::INPUT_SHAPE, &[4, 16, 16]);
    assert_eq!(Everything::OUTPUT_SHAPE, &[4]);
    assert_eq!(Everything::PARAM_SPECS[0].key, "features.0.weight");
    assert!(Everything::IGNORED_KEYS.contains(&"bn.num_batches_tracked"));
    let text = Everything::summary().to_string();
    assert!(text.contains("MinPool2d"), "{text}");
}

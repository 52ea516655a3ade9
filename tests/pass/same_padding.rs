// "same" keeps the size, also for even kernels (PyTorch pads one more pixel
// at the bottom/right), and "valid" means no padding.
use cnn_runtime::{cnn_model, Model};

cnn_model! {
    struct Same {
        input: [2, 9, 7],
        odd: Conv2d(2, 4, 3, padding = "same"),
        even: Conv2d(4, 4, 4, padding = "same"),
        mixed: Conv2d(4, 4, (2, 4), padding = "same", dilation = (1, 2)),
        valid: Conv2d(4, 2, 3, padding = "valid"),
    }
}

fn main() {
    assert_eq!(Same::LAYERS[0].output_shape, &[4, 9, 7]);
    assert_eq!(Same::LAYERS[1].output_shape, &[4, 9, 7]);
    assert_eq!(Same::LAYERS[2].output_shape, &[4, 9, 7]);
    assert_eq!(Same::OUTPUT_SHAPE, &[2, 7, 5]);
}

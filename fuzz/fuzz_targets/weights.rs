//! The run-time loader: `from_safetensors` on arbitrary bytes, for a model
//! with a conv, a batch norm (with its ignored `num_batches_tracked`) and a
//! linear layer, and for a single linear layer. It returns `Ok` or a
//! `WeightsError`; it must never panic.
#![no_main]

use cnn_runtime::{cnn_model, Model, WeightsError};
use libfuzzer_sys::fuzz_target;

cnn_model! {
    struct Small {
        input: [1, 2, 2],
        conv: Conv2d(1, 2, 1),
        bn: BatchNorm2d(2),
        flatten: Flatten,
        fc: Linear(8, 3),
    }
}

cnn_model! {
    struct Lin {
        input: [3],
        fc: Linear(3, 2),
    }
}

fn check<M: Model>(data: &[u8]) {
    match M::from_safetensors(data) {
        Ok(model) => {
            // A loaded model runs, whatever values the file held.
            let input = vec![1.0f32; M::INPUT_LEN];
            let mut output = vec![0.0f32; M::OUTPUT_LEN];
            model
                .forward_slice(&input, &mut output)
                .expect("lengths are the model's");
        }
        Err(err) => {
            let text = err.to_string();
            assert!(!text.is_empty());
            if let WeightsError::Mismatch(problems) = &err {
                assert!(!problems.is_empty(), "an empty mismatch list");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check::<Small>(data);
    check::<Lin>(data);
});

//! One model, shared by reference across threads, computes exactly (bitwise)
//! what it computes sequentially.

use cnn_runtime::{cnn_model, Model, ScratchSpace};
use std::sync::Barrier;

const THREADS: usize = 4;
const PER_THREAD: usize = 64;

cnn_model! {
    /// LeNet-5 for 28x28 grayscale digits (as in examples/lenet5.rs).
    pub struct LeNet5 {
        input: [1, 28, 28],
        conv1: Conv2d(1, 6, 5, padding = 2),
        relu1: ReLU,
        pool1: MaxPool2d(2),
        conv2: Conv2d(6, 16, 5),
        relu2: ReLU,
        pool2: MaxPool2d(2),
        flatten: Flatten,
        fc1: Linear(400, 120),
        relu3: ReLU,
        fc2: Linear(120, 84),
        relu4: ReLU,
        fc3: Linear(84, 10),
    }
}

cnn_model! {
    /// Every layer kind the language has.
    pub struct Everything {
        input: [4, 16, 16],
        #[key = "features.0"]
        conv: Conv2d(4, 8, 3, padding = 1, bias = false),
        bn: BatchNorm2d(8),
        relu: ReLU,
        dw: Conv2d(8, 8, (3, 5), padding = (1, 2), groups = 8),
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

const LENET_WEIGHTS: &[u8] = include_bytes!("fixtures/golden/lenet5.weights.safetensors");

/// Compile-time check: the bound is what `thread::scope` needs to share `&T`.
fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn models_are_send_and_sync() {
    assert_send_sync::<LeNet5>();
    assert_send_sync::<Everything>();
    assert_send_sync::<cnn_runtime::WeightsError>();
}

/// A deterministic input in [-1, 1), different for every `seed`.
fn input_values(len: usize, seed: u32) -> Vec<f32> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

/// Inference number `n`, with the entry point chosen by `n`, so that every
/// thread exercises all of them (a fresh stack scratch, a reused boxed one).
fn infer<M, const N: usize>(model: &M, input: &[f32], n: usize, scratch: &mut M::Scratch) -> [f32; N]
where
    M: Model<Output = [f32; N]>,
{
    let mut output = [f32::NAN; N];
    match n % 4 {
        0 => output = model.forward(M::input_from_slice(input).unwrap()),
        1 => model.forward_with(M::input_from_slice(input).unwrap(), scratch, &mut output),
        2 => model.forward_slice(input, &mut output).unwrap(),
        _ => model.forward_slice_with(input, scratch, &mut output).unwrap(),
    }
    output
}

/// Runs `THREADS * PER_THREAD` different inputs sequentially, then the same
/// inputs on `THREADS` threads sharing `&model` (each thread gets an
/// interleaved slice of the inputs), and compares the outputs bit for bit.
fn assert_threads_match_sequential<M, const N: usize>(model: &M)
where
    M: Model<Output = [f32; N]> + Sync,
{
    let total = THREADS * PER_THREAD;
    let inputs: Vec<Vec<f32>> = (0..total).map(|i| input_values(M::INPUT_LEN, i as u32)).collect();

    // Sequential reference, always through `forward`.
    let sequential: Vec<Vec<u32>> = inputs
        .iter()
        .map(|input| bits(&model.forward(M::input_from_slice(input).unwrap())))
        .collect();
    // The inputs are different enough to give different outputs.
    let mut distinct = sequential.clone();
    distinct.sort();
    distinct.dedup();
    assert!(
        distinct.len() > total / 2,
        "{} distinct outputs of {total}",
        distinct.len()
    );

    let start = Barrier::new(THREADS);
    let mut parallel: Vec<Option<Vec<u32>>> = vec![None; total];
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (inputs, start) = (&inputs, &start);
                s.spawn(move || {
                    let mut scratch = M::Scratch::new_boxed();
                    start.wait();
                    // Thread t takes inputs t, t + THREADS, ...: neighbours run concurrently.
                    (t..total)
                        .step_by(THREADS)
                        .map(|i| (i, bits(&infer(model, &inputs[i], i / THREADS, &mut scratch))))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in handles {
            for (i, output) in handle.join().expect("inference thread panicked") {
                assert!(parallel[i].is_none(), "input {i} ran twice");
                parallel[i] = Some(output);
            }
        }
    });

    for (i, (got, want)) in parallel.iter().zip(&sequential).enumerate() {
        let got = got.as_ref().unwrap_or_else(|| panic!("input {i} never ran"));
        assert_eq!(
            got,
            want,
            "{}: input {i}: threaded output differs from sequential",
            M::NAME
        );
    }
}

#[test]
fn lenet5_shared_across_threads_is_bitwise_sequential() {
    let model = LeNet5::from_safetensors(LENET_WEIGHTS).expect("golden LeNet-5 weights");
    assert_threads_match_sequential(&model);
}

#[test]
fn every_layer_kind_shared_across_threads_is_bitwise_sequential() {
    let model = Everything::from_fn(|spec, i| {
        let seed = spec
            .key
            .bytes()
            .fold(i as u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
        let value = input_values(1, seed)[0] * 0.5;
        if spec.key.ends_with("running_var") {
            value + 1.0
        } else {
            value
        }
    });
    assert_threads_match_sequential(&model);
}

#[test]
fn repeated_inference_is_deterministic() {
    // The same input twice on one thread, with a dirty reused scratch in between.
    let model = LeNet5::from_safetensors(LENET_WEIGHTS).unwrap();
    let mut scratch = <LeNet5 as Model>::Scratch::new_boxed();
    let (a, b) = (input_values(LeNet5::INPUT_LEN, 1), input_values(LeNet5::INPUT_LEN, 2));
    let first = infer(&model, &a, 1, &mut scratch);
    let other = infer(&model, &b, 1, &mut scratch);
    let again = infer(&model, &a, 1, &mut scratch);
    assert_eq!(bits(&first), bits(&again));
    assert_ne!(bits(&first), bits(&other));
}

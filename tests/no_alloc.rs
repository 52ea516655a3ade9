//! Inference never allocates: `forward`, `forward_with` and `forward_slice`
//! (and `forward_slice_with`) are run under a counting global allocator.
//!
//! The test harness runs tests on parallel threads of one process, so counting
//! is per thread: an allocation is counted only when the allocating thread has
//! armed its own (thread-local) flag, and into that thread's own counter.

use cnn_runtime::{cnn_model, Model, ScratchSpace};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

struct Counting;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    static DEALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// Adds one to `counter` if this thread is armed. `try_with`: the allocator
/// also runs while thread-locals are being torn down.
fn note(counter: &'static std::thread::LocalKey<Cell<usize>>) {
    if ARMED.try_with(Cell::get).unwrap_or(false) {
        let _ = counter.try_with(|c| c.set(c.get() + 1));
    }
}

// SAFETY: every call is forwarded unchanged to `System`; the bookkeeping
// touches only const-initialised thread-locals, which do not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(&ALLOCATIONS);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(&ALLOCATIONS);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(&ALLOCATIONS);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(&DEALLOCATIONS);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap operations of this thread during `f`.
#[derive(Debug, PartialEq, Eq)]
struct Counts {
    allocations: usize,
    deallocations: usize,
}

const NONE: Counts = Counts {
    allocations: 0,
    deallocations: 0,
};

/// Runs `f` with this thread's counters armed; returns its result and the counts.
fn counted<R>(f: impl FnOnce() -> R) -> (R, Counts) {
    ALLOCATIONS.with(|c| c.set(0));
    DEALLOCATIONS.with(|c| c.set(0));
    ARMED.with(|armed| armed.set(true));
    let result = f();
    ARMED.with(|armed| armed.set(false));
    let counts = Counts {
        allocations: ALLOCATIONS.with(Cell::get),
        deallocations: DEALLOCATIONS.with(Cell::get),
    };
    (result, counts)
}

// ---------------------------------------------------------------------------
// The counter counts

#[test]
fn counter_sees_allocations_in_the_armed_section() {
    let (_, counts) = counted(|| drop(black_box(Vec::<u8>::with_capacity(1))));
    assert_eq!(
        counts,
        Counts {
            allocations: 1,
            deallocations: 1
        }
    );

    let (boxed, counts) = counted(|| black_box(Box::new([0u64; 4])));
    assert_eq!(counts.allocations, 1);
    drop(boxed);

    let (_, counts) = counted(|| {
        let mut v: Vec<u32> = black_box(Vec::new());
        for i in 0..100 {
            v.push(i);
        }
        black_box(v)
    });
    assert!(counts.allocations >= 2, "growth reallocates: {counts:?}");

    // A boxed scratch, as forward_with's callers make one, is seen too.
    let (_, counts) = counted(|| black_box(<LeNet5 as Model>::Scratch::new_boxed()));
    assert_eq!(counts.allocations, 1);
}

#[test]
fn counter_ignores_allocations_outside_the_armed_section() {
    let v: Vec<u8> = black_box(Vec::with_capacity(64));
    let ((), counts) = counted(|| ());
    assert_eq!(counts, NONE);
    drop(v);
    assert_eq!(ALLOCATIONS.with(Cell::get), 0);
}

#[test]
fn counter_ignores_other_threads() {
    use std::sync::Barrier;
    let (start, done) = (Barrier::new(2), Barrier::new(2));
    std::thread::scope(|s| {
        s.spawn(|| {
            start.wait();
            // Allocates while the main thread is armed: not the main thread's count.
            let (_, counts) = counted(|| black_box(vec![1u8; 1000]));
            assert_eq!(counts.allocations, 1, "the other thread counts its own");
            done.wait();
        });
        let ((), counts) = counted(|| {
            start.wait();
            done.wait();
        });
        assert_eq!(counts, NONE);
    });
}

// ---------------------------------------------------------------------------
// LeNet-5 with the golden weights

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

const LENET_WEIGHTS: &[u8] = include_bytes!("fixtures/golden/lenet5.weights.safetensors");

/// A deterministic input in [-1, 1).
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

/// Runs every entry point of `model` on `input` under the counter and asserts
/// that none allocates; returns the output, which all entry points must agree on.
fn assert_inference_does_not_allocate<M, const N: usize>(model: &M, input: &[f32]) -> [f32; N]
where
    M: Model<Output = [f32; N]>,
{
    let typed = M::input_from_slice(input).expect("input length");
    // Everything a caller prepares once, outside the measured sections.
    let mut scratch = M::Scratch::new_boxed();
    let mut output_with = [f32::NAN; N];
    let mut output_slice = [f32::NAN; N];
    let mut output_slice_with = vec![f32::NAN; N];

    let (output, counts) = counted(|| black_box(model.forward(black_box(typed))));
    assert_eq!(counts, NONE, "{}: forward", M::NAME);

    let ((), counts) = counted(|| model.forward_with(black_box(typed), &mut scratch, &mut output_with));
    assert_eq!(counts, NONE, "{}: forward_with", M::NAME);

    let (result, counts) = counted(|| model.forward_slice(black_box(input), &mut output_slice));
    assert_eq!(counts, NONE, "{}: forward_slice", M::NAME);
    result.expect("forward_slice");

    let (result, counts) = counted(|| model.forward_slice_with(black_box(input), &mut scratch, &mut output_slice_with));
    assert_eq!(counts, NONE, "{}: forward_slice_with", M::NAME);
    result.expect("forward_slice_with");

    // Wrong lengths are reported without allocating either.
    let (result, counts) = counted(|| model.forward_slice(&input[1..], &mut output_slice));
    assert_eq!(counts, NONE, "{}: forward_slice error path", M::NAME);
    assert!(result.is_err());

    assert_eq!(output, output_with, "{}: forward vs forward_with", M::NAME);
    assert_eq!(output, output_slice, "{}: forward vs forward_slice", M::NAME);
    assert_eq!(
        output.to_vec(),
        output_slice_with,
        "{}: forward vs forward_slice_with",
        M::NAME
    );
    output
}

#[test]
fn lenet5_inference_does_not_allocate() {
    let model = LeNet5::from_safetensors(LENET_WEIGHTS).expect("golden LeNet-5 weights");
    let mut outputs = Vec::new();
    for seed in 0..3 {
        let input = input_values(LeNet5::INPUT_LEN, seed);
        let output = assert_inference_does_not_allocate(&model, &input);
        assert!(output.iter().all(|v| v.is_finite()), "{output:?}");
        outputs.push(output);
    }
    // The measured calls did real work: different inputs, different outputs.
    assert_ne!(outputs[0], outputs[1]);
    assert_ne!(outputs[1], outputs[2]);
}

#[test]
fn loading_does_allocate() {
    // The loader owns its weights on the heap: the counter notices.
    let (model, counts) = counted(|| LeNet5::from_safetensors(LENET_WEIGHTS));
    assert!(counts.allocations >= 10, "{counts:?}");
    drop(model);
}

// ---------------------------------------------------------------------------
// A model with every layer kind

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
        grouped: Conv2d(8, 8, 1, groups = 2),
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

/// Deterministic weights in [-0.5, 0.5); batch-norm variances in [0.5, 1.5).
fn everything() -> Everything {
    Everything::from_fn(|spec, i| {
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
    })
}

#[test]
fn every_layer_kind_inference_does_not_allocate() {
    let kinds: Vec<&str> = Everything::LAYERS.iter().map(|layer| layer.kind).collect();
    assert_eq!(kinds.len(), 18, "{kinds:?}");
    let model = everything();
    let mut outputs = Vec::new();
    for seed in 10..13 {
        let input = input_values(Everything::INPUT_LEN, seed);
        let output = assert_inference_does_not_allocate(&model, &input);
        // A softmax: positive, sums to one.
        assert!(output.iter().all(|&p| p > 0.0 && p < 1.0), "{output:?}");
        assert!((output.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{output:?}");
        outputs.push(output);
    }
    assert_ne!(outputs[0], outputs[1]);
}

// The zoo models (models/*.toml). VGG-16 is left out here only for time: its
// forward pass is the same generated code and kernels at a larger size.
cnn_model!(struct CifarVgg = "models/cifar_vgg.toml");
cnn_model!(struct MobileNetBlock = "models/mobilenet_block.toml");

/// Small deterministic weights, scaled by fan-in.
fn zoo_weight(spec: &cnn_runtime::ParamSpec, index: usize) -> f32 {
    let fan_in: usize = spec.shape.iter().skip(1).product::<usize>().max(1);
    ((index % 31) as f32 / 31.0 - 0.5) / (fan_in as f32).sqrt()
}

#[test]
fn cifar_vgg_inference_does_not_allocate() {
    let model = CifarVgg::from_fn(zoo_weight);
    let output = assert_inference_does_not_allocate(&model, &input_values(CifarVgg::INPUT_LEN, 7));
    assert!(output.iter().all(|v| v.is_finite()), "{output:?}");
}

/// Its activations exceed `forward`'s stack limit, so only the entry points
/// that take a caller's scratch exist for it.
#[test]
fn mobilenet_block_inference_does_not_allocate() {
    let model = MobileNetBlock::from_fn(zoo_weight);
    let input = input_values(MobileNetBlock::INPUT_LEN, 11);
    let typed = MobileNetBlock::input_from_slice(&input).expect("input length");
    let mut scratch = <MobileNetBlock as Model>::Scratch::new_boxed();
    let mut output = [f32::NAN; 10];
    let mut flat = vec![f32::NAN; 10];
    let ((), counts) = counted(|| model.forward_with(black_box(typed), &mut scratch, &mut output));
    assert_eq!(counts, NONE, "forward_with");
    let (result, counts) = counted(|| model.forward_slice_with(black_box(&input), &mut scratch, &mut flat));
    assert_eq!(counts, NONE, "forward_slice_with");
    result.expect("forward_slice_with");
    assert_eq!(output.to_vec(), flat);
    assert!(output.iter().all(|v| v.is_finite()), "{output:?}");
}

//! Batch inference (`forward_batch`, `forward_batch_with`): bitwise the
//! per-image `forward_with` results, however the batch is split; one output
//! per input or an error; scratch allocations per call that do not grow with
//! the batch. Runs without the `rayon` feature (sequential) and with it
//! (`cargo test --features rayon --test batch`), where the splits are
//! exercised on explicit 1-, 2- and 3-thread pools.

use cnn_runtime::{cnn_model, Buffer, Model, ScratchSpace, ShapeError};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

cnn_model!(pub struct CifarVgg = "models/cifar_vgg.toml");
cnn_model!(pub struct MobileNetBlock = "models/mobilenet_block.toml");

/// Batch sizes: empty, one, and sizes that 2 and 3 threads do not divide.
const BATCHES: [usize; 5] = [0, 1, 2, 5, 7];

/// Small deterministic weights, scaled by fan-in (as in tests/zoo.rs).
fn weight(spec: &cnn_runtime::ParamSpec, index: usize) -> f32 {
    let fan_in: usize = spec.shape.iter().skip(1).product::<usize>().max(1);
    let unit = ((index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) % 2001;
    (unit as f32 / 1000.0 - 1.0) * (3.0 / fan_in as f32).sqrt()
}

/// `n` different deterministic images in [-1, 1).
fn images<M: Model>(n: usize, seed: u32) -> Vec<M::Input> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let values: Vec<f32> = (0..n * M::INPUT_LEN)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect();
    values
        .chunks_exact(M::INPUT_LEN)
        .map(|image| *M::input_from_slice(image).expect("INPUT_LEN values"))
        .collect()
}

/// Outputs filled with NaN, so an output the batch forgot cannot pass.
fn unwritten<const N: usize>(n: usize) -> Vec<[f32; N]> {
    vec![[f32::NAN; N]; n]
}

fn bits<const N: usize>(outputs: &[[f32; N]]) -> Vec<u32> {
    outputs.iter().flatten().map(|v| v.to_bits()).collect()
}

/// What one `forward_with` per image gives: the reference for every batch.
fn one_by_one<M: Model<Output = [f32; N]>, const N: usize>(model: &M, inputs: &[M::Input]) -> Vec<[f32; N]> {
    let mut scratch = M::Scratch::new_boxed();
    let mut outputs = unwritten(inputs.len());
    for (input, output) in inputs.iter().zip(&mut outputs) {
        model.forward_with(input, &mut scratch, output);
    }
    outputs
}

/// Every batch entry point on every batch size agrees bitwise with
/// [`one_by_one`], in whatever pool the caller runs this in.
fn assert_batches_match<M: Model<Output = [f32; N]>, const N: usize>(model: &M, context: &str) {
    for (seed, &n) in BATCHES.iter().enumerate() {
        let inputs = images::<M>(n, seed as u32);
        let want = bits(&one_by_one(model, &inputs));

        let mut outputs = unwritten(n);
        model.forward_batch(&inputs, &mut outputs).expect("lengths match");
        assert_eq!(bits(&outputs), want, "{} {context}: forward_batch, batch {n}", M::NAME);

        for scratches in 1..=3 {
            let mut scratch = M::Scratch::new_boxed_slice(scratches);
            let mut outputs = unwritten(n);
            model
                .forward_batch_with(&inputs, &mut scratch, &mut outputs)
                .expect("lengths match");
            assert_eq!(
                bits(&outputs),
                want,
                "{} {context}: forward_batch_with, batch {n}, {scratches} scratches",
                M::NAME
            );
        }
    }
}

#[test]
fn batches_match_forward_per_image() {
    let vgg = CifarVgg::from_fn(weight);
    let mobilenet = MobileNetBlock::from_fn(weight);
    assert_batches_match(&vgg, "default pool");
    assert_batches_match(&mobilenet, "default pool");
    // The per-image outputs differ, so a batch that reordered them would fail.
    let outputs = one_by_one(&vgg, &images::<CifarVgg>(2, 9));
    assert_ne!(outputs[0], outputs[1]);
}

/// Pools of 1, 2 and 3 threads: one chunk, an even split, and splits that
/// leave a shorter last chunk (batches 2, 5 and 7 on 3 threads).
#[cfg(feature = "rayon")]
#[test]
fn batches_match_forward_per_image_on_every_pool_size() {
    let vgg = CifarVgg::from_fn(weight);
    let mobilenet = MobileNetBlock::from_fn(weight);
    for threads in 1..=3 {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        let context = format!("{threads}-thread pool");
        pool.install(|| {
            assert_batches_match(&vgg, &context);
            assert_batches_match(&mobilenet, &context);
        });
    }
}

/// Scratches go on the heap, never on a worker's stack: the MobileNet block's
/// scratch is more than twice the stack of this pool's workers, which would
/// overflow if a chunk put its scratch there.
#[cfg(feature = "rayon")]
#[test]
fn large_scratches_stay_off_worker_stacks() {
    const STACK: usize = 512 * 1024;
    const { assert!(MobileNetBlock::SCRATCH_BYTES > 2 * STACK) };
    let model = MobileNetBlock::from_fn(weight);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .stack_size(STACK)
        .build()
        .expect("thread pool");
    let inputs = images::<MobileNetBlock>(5, 3);
    let mut outputs = unwritten(inputs.len());
    pool.install(|| model.forward_batch(&inputs, &mut outputs))
        .expect("lengths match");
    assert_eq!(bits(&outputs), bits(&one_by_one(&model, &inputs)));
}

#[test]
fn one_output_per_input_or_nothing_runs() {
    let model = CifarVgg::from_fn(weight);
    let inputs = images::<CifarVgg>(3, 1);
    for n in [0, 2, 4] {
        let mut outputs = unwritten::<10>(n);
        let error = ShapeError {
            buffer: Buffer::Output,
            expected: 3 * CifarVgg::OUTPUT_LEN,
            found: n * CifarVgg::OUTPUT_LEN,
        };
        assert_eq!(model.forward_batch(&inputs, &mut outputs), Err(error));
        let mut scratches = <CifarVgg as Model>::Scratch::new_boxed_slice(2);
        assert_eq!(
            model.forward_batch_with(&inputs, &mut scratches, &mut outputs),
            Err(error)
        );
        assert!(outputs.iter().flatten().all(|v| v.is_nan()), "batch of {n}: written");
    }
    // An empty batch needs no scratch at all.
    model.forward_batch_with(&[], &mut [], &mut []).expect("empty batch");
}

#[test]
#[should_panic(expected = "at least one scratch")]
fn a_batch_without_scratch_panics() {
    let model = CifarVgg::from_fn(weight);
    let inputs = images::<CifarVgg>(1, 1);
    let mut outputs = unwritten::<10>(1);
    let _ = model.forward_batch_with(&inputs, &mut [], &mut outputs);
}

/// Several threads run batches on one `&model` at once (sharing rayon's
/// global pool with the feature) and each gets its per-image results.
#[test]
fn threads_share_one_model() {
    let model = MobileNetBlock::from_fn(weight);
    let batches: Vec<Vec<_>> = (0..3)
        .map(|seed| images::<MobileNetBlock>(3 + seed, seed as u32))
        .collect();
    let wants: Vec<Vec<u32>> = batches.iter().map(|inputs| bits(&one_by_one(&model, inputs))).collect();
    std::thread::scope(|s| {
        for (inputs, want) in batches.iter().zip(&wants) {
            let model = &model;
            s.spawn(move || {
                for _ in 0..2 {
                    let mut outputs = unwritten::<10>(inputs.len());
                    model.forward_batch(inputs, &mut outputs).expect("lengths match");
                    assert_eq!(&bits(&outputs), want);
                }
            });
        }
    });
}

// ---------------------------------------------------------------------------
// Allocations per call, counted on the calling thread and (with rayon) on the
// threads of a pool made for the count alone: other tests running at the same
// time allocate on other threads, which are not counted.

struct Counting;

thread_local! {
    /// The counting run this thread belongs to (the caller, or a worker of
    /// that run's pool); 0 for none.
    static RUN: Cell<usize> = const { Cell::new(0) };
}

/// The run whose threads are counted now; 0 when nothing is. Workers of an
/// earlier run's pool still exiting (crossbeam's epoch handle allocates in
/// its thread-local destructor) belong to another run and are not counted.
static COUNTING: AtomicUsize = AtomicUsize::new(0);
static NEXT_RUN: AtomicUsize = AtomicUsize::new(1);
static SCRATCH_SIZED: AtomicUsize = AtomicUsize::new(0);
static OTHER: AtomicUsize = AtomicUsize::new(0);
/// The size that counts as a scratch: `SCRATCH_BYTES` of the model under test.
static SCRATCH_SIZE: AtomicUsize = AtomicUsize::new(usize::MAX);

fn note(layout: Layout) {
    let counting = COUNTING.load(Ordering::SeqCst);
    if counting != 0 && RUN.try_with(Cell::get) == Ok(counting) {
        let counter = if layout.size() == SCRATCH_SIZE.load(Ordering::SeqCst) {
            &SCRATCH_SIZED
        } else {
            &OTHER
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: every call is forwarded unchanged to `System`; the bookkeeping
// touches only atomics and a const-initialised thread-local.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(Layout::from_size_align(new_size, layout.align()).unwrap_or(layout));
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations of `run`'s threads during `f`: (scratch-sized, other).
fn counted(run: usize, f: impl FnOnce()) -> (usize, usize) {
    SCRATCH_SIZED.store(0, Ordering::SeqCst);
    OTHER.store(0, Ordering::SeqCst);
    COUNTING.store(run, Ordering::SeqCst);
    f();
    COUNTING.store(0, Ordering::SeqCst);
    (SCRATCH_SIZED.load(Ordering::SeqCst), OTHER.load(Ordering::SeqCst))
}

/// Where the counted batch calls run: with rayon, on a `threads`-thread pool
/// whose workers are counted, called from inside the pool (as rayon code
/// does) or injected from this thread (as `main` does); without, here.
#[derive(Clone, Copy, Debug)]
enum Caller {
    InsidePool,
    OutsidePool,
}

/// Calls `call` under the counter as `caller` says, after one warm-up call;
/// returns the counts of three calls.
#[cfg(feature = "rayon")]
fn run_counted(threads: usize, caller: Caller, mut call: impl FnMut() + Send) -> Vec<(usize, usize)> {
    let run = NEXT_RUN.fetch_add(1, Ordering::SeqCst);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .start_handler(move |_| RUN.with(|r| r.set(run)))
        .build()
        .expect("thread pool");
    // Every worker past its start-up allocations before anything is counted:
    // a batch of one never reaches the second worker to wait for it.
    pool.broadcast(|_| ());
    RUN.with(|r| r.set(run));
    let counts = match caller {
        Caller::InsidePool => pool.install(|| {
            // Warm-up: a worker's first steal registers it with the queues.
            call();
            (0..3).map(|_| counted(run, &mut call)).collect()
        }),
        Caller::OutsidePool => {
            pool.install(&mut call);
            (0..3).map(|_| counted(run, || pool.install(&mut call))).collect()
        }
    };
    RUN.with(|r| r.set(0));
    counts
}

#[cfg(not(feature = "rayon"))]
fn run_counted(_threads: usize, _caller: Caller, mut call: impl FnMut() + Send) -> Vec<(usize, usize)> {
    let run = NEXT_RUN.fetch_add(1, Ordering::SeqCst);
    RUN.with(|r| r.set(run));
    call();
    let counts = (0..3).map(|_| counted(run, &mut call)).collect();
    RUN.with(|r| r.set(0));
    counts
}

/// Chunks (and so scratches) a batch of `n` gets on `threads` threads.
fn chunks(n: usize, threads: usize) -> usize {
    if cfg!(feature = "rayon") {
        n.min(threads)
    } else {
        n.min(1)
    }
}

/// Scratch allocations are one per chunk (`forward_batch`) or none
/// (`forward_batch_with`), whatever the batch size. Nothing else allocates,
/// except rayon's injector queue when a call comes from outside the pool: one
/// block per 63 injected jobs, so at most one per call.
#[test]
fn allocations_per_call_do_not_grow_with_the_batch() {
    const THREADS: usize = 2;
    let model = CifarVgg::from_fn(weight);
    SCRATCH_SIZE.store(CifarVgg::SCRATCH_BYTES, Ordering::SeqCst);
    let mut scratches = <CifarVgg as Model>::Scratch::new_boxed_slice(THREADS);
    for caller in [Caller::InsidePool, Caller::OutsidePool] {
        let most_other = match caller {
            Caller::OutsidePool if cfg!(feature = "rayon") => 1,
            _ => 0,
        };
        for n in [0, 1, 2, 3, 16, 64] {
            let inputs = images::<CifarVgg>(n, 5);
            let mut outputs = unwritten::<10>(n);
            let counts = run_counted(THREADS, caller, || {
                model.forward_batch(&inputs, &mut outputs).expect("lengths match");
            });
            for (scratch, other) in counts {
                assert_eq!(scratch, chunks(n, THREADS), "forward_batch, batch {n}, {caller:?}");
                assert!(
                    other <= most_other,
                    "forward_batch, batch {n}, {caller:?}: {other} others"
                );
            }
            // The counted calls did the work.
            assert_eq!(bits(&outputs), bits(&one_by_one(&model, &inputs)));

            let mut outputs = unwritten::<10>(n);
            let counts = run_counted(THREADS, caller, || {
                model
                    .forward_batch_with(&inputs, &mut scratches, &mut outputs)
                    .expect("lengths match");
            });
            for (scratch, other) in counts {
                assert_eq!(scratch, 0, "forward_batch_with, batch {n}, {caller:?}");
                assert!(
                    other <= most_other,
                    "forward_batch_with, batch {n}, {caller:?}: {other} others"
                );
            }
            assert_eq!(bits(&outputs), bits(&one_by_one(&model, &inputs)));
        }
    }
}

//! Batch throughput of the zoo's CIFAR VGG-style net and MobileNet block:
//! images per second through `Model::forward_batch_with` on a 1-thread rayon
//! pool and on an N-thread pool (N = available cores), the scaling between
//! them, and a plain `forward_with` loop as the no-rayon baseline.
//!
//! Run: `cargo run --release --example batch --features rayon [BATCH] [REPS]`
//! (defaults: 128 images, 15 repetitions). Without `--features rayon` only the
//! sequential numbers are printed. Weights are synthetic (`Model::from_fn`).
//!
//! The configurations take turns within every repetition, so a change in the
//! machine's load hits all of them alike; the best repetition of each is
//! reported (the least disturbed), with the median beside it. On a machine
//! shared with other work, wall-clock scaling says little, so the CPU time of
//! all this process's threads is measured too (Linux): if a 2-thread batch
//! costs as much CPU per image as a 1-thread one, the work itself does not
//! grow with the threads, and a low wall-clock scaling means the cores were
//! busy elsewhere (check `uptime`).

use cnn_runtime::{cnn_model, Model, ScratchSpace};
use std::time::{Duration, Instant};

cnn_model!(pub struct CifarVgg = "models/cifar_vgg.toml");
cnn_model!(pub struct MobileNetBlock = "models/mobilenet_block.toml");

/// One way of running a batch, timed over every repetition.
struct Config {
    name: String,
    run: Box<dyn FnMut()>,
    times: Vec<Duration>,
    /// CPU time of all this process's threads, per repetition.
    cpu: Vec<Duration>,
}

impl Config {
    fn new(name: impl Into<String>, run: impl FnMut() + 'static) -> Self {
        Config {
            name: name.into(),
            run: Box::new(run),
            times: Vec::new(),
            cpu: Vec::new(),
        }
    }

    fn best(&self) -> Duration {
        *self.times.iter().min().expect("at least one repetition")
    }

    fn median(&self) -> Duration {
        median(&self.times)
    }

    /// CPU time over wall time, the median over repetitions: how many cores
    /// the run actually had. Under 2 on a 2-thread pool means other work held
    /// the cores (Linux's autogroup scheduling gives each session one share,
    /// however many threads it runs).
    fn cores_used(&self) -> f64 {
        let ratios: Vec<Duration> = self
            .cpu
            .iter()
            .zip(&self.times)
            .map(|(cpu, wall)| Duration::from_secs_f64(cpu.as_secs_f64() / wall.as_secs_f64()))
            .collect();
        median(&ratios).as_secs_f64()
    }
}

fn median(times: &[Duration]) -> Duration {
    let mut times = times.to_vec();
    times.sort();
    times[times.len() / 2]
}

/// Time on a CPU summed over this process's threads, from
/// `/proc/self/task/*/schedstat` (nanoseconds); zero where there is no such
/// file. Pool threads asleep between batches add nothing; rayon's brief
/// spinning before a worker sleeps is counted, as it is a real cost.
fn process_cpu() -> Duration {
    let mut on_cpu = 0u64;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) else {
                continue;
            };
            on_cpu += stat
                .split_whitespace()
                .next()
                .and_then(|ns| ns.parse().ok())
                .unwrap_or(0);
        }
    }
    Duration::from_nanos(on_cpu)
}

/// The machine's 1-minute load average, when Linux says it.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn bench<M: Model + 'static>(batch: usize, reps: usize, threads: usize) {
    let model: &'static M = Box::leak(Box::new(M::from_fn(|spec, i| {
        let fan_in: usize = spec.shape.iter().skip(1).product::<usize>().max(1);
        ((i % 17) as f32 / 17.0 - 0.5) / (fan_in as f32).sqrt()
    })));
    let values: Vec<f32> = (0..batch * M::INPUT_LEN).map(|i| (i % 13) as f32 / 13.0).collect();
    let inputs: &'static [M::Input] = values
        .chunks_exact(M::INPUT_LEN)
        .map(|image| *M::input_from_slice(image).expect("INPUT_LEN values"))
        .collect::<Vec<_>>()
        .leak();
    let zero = *M::output_from_slice_mut(&mut vec![0.0; M::OUTPUT_LEN]).expect("OUTPUT_LEN values");
    let outputs = || vec![zero; batch];

    let mut configs = Vec::new();
    {
        let mut scratch = M::Scratch::new_boxed();
        let mut out = outputs();
        configs.push(Config::new("forward_with loop (no rayon)", move || {
            for (input, output) in inputs.iter().zip(&mut out) {
                model.forward_with(input, &mut scratch, output);
            }
        }));
    }
    #[cfg(feature = "rayon")]
    for pool_threads in [1, threads] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(pool_threads)
            .build()
            .expect("thread pool");
        let mut scratches = M::Scratch::new_boxed_slice(pool_threads);
        let mut out = outputs();
        configs.push(Config::new(
            format!("forward_batch_with, {pool_threads}-thread pool"),
            move || {
                pool.install(|| model.forward_batch_with(inputs, &mut scratches, &mut out))
                    .expect("lengths match")
            },
        ));
    }
    #[cfg(not(feature = "rayon"))]
    {
        let mut scratches = M::Scratch::new_boxed_slice(1);
        let mut out = outputs();
        configs.push(Config::new("forward_batch_with (sequential)", move || {
            model
                .forward_batch_with(inputs, &mut scratches, &mut out)
                .expect("lengths match")
        }));
        let _ = threads;
    }

    // One untimed round warms caches, clocks and the pools' threads.
    for config in &mut configs {
        (config.run)();
    }
    for _ in 0..reps {
        for config in &mut configs {
            let cpu = process_cpu();
            let start = Instant::now();
            (config.run)();
            config.times.push(start.elapsed());
            config.cpu.push(process_cpu().saturating_sub(cpu));
        }
    }

    println!(
        "\n{}: batch of {batch}, {reps} repetitions, {:.1} MMACs per image",
        M::NAME,
        M::MACS as f64 / 1e6
    );
    println!(
        "{:<36} {:>11} {:>13} {:>8} {:>11} {:>11}",
        "", "best img/s", "median img/s", "GFLOP/s", "CPU µs/img", "cores used"
    );
    let per_second = |time: Duration| batch as f64 / time.as_secs_f64();
    let per_image = |time: Duration| time.as_secs_f64() * 1e6 / batch as f64;
    for config in &configs {
        println!(
            "{:<36} {:>11.1} {:>13.1} {:>8.1} {:>11.1} {:>11.2}",
            config.name,
            per_second(config.best()),
            per_second(config.median()),
            per_second(config.best()) * 2.0 * M::MACS as f64 / 1e9,
            per_image(median(&config.cpu)),
            config.cores_used(),
        );
    }
    if configs.len() == 3 {
        let (one, many) = (&configs[1], &configs[2]);
        println!(
            "scaling, {threads} threads over 1: {:.2}x (best), {:.2}x (median); CPU per image {:.2}x of 1 thread's",
            one.best().as_secs_f64() / many.best().as_secs_f64(),
            one.median().as_secs_f64() / many.median().as_secs_f64(),
            median(&many.cpu).as_secs_f64() / median(&one.cpu).as_secs_f64()
        );
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let batch: usize = args
        .next()
        .map_or(128, |a| a.parse().expect("BATCH: a number of images"));
    let reps: usize = args.next().map_or(15, |a| a.parse().expect("REPS: a number"));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cfg!(feature = "rayon") {
        println!("rayon on: 1-thread pool against {threads}-thread pool");
    } else {
        println!("rayon off (build with --features rayon for the parallel numbers)");
    }
    println!("load average (1 min) before: {}", load_average());
    bench::<CifarVgg>(batch, reps, threads);
    bench::<MobileNetBlock>(batch, reps, threads);
    println!("\nload average (1 min) after: {}", load_average());
}

//! Per-layer profile of the zoo models: time, GFLOP/s and share of the
//! machine's measured single-core peak for every layer, so you know which
//! layer to work on.
//!
//! Run: `cargo run --release --example profile` (optionally one model name:
//! `lenet5`, `cifar_vgg`, `mobilenet_block`). Weights are synthetic
//! (`Model::from_fn`); timing does not depend on their values.

use cnn_runtime::{cnn_model, Model, ScratchSpace};
use std::time::{Duration, Instant};

cnn_model!(pub struct LeNet5 = "models/lenet5.toml");
cnn_model!(pub struct CifarVgg = "models/cifar_vgg.toml");
cnn_model!(pub struct MobileNetBlock = "models/mobilenet_block.toml");

/// Single-core f32 FMA throughput, in GFLOP/s (2 flops per lane per FMA).
fn measured_peak() -> (f64, &'static str) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            return (peak::best(|| unsafe { peak::avx512() }), "AVX-512");
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports AVX2 and FMA, checked just above.
            return (peak::best(|| unsafe { peak::avx2() }), "AVX2+FMA");
        }
    }
    (0.0, "unknown (no FMA probe for this CPU)")
}

#[cfg(target_arch = "x86_64")]
mod peak {
    use std::arch::x86_64::*;
    use std::time::Instant;

    /// Rounds per burst: about 5 ms. The best of many short bursts, not one
    /// long one: on a shared machine a long run is always preempted somewhere.
    const ROUNDS: u64 = 500_000;
    const BURSTS: usize = 60;

    /// The best of [`BURSTS`] runs of `burst` (each returning GFLOP/s).
    pub fn best(burst: impl Fn() -> f64) -> f64 {
        (0..BURSTS).map(|_| burst()).fold(0.0, f64::max)
    }

    /// Twelve independent accumulator chains hide the FMA latency.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn avx512() -> f64 {
        let a = _mm512_set1_ps(0.999_999);
        let b = _mm512_set1_ps(1e-7);
        let mut acc = [_mm512_set1_ps(1.0); 12];
        let start = Instant::now();
        for _ in 0..ROUNDS {
            for x in acc.iter_mut() {
                *x = _mm512_fmadd_ps(*x, a, b);
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        let sink: f32 = acc.iter().map(|x| _mm512_reduce_add_ps(*x)).sum();
        std::hint::black_box(sink);
        (ROUNDS * 12 * 16 * 2) as f64 / seconds / 1e9
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn avx2() -> f64 {
        let a = _mm256_set1_ps(0.999_999);
        let b = _mm256_set1_ps(1e-7);
        let mut acc = [_mm256_set1_ps(1.0); 12];
        let start = Instant::now();
        for _ in 0..ROUNDS {
            for x in acc.iter_mut() {
                *x = _mm256_fmadd_ps(*x, a, b);
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        let mut lanes = [0.0f32; 8];
        for x in acc {
            let mut v = [0.0f32; 8];
            _mm256_storeu_ps(v.as_mut_ptr(), x);
            lanes.iter_mut().zip(v).for_each(|(l, v)| *l += v);
        }
        std::hint::black_box(lanes);
        (ROUNDS * 12 * 8 * 2) as f64 / seconds / 1e9
    }
}

/// Median per-layer times over `runs` inferences.
fn profile<M: Model>(runs: usize, peak: f64) {
    let model = M::from_fn(|spec, i| {
        let fan_in: usize = spec.shape.iter().skip(1).product::<usize>().max(1);
        ((i % 17) as f32 / 17.0 - 0.5) / (fan_in as f32).sqrt()
    });
    let input: Vec<f32> = (0..M::INPUT_LEN).map(|i| (i % 13) as f32 / 13.0).collect();
    let input = M::input_from_slice(&input).expect("INPUT_LEN values");
    let mut output = vec![0.0f32; M::OUTPUT_LEN];
    let output = M::output_from_slice_mut(&mut output).expect("OUTPUT_LEN values");
    let mut scratch = M::Scratch::new_boxed();
    let layers = M::LAYERS.len();
    let mut samples = vec![Vec::with_capacity(runs); layers];
    let mut totals = Vec::with_capacity(runs);
    for run in 0..runs + runs / 10 {
        let start = Instant::now();
        let mut last = start;
        let mut times = vec![Duration::ZERO; layers];
        model.forward_observed(input, &mut scratch, output, |layer| {
            let now = Instant::now();
            times[layer] = now - last;
            last = now;
        });
        // The first tenth warms caches and clocks up.
        if run >= runs / 10 {
            totals.push(last - start);
            for (sample, time) in samples.iter_mut().zip(times) {
                sample.push(time);
            }
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let total = median(&mut totals);
    println!(
        "\n{}: {:.1} µs per inference, {:.1} GFLOP/s ({:.0}% of peak), {} MACs",
        M::NAME,
        total.as_secs_f64() * 1e6,
        2.0 * M::MACS as f64 / total.as_secs_f64() / 1e9,
        100.0 * 2.0 * M::MACS as f64 / total.as_secs_f64() / 1e9 / peak,
        M::MACS
    );
    println!(
        "{:<10} {:<52} {:>10} {:>9} {:>8} {:>7}",
        "layer", "kind", "MACs", "µs", "GFLOP/s", "% peak"
    );
    for (i, (info, sample)) in M::LAYERS.iter().zip(samples.iter_mut()).enumerate() {
        let time = median(sample).as_secs_f64();
        // A fused layer runs in the kernel of the last unfused layer before
        // it (a conv's activation, and a global average pool after both):
        // its time is counted there.
        let host = M::LAYERS[..i].iter().rposition(|l| !l.fused);
        let kind = if let (true, Some(host)) = (info.fused, host) {
            format!("{} (fused into {})", info.kind, M::LAYERS[host].name)
        } else {
            info.kind.to_owned()
        };
        let gflops = 2.0 * info.macs as f64 / time / 1e9;
        let (gflops, share) = if info.macs == 0 {
            ("-".to_owned(), "-".to_owned())
        } else {
            (format!("{gflops:.1}"), format!("{:.0}%", 100.0 * gflops / peak))
        };
        println!(
            "{:<10} {:<52} {:>10} {:>9.2} {:>8} {:>7}",
            info.name,
            kind,
            info.macs,
            time * 1e6,
            gflops,
            share
        );
    }
}

fn main() {
    let (peak, isa) = measured_peak();
    println!("measured single-core peak: {peak:.1} GFLOP/s ({isa})");
    println!(
        "kernels' instruction set: {} (cap it with {}=portable|avx2|avx512)",
        cnn_runtime::kernels::instruction_set(),
        cnn_runtime::kernels::MAX_ISA_VAR
    );
    println!(
        "Winograd convolutions: {} (override with {}=on|off)",
        if cnn_runtime::kernels::winograd_enabled() {
            "on"
        } else {
            "off"
        },
        cnn_runtime::kernels::WINOGRAD_VAR
    );
    let only = std::env::args().nth(1);
    let wanted = |name: &str| only.as_deref().is_none_or(|o| o == name);
    if wanted("lenet5") {
        profile::<LeNet5>(2000, peak);
    }
    if wanted("cifar_vgg") {
        profile::<CifarVgg>(200, peak);
    }
    if wanted("mobilenet_block") {
        profile::<MobileNetBlock>(200, peak);
    }
}

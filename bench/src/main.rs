//! cnn_model! against onnxruntime and tract, on the same models and weights,
//! in one run. See `bench/README.md`.
//!
//! For each model, with the files `scripts/export_onnx.py` writes under
//! `bench/models/`:
//!
//! 1. every engine runs the reference input once and must agree with PyTorch's
//!    output (`<name>.io.safetensors`) within `TOLERANCE` of the output's
//!    largest magnitude; a model where one does not is reported and not timed;
//! 2. each engine is timed on one thread, batch 1, the same way: warm up, then
//!    `--samples` samples of `k` back-to-back runs, `k` chosen so that a sample
//!    lasts at least `--sample-ms`; the per-run median and p10–p90 are reported.
//!
//! - ours: `Model::forward_with` with one boxed scratch reused for every call
//!   (and, for LeNet-5, `Model::forward`, activations on the stack);
//! - tract: the ONNX file, `into_optimized()`, `into_runnable()`, one state
//!   (`spawn()`) reused for every call;
//! - onnxruntime: its Python package, in `bench/ort_bench.py`, launched from here.
//!
//! It also measures the core's peak: a loop of independent FMAs (AVX-512, else
//! AVX2+FMA, else SSE mul+add) timed like the models, 2 flops per FMA lane.

use cnn_runtime::{cnn_model, Model, ScratchSpace};
use std::error::Error;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use tract_onnx::prelude::*;

cnn_model!(pub struct LeNet5 = "../models/lenet5.toml");
cnn_model!(pub struct CifarVgg = "../models/cifar_vgg.toml");
cnn_model!(pub struct MobileNetBlock = "../models/mobilenet_block.toml");

/// Largest |engine - PyTorch| allowed, as a fraction of PyTorch's largest |output|.
const TOLERANCE: f32 = 1e-4;

type Res<T> = Result<T, Box<dyn Error>>;

// ---------------------------------------------------------------------------
// Configuration

struct Config {
    samples: usize,
    sample_ms: f64,
    warmup_ms: f64,
    python: String,
    models_dir: PathBuf,
    only: Option<String>,
}

impl Config {
    fn from_args() -> Res<Config> {
        let mut config = Config {
            samples: 100,
            sample_ms: 2.0,
            warmup_ms: 300.0,
            python: std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned()),
            models_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("models"),
            only: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--samples" => config.samples = value()?.parse()?,
                "--sample-ms" => config.sample_ms = value()?.parse()?,
                "--warmup-ms" => config.warmup_ms = value()?.parse()?,
                "--python" => config.python = value()?,
                "--models" => config.models_dir = value()?.into(),
                "--only" => config.only = Some(value()?),
                "-h" | "--help" => {
                    println!(
                        "usage: cnn-bench [--samples N (100)] [--sample-ms MS (2)] [--warmup-ms MS (300)] \
                         [--python PYTHON (python3, or $PYTHON)] [--models DIR (bench/models)] [--only MODEL]"
                    );
                    std::process::exit(0);
                }
                _ => return Err(format!("unknown argument {arg}; see --help").into()),
            }
        }
        if config.samples == 0 {
            return Err("--samples must be at least 1".into());
        }
        Ok(config)
    }
}

// ---------------------------------------------------------------------------
// Timing: the same method as bench/ort_bench.py.

#[derive(Clone, Copy, Debug)]
struct Stats {
    median_us: f64,
    p10_us: f64,
    p90_us: f64,
    runs_per_sample: usize,
}

/// Nearest rank on sorted samples, as `ort_bench.py` does.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[(q * (sorted.len() - 1) as f64).round() as usize]
}

fn measure(config: &Config, mut run: impl FnMut()) -> Stats {
    let start = Instant::now();
    let mut calls = 0u32;
    while calls < 3 || start.elapsed().as_secs_f64() * 1e3 < config.warmup_ms {
        run();
        calls += 1;
    }
    let per_call_ms = start.elapsed().as_secs_f64() * 1e3 / f64::from(calls);
    let k = ((config.sample_ms / per_call_ms).ceil() as usize).max(1);
    let mut per_run_us: Vec<f64> = (0..config.samples)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..k {
                run();
            }
            t.elapsed().as_secs_f64() * 1e6 / k as f64
        })
        .collect();
    per_run_us.sort_by(f64::total_cmp);
    Stats {
        median_us: percentile(&per_run_us, 0.5),
        p10_us: percentile(&per_run_us, 0.1),
        p90_us: percentile(&per_run_us, 0.9),
        runs_per_sample: k,
    }
}

fn stats_from_json(value: &serde_json::Value) -> Res<Stats> {
    let field = |name: &str| {
        value[name]
            .as_f64()
            .ok_or_else(|| format!("ort_bench.py: no {name} in its report"))
    };
    Ok(Stats {
        median_us: field("median_us")?,
        p10_us: field("p10_us")?,
        p90_us: field("p90_us")?,
        runs_per_sample: field("runs_per_sample")? as usize,
    })
}

// ---------------------------------------------------------------------------
// Peak: independent FMA chains on one core.

#[cfg(target_arch = "x86_64")]
mod peak {
    use std::arch::x86_64::*;

    /// Independent accumulators: more than latency x throughput of current
    /// cores' FMA units (4 cycles x 2 per cycle), so the loop is throughput-bound,
    /// and few enough that they and the two constants fit in 16 registers (SSE
    /// and AVX2 have no more without AVX-512): a spilling loop measures memory.
    const CHAINS: usize = 12;

    /// `iters` rounds of `CHAINS` 16-lane FMAs; returns a value to keep.
    #[target_feature(enable = "avx512f")]
    #[allow(unused_unsafe)]
    pub unsafe fn avx512(iters: u64) -> f32 {
        unsafe {
            let a = _mm512_set1_ps(0.999_999_9);
            let b = _mm512_set1_ps(1e-7);
            let mut acc = [_mm512_set1_ps(0.5); CHAINS];
            for _ in 0..iters {
                for r in &mut acc {
                    *r = _mm512_fmadd_ps(*r, a, b);
                }
            }
            let mut sum = _mm512_setzero_ps();
            for r in acc {
                sum = _mm512_add_ps(sum, r);
            }
            _mm512_reduce_add_ps(sum)
        }
    }

    /// `iters` rounds of `CHAINS` 8-lane FMAs.
    #[target_feature(enable = "avx2,fma")]
    #[allow(unused_unsafe)]
    pub unsafe fn avx2_fma(iters: u64) -> f32 {
        unsafe {
            let a = _mm256_set1_ps(0.999_999_9);
            let b = _mm256_set1_ps(1e-7);
            let mut acc = [_mm256_set1_ps(0.5); CHAINS];
            for _ in 0..iters {
                for r in &mut acc {
                    *r = _mm256_fmadd_ps(*r, a, b);
                }
            }
            let mut out = [0.0f32; 8];
            let mut sum = _mm256_setzero_ps();
            for r in acc {
                sum = _mm256_add_ps(sum, r);
            }
            _mm256_storeu_ps(out.as_mut_ptr(), sum);
            out.iter().sum()
        }
    }

    /// `iters` rounds of `CHAINS` 4-lane multiply-then-add pairs (SSE has no
    /// FMA): the most an x86-64 baseline build can do per instruction.
    #[allow(unused_unsafe)]
    pub fn sse(iters: u64) -> f32 {
        unsafe {
            let a = _mm_set1_ps(0.999_999_9);
            let b = _mm_set1_ps(1e-7);
            let mut acc = [_mm_set1_ps(0.5); CHAINS];
            for _ in 0..iters {
                for r in &mut acc {
                    *r = _mm_add_ps(_mm_mul_ps(*r, a), b);
                }
            }
            let mut out = [0.0f32; 4];
            let mut sum = _mm_setzero_ps();
            for r in acc {
                sum = _mm_add_ps(sum, r);
            }
            _mm_storeu_ps(out.as_mut_ptr(), sum);
            out.iter().sum()
        }
    }

    /// (name, flops per round, kernel) for every kernel this CPU runs.
    pub fn kernels() -> Vec<(&'static str, f64, fn(u64) -> f32)> {
        let mut list: Vec<(&'static str, f64, fn(u64) -> f32)> = Vec::new();
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the feature was detected at run time.
            list.push(("AVX-512 FMA (16 lanes)", (CHAINS * 16 * 2) as f64, |n| unsafe {
                avx512(n)
            }));
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: the features were detected at run time.
            list.push(("AVX2 FMA (8 lanes)", (CHAINS * 8 * 2) as f64, |n| unsafe {
                avx2_fma(n)
            }));
        }
        list.push(("SSE mul+add (4 lanes)", (CHAINS * 4 * 2) as f64, sse));
        list
    }
}

/// GFLOP/s of each available FMA kernel on this core: the best of many timed
/// runs of about 10 ms (the best, because other processes on a shared machine
/// only ever slow a run down).
fn measure_peaks() -> Vec<(&'static str, f64)> {
    #[cfg(target_arch = "x86_64")]
    {
        peak::kernels()
            .into_iter()
            .map(|(name, flops_per_round, kernel)| {
                // Calibrate to ~10 ms per timed run.
                let mut iters = 1u64 << 12;
                loop {
                    let t = Instant::now();
                    black_box(kernel(black_box(iters)));
                    if t.elapsed().as_secs_f64() > 0.005 {
                        iters = (iters as f64 * 0.01 / t.elapsed().as_secs_f64()) as u64;
                        break;
                    }
                    iters *= 4;
                }
                let best = (0..30)
                    .map(|_| {
                        let t = Instant::now();
                        black_box(kernel(black_box(iters)));
                        t.elapsed().as_secs_f64()
                    })
                    .fold(f64::INFINITY, f64::min);
                (name, iters as f64 * flops_per_round / best / 1e9)
            })
            .collect()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        Vec::new()
    }
}

// ---------------------------------------------------------------------------
// Engines

fn read_f32(file: &safetensors::SafeTensors<'_>, name: &str) -> Res<Vec<f32>> {
    let view = file.tensor(name)?;
    if view.dtype() != safetensors::Dtype::F32 {
        return Err(format!("{name}: expected f32, found {:?}", view.dtype()).into());
    }
    Ok(view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// Max |got - want| and that as a fraction of max |want|.
fn agreement(got: &[f32], want: &[f32]) -> (f32, f32) {
    if got.len() != want.len() {
        return (f32::INFINITY, f32::INFINITY);
    }
    let err = got.iter().zip(want).map(|(g, w)| (g - w).abs()).fold(0.0f32, |m, e| {
        if e.is_nan() {
            f32::INFINITY
        } else {
            m.max(e)
        }
    });
    let scale = want.iter().fold(0.0f32, |m, w| m.max(w.abs()));
    (err, err / scale.max(f32::MIN_POSITIVE))
}

struct Check {
    engine: &'static str,
    abs: f32,
    rel: f32,
}

impl Check {
    fn ok(&self) -> bool {
        self.rel <= TOLERANCE
    }
}

/// One model's results.
struct Row {
    label: &'static str,
    macs: u64,
    checks: Vec<Check>,
    ours: Option<Stats>,
    /// Ours through `Model::forward` (stack scratch), where the model allows it.
    ours_forward: Option<Stats>,
    ort: Option<Stats>,
    ort_iobinding: Option<Stats>,
    tract: Option<Stats>,
    ort_version: String,
}

/// A tract plan for an ONNX file, with its input already shaped.
struct Tract {
    state: TypedSimpleState,
    input: TValue,
}

impl Tract {
    fn load(onnx: &Path, shape: &[usize], input: &[f32]) -> TractResult<Tract> {
        let plan = tract_onnx::onnx()
            .model_for_path(onnx)?
            .into_optimized()?
            .into_runnable()?;
        let state = plan.spawn()?;
        let input = Tensor::from_shape(shape, input)?.into_tvalue();
        Ok(Tract { state, input })
    }

    fn run(&mut self) -> TractResult<TVec<TValue>> {
        self.state.run(tvec![self.input.clone()])
    }

    fn output(&mut self) -> TractResult<Vec<f32>> {
        let outputs = self.run()?;
        Ok(outputs[0].to_plain_array_view::<f32>()?.iter().copied().collect())
    }
}

type Forward<M> = fn(&M, &<M as Model>::Input) -> <M as Model>::Output;

fn bench_model<M: Model>(config: &Config, file: &str, label: &'static str, forward: Option<Forward<M>>) -> Res<Row> {
    let dir = &config.models_dir;
    let read = |name: String| {
        let path = dir.join(&name);
        std::fs::read(&path).map_err(|e| {
            format!(
                "{}: {e}; run `python3 scripts/export_onnx.py` from the repository root first",
                path.display()
            )
        })
    };
    let weights = read(format!("{file}.safetensors"))?;
    let io_bytes = read(format!("{file}.io.safetensors"))?;
    let io = safetensors::SafeTensors::deserialize(&io_bytes)?;
    let input = read_f32(&io, "input")?;
    let want = read_f32(&io, "output")?;
    let onnx_path = dir.join(format!("{file}.onnx"));
    let io_path = dir.join(format!("{file}.io.safetensors"));

    let mut row = Row {
        label,
        macs: M::MACS,
        checks: Vec::new(),
        ours: None,
        ours_forward: None,
        ort: None,
        ort_iobinding: None,
        tract: None,
        ort_version: String::new(),
    };

    // Ours.
    let model = M::from_safetensors(&weights)?;
    let x: &M::Input = M::input_from_slice(&input)?;
    let mut scratch = M::Scratch::new_boxed();
    let mut out: M::Output = bytemuck::Zeroable::zeroed();
    model.forward_with(x, &mut scratch, &mut out);
    let (abs, rel) = agreement(bytemuck::cast_slice(std::slice::from_ref(&out)), &want);
    row.checks.push(Check {
        engine: "ours",
        abs,
        rel,
    });
    if let Some(forward) = forward {
        let out = forward(&model, x);
        let (abs, rel) = agreement(bytemuck::cast_slice(std::slice::from_ref(&out)), &want);
        row.checks.push(Check {
            engine: "ours (forward)",
            abs,
            rel,
        });
    }

    // tract.
    let mut shape = vec![1];
    shape.extend_from_slice(M::INPUT_SHAPE);
    let mut tract = Tract::load(&onnx_path, &shape, &input).map_err(|e| format!("tract, {file}: {e:?}"))?;
    let got = tract.output().map_err(|e| format!("tract, {file}: {e:?}"))?;
    let (abs, rel) = agreement(&got, &want);
    row.checks.push(Check {
        engine: "tract",
        abs,
        rel,
    });

    // onnxruntime: checked and timed by its helper in one go.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("ort_bench.py");
    let ort_run = Command::new(&config.python)
        .arg(&script)
        .arg(&onnx_path)
        .arg(&io_path)
        .args(["--samples", &config.samples.to_string()])
        .args(["--sample-ms", &config.sample_ms.to_string()])
        .args(["--warmup-ms", &config.warmup_ms.to_string()])
        .output()
        .map_err(|e| format!("could not run {} {}: {e}", config.python, script.display()))?;
    if !ort_run.status.success() {
        return Err(format!(
            "ort_bench.py failed on {file}: {}",
            String::from_utf8_lossy(&ort_run.stderr)
        )
        .into());
    }
    let report: serde_json::Value = serde_json::from_slice(&ort_run.stdout)?;
    let got: Vec<f32> = report["output"]
        .as_array()
        .ok_or("ort_bench.py: no output in its report")?
        .iter()
        .map(|v| v.as_f64().unwrap_or(f64::NAN) as f32)
        .collect();
    let (abs, rel) = agreement(&got, &want);
    row.checks.push(Check {
        engine: "onnxruntime",
        abs,
        rel,
    });
    row.ort_version = report["engine"].as_str().unwrap_or("onnxruntime").to_owned();

    if !row.checks.iter().all(Check::ok) {
        return Ok(row); // not timed: reported as a disagreement
    }
    row.ort = Some(stats_from_json(&report["run"])?);
    row.ort_iobinding = Some(stats_from_json(&report["iobinding"])?);

    row.ours = Some(measure(config, || {
        model.forward_with(black_box(x), &mut scratch, &mut out);
        black_box(&mut out);
    }));
    if let Some(forward) = forward {
        row.ours_forward = Some(measure(config, || {
            black_box(forward(&model, black_box(x)));
        }));
    }
    let mut failed = None;
    row.tract = Some(measure(config, || {
        if let Err(e) = tract.run().map(black_box) {
            failed.get_or_insert(e);
        }
    }));
    if let Some(e) = failed {
        return Err(format!("tract, {file}: {e:?}").into());
    }
    Ok(row)
}

// ---------------------------------------------------------------------------
// Report

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

fn now() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "unknown date".to_owned())
}

fn runtime_features() -> String {
    #[cfg(target_arch = "x86_64")]
    {
        let mut f = Vec::new();
        macro_rules! detect {
            ($($name:tt),*) => {$(
                if is_x86_feature_detected!($name) { f.push($name); }
            )*};
        }
        detect!(
            "sse4.2",
            "avx",
            "avx2",
            "fma",
            "avx512f",
            "avx512bw",
            "avx512vl",
            "avx512vnni",
            "avx512bf16"
        );
        f.join(" ")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        String::from("n/a")
    }
}

fn compile_features() -> String {
    let mut f = Vec::new();
    macro_rules! enabled {
        ($($name:tt),*) => {$(
            if cfg!(target_feature = $name) { f.push($name); }
        )*};
    }
    enabled!("sse2", "sse4.2", "avx", "avx2", "fma", "avx512f");
    f.join(" ")
}

fn us(s: &Stats) -> String {
    format!("{:.1} ({:.1}–{:.1})", s.median_us, s.p10_us, s.p90_us)
}

fn gflops(macs: u64, s: &Stats) -> f64 {
    2.0 * macs as f64 / (s.median_us * 1e3)
}

fn print_report(config: &Config, rows: &[Row], peaks: &[(&str, f64)]) {
    let flags = env!("BENCH_RUSTFLAGS");
    let ort_version = rows
        .iter()
        .map(|r| r.ort_version.as_str())
        .find(|v| !v.is_empty())
        .unwrap_or("onnxruntime");
    println!("\n## cnn_model! vs onnxruntime vs tract\n");
    println!("- date: {}", now());
    println!(
        "- CPU: {} ({} logical CPUs); run-time features: {}",
        cpu_model(),
        num_cpus(),
        runtime_features()
    );
    println!(
        "- build: `--release`, fat LTO, codegen-units = 1, RUSTFLAGS `{}`{}; {}",
        if flags.is_empty() { "" } else { flags },
        if flags.is_empty() {
            " (none: default x86-64 target, no target-cpu)"
        } else {
            ""
        },
        env!("BENCH_RUSTC")
    );
    println!("- cnn-runtime and cnn-macros as built: {}", env!("BENCH_SOURCE"));
    println!(
        "- compile-time target features (what our generated code may use): {}",
        compile_features()
    );
    println!(
        "- our kernels: {}, Winograd convolutions {} ({}=on|off overrides)",
        cnn_runtime::kernels::instruction_set(),
        if cnn_runtime::kernels::winograd_enabled() { "on" } else { "off" },
        cnn_runtime::kernels::WINOGRAD_VAR
    );
    println!(
        "- engines: ours (cnn_model!, `forward_with`, boxed scratch reused); {ort_version} (Python, `session.run`, \
         1 intra-op and 1 inter-op thread, sequential, ORT_ENABLE_ALL); tract-onnx {} (`into_optimized`, \
         `into_runnable`, one state reused)",
        env!("BENCH_TRACT_VERSION")
    );
    println!(
        "- method: one thread, batch 1; warm-up {} ms, then {} samples of k back-to-back runs (k: a sample ≥ {} ms); \
         per-run median (p10–p90) in µs; GFLOP/s = 2 × MACs / median",
        config.warmup_ms, config.samples, config.sample_ms
    );
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!(
            "- load average at the end: {}",
            load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
        );
    }

    // The machine's peak is the best kernel's (on Zen 4, AVX2 and double-pumped
    // AVX-512 FMAs have the same throughput).
    let peak = peaks.iter().map(|p| p.1).reduce(f64::max);
    println!(
        "\nMeasured peak, one core (best of 30 runs of ~10 ms, before and after the models; 2 flops per FMA lane):"
    );
    for (name, value) in peaks {
        println!("- {name}: {value:.1} GFLOP/s");
    }
    if let Some(p) = peak {
        println!("- peak used for \"% of peak\": {p:.1} GFLOP/s");
    }

    println!(
        "\n| model | MACs | ours µs | ours GFLOP/s | onnxruntime µs | ort GFLOP/s | tract µs | tract GFLOP/s \
         | ort time ÷ ours | tract time ÷ ours | ours % of peak |"
    );
    println!("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for row in rows {
        let cell = |s: &Option<Stats>| s.as_ref().map_or("—".to_owned(), us);
        let rate = |s: &Option<Stats>| {
            s.as_ref()
                .map_or("—".to_owned(), |s| format!("{:.1}", gflops(row.macs, s)))
        };
        let ratio = |peer: &Option<Stats>, ours: &Option<Stats>| match (peer, ours) {
            (Some(p), Some(o)) => format!("{:.2}×", p.median_us / o.median_us),
            _ => "—".to_owned(),
        };
        let of_peak = |ours: &Option<Stats>| match (ours, peak) {
            (Some(o), Some(p)) => format!("{:.1} %", 100.0 * gflops(row.macs, o) / p),
            _ => "—".to_owned(),
        };
        let macs = format!("{:.2} M", row.macs as f64 / 1e6);
        if row.ours.is_none() {
            println!(
                "| {} | {macs} | not timed: engines disagree (below) | | | | | | | | |",
                row.label
            );
            continue;
        }
        println!(
            "| {} | {macs} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.label,
            cell(&row.ours),
            rate(&row.ours),
            cell(&row.ort),
            rate(&row.ort),
            cell(&row.tract),
            rate(&row.tract),
            ratio(&row.ort, &row.ours),
            ratio(&row.tract, &row.ours),
            of_peak(&row.ours),
        );
        if row.ours_forward.is_some() {
            println!(
                "| {} (`forward`, stack scratch) | {macs} | {} | {} | ″ | ″ | ″ | ″ | {} | {} | {} |",
                row.label,
                cell(&row.ours_forward),
                rate(&row.ours_forward),
                ratio(&row.ort, &row.ours_forward),
                ratio(&row.tract, &row.ours_forward),
                of_peak(&row.ours_forward),
            );
        }
    }
    println!("\n\"time ÷ ours\" above 1 means ours is faster. ″: as in the row above.");

    println!("\nAgreement with PyTorch before timing: max |engine − PyTorch| (and as a fraction of max |PyTorch|; tolerance {TOLERANCE:.0e}):\n");
    println!("| model | ours | onnxruntime | tract |");
    println!("|---|--:|--:|--:|");
    for row in rows {
        let find = |engine: &str| {
            row.checks
                .iter()
                .find(|c| c.engine == engine)
                .map_or("—".to_owned(), |c| {
                    format!("{:.1e} ({:.1e}){}", c.abs, c.rel, if c.ok() { "" } else { " FAIL" })
                })
        };
        println!(
            "| {} | {} | {} | {} |",
            row.label,
            find("ours"),
            find("onnxruntime"),
            find("tract")
        );
    }

    println!(
        "\nonnxruntime's Python call: `session.run` (in the table) vs `run_with_iobinding` on a binding made once \
         (the difference is mostly the binding's per-call cost, which ours and tract do not pay):\n"
    );
    println!("| model | session.run µs | run_with_iobinding µs |");
    println!("|---|--:|--:|");
    for row in rows {
        let cell = |s: &Option<Stats>| s.as_ref().map_or("—".to_owned(), us);
        println!("| {} | {} | {} |", row.label, cell(&row.ort), cell(&row.ort_iobinding));
    }
    let k: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            Some(format!(
                "{} {}/{}/{}",
                r.label, r.ours?.runs_per_sample, r.ort?.runs_per_sample, r.tract?.runs_per_sample
            ))
        })
        .collect();
    println!("\nruns per sample (ours/ort/tract): {}", k.join("; "));
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn main() -> Res<()> {
    let config = Config::from_args()?;
    let selected = |name: &str| config.only.as_deref().is_none_or(|o| o == name);

    eprintln!("measuring the FMA peak...");
    let peaks = measure_peaks();
    let mut rows = Vec::new();
    if selected("lenet5") {
        eprintln!("lenet5...");
        rows.push(bench_model::<LeNet5>(
            &config,
            "lenet5",
            "LeNet-5",
            Some(|m, x| m.forward(x)),
        )?);
    }
    if selected("cifar_vgg") {
        eprintln!("cifar_vgg...");
        rows.push(bench_model::<CifarVgg>(&config, "cifar_vgg", "CIFAR VGG", None)?);
    }
    if selected("mobilenet_block") {
        eprintln!("mobilenet_block...");
        rows.push(bench_model::<MobileNetBlock>(
            &config,
            "mobilenet_block",
            "MobileNet block",
            None,
        )?);
    }
    if rows.is_empty() {
        return Err("--only: no such model (lenet5, cifar_vgg, mobilenet_block)".into());
    }
    // Once more at the end: keep each kernel's best.
    let peaks: Vec<(&str, f64)> = measure_peaks()
        .into_iter()
        .zip(peaks)
        .map(|((name, after), (_, before))| (name, after.max(before)))
        .collect();
    print_report(&config, &rows, &peaks);
    if rows.iter().any(|r| r.ours.is_none()) {
        return Err("some engine disagrees with PyTorch; see the agreement table".into());
    }
    Ok(())
}

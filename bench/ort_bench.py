#!/usr/bin/env python3
"""Times onnxruntime on one model for the Rust benchmark (bench/src/main.rs).

Launched by `cargo run --release --manifest-path bench/Cargo.toml`, once per
model; prints one JSON object on stdout. onnxruntime runs on one thread
(intra_op_num_threads = inter_op_num_threads = 1, sequential execution, all
graph optimisations), batch 1, on the reference input from `<name>.io.safetensors`.

Timing is the same method as the Rust side: warm up, pick k runs per sample so
that a sample lasts at least --sample-ms, take --samples samples, and report the
per-run median, p10 and p90 (and min and max) in microseconds.

Two ways of calling are timed:
- `run`: `session.run(None, {"input": x})`, the usual Python call; this is what
  the table reports;
- `iobinding`: `session.run_with_iobinding` on a binding made once, which skips
  most of the per-call conversion between numpy and onnxruntime; the
  difference to `run` is the Python binding's own cost.
"""

import argparse
import json
import sys
import time

import numpy as np
import onnxruntime as ort
from safetensors.numpy import load_file


def percentile(sorted_values, q):
    # Same rule as the Rust side: nearest rank on the sorted samples.
    index = round(q * (len(sorted_values) - 1))
    return sorted_values[index]


def measure(call, samples, sample_ms, warmup_ms):
    # Warm up for at least warmup_ms and at least 3 calls.
    start = time.perf_counter_ns()
    calls = 0
    while calls < 3 or time.perf_counter_ns() - start < warmup_ms * 1e6:
        call()
        calls += 1
    per_call_ns = (time.perf_counter_ns() - start) / calls
    k = max(1, int(np.ceil(sample_ms * 1e6 / per_call_ns)))
    per_run_us = []
    for _ in range(samples):
        t0 = time.perf_counter_ns()
        for _ in range(k):
            call()
        per_run_us.append((time.perf_counter_ns() - t0) / k / 1e3)
    per_run_us.sort()
    return {
        "median_us": percentile(per_run_us, 0.5),
        "p10_us": percentile(per_run_us, 0.1),
        "p90_us": percentile(per_run_us, 0.9),
        "min_us": per_run_us[0],
        "max_us": per_run_us[-1],
        "runs_per_sample": k,
        "samples": samples,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("onnx")
    parser.add_argument("io", help="<name>.io.safetensors: `input` and PyTorch's `output`")
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--sample-ms", type=float, default=2.0)
    parser.add_argument("--warmup-ms", type=float, default=300.0)
    args = parser.parse_args()

    io = load_file(args.io)
    x = np.ascontiguousarray(io["input"], dtype=np.float32)

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # No spinning worker threads: there are none with one thread, but be explicit.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(args.onnx, options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    output_name = session.get_outputs()[0].name

    (output,) = session.run(None, {input_name: x})
    feeds = {input_name: x}
    run = measure(lambda: session.run(None, feeds), args.samples, args.sample_ms, args.warmup_ms)

    binding = session.io_binding()
    binding.bind_cpu_input(input_name, x)
    binding.bind_output(output_name, "cpu")
    session.run_with_iobinding(binding)
    iobinding = measure(lambda: session.run_with_iobinding(binding), args.samples, args.sample_ms, args.warmup_ms)

    json.dump(
        {
            "engine": f"onnxruntime {ort.__version__}",
            "providers": session.get_providers(),
            "output": [float(v) for v in np.asarray(output).reshape(-1)],
            "run": run,
            "iobinding": iobinding,
        },
        sys.stdout,
    )
    print()


if __name__ == "__main__":
    main()

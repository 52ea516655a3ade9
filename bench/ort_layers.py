#!/usr/bin/env python3
"""onnxruntime's own per-layer times, to set beside ours.

`cargo run --release --example profile` prints how long each of our layers
takes; this prints the same for onnxruntime, from its built-in profiler (one
thread, sequential, all graph optimisations, as in the benchmark), so the two
can be compared layer by layer. onnxruntime fuses the ReLUs into the
convolutions and adds layout reorders (its NCHWc blocked format) of its own;
those show up as nodes here.

Run from the repository root, after `python3 scripts/export_onnx.py`:

    python3 bench/ort_layers.py [--runs 300] [--models bench/models] [names...]

For each node: the median and the minimum over the runs after the first 50
(warm-up), in microseconds. The profiler's JSON files go to a temporary
directory and are deleted.
"""

import argparse
import collections
import json
import pathlib
import tempfile

import numpy as np
import onnxruntime as ort

MODELS = ["lenet5", "cifar_vgg", "mobilenet_block"]
WARMUP = 50


def profile(path: pathlib.Path, runs: int, tmp: pathlib.Path) -> list[tuple[str, float, float]]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.enable_profiling = True
    options.profile_file_prefix = str(tmp / path.stem)
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    spec = session.get_inputs()[0]
    x = np.random.default_rng(0).random(spec.shape, dtype=np.float32)
    for _ in range(runs):
        session.run(None, {spec.name: x})
    events = json.loads(pathlib.Path(session.end_profiling()).read_text())
    times: dict[str, list[int]] = collections.defaultdict(list)
    order: list[str] = []
    for event in events:
        if event.get("cat") != "Node" or not event["name"].endswith("_kernel_time"):
            continue
        name = f'{event["name"].removesuffix("_kernel_time")} ({event["args"].get("op_name", "?")})'
        if name not in times:
            order.append(name)
        times[name].append(event["dur"])
    rows = []
    for name in order:
        kept = sorted(times[name][WARMUP:]) or sorted(times[name])
        rows.append((name, float(kept[len(kept) // 2]), float(kept[0])))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=MODELS, help="models (default: all three)")
    parser.add_argument("--runs", type=int, default=300, help="inferences per model (default 300)")
    parser.add_argument("--models", default="bench/models", help="directory of the .onnx files")
    args = parser.parse_args()
    print(f"onnxruntime {ort.__version__}, one thread; per node: median (min) µs over runs {WARMUP + 1}..{args.runs}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.names:
            rows = profile(pathlib.Path(args.models) / f"{name}.onnx", args.runs, pathlib.Path(tmp))
            total = sum(median for _, median, _ in rows)
            print(f"\n{name}: {total:.0f} µs summed over nodes")
            for node, median, least in rows:
                print(f"  {node:60} {median:8.1f} ({least:.1f})")


if __name__ == "__main__":
    main()

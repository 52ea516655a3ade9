#!/usr/bin/env python3
"""Runs the benchmark several times and summarises the ratios run by run.

On a shared machine a whole run can land in a slow patch (another tenant on
the sibling hardware thread slows every layer of one engine by 1.5x or more
for a second or two), so one run's ratio says little. This runs the
benchmark binary N times back to back, prints each run's medians and ratios,
and the ratios of the per-engine best medians (the least disturbed figure of
each engine).

Run from the repository root, after building the benchmark once
(`cargo build --release --manifest-path bench/Cargo.toml`):

    python3 bench/repeat.py [--runs 8] [--native] [-- extra benchmark arguments]

With `--native`, each run is followed by one of the `target-cpu=native` build
(`RUSTFLAGS="-C target-cpu=native"`, target directory `bench/target-native`,
built by the first run if missing: tract from clean takes about 15 minutes),
so that both builds see the same stretch of a noisy machine; the summary adds
our best native median over our best default one.

The last run's full report is written to `bench/last_run.md` (the native
build's to `bench/last_run_native.md`; neither is committed).
"""

import argparse
import os
import pathlib
import re
import subprocess
import sys

ROW = re.compile(
    r"\| (LeNet-5|CIFAR VGG|MobileNet block) \| [^|]*\| ([\d.]+) \([^|]*\|[^|]*\| ([\d.]+) \([^|]*\|[^|]*\| ([\d.]+) \("
)


def run_once(command: list[str], env: dict[str, str] | None,
             results: dict[str, list[tuple[float, float, float]]]) -> str:
    """Runs the benchmark once, appends its medians to `results` and returns its report."""
    report = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    for line in report.splitlines():
        match = ROW.match(line)
        if match:
            results.setdefault(match.group(1), []).append(tuple(float(match.group(i)) for i in (2, 3, 4)))
    return report


def print_table(title: str, results: dict[str, list[tuple[float, float, float]]]) -> None:
    print(f"{title}; medians in µs; ratios are the other engine's time ÷ ours\n")
    print("| model | run | ours | onnxruntime | tract | ort ÷ ours | tract ÷ ours |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    for model, runs in results.items():
        for i, (ours, ort, tract) in enumerate(runs, 1):
            print(f"| {model} | {i} | {ours:.1f} | {ort:.1f} | {tract:.1f} | {ort / ours:.2f}× | {tract / ours:.2f}× |")
        best = [min(r[k] for r in runs) for k in range(3)]
        print(f"| {model} | **best of each** | {best[0]:.1f} | {best[1]:.1f} | {best[2]:.1f} | "
              f"**{best[1] / best[0]:.2f}×** | **{best[2] / best[0]:.2f}×** |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--native", action="store_true",
                        help="alternate with the target-cpu=native build (bench/target-native)")
    parser.add_argument("extra", nargs="*", help="arguments for the benchmark (after --)")
    args = parser.parse_args()
    command = ["cargo", "run", "--quiet", "--release", "--manifest-path", "bench/Cargo.toml", "--",
               "--samples", "200", *args.extra]
    native_env = dict(os.environ, RUSTFLAGS="-C target-cpu=native", CARGO_TARGET_DIR="bench/target-native")
    results: dict[str, list[tuple[float, float, float]]] = {}
    native: dict[str, list[tuple[float, float, float]]] = {}
    for run in range(args.runs):
        print(f"run {run + 1}/{args.runs}", file=sys.stderr)
        pathlib.Path("bench/last_run.md").write_text(run_once(command, None, results))
        if args.native:
            pathlib.Path("bench/last_run_native.md").write_text(run_once(command, native_env, native))
    print_table(f"{args.runs} runs" + (" of the default build" if args.native else ""), results)
    if args.native:
        print()
        print_table(f"{args.runs} runs of the target-cpu=native build, each right after one above", native)
        print("\nours, native ÷ default (best median of each; below 1: the native build is faster):\n")
        for model, runs in results.items():
            mine, theirs = min(r[0] for r in runs), min(r[0] for r in native[model])
            print(f"- {model}: {theirs:.1f} ÷ {mine:.1f} µs = {theirs / mine:.3f}")


if __name__ == "__main__":
    main()

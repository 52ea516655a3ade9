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

    python3 bench/repeat.py [--runs 8] [-- extra benchmark arguments]

The last run's full report is written to `bench/last_run.md` (not committed).
"""

import argparse
import pathlib
import re
import subprocess
import sys

ROW = re.compile(
    r"\| (LeNet-5|CIFAR VGG|MobileNet block) \| [^|]*\| ([\d.]+) \([^|]*\|[^|]*\| ([\d.]+) \([^|]*\|[^|]*\| ([\d.]+) \("
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("extra", nargs="*", help="arguments for the benchmark (after --)")
    args = parser.parse_args()
    command = ["cargo", "run", "--quiet", "--release", "--manifest-path", "bench/Cargo.toml", "--",
               "--samples", "200", *args.extra]
    results: dict[str, list[tuple[float, float, float]]] = {}
    report = ""
    for run in range(args.runs):
        print(f"run {run + 1}/{args.runs}", file=sys.stderr)
        report = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        for line in report.splitlines():
            match = ROW.match(line)
            if match:
                results.setdefault(match.group(1), []).append(tuple(float(match.group(i)) for i in (2, 3, 4)))
    pathlib.Path("bench/last_run.md").write_text(report)
    print(f"{args.runs} runs; medians in µs; ratios are the other engine's time ÷ ours\n")
    print("| model | run | ours | onnxruntime | tract | ort ÷ ours | tract ÷ ours |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    for model, runs in results.items():
        for i, (ours, ort, tract) in enumerate(runs, 1):
            print(f"| {model} | {i} | {ours:.1f} | {ort:.1f} | {tract:.1f} | {ort / ours:.2f}× | {tract / ours:.2f}× |")
        best = [min(r[k] for r in runs) for k in range(3)]
        print(f"| {model} | **best of each** | {best[0]:.1f} | {best[1]:.1f} | {best[2]:.1f} | "
              f"**{best[1] / best[0]:.2f}×** | **{best[2] / best[0]:.2f}×** |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Build cost and load time of models with embedded weights.

    python3 scripts/build_cost.py --write              # build cost, ~13 min on 2 cores
    python3 scripts/build_cost.py --load-time --write  # load time, ~1 min

Add `--source head` to build against a snapshot of the last commit instead of
the working tree (what BENCHMARKS.md reports; edits in progress then neither
break nor skew a run). The first run also builds the dependencies (~3 min) and
writes ~800 MB of random weights under /tmp/cnn-build-cost (`--workdir`); the
build cost run needs ~11 GiB of free memory for VGG-16's release build.

Build cost. For each model size (LeNet-5, the CIFAR VGG-style net, ~10 M,
~50 M and VGG-16 with 138 M parameters) this generates, in a scratch directory
under /tmp, a user crate that depends on `cnn-runtime` by path: the model's TOML
description (`models/*.toml` or a wider classifier) with
`weights = "weights.safetensors"`, random float32 weights saved with
`safetensors.numpy.save_file` under the model's state_dict keys, and a main that
calls `Net::embedded()` and runs one `forward_slice_with` on a boxed scratch.

The dependencies (cnn-runtime, cnn-macros, syn, safetensors, ...) are built
once into a shared CARGO_TARGET_DIR by a trivial crate. Then, for each model and
for `--release` and debug, `cargo clean -p <crate>` followed by `cargo build`
recompiles the model crate alone (and, as mitigations, the release build with
`-C codegen-units=1` and with `-C lto=off`, through `cargo rustc`); this is
repeated (`--reps`, default 3) and the median reported. A RUSTC_WRAPPER records, per rustc invocation, the crate name,
wall time and peak RSS (`wait4` rusage, the same figure as `/usr/bin/time %M`;
it covers rustc and the linker it spawns). A linker wrapper records the link
step on its own, so the table can tell rustc's memory from the linker's. The
table also gives the weight file and binary sizes.

Load time (`--load-time`). In a release build of the same crates, the binary
times `Net::embedded()` (weights read in place from the binary: batches of 1000
calls, median of 101 batches) against `Net::from_safetensors(&bytes)` on the
same file, already in memory (a copy into boxed arrays; median of many loads),
and checks that both models give the same output.

Only the workspace's own dependencies are needed: the generated crates copy the
workspace's Cargo.lock and build with `--offline`. Python needs numpy and
safetensors. `--write` puts the tables into BENCHMARKS.md, replacing only the
generated block of the section concerned; other sections and prose are kept.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

REPO = Path(__file__).resolve().parent.parent
DEFAULT_WORKDIR = Path("/tmp/cnn-build-cost")
BENCHMARKS = REPO / "BENCHMARKS.md"
BUILD_SECTION = "## Build cost of embedded weights"
LOAD_SECTION = "## Load time"

# The convolutional part of models/cifar_vgg.toml (287,008 parameters).
CIFAR_CONVS = """\
    { name = "conv1_1", kind = "Conv2d", args = [3, 32, 3], padding = 1 },
    { name = "relu1_1", kind = "ReLU" },
    { name = "conv1_2", kind = "Conv2d", args = [32, 32, 3], padding = 1 },
    { name = "relu1_2", kind = "ReLU" },
    { name = "pool1", kind = "MaxPool2d", args = [2] },
    { name = "conv2_1", kind = "Conv2d", args = [32, 64, 3], padding = 1 },
    { name = "relu2_1", kind = "ReLU" },
    { name = "conv2_2", kind = "Conv2d", args = [64, 64, 3], padding = 1 },
    { name = "relu2_2", kind = "ReLU" },
    { name = "pool2", kind = "MaxPool2d", args = [2] },
    { name = "conv3_1", kind = "Conv2d", args = [64, 128, 3], padding = 1 },
    { name = "relu3_1", kind = "ReLU" },
    { name = "conv3_2", kind = "Conv2d", args = [128, 128, 3], padding = 1 },
    { name = "relu3_2", kind = "ReLU" },
    { name = "pool3", kind = "MaxPool2d", args = [2] },
    { name = "flatten", kind = "Flatten" },
"""


def cifar_with_classifier(widths: list[int]) -> str:
    """The CIFAR net's convolutions, then Linear layers 2048 -> widths... -> 10."""
    dims = [2048, *widths, 10]
    lines = []
    for i, (a, b) in enumerate(zip(dims, dims[1:]), start=1):
        if i > 1:
            lines.append(f'    {{ name = "relu_fc{i - 1}", kind = "ReLU" }},')
        lines.append(f'    {{ name = "fc{i}", kind = "Linear", args = [{a}, {b}] }},')
    return "input = [3, 32, 32]\nlayers = [\n" + CIFAR_CONVS + "\n".join(lines) + "\n]\n"


def from_repo(name: str) -> str:
    return (REPO / "models" / name).read_text()


@dataclass
class ModelCase:
    crate: str  # crate name of the generated user crate
    label: str  # as shown in the tables
    toml: str  # description, without the weights line
    params: int = 0  # filled in from the description
    tensors: dict[str, tuple[int, ...]] = field(default_factory=dict)


def cases() -> list[ModelCase]:
    return [
        ModelCase("bc_lenet5", "LeNet-5 (`models/lenet5.toml`)", from_repo("lenet5.toml")),
        ModelCase("bc_cifar_vgg", "CIFAR VGG-style (`models/cifar_vgg.toml`)", from_repo("cifar_vgg.toml")),
        ModelCase(
            "bc_cifar_10m",
            "CIFAR convs + Linear 2048-4096-320-10",
            cifar_with_classifier([4096, 320]),
        ),
        ModelCase(
            "bc_cifar_50m",
            "CIFAR convs + Linear 2048-8192-4096-10",
            cifar_with_classifier([8192, 4096]),
        ),
        ModelCase("bc_vgg16", "VGG-16 (`models/vgg16.toml`)", from_repo("vgg16.toml")),
    ]


# ---------------------------------------------------------------------------
# state_dict keys and shapes, computed from the description


def pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (value[0], value[1])


def state_dict_shapes(toml_text: str) -> dict[str, tuple[int, ...]]:
    """PyTorch's state_dict keys and shapes for the layers these models use."""
    shapes: dict[str, tuple[int, ...]] = {}
    for layer in tomllib.loads(toml_text)["layers"]:
        kind, args, key = layer["kind"], layer.get("args", []), layer.get("key", layer["name"])
        if kind == "Conv2d":
            cin, cout, k = args[0], args[1], pair(args[2])
            groups = layer.get("groups", 1)
            shapes[f"{key}.weight"] = (cout, cin // groups, *k)
            if layer.get("bias", True):
                shapes[f"{key}.bias"] = (cout,)
        elif kind == "Linear":
            fin, fout = args[0], args[1]
            shapes[f"{key}.weight"] = (fout, fin)
            if layer.get("bias", True):
                shapes[f"{key}.bias"] = (fout,)
        elif kind == "BatchNorm2d":
            for role in ("weight", "bias", "running_mean", "running_var"):
                shapes[f"{key}.{role}"] = (args[0],)
    return shapes


def write_weights(path: Path, shapes: dict[str, tuple[int, ...]], seed: int) -> None:
    """Random float32 weights, scaled by 1/sqrt(fan_in) so activations stay finite."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for key, shape in shapes.items():
        if key.endswith(".running_var"):
            tensors[key] = np.ones(shape, dtype=np.float32)
            continue
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        values = rng.standard_normal(shape, dtype=np.float32)
        values *= np.float32(np.sqrt(2.0 / fan_in) if len(shape) > 1 else 0.01)
        tensors[key] = values
    save_file(tensors, str(path))


# ---------------------------------------------------------------------------
# generated crates

MAIN_RS = r"""
//! Generated by scripts/build_cost.py.
use cnn_runtime::{cnn_model, Model, ScratchSpace};
use std::hint::black_box;
use std::time::Instant;

cnn_model!(pub struct Net = "net.toml");

fn input() -> Vec<f32> {
    (0..Net::INPUT_LEN).map(|i| (i % 17) as f32 / 8.0 - 1.0).collect()
}

fn run(model: &Net) -> Vec<f32> {
    let mut scratch = <Net as Model>::Scratch::new_boxed();
    let mut output = vec![0.0f32; Net::OUTPUT_LEN];
    model
        .forward_slice_with(&input(), &mut scratch, &mut output)
        .expect("shapes");
    output
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// `Net::embedded()` against `Net::from_safetensors` on the same file.
fn load_time(path: &str, loads: usize) {
    const BATCH: u32 = 1000;
    let mut per_call = Vec::new();
    for _ in 0..101 {
        let start = Instant::now();
        for _ in 0..BATCH {
            black_box(Net::embedded());
        }
        per_call.push(start.elapsed().as_nanos() as f64 / f64::from(BATCH));
    }
    let bytes = std::fs::read(path).expect("read the weight file");
    let mut per_load = Vec::new();
    for _ in 0..loads {
        let start = Instant::now();
        let model = Net::from_safetensors(black_box(&bytes)).expect("load");
        per_load.push(start.elapsed().as_nanos() as f64);
        black_box(&model);
    }
    let same = run(&Net::embedded()) == run(&Net::from_safetensors(&bytes).expect("load"));
    println!(
        "load-time embedded_ns={:.1} from_safetensors_ns={:.0} loads={loads} same_output={same}",
        median(per_call),
        median(per_load)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 4 && args[1] == "--load-time" {
        load_time(&args[2], args[3].parse().expect("number of loads"));
        return;
    }
    let output = run(&Net::embedded());
    println!("{} params={} out[0]={}", Net::NAME, Net::PARAMS, output[0]);
}
"""

DEPS_MAIN_RS = r"""
//! Generated by scripts/build_cost.py: builds the dependencies once.
use cnn_runtime::{cnn_model, Model, ScratchSpace};
cnn_model! {
    struct Tiny {
        input: [1, 4, 4],
        conv: Conv2d(1, 2, 3, padding = 1),
        flatten: Flatten,
        fc: Linear(32, 2),
    }
}
fn main() {
    let model = Tiny::from_fn(|_, _| 0.5);
    let mut scratch = <Tiny as Model>::Scratch::new_boxed();
    let mut out = [0.0f32; 2];
    model.forward_with(&[[[1.0; 4]; 4]], &mut scratch, &mut out);
    println!("{out:?}");
}
"""

RUSTC_WRAPPER = r"""#!/usr/bin/env python3
# RUSTC_WRAPPER: runs rustc, appends "rustc <crate> <wall s> <peak RSS KiB> <CPU s>" to $BUILD_COST_LOG.
import os, sys, time
args = sys.argv[1:]
name = args[args.index("--crate-name") + 1] if "--crate-name" in args else "-"
start = time.perf_counter()
pid = os.posix_spawnp(args[0], args, os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(os.environ["BUILD_COST_LOG"], "a") as log:
    log.write(f"rustc {name} {wall:.3f} {usage.ru_maxrss} {usage.ru_utime + usage.ru_stime:.3f}\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""

LINKER_WRAPPER = r"""#!/usr/bin/env python3
# Linker wrapper: runs cc, appends "link <output> <wall s> <peak RSS KiB> <CPU s>" to $BUILD_COST_LOG.
import os, sys, time
args = ["cc", *sys.argv[1:]]
out = os.path.basename(args[args.index("-o") + 1]) if "-o" in args else "-"
start = time.perf_counter()
pid = os.posix_spawnp("cc", args, os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(os.environ["BUILD_COST_LOG"], "a") as log:
    log.write(f"link {out} {wall:.3f} {usage.ru_maxrss} {usage.ru_utime + usage.ru_stime:.3f}\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def toolchain() -> str:
    return tomllib.loads((REPO / "rust-toolchain.toml").read_text())["toolchain"]["channel"]


def source_tree(workdir: Path, source: str) -> tuple[Path, str]:
    """The cnn-runtime sources to build against, and how to name them.

    `tree`: the working tree as it is. `head`: a snapshot of the last commit
    (`git archive HEAD`), so that edits in progress neither break nor skew a run.
    """
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    if source == "tree":
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return REPO, f"working tree at commit {commit}" + (" with uncommitted changes" if dirty else "")
    root = workdir / f"src-{commit}"
    if not (root / "Cargo.lock").exists():
        root.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(REPO), "archive", "HEAD"], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(root)], input=archive.stdout, check=True)
    return root, f"commit {commit}"


class Builder:
    def __init__(self, workdir: Path, root: Path = REPO):
        self.workdir = workdir
        self.root = root  # the workspace whose cnn-runtime and Cargo.lock are used
        self.target = workdir / "target"
        self.log = workdir / "rustc.log"
        workdir.mkdir(parents=True, exist_ok=True)
        for name, text in (("rustc-wrapper", RUSTC_WRAPPER), ("linker-wrapper", LINKER_WRAPPER)):
            path = workdir / name
            path.write_text(text)
            path.chmod(0o755)
        # Cargo's defaults: no flags, profiles or wrappers from the caller's environment.
        env = {k: v for k, v in os.environ.items()
               if k not in ("RUSTFLAGS", "RUSTDOCFLAGS", "RUSTC_WRAPPER", "RUSTC_WORKSPACE_WRAPPER",
                            "CARGO_ENCODED_RUSTFLAGS", "CARGO_INCREMENTAL", "CARGO_TARGET_DIR")
               and not k.startswith(("CARGO_BUILD_", "CARGO_PROFILE_", "CARGO_TARGET_"))}
        env.update(
            RUSTUP_TOOLCHAIN=toolchain(),
            CARGO_TARGET_DIR=str(self.target),
            RUSTC_WRAPPER=str(workdir / "rustc-wrapper"),
            BUILD_COST_LOG=str(self.log),
        )
        host = re.search(r"^host: (\S+)$", self.run(["rustc", "-vV"], env=env), re.M).group(1)
        env[f"CARGO_TARGET_{host.upper().replace('-', '_')}_LINKER"] = str(workdir / "linker-wrapper")
        self.env = env

    def run(self, cmd: list[str], cwd: Path | None = None, env=None) -> str:
        done = subprocess.run(cmd, cwd=cwd, env=env or self.env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed in {cwd}:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def crate(self, name: str, main_rs: str) -> Path:
        """A user crate depending on cnn-runtime by path, as in tests/cargo_builds.rs."""
        d = self.workdir / "crates" / name
        (d / "src").mkdir(parents=True, exist_ok=True)
        (d / "Cargo.toml").write_text(
            f'[package]\nname = "{name}"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n\n'
            f'[dependencies]\ncnn-runtime = {{ path = "{self.root / "cnn-runtime"}" }}\n\n[workspace]\n'
        )
        shutil.copy(self.root / "Cargo.lock", d / "Cargo.lock")
        if not (d / "src/main.rs").exists() or (d / "src/main.rs").read_text() != main_rs:
            (d / "src/main.rs").write_text(main_rs)
        return d

    def build(self, crate_dir: Path, release: bool, rustc_flags: tuple[str, ...] = ()
              ) -> tuple[float, list[tuple[str, str, float, int, float]]]:
        """`cargo build` (or `cargo rustc -- <flags>`): its wall time and the wrappers' log lines."""
        self.log.write_text("")
        cmd = ["cargo", "rustc" if rustc_flags else "build", "--offline", "--quiet"]
        cmd += ["--release"] if release else []
        cmd += ["--", *rustc_flags] if rustc_flags else []
        start = time.perf_counter()
        self.run(cmd, cwd=crate_dir)
        wall = time.perf_counter() - start
        lines = []
        for line in self.log.read_text().splitlines():
            kind, name, secs, kib, cpu = line.split()
            lines.append((kind, name, float(secs), int(kib), float(cpu)))
        return wall, lines

    def clean(self, crate_dir: Path, name: str, release: bool) -> None:
        profile = "release" if release else "debug"
        self.run(["cargo", "clean", "--offline", "--quiet", "-p", name]
                 + (["--release"] if release else []), cwd=crate_dir)
        # Debug builds are incremental: a clean build starts without a cache.
        for stale in (self.target / profile / "incremental").glob(f"{name}-*"):
            shutil.rmtree(stale)

    def binary(self, name: str, release: bool) -> Path:
        return self.target / ("release" if release else "debug") / name


def prepare(builder: Builder, models: list[ModelCase]) -> dict[str, Path]:
    """Writes the crates and weights; builds the dependencies in both profiles."""
    deps = builder.crate("bc_deps", DEPS_MAIN_RS)
    for release in (True, False):
        builder.build(deps, release)
    dirs = {}
    for seed, m in enumerate(models):
        m.tensors = state_dict_shapes(m.toml)
        m.params = sum(int(np.prod(s)) for k, s in m.tensors.items()
                       if not k.endswith(("running_mean", "running_var")))
        d = builder.crate(m.crate, MAIN_RS)
        toml = re.sub(r"^(input = .*)$", r'\1\nweights = "weights.safetensors"', m.toml, count=1, flags=re.M)
        if not (d / "net.toml").exists() or (d / "net.toml").read_text() != toml:
            (d / "net.toml").write_text(toml)
        stamp = d / "weights.stamp"
        want = f"{seed} {sorted(m.tensors.items())}"
        if not stamp.exists() or stamp.read_text() != want:
            print(f"  writing {m.params:,} random weights for {m.crate}", file=sys.stderr)
            write_weights(d / "weights.safetensors", m.tensors, seed)
            stamp.write_text(want)
        dirs[m.crate] = d
    return dirs


# ---------------------------------------------------------------------------
# measurements


@dataclass
class BuildResult:
    cargo_s: float
    rustc_s: float
    rustc_kib: int  # rustc and its children, linker included
    rustc_cpu: float  # user + system CPU seconds, linker included
    link_s: float
    link_kib: int
    binary: int
    load: float  # 1-minute load average just before the build


def measure_build(builder: Builder, d: Path, name: str, config: "Config") -> BuildResult:
    release = config.release
    builder.clean(d, name, release)
    load = os.getloadavg()[0]
    cargo_s, lines = builder.build(d, release, config.rustc_flags)
    ours = [line for line in lines if line[0] == "rustc" and line[1] == name]
    others = [line[1] for line in lines if line[0] == "rustc" and line[1] not in (name, "-", "___")]
    links = [line for line in lines if line[0] == "link"]
    if len(ours) != 1 or len(links) != 1:
        sys.exit(f"{name}: expected one rustc and one link of the crate, got {lines}")
    if others:
        print(f"  warning: {name} also rebuilt {others}", file=sys.stderr)
    return BuildResult(
        cargo_s=cargo_s,
        rustc_s=ours[0][2],
        rustc_kib=ours[0][3],
        rustc_cpu=ours[0][4],
        link_s=links[0][2],
        link_kib=links[0][3],
        binary=builder.binary(name, release).stat().st_size,
        load=load,
    )


def median_result(results: list[BuildResult]) -> BuildResult:
    med = lambda attr: statistics.median(getattr(r, attr) for r in results)  # noqa: E731
    return BuildResult(*(med(a) for a in BuildResult.__dataclass_fields__))


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in subprocess.run(
        ["lscpu"], capture_output=True, text=True).stdout.splitlines()
        if line.startswith("Model name")), platform.processor())
    mem_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))
    rustc = subprocess.run(["rustc", "-V"], capture_output=True, text=True,
                           env={**os.environ, "RUSTUP_TOOLCHAIN": toolchain()}).stdout.strip()
    return (f"{cpu}, {os.cpu_count()} cores, {mem_kib / 2**20:.0f} GiB, {platform.system()} "
            f"{platform.release()}; {rustc}; {datetime.date.today().isoformat()}")


MB = 1e6
MIB = 1024


@dataclass(frozen=True)
class Config:
    name: str  # as shown in the tables
    release: bool
    rustc_flags: tuple[str, ...] = ()  # for the model crate only, through `cargo rustc`


CONFIGS = [
    Config("release", True),
    Config("debug", False),
    # What a user can set for the model's crate alone, in their Cargo.toml:
    # [profile.release.package.<crate>] codegen-units = 1
    Config("release, codegen-units = 1", True, ("-C", "codegen-units=1")),
    # [profile.release] lto = "off" (no thin-local LTO between codegen units)
    Config('release, lto = "off"', True, ("-C", "lto=off")),
]


def build_cost(builder: Builder, models: list[ModelCase], dirs: dict[str, Path], reps: int,
               source: str, source_flag: str) -> str:
    results: dict[tuple[str, Config], BuildResult] = {}
    for m in models:
        for config in CONFIGS:
            # One unmeasured build: page cache warm, the crate known to build.
            builder.build(dirs[m.crate], config.release, config.rustc_flags)
            runs = [measure_build(builder, dirs[m.crate], m.crate, config) for _ in range(reps)]
            r = median_result(runs)
            results[(m.crate, config)] = r
            spread = ", ".join(f"{x.rustc_s:.2f}" for x in runs)
            print(f"  {m.crate:14} {config.name:28} rustc {r.rustc_s:6.2f} s ({spread}) cpu {r.rustc_cpu:6.2f} s  "
                  f"peak {r.rustc_kib / MIB:7.0f} MiB  link {r.link_s:5.2f} s {r.link_kib / MIB:6.0f} MiB",
                  file=sys.stderr)
        builder.build(dirs[m.crate], True)
        out = subprocess.run([str(builder.binary(m.crate, True))], capture_output=True, text=True)
        print(f"  {m.crate}: {out.stdout.strip()}", file=sys.stderr)
        if out.returncode != 0 or f"params={m.params}" not in out.stdout:
            sys.exit(f"{m.crate}: unexpected output {out.stdout} {out.stderr}")

    weights = {m.crate: (dirs[m.crate] / "weights.safetensors").stat().st_size for m in models}
    release, debug, *variants = CONFIGS
    rows = [
        "| model | parameters | weight file | release: build (CPU) | release: peak RSS | "
        "debug: build (CPU) | debug: peak RSS | release binary |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for m in models:
        rel, dbg = results[(m.crate, release)], results[(m.crate, debug)]
        rows.append(
            f"| {m.label} | {m.params:,} | {weights[m.crate] / MB:,.1f} MB | "
            f"{rel.rustc_s:.2f} s ({rel.rustc_cpu:.2f} s) | {rel.rustc_kib / MIB:,.0f} MiB | "
            f"{dbg.rustc_s:.2f} s ({dbg.rustc_cpu:.2f} s) | {dbg.rustc_kib / MIB:,.0f} MiB | "
            f"{rel.binary / MB:,.1f} MB |"
        )
    mitigations = [
        "| model | parameters | " + " | ".join(f"{c.name}: build (CPU) | {c.name}: peak RSS" for c in variants) + " |",
        "|---|--:|" + "--:|--:|" * len(variants),
    ]
    for m in models:
        cells = []
        for c in variants:
            r = results[(m.crate, c)]
            cells.append(f"{r.rustc_s:.2f} s ({r.rustc_cpu:.2f} s) | {r.rustc_kib / MIB:,.0f} MiB")
        mitigations.append(f"| {m.label} | {m.params:,} | " + " | ".join(cells) + " |")
    detail = [
        "| model | configuration | `cargo` wall | rustc wall (link included) | rustc CPU | link wall | "
        "rustc peak RSS (linker included) | linker peak RSS | binary | load average |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for m in models:
        for c in CONFIGS:
            r = results[(m.crate, c)]
            detail.append(
                f"| {m.crate} | {c.name} | {r.cargo_s:.2f} s | {r.rustc_s:.2f} s | {r.rustc_cpu:.2f} s | "
                f"{r.link_s:.2f} s | {r.rustc_kib / MIB:,.0f} MiB | {r.link_kib / MIB:,.0f} MiB | "
                f"{r.binary / MB:,.1f} MB | {r.load:.1f} |"
            )
    return "\n".join([
        f"Machine: {machine()}.",
        f"Source: {source}. Command: `python3 scripts/build_cost.py{flags(source_flag, reps)} --write`; "
        f"median of {reps} clean builds of the model "
        "crate alone (dependencies prebuilt): wall time of its rustc process (CPU time, user + "
        "system, in brackets) and its peak RSS; both include the link step. Cargo's default "
        "profiles.",
        "",
        *rows,
        "",
        "The same crates with the model crate's release build changed (`cargo rustc --release -- "
        "-C codegen-units=1`, what `[profile.release.package.<crate>] codegen-units = 1` does; "
        "and `-C lto=off`, what `[profile.release] lto = \"off\"` does):",
        "",
        *mitigations,
        "",
        "Details (medians): the link step on its own, Cargo's wall time, and the 1-minute load "
        "average before each build (other jobs shared the machine).",
        "",
        *detail,
    ])


def load_time(builder: Builder, models: list[ModelCase], dirs: dict[str, Path], source: str,
              source_flag: str) -> str:
    rows = [
        "| model | parameters | weight file | `Net::embedded()` | `Net::from_safetensors(&bytes)` | "
        "copy rate of `from_safetensors` |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for m in models:
        d = dirs[m.crate]
        builder.build(d, release=True)
        weights = d / "weights.safetensors"
        size = weights.stat().st_size
        loads = max(11, min(1001, int(4e9 // size)))
        out = builder.run([str(builder.binary(m.crate, True)), "--load-time", str(weights), str(loads)])
        fields = dict(kv.split("=") for kv in out.split()[1:])
        if fields["same_output"] != "true":
            sys.exit(f"{m.crate}: embedded and loaded models disagree")
        emb, copy = float(fields["embedded_ns"]), float(fields["from_safetensors_ns"])
        print(f"  {m.crate:14} embedded {emb:8.1f} ns   from_safetensors {copy / 1e6:10.3f} ms "
              f"({loads} loads)", file=sys.stderr)
        rows.append(
            f"| {m.label} | {m.params:,} | {size / MB:,.1f} MB | {emb:,.0f} ns | "
            f"{fmt_ns(copy)} | {size / copy:,.2f} GB/s |"
        )
    return "\n".join([
        f"Machine: {machine()}.",
        f"Source: {source}. Command: `python3 scripts/build_cost.py{flags(source_flag)} --load-time "
        "--write` (release builds). "
        "`embedded()`: median over 101 batches of 1000 calls; `from_safetensors`: median of "
        "11 to 1001 loads (by file size) from bytes already in memory; both models are checked "
        "to give the same output.",
        "",
        *rows,
    ])


def flags(source_flag: str, reps: int = 3) -> str:
    """The command-line flags that reproduce a run, defaults left out."""
    return (" --source head" if source_flag == "head" else "") + (f" --reps {reps}" if reps != 3 else "")


def fmt_ns(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:,.1f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:,.1f} µs"
    return f"{ns:,.0f} ns"


# ---------------------------------------------------------------------------
# BENCHMARKS.md


def write_section(section: str, generated: str) -> None:
    """Replaces the generated block of `section`, creating what is missing."""
    tag = re.sub(r"[^a-z]+", "-", section.lstrip("# ").lower()).strip("-")
    begin, end = f"<!-- {tag}: generated by scripts/build_cost.py -->", f"<!-- {tag}: end -->"
    block = f"{begin}\n{generated}\n{end}"
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else "# Benchmarks\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    elif re.search(rf"^{re.escape(section)}$", text, re.M):
        text = re.sub(rf"^({re.escape(section)}\n)", lambda mm: mm.group(1) + "\n" + block + "\n", text,
                      count=1, flags=re.M)
    else:
        text = text.rstrip("\n") + f"\n\n{section}\n\n{block}\n"
    BENCHMARKS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=textwrap.dedent(__doc__.split("\n\n", 1)[1]))
    parser.add_argument("--load-time", action="store_true", help="measure load time instead of build cost")
    parser.add_argument("--write", action="store_true", help="write the table into BENCHMARKS.md")
    parser.add_argument("--reps", type=int, default=3, help="clean builds per model and profile")
    parser.add_argument("--models", nargs="*", help="crate names to run (default: all)")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="scratch directory")
    parser.add_argument("--source", choices=["tree", "head"], default="tree",
                        help="build against the working tree (default) or a snapshot of HEAD")
    args = parser.parse_args()

    start = time.perf_counter()
    models = [m for m in cases() if not args.models or m.crate in args.models]
    args.workdir.mkdir(parents=True, exist_ok=True)
    root, source = source_tree(args.workdir, args.source)
    builder = Builder(args.workdir, root)
    print(f"preparing crates in {args.workdir}", file=sys.stderr)
    dirs = prepare(builder, models)
    if args.load_time:
        section, table = LOAD_SECTION, load_time(builder, models, dirs, source, args.source)
    else:
        section, table = BUILD_SECTION, build_cost(builder, models, dirs, args.reps, source, args.source)
    print(table)
    if args.write:
        write_section(section, table)
        print(f"wrote {section!r} in {BENCHMARKS}", file=sys.stderr)
    print(f"total {time.perf_counter() - start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()

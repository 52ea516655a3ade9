#!/usr/bin/env python3
"""Writes the malformed-weights corpus that tests/malformed_weights.rs loads.

Run from the repository root:

    python3 scripts/gen_malformed.py            # (re)write tests/fixtures/malformed/
    python3 scripts/gen_malformed.py --check    # regenerate in memory, fail if anything differs

Needs Python 3 with numpy and safetensors (the `safetensors` Python package wraps
the same Rust crate, version 0.8, that cnn-runtime uses).

Every file is meant for one fixed model (the test declares it with `cnn_model!`):

    input: [1, 2, 2], conv: Conv2d(1, 2, 1), bn: BatchNorm2d(2), flatten: Flatten, fc: Linear(8, 3)

whose state_dict is conv.weight [2, 1, 1, 1], conv.bias [2], bn.weight [2],
bn.bias [2], bn.running_mean [2], bn.running_var [2], (bn.num_batches_tracked,
ignored), fc.weight [3, 8], fc.bias [3].

The files cover: length prefixes too short, too large and past the end; truncated,
non-UTF-8 and non-JSON headers; malformed tensor entries; duplicate keys; shapes
whose element or byte count overflows; offsets that overlap, leave gaps, run
backwards, point past the end or sum past u64; trailing bytes; dtype, shape,
missing and unexpected tensors; num_batches_tracked present, absent, mistyped
and not a scalar; and valid files in unusual forms (unaligned data at every
offset mod 4, f16/bf16, reordered data, padded headers) that must load.

tests/fixtures/malformed/manifest.toml lists, for each file, what it is and the
outcome `from_safetensors` must give, in the one-line form the test renders:

    ok                                   loads; `output` is the model's output
                                         on the manifest's `input` (float64 numpy)
    format <SafeTensorError variant>     WeightsError::Format
    duplicate_key <key>                  WeightsError::DuplicateKey
    mismatch <problem>; <problem>...     WeightsError::Mismatch, sorted by key:
                                         missing <key> <shape> | unexpected <key> |
                                         wrong_shape <key> <expected> <found> |
                                         wrong_dtype <key> <dtype>

Before writing, every expected `format` variant is cross-checked against what
the Python safetensors package (the reference crate) says about the same bytes,
and every file expected to pass the format checks must be accepted by it
(duplicate keys excepted: that rule is ours).
"""

import argparse
import json
import os
import struct
import sys

import numpy as np
import safetensors

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "malformed")
MANIFEST = os.path.join(OUT, "manifest.toml")

# ---------------------------------------------------------------------------
# The model and its reference weights
# ---------------------------------------------------------------------------

EPS = 1e-5
INPUT = [1.0, -2.0, 0.5, 3.0]  # [1, 2, 2], CHW order

# name -> (shape, values). Every value is exact in f16 and bf16, so converted
# files compute the same output.
WEIGHTS = {
    "conv.weight": ([2, 1, 1, 1], [0.5, -1.25]),
    "conv.bias": ([2], [0.25, -0.5]),
    "bn.weight": ([2], [1.5, 0.75]),
    "bn.bias": ([2], [-0.125, 0.375]),
    "bn.running_mean": ([2], [0.5, -0.25]),
    "bn.running_var": ([2], [4.0, 0.25]),
    "fc.weight": ([3, 8], [((i * 5) % 13) / 8.0 - 0.75 for i in range(24)]),
    "fc.bias": ([3], [0.125, -0.25, 1.0]),
}
ORDER = list(WEIGHTS)  # PARAM_SPECS order
NBT = "bn.num_batches_tracked"


def forward(values):
    """The model on INPUT, in float64, from a dict name -> flat list."""
    x = np.array(INPUT, dtype=np.float64).reshape(1, 2, 2)
    w = np.array(values["conv.weight"], dtype=np.float64)
    b = np.array(values["conv.bias"], dtype=np.float64)
    y = w[:, None, None] * x[0][None] + b[:, None, None]
    g, beta = (np.array(values[k], dtype=np.float64) for k in ("bn.weight", "bn.bias"))
    mean, var = (np.array(values[k], dtype=np.float64) for k in ("bn.running_mean", "bn.running_var"))
    y = (y - mean[:, None, None]) / np.sqrt(var[:, None, None] + EPS) * g[:, None, None] + beta[:, None, None]
    fc = np.array(values["fc.weight"], dtype=np.float64).reshape(3, 8)
    return fc @ y.reshape(8) + np.array(values["fc.bias"], dtype=np.float64)


# ---------------------------------------------------------------------------
# Writing files
# ---------------------------------------------------------------------------

DTYPE_BITS = {"BOOL": 8, "U8": 8, "I8": 8, "F8_E4M3": 8, "F8_E5M2": 8, "I16": 16, "U16": 16, "F16": 16,
              "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "F64": 64, "I64": 64, "U64": 64, "C64": 64, "F4": 4}


def encode(dtype, values):
    if dtype == "F32":
        return struct.pack(f"<{len(values)}f", *values)
    if dtype == "F16":
        return np.array(values, dtype="<f2").tobytes()
    if dtype == "BF16":
        return b"".join(struct.pack("<I", struct.unpack("<I", struct.pack("<f", v))[0])[2:] for v in values)
    if dtype == "F64":
        return struct.pack(f"<{len(values)}d", *values)
    raise ValueError(dtype)


class T:
    """One tensor: name, dtype, shape, raw bytes (zeros of the right size by default)."""

    def __init__(self, name, dtype, shape, raw=None):
        self.name, self.dtype, self.shape = name, dtype, list(shape)
        if raw is None:
            n = 1
            for d in shape:
                n *= d
            raw = bytes(n * DTYPE_BITS[dtype] // 8)
        self.raw = raw


def weight(name, dtype="F32"):
    shape, values = WEIGHTS[name]
    return T(name, dtype, shape, encode(dtype, values))


def nbt(dtype="I64", shape=(), value=1000):
    if dtype == "I64":
        n = 1
        for d in shape:
            n *= d
        return T(NBT, dtype, shape, struct.pack(f"<{n}q", *([value] * n)))
    return T(NBT, dtype, shape)


def full(dtype="F32", with_nbt=True):
    tensors = [weight(k, dtype) for k in ORDER]
    if with_nbt:
        tensors.append(nbt())
    return tensors


def header_json(entries, metadata=None):
    """entries: list of (name, dict); order kept, duplicates allowed."""
    parts = []
    if metadata is not None:
        parts.append(json.dumps("__metadata__") + ":" + json.dumps(metadata, separators=(",", ":")))
    for name, entry in entries:
        parts.append(json.dumps(name) + ":" + json.dumps(entry, separators=(",", ":")))
    return "{" + ",".join(parts) + "}"


def raw_file(header, data=b"", length=None):
    """8-byte little-endian length (default: the header's), header, data."""
    if isinstance(header, str):
        header = header.encode()
    n = len(header) if length is None else length
    return struct.pack("<Q", n) + header + data


def layout(tensors, pad_to=8, metadata=None, pad=b" "):
    """The header and data of `tensors`, contiguous in the given order, the
    header padded (with `pad`) to a multiple of `pad_to` as writers do."""
    entries, data = [], b""
    for t in tensors:
        entries.append((t.name, {"dtype": t.dtype, "shape": t.shape, "data_offsets": [len(data), len(data) + len(t.raw)]}))
        data += t.raw
    header = header_json(entries, metadata).encode()
    if pad_to > 1:
        header += pad * (-len(header) % pad_to)
    return header, data


def st_file(tensors, **kwargs):
    header, data = layout(tensors, **kwargs)
    return raw_file(header, data)


def unaligned(tensors, residue):
    """A valid file whose data section starts at `residue` mod 4 (and mod 8)."""
    header, data = layout(tensors, pad_to=1)
    while (8 + len(header)) % 8 != residue:
        header += b" "
    return raw_file(header, data)


# ---------------------------------------------------------------------------
# Expectations
# ---------------------------------------------------------------------------


def shape_text(shape):
    return "[" + ", ".join(str(d) for d in shape) + "]"


def missing(key):
    return (key, f"missing {key} {shape_text(WEIGHTS[key][0])}")


def unexpected(key):
    return (key, f"unexpected {key}")


def wrong_shape(key, found, expected=None):
    expected = WEIGHTS[key][0] if expected is None else expected
    return (key, f"wrong_shape {key} {shape_text(expected)} {shape_text(found)}")


def wrong_dtype(key, found):
    return (key, f"wrong_dtype {key} {found}")


def mismatch(*problems):
    # The loader sorts by key (stable): Rust's str order is Python's for ASCII.
    problems = sorted(problems, key=lambda p: p[0])
    return "mismatch " + "; ".join(text for _, text in problems)


def fmt(variant):
    return f"format {variant}"


def dup(key):
    return f"duplicate_key {key}"


OK = "ok"

# ---------------------------------------------------------------------------
# The corpus
# ---------------------------------------------------------------------------


def without(name, tensors=None):
    return [t for t in (tensors or full()) if t.name != name]


def replaced(name, new, tensors=None):
    return [new if t.name == name else t for t in (tensors or full())]


def cases():
    """(slug, description, bytes, expectation, values for `ok` files)."""
    out = []

    def add(slug, what, data, expect, values=None, known_bug=None, reference=None):
        out.append((slug, what, data, expect, values, known_bug, reference))

    base_values = {k: v for k, (_, v) in WEIGHTS.items()}
    good = st_file(full())
    good_header_len = struct.unpack("<Q", good[:8])[0]

    # --- valid files in unusual forms: must load and compute ----------------
    add("valid_reference", "all tensors, F32, header padded to 8 bytes, num_batches_tracked I64", good, OK, base_values)
    add("valid_metadata", "with __metadata__ {format: pt}, as safetensors.torch.save_file writes",
        st_file(full(), metadata={"format": "pt"}), OK, base_values)
    add("valid_many_metadata", "__metadata__ with many string entries",
        st_file(full(), metadata={f"k{i}": "v" * i for i in range(20)}), OK, base_values)
    add("valid_no_num_batches_tracked", "num_batches_tracked absent", st_file(full(with_nbt=False)), OK, base_values)
    add("valid_num_batches_tracked_f32_scalar", "num_batches_tracked as an F32 scalar: only its shape is checked",
        st_file(without(NBT) + [T(NBT, "F32", [], struct.pack("<f", 3.0))]), OK, base_values)
    add("valid_num_batches_tracked_bool_scalar", "num_batches_tracked as a BOOL scalar",
        st_file(without(NBT) + [T(NBT, "BOOL", [], b"\x01")]), OK, base_values)
    add("valid_num_batches_tracked_first", "num_batches_tracked first in the data section",
        st_file([nbt()] + full(with_nbt=False)), OK, base_values)
    add("valid_reversed_data", "tensors in reverse order in the data section", st_file(list(reversed(full()))), OK,
        base_values)
    for residue in range(1, 8):
        add(f"valid_unaligned_data_{residue}", f"data section at offset {residue} mod 8 (unpadded header)",
            unaligned(full(), residue), OK, base_values)
    add("valid_unaligned_tensor", "conv.bias as F16 (4 bytes) first: every F32 tensor after it at 4 mod 8",
        st_file([weight("conv.bias", "F16")] + without("conv.bias")), OK, base_values)
    add("valid_f16", "every weight F16", st_file(full("F16")), OK, base_values)
    add("valid_bf16", "every weight BF16", st_file(full("BF16")), OK, base_values)
    add("valid_mixed_dtypes", "F32, F16 and BF16 mixed",
        st_file([weight(k, ["F32", "F16", "BF16"][i % 3]) for i, k in enumerate(ORDER)] + [nbt()]), OK, base_values)
    add("valid_unaligned_f16", "F16 weights, data at an odd offset", unaligned(full("F16"), 3), OK, base_values)
    add("valid_leading_whitespace", "header JSON preceded by spaces and a newline",
        raw_file(b" \n" + layout(full(), pad_to=1)[0], layout(full())[1]), OK, base_values)
    add("valid_tab_padding", "header padded with tabs and newlines (JSON whitespace)",
        st_file(full(), pad=b"\t", pad_to=16), OK, base_values)
    extra_field = [(t.name, {"dtype": t.dtype, "shape": t.shape, "data_offsets": None, "note": "x"}) for t in full()]
    data, start = b"", 0
    for (name, entry), t in zip(extra_field, full()):
        entry["data_offsets"] = [start, start + len(t.raw)]
        start += len(t.raw)
        data += t.raw
    add("valid_unknown_entry_field", "tensor entries with an extra field the format does not define",
        raw_file(header_json(extra_field), data), OK, base_values)
    special = dict(base_values)
    special["fc.bias"] = [0.0, -0.0, 1e-40]  # a subnormal bias
    add("valid_subnormal_and_negative_zero", "fc.bias holds 0, -0 and a subnormal",
        st_file(replaced("fc.bias", T("fc.bias", "F32", [3], encode("F32", special["fc.bias"])))), OK, special)

    # serde reads a struct from a JSON array too: ["F32", [3], [0, 12]] is a
    # tensor entry for the reference crate.
    def array_form(tensors):
        entries, data = [], b""
        for t in tensors:
            entries.append(json.dumps(t.name) + ":" + json.dumps([t.dtype, t.shape, [len(data), len(data) + len(t.raw)]]))
            data += t.raw
        return "{" + ",".join(entries) + "}", data

    header, data = array_form(full())
    add("valid_array_entries", "every tensor entry written as a JSON array [dtype, shape, offsets]",
        raw_file(header, data), OK, base_values)

    # --- length prefix and framing -------------------------------------------
    add("empty", "zero bytes", b"", fmt("HeaderTooSmall"))
    for n in range(1, 8):
        add(f"prefix_only_{n}_bytes", f"{n} bytes: not even the length prefix", good[:n], fmt("HeaderTooSmall"))
    add("length_zero", "length 0: an empty header is not JSON", raw_file(b"", b""), fmt("InvalidHeaderDeserialization"))
    add("length_only", "the 8-byte prefix of the reference file and nothing else", good[:8], fmt("InvalidHeaderLength"))
    add("length_u64_max", "length 2^64 - 1", raw_file(b"{}", length=2**64 - 1), fmt("HeaderTooLarge"))
    add("length_2_63", "length 2^63", raw_file(b"{}", length=2**63), fmt("HeaderTooLarge"))
    add("length_over_limit", "length 100000001: above the 100 MB header limit", raw_file(b"{}", length=100_000_001),
        fmt("HeaderTooLarge"))
    add("length_at_limit", "length 100000000: allowed, but past the end of a small file",
        raw_file(b"{}", length=100_000_000), fmt("InvalidHeaderLength"))
    add("length_one_past_end", "length one byte more than the rest of the file",
        raw_file(good[8:], length=len(good) - 8 + 1), fmt("InvalidHeaderLength"))
    add("truncated_in_header", "the reference file cut in the middle of its header", good[:8 + good_header_len // 2],
        fmt("InvalidHeaderLength"))
    add("truncated_at_header_end", "the reference file cut right after its header", good[:8 + good_header_len],
        fmt("MetadataIncompleteBuffer"))
    add("truncated_in_data", "the reference file missing its last byte", good[:-1], fmt("MetadataIncompleteBuffer"))
    add("truncated_half_data", "the reference file missing half its data", good[:8 + good_header_len + 40],
        fmt("MetadataIncompleteBuffer"))
    add("length_too_short", "length cuts the JSON short; the rest is read as data",
        raw_file(good[8:], length=good_header_len - 10), fmt("InvalidHeaderDeserialization"))
    add("trailing_byte", "one byte after the data", good + b"\x00", fmt("MetadataIncompleteBuffer"))
    add("trailing_garbage", "text after the data", good + b"garbage", fmt("MetadataIncompleteBuffer"))
    add("trailing_file", "the file twice", good + good, fmt("MetadataIncompleteBuffer"))

    # --- the header's bytes: UTF-8 and JSON -------------------------------------
    h, d = layout(full())
    at = h.index(b"conv.weight") + 4  # inside a key
    for slug, what, bad in [
        ("non_utf8_ff", "a 0xFF byte inside a key", b"\xff"),
        ("non_utf8_overlong", "an overlong encoding of '/' (C0 AF)", b"\xc0\xaf"),
        ("non_utf8_surrogate", "a UTF-16 surrogate encoded in UTF-8 (ED A0 80)", b"\xed\xa0\x80"),
        ("non_utf8_continuation", "a lone continuation byte (0x80)", b"\x80"),
        ("non_utf8_latin1", "Latin-1 e-acute (0xE9) instead of UTF-8", b"\xe9"),
    ]:
        bad_header = h[:at] + bad + h[at + len(bad):] if len(bad) > 1 else h[:at] + bad + h[at + 1:]
        add(slug, what, raw_file(bad_header, d), fmt("InvalidHeader"))
    add("non_utf8_truncated_sequence", "a 3-byte sequence cut at the end of the header (E2 82)",
        raw_file(h.rstrip(b" ") + b"\xe2\x82", d), fmt("InvalidHeader"))
    add("utf8_bom", "a UTF-8 byte-order mark before the JSON", raw_file(b"\xef\xbb\xbf" + h, d),
        fmt("InvalidHeaderDeserialization"))
    add("nul_padding", "header padded with NUL bytes instead of spaces",
        st_file(full(), pad=b"\x00", pad_to=16), fmt("InvalidHeaderDeserialization"))
    for slug, what, text in [
        ("json_array", "the header is a JSON array", "[]"),
        ("json_null", "the header is null", "null"),
        ("json_number", "the header is a number", "42"),
        ("json_string", "the header is a string", '"weights"'),
        ("json_unclosed", "an unclosed object", "{"),
        ("json_trailing_text", "text after the object", "{}x"),
        ("json_two_objects", "two objects", "{}{}"),
        ("json_trailing_comma", "a trailing comma", '{"__metadata__":{"format":"pt"},}'),
        ("json_single_quotes", "single-quoted keys", "{'a':1}"),
        ("json_comment", "a comment", "{/* c */}"),
        ("tensor_not_object", "a tensor entry that is a number", '{"fc.bias":5}'),
        ("missing_dtype", "an entry without dtype", '{"fc.bias":{"shape":[3],"data_offsets":[0,12]}}'),
        ("missing_shape", "an entry without shape", '{"fc.bias":{"dtype":"F32","data_offsets":[0,12]}}'),
        ("missing_offsets", "an entry without data_offsets", '{"fc.bias":{"dtype":"F32","shape":[3]}}'),
        ("unknown_dtype", "dtype F33", '{"fc.bias":{"dtype":"F33","shape":[3],"data_offsets":[0,12]}}'),
        ("lowercase_dtype", "dtype f32 (lower case)", '{"fc.bias":{"dtype":"f32","shape":[3],"data_offsets":[0,12]}}'),
        ("dtype_number", "dtype given as a number", '{"fc.bias":{"dtype":7,"shape":[3],"data_offsets":[0,12]}}'),
        ("negative_dim", "a negative dimension", '{"fc.bias":{"dtype":"F32","shape":[-3],"data_offsets":[0,12]}}'),
        ("float_dim", "a dimension written 3.0", '{"fc.bias":{"dtype":"F32","shape":[3.0],"data_offsets":[0,12]}}'),
        ("string_dim", "a dimension written as a string", '{"fc.bias":{"dtype":"F32","shape":["3"],"data_offsets":[0,12]}}'),
        ("dim_past_u64", "a dimension of 2^64",
         '{"fc.bias":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,12]}}'),
        ("shape_not_array", "shape given as a number", '{"fc.bias":{"dtype":"F32","shape":3,"data_offsets":[0,12]}}'),
        ("offsets_one_value", "data_offsets with one value", '{"fc.bias":{"dtype":"F32","shape":[3],"data_offsets":[12]}}'),
        ("offsets_three_values", "data_offsets with three values",
         '{"fc.bias":{"dtype":"F32","shape":[3],"data_offsets":[0,12,12]}}'),
        ("offsets_negative", "a negative data offset", '{"fc.bias":{"dtype":"F32","shape":[3],"data_offsets":[-4,8]}}'),
        ("offsets_strings", "data offsets as strings", '{"fc.bias":{"dtype":"F32","shape":[3],"data_offsets":["0","12"]}}'),
        ("metadata_not_strings", "__metadata__ with a number value", '{"__metadata__":{"format":1}}'),
        ("metadata_array", "__metadata__ as an array", '{"__metadata__":["pt"]}'),
    ]:
        add(slug, what, raw_file(text, bytes(12) if "fc.bias" in text else b""), fmt("InvalidHeaderDeserialization"))

    # --- offsets -------------------------------------------------------------
    def entries_of(tensors, offsets):
        return [(t.name, {"dtype": t.dtype, "shape": t.shape, "data_offsets": list(o)}) for t, o in zip(tensors, offsets)]

    ts = full(with_nbt=False)
    sizes = [len(t.raw) for t in ts]
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    contiguous = [(s, s + n) for s, n in zip(starts, sizes)]
    data = b"".join(t.raw for t in ts)

    def with_offsets(changes, data=data):
        offsets = list(contiguous)
        for i, o in changes.items():
            offsets[i] = o
        return raw_file(header_json(entries_of(ts, offsets)), data)

    last = len(ts) - 1
    add("offsets_overlap", "conv.bias starts 4 bytes inside conv.weight",
        with_offsets({1: (contiguous[1][0] - 4, contiguous[1][1] - 4)}), fmt("InvalidOffset"))
    add("offsets_same_bytes", "two tensors on the same bytes", with_offsets({1: contiguous[0]}), fmt("InvalidOffset"))
    add("offsets_gap", "4 unused bytes between two tensors",
        with_offsets({i: (contiguous[i][0] + 4, contiguous[i][1] + 4) for i in range(2, len(ts))}, data + bytes(4)),
        fmt("InvalidOffset"))
    add("offsets_not_from_zero", "the first tensor starts at 4",
        with_offsets({i: (a + 4, b + 4) for i, (a, b) in enumerate(contiguous)}, bytes(4) + data), fmt("InvalidOffset"))
    add("offsets_backwards", "an end before its start",
        with_offsets({last: (contiguous[last][1], contiguous[last][0])}), fmt("InvalidOffset"))
    add("offsets_past_end", "the last tensor ends 4 bytes past the data",
        with_offsets({last: (contiguous[last][0], contiguous[last][1] + 4)}), fmt("TensorInvalidInfo"))
    add("offsets_past_end_consistent", "fc.bias declared [4] and 16 bytes: the data is 4 bytes short",
        raw_file(header_json(entries_of(ts[:-1], contiguous[:-1]) + [
            ("fc.bias", {"dtype": "F32", "shape": [4], "data_offsets": [contiguous[last][0], contiguous[last][0] + 16]})]),
            data), fmt("MetadataIncompleteBuffer"))
    add("offsets_far_past_end", "a 2^40-byte tensor in a small file",
        raw_file(header_json([("big", {"dtype": "U8", "shape": [2**40], "data_offsets": [0, 2**40]})]), bytes(16)),
        fmt("MetadataIncompleteBuffer"))
    add("offsets_end_u64_max", "an end offset of 2^64 - 1: our pre-check rejects it before the reference crate "
        "finds the byte count overflowing",
        raw_file(header_json([("big", {"dtype": "U8", "shape": [2**64 - 1], "data_offsets": [0, 2**64 - 1]})]), b""),
        fmt("MetadataIncompleteBuffer"), reference="ValidationOverflow")
    size = 2**61 - 1
    add("offsets_sum_past_u64", "eight U8 tensors of 2^61 - 1 bytes: the offsets sum past 2^64 "
        "(the reference crate's unchecked addition panics in debug builds)",
        raw_file(header_json([(f"t{i}", {"dtype": "U8", "shape": [size], "data_offsets": [i * size, (i + 1) * size]})
                              for i in range(8)]), b""),
        fmt("MetadataIncompleteBuffer"))
    add("offsets_shape_disagree", "fc.bias declared [4] over 12 bytes",
        raw_file(header_json(entries_of(ts[:-1], contiguous[:-1]) + [
            ("fc.bias", {"dtype": "F32", "shape": [4], "data_offsets": list(contiguous[last])})]), data),
        fmt("TensorInvalidInfo"))
    add("offsets_dtype_disagree", "fc.bias declared F64 over 12 bytes",
        raw_file(header_json(entries_of(ts[:-1], contiguous[:-1]) + [
            ("fc.bias", {"dtype": "F64", "shape": [3], "data_offsets": list(contiguous[last])})]), data),
        fmt("TensorInvalidInfo"))

    header = "{" + ",".join(f'"t{i}":["U8",[{size}],[{i * size},{(i + 1) * size}]]' for i in range(8)) + "}"
    add("array_entries_offsets_sum_past_u64", "offsets_sum_past_u64 with the entries written as JSON arrays",
        raw_file(header), fmt("MetadataIncompleteBuffer"))

    # --- shapes whose size overflows ----------------------------------------
    for slug, what, dtype, shape in [
        ("shape_elements_overflow", "shape [2^32, 2^32, 4]: the element count overflows", "F32", [2**32, 2**32, 4]),
        ("shape_bytes_overflow", "F64 [2^61]: the element count fits, the bit count does not", "F64", [2**61]),
        ("shape_bits_overflow_u8", "U8 [2^61]: 2^64 bits", "U8", [2**61]),
        ("shape_many_dims_overflow", "20 dimensions of 16", "F32", [16] * 20),
        ("shape_u64_max_dims", "shape [2^64 - 1, 2]", "F32", [2**64 - 1, 2]),
    ]:
        add(slug, what, raw_file(header_json([("x", {"dtype": dtype, "shape": shape, "data_offsets": [0, 8]})]), bytes(8)),
            fmt("ValidationOverflow"))
    add("shape_f4_odd", "F4 (4-bit) with 3 elements: not a whole number of bytes",
        raw_file(header_json([("x", {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]})]), bytes(2)),
        fmt("MisalignedSlice"))
    add("shape_zero_times_huge", "shape [0, 2^64 - 1]: zero elements, a valid empty tensor the model does not use",
        st_file(full() + [T("empty", "F32", [0, 2**64 - 1], b"")]), mismatch(unexpected("empty")))

    # --- duplicate keys (our rule: the reference crate keeps the last) -----------
    tensors = full()
    h_entries = [(t.name, {"dtype": t.dtype, "shape": t.shape, "data_offsets": list(o)})
                 for t, o in zip(tensors, [(sum(len(u.raw) for u in tensors[:i]),
                                            sum(len(u.raw) for u in tensors[:i + 1])) for i in range(len(tensors))])]
    d = b"".join(t.raw for t in tensors)
    fc_bias = dict(h_entries[7][1])
    add("duplicate_same_offsets", "fc.bias twice with the same offsets (the reference crate accepts the file)",
        raw_file(header_json(h_entries + [("fc.bias", fc_bias)]), d), dup("fc.bias"))
    add("duplicate_first", "conv.weight twice, the copy first",
        raw_file(header_json([h_entries[0]] + h_entries), d), dup("conv.weight"))
    end = len(d)
    add("duplicate_own_bytes", "fc.bias twice, each with its own bytes",
        raw_file(header_json(h_entries + [("fc.bias", {"dtype": "F32", "shape": [3], "data_offsets": [end, end + 12]})]),
                 d + bytes(12)), dup("fc.bias"))
    add("duplicate_num_batches_tracked", "num_batches_tracked twice",
        raw_file(header_json(h_entries + [(NBT, dict(h_entries[8][1]))]), d), dup(NBT))
    add("duplicate_unused_key", "a key the model does not use, twice",
        raw_file(header_json(h_entries + [("extra", {"dtype": "F32", "shape": [0], "data_offsets": [end, end]})] * 2), d),
        dup("extra"))
    header, data = array_form(full())
    fc_bias_start = sum(len(t.raw) for t in full()[:7])
    header = header[:-1] + "," + json.dumps("fc.bias") + ":" + json.dumps(["F32", [3], [fc_bias_start, fc_bias_start + 12]]) + "}"
    add("duplicate_array_entries", "fc.bias twice with the same offsets, the entries written as JSON arrays "
        "(the reference crate accepts the file)",
        raw_file(header, data), dup("fc.bias"))
    add("duplicate_reported_first", "two keys twice: the first repeated one is named",
        raw_file(header_json(h_entries + [("fc.bias", fc_bias), ("conv.bias", dict(h_entries[1][1]))]), d),
        dup("fc.bias"))
    add("duplicate_metadata", "__metadata__ twice (not a tensor: the JSON rules of the reference crate apply)",
        raw_file(header_json([("__metadata__", {"a": "b"})] + h_entries, metadata={"format": "pt"}), d),
        fmt("InvalidHeaderDeserialization"))
    add("duplicate_beats_format_error", "a duplicate key in a file whose data is also short",
        raw_file(header_json(h_entries + [("fc.bias", fc_bias)]), d[:-4]), dup("fc.bias"))

    # --- missing and unexpected tensors ------------------------------------------
    for key in ORDER:
        add(f"missing_{key.replace('.', '_')}", f"{key} absent", st_file(without(key)), mismatch(missing(key)))
    add("empty_header", "an empty state_dict: every weight missing", raw_file("{}"),
        mismatch(*[missing(k) for k in ORDER]))
    add("only_metadata", "only __metadata__", st_file([], metadata={"format": "pt"}),
        mismatch(*[missing(k) for k in ORDER]))
    for key in ["head.weight", "fc.extra", "conv.weight_orig", "bn"]:
        add(f"unexpected_{key.replace('.', '_')}", f"an extra tensor {key}",
            st_file(full() + [T(key, "F32", [2])]), mismatch(unexpected(key)))
    add("unexpected_conv_num_batches_tracked", "num_batches_tracked of a conv layer",
        st_file(full() + [T("conv.num_batches_tracked", "I64", [])]), mismatch(unexpected("conv.num_batches_tracked")))
    add("unexpected_fc_num_batches_tracked", "num_batches_tracked of a linear layer",
        st_file(full() + [T("fc.num_batches_tracked", "I64", [])]), mismatch(unexpected("fc.num_batches_tracked")))
    add("renamed_data_parallel", "keys saved from nn.DataParallel: module.conv.weight, ...",
        st_file([T("module." + t.name, t.dtype, t.shape, t.raw) for t in full()]),
        mismatch(*[missing(k) for k in ORDER], *[unexpected("module." + t.name) for t in full()]))
    add("renamed_case", "Conv.weight instead of conv.weight",
        st_file(replaced("conv.weight", T("Conv.weight", "F32", [2, 1, 1, 1]))),
        mismatch(missing("conv.weight"), unexpected("Conv.weight")))

    # --- wrong shapes -------------------------------------------------------------
    for key, found, what in [
        ("conv.weight", [2, 1, 1], "conv.weight without its kernel width"),
        ("conv.weight", [1, 2, 1, 1], "conv.weight with in and out swapped"),
        ("conv.weight", [2], "conv.weight flattened"),
        ("conv.bias", [1, 2], "conv.bias with a leading 1"),
        ("bn.weight", [3], "bn.weight for 3 channels"),
        ("bn.running_mean", [], "bn.running_mean as a scalar"),
        ("bn.running_var", [2, 1], "bn.running_var with a trailing 1"),
        ("fc.weight", [8, 3], "fc.weight transposed"),
        ("fc.weight", [24], "fc.weight flattened"),
        ("fc.bias", [1, 3], "fc.bias with a leading 1"),
        ("fc.bias", [0], "fc.bias empty"),
    ]:
        add(f"shape_{key.replace('.', '_')}_{'x'.join(map(str, found)) or 'scalar'}", what,
            st_file(replaced(key, T(key, "F32", found))), mismatch(wrong_shape(key, found)))
    for shape in [[1], [3], [1, 1]]:
        add(f"num_batches_tracked_shape_{'x'.join(map(str, shape))}",
            f"num_batches_tracked of shape {shape}: not a scalar (a model mismatch, not a format error)",
            st_file(replaced(NBT, T(NBT, "I64", shape))), mismatch(wrong_shape(NBT, shape, expected=[])))

    # --- wrong dtypes ---------------------------------------------------------------
    for key, dtype in [("conv.weight", "I64"), ("conv.bias", "U8"), ("bn.weight", "F64"), ("bn.bias", "I32"),
                       ("bn.running_mean", "I64"), ("bn.running_var", "BOOL"), ("fc.weight", "F8_E4M3"),
                       ("fc.bias", "C64"), ("fc.bias", "I16"), ("fc.weight", "U16")]:
        shape = WEIGHTS[key][0]
        add(f"dtype_{key.replace('.', '_')}_{dtype.lower()}", f"{key} stored as {dtype}",
            st_file(replaced(key, T(key, dtype, shape))), mismatch(wrong_dtype(key, dtype)))
    add("dtype_before_shape", "fc.weight I64 and transposed: the dtype is reported",
        st_file(replaced("fc.weight", T("fc.weight", "I64", [8, 3]))), mismatch(wrong_dtype("fc.weight", "I64")))
    add("dtype_f64_everything", "a state_dict saved in float64",
        st_file([weight(k, "F64") for k in ORDER] + [nbt()]), mismatch(*[wrong_dtype(k, "F64") for k in ORDER]))

    # --- everything at once ------------------------------------------------------------
    mixed = [
        T("conv.bias", "U8", [2]),
        weight("bn.weight"), weight("bn.bias"),
        T("bn.running_mean", "I64", [2]),
        weight("bn.running_var"),
        T(NBT, "I64", [2]),
        T("fc.weight", "F32", [8, 3]),
        T("fc.bias", "F32", [1, 3]),
        T("head.weight", "F32", [1]),
        T("fc.num_batches_tracked", "I64", []),
    ]
    add("every_problem", "one of each problem: missing, unexpected, wrong shape, wrong dtype",
        st_file(mixed),
        mismatch(wrong_dtype("bn.running_mean", "I64"), wrong_shape(NBT, [2], expected=[]),
                 wrong_dtype("conv.bias", "U8"), missing("conv.weight"), wrong_shape("fc.bias", [1, 3]),
                 unexpected("fc.num_batches_tracked"), wrong_shape("fc.weight", [8, 3]), unexpected("head.weight")))
    return out


# ---------------------------------------------------------------------------
# Cross-check with the reference crate (the Python safetensors package)
# ---------------------------------------------------------------------------

VARIANTS = [
    ("header too small", "HeaderTooSmall"),
    ("header too large", "HeaderTooLarge"),
    ("invalid header length", "InvalidHeaderLength"),
    ("invalid UTF-8 in header", "InvalidHeader"),
    ("invalid JSON in header", "InvalidHeaderDeserialization"),
    ("invalid offset for tensor", "InvalidOffset"),
    ("invalid shape, data type, or offset for tensor", "TensorInvalidInfo"),
    ("incomplete metadata, file not fully covered", "MetadataIncompleteBuffer"),
    ("overflow computing buffer size", "ValidationOverflow"),
    ("The slice is slicing for subbytes dtypes", "MisalignedSlice"),
]


def reference(data):
    """'ok' or the SafeTensorError variant the reference crate gives."""
    try:
        safetensors.deserialize(data)
        return "ok"
    except Exception as err:  # noqa: BLE001 - the package raises SafetensorError
        text = str(err).removeprefix("Error while deserializing: ").removeprefix("Error while deserializing header: ")
        for prefix, variant in VARIANTS:
            if text.startswith(prefix):
                return variant
        return f"unknown error: {text}"


def check_against_reference(slug, data, expect, variant):
    got = reference(data)
    if variant is not None:
        if got != variant:
            sys.exit(f"{slug}: expected the reference crate to say {variant}, it says {got}")
    elif expect.startswith("format "):
        want = expect.split()[1]
        if got != want:
            sys.exit(f"{slug}: expected {want}, the reference crate says {got}")
    elif expect.startswith("duplicate_key"):
        pass  # our rule; the crate keeps the last entry
    elif got != "ok":
        sys.exit(f"{slug}: the format is valid by our expectation, the reference crate says {got}")
    return got


# ---------------------------------------------------------------------------


def toml_string(s):
    return json.dumps(s)  # a JSON string is a valid TOML basic string for this ASCII text


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if a committed file differs")
    args = parser.parse_args()

    corpus = cases()
    slugs = [c[0] for c in corpus]
    assert len(slugs) == len(set(slugs)), "duplicate slugs"
    outputs = {}
    lines = [
        "# GENERATED by `python3 scripts/gen_malformed.py`; do not edit. Read by tests/malformed_weights.rs.",
        "# The model: input [1, 2, 2], conv: Conv2d(1, 2, 1), bn: BatchNorm2d(2), flatten: Flatten, fc: Linear(8, 3).",
        "# `expect` is the outcome of from_safetensors (see the script's docstring); `output` is the model's",
        "# output on `input` for the files that load (float64 reference).",
        "input = [" + ", ".join(repr(v) for v in INPUT) + "]",
        f"count = {len(corpus)}",
        "",
    ]
    counts = {}
    for i, (slug, what, data, expect, values, known_bug, variant) in enumerate(corpus):
        assert '"' not in what and "\\" not in what, slug
        name = f"{i:03d}_{slug}.safetensors"
        ref = check_against_reference(slug, data, expect, variant)
        outputs[os.path.join(OUT, name)] = data
        lines += ["[[file]]", f"name = {toml_string(name)}", f"what = {toml_string(what)}",
                  f"expect = {toml_string(expect)}", f"reference = {toml_string(ref)}"]
        if known_bug is not None:
            lines.append(f"known_bug = {toml_string(known_bug)}")
        if expect == OK:
            out = forward(values)
            lines.append("output = [" + ", ".join(repr(float(v)) for v in out) + "]")
        lines.append("")
        kind = expect.split()[0]
        counts[kind] = counts.get(kind, 0) + 1
    outputs[MANIFEST] = ("\n".join(lines)).encode()

    if args.check:
        stale = [p for p, data in outputs.items() if not os.path.exists(p) or open(p, "rb").read() != data]
        if stale:
            sys.exit("out of date (rerun scripts/gen_malformed.py):\n  " + "\n  ".join(os.path.relpath(p, ROOT) for p in stale))
        print(f"all {len(outputs)} files up to date")
        return
    os.makedirs(OUT, exist_ok=True)
    for old in os.listdir(OUT):
        if old.endswith(".safetensors") and os.path.join(OUT, old) not in outputs:
            os.remove(os.path.join(OUT, old))
    for path, data in outputs.items():
        with open(path, "wb") as f:
            f.write(data)
    total = sum(len(d) for d in outputs.values())
    print(f"wrote {len(corpus)} files ({total} bytes with the manifest): {counts}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Generates the special-value fixtures (NaN, +-inf, subnormals, +-0) that
tests/special_values.rs checks against PyTorch, and that test file.

Run from the repository root:

    python3 scripts/gen_special.py            # (re)write fixtures and tests/special_values.rs
    python3 scripts/gen_special.py --check    # regenerate in memory, fail if anything differs

Needs Python 3 with torch (CPU), numpy and safetensors. Seeded per case.

Every layer kind gets at least one case whose input holds NaN, +inf, -inf,
subnormals, +0 and -0, placed so that each window of a 2x2 pool sees a
different mix (see PATTERN): a NaN with finite values, +inf alone, -inf alone,
+inf with -inf, NaN with both infinities, only subnormals, only zeros (of both
signs), and ordinary values. Flat inputs (Linear, Softmax over features) get
their own rows of specials. `*_subnormal` cases feed only subnormals and zeros,
so that the output's scale is itself subnormal and the tolerance becomes exact:
a kernel that flushed subnormals to zero would fail there.

Per case: tests/fixtures/special/<case>.weights.safetensors (the state_dict) and
<case>.io.safetensors (input and PyTorch's output, float32 bit patterns kept).
The case table below also GENERATES tests/special_values.rs: one `#[test]` per
case, comparing with NaN equal to NaN, infinities exactly, and finite values
within the golden tolerance (tests/common/mod.rs) of the finite outputs' scale.

Cases listed in KNOWN_DIFFERENCES disagree with PyTorch today; their tests are
generated with `#[ignore = "..."]` and the difference is reported in
RELIABILITY.md (the kernels are not changed here).
"""

import argparse
import math
import os
import sys
import warnings
import zlib

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_golden import Chain, L, randomise, safetensors_bytes  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "special")
TEST_RS = os.path.join(ROOT, "tests", "special_values.rs")

NAN, INF = float("nan"), float("inf")
SUB = [1e-40, -3e-41, 1.4e-45, 1.1754942e-38, -5e-39, 2e-42]  # f32 subnormals (the 4th is the largest)

# 2x2 blocks of a 6x6 channel, row-major over the 3x3 grid of blocks.
BLOCKS = [
    [NAN, 1.0, 2.0, 3.0],          # NaN among finite values
    [INF, 1.0, -2.0, 0.5],         # +inf alone
    [-INF, -1.0, 2.0, 0.5],        # -inf alone
    [INF, -INF, 1.0, 2.0],         # both infinities
    [SUB[0], SUB[1], SUB[2], 0.0],  # subnormals and +0
    [0.0, -0.0, -0.0, 0.0],        # zeros of both signs
    [-0.0, -0.0, -0.0, -0.0],      # only -0
    [NAN, INF, -INF, 1.0],         # NaN and both infinities
    [0.75, -1.25, 1.5, -0.5],      # ordinary values
]
# Channel 1: the blocks in another order, ordinary values negated.
ORDER_1 = [8, 3, 5, 0, 7, 2, 4, 6, 1]


def pattern():
    """The 2x6x6 input: channel 0 in block order, channel 1 permuted."""
    x = torch.zeros(2, 6, 6)
    for c, order in enumerate([range(9), ORDER_1]):
        for slot, b in enumerate(order):
            values = BLOCKS[b]
            if c == 1 and b == 8:
                values = [-v for v in values]
            r, q = divmod(slot, 3)
            for i, v in enumerate(values):
                x[c, 2 * r + i // 2, 2 * q + i % 2] = v
    return x


def subnormal_pattern(shape):
    """Only subnormals and zeros of both signs."""
    values = SUB + [0.0, -0.0] + [-v for v in SUB]
    n = math.prod(shape)
    return torch.tensor([values[i % len(values)] for i in range(n)], dtype=torch.float32).reshape(shape)


FLAT_ROWS = {
    "inf": [INF, 1.0, -2.0, 0.5, 3.0, -1.0],
    "neg_inf": [-INF, 1.0, -2.0, 0.5, 3.0, -1.0],
    "both_infs": [INF, -INF, 1.0, 2.0, 0.5, -1.0],
    "two_pos_infs": [INF, INF, 1.0, 2.0, 0.5, -1.0],
    "all_neg_inf": [-INF] * 6,
    "nan": [NAN, 1.0, -2.0, 0.5, 3.0, -1.0],
    "zeros": [0.0, -0.0, 0.0, -0.0, 0.0, -0.0],
    "subnormal": SUB,
    "large": [80.0, 88.0, 100.0, -100.0, 0.0, 1e30],
}


class Case:
    def __init__(self, name, covers, layers, input, weights=None):
        self.name = name
        self.covers = covers
        self.layers = layers
        self.input = input  # a [C, H, W] or [N] tensor
        self.weights = weights  # optional fn(model) to set parameters after randomise


def zero_first_weight(model):
    """A zero weight where +-inf arrives: inf * 0 is NaN, as in PyTorch."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
                module.weight.view(-1)[0] = 0.0


def negative_gamma(model):
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d) and module.affine:
                module.weight[1] = -abs(module.weight[1].item()) - 0.5


P = pattern()
CASES = [
    # ---- activations (element-wise) -----------------------------------------
    Case("relu", "ReLU", [L("act", "ReLU")], P),
    Case("relu_subnormal", "ReLU on subnormals and zeros only", [L("act", "ReLU")], subnormal_pattern((2, 3, 4))),
    Case("relu6", "ReLU6", [L("act", "ReLU6")], P),
    Case("leaky_relu", "LeakyReLU default slope", [L("act", "LeakyReLU")], P),
    Case("leaky_relu_subnormal", "LeakyReLU(0.5) on subnormals and zeros only", [L("act", "LeakyReLU", 0.5)],
         subnormal_pattern((2, 3, 4))),
    Case("leaky_relu_negative_slope", "LeakyReLU(-0.5)", [L("act", "LeakyReLU", -0.5)], P),
    Case("sigmoid", "Sigmoid", [L("act", "Sigmoid")], P),
    Case("tanh", "Tanh", [L("act", "Tanh")], P),
    Case("tanh_subnormal", "Tanh on subnormals and zeros only", [L("act", "Tanh")], subnormal_pattern((2, 3, 4))),
    Case("dropout_flatten", "Dropout (identity) then Flatten", [L("drop", "Dropout", 0.5), L("flatten", "Flatten")], P),
    # ---- max / min pooling ------------------------------------------------------
    Case("maxpool", "MaxPool2d(2): one window per pattern block", [L("pool", "MaxPool2d", 2)], P),
    Case("maxpool_padding", "MaxPool2d(3, stride 1, padding 1): padding is -inf", [
        L("pool", "MaxPool2d", 3, stride=1, padding=1)], P),
    Case("maxpool_dilation_ceil", "MaxPool2d(2, stride 2, dilation 2, ceil_mode)", [
        L("pool", "MaxPool2d", 2, stride=2, dilation=2, ceil_mode=True)], P),
    Case("maxpool_subnormal", "MaxPool2d(2) on subnormals and zeros only", [L("pool", "MaxPool2d", 2)],
         subnormal_pattern((2, 4, 4))),
    Case("minpool", "MinPool2d(2)", [L("pool", "MinPool2d", 2)], P),
    Case("minpool_padding", "MinPool2d(3, stride 1, padding 1): padding never wins", [
        L("pool", "MinPool2d", 3, stride=1, padding=1)], P),
    Case("minpool_subnormal", "MinPool2d(2) on subnormals and zeros only", [L("pool", "MinPool2d", 2)],
         subnormal_pattern((2, 4, 4))),
    # ---- average pooling ------------------------------------------------------------
    Case("avgpool", "AvgPool2d(2)", [L("pool", "AvgPool2d", 2)], P),
    Case("avgpool_padding_include", "AvgPool2d(3, stride 1, padding 1), count_include_pad", [
        L("pool", "AvgPool2d", 3, stride=1, padding=1)], P),
    Case("avgpool_padding_exclude", "AvgPool2d(3, stride 1, padding 1, count_include_pad=False)", [
        L("pool", "AvgPool2d", 3, stride=1, padding=1, count_include_pad=False)], P),
    Case("avgpool_divisor_ceil", "AvgPool2d(4, stride 4, ceil_mode, divisor_override 3)", [
        L("pool", "AvgPool2d", 4, stride=4, ceil_mode=True, divisor_override=3)], P),
    Case("avgpool_subnormal", "AvgPool2d(2) on subnormals and zeros only", [L("pool", "AvgPool2d", 2)],
         subnormal_pattern((2, 4, 4))),
    Case("adaptive_2x2", "AdaptiveAvgPool2d((2, 2)): bins of 3x3", [L("pool", "AdaptiveAvgPool2d", (2, 2))], P),
    Case("adaptive_4x4", "AdaptiveAvgPool2d((4, 4)): overlapping bins", [L("pool", "AdaptiveAvgPool2d", (4, 4))], P),
    Case("adaptive_global", "AdaptiveAvgPool2d(1)", [L("pool", "AdaptiveAvgPool2d", 1)], P),
    Case("adaptive_subnormal", "AdaptiveAvgPool2d((2, 2)) on subnormals and zeros only", [
        L("pool", "AdaptiveAvgPool2d", (2, 2))], subnormal_pattern((2, 4, 4))),
    # ---- batch norm -------------------------------------------------------------------
    Case("batchnorm", "BatchNorm2d, a negative gamma on channel 1", [L("bn", "BatchNorm2d", 2)], P, negative_gamma),
    Case("batchnorm_no_affine", "BatchNorm2d(affine=False)", [L("bn", "BatchNorm2d", 2, affine=False)], P),
    # ---- convolution --------------------------------------------------------------------
    Case("conv", "Conv2d(2, 3, 3, padding 1)", [L("conv", "Conv2d", 2, 3, 3, padding=1)], P),
    Case("conv_zero_weight", "Conv2d(2, 2, 2, stride 2) with weight[0, 0, 0, 0] = 0: inf * 0", [
        L("conv", "Conv2d", 2, 2, 2, stride=2)], P, zero_first_weight),
    Case("conv_depthwise", "Conv2d(2, 2, 2, stride 2, groups 2, bias=False)", [
        L("conv", "Conv2d", 2, 2, 2, stride=2, groups=2, bias=False)], P),
    Case("conv_same_dilation", 'Conv2d(2, 2, 2, padding="same", dilation 2)', [
        L("conv", "Conv2d", 2, 2, 2, padding="same", dilation=2)], P),
    Case("conv_subnormal", "Conv2d(2, 2, 1, bias=False) on subnormals and zeros only", [
        L("conv", "Conv2d", 2, 2, 1, bias=False)], subnormal_pattern((2, 3, 3))),
    # ---- softmax over channels ------------------------------------------------------------
    Case("softmax_channels", "Softmax(dim=1) on CxHxW", [L("softmax", "Softmax", dim=1)], P),
]
# ---- flat inputs: Linear and Softmax over features -------------------------------------------
for row in ["inf", "both_infs", "nan", "zeros", "subnormal"]:
    CASES.append(Case(f"linear_{row}", f"Linear(6, 4) on {FLAT_ROWS[row]}",
                      [L("fc", "Linear", 6, 4)], torch.tensor(FLAT_ROWS[row], dtype=torch.float32)))
CASES.append(Case("linear_zero_weight", "Linear(6, 4) with weight[0, 0] = 0 on +inf: inf * 0",
                  [L("fc", "Linear", 6, 4)], torch.tensor(FLAT_ROWS["inf"], dtype=torch.float32), zero_first_weight))
CASES.append(Case("linear_subnormal_no_bias", "Linear(6, 4, bias=False) on subnormals",
                  [L("fc", "Linear", 6, 4, bias=False)], torch.tensor(FLAT_ROWS["subnormal"], dtype=torch.float32)))
for row in FLAT_ROWS:
    CASES.append(Case(f"softmax_{row}", f"Softmax over features of {FLAT_ROWS[row]}",
                      [L("softmax", "Softmax", dim=1)], torch.tensor(FLAT_ROWS[row], dtype=torch.float32)))
CASES.append(Case("flatten_softmax", "Flatten then Softmax over all 72 features (pattern input)",
                  [L("flatten", "Flatten"), L("softmax", "Softmax", dim=1)], P))

# Cases whose result differs from PyTorch today (reported, not fixed here):
# case name -> reason, used as the test's #[ignore] reason.
KNOWN_DIFFERENCES = {}


def generate(case):
    seed = zlib.crc32(case.name.encode())
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = Chain(case.layers).float().eval()
    randomise(model, gen)
    if case.weights is not None:
        case.weights(model)
    x = case.input.clone().unsqueeze(0)
    with torch.no_grad():
        y = model(x.clone())
    weights = safetensors_bytes(model.state_dict())
    io = safetensors_bytes({"input": x[0].contiguous(), "output": y[0].contiguous()})
    flat = y.flatten()
    counts = {
        "nan": int(torch.isnan(flat).sum()),
        "inf": int(torch.isinf(flat).sum()),
        "subnormal": int(((flat != 0) & (flat.abs() < 1.1754944e-38) & torch.isfinite(flat)).sum()),
        "zero": int((flat == 0).sum()),
    }
    return weights, io, tuple(y.shape[1:]), counts


RS_HEADER = """\
//! NaN, +-inf, subnormal and +-0 inputs through every layer kind, against PyTorch.
//!
//! GENERATED by `python3 scripts/gen_special.py` (run from the repository root);
//! do not edit by hand. The fixtures in tests/fixtures/special/ are committed.
//!
//! Each test declares one small model, loads its PyTorch `state_dict`, runs the
//! fixture's input (specials placed so that each pooling window sees a
//! different mix) and compares with PyTorch's output: NaN must be NaN, an
//! infinity must be the same infinity, and finite values must be finite and
//! within the golden tolerance (`common::RTOL`, `common::ATOL_FRACTION`) of
//! the largest finite output. In `*_subnormal` cases that scale is itself
//! subnormal, so subnormals must come out (nearly) exactly, not flushed.

mod common;

use cnn_runtime::{cnn_model, Model};

/// A case's name and its two fixtures.
macro_rules! fixtures {
    ($case:literal) => {
        (
            $case,
            include_bytes!(concat!("fixtures/special/", $case, ".weights.safetensors")),
            include_bytes!(concat!("fixtures/special/", $case, ".io.safetensors")),
        )
    };
}

/// Compares element by element; panics listing every element that differs,
/// with its CHW (or flat) index, ours and PyTorch's value.
fn assert_special(case: &str, shape: &[usize], input: &[f32], got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{case}: output length");
    let scale = want
        .iter()
        .filter(|w| w.is_finite())
        .fold(0.0f32, |m, w| m.max(w.abs()));
    let atol = common::ATOL_FRACTION * scale;
    let mut bad = Vec::new();
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = if w.is_nan() {
            g.is_nan()
        } else if w.is_infinite() {
            g == w
        } else {
            g.is_finite() && (g - w).abs() <= atol + common::RTOL * w.abs()
        };
        if !ok {
            bad.push(format!("[{}] ours {g:e}, PyTorch {w:e}", index(shape, i)));
        }
    }
    assert!(
        bad.is_empty(),
        "{case}: {} of {} outputs differ from PyTorch (finite scale {scale:e}); input {input:?}\\n  {}",
        bad.len(),
        got.len(),
        bad.join("\\n  ")
    );
}

/// `c, h, w` of flat index `i` in a CxHxW shape, or `i` itself.
fn index(shape: &[usize], i: usize) -> String {
    match *shape {
        [_, h, w] => format!("{}, {}, {}", i / (h * w), i / w % h, i % w),
        _ => i.to_string(),
    }
}
"""


def rust_test(case, out_shape, counts):
    shape = list(case.input.shape)
    lines = [
        "",
        f"/// {case.covers}.",
        f"/// Output shape {list(out_shape)}: {counts['nan']} NaN, {counts['inf']} infinite, "
        f"{counts['subnormal']} subnormal, {counts['zero']} zero.",
        "#[test]",
    ]
    if case.name in KNOWN_DIFFERENCES:
        lines.append(f'#[ignore = "{KNOWN_DIFFERENCES[case.name]}"]')
    lines += [
        f"fn {case.name}() {{",
        "    cnn_model! {",
        "        struct Net {",
        f"            input: [{', '.join(str(d) for d in shape)}],",
    ]
    lines += [f"            {layer.dsl()}" for layer in case.layers]
    lines += [
        "        }",
        "    }",
        "",
        f'    let (case, weights, io) = fixtures!("{case.name}");',
        "    let model = common::ok(case, Net::from_safetensors(weights));",
        "    let io = common::read_io(case, io);",
        "    common::assert_shapes(case, Net::INPUT_SHAPE, Net::OUTPUT_SHAPE, &io);",
        "    let mut output = vec![0.0f32; Net::OUTPUT_LEN];",
        "    common::ok(case, model.forward_slice(&io.input.values, &mut output));",
        "    assert_special(case, Net::OUTPUT_SHAPE, &io.input.values, &output, &io.output.values);",
        "}",
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if a committed file differs")
    args = parser.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", message="Using padding='same' with even kernel")

    names = [c.name for c in CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    assert set(KNOWN_DIFFERENCES) <= set(names), set(KNOWN_DIFFERENCES) - set(names)
    outputs = {}
    rust = [RS_HEADER]
    for case in CASES:
        weights, io, out_shape, counts = generate(case)
        outputs[os.path.join(FIXTURES, f"{case.name}.weights.safetensors")] = weights
        outputs[os.path.join(FIXTURES, f"{case.name}.io.safetensors")] = io
        rust.append(rust_test(case, out_shape, counts))
        print(f"{case.name:28} out {list(out_shape)!s:10} {counts}")
    outputs[TEST_RS] = "".join(rust).encode()
    if args.check:
        stale = [p for p, data in outputs.items() if not os.path.exists(p) or open(p, "rb").read() != data]
        if stale:
            sys.exit("out of date (rerun scripts/gen_special.py):\n  " + "\n  ".join(os.path.relpath(p, ROOT) for p in stale))
        print(f"all {len(outputs)} files up to date")
        return
    os.makedirs(FIXTURES, exist_ok=True)
    expected = {os.path.basename(p) for p in outputs if p.startswith(FIXTURES)}
    for old in os.listdir(FIXTURES):
        if old.endswith(".safetensors") and old not in expected:
            os.remove(os.path.join(FIXTURES, old))
    for path, data in outputs.items():
        with open(path, "wb") as f:
            f.write(data)
    total = sum(len(d) for p, d in outputs.items() if p.startswith(FIXTURES))
    print(f"wrote {len(CASES)} cases, {total} bytes of fixtures, and {os.path.relpath(TEST_RS, ROOT)}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Generates the golden numeric fixtures that tests/golden.rs checks against PyTorch.

Run from the repository root:

    python3 scripts/gen_golden.py            # (re)write the fixtures and tests/golden.rs
    python3 scripts/gen_golden.py --check    # regenerate in memory, fail if anything differs

Needs Python 3 with torch (CPU is enough), numpy and safetensors.

The outputs are committed, so CI (and anyone running `cargo test`) needs no Python:
- tests/fixtures/golden/<case>.weights.safetensors: `model.state_dict()` saved with
  `safetensors.torch.save_file`, exactly as a user would (batch norm's int64
  `num_batches_tracked` included, `nn.Sequential` keys such as `features.0.weight`);
- tests/fixtures/golden/<case>.io.safetensors: `input` ([C, H, W], batch dimension
  dropped) and `output` (batch dimension dropped), both float32;
- tests/golden.rs: one `#[test]` per case, its model written in the `cnn_model!` DSL.
  It is GENERATED from the case table below; edit the table, not the Rust file.
  Its lines are already as `cargo fmt` leaves them. The shared helpers it uses
  (reading fixtures, the tolerance) are hand-written in tests/common/mod.rs.

Each case is one table entry: a list of layers in the DSL's own terms (Rust field
name, PyTorch layer kind, PyTorch arguments, optional state_dict key). The same
entry builds the PyTorch module and prints the DSL, so the two cannot drift apart.
Before writing anything the script also checks, per case:
- every state_dict key is one the DSL layers will ask for (and no other);
- every conv/pool layer whose PyTorch output size involves a remainder carries
  `rounding = "floor"` or `ceil_mode = True` (the product rejects a silent remainder),
  no layer carries a needless `rounding = "floor"`, and the sizes predicted by
  the product's rules equal the ones PyTorch produced;
- how far PyTorch's float32 result is from a float64 run of the same model, which
  shows the test tolerance (1e-5 of the output's scale) has ample margin.

Everything is seeded per case (from the case name), runs single-threaded with
deterministic algorithms, so reruns write byte-identical files.
"""

import argparse
import copy
import math
import os
import sys
import tempfile
import warnings
import zlib

import safetensors.torch
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "golden")
GOLDEN_RS = os.path.join(ROOT, "tests", "golden.rs")


# --------------------------------------------------------------------------
# Layer descriptions
# --------------------------------------------------------------------------


class L:
    """One layer: `name: Kind(args, key = value)` in the DSL.

    `key` is the state_dict prefix when it differs from `name` (the DSL's
    `#[key = "..."]`). `rounding` is a DSL-only keyword, never passed to PyTorch.
    """

    def __init__(self, name, kind, *args, key=None, **kwargs):
        self.name = name
        self.kind = kind
        self.args = args
        self.kwargs = kwargs
        self.key = key

    @property
    def path(self):
        return self.key if self.key is not None else self.name

    def torch_kwargs(self):
        return {k: v for k, v in self.kwargs.items() if k != "rounding"}

    def build(self):
        kind, args, kw = self.kind, self.args, self.torch_kwargs()
        if kind == "MinPool2d":
            return MinPool2d(*args, **kw)
        return getattr(nn, kind)(*args, **kw)

    def dsl(self):
        parts = [rust_value(a) for a in self.args]
        parts += [f"{k} = {rust_value(v)}" for k, v in self.kwargs.items()]
        text = f"{self.name}: {self.kind}"
        if parts:
            text += "(" + ", ".join(parts) + ")"
        if self.key is not None:
            text = f'#[key = "{self.key}"] ' + text
        return text + ","


def rust_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        text = repr(v)
        assert "." in text or "e" in text, text
        return text
    if isinstance(v, str):
        return '"' + v + '"'
    if isinstance(v, tuple):
        return "(" + ", ".join(rust_value(x) for x in v) + ")"
    raise TypeError(f"no DSL spelling for {v!r}")


class MinPool2d(nn.Module):
    """Not in PyTorch: the product's MinPool2d is max pooling of the negation.

    Padding therefore never wins (max pooling pads with -inf): each output is
    the minimum over the in-range elements of its window.
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.ceil_mode = ceil_mode

    def forward(self, x):
        return -F.max_pool2d(-x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)


class Chain(nn.Module):
    """Runs the layers in order; registers each under its state_dict path.

    A dotted key (`features.0`) creates `nn.Sequential` containers, as a
    `features = nn.Sequential(...)` attribute would.
    """

    def __init__(self, layers):
        super().__init__()
        self.order = []
        for layer in layers:
            module = layer.build()
            parent = self
            *outer, last = layer.path.split(".")
            for part in outer:
                if not hasattr(parent, part):
                    parent.add_module(part, nn.Sequential())
                parent = getattr(parent, part)
            parent.add_module(last, module)
            self.order.append(module)

    def forward(self, x, trace=None):
        for module in self.order:
            if trace is not None:
                trace.append(tuple(x.shape[1:]))
            x = module(x)
        return x


class LeNet5(nn.Module):
    """LeNet-5 as a user would write it; the state_dict the example loads."""

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


# --------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------


class Case:
    def __init__(self, name, covers, input_shape, layers, scale=1.0, shift=0.0, module=None):
        self.name = name
        self.covers = covers
        self.input_shape = input_shape
        self.layers = layers
        self.scale = scale  # input = randn * scale + shift
        self.shift = shift
        self.module = module  # a hand-written nn.Module class; default: Chain(layers)


LENET5_LAYERS = [
    L("conv1", "Conv2d", 1, 6, 5, padding=2),
    L("relu1", "ReLU"),
    L("pool1", "MaxPool2d", 2),
    L("conv2", "Conv2d", 6, 16, 5),
    L("relu2", "ReLU"),
    L("pool2", "MaxPool2d", 2),
    L("flatten", "Flatten"),
    L("fc1", "Linear", 400, 120),
    L("relu3", "ReLU"),
    L("fc2", "Linear", 120, 84),
    L("relu4", "ReLU"),
    L("fc3", "Linear", 84, 10),
]

CASES = [
    # ---- Conv2d -------------------------------------------------------------
    Case("conv_stride2_pad", "Conv2d stride 2, integer padding", (3, 9, 9), [
        L("conv", "Conv2d", 3, 4, 3, stride=2, padding=1),
    ]),
    Case("conv_rect_kernel", "Conv2d non-square (h, w) kernel with (h, w) padding pair", (2, 6, 7), [
        L("conv", "Conv2d", 2, 4, (3, 5), padding=(1, 2)),
    ]),
    Case("conv_same_odd", 'padding="same", odd kernel, plain and dilated', (3, 6, 7), [
        L("conv1", "Conv2d", 3, 4, 5, padding="same"),
        L("conv2", "Conv2d", 4, 4, 3, padding="same", dilation=2),
    ]),
    Case("conv_same_even", 'padding="same", even kernels 4 and (2, 4): uneven split, extra at bottom/right', (2, 6, 7), [
        L("conv1", "Conv2d", 2, 3, 4, padding="same"),
        L("conv2", "Conv2d", 3, 3, (2, 4), padding="same"),
    ]),
    Case("conv_valid_dilation", 'padding="valid" with dilation 2; dilation (2, 3) with padding pair', (2, 9, 9), [
        L("conv1", "Conv2d", 2, 3, 3, padding="valid", dilation=2),
        L("conv2", "Conv2d", 3, 3, 3, padding=(2, 3), dilation=(2, 3)),
    ]),
    Case("conv_groups", "Conv2d groups=2", (4, 5, 5), [
        L("conv", "Conv2d", 4, 6, 3, padding=1, groups=2),
    ]),
    Case("conv_depthwise", "depthwise (groups = in = out) then pointwise 1x1 with bias=False", (4, 6, 6), [
        L("depthwise", "Conv2d", 4, 4, 3, padding=1, groups=4),
        L("pointwise", "Conv2d", 4, 8, 1, bias=False),
    ]),
    Case("conv_depthwise_multiplier", "depthwise with channel multiplier (in 3, out 6, groups 3), bias=False", (3, 6, 6), [
        L("conv", "Conv2d", 3, 6, 3, groups=3, bias=False),
    ]),
    Case("conv_floor", 'Conv2d 7x7, k3, stride 3: PyTorch floors 2.33 to 2 (rounding = "floor")', (2, 7, 7), [
        L("conv", "Conv2d", 2, 3, 3, stride=3, rounding="floor"),
    ]),
    Case("conv_combined", "stride+padding+dilation together; then per-axis pairs of all three with floor", (3, 11, 11), [
        L("conv1", "Conv2d", 3, 4, 3, stride=2, padding=2, dilation=2),
        L("conv2", "Conv2d", 4, 4, (3, 2), stride=(2, 3), padding=(1, 2), dilation=(2, 1), rounding="floor"),
    ]),
    # ---- MaxPool2d ----------------------------------------------------------
    # Inputs shifted negative: a padding treated as 0 instead of -inf would win.
    Case("maxpool_basic", "MaxPool2d default stride; explicit stride", (3, 10, 10), [
        L("pool1", "MaxPool2d", 2),
        L("pool2", "MaxPool2d", 3, stride=2),
    ], shift=-2.0),
    Case("maxpool_padding_dilation", "MaxPool2d padding; dilation; padding with dilation", (2, 6, 6), [
        L("pool1", "MaxPool2d", 3, stride=1, padding=1),
        L("pool2", "MaxPool2d", 2, stride=1, dilation=2),
        # PyTorch bounds pool padding by half the kernel, not the dilated kernel.
        L("pool3", "MaxPool2d", 3, stride=1, padding=1, dilation=2),
    ], shift=-2.0),
    Case("maxpool_ceil", "ceil_mode: last window runs past the input; a last window starting in the padding is dropped", (2, 7, 7), [
        L("pool1", "MaxPool2d", 2, ceil_mode=True),
        L("pool2", "MaxPool2d", 2, stride=3, padding=1, ceil_mode=True),
    ], shift=-2.0),
    Case("maxpool_floor", "MaxPool2d(2) floors 7 to 3 (height only); non-square window and stride, floor on width only", (3, 7, 8), [
        L("pool1", "MaxPool2d", 2, rounding="floor"),
        L("pool2", "MaxPool2d", (2, 3), stride=(1, 2), rounding="floor"),
    ]),
    # ---- MinPool2d (ours: -max_pool2d(-x)) ----------------------------------
    # Inputs shifted positive: a padding treated as 0 instead of +inf would win.
    Case("minpool_basic", "MinPool2d default stride; padding", (2, 8, 8), [
        L("pool1", "MinPool2d", 2),
        L("pool2", "MinPool2d", 3, stride=1, padding=1),
    ], shift=2.0),
    Case("minpool_ceil_dilation", "MinPool2d ceil_mode with padding; dilation; floor", (2, 8, 8), [
        L("pool1", "MinPool2d", 3, stride=2, padding=1, ceil_mode=True),
        L("pool2", "MinPool2d", 2, stride=1, dilation=2),
        L("pool3", "MinPool2d", 2, stride=2, rounding="floor"),
    ], shift=2.0),
    # ---- AvgPool2d ----------------------------------------------------------
    Case("avgpool_pad_include", "AvgPool2d padding, count_include_pad=True (divisor 9 at borders)", (2, 7, 7), [
        L("pool", "AvgPool2d", 3, stride=2, padding=1),
    ]),
    Case("avgpool_pad_exclude", "AvgPool2d padding, count_include_pad=False (divisor = in-image count)", (2, 7, 7), [
        L("pool", "AvgPool2d", 3, stride=2, padding=1, count_include_pad=False),
    ]),
    Case("avgpool_ceil", "AvgPool2d ceil_mode without padding (partial last window); then with padding and a dropped window", (2, 7, 7), [
        L("pool1", "AvgPool2d", 2, ceil_mode=True),
        L("pool2", "AvgPool2d", 2, stride=3, padding=1, ceil_mode=True),
    ]),
    Case("avgpool_ceil_pad_include", "AvgPool2d ceil_mode + padding, count_include_pad=True: padding counts, the overhang past it does not", (2, 6, 6), [
        L("pool", "AvgPool2d", 3, stride=2, padding=1, ceil_mode=True),
    ]),
    Case("avgpool_ceil_pad_exclude", "AvgPool2d ceil_mode + padding, count_include_pad=False", (2, 6, 6), [
        L("pool", "AvgPool2d", 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    ]),
    Case("avgpool_divisor_override", "AvgPool2d divisor_override, without and with padding", (2, 6, 6), [
        L("pool1", "AvgPool2d", 2, divisor_override=3),
        L("pool2", "AvgPool2d", 3, stride=1, padding=1, divisor_override=5),
    ]),
    Case("avgpool_stride", "AvgPool2d stride != kernel with floor; (h, w) kernel and stride pairs", (2, 8, 9), [
        L("pool1", "AvgPool2d", 3, stride=2, rounding="floor"),
        L("pool2", "AvgPool2d", (3, 2), stride=(1, 2)),
    ]),
    # ---- AdaptiveAvgPool2d --------------------------------------------------
    Case("adaptive_global", "conv, AdaptiveAvgPool2d(1), Flatten, Linear (global average pooling head)", (3, 6, 5), [
        L("conv", "Conv2d", 3, 8, 3, padding=1),
        L("relu", "ReLU"),
        L("gap", "AdaptiveAvgPool2d", 1),
        L("flatten", "Flatten"),
        L("fc", "Linear", 8, 4),
    ]),
    Case("conv_relu_gap_direct", "conv with 24 outputs, stride 2, ReLU, AdaptiveAvgPool2d(1): the pool summed inside the conv's direct kernel (AVX2, AVX-512)", (8, 13, 13), [
        L("conv", "Conv2d", 8, 24, 3, stride=2, padding=1),
        L("relu", "ReLU"),
        L("gap", "AdaptiveAvgPool2d", 1),
        L("flatten", "Flatten"),
        L("fc", "Linear", 24, 5),
    ]),
    Case("adaptive_3x3", "AdaptiveAvgPool2d((3, 3)) on 7x7: overlapping, non-divisible bins", (3, 7, 7), [
        L("pool", "AdaptiveAvgPool2d", (3, 3)),
    ]),
    Case("adaptive_2x3", "AdaptiveAvgPool2d((2, 3)) on 5x7", (3, 5, 7), [
        L("pool", "AdaptiveAvgPool2d", (2, 3)),
    ]),
    # ---- Linear, Flatten, Dropout --------------------------------------------
    Case("linear", "Flatten, Linear with bias, Linear bias=False, Dropout(0.5) as identity", (3, 4, 4), [
        L("flatten", "Flatten"),
        L("drop1", "Dropout", 0.5),
        L("fc1", "Linear", 48, 10),
        L("relu", "ReLU"),
        L("drop2", "Dropout", p=0.5),
        L("fc2", "Linear", 10, 5, bias=False),
    ]),
    # ---- BatchNorm2d ---------------------------------------------------------
    Case("batchnorm", "BatchNorm2d default eps, eps=1e-3, affine=False; random running stats", (3, 5, 5), [
        L("conv", "Conv2d", 3, 4, 3, padding=1),
        L("bn1", "BatchNorm2d", 4),
        L("relu", "ReLU"),
        L("bn2", "BatchNorm2d", 4, eps=1e-3),
        L("bn3", "BatchNorm2d", 4, affine=False),
    ]),
    # ---- Activations ---------------------------------------------------------
    # Applied straight to inputs scaled by 4, so clamps and saturation are hit.
    Case("act_relu", "ReLU", (2, 5, 5), [L("act", "ReLU")], scale=4.0),
    Case("act_relu6", "ReLU6 (clamps at 0 and 6)", (2, 5, 5), [L("act", "ReLU6")], scale=4.0),
    Case("act_leaky_relu", "LeakyReLU default slope 0.01", (2, 5, 5), [L("act", "LeakyReLU")], scale=4.0),
    Case("act_leaky_relu_02", "LeakyReLU(0.2) on CxHxW, then LeakyReLU(negative_slope = 0.2) on a flat tensor", (2, 5, 5), [
        L("act1", "LeakyReLU", 0.2),
        L("flatten", "Flatten"),
        L("act2", "LeakyReLU", negative_slope=0.2),
    ], scale=4.0),
    Case("act_sigmoid", "Sigmoid", (2, 5, 5), [L("act", "Sigmoid")], scale=4.0),
    Case("act_tanh", "Tanh", (2, 5, 5), [L("act", "Tanh")], scale=4.0),
    Case("softmax_flat", "Flatten, Linear, Softmax(dim=1) over features", (2, 4, 4), [
        L("flatten", "Flatten"),
        L("fc", "Linear", 32, 10),
        L("softmax", "Softmax", dim=1),
    ], scale=3.0),
    Case("softmax_channels", "Softmax(dim=1) on CxHxW: over channels at each pixel", (3, 4, 5), [
        L("conv", "Conv2d", 3, 5, 3, padding=1),
        L("softmax", "Softmax", dim=1),
    ], scale=3.0),
    # ---- nn.Sequential state_dict keys --------------------------------------
    Case("sequential_keys", "VGG-style features/avgpool/classifier Sequentials: keys features.0.weight, classifier.1.weight, ...", (3, 8, 8), [
        L("conv1", "Conv2d", 3, 8, 3, padding=1, key="features.0"),
        L("bn1", "BatchNorm2d", 8, key="features.1"),
        L("relu1", "ReLU", key="features.2"),
        L("pool1", "MaxPool2d", 2, key="features.3"),
        L("conv2", "Conv2d", 8, 8, 3, padding=1, key="features.4"),
        L("relu2", "ReLU", key="features.5"),
        L("avgpool", "AdaptiveAvgPool2d", (2, 2)),
        L("flatten", "Flatten"),
        L("drop1", "Dropout", 0.5, key="classifier.0"),
        L("fc1", "Linear", 32, 16, key="classifier.1"),
        L("relu3", "ReLU", key="classifier.2"),
        L("drop2", "Dropout", 0.5, key="classifier.3"),
        L("fc2", "Linear", 16, 10, key="classifier.4"),
    ]),
    # ---- End to end -----------------------------------------------------------
    Case("lenet5", "LeNet-5 end to end, full size 1x28x28 (also used by examples/lenet5.rs)", (1, 28, 28),
         LENET5_LAYERS, module=LeNet5),
]


# --------------------------------------------------------------------------
# Checks: state_dict keys and the product's output-size rules
# --------------------------------------------------------------------------


def expected_keys(layers):
    keys = []
    for layer in layers:
        kw = layer.torch_kwargs()
        p = layer.path
        if layer.kind in ("Conv2d", "Linear"):
            keys.append(f"{p}.weight")
            if kw.get("bias", True):
                keys.append(f"{p}.bias")
        elif layer.kind == "BatchNorm2d":
            if kw.get("affine", True):
                keys += [f"{p}.weight", f"{p}.bias"]
            keys += [f"{p}.running_mean", f"{p}.running_var", f"{p}.num_batches_tracked"]
    return keys


def pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def window_params(module):
    """(kernel, stride, pad_before, pad_after, dilation) pairs, or None."""
    if isinstance(module, nn.Conv2d):
        k, s, d = pair(module.kernel_size), pair(module.stride), pair(module.dilation)
        if module.padding == "same":
            total = tuple(d[i] * (k[i] - 1) for i in range(2))
            before = tuple(t // 2 for t in total)
            after = tuple(total[i] - before[i] for i in range(2))
        elif module.padding == "valid":
            before = after = (0, 0)
        else:
            before = after = pair(module.padding)
        return k, s, before, after, d
    if isinstance(module, (nn.MaxPool2d, MinPool2d)):
        k = pair(module.kernel_size)
        return k, pair(module.stride), pair(module.padding), pair(module.padding), pair(module.dilation)
    if isinstance(module, nn.AvgPool2d):
        k = pair(module.kernel_size)
        return k, pair(module.stride), pair(module.padding), pair(module.padding), (1, 1)
    return None


def product_output_size(n, k, s, before, after, d, rounding):
    """The product's rule (cnn-macros/src/model/shape.rs), restated."""
    effective = d * (k - 1) + 1
    span = n + before + after - effective
    assert span >= 0
    floor = span // s + 1
    if span % s == 0:
        return floor, False
    if rounding == "exact":
        return None, True
    if rounding == "floor":
        return floor, True
    # ceil: PyTorch drops a last window that starts in the trailing padding.
    ceil = floor + 1
    return (floor if (ceil - 1) * s >= n + before else ceil), True


def check_windows(case, model, x):
    """Every remainder is opted into, no opt-in is needless, sizes match PyTorch."""
    shapes = []
    out = model(x, trace=shapes) if isinstance(model, Chain) else None
    assert out is not None
    shapes.append(tuple(out.shape[1:]))
    for i, (layer, module) in enumerate(zip(case.layers, model.order)):
        params = window_params(module)
        if params is None:
            continue
        k, s, before, after, d = params
        ceil_mode = bool(getattr(module, "ceil_mode", False))
        rounding = layer.kwargs.get("rounding", "exact")
        if ceil_mode:
            assert rounding == "exact", f"{case.name}.{layer.name}: rounding with ceil_mode"
            rounding = "ceil"
        in_hw, out_hw = shapes[i][1:], shapes[i + 1][1:]
        any_remainder = False
        for axis in range(2):
            size, remainder = product_output_size(
                in_hw[axis], k[axis], s[axis], before[axis], after[axis], d[axis], rounding)
            any_remainder |= remainder
            if size is None:
                sys.exit(f"{case.name}.{layer.name}: output size has a remainder; "
                         f'the DSL needs rounding = "floor" or ceil_mode = true')
            if size != out_hw[axis]:
                sys.exit(f"{case.name}.{layer.name}: product rule gives {size}, PyTorch {out_hw[axis]}")
        if rounding == "floor" and not any_remainder:
            sys.exit(f'{case.name}.{layer.name}: needless rounding = "floor" (no remainder)')


# --------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------


def randomise(model, gen):
    """Fresh random parameters and running statistics, so nothing is an identity."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()
                bound = math.sqrt(3.0 / fan_in)  # unit variance through the layer
                module.weight.copy_(torch.empty_like(module.weight).uniform_(-bound, bound, generator=gen))
                if module.bias is not None:
                    module.bias.copy_(torch.empty_like(module.bias).uniform_(-0.5, 0.5, generator=gen))
            elif isinstance(module, nn.BatchNorm2d):
                c = module.num_features
                if module.affine:
                    # Some negative scales too: gamma < 0 is legal.
                    module.weight.copy_(torch.randn(c, generator=gen) * 0.6 + 0.8)
                    module.bias.copy_(torch.randn(c, generator=gen) * 0.5)
                module.running_mean.copy_(torch.randn(c, generator=gen) * 0.5)
                # Positive, some tiny, so that eps matters (1e-3 vs 1e-5 is visible).
                module.running_var.copy_(torch.empty(c).uniform_(0.002, 2.0, generator=gen))
                module.num_batches_tracked.fill_(1000)


def build(case):
    seed = zlib.crc32(case.name.encode())
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = case.module() if case.module is not None else Chain(case.layers)
    model = model.float().eval()
    randomise(model, gen)
    x = torch.randn((1,) + tuple(case.input_shape), generator=gen) * case.scale + case.shift
    return model, x


def safetensors_bytes(tensors):
    """What `safetensors.torch.save_file(tensors, path)` writes, as bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "t.safetensors")
        safetensors.torch.save_file(tensors, path)
        with open(path, "rb") as f:
            return f.read()


def generate(case):
    model, x = build(case)
    state = model.state_dict()

    keys = list(state.keys())
    want = expected_keys(case.layers)
    if sorted(keys) != sorted(want):
        sys.exit(f"{case.name}: state_dict keys {keys} != DSL keys {want}")

    with torch.no_grad():
        y = model(x)
        # The DSL layer list, run as a Chain, must match a hand-written module.
        chain = Chain(case.layers).eval()
        chain.load_state_dict(state)
        y_chain = chain(x)
        if not torch.equal(y, y_chain):
            sys.exit(f"{case.name}: the layer list does not compute the module")
        check_windows(case, chain, x)
        # float64 reference: how far PyTorch's own float32 result is from it.
        y64 = copy_to_double(model)(x.double())

    scale = y.abs().max().item()
    err64 = (y.double() - y64).abs().max().item()
    rel64 = err64 / scale if scale > 0 else 0.0
    if rel64 > 1e-6:
        sys.exit(f"{case.name}: float32 vs float64 error {rel64:.2e} of scale is too close to the 1e-5 tolerance")

    # The state_dict exactly as a user would save it.
    weights = safetensors_bytes(model.state_dict())
    io_bytes = safetensors_bytes({
        "input": x[0].contiguous().float(),
        "output": y[0].contiguous().float(),
    })
    return weights, io_bytes, tuple(y.shape[1:]), scale, rel64


def copy_to_double(model):
    return copy.deepcopy(model).double().eval()


# --------------------------------------------------------------------------
# tests/golden.rs
# --------------------------------------------------------------------------

RS_HEADER = """\
//! Golden numeric tests: every layer kind and option against PyTorch.
//!
//! GENERATED by `python3 scripts/gen_golden.py` (run from the repository root);
//! do not edit by hand: change the case table in the script and rerun it. The
//! fixtures in tests/fixtures/golden/ are committed, so running these tests needs
//! no Python.
//!
//! Each test declares its model in the `cnn_model!` DSL, loads the PyTorch
//! `state_dict` from `<case>.weights.safetensors` with `Net::from_safetensors`,
//! runs the `input` of `<case>.io.safetensors` through `forward_slice` and
//! compares with PyTorch's `output` there (tolerance: `common::RTOL`). Shapes
//! are checked too: `Net::INPUT_SHAPE` / `OUTPUT_SHAPE` against the fixture's.
//!
//! The same case table built the PyTorch module, so names, keys and arguments
//! agree; every layer whose PyTorch output size involves a remainder carries
//! `rounding = "floor"` or `ceil_mode = true`, as the product requires.

mod common;

use cnn_runtime::{cnn_model, Model};

/// A case's name and its two fixtures, embedded in the test binary:
/// `(case, <case>.weights.safetensors, <case>.io.safetensors)`.
macro_rules! fixtures {
    ($case:literal) => {
        (
            $case,
            include_bytes!(concat!("fixtures/golden/", $case, ".weights.safetensors")),
            include_bytes!(concat!("fixtures/golden/", $case, ".io.safetensors")),
        )
    };
}
"""


def rust_test(case, out_shape):
    # Every statement fits rustfmt's default widths on one line, so the file is
    # a fixed point of `cargo fmt` (rustfmt leaves `cnn_model! { ... }` alone).
    lines = [
        "",
        f"/// {case.covers}.",
        f"/// Output shape {list(out_shape)}.",
        "#[test]",
        f"fn {case.name}() {{",
        "    cnn_model! {",
        "        struct Net {",
        f"            input: [{', '.join(str(d) for d in case.input_shape)}],",
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
        "    common::assert_close(case, &output, &io.output.values);",
        "}",
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="regenerate in memory and fail if a committed file differs")
    args = parser.parse_args()

    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    # "same" with an even kernel makes PyTorch pad a copy of the input: expected.
    warnings.filterwarnings("ignore", message="Using padding='same' with even kernel")

    names = [c.name for c in CASES]
    assert len(names) == len(set(names)), "duplicate case names"

    outputs = {}
    rust = [RS_HEADER]
    for case in CASES:
        weights, io_bytes, out_shape, scale, rel64 = generate(case)
        outputs[os.path.join(FIXTURES, f"{case.name}.weights.safetensors")] = weights
        outputs[os.path.join(FIXTURES, f"{case.name}.io.safetensors")] = io_bytes
        rust.append(rust_test(case, out_shape))
        print(f"{case.name:28} in {list(case.input_shape)!s:13} out {list(out_shape)!s:13} "
              f"max|out| {scale:8.4f}  f32-vs-f64 {rel64:.1e}  weights {len(weights):6d} B  | {case.covers}")
    outputs[GOLDEN_RS] = "".join(rust).encode()

    if args.check:
        stale = [p for p, data in outputs.items()
                 if not os.path.exists(p) or open(p, "rb").read() != data]
        if stale:
            sys.exit("out of date (rerun scripts/gen_golden.py):\n  " + "\n  ".join(os.path.relpath(p, ROOT) for p in stale))
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
    print(f"wrote {len(CASES)} cases, {total} bytes of fixtures, and {os.path.relpath(GOLDEN_RS, ROOT)}")


if __name__ == "__main__":
    main()

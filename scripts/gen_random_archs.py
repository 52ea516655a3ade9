#!/usr/bin/env python3
"""Generates random architectures, runs them in PyTorch, and writes
tests/random_archs.rs and its fixtures.

Run from the repository root:

    python3 scripts/gen_random_archs.py            # (re)write fixtures and tests/random_archs.rs
    python3 scripts/gen_random_archs.py --check    # regenerate in memory, fail if anything differs

Needs Python 3 with torch (CPU), numpy and safetensors. Seeded (SEED below):
reruns write byte-identical files.

Each architecture is a random valid chain of 1 to 10 layers over a small random
input, drawn from every layer kind and option the language has: Conv2d (kernel,
stride, padding including "same"/"valid" and (h, w) pairs, dilation, groups and
depthwise, bias), MaxPool2d, MinPool2d and AvgPool2d (stride, padding, dilation,
ceil_mode, count_include_pad, divisor_override), AdaptiveAvgPool2d, BatchNorm2d
(eps, affine, random running statistics), every activation, Softmax on flat and
CxHxW tensors, Dropout, Flatten and Linear; spelled with `nn.` prefixes, Python's
`True`/`False` and `nn.Sequential` keys now and then. The generator tracks the
shape layer by layer with the product's rule (cnn-macros/src/model/shape.rs):
a conv or pool whose output size leaves a remainder gets `rounding = "floor"`,
unless it is a pool drawn with `ceil_mode = true`. PyTorch then checks every
predicted shape. The draw continues until every feature in FEATURES is covered
and at least COUNT architectures exist.

Per architecture it writes tests/fixtures/random/<name>.weights.safetensors
(the state_dict, saved as a user would) and <name>.io.safetensors (input and
PyTorch's output, batch dimension dropped). An architecture whose float32
PyTorch output is more than 1e-6 of its scale away from a float64 run is
redrawn, so the test tolerance (tests/common/mod.rs) keeps its margin.

tests/random_archs.rs is GENERATED: one `cnn_model!` struct per architecture,
each in its own module, and one test that runs them all against PyTorch with
`common::assert_close` and prints the worst relative error seen.
"""

import argparse
import copy
import math
import os
import random
import sys
import warnings

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The golden generator's helpers where the two agree exactly; Chain (which
# traces shapes after each layer here) and randomise (other distributions)
# differ on purpose.
from gen_golden import MinPool2d, pair, safetensors_bytes  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "random")
TEST_RS = os.path.join(ROOT, "tests", "random_archs.rs")

SEED = 20261123
COUNT = 120
MAX_FLAT = 192  # largest flattened size, to keep Linear weights small

# Every option a drawn set of architectures must cover.
FEATURES = {
    "conv", "conv.kernel_pair", "conv.stride", "conv.stride_pair", "conv.padding", "conv.padding_pair",
    "conv.same", "conv.same_even", "conv.valid", "conv.dilation", "conv.dilation_pair", "conv.groups",
    "conv.depthwise", "conv.depthwise_multiplier", "conv.no_bias", "conv.floor",
    "maxpool", "maxpool.stride", "maxpool.padding", "maxpool.dilation", "maxpool.ceil", "maxpool.floor",
    "maxpool.pair",
    "minpool", "minpool.stride", "minpool.padding", "minpool.dilation", "minpool.ceil", "minpool.floor", "minpool.pair",
    "avgpool", "avgpool.stride", "avgpool.padding", "avgpool.ceil", "avgpool.floor", "avgpool.exclude_pad",
    "avgpool.divisor_override", "avgpool.pair", "avgpool.ceil_padding_exclude",
    "adaptive", "adaptive.global", "adaptive.pair", "adaptive.upsample",
    "bn", "bn.eps", "bn.no_affine", "bn.momentum",
    "relu", "relu6", "sigmoid", "tanh", "leaky_relu", "leaky_relu.slope", "inplace",
    "softmax.flat", "softmax.chw", "softmax.negative_dim", "dropout", "dropout.p0", "dropout.p1",
    "flatten", "flatten.keywords", "flatten.flat", "linear", "linear.no_bias",
    "spelling.nn", "spelling.python_bools", "keys.sequential", "depth.1", "depth.10", "input.flat",
}


# --------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------


def spell(v, python_bools):
    if isinstance(v, bool):
        return ("True" if v else "False") if python_bools else ("true" if v else "false")
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        text = repr(v)
        assert "." in text or "e" in text, text
        return text
    if isinstance(v, str):
        return '"' + v + '"'
    if isinstance(v, tuple):
        return "(" + ", ".join(spell(x, python_bools) for x in v) + ")"
    raise TypeError(v)


class Layer:
    """One layer: its PyTorch module arguments and its DSL spelling.

    `dsl_args`/`dsl_kwargs` are what the DSL entry says (they may omit
    defaults, or add the DSL-only `rounding`); `args`/`kwargs` build the module.
    """

    def __init__(self, kind, args=(), kwargs=None, dsl_args=None, dsl_kwargs=None):
        self.kind = kind
        self.args = tuple(args)
        self.kwargs = dict(kwargs or {})
        self.dsl_args = tuple(self.args if dsl_args is None else dsl_args)
        self.dsl_kwargs = dict(self.kwargs if dsl_kwargs is None else dsl_kwargs)
        self.name = None
        self.key = None
        self.nn_prefix = False
        self.python_bools = False

    @property
    def path(self):
        return self.key if self.key is not None else self.name

    def build(self):
        if self.kind == "MinPool2d":
            return MinPool2d(*self.args, **self.kwargs)
        return getattr(nn, self.kind)(*self.args, **self.kwargs)

    def dsl(self):
        parts = [spell(a, self.python_bools) for a in self.dsl_args]
        parts += [f"{k} = {spell(v, self.python_bools)}" for k, v in self.dsl_kwargs.items()]
        kind = ("nn." if self.nn_prefix else "") + self.kind
        text = f"{self.name}: {kind}" + (f"({', '.join(parts)})" if parts else "")
        if self.key is not None:
            text = f'#[key = "{self.key}"] ' + text
        return text + ","


class Chain(nn.Module):
    """The layers in order, each registered under its state_dict path."""

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
            x = module(x)
            if trace is not None:
                trace.append(tuple(x.shape[1:]))
        return x


# --------------------------------------------------------------------------
# Shapes: the product's rule (cnn-macros/src/model/shape.rs), restated
# --------------------------------------------------------------------------


def axis_output(n, k, s, before, after, d, rounding):
    """(size or None if the kernel does not fit, remainder?)."""
    effective = d * (k - 1) + 1
    span = n + before + after - effective
    if span < 0:
        return None, False
    floor = span // s + 1
    if span % s == 0:
        return floor, False
    if rounding == "floor":
        return floor, True
    if rounding == "ceil":
        ceil = floor + 1
        return (floor if (ceil - 1) * s >= n + before else ceil), True
    return floor, True  # "exact": the caller adds rounding = "floor"


def maybe_pair(rng, low, high, pair_chance=0.25):
    """An int, or now and then an (h, w) pair with different values."""
    a = rng.randint(low, high)
    if rng.random() < pair_chance and high > low:
        b = rng.choice([x for x in range(low, high + 1) if x != a])
        return (a, b)
    return a


def divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


# --------------------------------------------------------------------------
# Drawing architectures
# --------------------------------------------------------------------------


class Draw:
    """One architecture being drawn: the layers so far and the current shape."""

    def __init__(self, rng):
        self.rng = rng
        self.layers = []
        self.features = set()

    def window(self, shape, kind, kernel, stride, pad_before, pad_after, dilation, rounding):
        """The output (h, w) under the product's rule, or None; marks floor use."""
        c, h, w = shape
        out, remainder = [], False
        for i, n in enumerate((h, w)):
            size, rem = axis_output(n, kernel[i], stride[i], pad_before[i], pad_after[i], dilation[i], rounding)
            if size is None or size < 1:
                return None, False
            out.append(size)
            remainder |= rem
        return tuple(out), remainder

    def conv(self, shape):
        rng, (c, h, w) = self.rng, shape
        feats = {"conv"}
        kind = rng.random()
        if kind < 0.2:
            out_c, groups = c, c  # depthwise
            feats.add("conv.depthwise")
        elif kind < 0.3:
            out_c, groups = c * rng.randint(2, 3), c  # depthwise with a channel multiplier
            feats.add("conv.depthwise_multiplier")
        else:
            out_c = rng.randint(1, 8)
            common = [g for g in divisors(c) if out_c % g == 0]
            groups = rng.choice(common) if rng.random() < 0.3 else 1
            if groups > 1:
                feats.add("conv.groups")
        kernel = maybe_pair(rng, 1, 5)
        k = pair(kernel)
        dilation = maybe_pair(rng, 1, 3, 0.3) if rng.random() < 0.3 else 1
        d = pair(dilation)
        choice = rng.random()
        if choice < 0.2:
            padding, stride = "same", 1
            total = tuple(d[i] * (k[i] - 1) for i in range(2))
            before = tuple(t // 2 for t in total)
            after = tuple(total[i] - before[i] for i in range(2))
            feats.add("conv.same")
            if any(t % 2 for t in total):
                feats.add("conv.same_even")
        else:
            stride = maybe_pair(rng, 1, 3) if rng.random() < 0.5 else 1
            if choice < 0.3:
                padding = "valid"
                before = after = (0, 0)
                feats.add("conv.valid")
            else:
                padding = maybe_pair(rng, 0, 2) if rng.random() < 0.6 else 0
                before = after = pair(padding)
                if padding != 0:
                    feats.add("conv.padding_pair" if isinstance(padding, tuple) else "conv.padding")
        s = pair(stride)
        out_hw, remainder = self.window(shape, "conv", k, s, before, after, d, "exact")
        if out_hw is None:
            return None
        bias = rng.random() < 0.75
        kwargs, dsl = {}, {}
        if stride != 1:
            kwargs["stride"] = stride
            feats.add("conv.stride_pair" if isinstance(stride, tuple) else "conv.stride")
        if padding != 0:
            kwargs["padding"] = padding
        if dilation != 1:
            kwargs["dilation"] = dilation
            feats.add("conv.dilation_pair" if isinstance(dilation, tuple) else "conv.dilation")
        if groups != 1:
            kwargs["groups"] = groups
        if not bias:
            kwargs["bias"] = False
            feats.add("conv.no_bias")
        if isinstance(kernel, tuple):
            feats.add("conv.kernel_pair")
        dsl = dict(kwargs)
        if remainder:
            dsl["rounding"] = "floor"
            feats.add("conv.floor")
        self.features |= feats
        layer = Layer("Conv2d", (c, out_c, kernel), kwargs, dsl_kwargs=dsl)
        return layer, (out_c, *out_hw)

    def pool(self, shape, kind):
        rng = self.rng
        tag = {"MaxPool2d": "maxpool", "MinPool2d": "minpool", "AvgPool2d": "avgpool"}[kind]
        feats = {tag}
        kernel = maybe_pair(rng, 1, 4, 0.2)
        k = pair(kernel)
        kwargs = {}
        stride = kernel
        if rng.random() < 0.5:
            stride = maybe_pair(rng, 1, 3, 0.2)
            kwargs["stride"] = stride
            feats.add(f"{tag}.stride")
        s = pair(stride)
        padding = 0
        if rng.random() < 0.4 and max(k) >= 2:
            padding = (rng.randint(0, k[0] // 2), rng.randint(0, k[1] // 2))
            padding = padding[0] if padding[0] == padding[1] else padding
            if padding != 0:
                kwargs["padding"] = padding
                feats.add(f"{tag}.padding")
        p = pair(padding)
        dilation = 1
        if kind != "AvgPool2d" and rng.random() < 0.3:
            dilation = rng.randint(2, 3)
            kwargs["dilation"] = dilation
            feats.add(f"{tag}.dilation")
        d = pair(dilation)
        ceil_mode = rng.random() < 0.3
        if ceil_mode:
            kwargs["ceil_mode"] = True
        if kind == "AvgPool2d":
            if rng.random() < 0.3:
                kwargs["count_include_pad"] = False
                feats.add("avgpool.exclude_pad")
                if ceil_mode and padding != 0:
                    feats.add("avgpool.ceil_padding_exclude")
            if rng.random() < 0.2:
                kwargs["divisor_override"] = rng.randint(1, 7)
                feats.add("avgpool.divisor_override")
        out_hw, remainder = self.window(shape, kind, k, s, p, p, d, "ceil" if ceil_mode else "exact")
        if out_hw is None:
            return None
        if isinstance(kernel, tuple) or isinstance(stride, tuple):
            feats.add(f"{tag}.pair")
        dsl = dict(kwargs)
        if remainder:
            feats.add(f"{tag}.ceil" if ceil_mode else f"{tag}.floor")
            if not ceil_mode:
                dsl["rounding"] = "floor"
        self.features |= feats
        return Layer(kind, (kernel,), kwargs, dsl_kwargs=dsl), (shape[0], *out_hw)

    def adaptive(self, shape):
        rng, (c, h, w) = self.rng, shape
        r = rng.random()
        if r < 0.3:
            size = 1
            self.features.add("adaptive.global")
        else:
            size = (rng.randint(1, h + 2), rng.randint(1, w + 2))
            if size[0] == size[1] and rng.random() < 0.5:
                size = size[0]
            else:
                self.features.add("adaptive.pair")
        oh, ow = pair(size)
        if oh > h or ow > w:
            self.features.add("adaptive.upsample")
        self.features.add("adaptive")
        return Layer("AdaptiveAvgPool2d", (size,)), (c, oh, ow)

    def batch_norm(self, shape):
        rng = self.rng
        kwargs = {}
        if rng.random() < 0.3:
            kwargs["eps"] = rng.choice([1e-3, 0.1, 1e-4, 0.5])
            self.features.add("bn.eps")
        if rng.random() < 0.25:
            kwargs["affine"] = False
            self.features.add("bn.no_affine")
        if rng.random() < 0.15:
            kwargs["momentum"] = 0.2
            self.features.add("bn.momentum")
        self.features.add("bn")
        return Layer("BatchNorm2d", (shape[0],), kwargs), shape

    def activation(self, shape):
        rng = self.rng
        kind = rng.choice(["ReLU", "ReLU6", "Sigmoid", "Tanh", "LeakyReLU"])
        self.features.add({"ReLU": "relu", "ReLU6": "relu6", "Sigmoid": "sigmoid", "Tanh": "tanh",
                           "LeakyReLU": "leaky_relu"}[kind])
        args, kwargs = (), {}
        if kind == "LeakyReLU" and rng.random() < 0.6:
            slope = rng.choice([0.2, 0.5, -0.1, 1.5, 0.0])
            self.features.add("leaky_relu.slope")
            if rng.random() < 0.5:
                args = (slope,)
            else:
                kwargs["negative_slope"] = slope
        if kind in ("ReLU", "ReLU6", "LeakyReLU") and rng.random() < 0.2:
            kwargs["inplace"] = True
            self.features.add("inplace")
        return Layer(kind, args, kwargs), shape

    def softmax(self, shape):
        rng = self.rng
        flat = len(shape) == 1
        self.features.add("softmax.flat" if flat else "softmax.chw")
        r = rng.random()
        if r < 0.3:
            # nn.Softmax needs dim; the DSL's default is dim = 1.
            return Layer("Softmax", (), {"dim": 1}, dsl_kwargs={}), shape
        if r < 0.5:
            self.features.add("softmax.negative_dim")
            return Layer("Softmax", (), {"dim": -1 if flat else -3}), shape
        return Layer("Softmax", (), {"dim": 1}), shape

    def dropout(self, shape):
        rng = self.rng
        self.features.add("dropout")
        r = rng.random()
        if r < 0.3:
            return Layer("Dropout"), shape
        p = rng.choice([0.0, 0.1, 0.5, 1.0])
        if p == 0.0:
            self.features.add("dropout.p0")
        if p == 1.0:
            self.features.add("dropout.p1")
        if r < 0.6:
            return Layer("Dropout", (p,)), shape
        return Layer("Dropout", (), {"p": p}), shape

    def flatten(self, shape):
        self.features.add("flatten")
        if len(shape) == 1:
            self.features.add("flatten.flat")
        n = 1
        for d in shape:
            n *= d
        if self.rng.random() < 0.2:
            self.features.add("flatten.keywords")
            return Layer("Flatten", (), {"start_dim": 1, "end_dim": -1}), (n,)
        return Layer("Flatten"), (n,)

    def linear(self, shape):
        rng = self.rng
        out = rng.randint(1, 16)
        self.features.add("linear")
        if rng.random() < 0.25:
            self.features.add("linear.no_bias")
            return Layer("Linear", (shape[0], out), {"bias": False}), (out,)
        return Layer("Linear", (shape[0], out)), (out,)

    def step(self, shape):
        """One random layer that fits `shape`, and the shape after it."""
        rng = self.rng
        if len(shape) == 3:
            numel = shape[0] * shape[1] * shape[2]
            options = [("conv", 5), ("MaxPool2d", 2), ("MinPool2d", 1.5), ("AvgPool2d", 2), ("adaptive", 1),
                       ("bn", 2), ("act", 3), ("softmax", 0.7), ("dropout", 0.7)]
            if numel <= MAX_FLAT:
                options.append(("flatten", 2.5))
        else:
            options = [("linear", 4), ("act", 3), ("softmax", 1), ("dropout", 1), ("flatten", 0.3)]
        names, weights = zip(*options)
        for _ in range(50):
            what = rng.choices(names, weights)[0]
            drawn = {
                "conv": lambda: self.conv(shape),
                "MaxPool2d": lambda: self.pool(shape, "MaxPool2d"),
                "MinPool2d": lambda: self.pool(shape, "MinPool2d"),
                "AvgPool2d": lambda: self.pool(shape, "AvgPool2d"),
                "adaptive": lambda: self.adaptive(shape),
                "bn": lambda: self.batch_norm(shape),
                "act": lambda: self.activation(shape),
                "softmax": lambda: self.softmax(shape),
                "dropout": lambda: self.dropout(shape),
                "flatten": lambda: self.flatten(shape),
                "linear": lambda: self.linear(shape),
            }[what]()
            if drawn is not None:
                layer, out = drawn
                # Keep every tensor small.
                size = 1
                for dim in out:
                    size *= dim
                if size <= 1024:
                    return layer, out
        return None


def draw_arch(rng):
    d = Draw(rng)
    if rng.random() < 0.08:
        shape = (rng.randint(2, 24),)
        d.features.add("input.flat")
    else:
        shape = (rng.randint(1, 5), rng.randint(1, 12), rng.randint(1, 12))
    input_shape = shape
    depth = rng.choice([1, 10]) if rng.random() < 0.15 else rng.randint(2, 9)
    layers, shapes = [], [shape]
    for _ in range(depth):
        drawn = d.step(shape)
        if drawn is None:
            break
        layer, shape = drawn
        layers.append(layer)
        shapes.append(shape)
    if not layers:
        return None
    d.features.add(f"depth.{len(layers)}")
    # Names, keys and spellings.
    counts = {}
    sequential = rng.random() < 0.2
    for i, layer in enumerate(layers):
        base = {"Conv2d": "conv", "MaxPool2d": "maxpool", "MinPool2d": "minpool", "AvgPool2d": "avgpool",
                "AdaptiveAvgPool2d": "gap", "BatchNorm2d": "bn", "Linear": "fc", "Flatten": "flatten",
                "Dropout": "drop", "Softmax": "softmax"}.get(layer.kind, layer.kind.lower())
        counts[base] = counts.get(base, 0) + 1
        layer.name = f"{base}{counts[base]}"
        if sequential:
            layer.key = f"features.{i}" if len(shapes[i]) == 3 else f"classifier.{i}"
        layer.nn_prefix = rng.random() < 0.1
        layer.python_bools = rng.random() < 0.3
        if layer.nn_prefix:
            d.features.add("spelling.nn")
        if layer.python_bools and any(isinstance(v, bool) for v in list(layer.dsl_args) + list(layer.dsl_kwargs.values())):
            d.features.add("spelling.python_bools")
    if sequential:
        d.features.add("keys.sequential")
    return input_shape, layers, shapes, d.features


# --------------------------------------------------------------------------
# PyTorch
# --------------------------------------------------------------------------


def randomise(model, gen):
    """Random parameters (unit variance through each layer) and running statistics."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()
                bound = math.sqrt(3.0 / fan_in)
                module.weight.copy_(torch.empty_like(module.weight).uniform_(-bound, bound, generator=gen))
                if module.bias is not None:
                    module.bias.copy_(torch.empty_like(module.bias).uniform_(-0.5, 0.5, generator=gen))
            elif isinstance(module, nn.BatchNorm2d):
                c = module.num_features
                if module.affine:
                    module.weight.copy_(torch.randn(c, generator=gen) * 0.6 + 0.8)
                    module.bias.copy_(torch.randn(c, generator=gen) * 0.5)
                module.running_mean.copy_(torch.randn(c, generator=gen) * 0.5)
                module.running_var.copy_(torch.empty(c).uniform_(0.05, 2.0, generator=gen))
                module.num_batches_tracked.fill_(100)


def run(name, input_shape, layers, shapes, gen):
    """Builds and runs the chain. Returns (weights, io, scale, rel64) or a reason to redraw."""
    model = Chain(layers).float().eval()
    randomise(model, gen)
    scale = [1.0, 2.0, 3.0][torch.randint(0, 3, (1,), generator=gen).item()]
    shift = (torch.rand(1, generator=gen).item() - 0.5) * 2.0
    x = torch.randn((1,) + tuple(input_shape), generator=gen) * scale + shift
    with torch.no_grad():
        trace = []
        y = model(x.clone(), trace)
        double = copy.deepcopy(model).double().eval()
        y64 = double(x.clone().double())
    predicted = [tuple(s) for s in shapes[1:]]
    if trace != predicted:
        sys.exit(f"{name}: shapes by the product's rule {predicted} != PyTorch's {trace}")
    out_scale = y.abs().max().item()
    if not math.isfinite(out_scale):
        return "non-finite output"
    err64 = (y.double() - y64).abs().max().item()
    rel64 = err64 / out_scale if out_scale > 0 else 0.0
    if rel64 > 1e-6:
        return f"float32 vs float64 {rel64:.1e}"
    if out_scale < 1e-6:
        return "output is all zero"
    weights = safetensors_bytes(model.state_dict())
    io = safetensors_bytes({"input": x[0].contiguous(), "output": y[0].contiguous()})
    return weights, io, out_scale, rel64


# --------------------------------------------------------------------------
# tests/random_archs.rs
# --------------------------------------------------------------------------

RS_HEADER = """\
//! Random architectures against PyTorch.
//!
//! GENERATED by `python3 scripts/gen_random_archs.py` (run from the repository
//! root); do not edit by hand. The fixtures in tests/fixtures/random/ are
//! committed, so running this test needs no Python.
//!
//! Each module below declares one randomly drawn architecture in the
//! `cnn_model!` DSL (every layer kind and option, 1 to 10 layers), loads the
//! PyTorch `state_dict` from `<name>.weights.safetensors`, runs the `input` of
//! `<name>.io.safetensors` and compares with PyTorch's `output` there, with the
//! golden tests' tolerance (`common::assert_close`). The one test runs every
//! architecture, reports every one that fails, and prints the worst relative
//! error seen (max |ours - PyTorch| / max |PyTorch| over an output).

mod common;

use cnn_runtime::{cnn_model, Model};

/// The largest `max |got - want|` over `max |want|` of any architecture.
fn relative_error(got: &[f32], want: &[f32]) -> f32 {
    let scale = want.iter().fold(0.0f32, |m, w| m.max(w.abs()));
    let err = got.iter().zip(want).fold(0.0f32, |m, (g, w)| m.max((g - w).abs()));
    if scale > 0.0 {
        err / scale
    } else {
        err
    }
}

/// Loads, runs and compares one architecture; returns its relative error.
fn check<M: Model>(case: &str, weights: &[u8], io: &[u8]) -> Result<f32, String> {
    let run = || {
        let model = common::ok(case, M::from_safetensors(weights));
        let io = common::read_io(case, io);
        common::assert_shapes(case, M::INPUT_SHAPE, M::OUTPUT_SHAPE, &io);
        let mut output = vec![0.0f32; M::OUTPUT_LEN];
        common::ok(case, model.forward_slice(&io.input.values, &mut output));
        let error = relative_error(&output, &io.output.values);
        common::assert_close(case, &output, &io.output.values);
        error
    };
    std::panic::catch_unwind(run).map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| format!("{case}: panicked"))
    })
}

/// `arch! { name, layers... }`: a module with the architecture as `Net` and
/// `run()`, which checks it against its fixtures.
macro_rules! arch {
    ($name:ident, $($layers:tt)*) => {
        mod $name {
            use super::*;

            cnn_model! {
                pub struct Net {
                    $($layers)*
                }
            }

            pub fn run() -> Result<f32, String> {
                let case = stringify!($name);
                let weights = include_bytes!(concat!("fixtures/random/", stringify!($name), ".weights.safetensors"));
                let io = include_bytes!(concat!("fixtures/random/", stringify!($name), ".io.safetensors"));
                check::<Net>(case, weights, io)
            }
        }
    };
}
"""

RS_TEST = """
#[test]
fn random_architectures_match_pytorch() {
    let mut worst = (0.0f32, "");
    let mut failures = Vec::new();
    for (name, run) in ARCHS {
        match run() {
            Ok(error) if error > worst.0 => worst = (error, name),
            Ok(_) => {}
            Err(message) => failures.push(message),
        }
    }
    println!(
        "{} random architectures; worst relative error {:e} ({})",
        ARCHS.len(),
        worst.0,
        worst.1
    );
    assert!(ARCHS.len() >= 100, "only {} architectures", ARCHS.len());
    assert!(
        failures.is_empty(),
        "{} of {} architectures disagree with PyTorch:\\n{}",
        failures.len(),
        ARCHS.len(),
        failures.join("\\n")
    );
}
"""


def rust_arch(name, input_shape, layers, shapes):
    lines = ["", f"// {' -> '.join('x'.join(map(str, s)) for s in shapes)}", f"arch! {{ {name},"]
    lines.append(f"    input: [{', '.join(map(str, input_shape))}],")
    lines += [f"    {layer.dsl()}" for layer in layers]
    lines.append("}")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if a committed file differs")
    args = parser.parse_args()

    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", message="Using padding='same' with even kernel")

    rng = random.Random(SEED)
    gen = torch.Generator().manual_seed(SEED)
    archs, covered, redrawn = [], set(), {}
    while len(archs) < COUNT or not FEATURES <= covered:
        if len(archs) >= 400:
            sys.exit(f"features never drawn: {sorted(FEATURES - covered)}")
        drawn = draw_arch(rng)
        if drawn is None:
            continue
        input_shape, layers, shapes, features = drawn
        if len(archs) >= COUNT and not (features & (FEATURES - covered)):
            continue  # past COUNT, only architectures that add coverage
        name = f"arch_{len(archs):03d}"
        result = run(name, input_shape, layers, shapes, gen)
        if isinstance(result, str):
            redrawn[result.split()[0]] = redrawn.get(result.split()[0], 0) + 1
            continue
        weights, io, scale, rel64 = result
        archs.append((name, input_shape, layers, shapes, weights, io, scale, rel64))
        covered |= features
    unknown = covered - FEATURES - {f"depth.{i}" for i in range(11)}
    assert not unknown, unknown

    outputs = {}
    rust = [RS_HEADER]
    for name, input_shape, layers, shapes, weights, io, scale, rel64 in archs:
        outputs[os.path.join(FIXTURES, f"{name}.weights.safetensors")] = weights
        outputs[os.path.join(FIXTURES, f"{name}.io.safetensors")] = io
        rust.append(rust_arch(name, input_shape, layers, shapes))
    rust.append("\n/// Checks one architecture; returns its relative error or why it failed.\n")
    rust.append("type Run = fn() -> Result<f32, String>;\n")
    rust.append("\n/// Every architecture above and its check.\n")
    rust.append("const ARCHS: &[(&str, Run)] = &[\n")
    rust += [f'    ("{a[0]}", {a[0]}::run),\n' for a in archs]
    rust.append("];\n")
    rust.append(RS_TEST)
    outputs[TEST_RS] = "".join(rust).encode()

    total = sum(len(d) for p, d in outputs.items() if p.startswith(FIXTURES))
    worst64 = max(a[7] for a in archs)
    depths = [len(a[2]) for a in archs]
    summary = (f"{len(archs)} architectures, depth {min(depths)}-{max(depths)} (mean {sum(depths) / len(depths):.1f}), "
               f"{total} bytes of fixtures, PyTorch float32-vs-float64 worst {worst64:.1e}, redrawn {redrawn}")
    if args.check:
        stale = [p for p, data in outputs.items() if not os.path.exists(p) or open(p, "rb").read() != data]
        if stale:
            sys.exit("out of date (rerun scripts/gen_random_archs.py):\n  " + "\n  ".join(os.path.relpath(p, ROOT) for p in stale))
        print(f"all {len(outputs)} files up to date; {summary}")
        return
    os.makedirs(FIXTURES, exist_ok=True)
    expected = {os.path.basename(p) for p in outputs if p.startswith(FIXTURES)}
    for old in os.listdir(FIXTURES):
        if old.endswith(".safetensors") and old not in expected:
            os.remove(os.path.join(FIXTURES, old))
    for path, data in outputs.items():
        with open(path, "wb") as f:
            f.write(data)
    print(f"wrote {summary}")


if __name__ == "__main__":
    main()

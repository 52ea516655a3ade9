#!/usr/bin/env python3
"""Reference models for the benchmark in bench/ (cnn_model! vs onnxruntime vs tract).

For each benchmarked description under models/ this builds the same network in
PyTorch, straight from the TOML file, so the layer names (and hence the
state_dict keys, e.g. `conv1_1.weight`) are the ones the macro loads. Weights are
PyTorch's default initialisation under a fixed seed. It writes, under
bench/models/:

- `<name>.safetensors`    the state_dict (`safetensors.torch.save_file`), read by
                          the generated Rust model;
- `<name>.onnx`           the same network exported to ONNX (opset 17, batch 1,
                          static shapes), read by onnxruntime and tract;
- `<name>.io.safetensors` one seeded input (`input`, [1, C, H, W]) and PyTorch's
                          output for it (`output`, [1, N]): every engine must
                          reproduce it before it is timed.

The files are regenerated on every run (bit-identical for a given PyTorch
version) and are not committed. Usage, from the repository root:

    python3 scripts/export_onnx.py && cargo run --release --manifest-path bench/Cargo.toml
"""

import argparse
import pathlib
import tomllib
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
from safetensors.torch import save_file
from torch import nn

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODELS = ["lenet5", "cifar_vgg", "mobilenet_block"]
OPSET = 17

# Keys of a TOML layer that are ours, not PyTorch's keyword arguments.
OWN_KEYS = {"name", "kind", "args", "key"}


def build_layer(layer: dict) -> nn.Module:
    kind = layer["kind"].removeprefix("nn.")
    args = layer.get("args", [])
    kwargs = {k: v for k, v in layer.items() if k not in OWN_KEYS}
    # `rounding = "floor"` accepts PyTorch's own (flooring) output size: nothing
    # to pass on.
    if kwargs.pop("rounding", "floor") != "floor":
        raise ValueError(f"{layer['name']}: only rounding = \"floor\" is PyTorch's behaviour")
    if kind in ("ReLU", "Flatten") and (args or kwargs):
        raise ValueError(f"{layer['name']}: unexpected arguments")
    constructors = {
        "Conv2d": nn.Conv2d,
        "Linear": nn.Linear,
        "MaxPool2d": nn.MaxPool2d,
        "AvgPool2d": nn.AvgPool2d,
        "AdaptiveAvgPool2d": nn.AdaptiveAvgPool2d,
        "BatchNorm2d": nn.BatchNorm2d,
        "ReLU": nn.ReLU,
        "ReLU6": nn.ReLU6,
        "Sigmoid": nn.Sigmoid,
        "Tanh": nn.Tanh,
        "Dropout": nn.Dropout,
    }
    if kind == "Flatten":
        return nn.Flatten()  # start_dim = 1: keeps the batch dimension
    if kind not in constructors:
        raise ValueError(f"{layer['name']}: layer kind {kind} is not supported by this script")
    return constructors[kind](*args, **kwargs)


class FromToml(nn.Module):
    """The layers of a models/*.toml description, as attributes named like the TOML
    layers (so `state_dict` keys match), applied in order."""

    def __init__(self, description: dict):
        super().__init__()
        self.order = []
        for layer in description["layers"]:
            if "key" in layer:
                raise ValueError(f"{layer['name']}: explicit `key` is not supported by this script")
            setattr(self, layer["name"], build_layer(layer))
            self.order.append(layer["name"])

    def forward(self, x):
        for name in self.order:
            x = getattr(self, name)(x)
        return x


def export(name: str, out_dir: pathlib.Path, seed: int) -> None:
    description = tomllib.loads((ROOT / "models" / f"{name}.toml").read_text())
    torch.manual_seed(seed)
    model = FromToml(description).eval()
    x = torch.randn(1, *description["input"])
    with torch.no_grad():
        y = model(x)

    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out_dir / f"{name}.safetensors"))
    save_file({"input": x.contiguous(), "output": y.contiguous()}, str(out_dir / f"{name}.io.safetensors"))

    onnx_path = out_dir / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The TorchScript exporter writes a plain, self-contained graph (weights
        # inline, static shapes) that both onnxruntime and tract read.
        torch.onnx.export(
            model,
            (x,),
            str(onnx_path),
            input_names=["input"],
            output_names=["output"],
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    graph = onnx.load(str(onnx_path))
    onnx.checker.check_model(graph)

    # Check the export here already, so a bad graph is reported at its source.
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"input": x.numpy()})
    scale = float(np.abs(y.numpy()).max())
    err = float(np.abs(got - y.numpy()).max())
    if err > 1e-4 * scale:
        raise SystemExit(f"{name}: onnxruntime differs from PyTorch by {err:.3e} (scale {scale:.3e})")
    params = sum(p.numel() for p in model.parameters())
    ops = sorted({node.op_type for node in graph.graph.node})
    print(
        f"{name:16} {params:>9,} params  input {list(x.shape)}  output {list(y.shape)}  "
        f"onnx ops {','.join(ops)}  ort max|err| {err:.1e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "bench" / "models")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    for name in MODELS:
        export(name, args.out, args.seed)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Convert PyTorch state_dicts to safetensors files that libdh reads by tensor name.

Backbones (dh_model_load_backbone, Model.load_backbone in Python):

    torch2safetensors.py resnet18 out.safetensors [--weights resnet18-f37072fd.pth]
    torch2safetensors.py alexnet out.safetensors --weights alexnet-owt-7be5be79.pth

Whole trained hashing models, backbone + hash layer (+ head BN) (dh_model_load_weights,
Model.load_weights, `dh import`):

    torch2safetensors.py model trained.pth out.safetensors --preset deephash-resnet
    torch2safetensors.py model trained.pth out.safetensors --preset orthohash
    torch2safetensors.py model trained.pth out.safetensors --map hash_fc.=head. --drop aux.

Presets rename keys by prefix (first matching rule wins; --map rules come first):
  hash-layer        hash_layer.0. / hash_layer.  -> head.   (any backbone with torchvision names)
  deephash-resnet   DeepHash-pytorch ResNet: feature_layers.{0,1,4,5,6,7}. -> conv1. bn1.
                    layer1-4., hash_layer. -> head.
  deephash-alexnet  DeepHash-pytorch AlexNet: features. kept, hash_layer.{1,4}. ->
                    classifier.{1,4}., hash_layer.6. -> head.
  orthohash         OrthoHash: backbone. stripped, hash_fc.0. -> head., hash_fc.1. ->
                    head.bn., ce_fc. dropped; the linear bias is folded into the BN's
                    running_mean (libdh's BN head has no linear bias: BN(Wx+b) = BN'(Wx)
                    with running_mean' = running_mean - b, exact in eval mode).

Without --weights the model is a freshly constructed torchvision model (random
initialisation), so the script works offline and in tests. Keys keep their original
names (conv1.weight, bn1.running_mean, layer1.0.conv1.weight, features.0.weight,
classifier.1.weight, fc.weight, ...); a "module." prefix from DataParallel
checkpoints is removed. Floating tensors are written as F32 (converted from
F16/F64), integer counters (num_batches_tracked) as I64. Needs torch and numpy;
torchvision only when it is installed (else the architectures are built here).
"""
import argparse
import json
import struct
import sys

import numpy as np


def build(arch):
    import torch
    try:
        import torchvision.models as tvm
        return getattr(tvm, arch)()
    except ImportError:
        pass
    nn = torch.nn
    if arch == "alexnet":  # torchvision's layout, so the keys match
        class AlexNet(nn.Module):
            def __init__(self):
                super().__init__()
                self.features = nn.Sequential(
                    nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(True), nn.MaxPool2d(3, 2),
                    nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(True), nn.MaxPool2d(3, 2),
                    nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(True),
                    nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(True),
                    nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(True), nn.MaxPool2d(3, 2))
                self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
                self.classifier = nn.Sequential(
                    nn.Dropout(), nn.Linear(9216, 4096), nn.ReLU(True), nn.Dropout(),
                    nn.Linear(4096, 4096), nn.ReLU(True), nn.Linear(4096, 1000))
        return AlexNet()
    if arch == "resnet18":
        class Block(nn.Module):
            def __init__(self, cin, cout, stride):
                super().__init__()
                self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
                self.bn1 = nn.BatchNorm2d(cout)
                self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
                self.bn2 = nn.BatchNorm2d(cout)
                if stride != 1 or cin != cout:
                    self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                                    nn.BatchNorm2d(cout))

        class ResNet18(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
                self.bn1 = nn.BatchNorm2d(64)
                widths = [(64, 64, 1), (64, 128, 2), (128, 256, 2), (256, 512, 2)]
                for i, (cin, cout, s) in enumerate(widths, 1):
                    setattr(self, f"layer{i}", nn.Sequential(Block(cin, cout, s),
                                                             Block(cout, cout, 1)))
                self.fc = nn.Linear(512, 1000)
        return ResNet18()
    raise SystemExit(f"unknown architecture {arch!r} (resnet18 or alexnet)")


def to_numpy(t):
    a = t.detach().cpu().numpy()
    if a.dtype.kind == "f":
        return np.array(a, dtype="<f4", order="C"), "F32"  # keeps 0-d scalars 0-d
    if a.dtype.kind in "iu":
        return np.array(a, dtype="<i8", order="C"), "I64"
    raise SystemExit(f"unsupported tensor dtype {a.dtype}")


def write(path, state, metadata):
    header, blobs, off = {"__metadata__": metadata}, [], 0
    for name, tensor in state.items():
        a, dtype = to_numpy(tensor)
        b = a.tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


PRESETS = {
    "none": [],
    "hash-layer": [("hash_layer.0.", "head."), ("hash_layer.", "head.")],
    "deephash-resnet": [("feature_layers.0.", "conv1."), ("feature_layers.1.", "bn1."),
                        ("feature_layers.4.", "layer1."), ("feature_layers.5.", "layer2."),
                        ("feature_layers.6.", "layer3."), ("feature_layers.7.", "layer4."),
                        ("hash_layer.0.", "head."), ("hash_layer.", "head.")],
    "deephash-alexnet": [("features.", "features."), ("hash_layer.1.", "classifier.1."),
                         ("hash_layer.4.", "classifier.4."), ("hash_layer.6.", "head.")],
    "orthohash": [("backbone.", ""), ("hash_fc.0.", "head."), ("hash_fc.1.", "head.bn.")],
}
DROPS = {"orthohash": ["ce_fc."]}


def convert_model(state, preset="none", maps=(), drops=()):
    """Rename a hashing model's state_dict into libdh's names (see the module doc)."""
    rules = [tuple(m.split("=", 1)) for m in maps] + PRESETS[preset]
    drops = list(drops) + DROPS.get(preset, [])
    out = {}
    for k, v in state.items():
        k = k[len("module."):] if k.startswith("module.") else k
        if any(k.startswith(d) for d in drops):
            continue
        for old, new in rules:
            if k.startswith(old):
                k = new + k[len(old):]
                break
        if k in out:
            raise SystemExit(f"two tensors map to {k!r}; refine --map")
        out[k] = v
    if "head.bn.running_mean" in out and "head.bias" in out:  # fold the linear bias into BN
        out["head.bn.running_mean"] = out["head.bn.running_mean"] - out.pop("head.bias")
    return out


def main_model(argv):
    ap = argparse.ArgumentParser(prog="torch2safetensors.py model",
                                 description="convert a trained hashing model's state_dict")
    ap.add_argument("weights", help=".pth state_dict (or a checkpoint with 'state_dict')")
    ap.add_argument("out")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="hash-layer")
    ap.add_argument("--map", action="append", default=[], metavar="OLD=NEW",
                    help="rename keys starting with OLD (tried before the preset's rules)")
    ap.add_argument("--drop", action="append", default=[], metavar="PREFIX",
                    help="leave out keys starting with PREFIX")
    args = ap.parse_args(argv)
    for m in args.map:
        if "=" not in m:
            raise SystemExit(f"--map {m!r}: expected OLD=NEW")
    import torch
    state = torch.load(args.weights, map_location="cpu")
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    out = convert_model(state, args.preset, args.map, args.drop)
    write(args.out, out, {"source": args.weights, "preset": args.preset})
    print(f"{args.out}: {len(out)} tensors", file=sys.stderr)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["model"]:
        return main_model(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("arch", choices=["resnet18", "alexnet"])
    ap.add_argument("out")
    ap.add_argument("--weights", help=".pth state_dict (default: fresh random model)")
    args = ap.parse_args(argv)
    import torch
    if args.weights:
        state = torch.load(args.weights, map_location="cpu")
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
    else:
        state = build(args.arch).state_dict()
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    write(args.out, state, {"source": args.weights or f"torchvision.models.{args.arch}() random",
                            "arch": args.arch})
    print(f"{args.out}: {len(state)} tensors", file=sys.stderr)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""libdh encoders against PyTorch on the CPU, in one process, same thread count.

    DH_LIBRARY=build/libdh.so PYTHONPATH=bindings/python \\
        /usr/bin/python3 bench/bench_encoder.py [--threads 2] [--repeat 5] [--cases smallcnn,...]

For each case, inference (forward, eval mode) and training (forward with batch
statistics + backward) images/s are measured alternating libdh and torch runs, and
the median of each side is compared. Prints `ratio_vs_torch <x>` (libdh / torch, >1
means libdh is faster) per case and mode.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bindings",
                                "python"))
import dh  # noqa: E402


class SmallCNN(nn.Module):
    def __init__(self, c, hw):
        super().__init__()
        self.conv1 = nn.Conv2d(c, 32, 5, padding=2, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc = nn.Linear(64 * (hw // 4) ** 2, 512, bias=False)
        self.bn3 = nn.BatchNorm1d(512)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return F.relu(self.bn3(self.fc(torch.flatten(x, 1))))


class Block(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.down = None
        if stride != 1 or cin != planes:
            self.down = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False),
                                      nn.BatchNorm2d(planes))

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (self.down(x) if self.down is not None else x))


class ResNet18(nn.Module):
    """torchvision's resnet18 trunk (no fc), or the CIFAR variant (3x3 stem, no pool)."""

    def __init__(self, cifar):
        super().__init__()
        self.cifar = cifar
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False) if cifar else \
            nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        layers, cin = [], 64
        for i, planes in enumerate([64, 128, 256, 512]):
            for b in range(2):
                layers.append(Block(cin, planes, 2 if (i > 0 and b == 0) else 1))
                cin = planes
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        if not self.cifar:
            x = F.max_pool2d(x, 3, 2, 1)
        return torch.flatten(F.adaptive_avg_pool2d(self.layers(x), 1), 1)


CASES = {
    "smallcnn": ("smallcnn", (1, 28, 28), 128, lambda: SmallCNN(1, 28)),
    "resnet18-cifar": ("resnet18-cifar", (3, 32, 32), 64, lambda: ResNet18(True)),
    "resnet18": ("resnet18", (3, 224, 224), 8, lambda: ResNet18(False)),
}


def run_dh(enc, x, train):
    if train:
        f = enc.forward(x, training=True)
        enc.backward(np.ones_like(f))
    else:
        enc.forward(x)


def run_torch(model, xt, train):
    if train:
        model.train()
        model.zero_grad(set_to_none=True)
        model(xt).sum().backward()
    else:
        model.eval()
        with torch.no_grad():
            model(xt)


def timed(fn, iters):
    t = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - t) / iters


def bench_case(name, repeat, iters):
    spec, shape, batch, make = CASES[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch,) + shape).astype(np.float32)
    xt = torch.from_numpy(x.copy())
    enc = dh.Encoder(spec, seed=1)
    model = make()
    for train in (False, True):
        mode = "train" if train else "infer"
        for _ in range(2):  # warm-up: primitive creation, JIT, allocator
            run_dh(enc, x, train)
            run_torch(model, xt, train)
        a, b = [], []
        for _ in range(repeat):  # alternate sides so load changes hit both
            a.append(timed(lambda: run_dh(enc, x, train), iters))
            b.append(timed(lambda: run_torch(model, xt, train), iters))
        ta, tb = statistics.median(a), statistics.median(b)
        print(f"{name:15s} batch {batch:4d} {mode}: libdh {batch / ta:8.1f} img/s  "
              f"torch {batch / tb:8.1f} img/s  ratio_vs_torch {tb / ta:.2f}", flush=True)
    enc.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--iters", type=int, default=2)
    ap.add_argument("--cases", default=",".join(CASES))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dh.set_num_threads(args.threads)
    print(f"threads {args.threads}, torch {torch.__version__}, libdh {dh.version()}, "
          f"mkldnn {torch.backends.mkldnn.is_available()}", flush=True)
    for name in args.cases.split(","):
        if name not in CASES:
            sys.exit(f"unknown case {name!r}; known: {', '.join(CASES)}")
        bench_case(name, args.repeat, args.iters)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""libdh encoders against PyTorch on the CPU, in one process, same thread count.

    DH_LIBRARY=build/libdh.so PYTHONPATH=bindings/python \\
        /usr/bin/python3 bench/bench_encoder.py [--threads 1,2] [--repeat 7] \\
        [--cases smallcnn,resnet18-cifar,resnet18] [--modes train,infer] [--batches 64,128] \\
        [--rss | --no-rss] [--stat best|median]

The default run is the issue's list: smallcnn (1x28x28) and resnet18-cifar (3x32x32)
training steps at batch 64 and 128 and inference at batch 256, with 1 and 2 threads;
resnet18 (3x224x224) inference at batch 16; and the peak memory (RSS) of a
resnet18-cifar training step at batch 128, each side in its own subprocess.

A training step is, on both sides: zero the gradients, forward with batch statistics,
backward of sum(features) (a ones gradient), and an SGD step with momentum 0.9. The
libdh side is a dh_model (the encoder plus a 64-bit tanh head, whose parameters the
optimizer also steps with zero gradients: ~33k extra parameters, under 2% of smallcnn's)
driven through the encoder's and optimizer's C API. Inference is a forward in eval mode
(torch: eval() and no_grad()).

Timings alternate sides (libdh, torch, libdh, ...) so that load changes on a shared
machine hit both; each side's best (default) or median of --repeat runs of --iters
steps is compared. Every line ends with `ratio_vs_torch <x>` (libdh images/s over
torch images/s; > 1 means libdh is faster) and shows the 1-minute load average
measured at its end.
"""
import argparse
import ctypes
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bindings", "python"))
import dh  # noqa: E402
from dh._lib import c_f32_p, fn  # noqa: E402

# spec, input shape, default (train batches, infer batches)
CASES = {
    "smallcnn": ("smallcnn", (1, 28, 28), ((64, 128), (256,))),
    "resnet18-cifar": ("resnet18-cifar", (3, 32, 32), ((64, 128), (256,))),
    "resnet18": ("resnet18", (3, 224, 224), ((), (16,))),
}

_vp = ctypes.c_void_p
_model_encoder = fn("dh_model_encoder", [_vp], _vp)
_enc_forward = fn("dh_encoder_forward", [_vp, c_f32_p, ctypes.c_size_t, ctypes.c_int32, c_f32_p])
_enc_backward = fn("dh_encoder_backward", [_vp, c_f32_p, c_f32_p])
_enc_dim = fn("dh_encoder_feature_dim", [_vp], ctypes.c_size_t)


def fptr(a):
    return a.ctypes.data_as(c_f32_p)


# ---- torch models (imported lazily: the libdh memory worker never loads torch) ----

def torch_model(name):
    import torch.nn as nn
    import torch.nn.functional as F
    import torch

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

    if name == "smallcnn":
        return SmallCNN(1, 28)
    return ResNet18(name == "resnet18-cifar")


# ---- the two sides: a prepared step function per (mode, batch) ----

class DhSide:
    def __init__(self, name):
        spec, shape, _ = CASES[name]
        self.model = dh.Model.create(encoder=spec, n_bits=64, head="tanh", input_shape=shape,
                                     seed=1)
        self.enc = _model_encoder(self.model._h)
        self.dim = int(_enc_dim(self.enc))
        self.opt = dh.Optimizer("sgd", lr=0.01, momentum=0.9)
        self.opt.add_model(self.model)

    def step_fn(self, x, train):
        n = x.shape[0]
        out = np.empty((n, self.dim), np.float32)
        ones = np.ones((n, self.dim), np.float32)
        xp, op, gp = fptr(x), fptr(out), fptr(ones)
        enc, opt = self.enc, self.opt
        if not train:
            return lambda: _enc_forward(enc, xp, n, 0, op)

        def step():
            opt.zero_grad()
            _enc_forward(enc, xp, n, 1, op)
            _enc_backward(enc, gp, None)
            opt.step()
        return step


class TorchSide:
    def __init__(self, name):
        import torch
        self.torch = torch
        self.model = torch_model(name)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)

    def step_fn(self, x, train):
        torch, model, opt = self.torch, self.model, self.opt
        xt = torch.from_numpy(x.copy())
        if not train:
            def infer():
                with torch.no_grad():
                    model(xt)
            return infer

        def step():
            opt.zero_grad(set_to_none=True)
            model(xt).sum().backward()
            opt.step()
        return step

    def set_mode(self, train):
        self.model.train(train)


def timed(f, iters):
    t = time.perf_counter()
    for _ in range(iters):
        f()
    return (time.perf_counter() - t) / iters


def bench_one(name, dside, tside, train, batch, threads, args):
    import torch
    shape = CASES[name][1]
    torch.set_num_threads(threads)
    dh.set_num_threads(threads)
    x = np.random.default_rng(0).standard_normal((batch,) + shape).astype(np.float32)
    fd, ft = dside.step_fn(x, train), tside.step_fn(x, train)
    tside.set_mode(train)
    for _ in range(2):  # warm-up: plans, primitive creation, JIT, allocators
        fd()
        ft()
    # steps per timed run: about 0.3 s of the slower side, 1..20
    iters = args.iters or max(1, min(20, int(0.3 / max(timed(fd, 1), timed(ft, 1)))))
    a, b = [], []
    for _ in range(args.repeat):
        a.append(timed(fd, iters))
        b.append(timed(ft, iters))
    agg = min if args.stat == "best" else statistics.median
    ta, tb = agg(a), agg(b)
    mode = "train" if train else "infer"
    shp = "x".join(map(str, shape))
    print(f"{name:14s} {shp:9s} {mode} batch {batch:3d} threads {threads}: "
          f"libdh {batch / ta:8.1f} img/s  torch {batch / tb:8.1f} img/s  "
          f"load {os.getloadavg()[0]:4.2f}  ratio_vs_torch {tb / ta:.2f}", flush=True)
    return tb / ta


# ---- peak memory: each side alone in a fresh interpreter ----

def peak_rss_kib():
    """This process's peak RSS. VmHWM belongs to the address space, so it starts afresh
    at exec; getrusage's ru_maxrss would carry over the benchmark parent's peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def rss_worker(side, name, batch, threads, steps):
    base = peak_rss_kib()
    shape = CASES[name][1]
    x = np.random.default_rng(0).standard_normal((batch,) + shape).astype(np.float32)
    if side == "dh":
        dh.set_num_threads(threads)
        s = DhSide(name)
    else:
        import torch
        torch.set_num_threads(threads)
        base = peak_rss_kib()  # after torch's import
        s = TorchSide(name)
        s.set_mode(True)
    f = s.step_fn(x, True)
    for _ in range(steps):
        f()
    peak = peak_rss_kib()
    print(json.dumps({"base_kib": base, "peak_kib": peak}))


def bench_rss(name, batch, threads, steps):
    res = {}
    for side in ("dh", "torch"):
        cmd = [sys.executable, os.path.abspath(__file__), "--rss-worker", side, "--cases", name,
               "--batches", str(batch), "--threads", str(threads), "--iters", str(steps)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        res[side] = json.loads(out.strip().splitlines()[-1])
    d, t = res["dh"], res["torch"]
    print(f"{name:14s} train batch {batch} threads {threads} peak RSS: "
          f"libdh {d['peak_kib'] / 1024:7.1f} MiB (+{(d['peak_kib'] - d['base_kib']) / 1024:.1f} "
          f"over the interpreter)  torch {t['peak_kib'] / 1024:7.1f} MiB "
          f"(+{(t['peak_kib'] - t['base_kib']) / 1024:.1f} over the interpreter with torch "
          f"loaded)  ratio {(d['peak_kib'] - d['base_kib']) / (t['peak_kib'] - t['base_kib']):.2f}",
          flush=True)


def parse_ints(s):
    return tuple(int(v) for v in s.split(",") if v) if s else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--repeat", type=int, default=7, help="timed runs per side (alternating)")
    ap.add_argument("--iters", type=int, default=0,
                    help="steps per timed run (0: about 0.3 s of the slower side, 1..20)")
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--modes", default="train,infer")
    ap.add_argument("--batches", default="", help="override every case's batch sizes")
    ap.add_argument("--stat", choices=("best", "median"), default="best")
    ap.add_argument("--rss", dest="rss", action="store_true", default=None,
                    help="measure peak RSS (default: only when resnet18-cifar training runs)")
    ap.add_argument("--no-rss", dest="rss", action="store_false")
    ap.add_argument("--rss-worker", choices=("dh", "torch"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    names = [c for c in args.cases.split(",") if c]
    for name in names:
        if name not in CASES:
            sys.exit(f"unknown case {name!r}; known: {', '.join(CASES)}")
    threads = parse_ints(args.threads)
    batches = parse_ints(args.batches)
    if args.rss_worker:
        rss_worker(args.rss_worker, names[0], batches[0] if batches else 128, threads[0],
                   args.iters or 3)
        return
    import torch
    modes = [m for m in args.modes.split(",") if m]
    print(f"torch {torch.__version__} (mkldnn {torch.backends.mkldnn.is_available()}), "
          f"libdh {dh.version()}, {os.cpu_count()} CPUs, stat {args.stat} of {args.repeat}",
          flush=True)
    for name in names:
        dside, tside = DhSide(name), TorchSide(name)
        for mode in ("train", "infer"):
            if mode not in modes:
                continue
            sizes = batches or CASES[name][2][0 if mode == "train" else 1]
            for nthr in threads:
                for batch in sizes:
                    bench_one(name, dside, tside, mode == "train", batch, nthr, args)
        del dside, tside
    want_rss = args.rss if args.rss is not None else ("resnet18-cifar" in names and
                                                      "train" in modes)
    if want_rss:
        bench_rss("resnet18-cifar", 128, max(threads), 3)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Generate the golden vectors of libdh's neural engine with PyTorch.

    /usr/bin/python3 tests/golden/gen_nn_golden.py [outdir]   (default tests/golden/nn)

Only needed to regenerate; the tests read the stored files. Every tensor a case
needs (inputs, parameters, upstream gradients) comes from a counter-based hash
that tests/check_nn_golden.c recomputes (fill()), so large networks need not store
their 11M parameters: only results are stored. File format (little-endian):

    "DHGV0001"  u32 count, then per tensor:
    u16 name_len, name (utf-8), u8 ndim, ndim x i64 dims, prod(dims) x f32

Results of a network's parameter gradients are stored as summaries per tensor
([sum, sum of squares, sum of |g|, g[0], g[n/3], g[n/2], g[n-1]]) under
"sum:<name>", and in full under "grad:<name>" for tensors of at most 40,000 values.
"""
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

M32 = 0xFFFFFFFF


def fnv1a(name):
    h = 0x811C9DC5
    for b in name.encode():
        h = ((h ^ b) * 0x01000193) & M32
    return h


def uniform(name, n):
    """u in [0,1): fmix32(fnv1a(name) ^ (i * 0x9E3779B1)) / 2^32, as in check_nn_golden.c."""
    i = np.arange(n, dtype=np.uint64)
    x = (np.uint64(fnv1a(name)) ^ ((i * np.uint64(0x9E3779B1)) & np.uint64(M32))) & np.uint64(M32)
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x85EBCA6B)) & np.uint64(M32)
    x ^= x >> np.uint64(13)
    x = (x * np.uint64(0xC2B2AE35)) & np.uint64(M32)
    x ^= x >> np.uint64(16)
    return x.astype(np.float64) / 4294967296.0


def fill(name, shape):
    """The value rule shared with the C test, keyed by the tensor's name."""
    n = int(np.prod(shape)) if len(shape) else 1
    u = uniform(name, n)
    if name.endswith("running_var"):
        v = 1.0 + 0.5 * u
    elif name.endswith("running_mean") or name.endswith("bias"):
        v = 0.1 * (2 * u - 1)
    elif name.endswith("num_batches_tracked"):
        v = np.zeros(n)
    elif name.endswith("weight") and len(shape) == 1:  # batch-norm scale
        v = 1.0 + 0.1 * (2 * u - 1)
    elif name.endswith("weight"):
        v = (2 * u - 1) / np.sqrt(n / shape[0])
    else:  # inputs, upstream gradients
        v = 2 * u - 1
    return v.astype(np.float32).reshape(shape)


def fill_module(m):
    with torch.no_grad():
        for k, t in m.state_dict().items():
            if t.dtype.is_floating_point:
                t.copy_(torch.from_numpy(fill(k, tuple(t.shape))))


def write(path, tensors):
    with open(path, "wb") as f:
        f.write(b"DHGV0001")
        f.write(struct.pack("<I", len(tensors)))
        for name, a in tensors:
            a = np.ascontiguousarray(np.asarray(a, dtype=np.float32))
            nb = name.encode()
            f.write(struct.pack("<H", len(nb)) + nb + struct.pack("<B", a.ndim))
            f.write(struct.pack(f"<{a.ndim}q", *a.shape))
            f.write(a.astype("<f4").tobytes())


def t(a):
    return a.detach().numpy()


def layer_case(out, name, mod, xshape, train=True):
    """Run one module in float64 (the exact answer float32 results are held to):
    forward (training), backward with a hashed dout, then eval."""
    fill_module(mod)
    mod.double()
    x = torch.from_numpy(fill("input", xshape)).double().requires_grad_(True)
    mod.train(train)
    y = mod(x)
    dy = torch.from_numpy(fill("dout", tuple(y.shape))).double()
    y.backward(dy)
    res = [("input", t(x)), ("output", t(y)), ("dinput", x.grad.numpy())]
    for k, p in mod.named_parameters():
        res.append(("grad:" + k, p.grad.numpy()))
    for k, b in mod.named_buffers():
        if b.dtype.is_floating_point:
            res.append(("after:" + k, t(b)))
    mod.eval()
    res.append(("eval_output", t(mod(x))))
    write(os.path.join(out, name + ".bin"), res)


class SmallCNN(nn.Module):
    def __init__(self, c=1):
        super().__init__()
        self.conv1 = nn.Conv2d(c, 32, 5, padding=2, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc = nn.Linear(64 * 7 * 7, 512, bias=False)
        self.bn3 = nn.BatchNorm1d(512)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return F.relu(self.bn3(self.fc(torch.flatten(x, 1))))


class BasicBlock(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class ResNet18Cifar(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        cin = 64
        for li, planes in enumerate([64, 128, 256, 512]):
            blocks = []
            for b in range(2):
                stride = 2 if (li > 0 and b == 0) else 1
                blocks.append(BasicBlock(cin, planes, stride))
                cin = planes
            setattr(self, f"layer{li + 1}", nn.Sequential(*blocks))

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


def summary(g):
    g = g.astype(np.float64).ravel()
    n = g.size
    return np.array([g.sum(), (g * g).sum(), np.abs(g).sum(), g[0], g[n // 3], g[n // 2],
                     g[n - 1]])


def encoder_case(out, name, model, xshape):
    """As layer_case, in float64, storing gradient summaries. Deep ReLU networks are
    not smooth: a pre-activation within float32 rounding of 0 flips its ReLU mask, so
    single gradient elements may legitimately differ in float32 (the C test allows
    it). Batch 3 keeps BN well conditioned (with batch 2, PyTorch's own float32
    gradients of resnet18-cifar differ from float64 by 3%)."""
    fill_module(model)
    model.double()
    model.train()
    x = torch.from_numpy(fill("input", xshape)).double().requires_grad_(True)
    y = model(x)
    dy = torch.from_numpy(fill("dout", tuple(y.shape))).double()
    y.backward(dy)
    res = [("input", t(x)), ("output", t(y)), ("dinput", x.grad.numpy())]
    for k, p in model.named_parameters():
        res.append(("sum:" + k, summary(p.grad.numpy())))
        if p.numel() <= 40000:
            res.append(("grad:" + k, p.grad.numpy()))
    for k, b in model.named_buffers():
        if b.dtype.is_floating_point:
            res.append(("sum:" + k, summary(t(b))))
    model.eval()
    with torch.no_grad():
        res.append(("eval_output", t(model(x))))
    write(os.path.join(out, name + ".bin"), res)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "nn")
    os.makedirs(out, exist_ok=True)
    torch.set_default_dtype(torch.float32)
    torch.backends.mkldnn.enabled = False  # plain reference kernels
    layer_case(out, "conv_grouped", nn.Conv2d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2),
               (2, 4, 9, 9))
    layer_case(out, "conv_5x5", nn.Conv2d(3, 16, 5, padding=2, bias=False), (2, 3, 8, 8))
    layer_case(out, "bn2d", nn.BatchNorm2d(5), (3, 5, 4, 4))
    layer_case(out, "bn1d", nn.BatchNorm1d(7), (6, 7))
    layer_case(out, "maxpool", nn.MaxPool2d(3, 2, 1), (2, 3, 7, 7))
    layer_case(out, "avgpool", nn.AvgPool2d(3, 2, 1), (2, 3, 7, 7))
    layer_case(out, "linear", nn.Linear(10, 6), (3, 10))
    layer_case(out, "softmax", nn.Softmax(dim=1), (2, 5, 3, 3))
    layer_case(out, "leaky_relu", nn.LeakyReLU(0.1), (2, 3, 4, 4))
    layer_case(out, "gelu", nn.GELU(), (2, 3, 4, 4))
    encoder_case(out, "smallcnn", SmallCNN(1), (4, 1, 28, 28))
    encoder_case(out, "resnet18_cifar", ResNet18Cifar(), (3, 3, 32, 32))
    total = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    print(f"wrote {len(os.listdir(out))} files, {total} bytes to {out}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Golden values and gradients of libdh's losses from independent PyTorch references
(written from docs/methods.md, autograd in float64). Regenerate with
    /usr/bin/python3 tests/golden/gen_loss_golden.py
Output: tests/golden/loss/<case>.bin, read by tests/check_loss_golden.c:
    "DHLG" u32 B K C n_extra, f32 U[B*K], f32 Y[B*C], f64 value, f32 dU[B*K],
    n_extra x (char name[32], u32 count, f32 data[count])   (little-endian)
"""
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "loss")
B, K, C = 12, 16, 5


def sgn(x):  # libdh: x >= 0 -> +1
    return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))


def sim(Y):
    return (Y @ Y.T > 0).double()


def dpsh(U, Y, ex):
    M = U.detach()  # bank = this batch (n_train = B, indices 0..B-1); constant
    th = 0.5 * U @ M.T
    S = sim(Y)
    n = B * B
    return (F.softplus(th) - S * th).sum() / n + 50 * ((U - sgn(U).detach()) ** 2).sum() / n


def hashnet(U, Y, ex):
    th = (10.0 / K) * U @ U.T
    S = sim(Y)
    l = F.softplus(th) - S * th
    s1, s0 = S.sum(), (1 - S).sum()
    v = 0
    if s1 > 0:
        v = v + (l * S).sum() / s1
    if s0 > 0:
        v = v + (l * (1 - S)).sum() / s0
    return v


def dch(U, Y, ex, g=20.0, lam=0.1):
    S = sim(Y)
    s1, s0 = S.sum(), (1 - S).sum()
    w = S * S.numel() / s1 + (1 - S) * S.numel() / s0 if s1 > 0 and s0 > 0 else 1

    def d(a, b):
        ip = a @ b.T
        nrm = a.norm(dim=1, keepdim=True) @ b.norm(dim=1, keepdim=True).T
        cos = ip / nrm.clamp(min=1e-4)
        return (1 - cos.clamp(max=0.99)) * K / 2

    dd = d(U, U)
    cl = w * (S * torch.log(dd / g) + torch.log(1 + g / dd))
    q = torch.log(1 + d(U.abs(), torch.ones_like(U)) / g)
    return cl.mean() + lam * q.mean()


def dsh(U, Y, ex, al=0.01):
    m = 2 * K
    t = 1 - sim(Y)
    diff = U.unsqueeze(1) - U.unsqueeze(0)
    D = (diff ** 2).sum(-1)
    l = (1 - t) / 2 * D + t / 2 * (m - D).clamp(min=0)
    return l.mean() + al * (U.abs() - 1).abs().sum(dim=1).mean() * 2


def dtsh(U, Y, ex, a=5.0, lam=1.0):
    ip = U @ U.T
    s = sim(Y) > 0
    cnt, l1 = 0, 0
    for r in range(B):
        if s[r].sum() != 0 and (~s[r]).sum() != 0:
            cnt += 1
            x = (ip[r][s[r]].unsqueeze(1) - ip[r][~s[r]].unsqueeze(0) - a).clamp(-100, 50)
            l1 = l1 + F.softplus(-x).mean()
    l1 = l1 / cnt if cnt else 0
    return l1 + lam * ((U - sgn(U).detach()) ** 2).mean()


def vote(T, fill, Y):
    s = Y @ T
    return torch.where(s > 0, 1.0, torch.where(s < 0, -1.0, fill.expand_as(s)))


def csq(U, Y, ex):
    t = vote(ex["centers"], ex["center_fill"], Y)
    z = U
    return (F.softplus(2 * z) - z * (t + 1)).mean() + 1e-4 * ((torch.tanh(z).abs() - 1) ** 2).mean()


def dpn(U, Y, ex, m=1.0):
    T = ex["centers"]
    l = 0
    for c in range(C):
        l = l + (Y[:, c:c + 1] * (m - U * T[c]).clamp(min=0)).sum()
    return l / B


def orthohash(U, Y, ex, s=8.0, m=0.2):
    T = ex["centers"]
    cos = F.normalize(U, dim=-1) @ (T / K ** 0.5).T
    a = s * (cos - m * Y)
    q = Y / Y.sum(1, keepdim=True)
    return -(q * F.log_softmax(a, dim=1)).sum(1).mean()


def greedyhash(U, Y, ex, al=0.1):
    b = U + (sgn(U) - U).detach()
    logits = b @ ex["classifier.weight"].T
    return F.cross_entropy(logits, Y.argmax(1)) + al * ((U.abs() - 1).abs() ** 3).mean()


def sprch(U, Y, ex, tau=0.3, delta=1.0 / 33):
    P = torch.tanh(ex["proxy.weight"].T + ex["proxy.bias"])
    uh, ph = F.normalize(U, dim=1), F.normalize(P, dim=1)
    s, r = uh @ uh.T, uh @ ph.T
    pos = sim(Y)
    neg = 1 - pos
    wp = lambda x: torch.exp(-(1 + x) * delta / 4).detach()  # noqa: E731
    wn = lambda x: torch.exp((x - 1) * delta).detach()  # noqa: E731
    lp = pos.sum(1) / Y.sum(1)
    ln = neg.sum(1) / (1 - Y).sum(1).clamp(min=1e-12)
    Pi = (pos * wp(s) * torch.exp(s / tau)).sum(1) + lp * (Y * wp(r) * torch.exp(r / tau)).sum(1)
    Ni = (neg * wn(s) * torch.exp(s / tau)).sum(1) + ln * ((1 - Y) * wn(r) * torch.exp(r / tau)).sum(1)
    return (torch.log(Pi + Ni) - torch.log(Pi)).mean()


def write(name, U, Y, fn, ex):
    Ut = torch.tensor(U, dtype=torch.float64, requires_grad=True)
    ext = {k: torch.tensor(v, dtype=torch.float64) for k, v in ex.items()}
    v = fn(Ut, torch.tensor(Y, dtype=torch.float64), ext)
    v.backward()
    with open(os.path.join(OUT, name + ".bin"), "wb") as f:
        f.write(b"DHLG" + struct.pack("<4I", B, K, C, len(ex)))
        f.write(U.astype("<f4").tobytes() + Y.astype("<f4").tobytes())
        f.write(struct.pack("<d", float(v)) + Ut.grad.numpy().astype("<f4").tobytes())
        for k, a in ex.items():
            f.write(k.encode().ljust(32, b"\0") + struct.pack("<I", a.size))
            f.write(a.astype("<f4").tobytes())


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(2026)
    for multi in (0, 1):
        U = rng.uniform(-1.5, 1.5, (B, K)).astype(np.float32)
        Y = np.zeros((B, C), np.float32)
        Y[np.arange(B), rng.integers(0, C, B)] = 1
        if multi:
            Y[::3, 0] = 1
        cen = np.where(rng.normal(size=(C, K)) >= 0, 1, -1).astype(np.float32)
        fill = np.where(rng.normal(size=K) >= 0, 1, -1).astype(np.float32)
        tag = "multi" if multi else "single"
        cases = {"dpsh": (dpsh, {}), "hashnet": (hashnet, {}), "dch": (dch, {}),
                 "dsh": (dsh, {}), "dtsh": (dtsh, {}),
                 "csq": (csq, {"centers": cen, "center_fill": fill}),
                 "dpn": (dpn, {"centers": cen}), "orthohash": (orthohash, {"centers": cen}),
                 "sprch": (sprch, {"proxy.weight": rng.uniform(-0.4, 0.4, (K, C)).astype(np.float32),
                                   "proxy.bias": rng.uniform(-0.4, 0.4, K).astype(np.float32)})}
        if not multi:
            cases["greedyhash"] = (greedyhash, {"classifier.weight":
                                                rng.uniform(-0.25, 0.25, (C, K)).astype(np.float32)})
        for m, (fn, ex) in cases.items():
            write(f"{m}_{tag}", U, Y, fn, ex)
    # degenerate batches: one class only (no dissimilar pair)
    U = rng.uniform(-1.5, 1.5, (B, K)).astype(np.float32)
    Y = np.zeros((B, C), np.float32)
    Y[:, 2] = 1
    for m, fn in (("hashnet", hashnet), ("dch", dch), ("dsh", dsh), ("dpsh", dpsh)):
        write(f"{m}_oneclass", U, Y, fn, {})


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Golden values and gradients of libdh's unsupervised losses from independent PyTorch
references (written from docs/methods.md / METHODS.md §9, autograd in float64; the
straight-through estimators as z = q + (sgn - q).detach()). Regenerate with
    /usr/bin/python3 tests/golden/gen_unsup_golden.py
Output: tests/golden/unsup/<case>.bin in the DHGV container (tests/golden_dhgv.h):
"DHGV0001", u32 count, per tensor u16 name length, name, u8 ndim, i64 dims, f32 data.
Read by tests/check_loss_unsup_golden.c. Every case holds "U" (the loss input), "value"
[1] and "dU"; feature cases "F" (n_train x D, batch rows = indices 0..B-1) and the
method's state or parameters under their libdh names.
"""
import os
import struct

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "unsup")
K = 16
torch.set_default_dtype(torch.float64)


def write(path, tensors):
    with open(path, "wb") as f:
        f.write(b"DHGV0001")
        f.write(struct.pack("<I", len(tensors)))
        for name, a in tensors.items():
            a = np.ascontiguousarray(np.asarray(a, dtype=np.float32))
            if a.ndim == 0:
                a = a.reshape(1)
            nb = name.encode()
            f.write(struct.pack("<H", len(nb)) + nb + struct.pack("<B", a.ndim))
            f.write(struct.pack(f"<{a.ndim}q", *a.shape))
            f.write(a.tobytes())


def sgn(x):  # libdh: x >= 0 -> +1
    return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))


def f32(x):
    """Round inputs to float32 so both sides see the same numbers."""
    return torch.tensor(np.asarray(x, dtype=np.float32), dtype=torch.float64)


def cibhash(rng, n=6, tau=0.3, beta=0.001):
    A = f32(rng.normal(0, 1.5, (2 * n, K))).requires_grad_()
    q = torch.sigmoid(A)
    z = q + (sgn(A) - q).detach()
    zh = z / z.norm(dim=1, keepdim=True)
    s = zh @ zh.T / tau
    s = s.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    pos = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    nt = (torch.logsumexp(s, dim=1) - s[torch.arange(2 * n), pos]).mean()
    e = 1e-8

    def kl(p, r):
        return (p * torch.log(p + e) - p * torch.log(r + e) + (1 - p) * torch.log(1 - p + e)
                - (1 - p) * torch.log(1 - r + e)).sum(1).mean()

    q1, q2 = q[:n], q[n:]
    v = nt + beta * 0.5 * (kl(q1, q2.detach()) + kl(q2, q1.detach()))
    v.backward()
    return {"U": A.detach(), "value": v.item(), "dU": A.grad}


def median_split(U):
    B = U.shape[0]
    out = -torch.ones_like(U)
    for k in range(U.shape[1]):  # descending, ties by lower row (stable)
        order = sorted(range(B), key=lambda i: (-U[i, k].item(), i))
        for t in order[: (B + 1) // 2]:
            out[t, k] = 1
    return out


def cos_rows(F):
    Fh = F / F.norm(dim=1, keepdim=True)
    return Fh @ Fh.T


def bihalf(rng, B=10, N=14, D=7, gamma=6.0):
    U = f32(rng.normal(0, 1, (B, K))).requires_grad_()
    F = f32(rng.uniform(0, 1, (N, D)))
    Bc = median_split(U.detach())
    b = U + (Bc - U).detach()
    S = cos_rows(F[:B])
    v = ((S - b @ b.T / K) ** 2).sum() / B ** 2 + gamma / (2 * B) * ((U - Bc) ** 2).sum()
    v.backward()
    return {"U": U.detach(), "F": F, "value": v.item(), "dU": U.grad}


def ssdh_thresholds(F, alpha=2.0):
    d = (1 - cos_rows(F)).flatten().numpy().astype(np.float32).astype(np.float64)
    s0, w = -1e-8, 0.01
    b = np.clip(np.floor((d - s0) / w), 0, 201).astype(int)
    counts = np.bincount(b, minlength=202)
    best = int(np.argmax(counts))
    ms = s0 + best * w
    left, right = d[b < best], d[b >= best]
    sl = np.sqrt(((left - ms) ** 2).mean()) if left.size else 0.0
    sr = np.sqrt(((right - ms) ** 2).mean()) if right.size else 0.0
    return ms - alpha * sl, ms + alpha * sr


def ssdh(rng, B=12, N=30, D=6):
    # features with a spread of distances: 3 groups plus noise
    g = np.arange(N) % 3
    F = f32(np.eye(D)[g % D] + 0.25 + 0.3 * rng.uniform(0, 1, (N, D)))
    lo, hi = ssdh_thresholds(F, 1.0)
    U = f32(np.tanh(rng.normal(0, 1, (B, K)))).requires_grad_()
    dist = 1 - cos_rows(F[:B])
    S = torch.where(dist < lo, 1.0, torch.where(dist > hi, -1.0, 0.0))
    v = (S.abs() * (U @ U.T / K - S) ** 2).mean()
    v.backward()
    return {"U": U.detach(), "F": F, "value": v.item(), "dU": U.grad,
            "thresholds": np.array([lo, hi])}


def kmeans_case(rng, B=10, N=20, C=4, lam=1e-4):
    Z = f32(rng.normal(0, 1.5, (B, K))).requires_grad_()
    T = f32(np.where(rng.uniform(size=(C, K)) < 0.5, -1.0, 1.0))
    pl = rng.integers(0, C, N)
    t = T[torch.tensor(pl[:B])]
    u = torch.tanh(Z)
    bce = (torch.nn.functional.softplus(2 * Z) - 2 * Z * (t + 1) / 2).mean()
    v = bce + lam * ((u.abs() - 1) ** 2).mean()
    v.backward()
    F = f32(rng.uniform(0, 1, (N, 5)))
    return {"U": Z.detach(), "F": F, "value": v.item(), "dU": Z.grad, "centers": T,
            "pseudo_labels": pl.astype(np.float32)}


def sgh(rng, B=9, N=12, D=5, beta=0.01):
    A = f32(rng.normal(0, 1.5, (B, K))).requires_grad_()
    F = f32(rng.uniform(0, 1, (N, D)))
    W = f32(rng.normal(0, 0.3, (D, K))).requires_grad_()
    c = f32(rng.normal(0, 0.1, D)).requires_grad_()
    q = torch.sigmoid(A)
    z = q + (sgn(A) - q).detach()
    xh = z @ W.T + c
    rec = ((F[:B] - xh) ** 2).mean()
    kl = (q * torch.log(q) + (1 - q) * torch.log(1 - q) + np.log(2.0)).mean()
    v = rec + beta * kl
    v.backward()
    return {"U": A.detach(), "F": F, "value": v.item(), "dU": A.grad,
            "decoder.weight": W.detach(), "decoder.bias": c.detach(),
            "grad.decoder.weight": W.grad, "grad.decoder.bias": c.grad}


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(12)
    cases = {"cibhash": cibhash, "bihalf": bihalf, "ssdh": ssdh, "kmeans": kmeans_case,
             "sgh": sgh}
    for name, f in cases.items():
        t = f(rng)
        write(os.path.join(OUT, name + ".bin"), {k: np.asarray(v) for k, v in t.items()})
        print(name, t["value"])


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Golden values and gradients of libdh's weakly supervised losses (wdht; tagrefine
trains on the same objective) from an independent PyTorch float64 reference written
from docs/methods.md#wdht. Regenerate with
    /usr/bin/python3 tests/golden/gen_weak_golden.py
Output: tests/golden/weak/<case>.bin in the DHGV container (tests/golden_dhgv.h).
Each case holds "Y" (B x T tag rows, the batch's labels), "E" (T x D tag vectors),
"U" (B x K), "align" (K x D), "options" [pair_weight, center_weight, quant_weight,
margin], "value" [1], "dU" and "dalign". Read by tests/check_loss_weak.c.
"""
import os
import struct

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weak")
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


def f32(x):
    return torch.tensor(np.asarray(x, dtype=np.float32), dtype=torch.float64)


def wdht(Y, E, U, W, pair_w, align_w, quant_w, margin):
    K = U.shape[1]
    s = Y @ E                                   # sum of the tags' vectors
    nrm = s.norm(dim=1)
    m = ((Y.sum(1) > 0) & (nrm > 1e-12)).double()
    Sh = torch.where(m[:, None] > 0, s / nrm.clamp_min(1e-12)[:, None], torch.zeros_like(s))
    S = Sh @ Sh.T
    M = m[:, None] * m[None, :]
    nv = m.sum()
    R = M * (U @ U.T / K - S)
    lp = (R ** 2).sum() / nv ** 2
    A = U @ W
    Ah = A / A.norm(dim=1, keepdim=True).clamp_min(1e-12)
    C = Ah @ Sh.T
    h = margin * (1 - S) - torch.diag(C)[:, None] + C
    off = 1 - torch.eye(len(U))
    la = (torch.relu(h) * M * off).sum() / (nv * (nv - 1))
    sg = torch.where(U >= 0, torch.ones_like(U), -torch.ones_like(U))
    lq = ((U - sg) ** 2).mean()
    return pair_w * lp + align_w * la + quant_w * lq


def case(name, rng, B, K, T, D, opts, empty_rows=()):
    Y = (rng.random((B, T)) < 0.35).astype(np.float32)
    for r in empty_rows:
        Y[r] = 0
    for r in range(B):
        if r not in empty_rows and Y[r].sum() == 0:
            Y[r, rng.integers(T)] = 1
    E = rng.normal(0, 1, (T, D)).astype(np.float32)
    Ut = f32(np.tanh(rng.normal(0, 1, (B, K)))).requires_grad_()
    Wt = f32(rng.normal(0, 1 / np.sqrt(K), (K, D))).requires_grad_()
    v = wdht(f32(Y), f32(E), Ut, Wt, *opts)
    v.backward()
    write(os.path.join(OUT, name + ".bin"), {
        "Y": Y, "E": E, "U": Ut.detach().numpy(), "align": Wt.detach().numpy(),
        "options": np.array(opts), "value": np.array([v.item()]),
        "dU": Ut.grad.numpy(), "dalign": Wt.grad.numpy()})


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(13)
    case("wdht_defaults", rng, 10, 16, 7, 5, (1.0, 0.1, 0.1, 0.2), empty_rows=(9,))
    case("wdht_align", rng, 12, 32, 9, 6, (0.5, 1.0, 0.0, 0.5), empty_rows=(0, 5))


if __name__ == "__main__":
    main()

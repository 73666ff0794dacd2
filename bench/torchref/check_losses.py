#!/usr/bin/python3
"""Term-by-term check of bench/torchref/losses.py against libdh's losses: the same
inputs U (B x K), labels and indices through dh.Loss.forward_backward and through the
PyTorch loss; value and dL/dU must agree to float precision. Loss-owned tensors
(GreedyHash's classifier, SPRCH's proxies) and centers are copied from the libdh loss.

  DH_LIBRARY=build/libdh.so.1 /usr/bin/python3 bench/torchref/check_losses.py
Exit status 1 if any method disagrees (relative error > 1e-4).
"""
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bindings", "python"))
sys.path.insert(0, os.path.join(HERE, ".."))

import dh  # noqa: E402
from torchref import losses as TL  # noqa: E402

# libdh's head for the method feeds the loss u = act(z); the torch losses take z
PRE_TANH = {"hashnet", "sprch"}


def check(method, K=32, C=10, B=48, N=200, seed=3):
    rng = np.random.default_rng(seed)
    kw = {"seed": 7}
    if method == "sprch":
        kw["n_epochs"] = 20
    if method == "dpsh":
        kw["n_train"] = N
    L = dh.Loss(method, n_bits=K, n_classes=C, **kw)
    ytr = (np.arange(N) % C).astype(np.int64)
    Ytr = np.eye(C, dtype=np.float32)[ytr]
    if method == "dpsh":
        L.init(train_labels=Ytr)
    tkw = {}
    if "centers" in L.state_names():
        tkw["centers"] = L.get_tensor("centers").reshape(C, K)
    if method == "sprch":
        tkw["n_epochs"] = 20
    if method == "dpsh":
        tkw.update(n_train=N, train_labels=torch.from_numpy(Ytr))
    T = TL.make(method, K, C, **tkw)
    if method == "greedyhash":
        T.W.data = torch.from_numpy(L.get_tensor("classifier.weight").reshape(C, K).copy())
    if method == "sprch":
        T.W.data = torch.from_numpy(L.get_tensor("proxy.weight").reshape(K, C).copy())
        T.b.data = torch.from_numpy(L.get_tensor("proxy.bias").reshape(K).copy())
        L.epoch_begin(2)
        T.epoch_begin(2)
    worst = 0.0
    for step in range(3):  # dpsh: later steps see the rows banked by earlier ones
        idx = rng.choice(N, B, replace=False).astype(np.int64)
        cls = ytr[idx]
        scale = 0.8 if method in PRE_TANH else 1.5
        U = (rng.standard_normal((B, K)) * scale).astype(np.float32)
        if method in PRE_TANH:
            U = np.tanh(U).astype(np.float32)
        Y = Ytr[idx]
        v_dh, g_dh = L.forward_backward(U, labels=Y, class_ids=cls.astype(np.int32),
                                        indices=idx)
        u = torch.from_numpy(U.copy()).requires_grad_(True)
        z = torch.atanh(u) if method in PRE_TANH else u
        v = T(z, torch.from_numpy(Y), torch.from_numpy(cls), torch.from_numpy(idx))
        v.backward()
        g = u.grad.numpy()
        ev = abs(v.item() - v_dh) / max(abs(v_dh), 1e-6)
        eg = np.abs(g - g_dh).max() / max(np.abs(g_dh).max(), 1e-12)
        worst = max(worst, ev, eg)
        print(f"  {method:10s} step {step}: value libdh {v_dh:.6f} torch {v.item():.6f} "
              f"(rel {ev:.1e}); dU max rel err {eg:.1e}")
    return worst


def main():
    methods = sys.argv[1].split(",") if len(sys.argv) > 1 else list(TL.METHODS)
    bad = []
    for m in methods:
        w = check(m)
        if w > 1e-4:
            bad.append(m)
    print("disagree: " + ",".join(bad) if bad else f"all {len(methods)} losses agree (<= 1e-4)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

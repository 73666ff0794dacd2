#!/usr/bin/python3
"""Loss step time, libdh beside PyTorch: forward + backward of each supervised loss on
the same (B x K) batch, dh.Loss.forward_backward against bench/torchref/losses.py
(autograd), alternating sides; DPSH against its bank of N rows. Prints ms per step and
the ratio torch / libdh (> 1: libdh faster).

  DH_LIBRARY=build/libdh.so.1 OMP_NUM_THREADS=1 /usr/bin/python3 bench/bench_loss_torch.py \
      --methods dpsh,hashnet --reps 20
"""
import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bindings", "python"))
sys.path.insert(0, HERE)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--methods", default="dpsh,hashnet,dch,dsh,greedyhash,csq,dpn,orthohash,sprch")
    ap.add_argument("--B", type=int, default=128)
    ap.add_argument("--K", type=int, default=64)
    ap.add_argument("--N", type=int, default=10000)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import torch
    import dh
    from torchref import losses as TL
    torch.set_num_threads(args.threads)
    B, K, N, C = args.B, args.K, args.N, 10
    rng = np.random.default_rng(1)
    y = (np.arange(N) % C).astype(np.int64)
    Y = np.eye(C, dtype=np.float32)[y]
    print(f"B {B} K {K} N {N} threads {args.threads}; ms per forward+backward (median of "
          f"{args.reps}, sides alternating)")
    for m in args.methods.split(","):
        kw = {"n_train": N} if m == "dpsh" else {}
        L = dh.Loss(m, n_bits=K, n_classes=C, **kw)
        tkw = {}
        if m == "dpsh":
            L.init(train_labels=Y)
            tkw = {"n_train": N, "train_labels": torch.from_numpy(Y)}
        if "centers" in L.state_names():
            tkw["centers"] = L.get_tensor("centers").reshape(C, K)
        T = TL.make(m, K, C, **tkw)
        if m == "dpsh":  # a full bank on both sides
            U0 = rng.standard_normal((N, K)).astype(np.float32)
            for s in range(0, N - B + 1, B):
                i = np.arange(s, s + B)
                L.forward_backward(U0[i], labels=Y[i], class_ids=y[i].astype(np.int32),
                                   indices=i.astype(np.int64))
            T.M[:] = torch.from_numpy(U0)
        idx = rng.choice(N, B, replace=False).astype(np.int64)
        U = np.tanh(rng.standard_normal((B, K))).astype(np.float32)
        lab, cls = Y[idx], y[idx].astype(np.int32)
        tl, tc, ti = torch.from_numpy(lab), torch.from_numpy(y[idx]), torch.from_numpy(idx)
        td, tt = [], []
        for r in range(args.reps):
            t0 = time.perf_counter()
            L.forward_backward(U, labels=lab, class_ids=cls, indices=idx)
            td.append(time.perf_counter() - t0)
            u = torch.from_numpy(U.copy()).requires_grad_(True)
            t0 = time.perf_counter()
            T(u, tl, tc, ti).backward()
            tt.append(time.perf_counter() - t0)
        a, b = 1e3 * np.median(td), 1e3 * np.median(tt)
        print(f"{m:10s} libdh {a:8.2f} ms  torch {b:8.2f} ms  torch/libdh {b / a:5.2f}",
              flush=True)


if __name__ == "__main__":
    main()

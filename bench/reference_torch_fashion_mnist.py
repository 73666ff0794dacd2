#!/usr/bin/python3
"""PyTorch reference for the fashion-mnist protocol (docs/results.md §2): smallcnn +
hash head, HashNet (docs/methods.md#hashnet) and CSQ (#csq), Adam + cosine, mAP@all.

Same network as libdh's smallcnn (lib/nn/encoder_arch.c: conv5x5-32 no bias, BN, ReLU,
maxpool 2, conv5x5-64 no bias, BN, ReLU, maxpool 2, linear-512 no bias, BN1d, ReLU;
PyTorch default init), the same head (linear 512->K, N(0, 0.01) weights, zero bias;
HashNet tanh(beta z), CSQ raw z with tanh in the loss), the same split (taken from
libdh's dh_protocol_split through the python bindings, seed 1), the same optimiser
(Adam, L2 weight decay not on biases / BN, cosine per epoch to lr/100, batch 64,
drop_last), data = pixel/255 normalised with mean/std. mAP@all is computed twice:
libdh's evaluator (index-order ties, via bindings/python/dh) and numpy (tie-aware).

Usage:
  DH_LIBRARY=build-ref/lib/libdh.so.1 /usr/bin/python3 bench/reference_torch_fashion_mnist.py \
      --method hashnet,csq --epochs 12
Knobs for bisection: --beta-schedule official|swuxyj|const, --alpha, --quant-weight,
--head-init std|default, --wd, --backbone-lr-mult, --mean/--std, --seed.
"""
import argparse
import gzip
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bindings", "python"))


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion_mnist(d):
    xtr = read_idx(os.path.join(d, "train-images-idx3-ubyte.gz"))
    ytr = read_idx(os.path.join(d, "train-labels-idx1-ubyte.gz"))
    xte = read_idx(os.path.join(d, "t10k-images-idx3-ubyte.gz"))
    yte = read_idx(os.path.join(d, "t10k-labels-idx1-ubyte.gz"))
    return xtr, ytr.astype(np.int64), xte, yte.astype(np.int64)


def protocol_train_indices(seed):
    """Indices (into the 60k training images) of libdh's fashion-mnist training split."""
    from dh import data as dd
    a = dd.Dataset.fashion_mnist("train")
    b = dd.Dataset.fashion_mnist("test")
    tr, q, db = dd.protocol_split("fashion-mnist", a, b, seed=seed)
    idx = tr.origin().reshape(-1)
    assert len(idx) == 10000 and len(q) == 10000 and len(db) == 60000
    return idx


class SmallCNN(nn.Module):
    def __init__(self, bits, head_init="std"):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, padding=2, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc = nn.Linear(64 * 7 * 7, 512, bias=False)
        self.bn3 = nn.BatchNorm1d(512)
        self.head = nn.Linear(512, bits)
        if head_init == "std":  # libdh's head default (HashNet official): N(0, 0.01), bias 0
            nn.init.normal_(self.head.weight, 0, 0.01)
            nn.init.zeros_(self.head.bias)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = F.relu(self.bn3(self.fc(x.flatten(1))))
        return self.head(x)  # z


def hashnet_loss(u, y, alpha):
    """docs/methods.md#hashnet: swuxyj/paper form, in-batch, diagonal included, weights 1/|S1|, 1/|S0|."""
    s = (y[:, None] == y[None, :]).float()
    th = alpha * u @ u.t()
    l = F.softplus(th) - s * th
    n1 = s.sum()
    n0 = s.numel() - n1
    v = 0
    if n1 > 0:
        v = v + (l * s).sum() / n1
    if n0 > 0:
        v = v + (l * (1 - s)).sum() / n0
    return v


def hadamard(k):
    i = np.arange(k)
    pc = np.vectorize(lambda v: bin(v).count("1"))(i[:, None] & i[None, :])
    return np.where(pc % 2 == 0, 1.0, -1.0).astype(np.float32)


def csq_loss(z, t, lam):
    """docs/methods.md#csq: swuxyj form: BCE in logit form on z (u = tanh z) + lam mean(|u| - 1)^2."""
    u = torch.tanh(z)
    lc = (F.softplus(2 * z) - z * (t + 1)).mean()
    lq = ((u.abs() - 1) ** 2).mean()
    return lc + lam * lq


def param_groups(model, lr, wd, backbone_mult):
    groups = {}
    for name, p in model.named_parameters():
        head = name.startswith("head.")
        decay = p.ndim > 1  # weights only: no decay on biases and BN parameters
        key = (head, decay)
        groups.setdefault(key, []).append(p)
    out = []
    for (head, decay), ps in groups.items():
        out.append({"params": ps, "lr": lr * (1.0 if head else backbone_mult),
                    "weight_decay": wd if decay else 0.0, "base": 1.0 if head else backbone_mult})
    return out


def map_tie_aware(qc, dc, ql, dl, chunk=500):
    """Tie-aware expected AP (docs/methods.md#ties), AP = 0 for queries without hits.
    Per distance group h: sum_{t=1..n} (R< + 1 + (t-1) f)/(N< + t), f = (r-1)/(n-1),
    in closed form with harmonic numbers."""
    K = qc.shape[1]
    qb = qc.astype(np.float32)
    db = dc.astype(np.float32).T.copy()
    Hn = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, len(dc) + 1))])
    total = 0.0
    for s in range(0, len(qc), chunk):
        ip = qb[s:s + chunk] @ db
        d = np.rint(0.5 * (K - ip)).astype(np.int64)
        rel = (ql[s:s + chunk, None] == dl[None, :])
        nq = d.shape[0]
        off = np.arange(nq)[:, None] * (K + 1)
        n = np.bincount((d + off).ravel(), minlength=nq * (K + 1)).reshape(nq, K + 1)
        r = np.bincount((d + off).ravel(), weights=rel.ravel().astype(np.float64),
                        minlength=nq * (K + 1)).reshape(nq, K + 1)
        Nlt = np.cumsum(n, axis=1) - n
        Rlt = np.cumsum(r, axis=1) - r
        f = np.where(n > 1, (r - 1) / np.maximum(n - 1, 1), 0.0)
        h1 = Hn[Nlt + n] - Hn[Nlt]                  # sum 1/(N< + t)
        ht = n - Nlt * h1                           # sum t/(N< + t)
        grp = (Rlt + 1 - f) * h1 + f * ht
        ap = np.where(r > 0, r / np.maximum(n, 1) * grp, 0.0).sum(axis=1)
        R = r.sum(axis=1)
        total += np.where(R > 0, ap / np.maximum(R, 1), 0.0).sum()
    return total / len(qc)


def encode(model, x, bs=1000):
    model.eval()
    out = []
    with torch.no_grad():
        for s in range(0, len(x), bs):
            out.append(model(x[s:s + bs]).numpy())
    z = np.concatenate(out)
    return np.where(z >= 0, 1, -1).astype(np.int8)


def train_one(method, args, xtr, ytr, K):
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    model = SmallCNN(K, args.head_init)
    opt = torch.optim.Adam(param_groups(model, args.lr, args.wd, args.backbone_lr_mult),
                           lr=args.lr, betas=(0.9, 0.999), eps=1e-8)
    n = len(xtr)
    bpe = n // args.batch_size
    centers = None
    if method == "csq":
        H = hadamard(K)
        centers = torch.from_numpy(np.concatenate([H, -H])[:10])
    alpha = args.alpha if args.alpha > 0 else 10.0 / K
    lam = args.quant_weight
    beta = 1.0
    it = 0
    eta_min = args.lr * 0.01
    for e in range(args.epochs):
        f = eta_min + (args.lr - eta_min) * (1 + math.cos(math.pi * e / args.epochs)) / 2
        for g in opt.param_groups:
            g["lr"] = f * g["base"]
        if method == "hashnet" and args.beta_schedule == "swuxyj":
            beta = math.sqrt(e // 20 + 1)
        model.train()
        perm = torch.randperm(n)
        t0 = time.time()
        tot = 0.0
        for b in range(bpe):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            x, y = xtr[idx], ytr[idx]
            it += 1
            if method == "hashnet" and args.beta_schedule == "official" and it % 200 == 0:
                beta = math.sqrt(1.0 + 0.005 * it)
            z = model(x)
            if method == "hashnet":
                loss = hashnet_loss(torch.tanh(beta * z), y, alpha)
            else:
                loss = csq_loss(z, centers[y], lam)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += loss.item()
        print(f"  {method} epoch {e + 1}/{args.epochs} loss {tot / bpe:.4f} beta {beta:.3f} "
              f"lr {f:.2e} {time.time() - t0:.1f}s", flush=True)
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--method", default="hashnet,csq")
    ap.add_argument("--bits", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--wd", type=float, default=1e-5)
    ap.add_argument("--backbone-lr-mult", type=float, default=1.0)
    ap.add_argument("--beta-schedule", default="official", choices=["official", "swuxyj", "const"])
    ap.add_argument("--alpha", type=float, default=0.0, help="HashNet scale (0: 10/K)")
    ap.add_argument("--quant-weight", type=float, default=1e-4, help="CSQ lambda")
    ap.add_argument("--head-init", default="std", choices=["std", "default"])
    ap.add_argument("--mean", type=float, default=0.2860)
    ap.add_argument("--std", type=float, default=0.3530)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--no-dh", action="store_true", help="numpy only (no libdh split/eval)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    xtr_all, ytr_all, xte, yte = load_fashion_mnist(args.data)
    if args.no_dh:
        rng = np.random.RandomState(args.seed)
        idx = np.concatenate([rng.permutation(np.where(ytr_all == c)[0])[:1000] for c in range(10)])
        idx.sort()
    else:
        idx = protocol_train_indices(args.seed)

    def prep(x):
        x = torch.from_numpy(x.astype(np.float32) / 255.0)[:, None]
        return (x - args.mean) / args.std

    xdb, xq = prep(xtr_all), prep(xte)
    xtr, ytr = xdb[idx], torch.from_numpy(ytr_all[idx])
    print(f"train {len(xtr)} (per class {np.bincount(ytr_all[idx]).tolist()}), query {len(xq)}, "
          f"db {len(xdb)}; {vars(args)}", flush=True)
    for method in args.method.split(","):
        t0 = time.time()
        model = train_one(method, args, xtr, ytr, args.bits)
        qc, dc = encode(model, xq), encode(model, xdb)
        m_ta = map_tie_aware(qc, dc, yte, ytr_all)
        line = f"RESULT {method} bits {args.bits} epochs {args.epochs}"
        if not args.no_dh:
            from dh import eval as de
            m_idx = de.mean_average_precision(qc, dc, yte.astype(np.int32),
                                              ytr_all.astype(np.int32), ties="index")
            m_exp = de.mean_average_precision(qc, dc, yte.astype(np.int32),
                                              ytr_all.astype(np.int32), ties="expected")
            line += f" mAP@all(index,libdh) {m_idx:.4f} mAP@all(tie-aware,libdh) {m_exp:.4f}"
        line += f" mAP@all(tie-aware,numpy) {m_ta:.4f} time {time.time() - t0:.0f}s"
        print(line, flush=True)


if __name__ == "__main__":
    main()

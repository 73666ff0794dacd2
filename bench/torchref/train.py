"""The PyTorch training loop with libdh's trainer semantics (lib/train/trainer.c,
validate.c): shuffled batches with drop_last (n >= 2 batch), Adam with L2 weight decay
(on every tensor or on weights only, the recipe's decay_scope), cosine per epoch to
lr_floor * lr, the loss's epoch hook."""
import math
import time

import numpy as np
import torch

from . import losses as L
from .net import SmallCNN, augment, param_groups


def train(method, cfg, xtr, ytr, seed, centers=None, log=print):
    """xtr: (N, 1, 28, 28) float in [0, 1]; ytr: (N,) int64. cfg: dict with bits, epochs,
    batch_size, lr, wd, decay_all, pad, flip_prob, mean, std, loss_lr_mult, lr_floor,
    loss_kw (libdh_side.config)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed + 1000)
    K, C, n = cfg["bits"], 10, len(xtr)
    y1h = torch.nn.functional.one_hot(ytr, C).float()
    kw = dict(cfg.get("loss_kw", {}))
    if method in L.NEEDS_CENTERS:
        kw["centers"] = centers
    if method == "dpsh":
        kw.update(n_train=n, train_labels=y1h)
    loss = L.make(method, K, C, **kw)
    model = SmallCNN(K, bn_head=loss.bn_head)
    opt = torch.optim.Adam(param_groups(model, loss.params(), cfg["lr"], cfg["wd"],
                                        cfg["loss_lr_mult"], cfg["decay_all"]), lr=cfg["lr"])
    bs = min(cfg["batch_size"], n)
    bpe = n // bs if n >= 2 * bs else math.ceil(n / bs)
    E, lr0 = cfg["epochs"], cfg["lr"]
    eta_min = lr0 * cfg["lr_floor"]
    t_start = time.time()
    for e in range(E):
        f = eta_min + (lr0 - eta_min) * (1 + math.cos(math.pi * e / E)) / 2
        for g in opt.param_groups:
            g["lr"] = f * g["mult"]
        loss.epoch_begin(e)
        model.train()
        perm = torch.randperm(n, generator=gen)
        t0, tot = time.time(), 0.0
        for b in range(bpe):
            idx = perm[b * bs:(b + 1) * bs]
            x = augment(xtr[idx], cfg["pad"], cfg["flip_prob"], gen)
            x = (x - cfg["mean"]) / cfg["std"]
            z = model(x)
            v = loss(z, y1h[idx], ytr[idx], idx)
            opt.zero_grad()
            v.backward()
            opt.step()
            loss.after_step()
            tot += v.item()
        log(f"  torch {method} epoch {e + 1}/{E} loss {tot / bpe:.4f} lr {f:.2e} "
            f"{loss.describe()} {time.time() - t0:.1f}s")
    return model, time.time() - t_start


def encode(model, x, mean, std, bs=1000):
    """+-1 int8 codes: sgn of the head output (>= 0 -> +1, as dh__sgn)."""
    model.eval()
    out = []
    with torch.no_grad():
        for s in range(0, len(x), bs):
            out.append(model((x[s:s + bs] - mean) / std).numpy())
    z = np.concatenate(out)
    return np.where(z >= 0, 1, -1).astype(np.int8)

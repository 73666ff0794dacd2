#!/usr/bin/env python3
"""Golden values and gradients of libdh's special-setting losses (incremental: dihn, dih;
long-tail: lthnet, dualproxy) from independent references written from docs/methods.md#incremental, #long-tail
(and docs/methods.md for libdh's stated conventions), with torch autograd in float64.
Regenerate with
    /usr/bin/python3 tests/golden/gen_special_golden.py
Output: tests/golden/loss/{dihn,dih,lthnet,dualproxy}_*.bin in the format of
gen_loss_golden.py (header, U, Y, value, dU, named extra tensors), read by
tests/check_loss_golden.c. Extra tensors whose name has no ':' are set with
dh_loss_set_tensor as before; these prefixes are new (all data float32):
    opt:<field>         count 1: dh_loss_options field (n_train, gamma, quant_weight,
                        tau, center_weight, pair_weight, cb_beta) before dh_loss_create
    init:train_labels   [N, C]: dh_loss_init's labels (N = count / C)
    init:class_counts   [C]: dh_loss_init's class counts (integers)
    fixed:codes         [n, K], fixed:labels [n, C], fixed:flags (count 1):
                        dh_loss_set_fixed_codes (after dh_loss_init)
    indices             [B]: the batch's training-set positions (default 0..B-1)
    grad:<param>        expected gradient of the loss parameter <param>
    update:codes        expected state "codes" after dh_loss_update_codes(U, indices, B)
"""
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "loss")
DT = torch.float64


def f32(x):
    """An option value as the C test will see it (stored as float32)."""
    return float(np.float32(x))


def t64(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=DT, requires_grad=grad)


def sgn(x):  # libdh: x >= 0 -> +1 (docs/methods.md#notation)
    return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))


def pm1(rng, shape):
    return np.where(rng.normal(size=shape) >= 0, 1, -1).astype(np.float32)


def labels(rng, n, C, multi):
    Y = np.zeros((n, C), np.float32)
    Y[np.arange(n), rng.integers(0, C, n)] = 1
    if multi:  # every third row gets a second class
        rows = np.arange(0, n, 3)
        Y[rows, (Y[rows].argmax(1) + 1 + rng.integers(0, C - 1, len(rows))) % C] = 1
    return Y


def codes_in(rng, B, K):
    """tanh-head outputs, away from 0 (sign kinks) and +-1."""
    U = rng.uniform(-0.95, 0.95, (B, K)).astype(np.float32)
    U[np.abs(U) < 0.02] = 0.5
    return U


def write(name, U, Y, value, dU, extras):
    B, K = U.shape
    C = Y.shape[1]
    with open(os.path.join(OUT, name + ".bin"), "wb") as f:
        f.write(b"DHLG" + struct.pack("<4I", B, K, C, len(extras)))
        f.write(U.astype("<f4").tobytes() + Y.astype("<f4").tobytes())
        f.write(struct.pack("<d", float(value)) + np.asarray(dU).astype("<f4").tobytes())
        for k, a in extras:
            a = np.asarray(a, dtype=np.float64).ravel()
            assert len(k.encode()) <= 32, k
            f.write(k.encode().ljust(32, b"\0") + struct.pack("<I", a.size))
            f.write(a.astype("<f4").tobytes())


# ---------------------------------------------------------------------------
# DIHN (docs/methods.md#dihn)
# ---------------------------------------------------------------------------

def ratio(Ya, Ydb):
    """r = |S1| / |S0| of the block Ya x Ydb (soft similarity, docs/methods.md#asymmetric-update)."""
    S = (Ya @ Ydb.T) > 0
    return S.sum() / (S.size - S.sum())


def dihn_case(name, rng, B, K, C, n_new, n_old, in_train, multi, gamma=200.0, mu=50.0):
    """Database B = [B_new; B_old] (n = n_new + n_old). Training rows: the new items, then
    (DH_FIXED_CODES_IN_TRAIN) the old items' images, whose codes are the fixed rows."""
    for _ in range(100):  # retry until the discrete update has no near-tie
        Yn, Yo = labels(rng, n_new, C, multi), labels(rng, n_old, C, multi)
        Vo = pm1(rng, (n_old, K))
        Ytr = np.concatenate([Yn, Yo]) if in_train else Yn
        N = len(Ytr)
        V = pm1(rng, (N, K))  # state "codes" (rows >= n_new unused with IN_TRAIN)
        idx = rng.choice(N, B, replace=False)
        Y = Ytr[idx]
        U = codes_in(rng, B, K)
        Bdb = np.concatenate([V[:n_new], Vo]).astype(np.float64)
        Ydb = np.concatenate([Yn, Yo]).astype(np.float64)
        n = len(Bdb)
        # r over the block of every training row (m = min(N, 2000) = N) against all n rows
        r = ratio(Ytr.astype(np.float64), Ydb)
        St = np.where((Y @ Ydb.T) > 0, 1.0, -r)
        Bt = Bdb[idx]  # row j of [B_new; B_old]: new item j, or fixed row j - n_new
        u = t64(U, True)
        L = (((u @ t64(Bdb).T - K * t64(St)) ** 2).sum() + gamma * ((u - t64(Bt)) ** 2).sum()
             + mu * u.sum()) / (n * B)
        L.backward()
        # B_new update (docs/methods.md#dihn): r over the m x n block of the sampled rows, P = K S~[:, new]^T U
        # + gamma Ubar_new (replayed old rows have no new row), DCC over k = 1..K in order
        U64 = U.astype(np.float64)
        r2 = ratio(Y.astype(np.float64), Ydb)
        S2 = np.where((Y @ Yn.T) > 0, 1.0, -r2)
        P = K * S2.T @ U64
        for i, j in enumerate(idx):
            if j < n_new:
                P[j] += gamma * U64[i]
        Vn = V[:n_new].astype(np.float64)
        margin = np.inf
        for k in range(K):
            w = U64.T @ U64[:, k]
            w[k] = 0
            a = P[:, k] - Vn @ w
            margin = min(margin, np.abs(a).min())
            Vn[:, k] = np.where(a >= 0, 1.0, -1.0)
        if margin > 1e-2:
            break
    else:
        raise RuntimeError("no tie-free draw")
    after = V.copy()
    after[:n_new] = Vn
    ex = [("opt:n_train", [N]), ("codes", V), ("init:train_labels", Ytr)]
    if n_old:
        ex += [("fixed:codes", Vo), ("fixed:labels", Yo), ("fixed:flags", [1 if in_train else 0])]
    ex += [("indices", idx), ("update:codes", after)]
    write(name, U, Y, L.item(), u.grad.numpy(), ex)


# ---------------------------------------------------------------------------
# DIH (docs/methods.md#dih)
# ---------------------------------------------------------------------------

def vote(T, fill, Y):
    """Multi-label center (docs/methods.md#hash-centers): sgn(sum of the class targets), exact zeros from fill."""
    s = Y @ T
    return torch.where(s > 0, 1.0, torch.where(s < 0, -1.0, fill.expand_as(s)))


def dih_case(name, rng, B, K, C, multi):
    U, Y = codes_in(rng, B, K), labels(rng, B, C, multi)
    if multi:  # a row with two classes is guaranteed to tie somewhere: exercise the fill
        Y[1, :] = 0
        Y[1, [0, 1]] = 1
    T, fill = pm1(rng, (C, K)), pm1(rng, K)
    u = t64(U, True)
    L = ((u - vote(t64(T), t64(fill), t64(Y))) ** 2).mean()
    L.backward()
    write(name, U, Y, L.item(), u.grad.numpy(), [("centers", T), ("center_fill", fill)])


# ---------------------------------------------------------------------------
# class-balanced weights, LTHNet, dual proxies (docs/methods.md#long-tail)
# ---------------------------------------------------------------------------

def cb_weights(counts, beta):
    """docs/methods.md#lthnet: w_c = (1 - beta) / (1 - beta^n_c), divided by max_c w_c (1 for beta = 0)."""
    n = torch.tensor(counts, dtype=DT)
    w = (1 - beta) / (1 - beta ** n) if beta > 0 else torch.ones_like(n)
    return w / w.max()


def weighted_ce(logits, Y, w):
    """(1/B) sum_i w_i CE(softmax(a_i), q_i): for one-hot y this is docs/methods.md#lthnet's
    -(1/B) sum_i sum_c y_ic w_c log p_ic; multi-label rows use q_i = y_i / |y_i| and
    w_i = mean of their classes' w_c (libdh convention, docs/methods.md "Long-tail")."""
    q = Y / Y.sum(1, keepdim=True)
    wi = (Y * w).sum(1) / Y.sum(1)
    return (wi * -(q * F.log_softmax(logits, 1)).sum(1)).mean()


def quant(u, lam):
    return lam * ((u.abs() - 1) ** 2).mean() if lam else 0


COUNTS = [600, 200, 60, 20, 6]


def lthnet_case(name, rng, B, K, C, multi, opts):
    """opts: None for the defaults (cb_beta 0.999, quant_weight 0), else overrides."""
    beta, qw = (0.999, 0.0) if opts is None else (f32(opts["cb_beta"]), f32(opts["quant_weight"]))
    U, Y = codes_in(rng, B, K), labels(rng, B, C, multi)
    a = 1 / np.sqrt(K)
    W = rng.uniform(-a, a, (C, K)).astype(np.float32) * 3  # sharper logits than the init
    bias = rng.uniform(-a, a, C).astype(np.float32)
    u, Wt, bt = t64(U, True), t64(W, True), t64(bias, True)
    L = weighted_ce(u @ Wt.T + bt, t64(Y), cb_weights(COUNTS[:C], beta)) + quant(u, qw)
    L.backward()
    ex = [] if opts is None else [("opt:cb_beta", [beta]), ("opt:quant_weight", [qw])]
    ex += [("classifier.weight", W), ("classifier.bias", bias),
           ("init:class_counts", COUNTS[:C]),
           ("grad:classifier.weight", Wt.grad.numpy()), ("grad:classifier.bias", bt.grad.numpy())]
    write(name, U, Y, L.item(), u.grad.numpy(), ex)


def dualproxy_case(name, rng, B, K, C, multi, opts):
    """docs/methods.md dualproxy (libdh's reconstruction, docs/methods.md#dualproxy):
    L = (1/B) sum_i w_i [CE(u^ F^T / tau, q_i) + lh CE(b^ h^T / tau, q_i)]
        + la (1/C) sum_c (1 - F^_c . h^_c) + lq mean (|u| - 1)^2,
    h = tanh(H), b = sgn(u) straight-through, ^ = row-normalised."""
    if opts is None:  # defaults
        beta, tau, lh, la, lq = 0.999, 0.2, 1.0, 0.1, 0.01
    else:
        beta, tau, lh, la, lq = (f32(opts[k]) for k in
                                 ("cb_beta", "tau", "center_weight", "pair_weight",
                                  "quant_weight"))
    U, Y = codes_in(rng, B, K), labels(rng, B, C, multi)
    Fp = rng.normal(size=(C, K)).astype(np.float32)
    H = (1.5 * pm1(rng, (C, K)) + rng.uniform(-0.6, 0.6, (C, K))).astype(np.float32)
    u, Ft, Ht = t64(U, True), t64(Fp, True), t64(H, True)
    Yt, w = t64(Y), cb_weights(COUNTS[:C], beta)
    nrm = lambda x: F.normalize(x, dim=1)  # noqa: E731
    b = u + (sgn(u) - u).detach()
    h = torch.tanh(Ht)
    L = (weighted_ce(nrm(u) @ nrm(Ft).T / tau, Yt, w)
         + lh * weighted_ce(nrm(b) @ nrm(h).T / tau, Yt, w)
         + la * (1 - (nrm(Ft) * nrm(h)).sum(1)).mean() + quant(u, lq))
    L.backward()
    ex = [] if opts is None else [("opt:" + k, [f32(v)]) for k, v in opts.items()]
    ex += [("feature_proxies", Fp), ("hash_proxies", H), ("init:class_counts", COUNTS[:C]),
           ("grad:feature_proxies", Ft.grad.numpy()), ("grad:hash_proxies", Ht.grad.numpy())]
    write(name, U, Y, L.item(), u.grad.numpy(), ex)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(2027)
    K, C = 16, 5
    dihn_case("dihn_fixed", rng, 12, K, C, n_new=20, n_old=30, in_train=False, multi=False)
    dihn_case("dihn_intrain", rng, 12, K, C, n_new=20, n_old=30, in_train=True, multi=True)
    dihn_case("dihn_nofixed", rng, 10, K, C, n_new=24, n_old=0, in_train=False, multi=True)
    dih_case("dih_single", rng, 12, K, C, multi=False)
    dih_case("dih_multi", rng, 12, K, C, multi=True)
    lthnet_case("lthnet_single", rng, 12, K, C, multi=False, opts=None)
    lthnet_case("lthnet_multi", rng, 12, K, C, multi=True,
                opts={"cb_beta": 0.9, "quant_weight": 0.1})
    dualproxy_case("dualproxy_single", rng, 12, K, C, multi=False, opts=None)
    dualproxy_case("dualproxy_multi", rng, 12, K, C, multi=True,
                   opts={"cb_beta": 0.9, "tau": 0.3, "center_weight": 0.7,
                         "pair_weight": 0.2, "quant_weight": 0.05})


if __name__ == "__main__":
    main()

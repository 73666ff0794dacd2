#!/usr/bin/env python3
"""Generate golden vectors for libdh's special-setting modules with PyTorch.

    /usr/bin/python3 tests/golden/gen_special_nn_golden.py [outdir]   (default tests/golden/special)

You only need this to regenerate the vectors: tests/check_head_special_golden.c
reads the stored files. The modules are written again here in float64 from their
documented maths (lib/hash/head_attn.h, lib/hash/head_part.c, lib/hash/hash.h and
docs/methods.md#lthnet, #semicon-lite and #exchnet-parts). libdh is never called. Gradients come from
torch.autograd.

  attn_*  SEMICON-lite pool (DH_FMAP_POOL_ATTN), F [n, C, h, w] -> Z [n, C (T + 1)]:
          g = mean_p F;  s_k = S_k (w_k . F) + b_k,  a_k = softmax_p(s_k),
          l_k = sum_p a_k(p) F(:, p);  S_1 = 1,  S_{k+1} = S_k (2 - M_k),
          M_k = clip((a_k - mean a_k) / std(a_k)^0.15 + 1, 0, 2) for each image (unbiased
          std; M = 1 where std = 0), computed from a_k.detach(): no gradient flows
          through the masks.
  part_*  ExchNet-style parts (DH_FMAP_POOL_PART): as above with S = 1 and no masks,
          plus the diversity loss  aux = lambda (1/n) sum_i (1 - mean_{m<m'} H(a_m, a_m')),
          H(p, q) = ||sqrt p - sqrt q|| / sqrt 2. libdh's backward always adds the
          gradient of aux, so the stored gradients are those of sum(dout * Z) + aux.
  meta_*  LTHNet meta-embedding: v = f + tanh(f We^T + be) * (softmax(f Wa^T + ba) M),
          where M ("meta.memory") is a buffer with no gradient. The gradients are those
          of sum(dout * v). It also stores a memory refresh: from rows mem_f [r, D] with
          multi-hot labels mem_y [r, C], every class seen gets the mean of its rows
          (a row counts for each positive class), and an unseen class keeps its row.

Inputs and weights are drawn from numpy's default_rng with a fixed seed and rounded
to float32. The reference is then computed in float64 from those rounded values, so
it is the exact answer that libdh's float32 results are held to.

File format (little-endian), the same container as tests/golden/nn (gen_nn_golden.py):

    "DHGV0001"  u32 count, then per tensor:
    u16 name_len, name (utf-8), u8 ndim, ndim x i64 dims, prod(dims) x f32

Tensor names:
  input               pools: F [n, C, h, w];  meta: f [n, D]
  param:<name>        a parameter or buffer by libdh's name: fmap.weight [T, C],
                      fmap.bias [T]; meta.hallucinator.{weight,bias},
                      meta.selector.{weight,bias}, meta.memory
  aux_weight [1]      pools: the PART diversity weight lambda (0 for attn)
  output              Z [n, Dz] or v [n, D] (training forward; inference is identical)
  maps                pools: a_k [n, T, P]
  masks               attn: M_k [n, T, P] (also for the last map, which is unused)
  aux [1]             part: the aux loss value (already weighted)
  dout                upstream gradient, same shape as output
  dinput              d/d input
  grad:<name>         d/d parameter (none for meta.memory)
  mem_f, mem_y, mem_after   meta: the memory refresh above
"""
import os
import struct
import sys

import numpy as np
import torch

MASK_EXP = 0.15  # SEMICON's code (its paper says 0.3); DH__FMAP_MASK_EXP


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


def f32(a):
    """Round to float32, then hold as a float64 tensor (the exact values stored)."""
    return torch.from_numpy(np.asarray(a, dtype=np.float32).astype(np.float64))


def npy(t):
    return t.detach().numpy()


# ---- feature-map pools -------------------------------------------------------------

def semicon_mask(a):
    """M = clip((a - mean) / std^0.15 + 1, 0, 2) per row of a [n, P]; M = 1 where std = 0."""
    a = a.detach()
    mean = a.mean(dim=1, keepdim=True)
    sd = a.std(dim=1, keepdim=True) if a.shape[1] > 1 else torch.zeros_like(mean)
    den = sd.pow(MASK_EXP)
    safe = torch.where(den > 0, den, torch.ones_like(den))
    m = torch.clamp((a - mean) / safe + 1, 0, 2)
    return torch.where(den > 0, m, torch.ones_like(m))


def hellinger(p, q):
    return torch.sqrt(((p.sqrt() - q.sqrt()) ** 2).sum(dim=-1) / 2)


def fmap_pool(kind, F, W, b, aux_weight):
    """F [n, C, P] -> Z [n, C (T + 1)], maps [n, T, P], masks [n, T, P], aux."""
    n, C, P = F.shape
    T = W.shape[0]
    outs = [F.mean(dim=2)]
    S = torch.ones(n, P, dtype=F.dtype)
    maps, masks = [], []
    for k in range(T):
        if k > 0 and kind == "attn":
            S = S * (2 - masks[k - 1])
        s = torch.einsum("c,ncp->np", W[k], F) * S + b[k]
        a = torch.softmax(s, dim=1)
        outs.append(torch.einsum("np,ncp->nc", a, F))
        maps.append(a)
        masks.append(semicon_mask(a) if kind == "attn" else torch.ones_like(a))
    A = torch.stack(maps, dim=1)
    aux = torch.zeros((), dtype=F.dtype)
    if kind == "part" and T >= 2:
        hs = [hellinger(A[:, m], A[:, o]) for m in range(T) for o in range(m + 1, T)]
        aux = aux_weight * (1 - torch.stack(hs, dim=1).mean(dim=1)).mean()
    return torch.cat(outs, dim=1), A, torch.stack(masks, dim=1), aux


def pool_case(out, name, kind, n, C, h, w, T, seed, wscale=1.0, aux_weight=0.0, flat_first=False):
    rng = np.random.default_rng(seed)
    P = h * w
    x = f32(rng.standard_normal((n, C, h, w))).requires_grad_(True)
    Wv = rng.uniform(-1, 1, (T, C)) * wscale / np.sqrt(C)
    if flat_first:
        Wv[0] = 0  # map 0 flat: std 0, mask 1
    W = f32(Wv).requires_grad_(True)
    b = f32(0.3 * rng.standard_normal(T)).requires_grad_(True)
    Z, A, M, aux = fmap_pool(kind, x.reshape(n, C, P), W, b, aux_weight)
    dout = f32(rng.standard_normal(tuple(Z.shape)))
    ((Z * dout).sum() + aux).backward()
    res = [("input", npy(x)), ("param:fmap.weight", npy(W)), ("param:fmap.bias", npy(b)),
           ("aux_weight", np.array([aux_weight])), ("output", npy(Z)), ("maps", npy(A))]
    if kind == "attn":
        res.append(("masks", npy(M)))
    else:
        res.append(("aux", np.array([aux.item()])))
    res += [("dout", npy(dout)), ("dinput", x.grad.numpy()),
            ("grad:fmap.weight", W.grad.numpy()), ("grad:fmap.bias", b.grad.numpy())]
    if kind == "attn":
        clipped = int(((M == 0) | (M == 2)).sum())
        print(f"{name}: {clipped} of {M.numel()} mask values clipped")
    write(os.path.join(out, name + ".bin"), res)


# ---- LTHNet meta-embedding ---------------------------------------------------------

def meta_forward(f, Wa, ba, We, be, M):
    a = torch.softmax(f @ Wa.T + ba, dim=1)
    e = torch.tanh(f @ We.T + be)
    return f + e * (a @ M)


def memory_refresh(M, f, Y):
    M = M.clone()
    for c in range(M.shape[0]):
        rows = Y[:, c] > 0
        if rows.any():
            M[c] = f[rows].mean(dim=0)
    return M


def meta_case(out, name, n, C, D, seed, wscale=1.0, mscale=1.0):
    rng = np.random.default_rng(seed)
    bound = wscale / np.sqrt(D)
    f = f32(rng.standard_normal((n, D))).requires_grad_(True)
    Wa = f32(rng.uniform(-bound, bound, (C, D))).requires_grad_(True)
    ba = f32(rng.uniform(-bound, bound, C)).requires_grad_(True)
    We = f32(rng.uniform(-bound, bound, (D, D))).requires_grad_(True)
    be = f32(rng.uniform(-bound, bound, D)).requires_grad_(True)
    M = f32(mscale * rng.standard_normal((C, D)))
    v = meta_forward(f, Wa, ba, We, be, M)
    dout = f32(rng.standard_normal((n, D)))
    (v * dout).sum().backward()
    r = 2 * n + 1
    mf = f32(rng.standard_normal((r, D)))
    Y = (rng.uniform(size=(r, C)) < 0.35).astype(np.float64)
    Y[:, C - 1] = 0  # the last class is unseen: it keeps its row
    Y[0, 0] = 1
    mem_after = memory_refresh(M, mf, torch.from_numpy(Y))
    res = [("input", npy(f)), ("param:meta.hallucinator.weight", npy(Wa)),
           ("param:meta.hallucinator.bias", npy(ba)), ("param:meta.selector.weight", npy(We)),
           ("param:meta.selector.bias", npy(be)), ("param:meta.memory", npy(M)),
           ("output", npy(v)), ("dout", npy(dout)), ("dinput", f.grad.numpy()),
           ("grad:meta.hallucinator.weight", Wa.grad.numpy()),
           ("grad:meta.hallucinator.bias", ba.grad.numpy()),
           ("grad:meta.selector.weight", We.grad.numpy()),
           ("grad:meta.selector.bias", be.grad.numpy()),
           ("mem_f", npy(mf)), ("mem_y", Y), ("mem_after", npy(mem_after))]
    write(os.path.join(out, name + ".bin"), res)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "special")
    os.makedirs(out, exist_ok=True)
    torch.set_default_dtype(torch.float64)
    # attn: moderate maps; sharp maps (masks clip at 0 and 2); a flat first map (std 0)
    pool_case(out, "attn_basic", "attn", 3, 6, 3, 4, 3, seed=101, wscale=2.0)
    pool_case(out, "attn_sharp", "attn", 2, 5, 4, 4, 4, seed=102, wscale=12.0)
    pool_case(out, "attn_flat_first", "attn", 2, 4, 2, 3, 3, seed=103, wscale=3.0,
              flat_first=True)
    # part: without and with the diversity loss
    pool_case(out, "part_plain", "part", 3, 6, 3, 4, 4, seed=201, wscale=3.0)
    pool_case(out, "part_diversity", "part", 3, 5, 3, 3, 3, seed=202, wscale=4.0,
              aux_weight=2.5)
    # meta: LTHNet-like scales; sharper hallucinator and a larger memory
    meta_case(out, "meta_basic", 4, 5, 7, seed=301)
    meta_case(out, "meta_sharp", 5, 6, 12, seed=302, wscale=4.0, mscale=2.0)
    files = sorted(os.listdir(out))
    total = sum(os.path.getsize(os.path.join(out, f)) for f in files)
    print(f"wrote {len(files)} files, {total} bytes to {out}")


if __name__ == "__main__":
    main()

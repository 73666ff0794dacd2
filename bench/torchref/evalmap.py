"""Tie-aware mAP@all in numpy (docs/methods.md#ties), independent of libdh's evaluator."""
import numpy as np


def map_tie_aware(qc, dc, ql, dl, chunk=500):
    """qc, dc: +-1 int8 rows. Expected AP over random orders within each Hamming
    distance; AP = 0 for queries without a relevant item. Per distance group h:
    sum_{t=1..n} (R< + 1 + (t-1) f)/(N< + t), f = (r-1)/(n-1), with harmonic numbers."""
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

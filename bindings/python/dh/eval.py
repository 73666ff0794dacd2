"""Retrieval metrics: mAP@K / mAP@all, P@N and R@N, precision-recall curves, and
precision within a Hamming radius (docs/eval.md).

Every function takes the query and database codes and labels as numpy arrays:

* codes: packed uint8 ``[n, ceil(K/8)]`` (LSB-first, libdh's order; K is 8 x columns
  unless the keyword ``n_bits=K`` says otherwise, any K in 1..4096; the padding bits
  of the last byte are ignored), or sign rows ``[n, K]`` of float32 / float64 / int8
  (x >= 0 is bit 1), or bool bits ``[n, K]``;
* labels: 1-D integers (one class id per item, negative = no label), or 2-D multi-hot
  rows ``[n, C]`` (uint8 / bool: nonzero is a label; float32 / float64: > 0 is a label).

Conventions are keyword arguments with the library's defaults: ``ties="index"``
(database order inside a tie, what a stable sort gives) or ``"expected"`` (tie-aware
expected value); ``no_relevant="zero"`` (queries without relevant items score 0 and
count), ``"skip"`` or ``"skip_unlabeled"``.
"""
import ctypes
from collections import namedtuple

import numpy as np

from ._lib import c_f64_p, c_u8_p, fn

__all__ = ["mean_average_precision", "precision_at_n", "pr_curve", "hamming_ball",
           "evaluate", "PRCurve", "TIES", "NO_RELEVANT"]

TIES = {"index": 0, "expected": 1}
NO_RELEVANT = {"zero": 0, "skip": 1, "skip_unlabeled": 2}
_LABELS_CLASS, _LABELS_U8, _LABELS_F32 = 0, 1, 2

ProgressFn = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_double, ctypes.c_void_p)


class _Options(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("n_bits", ctypes.c_uint32),
                ("ties", ctypes.c_int32), ("topk", ctypes.c_uint64),
                ("no_relevant", ctypes.c_int32), ("radius", ctypes.c_uint32),
                ("label_type", ctypes.c_int32), ("n_classes", ctypes.c_uint32),
                ("n_threads", ctypes.c_uint32), ("reserved0", ctypes.c_uint32),
                ("progress", ProgressFn), ("progress_user", ctypes.c_void_p)]


_opt_p = ctypes.POINTER(_Options)
_u64_p = ctypes.POINTER(ctypes.c_uint64)
_data = [_opt_p, c_u8_p, ctypes.c_void_p, ctypes.c_size_t, c_u8_p, ctypes.c_void_p,
         ctypes.c_size_t]
_init = fn("dh_eval_options_init", [_opt_p], None)
_map = fn("dh_eval_map", _data + [c_f64_p, c_f64_p])
_pan = fn("dh_eval_precision_at_n", _data + [_u64_p, ctypes.c_size_t, c_f64_p, c_f64_p])
_pr = fn("dh_eval_pr_curve", _data + [c_f64_p, c_f64_p])
_ball = fn("dh_eval_hamming_ball", _data + [c_f64_p, c_f64_p, c_f64_p])
_all = fn("dh_eval_all", _data + [_u64_p, ctypes.c_size_t] + [c_f64_p] * 9)

PRCurve = namedtuple("PRCurve", "x precision recall")
PRCurve.__doc__ = ("Precision-recall curve: x holds the Hamming radii 0..K (by='radius') "
                   "or the cut-off ranks (by='rank').")

_PACKERS = {np.dtype(np.float32): ("dh_codes_pack_float", ctypes.c_float),
            np.dtype(np.float64): ("dh_codes_pack_double", ctypes.c_double),
            np.dtype(np.int8): ("dh_codes_pack_int8", ctypes.c_int8)}


def _codes(a, name, n_bits=None):
    """Packed uint8 codes [n, ceil(K/8)] and K (n_bits, else 8 x columns for packed rows)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array, got {type(a).__name__}")
    if a.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array [n, ceil(K/8)] or [n, K], "
                         f"got shape {a.shape}")
    if a.dtype == np.uint8:
        if n_bits is not None and a.shape[1] != (int(n_bits) + 7) // 8:
            raise ValueError(f"{name}: packed rows of {a.shape[1]} bytes, but {n_bits}-bit "
                             f"codes have {(int(n_bits) + 7) // 8}")
        return np.ascontiguousarray(a), 8 * a.shape[1] if n_bits is None else int(n_bits)
    if n_bits is not None and a.shape[1] != int(n_bits):
        raise ValueError(f"{name}: sign rows of {a.shape[1]} columns, but n_bits = {n_bits}")
    if a.dtype == np.bool_:
        return np.packbits(a, axis=1, bitorder="little"), a.shape[1]
    if a.dtype not in _PACKERS:
        raise TypeError(f"{name}: codes must be packed uint8, bool bits or float32/float64/int8 "
                        f"sign rows, got {a.dtype}")
    a = np.ascontiguousarray(a)
    n, k = a.shape
    sym, ctype = _PACKERS[a.dtype]
    try:
        pack = fn(sym, [ctypes.POINTER(ctype), ctypes.c_size_t, ctypes.c_uint32,
                        ctypes.c_uint32, c_u8_p])
    except AttributeError:  # a libdh without the index section's packers
        if a.dtype.kind == "f" and np.isnan(a).any():
            raise ValueError(f"{name}: NaN in sign rows") from None
        return np.packbits(a >= 0, axis=1, bitorder="little"), k
    out = np.empty((n, (k + 7) // 8), np.uint8)
    pack(a.ctypes.data_as(ctypes.POINTER(ctype)), n, k, 0, out.ctypes.data_as(c_u8_p))
    return out, k


def _labels(a, name):
    """(array, DH_LABELS_* type, n_classes) for query or database labels."""
    a = np.asarray(a)
    if a.ndim == 1:
        if a.dtype.kind not in "iu":
            raise TypeError(f"{name}: 1-D labels must be integer class ids, got {a.dtype}")
        if a.size and (a.max() > np.iinfo(np.int32).max or a.min() < np.iinfo(np.int32).min):
            raise ValueError(f"{name}: class ids must fit in int32")
        return np.ascontiguousarray(a, dtype=np.int32), _LABELS_CLASS, 0
    if a.ndim != 2:
        raise ValueError(f"{name}: labels must be 1-D class ids or 2-D multi-hot rows, "
                         f"got shape {a.shape}")
    if a.dtype in (np.uint8, np.bool_):
        return np.ascontiguousarray(a).view(np.uint8), _LABELS_U8, a.shape[1]
    if a.dtype.kind == "f":
        return np.ascontiguousarray(a, dtype=np.float32), _LABELS_F32, a.shape[1]
    if a.dtype.kind in "iu":
        return np.ascontiguousarray(a != 0).view(np.uint8), _LABELS_U8, a.shape[1]
    raise TypeError(f"{name}: unsupported label dtype {a.dtype}")


class _Call:
    """Marshalled arguments of one evaluation (kept alive for the C call)."""

    def __init__(self, qc, dc, ql, dl, topk=None, ties="index", no_relevant="zero", radius=2,
                 n_threads=0, progress=None, n_bits=None):
        self.qc, k = _codes(qc, "query_codes", n_bits)
        self.dc, kd = _codes(dc, "db_codes", n_bits)
        if k != kd:
            raise ValueError(f"query codes have {k} bits but database codes {kd}")
        self.ql, qt, qcls = _labels(ql, "query_labels")
        self.dl, dt, dcls = _labels(dl, "db_labels")
        if qt != dt or qcls != dcls:
            if {qt, dt} <= {_LABELS_U8, _LABELS_F32} and qcls == dcls:
                self.ql = np.ascontiguousarray(self.ql, dtype=np.float32)
                self.dl = np.ascontiguousarray(self.dl, dtype=np.float32)
                qt = dt = _LABELS_F32
            else:
                raise ValueError("query and database labels must have the same form "
                                 f"(got {ql.shape} {ql.dtype} and {dl.shape} {dl.dtype})")
        for codes, labels, what in ((self.qc, self.ql, "query"), (self.dc, self.dl, "db")):
            if codes.shape[0] != labels.shape[0]:
                raise ValueError(f"{what}: {codes.shape[0]} codes but {labels.shape[0]} labels")
        if ties not in TIES:
            raise ValueError(f"ties must be one of {sorted(TIES)}, got {ties!r}")
        if no_relevant not in NO_RELEVANT:
            raise ValueError(f"no_relevant must be one of {sorted(NO_RELEVANT)}, "
                             f"got {no_relevant!r}")
        self.o = _Options()
        _init(ctypes.byref(self.o))
        self.o.n_bits, self.o.ties, self.o.no_relevant = k, TIES[ties], NO_RELEVANT[no_relevant]
        self.o.topk = 0 if topk is None else int(topk)
        self.o.radius, self.o.n_threads = int(radius), int(n_threads)
        self.o.label_type, self.o.n_classes = qt, qcls
        self.error = None
        if progress is not None:
            def cb(frac, _user):
                try:
                    return 1 if progress(frac) else 0
                except BaseException as e:  # stop, and re-raise after the C call
                    self.error = e
                    return 1
            self._cb = ProgressFn(cb)
            self.o.progress = self._cb
        self.n_bits = k

    def args(self):
        return (ctypes.byref(self.o), self.qc.ctypes.data_as(c_u8_p), self.ql.ctypes.data,
                self.qc.shape[0], self.dc.ctypes.data_as(c_u8_p), self.dl.ctypes.data,
                self.dc.shape[0])

    def run(self, f, *out):
        try:
            f(*self.args(), *out)
        except Exception:
            if self.error is not None:
                raise self.error
            raise


def _p(a):
    return None if a is None else a.ctypes.data_as(c_f64_p)


def _cutoffs(ns):
    ns = np.ascontiguousarray(np.atleast_1d(np.asarray(ns)), dtype=np.uint64)
    if ns.ndim != 1 or ns.size == 0:
        raise ValueError("ns: expected one or more cut-off ranks")
    return ns


def mean_average_precision(query_codes, db_codes, query_labels, db_labels, topk=None,
                           ties="index", no_relevant="zero", per_query=False, n_threads=0,
                           progress=None, n_bits=None):
    """mAP@topk (topk None or 0: over the whole database). With per_query=True returns
    (mAP, AP per query), NaN for queries left out by `no_relevant`. `progress(fraction)`
    is called now and then; returning True stops (DhError, status DH_E_INTERRUPTED)."""
    c = _Call(query_codes, db_codes, query_labels, db_labels, topk, ties, no_relevant,
              n_threads=n_threads, progress=progress, n_bits=n_bits)
    m = ctypes.c_double()
    ap = np.empty(c.qc.shape[0]) if per_query else None
    c.run(_map, ctypes.byref(m), _p(ap))
    return (m.value, ap) if per_query else m.value


def precision_at_n(query_codes, db_codes, query_labels, db_labels, ns, ties="index",
                   no_relevant="zero", n_threads=0, n_bits=None):
    """(precision, recall) arrays at the cut-off ranks `ns` (an int or a sequence)."""
    c = _Call(query_codes, db_codes, query_labels, db_labels, None, ties, no_relevant,
              n_threads=n_threads, n_bits=n_bits)
    ns = _cutoffs(ns)
    p, r = np.empty(ns.size), np.empty(ns.size)
    c.run(_pan, ns.ctypes.data_as(_u64_p), ns.size, _p(p), _p(r))
    return p, r


def pr_curve(query_codes, db_codes, query_labels, db_labels, by="radius", points=None,
             ties="index", no_relevant="zero", n_threads=0, n_bits=None):
    """Precision-recall curve by Hamming radius (x = 0..K) or by rank (x = `points`,
    default every 100th rank and the last)."""
    c = _Call(query_codes, db_codes, query_labels, db_labels, None, ties, no_relevant,
              n_threads=n_threads, n_bits=n_bits)
    if by == "radius":
        p, r = np.empty(c.n_bits + 1), np.empty(c.n_bits + 1)
        c.run(_pr, _p(p), _p(r))
        return PRCurve(np.arange(c.n_bits + 1), p, r)
    if by != "rank":
        raise ValueError(f"by must be 'radius' or 'rank', got {by!r}")
    n_db = c.dc.shape[0]
    if points is None:
        points = np.unique(np.append(np.arange(100, n_db + 1, 100), n_db))
    ns = _cutoffs(points)
    p, r = np.empty(ns.size), np.empty(ns.size)
    c.run(_pan, ns.ctypes.data_as(_u64_p), ns.size, _p(p), _p(r))
    return PRCurve(ns.astype(np.int64), p, r)


def hamming_ball(query_codes, db_codes, query_labels, db_labels, radius=2,
                 no_relevant="zero", n_threads=0, n_bits=None):
    """P@H<=radius: dict(precision, recall, empty_fraction); an empty ball scores 0."""
    c = _Call(query_codes, db_codes, query_labels, db_labels, None, "index", no_relevant,
              radius=radius, n_threads=n_threads, n_bits=n_bits)
    v = np.zeros(3)
    c.run(_ball, _p(v[0:1]), _p(v[1:2]), _p(v[2:3]))
    return {"precision": float(v[0]), "recall": float(v[1]), "empty_fraction": float(v[2])}


def evaluate(query_codes, db_codes, query_labels, db_labels, topk=None, ns=(100, 1000),
             radius=2, ties="index", no_relevant="zero", per_query=False, n_threads=0,
             progress=None, n_bits=None):
    """Every metric in one pass over the data, as a dict: map, precision_at_n and
    recall_at_n ({N: value}), pr_precision / pr_recall (by radius 0..K),
    ball_precision / ball_recall / ball_empty_fraction, ap (with per_query=True), and
    the conventions used."""
    c = _Call(query_codes, db_codes, query_labels, db_labels, topk, ties, no_relevant,
              radius=radius, n_threads=n_threads, progress=progress, n_bits=n_bits)
    ns = _cutoffs(ns) if ns is not None and len(np.atleast_1d(ns)) else None
    m = ns.size if ns is not None else 0
    out = np.zeros(4 + 2 * m + 2 * (c.n_bits + 1))
    ap = np.empty(c.qc.shape[0]) if per_query else None
    pn, rn = out[4:4 + m], out[4 + m:4 + 2 * m]
    pp = out[4 + 2 * m:4 + 2 * m + c.n_bits + 1]
    pr = out[4 + 2 * m + c.n_bits + 1:]
    c.run(_all, None if ns is None else ns.ctypes.data_as(_u64_p), m,
          _p(out[0:1]), _p(ap), _p(pn) if m else None, _p(rn) if m else None, _p(pp), _p(pr),
          _p(out[1:2]), _p(out[2:3]), _p(out[3:4]))
    res = {"map": float(out[0]), "topk": c.o.topk or c.dc.shape[0],
           "precision_at_n": {int(n): float(v) for n, v in zip(ns if m else [], pn)},
           "recall_at_n": {int(n): float(v) for n, v in zip(ns if m else [], rn)},
           "pr_precision": pp.copy(), "pr_recall": pr.copy(), "radius": int(radius),
           "ball_precision": float(out[1]), "ball_recall": float(out[2]),
           "ball_empty_fraction": float(out[3]), "ties": ties, "no_relevant": no_relevant}
    if per_query:
        res["ap"] = ap
    return res


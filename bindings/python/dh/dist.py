"""dh.dist: libdh across MPI processes (libdh_mpi, include/dh_mpi.h; docs/scale.md).

Needs mpi4py (Debian: python3-mpi4py) and libdh_mpi.so, found through the
environment variable DH_MPI_LIBRARY, beside libdh (lib/dist/ of a build tree), next to
this package, or the system loader (libdh_mpi.so.1). Run the script under mpirun:

    mpirun -np 4 python3 script.py

    from mpi4py import MPI
    import dh, dh.dist
    shard = dh.dist.Shard(MPI.COMM_WORLD, path="shards/db-%d.dhi")  # rank r: shard r
    D, I = shard.search(queries, k=100)          # results on rank 0, None elsewhere
    res = dh.dist.evaluate(MPI.COMM_WORLD, q_codes, my_db_codes, q_labels, my_db_labels)
    dh.dist.data_parallel(trainer, MPI.COMM_WORLD)   # then trainer.run() on every rank

Every call is collective: all ranks of the communicator make it, in the same order.
A failure on any rank raises DhError on every rank ("rank R: ..."), never a hang.
"""
import ctypes
import os

import numpy as np
from mpi4py import MPI

from . import eval as _eval
from ._lib import DhError, c_f64_p, c_i32_p, c_i64_p, c_size_p, c_u8_p, last_error, lib
from .index import Index

ALL = -1  # root=ALL: queries on every rank, results on every rank (DH_DIST_ALL)
CONTIGUOUS, STRIDED = 0, 1


def _candidates():
    env = os.environ.get("DH_MPI_LIBRARY")
    if env:
        yield env
        return
    libdh = os.environ.get("DH_LIBRARY")
    if libdh:
        yield os.path.join(os.path.dirname(libdh), "lib", "dist", "libdh_mpi.so.1")
        yield os.path.join(os.path.dirname(libdh), "libdh_mpi.so.1")
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.path.join(here, "libdh_mpi.so.1")
    root = os.path.abspath(os.path.join(here, "..", "..", ".."))
    yield os.path.join(root, "build", "lib", "dist", "libdh_mpi.so.1")
    yield "libdh_mpi.so.1"


def _load():
    tried = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path}: {e}")
    raise OSError("libdh_mpi not found (build libdh with DH_WITH_MPI=ON, or set "
                  "DH_MPI_LIBRARY). Tried: " + "; ".join(tried or ["(no candidate existed)"]))


mlib = _load()
# MPI_Comm is a pointer in Open MPI and an int in MPICH: pass the handle as it is.
_comm_t = ctypes.c_void_p if MPI._sizeof(MPI.Comm) == ctypes.sizeof(ctypes.c_void_p) \
    else ctypes.c_int
_vp, _size, _u32 = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint32


def _comm(comm):
    return _comm_t.from_address(MPI._addressof(comm))


def _check(result, func, args):
    if result != 0:
        raise DhError(int(result), last_error(), func.__name__)
    return result


def _fn(name, argtypes, restype=None):
    f = getattr(mlib, name)
    f.argtypes = argtypes
    if restype is None:
        f.restype = ctypes.c_int32
        f.errcheck = _check
    else:
        f.restype = restype
    return f


_create = _fn("dh_dist_shard_create", [_comm_t, _vp, ctypes.POINTER(_vp)])
_open = _fn("dh_dist_shard_open", [_comm_t, ctypes.c_char_p, ctypes.POINTER(_vp)])
mlib.dh_dist_shard_free.argtypes = [_vp]
mlib.dh_dist_shard_free.restype = None
_total = _fn("dh_dist_shard_total", [_vp], ctypes.c_uint64)
_count = _fn("dh_dist_shard_count", [_vp], ctypes.c_uint64)
_n_bits = _fn("dh_dist_shard_n_bits", [_vp], ctypes.c_uint32)
_layout = _fn("dh_dist_shard_layout", [_vp], ctypes.c_int32)
_search = _fn("dh_dist_search", [_vp, c_u8_p, _size, _u32, ctypes.c_int, c_i32_p, c_i64_p])
_range = _fn("dh_dist_range_search", [_vp, c_u8_p, _size, _u32, ctypes.c_int,
                                       ctypes.POINTER(_vp)])
_eval_fn = _fn("dh_dist_eval", [_comm_t, ctypes.c_void_p, c_u8_p, ctypes.c_void_p, _size,
                                c_u8_p, ctypes.c_void_p, _size, ctypes.POINTER(ctypes.c_uint64),
                                _size] + [c_f64_p] * 9)
lib.dh_range_result_n_queries.restype = _size
lib.dh_range_result_n_hits.restype = _size
lib.dh_range_result_lims.restype = c_size_p
lib.dh_range_result_ids.restype = c_i64_p
lib.dh_range_result_distances.restype = c_i32_p
for _f in ("dh_range_result_n_queries", "dh_range_result_n_hits", "dh_range_result_lims",
           "dh_range_result_ids", "dh_range_result_distances", "dh_range_result_free"):
    getattr(lib, _f).argtypes = [_vp]
lib.dh_range_result_free.restype = None


class Shard:
    """This rank's shard of a database spread over `comm` (collective).

    Shard(comm, index=ix)  wrap a dh.Index (kept alive by the shard) as rank r's block
                           of consecutive rows (None: an empty shard)
    Shard(comm, path=p)    open it from a file: "db-%d.dhi" = one file per rank;
                           a name without %d = every rank keeps rows r::size of it
    """

    def __init__(self, comm, index=None, path=None):
        self.comm = comm
        self._index = index  # keep the borrowed index alive
        h = _vp()
        if path is not None:
            _open(_comm(comm), os.fsencode(path), ctypes.byref(h))
        else:
            _create(_comm(comm), index._handle() if index is not None else None,
                    ctypes.byref(h))
        self._h = h

    def close(self):
        """Collective: free the shard (and its duplicated communicator)."""
        if self._h:
            mlib.dh_dist_shard_free(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def total(self):
        """Rows of the whole (all ranks') index."""
        return int(_total(self._h))

    @property
    def count(self):
        """Rows this rank's shard holds."""
        return int(_count(self._h))

    @property
    def n_bits(self):
        """Code length in bits."""
        return int(_n_bits(self._h))

    @property
    def layout(self):
        """'contiguous' (consecutive row blocks) or 'strided' (rows r::P)."""
        return "strided" if _layout(self._h) == STRIDED else "contiguous"

    def _q(self, queries, root):
        if root not in (ALL, self.comm.Get_rank()):
            return None, 0
        q = np.ascontiguousarray(queries, dtype=np.uint8)
        cb = (self.n_bits + 7) // 8  # ceil(K/8): any K in 1..4096
        if q.ndim != 2 or q.shape[1] != cb:
            raise ValueError(f"queries: expected packed uint8 rows of {cb} "
                             f"bytes, got shape {q.shape}")
        return q, q.shape[0]

    def search(self, queries, k, root=0):
        """Exact k-NN over every shard, as Index.search on one index holding every row:
        (D int32 [nq, k], I int64 [nq, k]) on root (every rank with root=ALL), (None,
        None) elsewhere. Queries (packed uint8 rows) are read on root only."""
        q, nq = self._q(queries, root)
        recv = root in (ALL, self.comm.Get_rank())
        nq = self.comm.bcast(nq, root=root) if root != ALL else nq
        D = np.empty((nq, k), np.int32) if recv else None
        I = np.empty((nq, k), np.int64) if recv else None
        _search(self._h, None if q is None else q.ctypes.data_as(c_u8_p), nq, int(k), root,
                None if D is None else D.ctypes.data_as(c_i32_p),
                None if I is None else I.ctypes.data_as(c_i64_p))
        return D, I

    def range_search(self, queries, radius, root=0):
        """Every row within distance radius (inclusive) over every shard: (lims, D, I) as
        Index.range_search on root, (None, None, None) elsewhere."""
        q, nq = self._q(queries, root)
        res = _vp()
        _range(self._h, None if q is None else q.ctypes.data_as(c_u8_p), nq, int(radius),
               root, ctypes.byref(res))
        if not res:
            return None, None, None
        try:
            n, hits = int(lib.dh_range_result_n_queries(res)), int(lib.dh_range_result_n_hits(res))
            lims = np.ctypeslib.as_array(lib.dh_range_result_lims(res), shape=(n + 1,))
            lims = lims.astype(np.int64)
            if hits:
                D = np.ctypeslib.as_array(lib.dh_range_result_distances(res), shape=(hits,)).copy()
                I = np.ctypeslib.as_array(lib.dh_range_result_ids(res), shape=(hits,)).copy()
            else:
                D, I = np.empty(0, np.int32), np.empty(0, np.int64)
        finally:
            lib.dh_range_result_free(res)
        return lims, D, I


def evaluate(comm, query_codes, db_codes, query_labels, db_labels, topk=None, ns=(100, 1000),
             radius=2, ties="index", no_relevant="zero", per_query=False, n_threads=0):
    """dh.eval.evaluate over a database held in parts (collective): rank r passes its
    part (db_codes/db_labels, rows in rank order; may be empty), every rank the same
    queries and options; every rank gets the dict dh.eval.evaluate gives for the whole
    database (ns are capped at the whole database's size)."""
    c = _eval._Call(query_codes, db_codes, query_labels, db_labels, topk, ties, no_relevant,
                    radius=radius, n_threads=n_threads)
    n_db = comm.allreduce(int(c.dc.shape[0]))
    ns = np.unique(np.minimum(np.atleast_1d(np.asarray(ns, dtype=np.uint64)), n_db)) \
        if ns is not None and len(np.atleast_1d(ns)) else None
    m = 0 if ns is None else ns.size
    out = np.zeros(4 + 2 * m + 2 * (c.n_bits + 1))
    ap = np.empty(c.qc.shape[0]) if per_query else None
    pn, rn = out[4:4 + m], out[4 + m:4 + 2 * m]
    pp = out[4 + 2 * m:4 + 2 * m + c.n_bits + 1]
    pr = out[4 + 2 * m + c.n_bits + 1:]

    def p(a):
        return None if a is None or a.size == 0 else a.ctypes.data_as(c_f64_p)
    nsp = None if ns is None else ns.ctypes.data_as(ctypes.POINTER(ctypes.c_uint64))
    _eval_fn(_comm(comm), ctypes.byref(c.o), c.qc.ctypes.data_as(c_u8_p), c.ql.ctypes.data,
             c.qc.shape[0], c.dc.ctypes.data_as(c_u8_p), c.dl.ctypes.data, c.dc.shape[0], nsp,
             m, p(out[0:1]), p(ap), p(pn), p(rn), p(pp), p(pr), p(out[1:2]), p(out[2:3]),
             p(out[3:4]))
    res = {"map": float(out[0]), "topk": c.o.topk or n_db,
           "precision_at_n": {int(n): float(v) for n, v in zip(ns if m else [], pn)},
           "recall_at_n": {int(n): float(v) for n, v in zip(ns if m else [], rn)},
           "pr_precision": pp.copy(), "pr_recall": pr.copy(), "radius": int(radius),
           "ball_precision": float(out[1]), "ball_recall": float(out[2]),
           "ball_empty_fraction": float(out[3]), "ties": ties, "no_relevant": no_relevant}
    if per_query:
        res["ap"] = ap
    return res


_set_comm = _fn("dh_trainer_set_comm", [_vp, _comm_t])


def data_parallel(trainer, comm):
    """Make a dh.Trainer one process of a data-parallel run over `comm` (collective;
    every rank builds the same trainer; docs/scale.md): U gathered, the loss on the
    whole batch, encoder/head gradients summed, rank 0 writes checkpoints."""
    _set_comm(trainer._h, _comm(comm))


__all__ = ["Shard", "evaluate", "data_parallel", "ALL", "Index"]

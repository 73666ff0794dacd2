#!/usr/bin/python3
"""Benchmark libdh's Hamming index against faiss.IndexBinaryFlat in one process.

Both sides index the same random codes and answer the same queries; the two are timed
alternately (libdh first on even repetitions, FAISS first on odd ones) and the best
of --reps runs is kept for each, so background load hits both alike. The distances
of every result must agree exactly (ids may differ inside ties: FAISS's tie order
is unspecified, libdh's is insertion order).

One line per case:
  n=1000000 K=64 k=100 threads=2 nq=1000 dh_qps=... faiss_qps=... dh_ns_pair=...
  faiss_ns_pair=... dist_match=yes ratio_vs_faiss 9.87
ratio_vs_faiss = FAISS time / libdh time (> 1: libdh is faster). ns_pair is wall
time per (query, code) pair. Run with Debian's /usr/bin/python3 (numpy + faiss);
libdh is found through DH_LIBRARY or a build folder (see dh._lib). Note: Debian's
faiss is a generic build without -mpopcnt.

  /usr/bin/python3 bench/bench_index.py --quick
  /usr/bin/python3 bench/bench_index.py                 # the full grid (minutes)
  /usr/bin/python3 bench/bench_index.py --n 1000000 --bits 64 --k 100 --threads 2
"""
import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bindings", "python"))

import dh  # noqa: E402

try:
    import faiss  # noqa: E402
except ImportError:  # pragma: no cover - reported, not hidden
    faiss = None


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, nargs="+", default=[100_000, 1_000_000],
                   help="database sizes (default 100000 1000000)")
    p.add_argument("--bits", type=int, nargs="+", default=[32, 64, 128, 256],
                   help="code lengths K (default 32 64 128 256)")
    p.add_argument("--k", type=int, nargs="+", default=[100, 1000],
                   help="neighbours (default 100 1000)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                   help="thread counts (default 1 2)")
    p.add_argument("--nq", type=int, default=1000, help="queries (default 1000)")
    p.add_argument("--reps", type=int, default=3,
                   help="repetitions per side, best kept (default 3)")
    p.add_argument("--isa", default=None,
                   help="force a libdh kernel set (scalar, avx2, avx512bw, avx512vpopcnt)")
    p.add_argument("--no-faiss", action="store_true", help="time libdh only")
    p.add_argument("--quick", action="store_true",
                   help="a quick subset: n=100000, K=64, k=100, threads 1 and 2, 2 reps")
    a = p.parse_args()
    if a.quick:
        a.n, a.bits, a.k, a.reps = [100_000], [64], [100], 2
    return a


def best_time(fn, reps):
    best = float("inf")
    out = None
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def run_case(ixs, q, n, K, k, threads, reps, use_faiss):
    dh_ix, fa_ix = ixs
    dh.set_num_threads(threads)
    if use_faiss:
        faiss.omp_set_num_threads(threads)
    t_dh = t_fa = float("inf")
    D_dh = D_fa = None
    for r in range(reps):  # alternate which side goes first
        order = ("dh", "fa") if r % 2 == 0 else ("fa", "dh")
        for side in order:
            if side == "dh":
                t, (D_dh, _) = best_time(lambda: dh_ix.search(q, k), 1)
                t_dh = min(t_dh, t)
            elif use_faiss:
                t, (D_fa, _) = best_time(lambda: fa_ix.search(q, k), 1)
                t_fa = min(t_fa, t)
    nq = q.shape[0]
    pairs = nq * n
    line = (f"n={n} K={K} k={k} threads={threads} nq={nq} isa={dh.isa_name(dh.get_isa())} "
            f"dh_qps={nq / t_dh:.0f} dh_ns_pair={t_dh * 1e9 / pairs:.3f}")
    if use_faiss:
        match = np.array_equal(D_dh, D_fa.astype(np.int32))
        line += (f" faiss_qps={nq / t_fa:.0f} faiss_ns_pair={t_fa * 1e9 / pairs:.3f}"
                 f" dist_match={'yes' if match else 'NO'} ratio_vs_faiss {t_fa / t_dh:.2f}")
        if not match:
            bad = np.argwhere(D_dh != D_fa)[0]
            line += f"  # first mismatch at {tuple(bad)}: {D_dh[tuple(bad)]} vs {D_fa[tuple(bad)]}"
    else:
        line += " ratio_vs_faiss nan"
    print(line, flush=True)
    return use_faiss and not match


def main():
    a = parse_args()
    use_faiss = faiss is not None and not a.no_faiss
    if faiss is None and not a.no_faiss:
        print("# faiss is not importable: timing libdh only", flush=True)
    if a.isa:
        dh.set_isa(a.isa)
    load = os.getloadavg()[0]
    print(f"# libdh {dh.version()} isa={dh.isa_name(dh.get_isa())} cpus={os.cpu_count()} "
          f"loadavg={load:.2f} (other processes share these cores: compare ratios, not absolutes)",
          flush=True)
    rng = np.random.default_rng(12345)
    failures = 0
    for n in a.n:
        for K in a.bits:
            db = rng.integers(0, 256, size=(n, K // 8), dtype=np.uint8)
            q = rng.integers(0, 256, size=(a.nq, K // 8), dtype=np.uint8)
            dh_ix = dh.Index(K, reserve=n)
            dh_ix.add(db)
            fa_ix = None
            if use_faiss:
                fa_ix = faiss.IndexBinaryFlat(K)
                fa_ix.add(db)
            for k in a.k:
                for th in a.threads:
                    failures += run_case((dh_ix, fa_ix), q, n, K, k, th, a.reps, use_faiss)
            dh_ix.close()
            del fa_ix
    if failures:
        print(f"# {failures} case(s) with mismatching distances", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

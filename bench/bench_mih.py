#!/usr/bin/python3
"""Benchmark libdh's multi-index hashing (MIH) against libdh's own linear scan and FAISS
(IndexBinaryMultiHash for radius search, IndexBinaryFlat for k-NN) in one process.

Data: clustered synthetic codes (n / 64 random centres; each code = a centre with 0..4
random bits flipped; the structure trained hash codes have) and uniform random codes
(the worst case for any hashing index: at these n the k-th neighbour is far, so MIH
must probe many buckets and the cost model falls back to the scan). Queries are
database codes with 0..2 bits flipped. For every case the sides run alternately, the
best of --reps is kept, and results are checked identical (libdh MIH vs libdh scan:
ids and distances in order; FAISS: the set of (id, distance) per query for radius
search, the distances for k-NN, since FAISS's tie order is unspecified).

One line per case:
  kind=clustered n=1000000 K=64 op=knn k=10 m=3 mih_qps=... scan_qps=... faiss_qps=...
  same=yes ratio_vs_scan 31.2 ratio_vs_faiss 85.0
ratio_vs_scan = libdh scan time / libdh MIH time (search_mode "auto": the cost model may
pick the scan); ratio_vs_faiss = FAISS time / libdh MIH time. A "build" line per index
gives the table build time (s per million codes) and the tables' memory over the
packed codes. FAISS MultiHash uses the same m tables of b = K // m bits and
nflip = r // m (exact by the pigeonhole principle), radius r + 1 (its bound is
exclusive, libdh's inclusive).

  /usr/bin/python3 bench/bench_mih.py --quick
  /usr/bin/python3 bench/bench_mih.py --n 1000000 --bits 32 64 128 --threads 2
  /usr/bin/python3 bench/bench_mih.py --n 10000000 --bits 64 --kinds clustered --nq 300
"""
import argparse
import os
import platform
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bindings", "python"))

import dh  # noqa: E402

try:
    import faiss  # noqa: E402
except ImportError:  # pragma: no cover
    faiss = None


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def flip_bits(codes, n_bits, max_flips, rng):
    """Flip 0..max_flips random bits of each packed row (in place)."""
    n = codes.shape[0]
    for f in range(max_flips):
        rows = np.nonzero(rng.integers(0, max_flips + 1, n) > f)[0]
        bits = rng.integers(0, n_bits, rows.shape[0])
        codes[rows, bits // 8] ^= (1 << (bits % 8)).astype(np.uint8)


def make_data(kind, n, n_bits, nq, seed):
    rng = np.random.default_rng(seed)
    cb = n_bits // 8
    if kind == "random":
        db = rng.integers(0, 256, (n, cb), dtype=np.uint8)
    else:
        cent = rng.integers(0, 256, (max(n // 64, 1), cb), dtype=np.uint8)
        db = cent[rng.integers(0, cent.shape[0], n)]
        flip_bits(db, n_bits, 4, rng)
    q = db[rng.integers(0, n, nq)].copy()
    flip_bits(q, n_bits, 2, rng)
    return np.ascontiguousarray(db), np.ascontiguousarray(q)


def best(fns, reps):
    """Run each fn reps times, alternating the order; best wall time and last result."""
    times = [float("inf")] * len(fns)
    res = [None] * len(fns)
    for r in range(reps):
        order = range(len(fns)) if r % 2 == 0 else reversed(range(len(fns)))
        for i in order:
            t = time.perf_counter()
            res[i] = fns[i]()
            times[i] = min(times[i], time.perf_counter() - t)
    return times, res


def range_sets(lims, D, I):
    return [sorted(zip(I[lims[i]:lims[i + 1]].tolist(), D[lims[i]:lims[i + 1]].tolist()))
            for i in range(len(lims) - 1)]


def run_case(kind, n, n_bits, args):
    db, q = make_data(kind, n, n_bits, args.nq, 1000 + n_bits)
    ix = dh.Index(n_bits)
    ix.add(db)
    t = time.perf_counter()
    ix.build_mih(args.m if args.m else "auto")
    build_s = time.perf_counter() - t
    m, rows, nbytes = ix.mih_info
    print(f"kind={kind} n={n} K={n_bits} op=build m={m} build_s={build_s:.3f} "
          f"s_per_million={build_s / (n / 1e6):.3f} mih_bytes={nbytes} "
          f"overhead_vs_codes {nbytes / db.nbytes:.3f}", flush=True)
    fb = fmh = None
    if faiss is not None:
        fb = faiss.IndexBinaryFlat(n_bits)
        fb.add(db)
        b = n_bits // m
        if b <= 63:
            fmh = faiss.IndexBinaryMultiHash(n_bits, m, b)
            fmh.add(db)

    def dh_knn(k, mode):
        def f():
            ix.set_search_mode(mode)
            return ix.search(q, k)
        return f

    def dh_range(r, mode):
        def f():
            ix.set_search_mode(mode)
            return ix.range_search(q, r)
        return f

    for r in args.radius:
        fns = [dh_range(r, "auto"), dh_range(r, "scan")]
        if fmh is not None:
            def fr(r=r):
                fmh.nflip = r // m
                return fmh.range_search(q, r + 1)
            fns.append(fr)
        times, res = best(fns, args.reps)
        (la, Da, Ia), (lb, Db, Ib) = res[0], res[1]
        same = (np.array_equal(la, lb) and np.array_equal(Da, Db) and np.array_equal(Ia, Ib))
        line = (f"kind={kind} n={n} K={n_bits} op=range r={r} m={m} hits={int(la[-1])} "
                f"mih_qps={args.nq / times[0]:.0f} scan_qps={args.nq / times[1]:.0f}")
        ratio_f = float("nan")
        if fmh is not None:
            lf, Df, If = res[2]
            same = same and range_sets(la, Da, Ia) == range_sets(lf, Df, If)
            line += f" faiss_mh_qps={args.nq / times[2]:.0f}"
            ratio_f = times[2] / times[0]
        print(f"{line} same={'yes' if same else 'NO'} ratio_vs_scan {times[1] / times[0]:.2f} "
              f"ratio_vs_faiss {ratio_f:.2f}", flush=True)
    for k in args.k:
        fns = [dh_knn(k, "auto"), dh_knn(k, "scan")]
        nqf = min(args.nq, args.faiss_flat_nq)
        if fb is not None:
            fns.append(lambda k=k: fb.search(q[:nqf], k))
        times, res = best(fns, args.reps)
        (Da, Ia), (Db, Ib) = res[0], res[1]
        same = np.array_equal(Da, Db) and np.array_equal(Ia, Ib)
        line = (f"kind={kind} n={n} K={n_bits} op=knn k={k} m={m} "
                f"mih_qps={args.nq / times[0]:.0f} scan_qps={args.nq / times[1]:.0f}")
        ratio_f = float("nan")
        if fb is not None:
            Df, _ = res[2]
            same = same and np.array_equal(Da[:nqf], Df)
            fq = nqf / times[2]
            line += f" faiss_flat_qps={fq:.0f}"
            ratio_f = (args.nq / times[0]) / fq
        print(f"{line} same={'yes' if same else 'NO'} ratio_vs_scan {times[1] / times[0]:.2f} "
              f"ratio_vs_faiss {ratio_f:.2f}", flush=True)
    ix.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[1000000])
    ap.add_argument("--bits", type=int, nargs="+", default=[32, 64, 128])
    ap.add_argument("--kinds", nargs="+", default=["clustered", "random"])
    ap.add_argument("--k", type=int, nargs="+", default=[1, 10, 100])
    ap.add_argument("--radius", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--nq", type=int, default=1000)
    ap.add_argument("--faiss-flat-nq", type=int, default=200,
                    help="queries FAISS IndexBinaryFlat answers (its q/s is scaled)")
    ap.add_argument("--m", type=int, default=0, help="tables (0: auto)")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="n = 100k, K = 64, both kinds")
    args = ap.parse_args()
    if args.quick:
        args.n, args.bits, args.nq = [100000], [64], 300
    dh.set_num_threads(args.threads)
    if faiss is not None:
        faiss.omp_set_num_threads(args.threads)
    print(f"# cpu={cpu_model()!r} threads={args.threads} isa={dh.isa_name(dh.get_isa())} "
          f"faiss={'yes' if faiss else 'no'} nq={args.nq}", flush=True)
    for n in args.n:
        for n_bits in args.bits:
            for kind in args.kinds:
                run_case(kind, n, n_bits, args)


if __name__ == "__main__":
    main()

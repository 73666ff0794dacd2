#!/usr/bin/python3
"""Benchmark libdh's Hamming index against faiss.IndexBinaryFlat in one process.

Both sides index the same random codes and answer the same queries; the two are timed
alternately (libdh first on even repetitions, FAISS first on odd ones) and the best
of --reps runs is kept for each, so background load hits both alike. The distances
of every result must agree exactly (ids may differ inside ties: FAISS's tie order
is unspecified, libdh's is insertion order).

Every kernel set the CPU has is timed (DH_ISA forced through dh.set_isa; --isa picks
one), FAISS once per repetition beside them. One line per case and ISA:
  n=1000000 K=64 k=100 threads=2 nq=1000 isa=avx2 dh_qps=... dh_ns_pair=... faiss_qps=...
  faiss_ns_pair=... dist_match=yes ratio_vs_faiss 9.87 limit_qps=... share_of_limit 0.83
ratio_vs_faiss = FAISS time / libdh time (> 1: libdh is faster). ns_pair is wall
time per (query, code) pair. limit_qps = threads x the popcount limit of that ISA and K
measured on this machine (bench/popcount_limit.c: XOR + popcount + minimum over an
L2-resident block, one thread; a "limit isa=..." line is printed first) / n;
share_of_limit = dh_qps / limit_qps; cpu_share_of_limit = the same from libdh's CPU time
(all threads) instead of wall time, which a shared, overloaded machine distorts less. Run with Debian's /usr/bin/python3 (numpy + faiss);
libdh is found through DH_LIBRARY or a build folder (see dh._lib). Note: Debian's
faiss is a generic build without -mpopcnt; bench/build_faiss_avx2.sh rebuilds it with
FAISS_OPT_LEVEL=avx2 (what pip/conda FAISS runs) into build/faiss-avx2/python, which is
then used instead (--faiss-path DIR or DH_FAISS_AVX2 name another; --faiss-path ''
forces Debian's). A "# faiss ..." header line names the build every faiss_qps is from.

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
import popcount_limit  # noqa: E402

AVX2_FAISS = os.path.join(HERE, "..", "build", "faiss-avx2", "python")
faiss = None  # imported by import_faiss() once --faiss-path is known


def import_faiss(path):
    """Import faiss with PATH (if not "") first on sys.path; return a header line."""
    global faiss
    if path:
        sys.path.insert(0, os.path.abspath(path))
    try:
        import faiss as mod
    except ImportError as e:  # reported, not hidden
        return f"# faiss is not importable ({e}): timing libdh only"
    faiss = mod
    loaded = "swigfaiss_avx2" if "faiss.swigfaiss_avx2" in sys.modules else "swigfaiss"
    return (f"# faiss {faiss.__version__} module={loaded} compile_options="
            f"'{faiss.get_compile_options().strip()}' from {os.path.dirname(faiss.__file__)}")


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
                   help="only this libdh kernel set (scalar, avx2, avx512bw, avx512vpopcnt, "
                        "neon); default: every one the CPU has")
    p.add_argument("--no-faiss", action="store_true", help="time libdh only")
    avx2 = AVX2_FAISS if os.path.isdir(os.path.join(AVX2_FAISS, "faiss")) else ""
    p.add_argument("--faiss-path", metavar="DIR", default=os.environ.get("DH_FAISS_AVX2", avx2),
                   help="folder holding the faiss package to use, put first on sys.path "
                        "(default: $DH_FAISS_AVX2, else build/faiss-avx2/python from "
                        "bench/build_faiss_avx2.sh if built, else ''; '' = Debian's python3-faiss)")
    p.add_argument("--quick", action="store_true",
                   help="a quick subset: n=100000, K=64, k=100, threads 1 and 2, 2 reps")
    a = p.parse_args()
    if a.quick:
        a.n, a.bits, a.k, a.reps = [100_000], [64], [100], 2
    if a.faiss_path and not os.path.isdir(os.path.join(a.faiss_path, "faiss")):
        p.error(f"--faiss-path {a.faiss_path}: no faiss package folder there")
    return a


def best_time(fn, reps):
    best = float("inf")
    out = None
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def run_case(ixs, q, n, K, k, threads, reps, use_faiss, isas):
    dh_ix, fa_ix = ixs
    dh.set_num_threads(threads)
    if use_faiss:
        faiss.omp_set_num_threads(threads)
    t_dh = {i: float("inf") for i in isas}
    c_dh = {i: float("inf") for i in isas}
    D_dh = {}
    t_fa, D_fa = float("inf"), None
    for r in range(reps):  # rotate which side goes first
        sides = list(isas) + (["faiss"] if use_faiss else [])
        sides = sides[r % len(sides):] + sides[:r % len(sides)]
        for side in sides:
            if side == "faiss":
                t, (D_fa, _) = best_time(lambda: fa_ix.search(q, k), 1)
                t_fa = min(t_fa, t)
            else:
                dh.set_isa(side)
                c = time.process_time()
                t, (D_dh[side], _) = best_time(lambda: dh_ix.search(q, k), 1)
                c_dh[side] = min(c_dh[side], time.process_time() - c)
                t_dh[side] = min(t_dh[side], t)
    dh.set_isa(dh.ISA_AUTO)
    nq = q.shape[0]
    pairs = nq * n
    bad = 0
    for isa in isas:
        line = (f"n={n} K={K} k={k} threads={threads} nq={nq} isa={isa} "
                f"dh_qps={nq / t_dh[isa]:.0f} dh_ns_pair={t_dh[isa] * 1e9 / pairs:.3f}")
        if use_faiss:
            match = np.array_equal(D_dh[isa], D_fa.astype(np.int32))
            bad += not match
            line += (f" faiss_qps={nq / t_fa:.0f} faiss_ns_pair={t_fa * 1e9 / pairs:.3f}"
                     f" dist_match={'yes' if match else 'NO'} ratio_vs_faiss {t_fa / t_dh[isa]:.2f}")
        else:
            line += " ratio_vs_faiss nan"
        lim = popcount_limit.limit(isa, K)
        if lim:
            limit_qps = threads * lim / n
            line += (f" limit_qps={limit_qps:.0f} share_of_limit {nq / t_dh[isa] / limit_qps:.2f}"
                     f" cpu_share_of_limit {pairs / c_dh[isa] / lim:.2f}")
        print(line, flush=True)
    return bad


def main():
    a = parse_args()
    faiss_line = None if a.no_faiss else import_faiss(a.faiss_path)
    use_faiss = faiss is not None
    isas = [a.isa] if a.isa else [dh.isa_name(i) for i in range(dh.ISA_SCALAR, dh.ISA_NEON + 1)
                                   if dh.cpu_has_isa(i)]
    load = os.getloadavg()[0]
    print(f"# libdh {dh.version()} best_isa={dh.isa_name(dh.get_isa())} isas={','.join(isas)} "
          f"cpus={os.cpu_count()} cpu={popcount_limit.cpu_model()} loadavg={load:.2f} (other processes share "
          "these cores: compare ratios, not absolutes)", flush=True)
    if faiss_line:
        print(faiss_line, flush=True)
    for isa in isas:
        for K in a.bits:
            print("# " + popcount_limit.line(isa, K), flush=True)
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
                    failures += run_case((dh_ix, fa_ix), q, n, K, k, th, a.reps, use_faiss,
                                         isas)
            dh_ix.close()
            del fa_ix
    if failures:
        print(f"# {failures} case(s) with mismatching distances", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

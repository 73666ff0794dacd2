#!/usr/bin/python3
"""mAP@all of libdh's histogram evaluator against a numpy evaluator that sorts.

Data: 10,000 queries x 60,000 database codes, 64 bits, 10 classes; each code is its
class centre with every bit flipped with probability --flip (so mAP is realistic).

numpy side: the DeepHash-pytorch CalcTopMap evaluator, vectorised over blocks of
queries: Hamming distances as 0.5 * (K - B_q . B_db^T) (float32 BLAS on +-1 codes),
np.argsort(kind="stable") per row (database order inside ties, the convention libdh's
DH_TIES_INDEX_ORDER reproduces), relevance gathered in rank order, AP as the mean of
hits/rank over relevant positions (added left to right so the sums are bit-comparable).

Both sides run in the same process, alternating (libdh, numpy, libdh), libdh on every
kernel set the CPU has (DH_ISA forced; --isa picks one); the libdh time is the best of
its runs. Prints, per ISA, the per-query agreement, the CPU-time ratio (less sensitive
to a shared machine), `ratio_vs_numpy <x>` (wall time) and `share_of_limit`: the time
the popcount limit of that ISA measured on this machine (bench/popcount_limit.c: XOR +
popcount + minimum over L2-resident codes, per thread, times the thread count) needs
for the queries x database distances, over libdh's time (cpu_share_of_limit: the same
from libdh's CPU time of all threads, less distorted on a shared machine).

usage: bench_eval.py [--queries 10000] [--db 60000] [--bits 64] [--numpy-queries N]
       (--numpy-queries < --queries times numpy on the first N queries and scales the
        time linearly; the values are then checked on those N queries)
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bindings",
                                "python"))
import dh  # noqa: E402
import popcount_limit  # noqa: E402


def make_data(nq, nd, bits, classes, flip, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 2, size=(classes, bits), dtype=np.uint8)
    ql = rng.integers(0, classes, size=nq).astype(np.int32)
    dl = rng.integers(0, classes, size=nd).astype(np.int32)

    def codes(labels):
        bits_ = centres[labels] ^ (rng.random((labels.size, bits)) < flip).astype(np.uint8)
        return bits_

    qbits, dbits = codes(ql), codes(dl)
    return qbits, dbits, ql, dl


def numpy_map(qpm, dpm, ql, dl, block=100):
    """CalcTopMap, vectorised over blocks of queries; returns per-query AP."""
    nq, bits = qpm.shape
    nd = dpm.shape[0]
    ranks = np.arange(1, nd + 1, dtype=np.float64)
    aps = np.empty(nq)
    for s in range(0, nq, block):
        e = min(nq, s + block)
        ham = 0.5 * (bits - qpm[s:e] @ dpm.T)
        order = np.argsort(ham, axis=1, kind="stable")
        rel = dl[order] == ql[s:e, None]
        hits = np.cumsum(rel, axis=1)
        tsum = hits[:, -1]
        prec = np.where(rel, hits / ranks, 0.0)
        total = np.cumsum(prec, axis=1)[:, -1]
        aps[s:e] = np.where(tsum > 0, total / np.maximum(tsum, 1), 0.0)
    return aps


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--queries", type=int, default=10000)
    ap.add_argument("--db", type=int, default=60000)
    ap.add_argument("--bits", type=int, default=64)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--flip", type=float, default=0.22)
    ap.add_argument("--numpy-queries", type=int, default=None)
    ap.add_argument("--threads", type=int, default=0, help="libdh threads (0 = default)")
    ap.add_argument("--isa", default=None,
                    help="only this libdh kernel set; default: every one the CPU has")
    args = ap.parse_args()

    qbits, dbits, ql, dl = make_data(args.queries, args.db, args.bits, args.classes, args.flip)
    qpk = np.packbits(qbits, axis=1, bitorder="little")
    dpk = np.packbits(dbits, axis=1, bitorder="little")
    qpm = (2.0 * qbits - 1.0).astype(np.float32)
    dpm = (2.0 * dbits - 1.0).astype(np.float32)
    nqn = min(args.numpy_queries or args.queries, args.queries)
    dh.set_num_threads(args.threads)
    isas = [args.isa] if args.isa else [dh.isa_name(i)
                                        for i in range(dh.ISA_SCALAR, dh.ISA_NEON + 1)
                                        if dh.cpu_has_isa(i)]
    print(f"data: {args.queries} queries x {args.db} database codes, {args.bits} bits, "
          f"{args.classes} classes; libdh {dh.version()} best_isa={dh.isa_name(dh.get_isa())} "
          f"isas={','.join(isas)} threads={dh.get_num_threads()}; numpy {np.__version__}; "
          f"cpu={popcount_limit.cpu_model()} loadavg={os.getloadavg()[0]:.2f}")
    for isa in isas:
        print("# " + popcount_limit.line(isa, args.bits))

    def run_dh(isa):
        dh.set_isa(isa)
        t, c = time.perf_counter(), time.process_time()
        m, aps = dh.eval.mean_average_precision(qpk, dpk, ql, dl, per_query=True)
        return time.perf_counter() - t, time.process_time() - c, m, aps

    runs = {isa: [run_dh(isa)] for isa in isas}  # libdh, numpy, libdh (alternating)
    t, c = time.perf_counter(), time.process_time()
    ap_np = numpy_map(qpm[:nqn], dpm, ql[:nqn], dl)
    t_np = (time.perf_counter() - t) * args.queries / nqn
    c_np = (time.process_time() - c) * args.queries / nqn
    for isa in reversed(isas):
        runs[isa].append(run_dh(isa))
    dh.set_isa(dh.ISA_AUTO)
    m_np = float(np.mean(ap_np))
    scaled = " (scaled from %d queries)" % nqn if nqn < args.queries else ""
    print(f"mAP@all numpy {m_np:.6f}  over {nqn} queries; time numpy {t_np:.2f} s{scaled}, "
          f"cpu time {c_np:.2f} s")
    ok_all = True
    for isa in isas:
        (t1, c1, m_dh, ap_dh), (t2, c2, m_dh2, ap_dh2) = runs[isa]
        t_dh, c_dh = min(t1, t2), min(c1, c2)
        assert np.array_equal(ap_dh, ap_dh2) and m_dh == m_dh2, "libdh runs disagree"
        same = np.sum(ap_dh[:nqn].view(np.uint64) == ap_np.view(np.uint64))
        maxdiff = float(np.max(np.abs(ap_dh[:nqn] - ap_np)))
        ok = same == nqn
        ok_all = ok_all and ok
        lim = popcount_limit.limit(isa, args.bits)
        share = ""
        if lim:
            t_lim = args.queries * args.db / (lim * dh.get_num_threads())
            share = (f" limit_s={t_lim:.3f} share_of_limit {t_lim / t_dh:.2f}"
                     f" cpu_share_of_limit {args.queries * args.db / lim / c_dh:.2f}")
        print(f"isa={isa} mAP@all libdh {m_dh:.6f} (ties: database order) per-query AP "
              f"bit-identical {same}/{nqn} max|diff| {maxdiff:.3g} values_identical "
              f"{'yes' if ok else 'NO'} time libdh {t_dh:.3f} s cpu {c_dh:.3f} s "
              f"cpu_ratio_vs_numpy {c_np / c_dh:.1f} ratio_vs_numpy {t_np / t_dh:.1f}{share}",
              flush=True)
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())

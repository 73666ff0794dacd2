#!/usr/bin/env python3
"""Reproduce docs/results.md: train every loss with smallcnn on the fashion-mnist
protocol (1,000 training images per class, 10,000 test queries, 60,000 database
images) at several code lengths with `dh demo`, and tabulate mAP@all (index-order and
tie-aware), mAP@1000, P@100, P@H<=2 and training time per epoch.

    /usr/bin/python3 bench/results_fashion_mnist.py --dh build/src/dh --jobs 1 \
        --methods csq,hashnet --bits 16,32,64 --epochs 12 --out results/

Runs are independent, so --jobs N runs N of them at once (give each --threads T);
the table is printed as markdown and written to OUT/results.md, and every run keeps
its metrics.json, PR curve and retrieval grid under OUT/<method>_<bits>/.
--runner prefixes the command (e.g. a dynamic loader with --library-path).
"""
import argparse
import concurrent.futures as cf
import json
import os
import shlex
import subprocess
import time

ALL = ["dpsh", "hashnet", "dch", "dsh", "dtsh", "triplet", "adsh", "greedyhash", "csq", "dpn",
       "orthohash", "mdsh", "sprch", "twostage"]


def run_one(args, method, bits):
    out = os.path.join(args.out, f"{method}_{bits}")
    cmd = (shlex.split(args.runner) if args.runner else []) + [
        args.dh, "demo", "--method", method, "--bits", str(bits), "--epochs", str(args.epochs),
        "--threads", str(args.threads), "--seed", str(args.seed), "--out", out]
    if args.data:
        cmd += ["--data", args.data]
    if args.augment:
        cmd += ["--augment", args.augment]
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.time() - t0
    if r.returncode != 0:
        return method, bits, None, f"exit {r.returncode}: {r.stderr.strip()[-300:]}", dt
    with open(os.path.join(out, "metrics.json")) as f:
        return method, bits, json.load(f), None, dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dh", default="build/src/dh")
    ap.add_argument("--runner", default="")
    ap.add_argument("--data", default="")
    ap.add_argument("--methods", default=",".join(ALL))
    ap.add_argument("--bits", default="16,32,64")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--augment", default="", help="e.g. crop,flip (default: none)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="results")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    runs = [(m, int(b)) for m in args.methods.split(",") for b in args.bits.split(",")]
    rows = {}
    with cf.ThreadPoolExecutor(args.jobs) as ex:
        for method, bits, m, err, dt in ex.map(lambda mb: run_one(args, *mb), runs):
            rows[(method, bits)] = (m, err)
            state = "ok" if m else err
            print(f"{method:10s} {bits:3d} bits  {dt:6.1f} s  {state}", flush=True)
    lines = ["| method | bits | mAP@all | mAP@all tie-aware | mAP@1000 | P@100 | P@H<=2 "
             "| empty H<=2 | train s/epoch |", "|---|---|---|---|---|---|---|---|---|"]
    for method, bits in runs:
        m, err = rows[(method, bits)]
        if not m:
            lines.append(f"| {method} | {bits} | failed: {err} |||||||")
            continue
        lines.append(f"| {method} | {bits} | {m['map_all']:.4f} | {m['map_all_tie_aware']:.4f} | "
                     f"{m['map_1000']:.4f} | {m['p_at_100']:.4f} | {m['p_h2']:.4f} | "
                     f"{100 * m['h2_empty_fraction']:.1f}% | "
                     f"{m['train_seconds'] / m['epochs']:.1f} |")
    table = "\n".join(lines)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(table + "\n")
    print(table)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Unsupervised methods on the fashion-mnist protocol (docs/results.md, "Unsupervised"):
train each method on the protocol's 10,000 training images with `dh train` (labels are
never read by these methods), then `dh encode` the protocol's queries and database once and
`dh eval` them with the true labels: 10,000 test queries against the 60,000 training images. Prints a markdown table of mAP@all (index
order and tie-aware), mAP@1000, P@100, P@H<=2 and training images/s, and writes
OUT/unsup.md and OUT/unsup.json. The shallow baselines (lsh, pcah, itq) fit on the raw
pixels (encoder `pixels`); the deep methods train `smallcnn` from scratch.

    /usr/bin/python3 bench/unsup_fashion_mnist.py --dh build/src/dh --bits 32 \\
        --methods itq,lsh,pcah,cibhash,kmeans --epochs 10 --threads 2 --out results/unsup

--extra METHOD=ARGS passes more `dh train` flags to one method (repeatable), e.g.
--extra "ssdh=--margin 1" --extra "kmeans=--feature-source model --refresh 3".
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import time

SHALLOW = ["lsh", "pcah", "itq"]
DEEP = ["cibhash", "bihalf", "ssdh", "kmeans", "sgh"]


def sh(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()[-400:]}")
    return r


def encode(args, model):
    """Query and database codes + labels once (dh encode), for several dh eval runs."""
    files = {}
    for part in ("query", "database"):
        c, l = model + f".{part}.npy", model + f".{part}.labels.npy"
        sh([args.dh, "encode", "--model", model, "--data", args.data, "--protocol",
            "fashion-mnist", "--part", part, "--format", "packed", "--labels-out", l,
            "--threads", str(args.threads), "-o", c])
        files[part] = (c, l)
    return files


def evaluate(args, files, bits, topk, ties="index"):
    (qc, ql), (dc, dl) = files["query"], files["database"]
    r = sh([args.dh, "eval", "--query-codes", qc, "--db-codes", dc, "--query-labels", ql,
            "--db-labels", dl, "--bits", str(bits), "--topk", str(topk), "--ties", ties,
            "--at", "100", "--threads", str(args.threads), "--json"])
    return json.loads(r.stdout)


def run_one(args, method, bits, extra):
    model = os.path.join(args.out, f"{method}_{bits}.safetensors")
    cmd = [args.dh, "train", "--data", args.data, "--protocol", "fashion-mnist", "--method",
           method, "--bits", str(bits), "--threads", str(args.threads), "--seed",
           str(args.seed), "-o", model]
    if method not in SHALLOW:
        cmd += ["--epochs", str(args.epochs)]
    cmd += shlex.split(extra.get(method, ""))
    t0 = time.time()
    r = sh(cmd)
    train_s = time.time() - t0
    ips = [float(x) for x in re.findall(r"([0-9.]+) img/s", r.stderr)]
    files = encode(args, model)
    all_ = evaluate(args, files, bits, 0)
    tie = evaluate(args, files, bits, 0, "expected")
    top = evaluate(args, files, bits, 1000)
    return {
        "method": method, "bits": bits, "command": " ".join(cmd),
        "map_all": all_["map"], "map_all_tie": tie["map"], "map_1000": top["map"],
        "p_at_100": all_["precision_at_n"]["100"], "p_h2": all_["ball_precision"],
        "empty_h2": all_["ball_empty_fraction"],
        "train_s": train_s, "img_s": ips[-1] if ips else None}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dh", default="build/src/dh")
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--methods", default=",".join(SHALLOW + DEEP))
    ap.add_argument("--bits", default="16,32,64")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--extra", action="append", default=[])
    ap.add_argument("--out", default="results/unsup")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    extra = dict(e.split("=", 1) for e in args.extra)
    rows = []
    print("| method | bits | mAP@all | mAP@all tie-aware | mAP@1000 | P@100 | P@H<=2 | empty H<=2 "
          "| train img/s | train s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for bits in [int(b) for b in args.bits.split(",")]:
        for m in args.methods.split(","):
            try:
                row = run_one(args, m, bits, extra)
            except RuntimeError as e:
                print(f"| {m} | {bits} | failed: {e} |", flush=True)
                continue
            rows.append(row)
            f = lambda x: "-" if x is None else (f"{x:.4f}" if isinstance(x, float) else str(x))
            ips = "closed form" if m in SHALLOW else f(row["img_s"])
            print(f"| {m} | {bits} | {f(row['map_all'])} | {f(row['map_all_tie'])} | "
                  f"{f(row['map_1000'])} | {f(row['p_at_100'])} | {f(row['p_h2'])} | "
                  f"{100 * row['empty_h2']:.1f}% | {ips} | {row['train_s']:.0f} |",
                  flush=True)
            with open(os.path.join(args.out, "unsup.json"), "w") as fp:
                json.dump(rows, fp, indent=1)


if __name__ == "__main__":
    main()

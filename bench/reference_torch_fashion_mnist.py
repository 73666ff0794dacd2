#!/usr/bin/python3
"""libdh beside PyTorch on the fashion-mnist protocol (issue 14 part 4): every supervised
method of METHODS.md trained with one recipe on both sides, the same split, the same
network and head init, the same centers, the same evaluator.

Split: libdh's dh_protocol_split("fashion-mnist", seed 1) through the bindings (10,000
training images, 1,000 per class; the 10,000 test images as queries; the 60,000 training
images as database). Network: smallcnn + the method's head (bench/torchref/net.py).
Losses: bench/torchref/losses.py, written from lib/loss/*.c with libdh's defaults; CSQ,
DPN and OrthoHash use the centers libdh's loss generates for the same seed; SPRCH's
self-paced schedule uses n_epochs = the run's epochs on both sides. Recipe: libdh's
recipe table row --recipe (default 'reference', issue 14's PyTorch recipe: Adam 1e-3,
batch 128, 20 epochs, cosine per epoch to 0, weight decay 0 except DSH 4e-3 and OrthoHash
5e-4 on every tensor, random crop after 2 px of zeros + horizontal flip), resolved by
dh.train.resolve_options with the command line's overrides (--epochs, --pad, --lr-floor,
--decay-scope, ...) and given to both sides; input (x/255 - 0.2860)/0.3530, 64 bits.
Loss-owned tensors (GreedyHash's classifier, SPRCH's proxies) train at lr x the row's
param_lr_mult on both sides, as libdh's trainer does. mAP@all: libdh's evaluator (index-order ties, and tie-aware) on both sides'
codes, and an independent numpy tie-aware mAP (--numpy).

Usage:
  DH_LIBRARY=build/libdh.so.1 nice -n 5 /usr/bin/python3 \
      bench/reference_torch_fashion_mnist.py --methods hashnet,csq --seeds 1,2,3 \
      --out ref.jsonl
  /usr/bin/python3 bench/reference_torch_fashion_mnist.py --summary ref.jsonl

Prints `METHOD bits seed: libdh <mAP> torch <mAP> diff <pts>` per run (index-order ties,
diff = libdh - torch in mAP points) and a per-method mean / spread summary; every run is
appended to --out as one JSON line, so separate invocations can be summarised together.
"""
import argparse
import gzip
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bindings", "python"))
sys.path.insert(0, HERE)

ALL = ["hashnet", "orthohash", "dsh", "greedyhash", "csq", "dpsh", "dch", "dpn", "sprch"]


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion_mnist(d):
    xtr = read_idx(os.path.join(d, "train-images-idx3-ubyte.gz"))
    ytr = read_idx(os.path.join(d, "train-labels-idx1-ubyte.gz"))
    xte = read_idx(os.path.join(d, "t10k-images-idx3-ubyte.gz"))
    yte = read_idx(os.path.join(d, "t10k-labels-idx1-ubyte.gz"))
    return xtr, ytr.astype(np.int64), xte, yte.astype(np.int64)


def versus(rows, spec):
    """Pair each run's libdh side of one tag with the torch side of another (same method,
    bits, seed): spec "A1,A2:B1,B2", the first tag of each list that has the run; "" is
    an untagged run. E.g. "default:torchref" = libdh's default recipe vs PyTorch's
    reference recipe."""
    la, lb = (side.split(",") for side in spec.split(":"))
    have = {}
    for r in rows:
        for side in ("libdh", "torch"):
            if side in r:
                have.setdefault((side, r["method"], r["bits"], r["seed"], r.get("recipe", "")),
                                r[side])
    out = []
    for m, bits, seed in sorted({(k[1], k[2], k[3]) for k in have}):
        a = next((have[k] for t in la if (k := ("libdh", m, bits, seed, t)) in have), None)
        b = next((have[k] for t in lb if (k := ("torch", m, bits, seed, t)) in have), None)
        if a and b:
            out.append({"method": m, "bits": bits, "seed": seed, "libdh": a, "torch": b,
                        "recipe": f"{la[0]} vs torch {lb[0]}"})
    return out


def summarise(paths, methods=None, vs=""):
    rows = [json.loads(l) for p in paths.split(",") for l in open(p) if l.strip()]
    if vs:
        rows = versus(rows, vs)
    by = {}
    for r in rows:
        by.setdefault((r["method"], r["bits"], r.get("recipe", "")), {})[r["seed"]] = r
    print("| method | bits | seeds | libdh mAP@all | PyTorch mAP@all | diff (pts) | "
          "libdh s | torch s |")
    print("|---|---|---|---|---|---|---|---|")
    for (m, bits, rec), seeds in sorted(by.items(), key=lambda kv: (ALL.index(kv[0][0])
                                                                   if kv[0][0] in ALL else 99,
                                                                   kv[0][1], kv[0][2])):
        if methods and m not in methods:
            continue
        both = [r for r in seeds.values() if "libdh" in r and "torch" in r]
        if not both:
            one = [r for r in seeds.values() if "libdh" in r]
            if one:
                a = np.array([r["libdh"]["map_index"] for r in one])
                print(f"| {m}{' ' + rec if rec else ''} | {bits} | "
                      f"{','.join(str(r['seed']) for r in one)} | {a.mean():.4f}"
                      f"{' ± %.4f' % ((a.max() - a.min()) / 2) if len(a) > 1 else ''}"
                      f" ({one[0].get('queries', 'test')}) | – | – | "
                      f"{np.mean([r['libdh']['train_s'] for r in one]):.0f} | – |")
            continue
        a = np.array([r["libdh"]["map_index"] for r in both])
        b = np.array([r["torch"]["map_index"] for r in both])
        d = 100 * (a - b)

        def ms(v):
            return f"{v.mean():.4f} ± {(v.max() - v.min()) / 2:.4f}" if len(v) > 1 \
                else f"{v[0]:.4f}"
        ta = np.mean([r["libdh"]["train_s"] for r in both])
        tb = np.mean([r["torch"]["train_s"] for r in both])
        dd = f"{d.mean():+.2f} ± {(d.max() - d.min()) / 2:.2f}" if len(d) > 1 else f"{d[0]:+.2f}"
        print(f"| {m}{' ' + rec if rec else ''} | {bits} | {','.join(str(r['seed']) for r in both)}"
              f" | {ms(a)} | {ms(b)} | {dd} | {ta:.0f} | {tb:.0f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--methods", default=",".join(ALL))
    ap.add_argument("--seeds", default="1")
    ap.add_argument("--bits", type=int, default=64)
    ap.add_argument("--recipe", default="reference",
                    help="libdh recipe row (reference: issue 14's PyTorch recipe; default)")
    ap.add_argument("--epochs", type=int, default=0, help="0: the recipe's")
    ap.add_argument("--batch-size", type=int, default=0, help="0: the recipe's")
    ap.add_argument("--lr", type=float, default=0, help="0: the recipe's")
    ap.add_argument("--weight-decay", type=float, default=-1, help="-1: the recipe's")
    ap.add_argument("--lr-floor", type=float, default=-1,
                    help="cosine floor as a fraction of lr (-1: the recipe's)")
    ap.add_argument("--pad", type=int, default=-1, help="crop padding (-1: the recipe's)")
    ap.add_argument("--decay-scope", default="", help="all | weights ('': the recipe's)")
    ap.add_argument("--mean", type=float, default=0.2860)
    ap.add_argument("--std", type=float, default=0.3530)
    ap.add_argument("--augment", default="", help="none | crop | flip | crop,flip "
                    "('': the recipe's)")
    ap.add_argument("--loss-kw", default="", help="method constants k=v,... (libdh side "
                    "only: e.g. scale=0.1, quant_weight=1e-4, margin=64)")
    ap.add_argument("--val", type=int, default=0,
                    help="tune, not test: N validation queries held out of the 50,000 "
                    "training images outside the training subset; database = the other "
                    "60,000 - N training images; the test images are not read")
    ap.add_argument("--sides", default="libdh,torch")
    ap.add_argument("--numpy", action="store_true", help="also the numpy tie-aware mAP")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--split-seed", type=int, default=1)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--smoke", action="store_true", help="tiny sets, to check the plumbing")
    ap.add_argument("--tag", default="", help="label of this configuration in --out")
    ap.add_argument("--out", default="", help="append one JSON line per run")
    ap.add_argument("--summary", default="", help="summarise --out files (a,b,...) and exit")
    ap.add_argument("--versus", default="", help="with --summary: libdh tags vs torch tags, "
                    "'A1,A2:B1,B2' (first tag found per run; '' = untagged)")
    args = ap.parse_args()
    if args.summary:
        summarise(args.summary, vs=args.versus)
        return
    import torch
    from torchref import libdh_side as LD
    from torchref import train as TT
    from torchref.evalmap import map_tie_aware
    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    xtr_all, ytr_all, xte, yte = load_fashion_mnist(args.data)
    tr, q, db, idx = LD.split(args.split_seed)
    assert (tr.class_ids().reshape(-1) == ytr_all[idx]).all()
    raw = lambda x: torch.from_numpy(x.astype(np.float32) / 255.0)[:, None]  # noqa: E731
    xdb, xq = raw(xtr_all), raw(xte)
    yq, ydb = yte, ytr_all
    if args.smoke:  # plumbing check only: 1,000 training images, 500 queries vs 2,000
        idx = idx[:1000]
        tr = tr.subset(np.arange(1000, dtype=np.int64))
        q, db = q.subset(np.arange(500, dtype=np.int64)), db.subset(np.arange(2000, dtype=np.int64))
        xq, yq, xdb, ydb = xq[:500], yq[:500], xdb[:2000], ydb[:2000]
    if args.val:  # validation queries: never the test set (issue 14: tune on validation)
        vq, vdb = LD.validation_rows(idx, args.val, args.split_seed, len(xtr_all))
        q, db = LD.train_subset(vq), LD.train_subset(vdb)
        xq, yq, xdb, ydb = raw(xtr_all[vq]), ytr_all[vq], raw(xtr_all[vdb]), ytr_all[vdb]
    xtr, ytr = raw(xtr_all)[idx], torch.from_numpy(ytr_all[idx])
    sides = args.sides.split(",")
    print(f"train {len(xtr)}, query {len(xq)}, db {len(xdb)}", flush=True)

    def evaluate(qc, dc):
        r = {"map_index": LD.mean_ap(qc, dc, yq, ydb, "index"),
             "map_tie": LD.mean_ap(qc, dc, yq, ydb, "expected")}
        if args.numpy:
            r["map_tie_numpy"] = map_tie_aware(qc, dc, yq, ydb)
        return r

    for seed in [int(s) for s in args.seeds.split(",")]:
        for method in args.methods.split(","):
            cfg, ro = LD.config(method, args, seed)
            C, _ = LD.centers(method, args.bits, 10, seed, cfg)
            print(f"{method} seed {seed}: {LD.describe(ro, cfg)}", flush=True)
            rec = {"method": method, "bits": args.bits, "seed": seed, "epochs": cfg["epochs"],
                   "pad": cfg["pad"], "recipe": args.tag, "cfg": cfg,
                   "queries": "val%d" % args.val if args.val else "test"}
            if "libdh" in sides:
                model, _loss, ts = LD.train(method, cfg, tr, seed,
                                            log=lambda s: print(s, flush=True))
                rec["libdh"] = evaluate(LD.encode(model, q), LD.encode(model, db))
                rec["libdh"]["train_s"] = ts
            if "torch" in sides:
                tm, ts = TT.train(method, cfg, xtr, ytr, seed, centers=C,
                                  log=lambda s: print(s, flush=True))
                rec["torch"] = evaluate(TT.encode(tm, xq, args.mean, args.std),
                                        TT.encode(tm, xdb, args.mean, args.std))
                rec["torch"]["train_s"] = ts
            line = f"{method} {args.bits} {seed}:"
            for s in ("libdh", "torch"):
                if s in rec:
                    line += f" {s} {rec[s]['map_index']:.4f}"
            if "libdh" in rec and "torch" in rec:
                line += f" diff {100 * (rec['libdh']['map_index'] - rec['torch']['map_index']):+.2f}"
            extra = " ".join(f"{s}.{k} {v:.4f}" for s in ("libdh", "torch") if s in rec
                             for k, v in rec[s].items() if k != "map_index" and k != "train_s")
            times = " ".join(f"{s} {rec[s]['train_s']:.0f}s" for s in ("libdh", "torch")
                             if s in rec)
            print(f"{line}   [{extra}; train {times}]", flush=True)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(json.dumps(rec) + "\n")
    if args.out:
        summarise(args.out, set(args.methods.split(",")))


if __name__ == "__main__":
    main()

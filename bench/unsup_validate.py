#!/usr/bin/env python3
"""Tune an unsupervised method on a validation split, never on the test queries (the rule
of docs/recipes.md). Trains METHOD through the Python bindings on the fashion-mnist
protocol's 10,000 training images (their labels never reach the method: the dataset
handed to the trainer has none), then scores mAP@all (index order and tie-aware) of N
validation queries, training images outside the training subset (seed 1000 + split
seed, the same queries as bench/reference_torch_fashion_mnist.py --val N), against the
other 60,000 - N training images. The test images are not read unless --test is given
(for the final figure of a chosen configuration only).

    DH_LIBRARY=build/libdh.so.1 PYTHONPATH=bindings/python /usr/bin/python3 \\
        bench/unsup_validate.py --method cibhash --bits 32 --epochs 20 \\
        --set batch_size=128 --loss-kw tau=0.5 --tag b128-tau0.5 --out val.jsonl

--set K=V: a dh.Trainer keyword (batch_size, lr, epochs, augment='resized-crop,flip',
scale_min, blur_prob, brightness, contrast, ...); numbers are parsed as numbers.
--loss-kw K=V: a dh.Loss keyword (tau, quant_weight, ...). Appends one JSON line per run
to --out; --summary FILE prints the runs grouped by tag.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def parse_kv(items):
    out = {}
    for kv in items:
        k, v = kv.split("=", 1)
        try:
            out[k] = int(v)
        except ValueError:
            try:
                out[k] = float(v)
            except ValueError:
                out[k] = v
    return out


def summarise(path):
    runs = [json.loads(line) for line in open(path) if line.strip()]
    groups = {}
    for r in runs:
        groups.setdefault((r["method"], r["bits"], r["queries"], r["tag"]), []).append(r)
    print("| method | bits | queries | tag | seeds | epochs | mAP@all | tie-aware | train s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (m, b, q, tag), rs in sorted(groups.items()):
        a = np.array([r["map_index"] for r in rs])
        t = np.array([r["map_tie"] for r in rs])
        half = (a.max() - a.min()) / 2
        print(f"| {m} | {b} | {q} | {tag} | {','.join(str(r['seed']) for r in rs)} | "
              f"{rs[0]['epochs']} | {a.mean():.4f} ± {half:.4f} | {t.mean():.4f} | "
              f"{np.mean([r['train_s'] for r in rs]):.0f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--method", default="cibhash")
    ap.add_argument("--bits", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=0, help="0: the recipe's")
    ap.add_argument("--seeds", default="1")
    ap.add_argument("--recipe", default="default", help="the recipe row whose method "
                    "constants (e.g. cibhash's tau) the loss takes where --loss-kw is silent "
                    "('none': the method's built-in constants)")
    ap.add_argument("--val", type=int, default=1000)
    ap.add_argument("--test", action="store_true", help="score the 10,000 test queries "
                    "against the 60,000 training images instead (final figures only)")
    ap.add_argument("--set", action="append", default=[], metavar="K=V")
    ap.add_argument("--loss-kw", action="append", default=[], metavar="K=V")
    ap.add_argument("--split-seed", type=int, default=1)
    ap.add_argument("--mean", type=float, default=0.0, help="input (x/255 - mean)/std; "
                    "0 and 1 are dh train's defaults, which docs/results.md's runs used")
    ap.add_argument("--std", type=float, default=1.0)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--features", default="", help="hand the feature methods (bihalf, ssdh, "
                    "kmeans, sgh) these rows through dh.Loss.set_features: 'pixels' (/255), "
                    "'pixels-centred' (minus their training mean) or 'model:PATH' (the "
                    "continuous head outputs of a saved unsupervised model, e.g. a cibhash "
                    "model written by --save-model; '': the method's own feature source)")
    ap.add_argument("--save-model", default="", help="save each seed's trained model here "
                    "({seed} in the name is replaced)")
    ap.add_argument("--encoder", default="smallcnn", help="the model's encoder: smallcnn "
                    "(dh train's default) or pixels (no parameters: a linear hash layer on "
                    "the input, BiHalf's setting of a linear layer on fixed features)")
    ap.add_argument("--tag", default="")
    ap.add_argument("--out", default="")
    ap.add_argument("--summary", default="")
    args = ap.parse_args()
    if args.summary:
        summarise(args.summary)
        return
    if args.features and args.features not in ("pixels", "pixels-centred") and \
            not args.features.startswith("model:"):
        ap.error(f"--features {args.features!r}: expected pixels, pixels-centred or model:PATH")
    import dh
    from dh import data as dd
    from dh import train as dt
    from torchref import libdh_side as LD

    from reference_torch_fashion_mnist import load_fashion_mnist

    _tr, q, db, idx = LD.split(args.split_seed)
    pixels = load_fashion_mnist(args.data)[0]
    tr = dd.Dataset.from_images(np.ascontiguousarray(pixels[idx][..., None]))  # no labels
    if not args.test:
        vq, vdb = LD.validation_rows(idx, args.val, args.split_seed, len(pixels))
        q, db = LD.train_subset(vq), LD.train_subset(vdb)
    yq, ydb = q.class_ids().reshape(-1), db.class_ids().reshape(-1)
    over = parse_kv(args.set)
    if args.epochs:
        over["epochs"] = args.epochs
    lkw = parse_kv(args.loss_kw)
    rkw = {} if args.recipe == "none" else {"recipe": args.recipe}  # for Loss and Trainer
    F = None
    if args.features.startswith("model:"):
        _codes, F = dh.Model.load(args.features[6:]).encode(
            np.ascontiguousarray(pixels[idx][..., None]), return_continuous=True)
        F = np.ascontiguousarray(F, dtype=np.float32)
    elif args.features in ("pixels", "pixels-centred"):
        F = pixels[idx].reshape(len(idx), -1).astype(np.float32) / 255.0
        if args.features == "pixels-centred":
            F -= F.mean(axis=0, keepdims=True)
        F = np.ascontiguousarray(F)
    for seed in [int(s) for s in args.seeds.split(",")]:
        loss = dh.Loss(args.method, n_bits=args.bits, n_train=len(tr), seed=seed, **rkw, **lkw)
        if F is not None:
            loss.set_features(F)
        model = dh.Model.create(args.encoder, n_bits=args.bits, head=loss.head_hint()[0],
                                mean=[args.mean], std=[args.std], seed=seed)
        t = dh.Trainer(model, loss, tr, keep_best=0, seed=seed, **rkw, **over)
        got = t.options()
        desc = " ".join(f"{k} {got[k]}" for k in ("optimizer", "lr", "batch_size", "epochs",
                                                   "augment", "scale_min", "blur_prob",
                                                   "brightness", "contrast")
                        if k in got)
        tau = loss.options()["tau"]
        print(f"{args.method} {args.bits} seed {seed} [{args.tag}]: {desc} tau {tau} {lkw}",
              flush=True)
        t0 = [time.time()]

        def cb(p):
            if p["event"] == dt.EVENT_EPOCH:
                print(f"  epoch {p['epoch'] + 1}/{p['epochs']} loss {p['loss']:.4f} "
                      f"{time.time() - t0[0]:.1f}s", flush=True)
                t0[0] = time.time()
            return False

        start = time.time()
        t.run(callback=cb)
        ts = time.time() - start
        if args.save_model:
            model.save(args.save_model.replace("{seed}", str(seed)))
        qc, dc = LD.encode(model, q), LD.encode(model, db)
        rec = {"method": args.method, "bits": args.bits, "seed": seed, "tag": args.tag,
               "epochs": got.get("epochs"), "set": over, "loss_kw": lkw,
               "features": args.features, "encoder": args.encoder,
               "recipe": args.recipe, "tau": tau,
               "queries": "test" if args.test else f"val{args.val}",
               "map_index": LD.mean_ap(qc, dc, yq, ydb, "index"),
               "map_tie": LD.mean_ap(qc, dc, yq, ydb, "expected"), "train_s": ts}
        print(f"{args.method} {args.bits} {seed} [{args.tag}] {rec['queries']}: mAP@all "
              f"{rec['map_index']:.4f} (tie-aware {rec['map_tie']:.4f}), train {ts:.0f}s",
              flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()

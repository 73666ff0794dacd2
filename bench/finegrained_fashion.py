#!/usr/bin/env python3
"""Fine-grained benchmark (b): Fashion-MNIST's hard sub-group (T-shirt/top 0,
pullover 2, coat 4, shirt 6). Same encoder (smallcnn), loss (CSQ, 16 bits), optimiser
(Adam 1e-3, batch 64) and epochs for every pool (fc = smallcnn's own features, gap,
attn, part; see finegrained_patch.py). Training: --per-class images of each of the
four classes from the training set (database = that training subset); queries:
--queries per class from the test set. mAP@all. "attn+enc" / "part+enc": the pool with
smallcnn's fc-512 features as its global part (fmap_global = DH_FMAP_GLOBAL_ENCODER).

  DH_LIBRARY=build/libdh.so PYTHONPATH=bindings/python /usr/bin/python3 \
      bench/finegrained_fashion.py --per-class 1000 --queries 250 --epochs 8 --seeds 1
"""
import argparse
import time

import numpy as np

import dh
import dh.finegrained as fg

CLASSES = (0, 2, 4, 6)


def make_model(pool, bits, seed):
    """fc: smallcnn's own features; gap/attn/part: a feature-map pool; "attn+enc" /
    "part+enc": that pool with smallcnn's fc-512 features as its global part
    (global_branch="encoder")."""
    if pool == "fc":
        return dh.Model.create("smallcnn", n_bits=bits, seed=seed)
    name, _, glob = pool.partition("+")
    return fg.create_model("smallcnn", n_bits=bits, pool=name, seed=seed,
                           global_branch="encoder" if glob == "enc" else "pool")


def pick(ds, per_class, rng):
    ids = ds.class_ids()
    idx = np.concatenate([rng.permutation(np.flatnonzero(ids == c))[:per_class]
                          for c in CLASSES])
    return ds.subset(np.sort(idx).astype(np.int64))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-class", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=250)
    ap.add_argument("--bits", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--pools", default="fc,gap,attn,part,attn+enc,part+enc",
                    help="comma list of fc, gap, attn, part, attn+enc, part+enc")
    args = ap.parse_args()
    dh.set_num_threads(args.threads)
    rng = np.random.default_rng(7)
    tr = pick(dh.Dataset.fashion_mnist("train"), args.per_class, rng)
    te = pick(dh.Dataset.fashion_mnist("test"), args.queries, rng)
    res = {}
    for seed in range(1, args.seeds + 1):
        for pool in args.pools.split(","):
            m = make_model(pool, args.bits, seed)
            loss = dh.Loss("csq", n_bits=args.bits, n_classes=10)
            t = dh.Trainer(m, loss, tr, epochs=args.epochs, batch_size=64, optimizer="adam",
                           lr=1e-3, weight_decay=0, seed=seed)
            t0 = time.time()
            t.run()
            qc, dc = dh.encode_dataset(m, te), dh.encode_dataset(m, tr)
            mp = dh.eval.mean_average_precision(qc, dc, te.class_ids(), tr.class_ids())
            res.setdefault(pool, []).append(mp)
            print(f"seed {seed} pool {pool:8s} mAP {mp:.4f} ({time.time() - t0:.0f} s)",
                  flush=True)
    print("| pool | mAP@all (mean over seeds) | runs |")
    print("|---|---|---|")
    for pool, v in res.items():
        print(f"| {pool} | {np.mean(v):.4f} | {', '.join(f'{x:.3f}' for x in v)} |")


if __name__ == "__main__":
    main()

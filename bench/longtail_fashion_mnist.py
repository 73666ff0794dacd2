#!/usr/bin/env python3
"""Long-tail hashing on Fashion-MNIST (docs/longtail.md): train smallcnn with the same
optimiser, epochs and code length on a long-tailed training split (imbalance factor
100: class c keeps floor(n_max * 100^(-c/9)) images, so class 0 has n_max and class 9
n_max/100) with

    csq                 the baseline (hash centers + BCE), no re-weighting
    lthnet              class-balanced CE (effective number, beta 0.999) + LTHNet's
                        dynamic meta-embedding (memory refreshed before every epoch)
    lthnet-nometa       the same loss without the meta-embedding (ablation)
    dualproxy           feature- and hash-class proxies, category-centred contrastive,
                        class-balanced

and report mAP@all on a balanced query/database split of the test set: overall and
for the head (classes 0-2, the most frequent), middle (3-6) and tail (7-9) queries.

    DH_LIBRARY=build/libdh.so PYTHONPATH=bindings/python /usr/bin/python3 \\
        bench/longtail_fashion_mnist.py --n-max 2000 --epochs 15 --bits 32 --seeds 1,2

Queries: 100 test images per class; database: the other 9,000 test images.
"""
import argparse
import time

import numpy as np

import dh

HEAD, MID, TAIL = range(0, 3), range(3, 7), range(7, 10)


def test_split(seed):
    test = dh.Dataset.fashion_mnist("test")
    cls = test.class_ids()
    r = np.random.default_rng(seed)
    q = np.sort(np.concatenate([r.choice(np.flatnonzero(cls == c), 100, replace=False)
                                for c in range(10)]))
    db = np.setdiff1d(np.arange(len(test)), q)
    return test.subset(q.astype(np.int64)), test.subset(db.astype(np.int64))


def train_one(method, train, bits, epochs, seed, lr, batch):
    loss_name = "lthnet" if method.startswith("lthnet") else method
    model = dh.Model.create("smallcnn", n_bits=bits, mean=[0.2860], std=[0.3530], seed=seed)
    callback = None
    if method == "lthnet":
        dh.longtail.add_meta_embedding(model, 10)
        callback = dh.longtail.memory_refresher(model, train)
    loss = dh.Loss(loss_name, bits, 10, seed=seed)
    t = dh.Trainer(model, loss, train, epochs=epochs, batch_size=batch, optimizer="adam", lr=lr,
                   seed=seed, keep_best=0)
    t0 = time.time()
    t.run(callback=callback)
    return model, time.time() - t0


def evaluate(model, query, db):
    qc, dc = dh.encode_dataset(model, query), dh.encode_dataset(model, db)
    ql, dl = query.class_ids(), db.class_ids()
    m, ap = dh.eval.mean_average_precision(qc, dc, ql, dl, per_query=True)
    group = {name: float(np.mean(ap[np.isin(ql, list(g))]))
             for name, g in (("head", HEAD), ("mid", MID), ("tail", TAIL))}
    return m, group


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--methods", default="csq,lthnet,lthnet-nometa,dualproxy")
    ap.add_argument("--n-max", type=int, default=2000)
    ap.add_argument("--imbalance", type=float, default=100)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--bits", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seeds", default="1")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    dh.set_num_threads(args.threads)
    full = dh.Dataset.fashion_mnist("train")
    query, db = test_split(0)
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        train = dh.data.split_longtail(full, args.imbalance, args.n_max, seed)
        counts = np.bincount(train.class_ids(), minlength=10)
        print(f"seed {seed}: long-tail train split, {len(train)} images, per class "
              f"{counts.tolist()}", flush=True)
        for method in args.methods.split(","):
            model, secs = train_one(method, train, args.bits, args.epochs, seed, args.lr,
                                    args.batch)
            m, g = evaluate(model, query, db)
            rows.append((method, seed, m, g, secs))
            print(f"  {method:14s} mAP {m:.4f}  head {g['head']:.4f}  mid {g['mid']:.4f}  "
                  f"tail {g['tail']:.4f}  ({secs:.0f} s)", flush=True)
    print(f"\n| method | seeds | mAP@all | head (0-2) | mid (3-6) | tail (7-9) | train s |")
    print("|---|---|---|---|---|---|---|")
    for method in args.methods.split(","):
        r = [x for x in rows if x[0] == method]
        f = lambda k: np.mean([x[3][k] for x in r])  # noqa: E731
        print(f"| {method} | {len(r)} | {np.mean([x[2] for x in r]):.4f} | {f('head'):.4f} | "
              f"{f('mid'):.4f} | {f('tail'):.4f} | {np.mean([x[4] for x in r]):.0f} |")


if __name__ == "__main__":
    main()

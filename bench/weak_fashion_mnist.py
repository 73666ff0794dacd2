#!/usr/bin/env python3
"""Weakly supervised hashing on fashion-mnist-tags (docs/data.md#tags, docs/results.md
"Weakly supervised"): every weak method beside the unsupervised floor and the
supervised ceiling, trained with the same encoder, optimiser, epochs and code length.

    tags-dpsh     DPSH fed the tag rows as multi-hot labels (tags as labels)
    tags-csq      CSQ fed the tag rows as multi-hot labels (tags as labels)
    wdht          WDHT: tag-embedding cosine similarity + alignment (co-occurrence
                  embeddings of the training tags, PPMI + SVD)
    tagrefine     the WDHT objective on tags refined from Hamming neighbours
    itq, bihalf   unsupervised floor: ITQ on the raw pixels (closed form), BiHalf
                  (mlp, features = the pixels)
    sup-csq       supervised ceiling: CSQ on the true labels

The training set is the fashion-mnist protocol's (1,000 per class from the training
images) cut to --per-class images per class (seeded); tags are generated on it with
keep p / noise q; queries are --queries test images (balanced), the database
--database training images (seeded, may include training images as the protocol's).
Labels are used only to score mAP@all. CPU is scarce: the default sizes are small.

--validation: tune here, never on the test queries. The queries are --queries images of
the protocol's training part that are not in the training subset (balanced, seeded), the
database --database other images of that part (neither training images nor queries: the
test database holds few training images, about 1 in 12); the test images are not read.

    DH_LIBRARY=build/libdh.so PYTHONPATH=bindings/python /usr/bin/python3 \\
        bench/weak_fashion_mnist.py --bits 32 --noise 0.5,0.2 --epochs 15
"""
import argparse
import ctypes
import json
import time

import numpy as np

import dh
from dh import model as M

WEAK = ["tags-dpsh", "tags-csq", "wdht", "tagrefine"]
UNSUP = ["itq", "bihalf"]  # the floor: the best of these
ONCE = ["itq", "bihalf", "sup-csq"]  # no tags: trained once per code length


def balanced_rows(ds, per_class, seed, exclude=()):
    """Sorted row numbers of `per_class` seeded rows per class, none of them in `exclude`."""
    cls = ds.class_ids()
    free = np.ones(len(ds), bool)
    free[np.asarray(exclude, np.int64)] = False
    r = np.random.default_rng(seed)
    idx = np.concatenate([r.choice(np.flatnonzero((cls == c) & free), per_class,
                                   replace=False) for c in range(10)])
    return np.sort(idx).astype(np.int64)


def balanced(ds, per_class, seed):
    return ds.subset(balanced_rows(ds, per_class, seed))


def as_features(ds):
    """Pixels / 255 as feature rows (the mlp encoder), labels and tags kept."""
    n = len(ds)
    X = np.stack([ds.floats(i) for i in range(n)]).reshape(n, -1).astype(np.float32)
    out = dh.Dataset.from_features(X, class_ids=ds.class_ids(), n_classes=10)
    if ds.n_tags:
        out.set_tags(ds.tags())
    return out


def method_kv(specs, method, int_keys):
    """The k=v,k=v settings given for `method` (--opts / --train), as a dict: the keys in
    int_keys as ints, the rest as floats."""
    out = {}
    for kv in (specs.get(method, "") or "").split(","):
        if kv:
            k, v = kv.split("=")
            out[k] = int(v) if k in int_keys else float(v)
    return out


def train(method, train_ds, args, seed):
    sup = "labels"
    name = method
    if method.startswith("tags-"):
        name, sup = method[5:], "tags"
    if method == "sup-csq":
        name = "csq"
    if method == "itq":  # closed form on the pixels: identity head with a bias
        o = M._ModelOptions()
        M._m_init(ctypes.byref(o))
        o.encoder, o.n_bits = f"pixels:{train_ds.sample_size}".encode(), args.bits
        o.head, o.head_bias, o.seed = M.HEAD_IDENTITY, 1, seed
        h = ctypes.c_void_p()
        M._m_create(ctypes.byref(o), ctypes.byref(h))
        model = M.Model(h)
        loss = dh.Loss("itq", args.bits, 0, n_train=len(train_ds), seed=seed)
        dh.Trainer(model, loss, train_ds, seed=seed, keep_best=0).run()
        return model
    if method in UNSUP:
        C = 0
        sup = "labels"
    else:
        by_tags = sup == "tags" or dh.loss.method_tag_flags(name)
        C = train_ds.n_tags if by_tags else 10
    opts = dict(n_train=len(train_ds), seed=seed)
    opts.update(method_kv(args.loss_opts, method, ("sweeps", "update_every", "variant")))
    loss = dh.Loss(name, args.bits, C, **opts)
    if args.embed_dim and dh.loss.method_tag_flags(name):
        # the co-occurrence embedding cut to embed_dim dimensions (the loss's own: min(T, 64))
        loss.set_tag_vectors(dh.tags.embed_cooccurrence(train_ds.tags(), args.embed_dim))
    head, _ = loss.head_hint()
    model = dh.Model.create(f"mlp:{train_ds.sample_size}-{args.hidden}", n_bits=args.bits,
                            head=head, seed=seed)
    tr = dict(epochs=args.epochs, batch_size=args.batch, lr=args.lr)
    tr.update(method_kv(args.train_opts, method, ("epochs", "batch_size")))
    t = dh.Trainer(model, loss, train_ds, optimizer="adam", seed=seed, keep_best=0,
                   supervision=sup, **tr)
    t.run()
    return model


def evaluate(model, query, db):
    qc, dc = dh.encode_dataset(model, query), dh.encode_dataset(model, db)
    return float(dh.eval.mean_average_precision(qc, dc, query.class_ids(), db.class_ids()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--methods", default=",".join(WEAK + UNSUP + ["sup-csq"]))
    ap.add_argument("--noise", default="0.5,0.2;0.3,0.4;0.8,0.0",
                    help="keep,noise settings separated by ';'")
    ap.add_argument("--bits", default="32")
    ap.add_argument("--per-class", type=int, default=200)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--database", type=int, default=5000)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--validation", action="store_true",
                    help="queries and database from the protocol's training part, outside "
                    "the training subset (for tuning; the test images are not read)")
    ap.add_argument("--embed-dim", type=int, default=0, help="wdht/tagrefine: the "
                    "co-occurrence tag embedding with this many dimensions, handed to the "
                    "loss as tag vectors (0: the loss's own, min(T, 64))")
    ap.add_argument("--json", default=None)
    ap.add_argument("--opts", action="append", default=[],
                    help="METHOD:k=v,k=v loss options, e.g. tagrefine:update_every=5")
    ap.add_argument("--train", action="append", default=[],
                    help="METHOD:k=v,k=v trainer settings for one method (lr, epochs, "
                    "batch_size), e.g. wdht:lr=0.003,epochs=20; the rest take --lr etc.")
    args = ap.parse_args()
    args.loss_opts = dict(o.split(":", 1) for o in args.opts)
    args.train_opts = dict(o.split(":", 1) for o in args.train)
    dh.set_num_threads(args.threads)
    full, test = dh.Dataset.fashion_mnist("train"), dh.Dataset.fashion_mnist("test")
    tr, _, _ = dh.data.protocol_split("fashion-mnist", full, test, seed=args.seed)
    base_rows = balanced_rows(tr, args.per_class, args.seed)
    base = tr.subset(base_rows)
    r = np.random.default_rng(args.seed + 1)
    if args.validation:
        q_rows = balanced_rows(tr, args.queries // 10, args.seed + 2, exclude=base_rows)
        query = as_features(tr.subset(q_rows))
        rest = np.setdiff1d(np.arange(len(tr)), np.concatenate([q_rows, base_rows]))
        db = as_features(tr.subset(np.sort(r.choice(rest, min(args.database, rest.size),
                                                    replace=False)).astype(np.int64)))
    else:
        query = as_features(balanced(test, args.queries // 10, args.seed))
        db = as_features(full.subset(np.sort(r.choice(len(full), args.database,
                                                      replace=False)).astype(np.int64)))
    methods = args.methods.split(",")
    rows = []
    print(f"train {len(base)} images, {len(query)} {'validation' if args.validation else 'test'}"
          f" queries, database {len(db)}; mlp "
          f"{args.hidden}, {args.epochs} epochs, batch {args.batch}, adam {args.lr}", flush=True)
    for bits in (int(b) for b in args.bits.split(",")):
        args.bits = bits
        once = {}
        for setting in args.noise.split(";"):
            keep, noise = (float(v) for v in setting.split(","))
            tags = dh.data.synthesize_tags(base, "fashion-mnist-tags", keep, noise, args.seed)
            tags.attach(base)
            train_ds = as_features(base)
            per_img = tags.matrix().sum(1).mean()
            for method in methods:
                if method in ONCE and method in once:  # no tags: run once
                    m = once[method]
                else:
                    t0 = time.time()
                    m = evaluate(train(method, train_ds, args, args.seed), query, db), \
                        time.time() - t0
                    if method in ONCE:
                        once[method] = m
                rows.append(dict(bits=bits, keep=keep, noise=noise, method=method, map=m[0],
                                 seconds=m[1], train=args.train_opts.get(method, ""),
                                 embed_dim=args.embed_dim,
                                 queries="validation" if args.validation else "test"))
                print(f"K={bits} p={keep} q={noise} ({per_img:.1f} tags/img) {method:10s} "
                      f"mAP@all {m[0]:.4f} ({m[1]:.0f} s)", flush=True)
    print("\n| K | p, q | " + " | ".join(methods) + " |")
    print("|---|---|" + "---|" * len(methods))
    for bits in sorted({x["bits"] for x in rows}):
        for setting in args.noise.split(";"):
            keep, noise = (float(v) for v in setting.split(","))
            vals = {x["method"]: x["map"] for x in rows
                    if x["bits"] == bits and x["keep"] == keep and x["noise"] == noise}
            print(f"| {bits} | {keep}, {noise} | " +
                  " | ".join(f"{vals[m]:.4f}" for m in methods) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()

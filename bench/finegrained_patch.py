#!/usr/bin/env python3
"""Fine-grained benchmark (a): a generated data set whose classes differ only in a
small local patch. Same encoder (smallcnn), same loss (CSQ), same optimiser and
epochs; only the stage between the feature map and the hash head changes:
  fc    smallcnn's own features (flatten + fc-512 of the feature map)
  gap   global average pooling of the 64x7x7 feature map (the baseline)
  attn  SEMICON-lite attention pooling (3 maps, suppression chain)
  part  ExchNet-style parts (4 maps, diversity loss)
  attn+enc, part+enc  the same pools with smallcnn's fc-512 features replacing the
        pool's global average g (fmap_global = DH_FMAP_GLOBAL_ENCODER)
Images: 28x28 grey, noise plus clutter (square outlines and loose dots anywhere);
the class is which corner of one marked square (a 7x7 outline with a filled centre)
holds a 2x2 dot; the marked square sits at a random place. Prints mAP@all of test
queries against the training set as database, per pool.

  DH_LIBRARY=build/libdh.so PYTHONPATH=bindings/python /usr/bin/python3 \
      bench/finegrained_patch.py --train 3000 --test 600 --epochs 10 --seeds 1
"""
import argparse
import time

import numpy as np

import dh
import dh.finegrained as fg


def make_set(n, n_classes, rng):
    img = rng.normal(40, 12, size=(n, 28, 28)).clip(0, 255)
    lab = rng.integers(0, n_classes, size=n)
    corners = [(1, 1), (1, 4), (4, 1), (4, 4)]

    def square(im, y, x, centre):
        im[y:y + 7, x] = im[y:y + 7, x + 6] = 200
        im[y, x:x + 7] = im[y + 6, x:x + 7] = 200
        if centre:
            im[y + 3, x + 3] = 200

    for i in range(n):
        im = img[i]
        for _ in range(2):  # clutter: plain squares (no centre mark) and loose dots
            square(im, rng.integers(0, 22), rng.integers(0, 22), False)
        for _ in range(3):
            y, x = rng.integers(0, 27, size=2)
            im[y:y + 2, x:x + 2] = 200
        y, x = rng.integers(0, 22, size=2)
        square(im, y, x, True)
        cy, cx = corners[lab[i] % 4]
        im[y + cy:y + cy + 2, x + cx:x + cx + 2] = 200
    return img.astype(np.uint8)[..., None], lab.astype(np.int32)


def make_model(pool, bits, seed):
    if pool == "fc":
        return dh.Model.create("smallcnn", n_bits=bits, seed=seed)
    name, _, glob = pool.partition("+")  # "attn+enc": fc-512 features as the global part
    return fg.create_model("smallcnn", n_bits=bits, pool=name, seed=seed,
                           global_branch="encoder" if glob == "enc" else "pool")


def run(pool, tr, te, args, seed):
    m = make_model(pool, args.bits, seed)
    loss = dh.Loss("csq", n_bits=args.bits, n_classes=args.classes)
    t = dh.Trainer(m, loss, tr, epochs=args.epochs, batch_size=64, optimizer="adam",
                   lr=1e-3, weight_decay=0, seed=seed)
    t0 = time.time()
    t.run()
    dt = time.time() - t0
    qc = dh.encode_dataset(m, te)
    dc = dh.encode_dataset(m, tr)
    mp = dh.eval.mean_average_precision(qc, dc, te.class_ids(), tr.class_ids())
    return mp, dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", type=int, default=3000)
    ap.add_argument("--test", type=int, default=600)
    ap.add_argument("--classes", type=int, default=4)
    ap.add_argument("--bits", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--pools", default="fc,gap,attn,part,attn+enc,part+enc",
                    help="comma list of fc, gap, attn, part, attn+enc, part+enc")
    args = ap.parse_args()
    dh.set_num_threads(args.threads)
    rng = np.random.default_rng(1234)
    xtr, ytr = make_set(args.train, args.classes, rng)
    xte, yte = make_set(args.test, args.classes, rng)
    tr = dh.Dataset.from_images(xtr, class_ids=ytr, n_classes=args.classes)
    te = dh.Dataset.from_images(xte, class_ids=yte, n_classes=args.classes)
    res = {}
    for seed in range(1, args.seeds + 1):  # pools alternate inside each seed
        for pool in args.pools.split(","):
            mp, dt = run(pool, tr, te, args, seed)
            res.setdefault(pool, []).append(mp)
            print(f"seed {seed} pool {pool:8s} mAP {mp:.4f} ({dt:.0f} s)", flush=True)
    print("| pool | mAP@all (mean over seeds) | runs |")
    print("|---|---|---|")
    for pool, v in res.items():
        print(f"| {pool} | {np.mean(v):.4f} | {', '.join(f'{x:.3f}' for x in v)} |")


if __name__ == "__main__":
    main()

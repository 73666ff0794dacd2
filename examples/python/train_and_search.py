#!/usr/bin/env python3
"""Train a hashing model from numpy arrays, search it, and plot a PR curve.

    PYTHONPATH=bindings/python /usr/bin/python3 examples/python/train_and_search.py [--epochs 5]

Uses Fashion-MNIST from the dataset-fashion-mnist package as numpy arrays (any uint8
N x H x W x C array with labels works the same), smallcnn + CSQ at 64 bits, then
searches the database with dh.Index and draws the precision-recall curve by Hamming
radius with matplotlib (python3-matplotlib) into pr_curve.png, and a t-SNE picture of
the codes of three classes with scikit-learn (python3-sklearn) into tsne.png, as in the
survey's Fig. 3. --quick trains on a small subset (used by the tests).
"""
import argparse
import time

import numpy as np

import dh


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--bits", type=int, default=64)
    ap.add_argument("--out", default="pr_curve.png")
    ap.add_argument("--tsne", default="tsne.png")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()

    # numpy in: images [n, 28, 28, 1] uint8 and class ids
    train_all = dh.Dataset.fashion_mnist("train")
    test = dh.Dataset.fashion_mnist("test")
    n_load = 6000 if args.quick else len(train_all)
    images = np.stack([train_all.image(i) for i in range(n_load)])
    labels = train_all.class_ids()[:n_load]
    print("numpy data:", images.shape, images.dtype, labels.shape)

    # 1,000 training images per class; the 60k images are the database
    rng = np.random.default_rng(0)
    per_class = 100 if args.quick else 1000  # quick: from the first 6,000 images
    pick = np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
                           for c in range(10)])
    train = dh.Dataset.from_images(images[pick], class_ids=labels[pick], n_classes=10)
    if args.quick:  # a 6,000-image database and 500 queries
        test = test.subset(np.arange(500))
    db = dh.Dataset.from_images(images, class_ids=labels, n_classes=10)

    loss = dh.Loss("csq", n_bits=args.bits, n_classes=10, n_train=len(train))
    model = dh.Model.create("smallcnn", n_bits=args.bits, head=loss.head_hint()[0],
                            mean=[0.2860], std=[0.3530])
    trainer = dh.Trainer(model, loss, train, epochs=args.epochs, optimizer="adam", lr=1e-3)

    def progress(p):
        if p["event"] == dh.train.EVENT_EPOCH:
            print(f"epoch {p['epoch'] + 1}/{p['epochs']}  loss {p['loss']:.4f}  "
                  f"{p['images_per_s']:.0f} img/s")
    trainer.run(callback=progress)

    t0 = time.time()
    db_codes = dh.encode_dataset(model, db)
    q_codes = dh.encode_dataset(model, test)
    print(f"encoded {len(db) + len(test)} images in {time.time() - t0:.1f} s")

    index = dh.Index(args.bits)
    index.add(db_codes)
    D, I = index.search(q_codes, 10)
    ql = test.class_ids()
    print(f"precision@10 over {len(test)} queries: {(labels[I] == ql[:, None]).mean():.4f}")

    res = dh.eval.evaluate(q_codes, db_codes, ql, labels)
    print(f"mAP@all = {res['map']:.4f}")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed (apt install python3-matplotlib): no plot")
        return
    plt.plot(res["pr_recall"], res["pr_precision"], marker=".")
    plt.xlabel("recall")
    plt.ylabel("precision")
    plt.title(f"Fashion-MNIST, CSQ {args.bits} bits, mAP {res['map']:.3f}")
    plt.grid(True)
    plt.savefig(args.out, dpi=100)
    plt.close()
    print("wrote", args.out)
    tsne(db_codes, labels, args)


def tsne(codes, labels, args, classes=(0, 1, 7), per_class=300):
    """t-SNE of the binary codes of three classes (T-shirt, trouser, sneaker)."""
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        print("scikit-learn not installed (apt install python3-sklearn): no t-SNE picture")
        return
    import matplotlib.pyplot as plt
    rows = np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in classes])
    bits = dh.unpack_codes(codes[rows], args.bits)  # +-1 rows
    xy = TSNE(n_components=2, metric="hamming", init="random", random_state=0,
              perplexity=30).fit_transform(bits)
    names = {0: "T-shirt", 1: "trouser", 7: "sneaker"}
    for c in classes:
        sel = labels[rows] == c
        plt.scatter(xy[sel, 0], xy[sel, 1], s=6, label=names.get(c, str(c)))
    plt.legend()
    plt.title(f"t-SNE of {args.bits}-bit codes")
    plt.savefig(args.tsne, dpi=100)
    plt.close()
    print("wrote", args.tsne)


if __name__ == "__main__":
    main()

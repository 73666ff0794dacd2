#!/usr/bin/env python3
"""Class-incremental hashing on Fashion-MNIST (docs/incremental.md): session 0 learns
classes 0-6, session 1 adds classes 7-9. The database codes of session 0 stay in the
index untouched; session 1 appends the new items' codes. Reports mAP@all of old-class,
new-class and all queries against the whole index after each session for

  naive    ADSH fine-tuned on the new items only (no knowledge of the old codes)
  naive+kd naive plus the same distillation from the session-0 network as dihn's
           default (a learning-without-forgetting baseline)
  dihn     DIHN, new images only (codes + labels of the old items, no old images),
           with its default distillation from the session-0 network
  dihn-kd  DIHN, new images only, distillation off
  dihn+old DIHN, the reference protocol: the old images train too (codes still fixed);
           dihn+old@M trains on M of them drawn at random (old_samples)
  dih      DIH (label-projected targets) fine-tuned on the new items, with its default
           distillation from the session-0 network
  dih-kd   DIH, distillation off
  retrain  ADSH from scratch on all ten classes, every database code re-learned

    /usr/bin/python3 bench/incremental_fashion_mnist.py --per-class 300 --bits 32 \\
        --epochs0 8 --epochs1 6 --threads 2

Database: --per-class training images of each class (old = classes 0-6); queries:
--queries per class from the test set. smallcnn, Adam; mAP with index-order ties.
"""
import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bindings",
                                "python"))
import dh  # noqa: E402

MEAN, STD = [0.2860], [0.3530]


def model_new(bits, seed):
    return dh.Model.create("smallcnn", n_bits=bits, head="tanh", mean=MEAN, std=STD, seed=seed)


def model_copy(model, tmp, name):
    path = os.path.join(tmp, name + ".dhm")
    model.save(path)
    return dh.Model.load(path)


def index_copy(index):
    ix = dh.Index(index.n_bits)
    if len(index):
        ix.add(index.export("packed")[0])
    return ix


def maps(model, index, db_labels, queries):
    """mAP@all of each query group against the whole index."""
    codes = index.export("packed")[0]
    out = {}
    for name, q in queries.items():
        qc = dh.encode_dataset(model, q)
        out[name] = float(dh.eval.mean_average_precision(qc, codes, q.class_ids(), db_labels))
    return out


def session(model, loss_name, bits, data, index, labels=None, images=None, n_train=None,
            **opts):
    loss = dh.Loss(loss_name, n_bits=bits, n_classes=10, n_train=n_train or 0)
    t0 = time.time()
    dh.incremental_session(model, loss, data, index, index_labels=labels, index_images=images,
                           optimizer="adam", **opts)
    return time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-class", type=int, default=300)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--bits", type=int, default=32)
    ap.add_argument("--epochs0", type=int, default=8)
    ap.add_argument("--epochs1", type=int, default=6)
    ap.add_argument("--lr0", type=float, default=1e-3)
    ap.add_argument("--lr1", type=float, default=3e-4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--methods", default="naive,naive+kd,dihn,dihn-kd,dihn+old,dih,dih-kd,"
                    "retrain")
    ap.add_argument("--sweep", default="", help="extra codes-only sessions with "
                    "distillation weights 'w_u:w_f,...' (dihn) or 'dih@w_u:w_f,...' (dih); "
                    "rows named kd=...")
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    dh.set_num_threads(a.threads)
    tr, te = dh.Dataset.fashion_mnist("train"), dh.Dataset.fashion_mnist("test")
    db, _ = dh.data.split_per_class(tr, a.per_class, seed=a.seed)
    qs, _ = dh.data.split_per_class(te, a.queries, seed=a.seed + 1)
    old_db, new_db = dh.data.split_classes(db, 0, 7), dh.data.split_classes(db, 7, 3)
    queries = {"old": dh.data.split_classes(qs, 0, 7), "new": dh.data.split_classes(qs, 7, 3),
               "all": qs}
    y_old, y_new = old_db.class_ids(), new_db.class_ids()
    y_all = np.concatenate([y_old, y_new])
    K, n_old, n_new = a.bits, len(old_db), len(new_db)
    s0 = dict(epochs=a.epochs0, lr=a.lr0, batch_size=64, seed=a.seed)
    s1 = dict(epochs=a.epochs1, lr=a.lr1, batch_size=64, seed=a.seed)
    methods = [m for m in a.methods.split(",") if m]
    methods += ["kd=" + w for w in a.sweep.split(",") if w]
    rows, tmp = {}, tempfile.mkdtemp(prefix="dh_incr_")
    print(f"database {n_old} old + {n_new} new, queries {len(qs)}, K = {K}", flush=True)

    # session 0: ADSH (for naive and DIHN) and DIH, each on classes 0-6
    base = {}
    if {"naive", "naive+kd", "dihn", "dihn-kd", "dihn+old", "retrain"} & set(methods) or \
            a.sweep or any(x.startswith("dihn+old@") for x in methods):
        m, ix = model_new(K, a.seed), dh.Index(K)
        t = session(m, "adsh", K, old_db, ix, n_train=n_old, **s0)
        base["adsh"] = (m, ix, t, maps(m, ix, y_old, {"old": queries["old"]})["old"])
    if {"dih", "dih-kd"} & set(methods) or "dih@" in a.sweep:
        m, ix = model_new(K, a.seed), dh.Index(K)
        t = session(m, "dih", K, old_db, ix, **s0)
        base["dih"] = (m, ix, t, maps(m, ix, y_old, {"old": queries["old"]})["old"])
    for k, v in base.items():
        print(f"session 0 {k}: mAP old {v[3]:.4f} ({v[2]:.0f} s)", flush=True)

    for meth in methods:
        if meth == "retrain":  # session 0 is ADSH's; then all ten classes from scratch
            s0map = base["adsh"][3] if "adsh" in base else float("nan")
            m, ix = model_new(K, a.seed), dh.Index(K)
            t = session(m, "adsh", K, db, ix, n_train=len(db), **s0)
            r = maps(m, ix, db.class_ids(), queries)
        else:
            src = base["dih" if meth.startswith(("dih-", "kd=dih@")) or meth == "dih" else "adsh"]
            m, ix = model_copy(src[0], tmp, meth), index_copy(src[1])
            before = ix.export("packed")[0]
            kd = dict(distill_codes=K * K / 20, distill_features=K * K)  # dihn's defaults
            if meth == "naive":
                t = session(m, "adsh", K, new_db, ix, n_train=n_new, **s1)
            elif meth == "naive+kd":
                t = session(m, "adsh", K, new_db, ix, n_train=n_new, **kd, **s1)
            elif meth == "dihn":
                t = session(m, "dihn", K, new_db, ix, labels=y_old, n_train=n_new, **s1)
            elif meth == "dih-kd":
                t = session(m, "dih", K, new_db, ix, distill_codes=0, distill_features=0, **s1)
            elif meth.startswith("kd=dih@"):
                wu, wf = (float(w) for w in meth[7:].split(":"))
                t = session(m, "dih", K, new_db, ix, distill_codes=wu, distill_features=wf,
                            **s1)
            elif meth.startswith("kd="):
                wu, wf = (float(w) for w in meth[3:].split(":"))
                t = session(m, "dihn", K, new_db, ix, labels=y_old, n_train=n_new,
                            distill_codes=wu, distill_features=wf, **s1)
            elif meth == "dihn-kd":
                t = session(m, "dihn", K, new_db, ix, labels=y_old, n_train=n_new,
                            distill_codes=0, distill_features=0, **s1)
            elif meth.startswith("dihn+old@"):
                ms = int(meth[9:])
                t = session(m, "dihn", K, new_db, ix, labels=y_old, images=old_db,
                            n_train=n_new + ms, old_samples=ms, **s1)
            elif meth == "dihn+old":
                t = session(m, "dihn", K, new_db, ix, labels=y_old, images=old_db,
                            n_train=n_new + n_old, **s1)
            else:
                t = session(m, "dih", K, new_db, ix, **s1)
            assert np.array_equal(ix.export("packed", 0, n_old)[0], before), "old codes changed"
            s0map = src[3]
            r = maps(m, ix, y_all, queries)
        rows[meth] = dict(session0_old=s0map, **r, seconds=t)
        print(f"{meth:9s} session 0 old {s0map:.4f} | session 1 old {r['old']:.4f} "
              f"new {r['new']:.4f} all {r['all']:.4f} ({t:.0f} s)", flush=True)

    print("\n| method | session 0: old | session 1: old | new | all | session-1 time |")
    print("|---|---|---|---|---|---|")
    for k, v in rows.items():
        print(f"| {k} | {v['session0_old']:.4f} | {v['old']:.4f} | {v['new']:.4f} | "
              f"{v['all']:.4f} | {v['seconds']:.0f} s |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(args=vars(a), rows=rows), f, indent=1)


if __name__ == "__main__":
    main()

"""The libdh side: the same split, recipe and evaluation through the Python bindings
(bindings/python/dh; DH_LIBRARY selects the library)."""
import time

import numpy as np

import dh
from dh import data as dd
from dh import eval as de
from dh import index as di
from dh import train as dt


def split(seed=1):
    """libdh's fashion-mnist protocol split: (train, query, database) Datasets and the
    training rows' indices into the 60,000 training images."""
    a = dd.Dataset.fashion_mnist("train")
    b = dd.Dataset.fashion_mnist("test")
    tr, q, db = dd.protocol_split("fashion-mnist", a, b, seed=seed)
    idx = tr.origin().reshape(-1)
    assert len(idx) == 10000 and len(q) == 10000 and len(db) == 60000
    return tr, q, db, idx


def loss_options(method, cfg, seed):
    o = dict(cfg.get("libdh_loss_kw", {}))
    o["seed"] = seed
    return o


def centers(method, K, C, seed, cfg):
    """The centers libdh's loss uses for this seed (CSQ, DPN, OrthoHash; else None) and
    the method's recipe (dh_loss_get_recipe)."""
    lo = dh.Loss(method, n_bits=K, n_classes=C, **loss_options(method, cfg, seed))
    T = lo.get_tensor("centers").reshape(C, K) if "centers" in lo.state_names() else None
    return T, lo.recipe()


def trainer_fields():
    return {f for f, _ in dt.TrainerOptions._fields_}


def train(method, cfg, tr, seed, log=print):
    K, C = cfg["bits"], 10
    kw = loss_options(method, cfg, seed)
    if method == "dpsh":
        kw["n_train"] = len(tr)
    loss = dh.Loss(method, n_bits=K, n_classes=C, **kw)
    model = dh.Model.create("smallcnn", n_bits=K, head=loss.head_hint()[0], mean=[cfg["mean"]],
                            std=[cfg["std"]], seed=seed)
    aug = (dt.AUG_RANDOM_CROP if cfg["pad"] >= 0 else 0) | (dt.AUG_FLIP if cfg["flip"] else 0)
    opts = dict(epochs=cfg["epochs"], batch_size=cfg["batch_size"], optimizer="adam",
                lr=cfg["lr"], weight_decay=cfg["wd"], schedule="cosine", augment=aug,
                seed=seed, keep_best=0)
    fields = trainer_fields()
    for k, v in cfg.get("libdh_trainer_kw", {}).items():
        if k in fields:
            opts[k] = v
    t = dh.Trainer(model, loss, tr, **opts)
    t0 = [time.time()]

    def cb(p):
        if p["event"] == dt.EVENT_EPOCH:
            log(f"  libdh {method} epoch {p['epoch'] + 1}/{p['epochs']} loss {p['loss']:.4f} "
                f"lr {p['lr']:.2e} {time.time() - t0[0]:.1f}s")
            t0[0] = time.time()
        return False

    start = time.time()
    t.run(callback=cb)
    return model, loss, time.time() - start


def encode(model, ds):
    codes = dt.encode_dataset(model, ds)
    return di.unpack(codes, model.n_bits, dtype=np.int8)


def mean_ap(qc, dc, ql, dl, ties):
    return de.mean_average_precision(qc, dc, ql.astype(np.int32), dl.astype(np.int32), ties=ties)

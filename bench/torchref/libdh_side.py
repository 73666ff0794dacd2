"""The libdh side: the same split, recipe and evaluation through the Python bindings
(bindings/python/dh; DH_LIBRARY selects the library)."""
import math
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


def validation_rows(idx, n_val, split_seed=1, n_total=60000):
    """Validation queries (n_val training images outside the training rows idx, drawn with
    seed 1000 + split_seed) and the database (every other training image), as sorted
    row indices into the 60,000 training images: tune on these, never on the test set."""
    rest = np.setdiff1d(np.arange(n_total), idx)
    vq = np.sort(np.random.default_rng(1000 + split_seed).choice(rest, n_val, replace=False))
    return vq, np.setdiff1d(np.arange(n_total), vq)


def train_subset(rows):
    """The fashion-mnist training images at `rows` (validation queries / database)."""
    return dd.Dataset.fashion_mnist("train").subset(np.asarray(rows, dtype=np.int64))


def loss_options(method, cfg, seed):
    o = dict(cfg.get("loss_kw", {}))
    o["seed"] = seed
    o["recipe"] = cfg["recipe"]  # the row's method constants (dh_loss_options_apply_recipe)
    return o


def row_constants(row):
    """The method constants a recipe row sets (NaN / -1: the method's own default)."""
    c = {k: row[k] for k in ("quant_weight", "scale", "margin") if not math.isnan(row[k])}
    c.update({k: row[k] for k in ("loss_variant", "loss_schedule") if row[k] >= 0})
    return c


def config(method, args, seed):
    """Both sides' configuration from libdh's recipe table: dh.train.resolve_options
    (dh_trainer_options_resolve) of `args.recipe` for smallcnn at 28 x 28 with the
    command line's overrides. Returns (cfg for both sides, the resolved options)."""
    over = {"recipe": args.recipe, "seed": seed}
    for k, v in (("epochs", args.epochs), ("batch_size", args.batch_size), ("lr", args.lr)):
        if v > 0:
            over[k] = v
    if args.weight_decay >= 0:
        over["weight_decay"] = args.weight_decay
    if args.lr_floor >= 0:
        over["lr_min_ratio"] = args.lr_floor
    if args.pad >= 0:
        over["crop_padding"] = args.pad
    if args.decay_scope:
        over["decay_scope"] = args.decay_scope
    if args.augment:
        over["augment"] = args.augment
    ro = dt.resolve_options(method, encoder="smallcnn", input_size=(28, 28), **over)
    aug = "" if ro["augment"] in (None, "none") else ro["augment"]
    for k, want in (("optimizer", "adam"), ("warmup_epochs", 0), ("backbone_lr_mult", 1.0)):
        if ro[k] != want:
            raise SystemExit(f"{method}: the torch side implements {k} = {want!r} only, the "
                             f"recipe resolves {ro[k]!r}")
    if set(aug.split(",")) - {"crop", "flip", ""}:
        raise SystemExit(f"{method}: the torch side implements crop and flip only ({aug})")
    row = dd_recipe(method, args.recipe)
    cfg = dict(bits=args.bits, epochs=ro["epochs"], batch_size=ro["batch_size"], lr=ro["lr"],
               wd=ro["weight_decay"], pad=ro["crop_padding"] if "crop" in aug else -1,
               flip_prob=ro["flip_prob"] if "flip" in aug else 0.0, mean=args.mean,
               std=args.std, lr_floor=ro["lr_min_ratio"], decay_all=ro["decay_scope"] == "all",
               loss_lr_mult=row.get("param_lr_mult") or 1.0, recipe=args.recipe,
               trainer_kw=over)
    cfg["loss_kw"] = {}
    if method == "sprch":  # self-paced schedule over the run's epochs, both sides
        cfg["loss_kw"]["n_epochs"] = ro["epochs"]
    for kv in filter(None, args.loss_kw.split(",")):
        k, v = kv.split("=")
        cfg["loss_kw"][k] = float(v)
    cfg["row_constants"] = row_constants(row)
    set_here = sorted((set(cfg["loss_kw"]) - {"n_epochs"}) | set(cfg["row_constants"]))
    if set_here and "torch" in args.sides.split(","):
        raise SystemExit(f"{method}: the torch side takes libdh's method defaults only, not "
                         f"{set_here} (--loss-kw or the '{args.recipe}' row); run it with "
                         "--sides libdh")
    return cfg, ro


def dd_recipe(method, variant):
    from dh import loss as dl
    return dl.recipe(method, "scratch", variant)


def describe(ro, cfg):
    return (f"{ro['optimizer']} lr {ro['lr']:g} batch {ro['batch_size']} epochs {ro['epochs']} "
            f"wd {ro['weight_decay']:g} ({ro['decay_scope']}) cosine floor {ro['lr_min_ratio']:g}"
            f" augment {ro['augment']} pad {ro['crop_padding']} flip {ro['flip_prob']:g} "
            f"loss-param lr x{cfg['loss_lr_mult']:g}"
            + "".join(f" {k} {v:g}" for k, v in sorted({**cfg["row_constants"],
                                                          **cfg["loss_kw"]}.items())))


def centers(method, K, C, seed, cfg):
    """The centers libdh's loss uses for this seed (CSQ, DPN, OrthoHash; else None) and
    the method's recipe (dh_loss_get_recipe)."""
    kw = loss_options(method, cfg, seed)
    if method == "dpsh":
        kw["n_train"] = 10000
    lo = dh.Loss(method, n_bits=K, n_classes=C, **kw)
    T = lo.get_tensor("centers").reshape(C, K) if "centers" in lo.state_names() else None
    return T, lo.recipe()


def train(method, cfg, tr, seed, log=print):
    K, C = cfg["bits"], 10
    kw = loss_options(method, cfg, seed)
    if method == "dpsh":
        kw["n_train"] = len(tr)
    loss = dh.Loss(method, n_bits=K, n_classes=C, **kw)
    model = dh.Model.create("smallcnn", n_bits=K, head=loss.head_hint()[0], mean=[cfg["mean"]],
                            std=[cfg["std"]], seed=seed)
    t = dh.Trainer(model, loss, tr, keep_best=0, **cfg["trainer_kw"])
    got = t.options()
    for k, v in (("crop_padding", cfg["pad"]), ("lr_min_ratio", cfg["lr_floor"]),
                 ("weight_decay", cfg["wd"]), ("epochs", cfg["epochs"])):
        if k != "crop_padding" or v >= 0:
            assert abs(got[k] - v) < 1e-9, (k, got[k], v)
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

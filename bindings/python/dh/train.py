"""Training: dh_trainer over a Model, a Loss and a Dataset, with progress callbacks.

    model = dh.Model.create("smallcnn", n_bits=64, head=loss.head_hint()[0])
    t = dh.Trainer(model, loss, train_set, epochs=10, optimizer="adam", lr=1e-3)
    t.set_validation(query_set, db_set)
    t.run(callback=lambda p: print(p["epoch"], p["loss"]))
    codes = dh.encode_dataset(model, db_set)
"""
import ctypes
import math

import numpy as np

from ._lib import Handle, c_status, fn, ptr

_vp = ctypes.c_void_p

EVENT_BATCH, EVENT_EPOCH, EVENT_EVAL = 0, 1, 2
_OPTIMIZERS = {"sgd": 0, "adam": 1, "adamw": 2, "rmsprop": 3}
_SCHEDULES = {"constant": 0, "step": 1, "multistep": 2, "cosine": 3}
AUG_RESIZED_CROP, AUG_RANDOM_CROP, AUG_CENTER_CROP, AUG_FLIP, AUG_COLOR_JITTER, AUG_GRAYSCALE = (
    1, 2, 4, 8, 16, 32)
AUG_BLUR, AUG_RECIPE = 64, 0x80000000
_AUG_NAMES = {"crop": AUG_RANDOM_CROP, "resized-crop": AUG_RESIZED_CROP, "flip": AUG_FLIP,
              "jitter": AUG_COLOR_JITTER, "gray": AUG_GRAYSCALE, "blur": AUG_BLUR}
_SETTINGS = {"auto": -1, "scratch": 0, "pretrained": 1}
_DECAY = {"all": 0, "weights": 1}


class TrainProgress(ctypes.Structure):
    """ctypes mirror of dh_train_progress (epoch, batch, loss, speed, ETA, mAP)."""
    _fields_ = [("struct_size", ctypes.c_size_t), ("event", ctypes.c_int32),
                ("epoch", ctypes.c_int32), ("epochs", ctypes.c_int32),
                ("best_epoch", ctypes.c_int32), ("batch", ctypes.c_uint64),
                ("batches", ctypes.c_uint64), ("loss", ctypes.c_double),
                ("images_per_s", ctypes.c_double), ("eta_s", ctypes.c_double),
                ("elapsed_s", ctypes.c_double), ("lr", ctypes.c_double),
                ("map", ctypes.c_double), ("best_map", ctypes.c_double)]

    def as_dict(self):
        """The fields as a dict (struct_size left out)."""
        return {f: getattr(self, f) for f, _ in self._fields_ if f != "struct_size"}


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.POINTER(TrainProgress), ctypes.c_void_p)


class TrainerOptions(ctypes.Structure):
    """ctypes mirror of dh_trainer_options (epochs, batch size, optimizer, schedule, ...)."""
    _fields_ = [("struct_size", ctypes.c_size_t), ("epochs", ctypes.c_uint32),
                ("batch_size", ctypes.c_uint32), ("seed", ctypes.c_uint64),
                ("optimizer", ctypes.c_int32), ("schedule", ctypes.c_int32),
                ("lr", ctypes.c_double), ("momentum", ctypes.c_double),
                ("weight_decay", ctypes.c_double), ("backbone_lr_mult", ctypes.c_double),
                ("warmup_epochs", ctypes.c_uint32), ("augment", ctypes.c_uint32),
                ("eval_every", ctypes.c_uint32), ("keep_best", ctypes.c_uint32),
                ("eval_topk", ctypes.c_uint64), ("checkpoint_path", ctypes.c_char_p),
                ("checkpoint_every", ctypes.c_uint32), ("resume", ctypes.c_uint32),
                ("verbose", ctypes.c_uint32), ("reserved0", ctypes.c_uint32),
                ("callback", _CALLBACK), ("callback_user", ctypes.c_void_p),
                ("supervision", ctypes.c_int32),
                # Since 1.3: every loader knob and the recipe (negative: the recipe's /
                # the loader's default)
                ("crop_padding", ctypes.c_int32), ("flip_prob", ctypes.c_float),
                ("scale_min", ctypes.c_float), ("scale_max", ctypes.c_float),
                ("ratio_min", ctypes.c_float), ("ratio_max", ctypes.c_float),
                ("brightness", ctypes.c_float), ("contrast", ctypes.c_float),
                ("saturation", ctypes.c_float), ("grayscale_prob", ctypes.c_float),
                ("blur_prob", ctypes.c_float), ("lr_min_ratio", ctypes.c_double),
                ("recipe", ctypes.c_char_p), ("recipe_setting", ctypes.c_int32),
                ("decay_scope", ctypes.c_int32)]


_opts_init = fn("dh_trainer_options_init", [ctypes.POINTER(TrainerOptions)], None)
_create = fn("dh_trainer_create", [_vp, _vp, _vp, ctypes.POINTER(TrainerOptions),
                                   ctypes.POINTER(_vp)])
_free = fn("dh_trainer_free", [_vp], None)
_set_val = fn("dh_trainer_set_validation", [_vp, _vp, _vp])
_run = fn("dh_trainer_run", [_vp])
_progress = fn("dh_trainer_get_progress", [_vp, ctypes.POINTER(TrainProgress)])
_encode_ds = fn("dh_model_encode_dataset", [_vp, _vp, ctypes.POINTER(ctypes.c_uint8),
                                            ctypes.POINTER(ctypes.c_float)])
_n_bits = fn("dh_model_n_bits", [_vp], ctypes.c_uint32)
_set_cb = fn("dh_trainer_set_callback", [_vp, _CALLBACK, ctypes.c_void_p])
_get_opts = fn("dh_trainer_get_options", [_vp, ctypes.POINTER(TrainerOptions)])
_resolve = fn("dh_trainer_options_resolve", [ctypes.POINTER(TrainerOptions), ctypes.c_char_p,
                                             ctypes.c_char_p, ctypes.c_uint32, ctypes.c_uint32,
                                             ctypes.POINTER(TrainerOptions)])
_PAIRS = {"crop_scale": ("scale_min", "scale_max"), "crop_ratio": ("ratio_min", "ratio_max"),
          "jitter": ("brightness", "contrast", "saturation")}


def _augment_flags(v):
    if isinstance(v, str):
        v = [] if v == "none" else v.split(",")
    if isinstance(v, (list, tuple)):
        try:
            return sum({_AUG_NAMES[s.strip()] for s in v})
        except KeyError as e:
            raise ValueError(f"augment: unknown name {e.args[0]!r}; valid: "
                             f"{sorted(_AUG_NAMES)} or 'none'") from None
    return int(v)


def _fill_options(o, options, where):
    """Set TrainerOptions fields from keywords (names converted; the strings kept alive in
    the returned list)."""
    keep = []
    names = {f for f, _ in TrainerOptions._fields_} - {"struct_size", "callback",
                                                         "callback_user", "reserved0"}
    for k, v in options.items():
        if k in _PAIRS:  # crop_scale=(lo, hi), crop_ratio=(lo, hi), jitter=(b, c, s) or x
            vals = list(v) if isinstance(v, (list, tuple)) else [v]
            vals += vals[-1:] * (len(_PAIRS[k]) - len(vals))
            for f, x in zip(_PAIRS[k], vals):
                setattr(o, f, x)
            continue
        if k not in names:
            raise TypeError(f"{where}: unknown option {k!r}; valid: "
                            f"{sorted(names | set(_PAIRS))}")
        if k == "optimizer" and isinstance(v, str):
            v = _OPTIMIZERS[v]
        if k == "schedule" and isinstance(v, str):
            v = _SCHEDULES[v]
        if k == "supervision" and isinstance(v, str):
            v = {"labels": 0, "tags": 1}[v]
        if k == "augment":
            v = _augment_flags(v)
        if k == "recipe_setting" and isinstance(v, str):
            v = _SETTINGS[v]
        if k == "decay_scope" and isinstance(v, str):
            v = _DECAY[v]
        if k in ("checkpoint_path", "recipe") and v is not None:
            v = str(v).encode()
            keep.append(v)
        setattr(o, k, v)
    return keep


def _options_dict(o):
    d = {f: getattr(o, f) for f, _ in TrainerOptions._fields_
         if f not in ("struct_size", "callback", "callback_user", "reserved0")}
    for k in ("checkpoint_path", "recipe"):
        if isinstance(d[k], bytes):
            d[k] = d[k].decode()
    d["optimizer"] = {v: k for k, v in _OPTIMIZERS.items()}.get(d["optimizer"], d["optimizer"])
    d["schedule"] = {v: k for k, v in _SCHEDULES.items()}.get(d["schedule"], d["schedule"])
    d["recipe_setting"] = {v: k for k, v in _SETTINGS.items()}.get(d["recipe_setting"],
                                                                    d["recipe_setting"])
    d["decay_scope"] = {v: k for k, v in _DECAY.items()}.get(d["decay_scope"], d["decay_scope"])
    d["augment"] = ",".join(n for n, b in _AUG_NAMES.items() if d["augment"] & b) or "none"
    return d


def resolve_options(method, encoder=None, input_size=(0, 0), **options):
    """The trainer options dh_trainer_create would use for `method` with these keywords,
    resolved against the recipe table without a model or data
    (dh_trainer_options_resolve), as a dict. input_size: (height, width) of the model
    input, or an int for square inputs (0: feature rows / unknown)."""
    o = TrainerOptions()
    _opts_init(ctypes.byref(o))
    keep = _fill_options(o, options, "resolve_options")
    h, w = (input_size, input_size) if isinstance(input_size, int) else input_size
    out = TrainerOptions()
    out.struct_size = ctypes.sizeof(out)
    _resolve(ctypes.byref(o), method.encode(), encoder.encode() if encoder else None, h, w,
             ctypes.byref(out))
    del keep
    return _options_dict(out)
assert c_status


class Trainer(Handle):
    """dh_trainer. Options are dh_trainer_options fields (optimizer and schedule may be
    names: 'sgd', 'adam', 'adamw', 'rmsprop'; 'constant', 'step', 'cosine'). Left out,
    they take the recipe's (docs/recipes.md): recipe='default' | 'reference' | 'paper' |
    a method's own, recipe_setting='auto' | 'scratch' | 'pretrained'; the loader knobs
    crop_padding, flip_prob, scale_min/scale_max (or crop_scale=(lo, hi)),
    ratio_min/ratio_max (crop_ratio=(lo, hi)), brightness/contrast/saturation
    (jitter=(b, c, s)), grayscale_prob, blur_prob, lr_min_ratio, decay_scope ('all',
    'weights'); augment as flags or names ('crop,flip', ['crop', 'flip'], 'none').
    options() returns the resolved set. The model, loss and datasets must stay alive
    while the trainer is used (it keeps references)."""

    _free = staticmethod(_free)

    def __init__(self, model, loss, dataset, **options):
        o = TrainerOptions()
        _opts_init(ctypes.byref(o))
        self._strings = _fill_options(o, options, "Trainer")
        self._opts = o
        self._keep = [model, loss, dataset]
        h = _vp()
        _create(model._h, loss._h, dataset._h, ctypes.byref(o), ctypes.byref(h))
        self._h = h


    def __repr__(self):
        if not getattr(self, "_h", None):
            return "<dh.Trainer (closed)>"
        return f"<dh.Trainer epochs={self._opts.epochs} batch_size={self._opts.batch_size}>"

    def set_validation(self, query, database):
        """Validate on query vs database datasets (None, None: no validation)."""
        _set_val(self._h, query._h if query else None, database._h if database else None)
        self._keep[3:] = [query, database]

    def run(self, callback=None):
        """Train. callback(dict) gets every progress event; returning True stops the run
        (raises DhError with status DH_E_INTERRUPTED). Returns the final progress dict."""
        def trampoline(p, _user):
            try:
                return 1 if callback(p.contents.as_dict()) else 0
            except Exception:  # an exception in the callback stops training cleanly
                return 1
        c = _CALLBACK(trampoline) if callback else _CALLBACK()
        self._cb = c  # keep the ctypes thunk alive while C may call it
        _set_cb(self._h, c, None)
        try:
            _run(self._h)
        finally:
            _set_cb(self._h, _CALLBACK(), None)
        return self.progress()

    def options(self):
        """The options in force, every default resolved (dh_trainer_get_options), as a
        dict with names for optimizer, schedule, augment, recipe_setting, decay_scope."""
        o = TrainerOptions()
        o.struct_size = ctypes.sizeof(o)
        _get_opts(self._h, ctypes.byref(o))
        return _options_dict(o)

    def progress(self):
        """Where training stands, as a dict (epoch, batch, loss, ETA, map/best_map or None)."""
        p = TrainProgress()
        p.struct_size = ctypes.sizeof(p)
        _progress(self._h, ctypes.byref(p))
        d = p.as_dict()
        for k in ("map", "best_map"):
            if math.isnan(d[k]):
                d[k] = None
        return d


def encode_dataset(model, dataset, continuous=False):
    """Codes of every sample (packed uint8 [n, ceil(K/8)]); with continuous=True also the
    head outputs [n, K] float32."""
    K = _n_bits(model._h)
    n = len(dataset)
    codes = np.empty((n, (K + 7) // 8), dtype=np.uint8)
    u = np.empty((n, K), dtype=np.float32) if continuous else None
    _encode_ds(model._h, dataset._h, ptr(codes, ctypes.c_uint8), ptr(u, ctypes.c_float))
    return (codes, u) if continuous else codes

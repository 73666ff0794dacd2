"""Class-incremental hashing sessions (dh_incremental_session) and DIHN's fixed codes.

    loss = dh.Loss("dihn", n_bits=64, n_classes=10, n_train=len(new_items))
    first_id = dh.incremental_session(model, loss, new_items, index,
                                      index_labels=old_labels, epochs=5, lr=1e-4)

The model is fine-tuned on the new items, their codes are appended to `index` in place;
the index's existing codes are never rewritten. See docs/incremental.md.
"""
import ctypes

import numpy as np

from ._lib import as_array, c_f32_p, fn, ptr
from .train import _OPTIMIZERS, _SCHEDULES, TrainerOptions, _opts_init as _train_opts_init

CODES_AUTO, CODES_NETWORK, CODES_LEARNED = 0, 1, 2
FIXED_CODES_IN_TRAIN = 1
_CODES = {"auto": CODES_AUTO, "network": CODES_NETWORK, "learned": CODES_LEARNED}


class IncrementalOptions(ctypes.Structure):
    """ctypes mirror of dh_incremental_options (new-code source, distillation weights, old
    samples)."""
    _fields_ = [("struct_size", ctypes.c_size_t), ("new_codes", ctypes.c_int32),
                ("reserved0", ctypes.c_int32), ("first_id", ctypes.c_int64),
                ("distill_codes", ctypes.c_double), ("distill_features", ctypes.c_double),
                ("old_samples", ctypes.c_uint64)]


_vp = ctypes.c_void_p
_opts_init = fn("dh_incremental_options_init", [ctypes.POINTER(IncrementalOptions)], None)
_session = fn("dh_incremental_session", [_vp, _vp, _vp, _vp, c_f32_p, _vp,
                                         ctypes.POINTER(TrainerOptions),
                                         ctypes.POINTER(IncrementalOptions),
                                         ctypes.POINTER(ctypes.c_int64)])
_set_fixed = fn("dh_loss_set_fixed_codes", [_vp, c_f32_p, c_f32_p, ctypes.c_size_t,
                                            ctypes.c_uint32])


def _labels(labels, n, n_classes, name):
    """Class ids (n,) or multi-hot rows (n, C) -> float32 (n, C)."""
    a = np.asarray(labels)
    if a.ndim == 1:
        y = np.zeros((a.shape[0], n_classes), dtype=np.float32)
        y[np.arange(a.shape[0]), a.astype(np.int64)] = 1
        a = y
    a = as_array(np.ascontiguousarray(a, dtype=np.float32), np.float32, name, ndim=2,
                 cols=n_classes)
    if a.shape[0] != n:
        raise ValueError(f"{name}: {a.shape[0]} rows, want {n}")
    return a


def set_fixed_codes(loss, codes, labels, in_train=False):
    """DIHN: the database codes of earlier sessions, fixed during training.
    codes: (n, K) sign rows (float32); labels: (n,) class ids or (n, C) multi-hot.
    in_train: the old items' images are the last n training rows."""
    c = as_array(np.ascontiguousarray(codes, dtype=np.float32), np.float32, "codes", ndim=2)
    n_classes = loss.options()["n_classes"]
    y = _labels(labels, c.shape[0], n_classes, "labels")
    _set_fixed(loss._h, ptr(c, ctypes.c_float), ptr(y, ctypes.c_float), c.shape[0],
               FIXED_CODES_IN_TRAIN if in_train else 0)


def incremental_session(model, loss, new_data, index, index_labels=None, index_images=None,
                        new_codes="auto", first_id=-1, distill_codes=-1.0,
                        distill_features=-1.0, old_samples=0, **trainer_options):
    """Run one session: fine-tune `model` with `loss` on `new_data` (followed by
    `index_images`, the images of the index's rows, when given), then append the new
    items' codes to `index` with ids first_id, first_id+1, ... (-1: the next free id).
    index_labels: (len(index),) class ids or (len(index), C) multi-hot; required by dihn
    when the index is not empty. trainer_options: dh_trainer_options fields (epochs, lr,
    optimizer, batch_size, ...). distill_codes / distill_features: weights of the
    distillation from the session-start network (-1: the default, 0: off; see
    docs/incremental.md). old_samples: with index_images, train on this many of them
    drawn at random (0: all; a dihn loss then counts new items + old_samples).
    Returns the id of the first new item."""
    t = TrainerOptions()
    _train_opts_init(ctypes.byref(t))
    names = {f for f, _ in TrainerOptions._fields_} - {"struct_size", "callback",
                                                         "callback_user", "reserved0"}
    for k, v in trainer_options.items():
        if k not in names:
            extra = ["new_codes", "first_id", "distill_codes", "distill_features",
                     "old_samples"]
            raise TypeError(f"incremental_session: unknown option {k!r}; valid: "
                            f"{sorted(names) + extra}")
        if k == "optimizer" and isinstance(v, str):
            v = _OPTIMIZERS[v]
        if k == "schedule" and isinstance(v, str):
            v = _SCHEDULES[v]
        if k == "checkpoint_path" and v is not None:
            v = str(v).encode()
        setattr(t, k, v)
    o = IncrementalOptions()
    _opts_init(ctypes.byref(o))
    o.new_codes = _CODES[new_codes] if isinstance(new_codes, str) else int(new_codes)
    o.first_id = int(first_id)
    o.distill_codes = float(distill_codes)
    o.distill_features = float(distill_features)
    o.old_samples = int(old_samples)
    y = None
    if index_labels is not None:
        y = _labels(index_labels, len(index), new_data.n_classes, "index_labels")
    out = ctypes.c_int64(-1)
    _session(model._h, loss._h, new_data._h, index._handle(), ptr(y, ctypes.c_float),
             index_images._h if index_images is not None else None, ctypes.byref(t),
             ctypes.byref(o), ctypes.byref(out))
    return int(out.value)

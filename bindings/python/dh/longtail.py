"""Long-tail hashing (docs/longtail.md): class-balanced weights and LTHNet's dynamic
meta-embedding. The losses are dh.Loss("lthnet", ...) and dh.Loss("dualproxy", ...)
(option cb_beta: the effective-number beta, default 0.999).

    model = dh.Model.create("smallcnn", n_bits=32)
    dh.longtail.add_meta_embedding(model, n_classes=10)   # before the Trainer
    loss = dh.Loss("lthnet", n_bits=32, n_classes=10)
    t = dh.Trainer(model, loss, train, epochs=10, optimizer="adam", lr=1e-3)
    t.run()  # the trainer refreshes the class memory at the start of every epoch
"""
import ctypes

import numpy as np

from ._lib import as_array, fn, ptr

_vp = ctypes.c_void_p
_weights = fn("dh_class_balanced_weights", [ctypes.POINTER(ctypes.c_int64), ctypes.c_uint32,
                                            ctypes.c_double, ctypes.POINTER(ctypes.c_float)])
_add = fn("dh_model_add_meta_embedding", [_vp, ctypes.c_uint32])
_classes = fn("dh_model_meta_classes", [_vp], ctypes.c_uint32)
_update = fn("dh_model_update_class_memory", [_vp, _vp])
_memory = fn("dh_model_get_class_memory", [_vp, ctypes.POINTER(ctypes.c_float), ctypes.c_size_t,
                                           ctypes.POINTER(ctypes.c_uint32)])


def class_balanced_weights(counts, beta=0.999):
    """w_c = (1 - beta) / (1 - beta^n_c) normalised so the largest is 1; counts (C,)
    int64. Returns float32 (C,)."""
    counts = as_array(np.ascontiguousarray(counts, dtype=np.int64), np.int64, "counts", 1)
    out = np.empty(counts.shape[0], dtype=np.float32)
    _weights(ptr(counts, ctypes.c_int64), counts.shape[0], float(beta), ptr(out, ctypes.c_float))
    return out


def add_meta_embedding(model, n_classes):
    """Insert LTHNet's meta-embedding between the model's features and its head (tensors
    meta.*; saved with the model). Call before creating a Trainer or Optimizer."""
    _add(model._h, n_classes)


def meta_classes(model):
    """C of the model's meta-embedding, 0 without one."""
    return int(_classes(model._h))


def class_memory(model):
    """The memory M (C, D) float32: row c is the mean feature of class c."""
    d = ctypes.c_uint32()
    _memory(model._h, None, 0, ctypes.byref(d))
    out = np.empty((meta_classes(model), d.value), dtype=np.float32)
    _memory(model._h, ptr(out, ctypes.c_float), out.size, None)
    return out


def update_class_memory(model, dataset):
    """Recompute the class-centroid memory from `dataset` (inference mode)."""
    _update(model._h, dataset._h)


def memory_refresher(model, dataset, then=None):
    """Kept for compatibility: dh_trainer_run now refreshes the meta-embedding memory
    at the start of every epoch itself. Returns a Trainer.run callback that just calls
    `then(progress)` (which may return True to stop)."""
    def cb(p):
        return then(p) if then else False
    return cb


__all__ = ["class_balanced_weights", "add_meta_embedding", "meta_classes", "class_memory",
           "update_class_memory", "memory_refresher"]

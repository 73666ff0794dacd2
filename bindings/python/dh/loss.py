"""Hashing losses (dh_loss_*) and hash-center generation.

    loss = dh.Loss("csq", n_bits=16, n_classes=10)
    value, dU = loss.forward_backward(U, labels)        # U: (B, K) float32

Unsupervised methods (cibhash, bihalf, ssdh, kmeans, sgh; shallow lsh, pcah, itq) need
no labels: ``dh.Loss("cibhash", n_bits=64)``; n_classes is then k of kmeans (default
10) and unused otherwise. Those reading per-sample features take them with
``loss.set_features(F)`` (default in the trainer: the input rows).

Hyper-parameters are keyword arguments named like the fields of dh_loss_options
(quant_weight, scale, margin, gamma, tau, pos_weight, pair_weight, center_weight,
variant, schedule, centers, n_epochs, update_every, sweeps, seed, n_train, cb_beta); those
not given keep the method's defaults (see docs/methods.md).
"""
import ctypes

import numpy as np

from ._lib import as_array, c_f32_p, c_f64_p, c_i32_p, c_i64_p, fn, ptr

HEAD_IDENTITY, HEAD_TANH, HEAD_SCALED_TANH, HEAD_SIGN_STE, HEAD_BN = range(5)
CENTERS_AUTO, CENTERS_HADAMARD, CENTERS_BERNOULLI, CENTERS_BALANCED, CENTERS_GREEDY, \
    CENTERS_GV = range(6)
_HEAD_NAMES = {0: "identity", 1: "tanh", 2: "scaled_tanh", 3: "sign_ste", 4: "bn"}
FLAG_UNSUPERVISED, FLAG_TWO_VIEWS, FLAG_FEATURES, FLAG_SHALLOW = 1, 2, 4, 8


class LossOptions(ctypes.Structure):
    """ctypes mirror of dh_loss_options (n_bits, n_classes, n_train, seed, method knobs)."""
    _fields_ = [("struct_size", ctypes.c_size_t), ("n_bits", ctypes.c_uint32),
                ("n_classes", ctypes.c_uint32), ("n_train", ctypes.c_uint64),
                ("seed", ctypes.c_uint64), ("variant", ctypes.c_int32),
                ("schedule", ctypes.c_int32), ("centers", ctypes.c_int32),
                ("n_epochs", ctypes.c_int32), ("update_every", ctypes.c_int32),
                ("sweeps", ctypes.c_int32), ("quant_weight", ctypes.c_double),
                ("scale", ctypes.c_double), ("margin", ctypes.c_double),
                ("gamma", ctypes.c_double), ("tau", ctypes.c_double),
                ("pos_weight", ctypes.c_double), ("pair_weight", ctypes.c_double),
                ("center_weight", ctypes.c_double), ("cb_beta", ctypes.c_double)]


class LossRecipe(ctypes.Structure):
    """ctypes mirror of dh_loss_recipe (the method's optimizer, lr and schedule defaults)."""
    _fields_ = [("struct_size", ctypes.c_size_t), ("optimizer", ctypes.c_char_p),
                ("lr", ctypes.c_double), ("momentum", ctypes.c_double),
                ("weight_decay", ctypes.c_double), ("backbone_lr_mult", ctypes.c_double),
                ("param_lr_mult", ctypes.c_double), ("batch_size", ctypes.c_uint32),
                ("epochs", ctypes.c_uint32),
                # Since 1.3 (the recipe table, docs/recipes.md)
                ("method", ctypes.c_char_p), ("variant", ctypes.c_char_p),
                ("source", ctypes.c_char_p), ("setting", ctypes.c_int32),
                ("schedule", ctypes.c_int32), ("lr_min_ratio", ctypes.c_double),
                ("warmup_epochs", ctypes.c_uint32), ("augment", ctypes.c_uint32),
                ("crop_padding", ctypes.c_int32), ("decay_scope", ctypes.c_int32),
                ("quant_weight", ctypes.c_double), ("scale", ctypes.c_double),
                ("margin", ctypes.c_double), ("loss_variant", ctypes.c_int32),
                ("loss_schedule", ctypes.c_int32),
                ("tau", ctypes.c_double)]


RECIPE_SCRATCH, RECIPE_PRETRAINED, RECIPE_ANY = 0, 1, 2
_SETTINGS = {"scratch": 0, "pretrained": 1}
_SETTING_NAMES = {0: "scratch", 1: "pretrained", 2: "any"}


_p = ctypes.c_void_p
_opts_init = fn("dh_loss_options_init", [ctypes.POINTER(LossOptions)], None)
_count = fn("dh_loss_method_count", [], ctypes.c_size_t)
_mname = fn("dh_loss_method_name", [ctypes.c_size_t], ctypes.c_char_p)
_create = fn("dh_loss_create", [ctypes.c_char_p, ctypes.POINTER(LossOptions),
                                ctypes.POINTER(_p)])
_free = fn("dh_loss_free", [_p], None)
_init = fn("dh_loss_init", [_p, c_f32_p, ctypes.c_size_t, c_i64_p])
_epoch = fn("dh_loss_epoch_begin", [_p, ctypes.c_int32])
_fb = fn("dh_loss_forward_backward", [_p, c_f32_p, ctypes.c_size_t, c_f32_p, c_i32_p, c_i64_p,
                                      c_f32_p, c_f64_p])
_update = fn("dh_loss_update_codes", [_p, c_f32_p, c_i64_p, ctypes.c_size_t])
_hint = fn("dh_loss_head_hint", [_p, c_i32_p, c_f32_p])
_recipe = fn("dh_loss_get_recipe", [_p, ctypes.POINTER(LossRecipe)])
_rlookup = fn("dh_loss_recipe_lookup", [ctypes.c_char_p, ctypes.c_int32, ctypes.c_char_p,
                                        ctypes.c_uint32, ctypes.POINTER(LossRecipe)])
_rcount = fn("dh_loss_recipe_count", [], ctypes.c_size_t)
_rrow = fn("dh_loss_recipe_row", [ctypes.c_size_t, ctypes.POINTER(LossRecipe)])
_rapply = fn("dh_loss_options_apply_recipe", [ctypes.POINTER(LossOptions),
                                              ctypes.POINTER(LossRecipe)])
_getopts = fn("dh_loss_get_options", [_p, ctypes.POINTER(LossOptions)])
_pcount = fn("dh_loss_param_count", [_p], ctypes.c_size_t)
_pname = fn("dh_loss_param_name", [_p, ctypes.c_size_t], ctypes.c_char_p)
_scount = fn("dh_loss_state_count", [_p], ctypes.c_size_t)
_sname = fn("dh_loss_state_name", [_p, ctypes.c_size_t], ctypes.c_char_p)
_shape = fn("dh_loss_tensor_shape", [_p, ctypes.c_char_p, c_i64_p, c_i32_p])
_get = fn("dh_loss_get_tensor", [_p, ctypes.c_char_p, c_f32_p, ctypes.c_size_t])
_set = fn("dh_loss_set_tensor", [_p, ctypes.c_char_p, c_f32_p, ctypes.c_size_t])
_centers = fn("dh_centers_generate", [ctypes.c_uint32, ctypes.c_uint32, ctypes.c_int32,
                                      ctypes.c_uint64, c_f32_p, ctypes.POINTER(ctypes.c_uint32)])
_gv = fn("dh_centers_gv_distance", [ctypes.c_uint32, ctypes.c_uint32,
                                    ctypes.POINTER(ctypes.c_uint32),
                                    ctypes.POINTER(ctypes.c_uint32)])
_setf = fn("dh_loss_set_features", [_p, c_f32_p, ctypes.c_size_t, ctypes.c_size_t])
_settv = fn("dh_loss_set_tag_vectors", [_p, c_f32_p, ctypes.c_uint32, ctypes.c_uint32])
_flags = fn("dh_loss_method_flags", [ctypes.c_char_p], ctypes.c_uint32)
_solve = fn("dh_twostage_solve_codes", [c_f32_p, ctypes.c_size_t, ctypes.c_uint32,
                                        ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint64,
                                        c_f32_p])


def loss_methods():
    """Names of the available loss methods."""
    return [_mname(i).decode() for i in range(_count())]


def _recipe_dict(r):
    d = {f: getattr(r, f) for f, _ in LossRecipe._fields_ if f != "struct_size"}
    for k, v in d.items():
        if isinstance(v, bytes):
            d[k] = v.decode()
    d["setting"] = _SETTING_NAMES.get(d["setting"], d["setting"])
    return d


def _lookup(method, setting, variant, input_size):
    r = LossRecipe()
    r.struct_size = ctypes.sizeof(r)
    s = _SETTINGS[setting] if isinstance(setting, str) else int(setting)
    _rlookup(method.encode(), s, variant.encode() if variant else None, int(input_size),
             ctypes.byref(r))
    return r


def recipe(method, setting="scratch", variant=None, input_size=0):
    """A row of libdh's recipe table (dh_loss_recipe_lookup) as a dict.

    setting: "scratch" (small encoders from scratch) or "pretrained" (ImageNet
    backbones); variant: None/"default", "reference", "paper" or a method's own (e.g.
    hashnet "dhp"); input_size: min(H, W) of the model input (0: unknown), which resolves
    crop_padding and turns "crop" into a resized crop at 224-class sizes. NaN / -1 in the
    method constants (quant_weight, scale, margin, loss_variant, loss_schedule, tau) mean the
    method's built-in default. Raises DhError (DH_E_NOT_FOUND) for an unknown variant."""
    return _recipe_dict(_lookup(method, setting, variant, input_size))


def recipes():
    """Every row of the recipe table, as stored (setting may be "any"), as dicts."""
    out = []
    for i in range(_rcount()):
        r = LossRecipe()
        r.struct_size = ctypes.sizeof(r)
        _rrow(i, ctypes.byref(r))
        out.append(_recipe_dict(r))
    return out


def method_flags(method):
    """FLAG_* bits of a method: the unsupervised ones, FLAG_TAGS for the tag methods
    (wdht, tagrefine); 0 for supervised or unknown methods."""
    return int(_flags(method.encode()))


FLAG_TAGS = 16  # DH_LOSS_FLAG_TAGS: learns from tags only (wdht, tagrefine)
_tagflags = fn("dh_loss_method_tag_flags", [ctypes.c_char_p], ctypes.c_uint32)


def method_tag_flags(method):
    """FLAG_TAGS for the tag methods (wdht, tagrefine), else 0: method_flags(method) &
    FLAG_TAGS (kept for 1.2 callers)."""
    return int(_tagflags(method.encode()))


class Loss:
    """A hashing loss (dh_loss). Not thread-safe: one object per thread."""

    def __init__(self, method, n_bits, n_classes=0, recipe=None, recipe_setting="scratch",
                 **options):
        o = LossOptions()
        _opts_init(ctypes.byref(o))
        o.n_bits, o.n_classes = n_bits, n_classes
        names = {f for f, _ in LossOptions._fields_} - {"struct_size", "n_bits", "n_classes"}
        for k, v in options.items():
            if k not in names:
                raise TypeError(f"Loss: unknown option {k!r}; valid: {sorted(names)}")
            setattr(o, k, v)
        if recipe is not None:  # the recipe row's method constants, where options left them
            r = _lookup(method, recipe_setting, recipe, 0)
            _rapply(ctypes.byref(o), ctypes.byref(r))
        h = _p()
        _create(method.encode(), ctypes.byref(o), ctypes.byref(h))
        self._h = h
        self.method, self.n_bits = method, n_bits
        self.n_classes = self.options()["n_classes"]  # resolved (unsupervised defaults)
        self.flags = method_flags(method)

    def close(self):
        """Free the loss now (also done on garbage collection and by `with`)."""
        if getattr(self, "_h", None):
            _free(self._h)
            self._h = None

    __del__ = close

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        if not getattr(self, "_h", None):
            return "<dh.Loss (closed)>"
        return f"<dh.Loss {self.method} K={self.n_bits} classes={self.n_classes}>"

    def init(self, train_labels=None, class_counts=None):
        """Training-set facts: labels (n_train, C) float32 multi-hot, class counts (C,)."""
        n = 0
        if train_labels is not None:
            train_labels = as_array(train_labels, np.float32, "train_labels", 2, self.n_classes)
            n = train_labels.shape[0]
        if class_counts is not None:
            class_counts = as_array(class_counts, np.int64, "class_counts", 1)
        _init(self._h, ptr(train_labels, ctypes.c_float), n, ptr(class_counts, ctypes.c_int64))

    def epoch_begin(self, epoch):
        """Start epoch `epoch` (0-based): per-epoch schedules and adaptive centers."""
        _epoch(self._h, epoch)

    def forward_backward(self, U, labels=None, class_ids=None, indices=None):
        """Returns (value, dU) for a batch U (B, K) float32 with multi-hot labels (B, C)
        float32 or class ids (B,) int32, and training-set indices (B,) int64."""
        U = as_array(U, np.float32, "U", 2, self.n_bits)
        B = U.shape[0]
        if labels is not None:
            labels = as_array(labels, np.float32, "labels", 2, self.n_classes)
            if labels.shape[0] != B:
                raise ValueError(f"labels: {labels.shape[0]} rows for {B} codes")
        if class_ids is not None:
            class_ids = as_array(class_ids, np.int32, "class_ids", 1)
            if class_ids.shape[0] != B:
                raise ValueError(f"class_ids: {class_ids.shape[0]} entries for {B} codes")
        if indices is not None:
            indices = as_array(indices, np.int64, "indices", 1)
            if indices.shape[0] != B:
                raise ValueError(f"indices: {indices.shape[0]} entries for {B} codes")
        dU = np.empty_like(U)
        v = ctypes.c_double()
        _fb(self._h, ptr(U, ctypes.c_float), B, ptr(labels, ctypes.c_float),
            ptr(class_ids, ctypes.c_int32), ptr(indices, ctypes.c_int64),
            ptr(dU, ctypes.c_float), ctypes.byref(v))
        return v.value, dU

    def set_features(self, features):
        """Per-sample features (n_train, d) for ssdh, kmeans, bihalf, sgh (float32,
        finite); the trainer keeps them instead of the input rows."""
        F = as_array(features, np.float32, "features", 2)
        _setf(self._h, ptr(F, ctypes.c_float), F.shape[0], F.shape[1])

    def set_tag_vectors(self, vectors):
        """Word vectors (n_tags, dim) of the tag names for wdht / tagrefine (float32;
        dh.data.word_vectors); without them the co-occurrence embedding is used."""
        E = as_array(vectors, np.float32, "vectors", 2)
        _settv(self._h, ptr(E, ctypes.c_float), E.shape[0], E.shape[1])

    def update_codes(self, U=None, indices=None):
        """ADSH: update the database codes from U (m, K) at indices, or from the cache."""
        m = 0
        if U is not None:
            U = as_array(U, np.float32, "U", 2, self.n_bits)
            indices = as_array(indices, np.int64, "indices", 1)
            m = U.shape[0]
        _update(self._h, ptr(U, ctypes.c_float), ptr(indices, ctypes.c_int64), m)

    def head_hint(self):
        """(activation name, beta) the head in front of this loss should use."""
        a, b = ctypes.c_int32(), ctypes.c_float()
        _hint(self._h, ctypes.byref(a), ctypes.byref(b))
        return _HEAD_NAMES.get(a.value, str(a.value)), b.value

    def recipe(self):
        """The method's training recipe as a dict: optimizer, lr, batch_size, epochs, ..."""
        r = LossRecipe()
        r.struct_size = ctypes.sizeof(r)
        _recipe(self._h, ctypes.byref(r))
        return _recipe_dict(r)

    def options(self):
        """The loss's resolved options as a dict (defaults filled in)."""
        o = LossOptions()
        o.struct_size = ctypes.sizeof(o)
        _getopts(self._h, ctypes.byref(o))
        return {f: getattr(o, f) for f, _ in LossOptions._fields_ if f != "struct_size"}

    def param_names(self):
        """Names of the loss's learnable tensors."""
        return [_pname(self._h, i).decode() for i in range(_pcount(self._h))]

    def state_names(self):
        """Names of the loss's non-learnable state tensors (centers, codes, memories)."""
        return [_sname(self._h, i).decode() for i in range(_scount(self._h))]

    def get_tensor(self, name):
        """A copy of the loss's tensor `name` (see param_names/state_names) as float32."""
        shape = (ctypes.c_int64 * 4)()
        nd = ctypes.c_int32()
        _shape(self._h, name.encode(), shape, ctypes.byref(nd))
        out = np.empty(tuple(shape[i] for i in range(nd.value)), np.float32)
        _get(self._h, name.encode(), ptr(out, ctypes.c_float), out.size)
        return out

    def set_tensor(self, name, data):
        """Overwrite the loss's tensor `name` with `data` (float32, same number of values)."""
        data = np.ascontiguousarray(data, dtype=np.float32)
        _set(self._h, name.encode(), ptr(data, ctypes.c_float), data.size)


def centers_generate(n_classes, n_bits, method=CENTERS_AUTO, seed=1):
    """(centers (C, K) float32 +-1, achieved minimum pairwise Hamming distance)."""
    out = np.empty((n_classes, n_bits), np.float32)
    md = ctypes.c_uint32()
    _centers(n_classes, n_bits, method, seed, ptr(out, ctypes.c_float), ctypes.byref(md))
    return out, int(md.value)


def centers_gv_distance(n_classes, n_bits):
    """(d_gv, d_target) Gilbert-Varshamov distances for C codewords of K bits."""
    a, b = ctypes.c_uint32(), ctypes.c_uint32()
    _gv(n_classes, n_bits, ctypes.byref(a), ctypes.byref(b))
    return int(a.value), int(b.value)


def twostage_solve_codes(labels, n_bits, sweeps=0, seed=1):
    """CNNH stage 1: (n, K) float32 +-1 codes from multi-hot labels (n, C) float32."""
    labels = as_array(labels, np.float32, "labels", 2)
    out = np.empty((labels.shape[0], n_bits), np.float32)
    _solve(ptr(labels, ctypes.c_float), labels.shape[0], labels.shape[1], n_bits, sweeps, seed,
           ptr(out, ctypes.c_float))
    return out

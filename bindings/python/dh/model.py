"""Models (encoder + hash head + input spec) and optimizers (libdh's io and nn sections).

``Model.create(encoder="resnet18", n_bits=64, head="tanh", ...)`` builds a model;
``model.encode(images)`` takes uint8 ``[n, H, W, C]`` images (normalised with the
model's mean/std) or float32 ``[n, C, H, W]`` / ``[n, d]`` rows (used as given) and
returns packed codes ``[n, ceil(K/8)]`` uint8 (LSB-first, x >= 0 -> bit 1), plus the
continuous outputs ``[n, K]`` with ``return_continuous=True``. Files are safetensors:
``Model.load(path)``, ``model.save(path)``, ``model.load_backbone(path)`` for
torchvision weights converted by scripts/torch2safetensors.py.
"""
import ctypes

import numpy as np

from ._checks import c_path
from ._lib import Handle, as_array, c_f32_p, c_i64_p, c_u8_p, fn, ptr

HEAD_IDENTITY, HEAD_TANH, HEAD_SCALED_TANH, HEAD_SIGN, HEAD_BN = range(5)
_HEADS = {"identity": HEAD_IDENTITY, "tanh": HEAD_TANH, "scaled_tanh": HEAD_SCALED_TANH,
          "sign": HEAD_SIGN, "bn": HEAD_BN}
BACKBONE_STRICT, BACKBONE_ALLOW_MISSING = 1, 2
OPTIM_SGD, OPTIM_ADAM, OPTIM_ADAMW, OPTIM_RMSPROP = range(4)
SCHED_CONSTANT, SCHED_STEP, SCHED_MULTISTEP, SCHED_COSINE = range(4)
_DTYPE_INT64, _DTYPE_FLOAT32 = 4, 5


class _ModelOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("encoder", ctypes.c_char_p),
                ("n_bits", ctypes.c_uint32), ("head", ctypes.c_int32),
                ("in_channels", ctypes.c_int32), ("in_height", ctypes.c_int32),
                ("in_width", ctypes.c_int32), ("batch_size", ctypes.c_uint32),
                ("mean", ctypes.c_float * 4), ("std", ctypes.c_float * 4),
                ("seed", ctypes.c_uint64), ("head_beta", ctypes.c_double),
                ("head_init_std", ctypes.c_double), ("head_bias", ctypes.c_int32),
                ("dropout", ctypes.c_float), ("bn_momentum", ctypes.c_float),
                ("bn_eps", ctypes.c_float), ("fmap_pool", ctypes.c_int32),
                ("fmap_parts", ctypes.c_uint32), ("fmap_aux_weight", ctypes.c_float),
                ("fmap_reserved", ctypes.c_uint32), ("fmap_global", ctypes.c_int32),
                ("fmap_reserved2", ctypes.c_uint32)]


class _OptimOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("type", ctypes.c_int32),
                ("nesterov", ctypes.c_int32), ("lr", ctypes.c_double),
                ("momentum", ctypes.c_double), ("dampening", ctypes.c_double),
                ("weight_decay", ctypes.c_double), ("beta1", ctypes.c_double),
                ("beta2", ctypes.c_double), ("eps", ctypes.c_double), ("alpha", ctypes.c_double),
                ("amsgrad", ctypes.c_int32), ("centered", ctypes.c_int32),
                ("clip_norm", ctypes.c_double), ("lr_mult_backbone", ctypes.c_double),
                ("lr_mult_head", ctypes.c_double), ("lr_mult_loss", ctypes.c_double),
                ("apply_no_decay", ctypes.c_int32), ("schedule", ctypes.c_int32),
                ("schedule_unit", ctypes.c_uint32), ("step_size", ctypes.c_uint32),
                ("gamma", ctypes.c_double), ("milestones", ctypes.c_uint32 * 8),
                ("t_max", ctypes.c_uint32), ("warmup", ctypes.c_uint32),
                ("eta_min", ctypes.c_double), ("warmup_start", ctypes.c_double)]


_vp = ctypes.c_void_p
_pp = ctypes.POINTER(_vp)
_size, _u32, _i32 = ctypes.c_size_t, ctypes.c_uint32, ctypes.c_int32
_m_init = fn("dh_model_options_init", [ctypes.POINTER(_ModelOptions)], None)
_m_create = fn("dh_model_create", [ctypes.POINTER(_ModelOptions), _pp])
_m_free = fn("dh_model_free", [_vp], None)
_m_encode = fn("dh_model_encode", [_vp, c_u8_p, _size, _u32, _u32, _u32, c_u8_p, c_f32_p])
_m_encode_f = fn("dh_model_encode_float", [_vp, c_f32_p, _size, _size, c_u8_p, c_f32_p])
_m_save = fn("dh_model_save", [_vp, ctypes.c_char_p])
_m_load = fn("dh_model_load", [ctypes.c_char_p, _pp])
_m_backbone = fn("dh_model_load_backbone", [_vp, ctypes.c_char_p, _u32,
                                            ctypes.POINTER(_u32), ctypes.POINTER(_u32)])
_m_weights = fn("dh_model_load_weights", [_vp, ctypes.c_char_p, _u32,
                                          ctypes.POINTER(_u32), ctypes.POINTER(_u32)])
_m_nbits = fn("dh_model_n_bits", [_vp], _u32)
_m_shape = fn("dh_model_input_shape", [_vp, c_i64_p], _i32)
_m_opts = fn("dh_model_get_options", [_vp], ctypes.POINTER(_ModelOptions))
_m_head = fn("dh_model_head", [_vp], _vp)
_m_set_t = fn("dh_model_set_tensor", [_vp, ctypes.c_char_p, _i32, _u32, c_i64_p, _vp])
_m_get_t = fn("dh_model_get_tensor", [_vp, ctypes.c_char_p, ctypes.POINTER(_i32),
                                      ctypes.POINTER(_u32), c_i64_p, _pp])
_m_set_md = fn("dh_model_set_metadata", [_vp, ctypes.c_char_p, ctypes.c_char_p])
_m_get_md = fn("dh_model_get_metadata", [_vp, ctypes.c_char_p], ctypes.c_char_p)
_h_set_beta = fn("dh_head_set_beta", [_vp, ctypes.c_double])
_h_get_beta = fn("dh_head_get_beta", [_vp], ctypes.c_double)
_o_init = fn("dh_optimizer_options_init", [ctypes.POINTER(_OptimOptions)], None)
_o_create = fn("dh_optimizer_create", [ctypes.POINTER(_OptimOptions), _pp])
_o_free = fn("dh_optimizer_free", [_vp], None)
_o_add = fn("dh_optimizer_add_param", [_vp, ctypes.c_char_p, c_f32_p, c_f32_p, _size, _i32,
                                       _i32])
_o_add_model = fn("dh_optimizer_add_model", [_vp, _vp])
_o_step = fn("dh_optimizer_step", [_vp])
_o_zero = fn("dh_optimizer_zero_grad", [_vp])
_o_get_step = fn("dh_optimizer_get_step", [_vp], ctypes.c_uint64)
_o_get_lr = fn("dh_optimizer_get_lr", [_vp, ctypes.POINTER(ctypes.c_double)])
_sched_lr = fn("dh_schedule_lr", [ctypes.POINTER(_OptimOptions), ctypes.c_uint64,
                                  ctypes.POINTER(ctypes.c_double)])


class Model(Handle):
    """A libdh model. Create with Model.create() or Model.load(); freed with the object."""

    _free = staticmethod(_m_free)

    def __init__(self, handle):
        self._h = handle

    @classmethod
    def create(cls, encoder="smallcnn", n_bits=64, head="tanh", input_shape=None, mean=None,
               std=None, seed=None, batch_size=None, head_beta=None):
        """input_shape: (C, H, W) or None for the encoder's default; mean/std: per channel."""
        o = _ModelOptions()
        _m_init(ctypes.byref(o))
        o.encoder = encoder.encode()
        o.n_bits = n_bits
        o.head = _HEADS[head] if isinstance(head, str) else int(head)
        if input_shape is not None:
            o.in_channels, o.in_height, o.in_width = (int(v) for v in input_shape)
        for name, vals in (("mean", mean), ("std", std)):
            if vals is not None:
                arr = getattr(o, name)
                for i, v in enumerate(vals):
                    arr[i] = float(v)
        if seed is not None:
            o.seed = seed
        if batch_size is not None:
            o.batch_size = batch_size
        if head_beta is not None:
            o.head_beta = head_beta
        h = _vp()
        _m_create(ctypes.byref(o), ctypes.byref(h))
        return cls(h)

    @classmethod
    def load(cls, path):
        """Load a model written by Model.save (safetensors, validated strictly)."""
        h = _vp()
        _m_load(c_path(path), ctypes.byref(h))
        return cls(h)


    def __repr__(self):
        if not getattr(self, "_h", None):
            return "<dh.Model (closed)>"
        o = _m_opts(self._h).contents
        head = {v: k for k, v in _HEADS.items()}.get(o.head, str(o.head))
        return f"<dh.Model {self.encoder} K={self.n_bits} head={head} input={self.input_shape}>"

    @property
    def n_bits(self):
        """Code length in bits."""
        return int(_m_nbits(self._h))

    @property
    def input_shape(self):
        """(C, H, W) for image models, (d,) for feature models."""
        shape = (ctypes.c_int64 * 3)()
        nd = _m_shape(self._h, shape)
        return tuple(int(shape[i]) for i in range(nd))

    @property
    def encoder(self):
        """The encoder spec the model was built with ('smallcnn', 'mlp:16-32', ...)."""
        return _m_opts(self._h).contents.encoder.decode()

    @property
    def head_beta(self):
        """The hash head's scale beta (scaled-tanh heads); settable."""
        return float(_h_get_beta(_m_head(self._h)))

    @head_beta.setter
    def head_beta(self, beta):
        _h_set_beta(_m_head(self._h), float(beta))

    def encode(self, x, return_continuous=False):
        """uint8 [n, H, W, C] images or float32 [n, C, H, W] / [n, d] rows -> packed codes."""
        n = x.shape[0] if isinstance(x, np.ndarray) and x.ndim >= 1 else 0
        codes = np.empty((n, (self.n_bits + 7) // 8), np.uint8)
        cont = np.empty((n, self.n_bits), np.float32) if return_continuous else None
        if isinstance(x, np.ndarray) and x.dtype == np.uint8:
            x = as_array(x, np.uint8, "images")
            if x.ndim == 2:  # rows of an mlp model: H = 1, W = d, C = 1
                h, w, c = 1, x.shape[1], 1
            elif x.ndim == 4:
                h, w, c = x.shape[1:]
            else:
                raise ValueError(f"images: expected [n, H, W, C], got shape {x.shape}")
            _m_encode(self._h, ptr(x, ctypes.c_uint8), n, h, w, c,
                      ptr(codes, ctypes.c_uint8), ptr(cont, ctypes.c_float))
        else:
            x = as_array(x, np.float32, "x")
            sample = int(np.prod(x.shape[1:])) if x.ndim >= 2 else 0
            _m_encode_f(self._h, ptr(x, ctypes.c_float), n, sample,
                        ptr(codes, ctypes.c_uint8), ptr(cont, ctypes.c_float))
        return (codes, cont) if return_continuous else codes

    def save(self, path):
        """Save the model (weights, head, input spec, metadata) as safetensors, atomically."""
        _m_save(self._h, c_path(path))

    def load_backbone(self, path, strict=False, allow_missing=False):
        """Returns (loaded, ignored) tensor counts."""
        flags = (BACKBONE_STRICT if strict else 0) | (BACKBONE_ALLOW_MISSING if allow_missing
                                                       else 0)
        loaded, ignored = _u32(), _u32()
        _m_backbone(self._h, c_path(path), flags, ctypes.byref(loaded),
                    ctypes.byref(ignored))
        return int(loaded.value), int(ignored.value)

    def load_weights(self, path, strict=False, allow_missing=False):
        """Load a whole trained model's weights (encoder, head, head BN, pools) by name
        from a safetensors file, e.g. one written by scripts/torch2safetensors.py --model.
        strict: file tensors the model lacks are an error; allow_missing: model tensors
        absent from the file keep their values. Returns (loaded, ignored) counts."""
        flags = (BACKBONE_STRICT if strict else 0) | (BACKBONE_ALLOW_MISSING if allow_missing
                                                       else 0)
        loaded, ignored = _u32(), _u32()
        _m_weights(self._h, c_path(path), flags, ctypes.byref(loaded),
                   ctypes.byref(ignored))
        return int(loaded.value), int(ignored.value)

    def set_tensor(self, name, array):
        """Attach an extra float32 or int64 tensor (copied) saved with the model."""
        if array.dtype not in (np.float32, np.int64):
            raise TypeError(f"{name}: dtype must be float32 or int64, got {array.dtype}")
        a = np.ascontiguousarray(array)
        shape = (ctypes.c_int64 * max(a.ndim, 1))(*a.shape)
        _m_set_t(self._h, name.encode(), _DTYPE_FLOAT32 if a.dtype == np.float32 else
                 _DTYPE_INT64, a.ndim, shape, a.ctypes.data_as(_vp))

    def get_tensor(self, name):
        """A copy of the model's tensor `name` (encoder or head) as a numpy array."""
        dt, nd, data = _i32(), _u32(), _vp()
        shape = (ctypes.c_int64 * 8)()
        _m_get_t(self._h, name.encode(), ctypes.byref(dt), ctypes.byref(nd), shape,
                 ctypes.byref(data))
        dtype = np.float32 if dt.value == _DTYPE_FLOAT32 else np.int64
        dims = tuple(int(shape[i]) for i in range(nd.value))
        count = int(np.prod(dims)) if dims else 1
        buf = (ctypes.c_char * (count * np.dtype(dtype).itemsize)).from_address(data.value)
        return np.frombuffer(buf, dtype).reshape(dims).copy()

    def set_metadata(self, key, value):
        """Store the string `value` under `key` in the model's metadata (saved with it)."""
        _m_set_md(self._h, key.encode(), value.encode())

    def get_metadata(self, key):
        """The metadata value stored under `key` (str), or None."""
        v = _m_get_md(self._h, key.encode())
        return None if v is None else v.decode()


def _optim_options(kind, lr, **kw):
    o = _OptimOptions()
    _o_init(ctypes.byref(o))
    kinds = {"sgd": OPTIM_SGD, "adam": OPTIM_ADAM, "adamw": OPTIM_ADAMW, "rmsprop": OPTIM_RMSPROP}
    o.type = kinds[kind] if isinstance(kind, str) else int(kind)
    o.lr = lr
    for k, v in kw.items():
        if k == "milestones":
            for i, m in enumerate(v):
                o.milestones[i] = m
        elif k == "schedule" and isinstance(v, str):
            o.schedule = {"constant": 0, "step": 1, "multistep": 2, "cosine": 3}[v]
        elif hasattr(o, k):
            setattr(o, k, v)
        else:
            raise TypeError(f"unknown optimizer option {k!r}")
    return o


def schedule_lr(step, lr=0.01, **kw):
    """The learning rate a schedule gives after `step` optimizer steps."""
    o = _optim_options("sgd", lr, **kw)
    out = ctypes.c_double()
    _sched_lr(ctypes.byref(o), step, ctypes.byref(out))
    return out.value


class Optimizer(Handle):
    """An optimizer over numpy float32 arrays (kept alive here) and/or Models.

    ``Optimizer("adam", lr=1e-3, weight_decay=0.0, ...)``: keyword names are the
    dh_optimizer_options fields (momentum, nesterov, betas as beta1/beta2, schedule,
    step_size, gamma, milestones, t_max, warmup, clip_norm, lr_mult_*...)."""

    _free = staticmethod(_o_free)

    def __init__(self, kind="sgd", lr=0.01, **kw):
        o = _optim_options(kind, lr, **kw)
        self._h = _vp()
        _o_create(ctypes.byref(o), ctypes.byref(self._h))
        self._keep = []


    def __repr__(self):
        return "<dh.Optimizer>" if getattr(self, "_h", None) else "<dh.Optimizer (closed)>"

    def add_param(self, name, data, grad, group=0, no_decay=False):
        """Add a float32 tensor and its gradient buffer (same shape), in param group `group`."""
        data = as_array(data, np.float32, "data")
        grad = as_array(grad, np.float32, "grad")
        if data.shape != grad.shape:
            raise ValueError(f"{name}: data {data.shape} and grad {grad.shape} differ")
        _o_add(self._h, name.encode(), ptr(data, ctypes.c_float), ptr(grad, ctypes.c_float),
               data.size, group, 1 if no_decay else 0)
        self._keep += [data, grad]

    def add_model(self, model):
        """Add every learnable tensor of `model` (kept alive by the optimizer)."""
        _o_add_model(self._h, model._h)
        self._keep.append(model)

    def step(self):
        """One update of every parameter from its gradient."""
        _o_step(self._h)

    def zero_grad(self):
        """Set every gradient to zero."""
        _o_zero(self._h)

    @property
    def step_count(self):
        """Updates done so far."""
        return int(_o_get_step(self._h))

    @property
    def lr(self):
        """The current learning rate (after schedules)."""
        v = ctypes.c_double()
        _o_get_lr(self._h, ctypes.byref(v))
        return v.value

"""Neural encoders (dh_encoder): images or feature rows in, feature vectors out.

    enc = dh.Encoder("smallcnn", seed=1)              # 28x28x1 -> 512
    feats = enc.forward(x)                            # x: float32 [n, 1, 28, 28]
    feats = enc.forward(x, training=True)             # batch statistics, keeps state
    dx = enc.backward(dfeats, want_dx=True)           # accumulates parameter gradients

Specs: "mlp:<d_in>-<h1>-...", "smallcnn", "alexnet", "resnet18", "resnet18-cifar"
(see docs/nn.md). An Encoder is not thread-safe (one thread at a time).
"""
import ctypes

import numpy as np

from ._lib import Handle, as_array, c_f32_p, c_i64_p, fn, ptr


class EncoderOptions(ctypes.Structure):
    """Mirror of dh_encoder_options (filled by dh_encoder_options_init)."""
    _fields_ = [("struct_size", ctypes.c_size_t), ("seed", ctypes.c_uint64),
                ("in_channels", ctypes.c_int32), ("in_height", ctypes.c_int32),
                ("in_width", ctypes.c_int32), ("dropout", ctypes.c_float),
                ("bn_momentum", ctypes.c_float), ("bn_eps", ctypes.c_float)]


_opts_init = fn("dh_encoder_options_init", [ctypes.POINTER(EncoderOptions)], None)
_create = fn("dh_encoder_create", [ctypes.c_char_p, ctypes.POINTER(EncoderOptions),
                                   ctypes.POINTER(ctypes.c_void_p)])
_free = fn("dh_encoder_free", [ctypes.c_void_p], None)
_forward = fn("dh_encoder_forward", [ctypes.c_void_p, c_f32_p, ctypes.c_size_t, ctypes.c_int32,
                                     c_f32_p])
_forward_fmap = fn("dh_encoder_forward_fmap", [ctypes.c_void_p, c_f32_p, ctypes.c_size_t,
                                               ctypes.c_int32, c_f32_p, c_f32_p])
_backward = fn("dh_encoder_backward", [ctypes.c_void_p, c_f32_p, c_f32_p])
_backward_fmap = fn("dh_encoder_backward_fmap", [ctypes.c_void_p, c_f32_p, c_f32_p, c_f32_p])
_zero_grad = fn("dh_encoder_zero_grad", [ctypes.c_void_p])
_feature_dim = fn("dh_encoder_feature_dim", [ctypes.c_void_p], ctypes.c_size_t)
_input_shape = fn("dh_encoder_input_shape", [ctypes.c_void_p, c_i64_p], ctypes.c_int32)
_fmap_shape = fn("dh_encoder_feature_map_shape", [ctypes.c_void_p, c_i64_p], ctypes.c_int32)
_param_count = fn("dh_encoder_param_count", [ctypes.c_void_p], ctypes.c_size_t)
_spec = fn("dh_encoder_spec", [ctypes.c_void_p], ctypes.c_char_p)


def _shape(getter, handle):
    s = (ctypes.c_int64 * 3)()
    nd = getter(handle, s)
    return tuple(int(s[i]) for i in range(nd))


class Encoder(Handle):
    """A dh_encoder. Keyword options left as None keep the library's defaults."""

    _free = staticmethod(_free)

    def __init__(self, spec, seed=None, in_channels=None, in_height=None, in_width=None,
                 dropout=None, bn_momentum=None, bn_eps=None):
        self._h = None
        opts = EncoderOptions()
        _opts_init(ctypes.byref(opts))
        for name, value in (("seed", seed), ("in_channels", in_channels),
                            ("in_height", in_height), ("in_width", in_width),
                            ("dropout", dropout), ("bn_momentum", bn_momentum),
                            ("bn_eps", bn_eps)):
            if value is not None:
                setattr(opts, name, value)
        h = ctypes.c_void_p()
        _create(spec.encode(), ctypes.byref(opts), ctypes.byref(h))
        self._h = h
        self.feature_dim = int(_feature_dim(h))
        self.input_shape = _shape(_input_shape, h)
        self.feature_map_shape = _shape(_fmap_shape, h) or None
        self.param_count = int(_param_count(h))
        self.spec = _spec(h).decode()
        self._n = None  # batch of the last training forward


    def _handle(self):
        if not self._h:
            raise ValueError("the encoder is closed")
        return self._h

    def _input(self, x):
        x = as_array(x, np.float32, "x")
        if x.ndim != 1 + len(self.input_shape) or tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"x: expected shape (n, {', '.join(map(str, self.input_shape))}),"
                             f" got {x.shape}")
        return x

    def forward(self, x, training=False):
        """Features [n, feature_dim] of x [n, *input_shape] (float32, C-contiguous)."""
        h = self._handle()
        x = self._input(x)
        out = np.empty((x.shape[0], self.feature_dim), np.float32)
        _forward(h, ptr(x, ctypes.c_float), x.shape[0], int(bool(training)),
                 ptr(out, ctypes.c_float))
        if training:
            self._n = x.shape[0]
        return out

    def forward_fmap(self, x, training=False):
        """(features, last feature map [n, C, h, w]); encoders with a feature map only."""
        h = self._handle()
        if self.feature_map_shape is None:
            raise ValueError(f"encoder {self.spec!r} has no feature map")
        x = self._input(x)
        out = np.empty((x.shape[0], self.feature_dim), np.float32)
        fmap = np.empty((x.shape[0],) + self.feature_map_shape, np.float32)
        _forward_fmap(h, ptr(x, ctypes.c_float), x.shape[0], int(bool(training)),
                      ptr(out, ctypes.c_float), ptr(fmap, ctypes.c_float))
        if training:
            self._n = x.shape[0]
        return out, fmap

    def _grad(self, g, shape, name):
        if g is None:
            return None
        g = as_array(g, np.float32, name)
        if self._n is not None and g.shape != (self._n,) + shape:
            raise ValueError(f"{name}: expected shape {(self._n,) + shape}, got {g.shape}")
        return g

    def backward(self, dout, want_dx=False):
        """Back-propagate dout [n, feature_dim] through the last training forward;
        parameter gradients accumulate. Returns dx [n, *input_shape] or None."""
        return self.backward_fmap(dout, None, want_dx)

    def backward_fmap(self, dout=None, dfmap=None, want_dx=False):
        """As backward, with an optional gradient for the feature map."""
        h = self._handle()
        dout = self._grad(dout, (self.feature_dim,), "dout")
        if dfmap is not None and self.feature_map_shape is None:
            raise ValueError(f"encoder {self.spec!r} has no feature map")
        dfmap = self._grad(dfmap, self.feature_map_shape or (), "dfmap")
        dx = np.empty((self._n or 0,) + self.input_shape, np.float32) if want_dx else None
        _backward_fmap(h, ptr(dout, ctypes.c_float), ptr(dfmap, ctypes.c_float),
                       ptr(dx, ctypes.c_float))
        return dx

    def zero_grad(self):
        """Set the gradients of every encoder parameter to zero."""
        _zero_grad(self._handle())

    def __repr__(self):
        return (f"Encoder({self.spec!r}, input={self.input_shape}, D={self.feature_dim}, "
                f"params={self.param_count})")

"""Data sets, .npy files, standard splits and the batch loader (dh.h section "data").

Dataset wraps a dh_dataset (images uint8 HWC or float feature rows, multi-hot labels,
class ids, optional tags); Loader yields shuffled, augmented numpy batches prepared by
libdh's background threads. All logic lives in the C library.
"""
import ctypes

import numpy as np

from ._checks import c_path
from ._lib import (Handle, c_f32_p, c_i32_p, c_i64_p, c_size_p, c_u8_p, as_array, fn, ptr)

DTYPE_UINT8, DTYPE_INT8, DTYPE_INT32, DTYPE_INT64, DTYPE_FLOAT32, DTYPE_FLOAT64 = range(1, 7)
_NP_OF = {DTYPE_UINT8: np.uint8, DTYPE_INT8: np.int8, DTYPE_INT32: np.int32,
          DTYPE_INT64: np.int64, DTYPE_FLOAT32: np.float32, DTYPE_FLOAT64: np.float64}
_DT_OF = {np.dtype(v): k for k, v in _NP_OF.items()}
SPLIT_TRAIN, SPLIT_TEST = 0, 1
CIFAR10, CIFAR100, CIFAR100_COARSE = 10, 100, 20
LABELS_AUTO, LABELS_MULTIHOT, LABELS_CLASS_ID = 0, 1, 2
RESIZE_SHORTER_CROP, RESIZE_STRETCH = 0, 1
AUG_RESIZED_CROP, AUG_RANDOM_CROP, AUG_CENTER_CROP = 1, 2, 4
AUG_FLIP, AUG_COLOR_JITTER, AUG_GRAYSCALE = 8, 16, 32

_vp = ctypes.c_void_p
_u32, _i32, _u64, _sz = ctypes.c_uint32, ctypes.c_int32, ctypes.c_uint64, ctypes.c_size_t
_pp = ctypes.POINTER(_vp)


class ImagelistOptions(ctypes.Structure):
    """ctypes mirror of dh_imagelist_options (root, label format, size, cache)."""
    _fields_ = [("struct_size", _sz), ("root", ctypes.c_char_p), ("n_classes", _u32),
                ("label_format", _i32), ("height", _u32), ("width", _u32),
                ("channels", _u32), ("resize_mode", _i32), ("cache_bytes", _u64),
                ("check_files", _u32), ("path_policy", _u32)]


class LoaderOptions(ctypes.Structure):
    _fields_ = [("struct_size", _sz), ("batch_size", _u32), ("shuffle", _u32),
                ("drop_last", _u32), ("prefetch", _u32), ("seed", _u64), ("n_threads", _u32),
                ("two_views", _u32), ("out_height", _u32), ("out_width", _u32),
                ("augment", _u32), ("crop_padding", _u32), ("flip_prob", ctypes.c_float),
                ("scale_min", ctypes.c_float), ("scale_max", ctypes.c_float),
                ("ratio_min", ctypes.c_float), ("ratio_max", ctypes.c_float),
                ("brightness", ctypes.c_float), ("contrast", ctypes.c_float),
                ("saturation", ctypes.c_float), ("grayscale_prob", ctypes.c_float),
                ("resize_ratio", ctypes.c_float), ("mean", ctypes.c_float * 4),
                ("std", ctypes.c_float * 4), ("blur_prob", ctypes.c_float)]  # Since: 1.3


_dtype_size = fn("dh_dtype_size", [_i32], _sz)
_npy_load = fn("dh_npy_load", [ctypes.c_char_p, _pp])
_npy_save = fn("dh_npy_save", [ctypes.c_char_p, _i32, _u32, c_i64_p, _vp])
_array_free = fn("dh_array_free", [_vp], None)
_array_dtype = fn("dh_array_dtype", [_vp], _i32)
_array_ndim = fn("dh_array_ndim", [_vp], _u32)
_array_dim = fn("dh_array_dim", [_vp, _u32], ctypes.c_int64)
_array_count = fn("dh_array_count", [_vp], _sz)
_array_data = fn("dh_array_data", [_vp], _vp)

_ds_free = fn("dh_dataset_free", [_vp], None)
_load_idx = fn("dh_dataset_load_idx", [ctypes.c_char_p, ctypes.c_char_p, _pp])
_fm_dir = fn("dh_fashion_mnist_dir", [ctypes.c_char_p, _sz])
_load_fm = fn("dh_dataset_load_fashion_mnist", [ctypes.c_char_p, _i32, _pp])
_load_cifar = fn("dh_dataset_load_cifar", [ctypes.c_char_p, _i32, _i32, _pp])
_il_init = fn("dh_imagelist_options_init", [ctypes.POINTER(ImagelistOptions)], None)
_load_list = fn("dh_dataset_load_imagelist",
                [ctypes.c_char_p, ctypes.POINTER(ImagelistOptions), _pp])
_from_images = fn("dh_dataset_from_images",
                  [c_u8_p, _sz, _u32, _u32, _u32, c_i32_p, c_f32_p, _u32, _pp])
_from_features = fn("dh_dataset_from_features",
                    [c_f32_p, _sz, _u32, c_i32_p, c_f32_p, _u32, _pp])
_load_npy = fn("dh_dataset_load_npy", [ctypes.c_char_p, ctypes.c_char_p, _pp])
_set_tags = fn("dh_dataset_set_tags", [_vp, c_f32_p, _u32])
_load_tags = fn("dh_dataset_load_tags_npy", [_vp, ctypes.c_char_p])
_count = fn("dh_dataset_count", [_vp], _sz)
_n_classes = fn("dh_dataset_n_classes", [_vp], _u32)
_n_tags = fn("dh_dataset_n_tags", [_vp], _u32)
_is_image = fn("dh_dataset_is_image", [_vp], ctypes.c_int)
_is_multilabel = fn("dh_dataset_is_multilabel", [_vp], ctypes.c_int)
_height = fn("dh_dataset_height", [_vp], _u32)
_width = fn("dh_dataset_width", [_vp], _u32)
_channels = fn("dh_dataset_channels", [_vp], _u32)
_sample_size = fn("dh_dataset_sample_size", [_vp], _sz)
_get_labels = fn("dh_dataset_get_labels", [_vp, _sz, _sz, c_f32_p])
_get_cls = fn("dh_dataset_get_class_ids", [_vp, _sz, _sz, c_i32_p])
_get_tags = fn("dh_dataset_get_tags", [_vp, _sz, _sz, c_f32_p])
_get_origin = fn("dh_dataset_get_origin", [_vp, _sz, _sz, c_i64_p])
_get_image = fn("dh_dataset_get_image", [_vp, _sz, c_u8_p])
_get_floats = fn("dh_dataset_get_floats", [_vp, _sz, c_f32_p, c_f32_p, c_f32_p])
_subset = fn("dh_dataset_subset", [_vp, c_i64_p, _sz, _pp])
_concat = fn("dh_dataset_concat", [_vp, _vp, _pp])
_split = fn("dh_protocol_split", [ctypes.c_char_p, _vp, _vp, _u64, _pp, _pp, _pp])
_topk = fn("dh_protocol_topk", [ctypes.c_char_p, c_i64_p])
_proto_name = fn("dh_protocol_name", [_u32], ctypes.c_char_p)
_per_class = fn("dh_split_per_class", [_vp, _u32, _u64, _pp, _pp])
_longtail = fn("dh_split_longtail", [_vp, ctypes.c_double, _u32, _u64, _pp])
_classes = fn("dh_split_classes", [_vp, _u32, _u32, _pp])

_lo_init = fn("dh_loader_options_init", [ctypes.POINTER(LoaderOptions)], None)
_lo_create = fn("dh_loader_create", [_vp, ctypes.POINTER(LoaderOptions), _pp])
_lo_free = fn("dh_loader_free", [_vp], None)
_lo_sample = fn("dh_loader_sample_floats", [_vp], _sz)
_lo_bs = fn("dh_loader_batch_size", [_vp], _u32)
_lo_nc = fn("dh_loader_n_classes", [_vp], _u32)
_lo_c = fn("dh_loader_channels", [_vp], _u32)
_lo_h = fn("dh_loader_height", [_vp], _u32)
_lo_w = fn("dh_loader_width", [_vp], _u32)
_lo_bpe = fn("dh_loader_batches_per_epoch", [_vp], _u64)
_lo_pos = fn("dh_loader_position", [_vp, ctypes.POINTER(_u64), ctypes.POINTER(_u64)], None)
_lo_next = fn("dh_loader_next", [_vp, c_f32_p, c_f32_p, c_f32_p, c_i32_p, c_i64_p, c_size_p])
_lo_seek = fn("dh_loader_seek", [_vp, _u64, _u64])


def _b(s):
    return None if s is None else c_path(s)


# ---- .npy ----------------------------------------------------------------------

def npz_load(path, member=None):
    """One array of a .npz archive (numpy.savez / savez_compressed) with libdh's strict
    reader; member=None when the archive holds exactly one."""
    return npy_load(f"{path}:{member}" if member is not None else path)


def npy_load(path):
    """Load a .npy file with libdh's strict reader (also "a.npz" with one array, or
    "a.npz:member"); returns a new numpy array."""
    h = _vp()
    _npy_load(_b(path), ctypes.byref(h))
    try:
        dt = _NP_OF[_array_dtype(h)]
        shape = tuple(_array_dim(h, i) for i in range(_array_ndim(h)))
        n = _array_count(h)
        buf = (ctypes.c_uint8 * (n * np.dtype(dt).itemsize)).from_address(_array_data(h)) \
            if n else b""
        return np.frombuffer(bytes(buf), dtype=dt).reshape(shape).copy()
    finally:
        _array_free(h)


def npy_save(path, array):
    """Write a C-contiguous array of a supported dtype as .npy (atomically)."""
    a = np.ascontiguousarray(array)
    if a.dtype == np.bool_:
        a = a.astype(np.uint8)
    if a.dtype not in _DT_OF:
        raise TypeError(f"npy_save: unsupported dtype {a.dtype}")
    shape = (ctypes.c_int64 * max(a.ndim, 1))(*a.shape)
    _npy_save(_b(path), _DT_OF[a.dtype], a.ndim, shape, a.ctypes.data_as(_vp))


# ---- datasets ------------------------------------------------------------------

class Dataset(Handle):
    """A set of samples (images uint8 HWC or float rows) with labels; see dh.h."""

    _free = staticmethod(_ds_free)

    def __init__(self, handle):
        self._h = handle


    def __repr__(self):
        if not getattr(self, "_h", None):
            return "<dh.Dataset (closed)>"
        kind = ("images %dx%dx%d" % self.image_shape) if self.is_image else \
            f"rows of {self.sample_size}"
        return f"<dh.Dataset n={len(self)} {kind} classes={self.n_classes}>"

    @staticmethod
    def _make(call, *args):
        h = _vp()
        call(*args, ctypes.byref(h))
        return Dataset(h)

    @classmethod
    def load_idx(cls, images_path, labels_path):
        """Load an IDX image file and its IDX label file (raw or .gz), as MNIST ships them."""
        return cls._make(_load_idx, _b(images_path), _b(labels_path))

    @classmethod
    def fashion_mnist(cls, split="train", dir=None):
        """Load Fashion-MNIST's 'train' or 'test' split from `dir` (None: the installed package)."""
        return cls._make(_load_fm, _b(dir), SPLIT_TEST if split == "test" else SPLIT_TRAIN)

    @staticmethod
    def fashion_mnist_dir():
        """The folder Fashion-MNIST is read from by default ('' when none is found)."""
        buf = ctypes.create_string_buffer(4096)
        _fm_dir(buf, 4096)
        return buf.value.decode()

    @classmethod
    def cifar(cls, dir, variant=CIFAR10, split="train"):
        """Load CIFAR-10 (variant=CIFAR10) or CIFAR-100 binary batches from `dir`; split 'train' or
        'test'."""
        return cls._make(_load_cifar, _b(dir), variant,
                         SPLIT_TEST if split == "test" else SPLIT_TRAIN)

    @classmethod
    def imagelist(cls, list_path, **options):
        """Options: the dh_imagelist_options fields (root, height, width, channels,
        label_format, n_classes, resize_mode, cache_bytes, check_files)."""
        o = ImagelistOptions()
        _il_init(ctypes.byref(o))
        for k, v in options.items():
            if k not in dict(o._fields_):
                raise TypeError(f"imagelist: unknown option {k!r}")
            setattr(o, k, _b(v) if k == "root" else v)
        return cls._make(_load_list, _b(list_path), ctypes.byref(o))

    @staticmethod
    def _labels_args(n, class_ids, labels, n_classes):
        ids = lab = None
        if class_ids is not None:
            ids = as_array(class_ids, np.int32, "class_ids", ndim=1)
            n_classes = n_classes if n_classes is not None else int(ids.max(initial=-1)) + 1
        if labels is not None:
            lab = as_array(labels, np.float32, "labels", ndim=2)
            n_classes = lab.shape[1]
        for a, nm in ((ids, "class_ids"), (lab, "labels")):
            if a is not None and a.shape[0] != n:
                raise ValueError(f"{nm}: {a.shape[0]} rows for {n} samples")
        return ids, lab, int(n_classes or 0)

    @classmethod
    def from_images(cls, images, class_ids=None, labels=None, n_classes=None):
        """A dataset of uint8 images [n, H, W, C] (copied), with class_ids [n] or multi-hot labels
        [n, C]."""
        im = as_array(images, np.uint8, "images", ndim=4)
        ids, lab, C = cls._labels_args(im.shape[0], class_ids, labels, n_classes)
        return cls._make(_from_images, ptr(im, ctypes.c_uint8), im.shape[0], im.shape[1],
                         im.shape[2], im.shape[3], ptr(ids, ctypes.c_int32),
                         ptr(lab, ctypes.c_float), C)

    @classmethod
    def from_features(cls, features, class_ids=None, labels=None, n_classes=None):
        """A dataset of feature rows [n, d] (copied), with class_ids [n] or multi-hot labels [n,
        C]."""
        f = as_array(features, np.float32, "features", ndim=2)
        ids, lab, C = cls._labels_args(f.shape[0], class_ids, labels, n_classes)
        return cls._make(_from_features, ptr(f, ctypes.c_float), f.shape[0], f.shape[1],
                         ptr(ids, ctypes.c_int32), ptr(lab, ctypes.c_float), C)

    @classmethod
    def load_npy(cls, samples_path, labels_path=None):
        """Load samples (feature rows or images) and optional labels from .npy files."""
        return cls._make(_load_npy, _b(samples_path), _b(labels_path))

    def __len__(self):
        return int(_count(self._h))

    n_classes = property(lambda self: int(_n_classes(self._h)),
                         doc="Number of classes (label columns).")
    n_tags = property(lambda self: int(_n_tags(self._h)),
                      doc="Number of tags per sample (0 without tags).")
    is_image = property(lambda self: bool(_is_image(self._h)),
                        doc="True for image samples, False for feature rows.")
    is_multilabel = property(lambda self: bool(_is_multilabel(self._h)),
                             doc="True if a sample may carry several labels.")
    sample_size = property(lambda self: int(_sample_size(self._h)),
                           doc="Values per sample: d for feature rows, H*W*C for images.")

    @property
    def image_shape(self):
        """(height, width, channels), or None for feature rows."""
        if not self.is_image:
            return None
        return (int(_height(self._h)), int(_width(self._h)), int(_channels(self._h)))

    def _rows(self, call, cols, dtype, first, count):
        count = len(self) - first if count is None else count
        out = np.empty((count, cols) if cols is not None else (count,), dtype=dtype)
        call(self._h, first, count, out.ctypes.data_as(ctypes.POINTER(
            np.ctypeslib.as_ctypes_type(dtype))))
        return out

    def labels(self, first=0, count=None):
        """Label rows of samples [first, first+count) as float32 0/1 [count, n_classes]."""
        return self._rows(_get_labels, self.n_classes, np.float32, first, count)

    def class_ids(self, first=0, count=None):
        """Class ids of samples [first, first+count) as int32 (-1 for multi-label or unlabelled
        rows)."""
        return self._rows(_get_cls, None, np.int32, first, count)

    def tags(self, first=0, count=None):
        """Tag rows of samples [first, first+count) as float32 0/1 [count, n_tags]."""
        return self._rows(_get_tags, self.n_tags, np.float32, first, count)

    def origin(self, first=0, count=None):
        """Index of each sample of [first, first+count) in the dataset it came from (int64)."""
        return self._rows(_get_origin, None, np.int64, first, count)

    def set_tags(self, tags):
        """Attach tag rows [len(self), n_tags] (0/1, copied) for weak supervision."""
        t = as_array(tags, np.float32, "tags", ndim=2)
        if t.shape[0] != len(self):
            raise ValueError(f"tags: {t.shape[0]} rows for {len(self)} samples")
        _set_tags(self._h, ptr(t, ctypes.c_float), t.shape[1])

    def load_tags(self, path, format=None, **options):
        """Tags beside the labels: a .npy matrix (format None), or a real layout
        (format "matrix" + vocabulary=TagList, "files", "list"; dh.tags.Tags.load's
        options), whose Tags object (with the names) is returned."""
        if format is None:
            _load_tags(self._h, _b(path))
            return None
        from .tags import Tags
        t = Tags.load(path, format=format, **options)
        t.attach(self)
        return t

    def image(self, i):
        """Image i as a uint8 array shaped image_shape."""
        out = np.empty(self.image_shape or (0,), dtype=np.uint8)
        _get_image(self._h, i, ptr(out, ctypes.c_uint8))
        return out

    def floats(self, i, mean=None, std=None):
        """Sample i as float32: CHW (pixel/255 - mean)/std for images, the row otherwise."""
        shp = self.image_shape
        out = np.empty((shp[2], shp[0], shp[1]) if shp else (self.sample_size,), np.float32)
        m = None if mean is None else np.ascontiguousarray(mean, dtype=np.float32)
        s = None if std is None else np.ascontiguousarray(std, dtype=np.float32)
        _get_floats(self._h, i, ptr(m, ctypes.c_float), ptr(s, ctypes.c_float),
                    ptr(out, ctypes.c_float))
        return out

    def subset(self, indices):
        """A new Dataset of the samples at `indices` (shared storage, in that order)."""
        idx = np.ascontiguousarray(indices, dtype=np.int64)
        return Dataset._make(_subset, self._h, ptr(idx, ctypes.c_int64), idx.size)

    def concat(self, other):
        """A new Dataset: this one's samples followed by `other`'s (shared storage; same shape and
        classes)."""
        return Dataset._make(_concat, self._h, other._h)


# ---- splits --------------------------------------------------------------------

def protocols():
    """Names of the built-in retrieval protocols."""
    out, i = [], 0
    while _proto_name(i):
        out.append(_proto_name(i).decode())
        i += 1
    return out


def protocol_topk(name):
    """The protocol's default mAP depth (0 = all)."""
    k = ctypes.c_int64()
    _topk(_b(name), ctypes.byref(k))
    return int(k.value)


def protocol_split(name, a, b=None, seed=0):
    """Split by a named protocol; returns (train, query, database) Datasets."""
    t, q, d = _vp(), _vp(), _vp()
    _split(_b(name), a._h, b._h if b is not None else None, seed, ctypes.byref(t),
           ctypes.byref(q), ctypes.byref(d))
    return Dataset(t), Dataset(q), Dataset(d)


def split_per_class(ds, per_class, seed=0):
    """(picked, rest): per_class random samples of every class, and the others."""
    p, r = _vp(), _vp()
    _per_class(ds._h, per_class, seed, ctypes.byref(p), ctypes.byref(r))
    return Dataset(p), Dataset(r)


def split_longtail(ds, imbalance, max_per_class=0, seed=0):
    """Long-tailed subset of `ds`: class c keeps n_max * imbalance^(-c/(C-1)) random samples."""
    return Dataset._make(_longtail, ds._h, float(imbalance), max_per_class, seed)


def split_classes(ds, first_class, n_classes):
    """The samples of classes first_class .. first_class + n_classes - 1 of `ds` (a new Dataset)."""
    return Dataset._make(_classes, ds._h, first_class, n_classes)


# ---- loader --------------------------------------------------------------------

class Loader(Handle):
    """Mini-batches over a Dataset. Keyword options are dh_loader_options fields
    (batch_size, shuffle, drop_last, prefetch, seed, n_threads, two_views, out_height,
    out_width, augment, crop_padding, flip_prob, ..., mean, std). Iterating yields one
    epoch of dicts with numpy arrays x, labels, class_ids, indices (and x2)."""

    _free = staticmethod(_lo_free)

    def __init__(self, dataset, **options):
        o = LoaderOptions()
        _lo_init(ctypes.byref(o))
        for k, v in options.items():
            if k not in dict(o._fields_) or k == "struct_size":
                raise TypeError(f"Loader: unknown option {k!r}")
            if k in ("mean", "std"):
                v = list(v) + ([0.0] * 4 if k == "mean" else [1.0] * 4)
                v = (ctypes.c_float * 4)(*v[:4])
            setattr(o, k, v)
        self._two = bool(o.two_views)
        self._h = _vp()
        _lo_create(dataset._h, ctypes.byref(o), ctypes.byref(self._h))


    def __repr__(self):
        if not getattr(self, "_h", None):
            return "<dh.Loader (closed)>"
        return f"<dh.Loader batch_size={self.batch_size}>"

    batch_size = property(lambda self: int(_lo_bs(self._h)), doc="Samples per batch.")
    n_classes = property(lambda self: int(_lo_nc(self._h)),
                         doc="Number of classes of the loaded dataset.")

    @property
    def sample_shape(self):
        """(C, H, W) of image batches, or (d,) of feature rows."""
        c = int(_lo_c(self._h))
        if c == 0:
            return (int(_lo_sample(self._h)),)
        return (c, int(_lo_h(self._h)), int(_lo_w(self._h)))

    def __len__(self):
        return int(_lo_bpe(self._h))

    def position(self):
        """(epoch, batch) the next batch comes from."""
        e, b = _u64(), _u64()
        _lo_pos(self._h, ctypes.byref(e), ctypes.byref(b))
        return int(e.value), int(b.value)

    def seek(self, epoch, batch=0):
        """Continue from batch `batch` of epoch `epoch` (the same order as an uninterrupted run)."""
        _lo_seek(self._h, epoch, batch)

    def next(self):
        """The next batch as a dict, or None at the end of an epoch (the loader then
        moves to the next epoch)."""
        B, shp = self.batch_size, self.sample_shape
        x = np.empty((B,) + shp, np.float32)
        x2 = np.empty((B,) + shp, np.float32) if self._two else None
        lab = np.empty((B, self.n_classes), np.float32)
        cls = np.empty(B, np.int32)
        idx = np.empty(B, np.int64)
        n = _sz()
        _lo_next(self._h, ptr(x, ctypes.c_float), ptr(x2, ctypes.c_float),
                 ptr(lab, ctypes.c_float), ptr(cls, ctypes.c_int32), ptr(idx, ctypes.c_int64),
                 ctypes.byref(n))
        n = n.value
        if n == 0:
            return None
        out = {"x": x[:n], "labels": lab[:n], "class_ids": cls[:n], "indices": idx[:n]}
        if x2 is not None:
            out["x2"] = x2[:n]
        return out

    def __iter__(self):
        while True:
            b = self.next()
            if b is None:
                return
            yield b


__all__ = ["Dataset", "Loader", "npy_load", "npy_save", "protocols", "protocol_topk",
           "protocol_split", "split_per_class", "split_longtail", "split_classes"]


from .tags import Tags, embed_cooccurrence, synthesize_tags, word_vectors  # noqa: E402,F401

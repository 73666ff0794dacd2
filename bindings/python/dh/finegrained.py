"""Fine-grained hashing (docs/finegrained.md): models whose hash head reads a pooled
encoder feature map, and the CUB-200-2011 / FGVC-Aircraft annotation readers.

``create_model("smallcnn", n_bits=16, pool="attn")`` returns a ``dh.Model`` with a
SEMICON-lite attention pool (``"part"``: ExchNet-style parts, ``"gap"``: global
average pooling, the baseline); train it with any loss and ``dh.Trainer``.
``global_branch="encoder"`` makes the pooled vector's global part the encoder's own
features (smallcnn's fc-512) instead of the average of the feature map.
``load_dataset("cub", dir, "train", height=224, width=224)`` loads a split through the
image-list pipeline; ``write_list`` writes the converted list instead.
"""
import ctypes

from ._lib import fn
from .data import Dataset, ImagelistOptions, _il_init
from .model import Model, _HEADS, _ModelOptions, _m_create, _m_init

FMAP_POOL_NONE, FMAP_POOL_GAP, FMAP_POOL_ATTN, FMAP_POOL_PART = range(4)
POOLS = {"none": FMAP_POOL_NONE, "gap": FMAP_POOL_GAP, "attn": FMAP_POOL_ATTN,
         "part": FMAP_POOL_PART}
CUB, AIRCRAFT_VARIANT, AIRCRAFT_FAMILY, AIRCRAFT_MANUFACTURER = range(4)
FMAP_GLOBAL_POOL, FMAP_GLOBAL_ENCODER = range(2)
GLOBALS = {"pool": FMAP_GLOBAL_POOL, "encoder": FMAP_GLOBAL_ENCODER}
FORMATS = {"cub": CUB, "aircraft": AIRCRAFT_VARIANT, "aircraft-variant": AIRCRAFT_VARIANT,
           "aircraft-family": AIRCRAFT_FAMILY,
           "aircraft-manufacturer": AIRCRAFT_MANUFACTURER}

_vp, _pp = ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)
_write_list = fn("dh_finegrained_write_list",
                 [ctypes.c_int32, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                  ctypes.POINTER(ctypes.c_uint32), ctypes.POINTER(ctypes.c_size_t)])
_load = fn("dh_dataset_load_finegrained",
           [ctypes.c_int32, ctypes.c_char_p, ctypes.c_char_p,
            ctypes.POINTER(ImagelistOptions), _pp])


def _format(f):
    return FORMATS[f] if isinstance(f, str) else int(f)


def create_model(encoder="smallcnn", n_bits=64, pool="attn", parts=0, aux_weight=1.0,
                 head="tanh", input_shape=None, seed=None, global_branch="pool",
                 **options):
    """A dh.Model with a feature-map pool. parts: attention maps / parts (0 = 3 / 4);
    aux_weight: the part-diversity weight (pool="part"); global_branch: "pool" (the
    average of the feature map) or "encoder" (the encoder's own features; pool "attn"
    or "part" only). Other dh_model_options fields (batch_size, head_init_std, ...)
    may be given by name."""
    o = _ModelOptions()
    _m_init(ctypes.byref(o))
    o.encoder = encoder.encode()
    o.n_bits = n_bits
    o.head = _HEADS[head] if isinstance(head, str) else int(head)
    o.fmap_pool = POOLS[pool] if isinstance(pool, str) else int(pool)
    o.fmap_parts = parts
    o.fmap_aux_weight = aux_weight
    o.fmap_global = (GLOBALS[global_branch] if isinstance(global_branch, str)
                     else int(global_branch))
    if input_shape is not None:
        o.in_channels, o.in_height, o.in_width = (int(v) for v in input_shape)
    if seed is not None:
        o.seed = seed
    names = {f for f, _ in _ModelOptions._fields_}
    for k, v in options.items():
        if k not in names or k in ("struct_size", "encoder", "fmap_reserved",
                                   "fmap_reserved2"):
            raise TypeError(f"create_model: unknown option {k!r}")
        if k in ("mean", "std"):
            for i, x in enumerate(v):
                getattr(o, k)[i] = float(x)
        else:
            setattr(o, k, v)
    h = _vp()
    _m_create(ctypes.byref(o), ctypes.byref(h))
    return Model(h)


def write_list(format, dir, split, out_list):
    """Convert the annotation files under dir into an image list at out_list;
    returns (n_images, n_classes). format: 'cub', 'aircraft' (variant),
    'aircraft-family', 'aircraft-manufacturer' or a DH_FINEGRAINED_* value."""
    nc, n = ctypes.c_uint32(), ctypes.c_size_t()
    _write_list(_format(format), str(dir).encode(), split.encode(), str(out_list).encode(),
                ctypes.byref(nc), ctypes.byref(n))
    return n.value, nc.value


def load_dataset(format, dir, split, **options):
    """A dh.Dataset of the split; options are dh_imagelist_options fields (height,
    width, channels, resize_mode, cache_bytes, check_files, n_classes)."""
    o = ImagelistOptions()
    _il_init(ctypes.byref(o))
    for k, v in options.items():
        if k not in dict(o._fields_) or k in ("struct_size", "root", "reserved0"):
            raise TypeError(f"load_dataset: unknown option {k!r}")
        setattr(o, k, v)
    h = _vp()
    _load(_format(format), str(dir).encode(), split.encode(), ctypes.byref(o), ctypes.byref(h))
    return Dataset(h)

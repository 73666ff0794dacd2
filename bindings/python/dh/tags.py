"""Tags for weak supervision (docs/data.md#tags): read NUS-WIDE tag matrices,
MIRFlickr per-image tag files and `path tag ...` lists, generate the
fashion-mnist-tags protocol's tags, look up word vectors, embed tags by
co-occurrence (PPMI + truncated SVD).

    tags = dh.data.Tags.load("AllTags1k.txt", format="matrix", vocabulary="TagList1k.txt")
    ds.load_tags("AllTags1k.txt", format="matrix", vocabulary="TagList1k.txt")
    E = dh.data.word_vectors("glove.6B.300d.txt", tags)        # (T, 300) float32
"""
import ctypes

import numpy as np

from ._checks import c_path
from ._lib import c_f32_p, c_u32_p, as_array, fn, ptr

_vp = ctypes.c_void_p
_pp = ctypes.POINTER(_vp)
_u32 = ctypes.c_uint32
_sz = ctypes.c_size_t

FORMATS = {"matrix": 1, "nuswide": 1, "files": 2, "mirflickr": 2, "list": 3}


class TagsOptions(ctypes.Structure):
    """ctypes mirror of dh_tags_options (format, unknown-tag policy, vocabulary, limits)."""
    _fields_ = [("struct_size", ctypes.c_size_t), ("format", ctypes.c_int32),
                ("unknown", ctypes.c_int32), ("vocabulary", ctypes.c_char_p),
                ("min_count", ctypes.c_uint32), ("max_tags", ctypes.c_uint32),
                ("max_images", ctypes.c_uint64)]


_opts_init = fn("dh_tags_options_init", [ctypes.POINTER(TagsOptions)], None)
_load = fn("dh_tags_load", [ctypes.c_char_p, ctypes.POINTER(TagsOptions), _pp])
_synth = fn("dh_tags_synthesize", [_vp, ctypes.c_char_p, ctypes.c_double, ctypes.c_double,
                                   ctypes.c_uint64, _pp])
_free = fn("dh_tags_free", [_vp], None)
_count = fn("dh_tags_count", [_vp], _sz)
_vocab = fn("dh_tags_vocab_size", [_vp], _u32)
_name = fn("dh_tags_name", [_vp, _u32], ctypes.c_char_p)
_get = fn("dh_tags_get", [_vp, _sz, _sz, c_f32_p])
_attach = fn("dh_dataset_attach_tags", [_vp, _vp])
_wv_dim = fn("dh_word_vectors_dim", [ctypes.c_char_p, c_u32_p])
_wv_load = fn("dh_word_vectors_load", [ctypes.c_char_p, _vp, _u32, c_f32_p, c_u32_p])
_embed = fn("dh_tags_embed_cooccurrence", [c_f32_p, _sz, _u32, _u32, c_f32_p])


class Tags:
    """A 0/1 tag matrix (images x T) with its tag names."""

    def __init__(self, handle):
        self._h = handle

    @classmethod
    def load(cls, path, format="list", vocabulary=None, unknown="error", min_count=1,
             max_tags=0, max_images=0):
        """Read tags from `path`: format 'list', 'matrix' (needs vocabulary) or 'files'; unknown
        tags 'error' or 'skip'."""
        if format not in FORMATS:
            raise ValueError(f"format {format!r}: want one of {sorted(FORMATS)}")
        if unknown not in ("error", "skip"):
            raise ValueError(f"unknown {unknown!r}: want 'error' or 'skip'")
        o = TagsOptions()
        _opts_init(ctypes.byref(o))
        o.format = FORMATS[format]
        o.unknown = 1 if unknown == "skip" else 0
        o.vocabulary = None if vocabulary is None else c_path(vocabulary)
        o.min_count, o.max_tags, o.max_images = int(min_count), int(max_tags), int(max_images)
        h = _vp()
        _load(c_path(path), ctypes.byref(o), ctypes.byref(h))
        return cls(h)

    @classmethod
    def synthesize(cls, dataset, scheme="fashion-mnist-tags", keep=0.5, noise=0.2, seed=0):
        """Generated tags for `dataset` (scheme 'fashion-mnist-tags': keep each class tag w.p.
        keep, add noise)."""
        h = _vp()
        _synth(dataset._h, scheme.encode(), float(keep), float(noise), int(seed), ctypes.byref(h))
        return cls(h)

    def close(self):
        """Free the tags now (also done on garbage collection and by `with`)."""
        if self._h:
            _free(self._h)
            self._h = None

    __del__ = close

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __len__(self):
        return _count(self._h)

    @property
    def vocab_size(self):
        """Number of distinct tags (columns)."""
        return _vocab(self._h)

    @property
    def names(self):
        """The tag names, in column order."""
        return [_name(self._h, i).decode() for i in range(self.vocab_size)]

    def matrix(self):
        """All tag rows as float32 0/1 [n_images, vocab_size]."""
        out = np.empty((len(self), self.vocab_size), dtype=np.float32)
        _get(self._h, 0, len(self), ptr(out, ctypes.c_float))
        return out

    def attach(self, dataset):
        """Attach these tags to `dataset` (row i = sample i) for weak supervision."""
        _attach(dataset._h, self._h)

    def __repr__(self):
        return f"Tags({len(self)} images, {self.vocab_size} tags)"


def synthesize_tags(dataset, scheme="fashion-mnist-tags", keep=0.5, noise=0.2, seed=0):
    """Tags.synthesize(dataset, scheme, keep, noise, seed)."""
    return Tags.synthesize(dataset, scheme, keep, noise, seed)


def word_vectors(path, tags):
    """(T, D) float32 word vectors of the tags' names from a GloVe or word2vec text
    file (zero rows for names not in the file) and the number found."""
    dim = ctypes.c_uint32()
    _wv_dim(c_path(path), ctypes.byref(dim))
    out = np.zeros((tags.vocab_size, dim.value), dtype=np.float32)
    found = ctypes.c_uint32()
    _wv_load(c_path(path), tags._h, dim.value, ptr(out, ctypes.c_float), ctypes.byref(found))
    return out, found.value


def embed_cooccurrence(tags, dim):
    """PPMI + truncated SVD embedding (T, dim) of a 0/1 tag matrix (n, T)."""
    t = as_array(tags, np.float32, "tags", ndim=2)
    out = np.empty((t.shape[1], int(dim)), dtype=np.float32)
    _embed(ptr(t, ctypes.c_float), t.shape[0], t.shape[1], int(dim), ptr(out, ctypes.c_float))
    return out

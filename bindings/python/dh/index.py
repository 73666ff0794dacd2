"""Bit-packed Hamming index and code packing (libdh's index section).

`Index` mirrors faiss.IndexBinaryFlat: ``D, I = index.search(queries, k)`` returns
int32 distances and int64 ids, padded with -1 / INT32_MAX where fewer than k codes
exist; ties are broken by insertion order. Differences from FAISS worth knowing:
``range_search`` radius is inclusive (d <= r; FAISS keeps d < r), and codes may be
given as sign rows (float32/float64/int8, x >= 0 -> bit 1) as well as packed bytes.

Packed codes are LSB-first by default (bit j = bit j%8 of byte j//8). Pass
``bitorder="big"`` for numpy.packbits' default MSB-first order.
"""
import ctypes

import numpy as np

from ._checks import U32_MAX, U64_MAX, c_int, c_path
from ._lib import Handle, as_array, c_i8_p, c_i32_p, c_i64_p, c_size_p, c_u8_p, fn, ptr

CODE_PACKED, CODE_PACKED_MSB, CODE_FLOAT32, CODE_FLOAT64, CODE_INT8 = range(5)
CODES_MSB_FIRST = 1

_FORMATS = {"packed": CODE_PACKED, "packed_msb": CODE_PACKED_MSB, "float32": CODE_FLOAT32,
            "float64": CODE_FLOAT64, "int8": CODE_INT8}
_SIGN_FORMATS = {np.dtype(np.float32): CODE_FLOAT32, np.dtype(np.float64): CODE_FLOAT64,
                 np.dtype(np.int8): CODE_INT8}


class _IndexOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("n_bits", ctypes.c_uint32),
                ("n_threads", ctypes.c_uint32), ("reserve", ctypes.c_uint64),
                ("multi_index", ctypes.c_int32), ("search_mode", ctypes.c_int32)]


MIH_AUTO = -1
SEARCH_AUTO, SEARCH_SCAN, SEARCH_MIH = range(3)
_SEARCH_MODES = {"auto": SEARCH_AUTO, "scan": SEARCH_SCAN, "mih": SEARCH_MIH}


def _mih_m(m, allow_off):
    """multi_index argument -> int: "auto" -> -1, None/0/False -> 0 (when allowed), m."""
    if isinstance(m, str):
        if m != "auto":
            raise ValueError(f"multi_index must be 'auto' or a table count, got {m!r}")
        return MIH_AUTO
    if m is None or m is False:
        m = 0
    if m is True:
        return MIH_AUTO
    if allow_off or int(m) != 0:
        return int(m)
    raise ValueError("build_mih: m must be 'auto' or >= 1")


def _mode(mode):
    if mode not in _SEARCH_MODES:
        raise ValueError(f"search_mode must be one of {sorted(_SEARCH_MODES)}, got {mode!r}")
    return _SEARCH_MODES[mode]


_vp = ctypes.c_void_p
_idx_pp = ctypes.POINTER(_vp)
_f32_p = ctypes.POINTER(ctypes.c_float)
_f64_p = ctypes.POINTER(ctypes.c_double)
_size = ctypes.c_size_t
_u32 = ctypes.c_uint32

_pack_float = fn("dh_codes_pack_float", [_f32_p, _size, _u32, _u32, c_u8_p])
_pack_double = fn("dh_codes_pack_double", [_f64_p, _size, _u32, _u32, c_u8_p])
_pack_int8 = fn("dh_codes_pack_int8", [c_i8_p, _size, _u32, _u32, c_u8_p])
_unpack_float = fn("dh_codes_unpack_float", [c_u8_p, _size, _u32, _u32, _f32_p])
_unpack_int8 = fn("dh_codes_unpack_int8", [c_u8_p, _size, _u32, _u32, c_i8_p])
_reverse = fn("dh_codes_reverse_bit_order", [c_u8_p, _size, _u32, c_u8_p])
_distances = fn("dh_hamming_distances", [c_u8_p, _size, c_u8_p, _size, _u32, _u32, c_i32_p])
_opts_init = fn("dh_index_options_init", [ctypes.POINTER(_IndexOptions)], None)
_create = fn("dh_index_create", [ctypes.POINTER(_IndexOptions), _idx_pp])
_free = fn("dh_index_free", [_vp], None)
_add_rows = fn("dh_index_add_rows", [_vp, _vp, ctypes.c_int32, _size, c_i64_p])
_search = fn("dh_index_search", [_vp, c_u8_p, _size, _u32, c_i32_p, c_i64_p])
_range = fn("dh_index_range_search", [_vp, c_u8_p, _size, _u32, _idx_pp])
_rr_nq = fn("dh_range_result_n_queries", [_vp], _size)
_rr_hits = fn("dh_range_result_n_hits", [_vp], _size)
_rr_lims = fn("dh_range_result_lims", [_vp], c_size_p)
_rr_ids = fn("dh_range_result_ids", [_vp], c_i64_p)
_rr_dist = fn("dh_range_result_distances", [_vp], c_i32_p)
_rr_free = fn("dh_range_result_free", [_vp], None)
_remove = fn("dh_index_remove_ids", [_vp, c_i64_p, _size, c_size_p])
_compact = fn("dh_index_compact", [_vp])
_count = fn("dh_index_count", [_vp], _size)
_n_bits = fn("dh_index_n_bits", [_vp], _u32)
_n_removed = fn("dh_index_n_removed", [_vp], _size)
_readonly = fn("dh_index_is_readonly", [_vp], ctypes.c_int)
_export = fn("dh_index_export", [_vp, ctypes.c_int32, _size, _size, _vp, c_i64_p])
_save = fn("dh_index_save", [_vp, ctypes.c_char_p])
_load = fn("dh_index_load", [ctypes.c_char_p, _idx_pp])
_load_mmap = fn("dh_index_load_mmap", [ctypes.c_char_p, _idx_pp])
_import_npy = fn("dh_index_import_npy", [ctypes.c_char_p, _u32, _idx_pp])
_import_npy_bits = fn("dh_index_import_npy_bits", [ctypes.c_char_p, _u32, _u32, _idx_pp])
_add_npy = fn("dh_index_add_npy", [_vp, ctypes.c_char_p, _u32, c_size_p])
_export_npy = fn("dh_index_export_npy", [_vp, ctypes.c_char_p, ctypes.c_int32, ctypes.c_char_p])
_build_mih = fn("dh_index_build_mih", [_vp, ctypes.c_int32])
_drop_mih = fn("dh_index_drop_mih", [_vp])
_mih_info = fn("dh_index_mih_info", [_vp, ctypes.POINTER(_u32), c_size_p, c_size_p])
_set_mode = fn("dh_index_set_search_mode", [_vp, ctypes.c_int32])
_import_faiss = fn("dh_index_import_faiss", [ctypes.c_char_p, _idx_pp])
_export_faiss = fn("dh_index_export_faiss", [_vp, ctypes.c_char_p, _u32])


def _flags(bitorder):
    if bitorder not in ("little", "big"):
        raise ValueError(f"bitorder must be 'little' or 'big', got {bitorder!r}")
    return CODES_MSB_FIRST if bitorder == "big" else 0


def _path(p):
    return c_path(p)


def code_bytes_of(n_bits):
    """Bytes of one packed code of `n_bits` bits: ceil(n_bits / 8)."""
    return (int(n_bits) + 7) // 8


def pack(x, bitorder="little"):
    """Pack sign rows (2-D float32, float64 or int8; x >= 0 -> bit 1) into uint8 codes
    of shape [n, ceil(K/8)]. bitorder "big" gives numpy.packbits order."""
    if not isinstance(x, np.ndarray) or x.ndim != 2:
        raise ValueError("pack: x must be a 2-D numpy array")
    n, k = x.shape
    out = np.empty((n, code_bytes_of(k)), dtype=np.uint8)
    flags, o = _flags(bitorder), ptr(out, ctypes.c_uint8)
    if x.dtype == np.float32:
        _pack_float(ptr(as_array(x, np.float32, "x"), ctypes.c_float), n, k, flags, o)
    elif x.dtype == np.float64:
        _pack_double(ptr(as_array(x, np.float64, "x"), ctypes.c_double), n, k, flags, o)
    elif x.dtype == np.int8:
        _pack_int8(ptr(as_array(x, np.int8, "x"), ctypes.c_int8), n, k, flags, o)
    else:
        raise TypeError(f"pack: x must be float32, float64 or int8, got {x.dtype}")
    return out


def unpack(codes, n_bits, bitorder="little", dtype=np.float32):
    """Unpack uint8 codes [n, ceil(n_bits/8)] into ±1 rows [n, n_bits] (float32 or int8)."""
    codes = as_array(codes, np.uint8, "codes", ndim=2, cols=code_bytes_of(n_bits))
    n = codes.shape[0]
    flags = _flags(bitorder)
    if np.dtype(dtype) == np.float32:
        out = np.empty((n, n_bits), dtype=np.float32)
        _unpack_float(ptr(codes, ctypes.c_uint8), n, n_bits, flags, ptr(out, ctypes.c_float))
    elif np.dtype(dtype) == np.int8:
        out = np.empty((n, n_bits), dtype=np.int8)
        _unpack_int8(ptr(codes, ctypes.c_uint8), n, n_bits, flags, ptr(out, ctypes.c_int8))
    else:
        raise TypeError("unpack: dtype must be float32 or int8")
    return out


def reverse_bit_order(codes, n_bits):
    """Convert packed codes between LSB-first and MSB-first (numpy.packbits) order."""
    codes = as_array(codes, np.uint8, "codes", ndim=2, cols=code_bytes_of(n_bits))
    out = np.empty_like(codes)
    _reverse(ptr(codes, ctypes.c_uint8), codes.shape[0], n_bits, ptr(out, ctypes.c_uint8))
    return out


def hamming_distances(a, b, n_bits, bitorder="little"):
    """All-pairs Hamming distances of packed codes a [na, B] and b [nb, B] -> int32 [na, nb]."""
    cb = code_bytes_of(n_bits)
    a = as_array(a, np.uint8, "a", ndim=2, cols=cb)
    b = as_array(b, np.uint8, "b", ndim=2, cols=cb)
    out = np.empty((a.shape[0], b.shape[0]), dtype=np.int32)
    _distances(ptr(a, ctypes.c_uint8), a.shape[0], ptr(b, ctypes.c_uint8), b.shape[0], n_bits,
               _flags(bitorder), ptr(out, ctypes.c_int32))
    return out


class Index(Handle):
    """Exact Hamming k-NN / range index over K-bit codes (any K in 1..4096; packed rows
    are ceil(K/8) bytes, the unused high bits of the last byte are zero padding).

    Searches may run concurrently from several threads (ctypes releases the GIL);
    add/remove take the index's internal write lock."""

    _free = staticmethod(_free)

    def __init__(self, n_bits=64, n_threads=0, reserve=0, multi_index=0, search_mode="auto",
                 _handle=None):
        """multi_index: 0 (no multi-index tables), "auto" (m = K / log2 n) or m tables,
        kept up to date as codes are added; search_mode: "auto" (MIH where the cost
        model says it pays), "scan" or "mih". Results are identical either way."""
        self._h = None
        if _handle is not None:
            self._h = _handle
            return
        opts = _IndexOptions()
        _opts_init(ctypes.byref(opts))
        opts.n_bits = c_int(n_bits, 1, U32_MAX, "n_bits")  # the C side checks 1..DH_MAX_BITS
        opts.n_threads = c_int(n_threads, 0, U32_MAX, "n_threads")
        opts.reserve = c_int(reserve, 0, U64_MAX, "reserve")
        opts.multi_index, opts.search_mode = _mih_m(multi_index, True), _mode(search_mode)
        h = _vp()
        _create(ctypes.byref(opts), ctypes.byref(h))
        self._h = h

    # ---- construction from files ----
    @classmethod
    def load(cls, path, mmap=False):
        """Load an index saved with save(); mmap=True maps it read-only."""
        h = _vp()
        (_load_mmap if mmap else _load)(_path(path), ctypes.byref(h))
        return cls(_handle=h)

    @classmethod
    def from_npy(cls, path, bitorder="little", n_bits=None):
        """Index a .npy code file: ±1 rows (float32/float64/int8), bool rows, or packed
        uint8 rows (bitorder "big" for numpy.packbits output). Ids are 0..n-1. K is the
        column count (8 x columns for packed rows) unless n_bits is given; packed rows
        then have ceil(n_bits/8) columns with zero padding bits."""
        h = _vp()
        if n_bits is None:
            _import_npy(_path(path), _flags(bitorder), ctypes.byref(h))
        else:
            _import_npy_bits(_path(path), _flags(bitorder), int(n_bits), ctypes.byref(h))
        return cls(_handle=h)

    @classmethod
    def from_faiss(cls, path):
        """Read a FAISS binary index file (IndexBinaryFlat, or IndexBinaryIDMap/IDMap2 around
        one, as faiss.write_index_binary writes them). Same codes (FAISS is LSB-first too),
        same ids, same search results."""
        h = _vp()
        _import_faiss(_path(path), ctypes.byref(h))
        return cls(_handle=h)

    def to_faiss(self, path, idmap2=False):
        """Write a file faiss.read_index_binary reads: IndexBinaryFlat when the ids are
        0..n-1 in order, else (or with idmap2=True) IndexBinaryIDMap2. K % 8 == 0."""
        _export_faiss(self._handle(), _path(path), 1 if idmap2 else 0)

    def _handle(self):
        if not self._h:
            raise ValueError("the index is closed")
        return self._h

    # ---- properties ----
    def __len__(self):
        return int(_count(self._handle()))

    @property
    def n_bits(self):
        """Code length in bits (FAISS calls it d)."""
        return int(_n_bits(self._handle()))

    @property
    def code_size(self):
        """Bytes per code (FAISS's code_size): ceil(n_bits / 8)."""
        return code_bytes_of(self.n_bits)

    # FAISS's names for the same facts
    @property
    def ntotal(self):
        """Live codes (FAISS's name for len(index))."""
        return len(self)

    @property
    def d(self):
        """Code length in bits (FAISS's IndexBinary.d)."""
        return self.n_bits

    def reset(self):
        """Remove every code (FAISS's reset); the index keeps its options."""
        _, ids = self.export(n=len(self))
        if ids.size:
            self.remove_ids(ids)
        self.compact()

    def reconstruct(self, key):
        """The packed code stored under id `key` (FAISS's reconstruct); KeyError if absent."""
        _, ids = self.export(n=len(self))
        pos = np.nonzero(ids == int(key))[0]
        if pos.size == 0:
            raise KeyError(f"no code with id {key}")
        return self.export(start=int(pos[0]), n=1)[0][0]

    def reconstruct_n(self, i0, ni):
        """Packed codes of live rows i0 .. i0+ni-1 in insertion order (FAISS's reconstruct_n)."""
        return self.export(start=int(i0), n=int(ni))[0]

    @property
    def n_removed(self):
        """Removed rows still held until compact()."""
        return int(_n_removed(self._handle()))

    @property
    def readonly(self):
        """True for an index mapped read-only (mmap=True)."""
        return bool(_readonly(self._handle()))

    # ---- adding ----
    def _rows(self, codes, bitorder, name):
        """(format code, C-contiguous array) of an input: lists and tuples are converted
        (packed uint8 rows when they fit, else float sign rows), strided arrays copied,
        bool rows [n, K] read as bits (True = 1)."""
        if isinstance(codes, (list, tuple)):
            raw = np.asarray(codes)
            if raw.ndim == 2 and raw.dtype.kind in "iu" and raw.size and raw.min() >= 0 and \
                    raw.max() <= 255 and raw.shape[1] == self.code_size:
                codes = raw.astype(np.uint8)
            elif raw.dtype.kind == "b":
                codes = raw
            else:
                codes = raw.astype(np.float64) if raw.dtype.kind in "iuf" else raw
        if not isinstance(codes, np.ndarray) or codes.ndim != 2:
            raise ValueError(f"{name}: expected a 2-D array or list of rows")
        if codes.dtype == np.bool_:
            codes = np.where(codes, 1, -1).astype(np.int8)
        codes = np.ascontiguousarray(codes)
        if codes.dtype == np.uint8:
            as_array(codes, np.uint8, name, cols=self.code_size)
            return (CODE_PACKED_MSB if _flags(bitorder) else CODE_PACKED), codes
        fmt = _SIGN_FORMATS.get(codes.dtype)
        if fmt is None:
            raise TypeError(f"{name}: codes must be uint8 (packed), float32, float64 or int8 "
                            f"(sign rows), got {codes.dtype}")
        as_array(codes, codes.dtype, name, cols=self.n_bits)
        return fmt, codes

    def add(self, codes, ids=None, bitorder="little"):
        """Append codes: uint8 [n, ceil(K/8)] packed, or sign rows [n, K] (float32/float64/
        int8). ids: int64 [n] >= 0, or None for sequential ids."""
        fmt, codes = self._rows(codes, bitorder, "codes")
        if ids is not None:
            ids = as_array(ids, np.int64, "ids", ndim=1)
            if ids.shape[0] != codes.shape[0]:
                raise ValueError(f"ids: {ids.shape[0]} ids for {codes.shape[0]} codes")
        _add_rows(self._handle(), codes.ctypes.data_as(_vp), fmt, codes.shape[0],
                  ptr(ids, ctypes.c_int64))

    def add_with_ids(self, codes, ids, bitorder="little"):
        """Append codes with explicit int64 ids (as FAISS IndexBinaryIDMap.add_with_ids)."""
        if ids is None:
            raise ValueError("add_with_ids: ids is None")
        self.add(codes, ids, bitorder)

    def add_npy(self, path, bitorder="little"):
        """Append the rows of a .npy code file with sequential ids; returns the count."""
        n = ctypes.c_size_t()
        _add_npy(self._handle(), _path(path), _flags(bitorder), ctypes.byref(n))
        return int(n.value)

    def _queries(self, queries, bitorder):
        fmt, queries = self._rows(queries, bitorder, "queries")
        if fmt == CODE_PACKED:
            return queries
        if fmt == CODE_PACKED_MSB:
            return reverse_bit_order(queries, self.n_bits)
        return pack(queries)

    # ---- searching ----
    def search(self, queries, k, bitorder="little"):
        """k nearest codes of each query -> (D int32 [nq, k], I int64 [nq, k]), sorted by
        distance, ties by insertion order; missing results are id -1, distance INT32_MAX."""
        k = c_int(k, 0, U32_MAX, "k")
        q = self._queries(queries, bitorder)
        nq = q.shape[0]
        D = np.empty((nq, k), dtype=np.int32)
        I = np.empty((nq, k), dtype=np.int64)
        _search(self._handle(), ptr(q, ctypes.c_uint8), nq, k, ptr(D, ctypes.c_int32),
                ptr(I, ctypes.c_int64))
        return D, I

    def range_search(self, queries, radius, bitorder="little"):
        """Every code within distance radius (inclusive) -> (lims int64 [nq+1], D int32,
        I int64); query i's hits are D[lims[i]:lims[i+1]], sorted by distance."""
        radius = c_int(radius, 0, U32_MAX, "radius")
        q = self._queries(queries, bitorder)
        res = _vp()
        _range(self._handle(), ptr(q, ctypes.c_uint8), q.shape[0], radius, ctypes.byref(res))
        try:
            nq, hits = int(_rr_nq(res)), int(_rr_hits(res))
            lims = np.ctypeslib.as_array(_rr_lims(res), shape=(nq + 1,)).astype(np.int64)
            if hits:
                D = np.ctypeslib.as_array(_rr_dist(res), shape=(hits,)).copy()
                I = np.ctypeslib.as_array(_rr_ids(res), shape=(hits,)).copy()
            else:
                D, I = np.empty(0, np.int32), np.empty(0, np.int64)
        finally:
            _rr_free(res)
        return lims, D, I

    # ---- multi-index hashing ----
    def build_mih(self, m="auto"):
        """Build multi-index hashing tables now (m tables or "auto") and keep them up
        to date; searches stay exact."""
        _build_mih(self._handle(), _mih_m(m, False))

    def drop_mih(self):
        """Drop the multi-index hashing tables (searches then scan)."""
        _drop_mih(self._handle())

    @property
    def mih_info(self):
        """(m, rows covered, bytes) of the multi-index tables; m = 0 without tables."""
        m, rows, nbytes = _u32(), ctypes.c_size_t(), ctypes.c_size_t()
        _mih_info(self._handle(), ctypes.byref(m), ctypes.byref(rows), ctypes.byref(nbytes))
        return int(m.value), int(rows.value), int(nbytes.value)

    def set_search_mode(self, mode):
        """"auto", "scan" or "mih" (MIH whenever tables exist)."""
        _set_mode(self._handle(), _mode(mode))

    # ---- removing ----
    def remove_ids(self, ids):
        """Remove every code whose id is listed; returns how many were removed. Other
        ids never change."""
        ids = np.ascontiguousarray(np.asarray(ids, dtype=np.int64).reshape(-1))
        n = ctypes.c_size_t()
        _remove(self._handle(), ptr(ids, ctypes.c_int64), ids.shape[0], ctypes.byref(n))
        return int(n.value)

    def compact(self):
        """Drop removed rows from memory (ids never change)."""
        _compact(self._handle())

    # ---- export, files ----
    def export(self, format="packed", start=0, n=None):
        """Live codes start..start+n-1 in insertion order -> (codes, ids). format:
        'packed', 'packed_msb' (uint8 [n, ceil(K/8)]), 'float32', 'float64', 'int8' (±1 [n, K])."""
        if format not in _FORMATS:
            raise ValueError(f"format must be one of {sorted(_FORMATS)}, got {format!r}")
        fmt = _FORMATS[format]
        if n is None:
            n = max(len(self) - start, 0)
        if fmt <= CODE_PACKED_MSB:
            out = np.empty((n, self.code_size), dtype=np.uint8)
        else:
            out = np.empty((n, self.n_bits), dtype={CODE_FLOAT32: np.float32,
                                                    CODE_FLOAT64: np.float64,
                                                    CODE_INT8: np.int8}[fmt])
        ids = np.empty(n, dtype=np.int64)
        _export(self._handle(), fmt, start, n, out.ctypes.data_as(_vp), ptr(ids, ctypes.c_int64))
        return out, ids

    def save(self, path):
        """Save atomically (a failed save leaves an existing file intact)."""
        _save(self._handle(), _path(path))

    def export_npy(self, path, format="float32", ids_path=None):
        """Write the live codes to a .npy file (and the ids to ids_path if given)."""
        if format not in _FORMATS:
            raise ValueError(f"format must be one of {sorted(_FORMATS)}, got {format!r}")
        _export_npy(self._handle(), _path(path), _FORMATS[format],
                    None if ids_path is None else _path(ids_path))

    def __repr__(self):
        if not self._h:
            return "<dh.Index closed>"
        ro = " read-only" if self.readonly else ""
        return f"<dh.Index K={self.n_bits} n={len(self)}{ro}>"

"""Loading libdh and the shared error machinery of the ctypes bindings.

The library is found, in order, through the environment variable DH_LIBRARY (a
path to libdh.so), next to this package, in the build tree of a source checkout
(build/ beside bindings/), and finally through the system loader (libdh.so.1).
"""
import ctypes
import os

HEADER_MAJOR = 1  # the dh.h major version these bindings were written for


class DhError(RuntimeError):
    """A libdh call failed. `status` is the dh_status code, `message` the
    library's dh_last_error() text."""

    def __init__(self, status, message, func=None):
        self.status = status
        self.message = message
        self.func = func
        where = f"{func}: " if func else ""
        super().__init__(f"{where}{message} [{status_name(status)}]")


def _candidates():
    env = os.environ.get("DH_LIBRARY")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    for name in ("libdh.so.1", "libdh.so"):
        yield os.path.join(here, name)
    root = os.path.abspath(os.path.join(here, "..", "..", ".."))
    for b in ("build", "build-release", "build-asan"):
        yield os.path.join(root, b, "libdh.so.1")
    yield "libdh.so.1"


def _load():
    errors = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:  # try the next place
            errors.append(f"{path}: {e}")
    raise OSError("libdh not found; set DH_LIBRARY to the path of libdh.so. Tried: "
                  + "; ".join(errors or ["(no candidate existed)"]))


lib = _load()

c_status = ctypes.c_int32
lib.dh_last_error.argtypes = []
lib.dh_last_error.restype = ctypes.c_char_p
lib.dh_status_str.argtypes = [c_status]
lib.dh_status_str.restype = ctypes.c_char_p
lib.dh_clear_error.argtypes = []
lib.dh_clear_error.restype = None
lib.dh_version.argtypes = []
lib.dh_version.restype = ctypes.c_uint32
lib.dh_version_string.argtypes = []
lib.dh_version_string.restype = ctypes.c_char_p


def status_name(status):
    return lib.dh_status_str(status).decode().split(":")[0]


def last_error():
    return lib.dh_last_error().decode(errors="replace")


def _errcheck(result, func, args):
    if result != 0:
        raise DhError(int(result), last_error(), func.__name__)
    return result


STATUS = object()  # marker: the function returns dh_status


def fn(name, argtypes, restype=STATUS):
    """Declare a libdh function. Functions returning dh_status (the default) raise
    DhError on failure; others (give their restype) return their value unchanged."""
    f = getattr(lib, name)
    f.argtypes = argtypes
    if restype is STATUS:
        f.restype = c_status
        f.errcheck = _errcheck
    else:
        f.restype = restype
    return f


version = lib.dh_version()
if version // 10000 != HEADER_MAJOR:
    raise ImportError(f"libdh major version {version // 10000} does not match the bindings' "
                      f"{HEADER_MAJOR}; use matching versions")

# Typed pointers used by the modules.
c_u8_p = ctypes.POINTER(ctypes.c_uint8)
c_i8_p = ctypes.POINTER(ctypes.c_int8)
c_f32_p = ctypes.POINTER(ctypes.c_float)
c_f64_p = ctypes.POINTER(ctypes.c_double)
c_i32_p = ctypes.POINTER(ctypes.c_int32)
c_u32_p = ctypes.POINTER(ctypes.c_uint32)
c_i64_p = ctypes.POINTER(ctypes.c_int64)
c_size_p = ctypes.POINTER(ctypes.c_size_t)


def as_array(a, dtype, name, ndim=None, cols=None):
    """Check that `a` is a C-contiguous numpy array of `dtype` (no silent copies of
    large inputs with the wrong type: a clear TypeError instead) and return it."""
    import numpy as np
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array, got {type(a).__name__}")
    if a.dtype != np.dtype(dtype):
        raise TypeError(f"{name}: expected dtype {np.dtype(dtype)}, got {a.dtype}")
    if not a.flags["C_CONTIGUOUS"]:
        raise ValueError(f"{name}: array must be C-contiguous (use np.ascontiguousarray)")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions, got shape {a.shape}")
    if cols is not None and a.shape[-1] != cols:
        raise ValueError(f"{name}: expected {cols} columns, got shape {a.shape}")
    return a


def ptr(a, ctype):
    """ctypes pointer to a numpy array's data (None for None)."""
    if a is None:
        return None
    return a.ctypes.data_as(ctypes.POINTER(ctype))

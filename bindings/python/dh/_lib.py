"""Loading libdh and the shared error machinery of the ctypes bindings.

The library is found, in order, through the environment variable DH_LIBRARY (a
path to libdh.so), next to this package, in the library folder recorded when CMake
installed the package (_paths.py), in the lib folder of an install prefix this
package sits in (PREFIX/lib/python3/dist-packages/dh -> PREFIX/lib), in the build tree
of a source checkout (build/ beside bindings/), and finally through the system loader
(libdh.so.1).

Errors: every failing libdh call raises a DhError carrying the dh_status code; its
subclass also derives from the standard exception a Python user expects (ValueError
for bad arguments, shapes and formats, MemoryError, OSError / FileNotFoundError for
files, LookupError for unknown names, NotImplementedError for unsupported requests).
"""
import ctypes
import os

HEADER_MAJOR = 1  # the dh.h major version these bindings were written for


class DhError(RuntimeError):
    """A libdh call failed. `status` is the dh_status code, `message` the
    library's dh_last_error() text, `func` the C function."""

    def __init__(self, status, message, func=None):
        self.status = status
        self.message = message
        self.func = func
        # the library's messages usually start with the function's name already
        where = f"{func}: " if func and not message.startswith(func) else ""
        self._text = f"{where}{message} [{status_name(status)}]"
        super().__init__(self._text)

    def __str__(self):
        return self._text


class DhInvalidArgument(DhError, ValueError):
    """DH_E_INVALID_ARG: an argument is out of range or inconsistent."""


class DhShapeError(DhError, ValueError):
    """DH_E_SHAPE: dimensions of two arguments disagree."""


class DhFormatError(DhError, ValueError):
    """DH_E_FORMAT: a file or buffer is not in the expected format, or corrupt."""


class DhVersionError(DhError, ValueError):
    """DH_E_VERSION: a file or options struct is newer than this library."""


class DhMemoryError(DhError, MemoryError):
    """DH_E_NO_MEMORY."""


class DhIOError(DhError, OSError):
    """DH_E_IO: the operating system refused a file operation."""


class DhFileNotFoundError(DhError, FileNotFoundError):
    """DH_E_NOT_FOUND for a file."""


class DhNotFoundError(DhError, LookupError):
    """DH_E_NOT_FOUND for a named item (tensor, id, method)."""


class DhUnsupportedError(DhError, NotImplementedError):
    """DH_E_UNSUPPORTED: this build or CPU cannot serve the request."""


class DhStateError(DhError):
    """DH_E_STATE: the call is not valid in the object's state."""


_ERRORS = {-1: DhInvalidArgument, -2: DhMemoryError, -3: DhShapeError, -4: DhFormatError,
           -5: DhVersionError, -7: DhIOError, -9: DhUnsupportedError, -10: DhStateError}


def error_for(status, message, func=None):
    """The DhError subclass instance for a dh_status (used by every binding)."""
    if status == -8:
        low = message.lower()
        file_like = "no such file" in low or "cannot open" in low or "does not exist" in low
        return (DhFileNotFoundError if file_like else DhNotFoundError)(status, message, func)
    return _ERRORS.get(status, DhError)(status, message, func)


def _candidates():
    env = os.environ.get("DH_LIBRARY")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    for name in ("libdh.so.1", "libdh.so"):
        yield os.path.join(here, name)
    try:  # written by `cmake --install` next to the installed package
        from ._paths import LIBDIR, PACKAGE_DIR
        prefix = here
        for _ in PACKAGE_DIR.strip("/").split("/"):
            prefix = os.path.dirname(prefix)
        yield os.path.join(prefix, LIBDIR, "libdh.so.1")
    except ImportError:
        pass
    # PREFIX/lib[/<multiarch>]/python3/dist-packages/dh -> PREFIX/lib[/<multiarch>]
    yield os.path.abspath(os.path.join(here, "..", "..", "..", "libdh.so.1"))
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
    """The detail message of this thread's last failed libdh call (dh_last_error)."""
    return lib.dh_last_error().decode(errors="replace")


def _errcheck(result, func, args):
    if result != 0:
        raise error_for(int(result), last_error(), func.__name__)
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
    """`a` as a C-contiguous numpy array of `dtype`. Lists and tuples are converted
    when every value survives the conversion exactly, and non-contiguous arrays are
    copied (as numpy and FAISS do); an array of another dtype is a TypeError (no
    silent, lossy conversion of large inputs)."""
    import numpy as np
    if isinstance(a, (list, tuple)):
        raw = np.asarray(a)
        try:
            conv = raw.astype(dtype)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{name}: cannot convert the list to {np.dtype(dtype)}: {e}") from None
        if raw.dtype != conv.dtype and not np.array_equal(raw, conv):
            raise TypeError(f"{name}: the list's values are not exact {np.dtype(dtype)} values")
        a = np.ascontiguousarray(conv)
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array or a list, got {type(a).__name__}")
    if a.dtype != np.dtype(dtype):
        raise TypeError(f"{name}: expected dtype {np.dtype(dtype)}, got {a.dtype}")
    if not a.flags["C_CONTIGUOUS"]:
        a = np.ascontiguousarray(a)
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions, got shape {a.shape}")
    if cols is not None and a.shape[-1] != cols:
        raise ValueError(f"{name}: expected {cols} columns, got shape {a.shape}")
    return a


class Handle:
    """Base of the objects that own one libdh handle in self._h: close() frees it (also on
    garbage collection) and `with` closes at the end. Subclasses set _free to the C free
    function (as staticmethod)."""

    _free = None

    def close(self):
        """Free the object now (also done when it is garbage-collected)."""
        h, self._h = getattr(self, "_h", None), None
        if h:
            type(self)._free(h)

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def ptr(a, ctype):
    """ctypes pointer to a numpy array's data (None for None)."""
    if a is None:
        return None
    return a.ctypes.data_as(ctypes.POINTER(ctype))

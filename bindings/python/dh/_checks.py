"""Argument checks done before ctypes converts (issue 19): ctypes silently wraps
integers to the C type (radius=-1 becomes 2**32-1, n_bits=2**32+64 becomes 64) and
str(None) is the file name "None"; these raise TypeError / ValueError instead."""
import operator
import os


def c_path(p, what="path"):
    """A file path for the C API: str, bytes or os.PathLike, without NUL bytes."""
    if p is None or not isinstance(p, (str, bytes, os.PathLike)):
        raise TypeError(f"{what} must be a str, bytes or os.PathLike, not {type(p).__name__}")
    b = os.fsencode(p)
    if b"\0" in b:
        raise ValueError(f"{what} contains a NUL byte: {p!r}")
    return b


def c_int(v, lo, hi, what):
    """An integer (int, numpy integer; not float or bool) within [lo, hi]."""
    if isinstance(v, bool):
        raise TypeError(f"{what} must be an integer, not bool")
    try:
        i = operator.index(v)
    except TypeError:
        raise TypeError(f"{what} must be an integer, not {type(v).__name__}") from None
    if not lo <= i <= hi:
        raise ValueError(f"{what} = {i} is outside {lo}..{hi}")
    return i


U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1

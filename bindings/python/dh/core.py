"""Version, threads and CPU kernel selection."""
import ctypes

from ._lib import c_status, fn, lib

ISA_AUTO, ISA_SCALAR, ISA_AVX2, ISA_AVX512BW, ISA_AVX512VPOPCNT = range(5)
ISA_NEON = 5  # aarch64

_set_threads = fn("dh_set_num_threads", [ctypes.c_uint32])
_get_threads = fn("dh_get_num_threads", [], ctypes.c_uint32)
_has_isa = fn("dh_cpu_has_isa", [ctypes.c_int32], ctypes.c_int)
_set_isa = fn("dh_set_isa", [ctypes.c_int32])
_get_isa = fn("dh_get_isa", [], ctypes.c_int32)
_isa_name = fn("dh_isa_name", [ctypes.c_int32], ctypes.c_char_p)
_code_bytes = fn("dh_code_bytes", [ctypes.c_uint32], ctypes.c_size_t)
_has_training = fn("dh_has_training", [], ctypes.c_int)
assert c_status


def version():
    """The library version string, e.g. '1.0.0'."""
    return lib.dh_version_string().decode()


def set_num_threads(n):
    """Threads for libdh's parallel loops (0 = default)."""
    _set_threads(n)


def get_num_threads():
    """Threads libdh's parallel loops use (set_num_threads, OMP_NUM_THREADS)."""
    return int(_get_threads())


def cpu_has_isa(isa):
    """True if this CPU can run the kernel set `isa` (dh.ISA_SCALAR, ISA_AVX2, ...)."""
    return bool(_has_isa(isa))


def set_isa(isa):
    """Force a Hamming kernel set: an ISA_* value or its name ('avx2')."""
    if isinstance(isa, str):
        names = {isa_name(i): i for i in range(ISA_NEON + 1)}
        if isa not in names:
            raise ValueError(f"unknown isa {isa!r}; one of {sorted(names)}")
        isa = names[isa]
    _set_isa(isa)


def get_isa():
    """The kernel set in use for Hamming distances (dh.ISA_* constant)."""
    return int(_get_isa())


def isa_name(isa):
    """The name of kernel set `isa` ('scalar', 'avx2', 'avx512bw', 'avx512vpopcnt', ...)."""
    return _isa_name(isa).decode()


def code_bytes(n_bits):
    """Bytes of one packed code of `n_bits` bits: ceil(n_bits / 8) (dh_code_bytes)."""
    return int(_code_bytes(n_bits))


def has_training():
    """True if this libdh was built with training (models, losses, trainers; oneDNN)."""
    return bool(_has_training())

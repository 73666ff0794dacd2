"""The popcount limit of this machine, per kernel set (shared by bench_index.py and
bench_eval.py): compiles bench/popcount_limit.c with the system C compiler (the same
per-ISA popcount primitives as the library, lib/core/hamming_simd.h) and runs it.
limit(isa, K) = (query, code) distances one thread computes per second when nothing but
XOR + popcount + a running minimum is done over an L2-resident block of codes."""
import os
import subprocess
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
_exe = None
_cache = {}


def _build():
    global _exe
    if _exe is None:
        out = os.path.join(tempfile.mkdtemp(prefix="dh-limit-"), "popcount_limit")
        cc = os.environ.get("CC", "cc")
        subprocess.run([cc, "-O2", "-I", os.path.join(ROOT, "include"), "-I",
                        os.path.join(ROOT, "lib"), os.path.join(ROOT, "bench", "popcount_limit.c"),
                        "-o", out], check=True)
        _exe = out
    return _exe


def limit(isa, K):
    """Codes per second per thread (float), or None if it cannot be measured."""
    key = (isa, K)
    if key not in _cache:
        try:
            r = subprocess.run([_build(), isa, str(K)], check=True, capture_output=True,
                               text=True)
            _cache[key] = float(r.stdout.split("gcodes_per_s_thread=")[1]) * 1e9
        except (OSError, subprocess.CalledProcessError, IndexError, ValueError):
            _cache[key] = None
    return _cache[key]


def line(isa, K):
    v = limit(isa, K)
    return (f"limit isa={isa} K={K} codes_per_s_thread="
            f"{'nan' if v is None else f'{v / 1e9:.3f}e9'}")


def cpu_model():
    """The CPU model from /proc/cpuinfo (spaces as underscores), for every result line."""
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    return ln.split(":", 1)[1].strip().replace(" ", "_")
    except OSError:
        pass
    return "unknown"

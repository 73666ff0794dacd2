#!/usr/bin/python3
"""Write the seed corpus of tests/fuzz/fuzz_index_mih.c: index files with multi-index
sections (format version 2), valid ones and ones with one field broken whose CRCs are
recomputed (so that the field checks, not the checksum, must catch them).
  DH_LIBRARY=build/libdh.so /usr/bin/python3 tests/fuzz/gen_index_mih_corpus.py"""
import os
import struct
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bindings", "python"))
import dh  # noqa: E402

OUT = os.path.join(HERE, "corpus", "index_mih")


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def fix_crc(b):
    b = bytearray(b)
    b[-8:-4] = struct.pack("<I", crc32c(bytes(b[:-8])))
    return bytes(b)


def index_file(K, n, m, tail=0, remove=()):
    rng = np.random.default_rng(K * 1000 + n)
    cb = (K + 7) // 8
    codes = rng.integers(0, 256, (n + tail, cb), dtype=np.uint8)
    if K % 8:
        codes[:, -1] &= (1 << (K % 8)) - 1
    codes[n // 2:n // 2 + 5] = codes[0]  # duplicates
    ix = dh.Index(K)
    ix.add(codes[:n])
    ix.build_mih(m)
    if tail:
        ix.add(codes[n:])
    if remove:
        ix.remove_ids(list(remove))
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "x.dhi")
        ix.save(p)
        return open(p, "rb").read()


def mih_off(b):
    rows = struct.unpack_from("<Q", b, 24)[0]
    words = struct.unpack_from("<I", b, 20)[0]
    codes = (64 + 8 * rows + 63) // 64 * 64
    end = codes + 8 * words * rows + 8 * ((rows + 63) // 64)
    return (end + 63) // 64 * 64


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {
        "k16_m2.dhi": index_file(16, 60, 2),
        "k64_m3_tail_removed.dhi": index_file(64, 200, 3, tail=20, remove=(3, 4, 210)),
        "k12_m5.dhi": index_file(12, 40, 5),
        "k8_m8.dhi": index_file(8, 30, 8),
    }
    base = seeds["k16_m2.dhi"]
    o = mih_off(base)

    def patch(off, fmt, val):
        b = bytearray(base)
        struct.pack_into(fmt, b, off, val)
        return fix_crc(b)
    seeds["crc_ok_m_too_big.dhi"] = patch(o + 8, "<I", 17)
    seeds["crc_ok_row_bytes.dhi"] = patch(o + 12, "<I", 4)
    seeds["crc_ok_rows_covered.dhi"] = patch(o + 16, "<Q", 61)
    seeds["crc_ok_key_bits.dhi"] = patch(o + 32 + 8, "<I", 9)
    seeds["crc_ok_bit_off.dhi"] = patch(o + 48, "<I", 7)
    seeds["crc_ok_offset_order.dhi"] = patch(o + 64 + 4 * 3, "<I", 0xFFFF)
    seeds["crc_ok_row_entry.dhi"] = patch(o + 64 + ((2 ** 4 + 1) * 4 + 63) // 64 * 64, "<I", 0)
    v1 = bytearray(base)  # version 1 with the MIH flag: refused (DH_E_VERSION)
    struct.pack_into("<I", v1, 8, 1)
    struct.pack_into("<I", v1, 60, crc32c(bytes(v1[:60])))
    seeds["crc_ok_flags_v1.dhi"] = fix_crc(v1)
    seeds["truncated.dhi"] = base[:-40]
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"{len(seeds)} files in {OUT}")


if __name__ == "__main__":
    main()

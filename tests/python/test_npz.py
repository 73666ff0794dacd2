""".npz archives (numpy.savez / savez_compressed) read by name everywhere a .npy is, and
file kinds told by their magic bytes (a .npz is never mistaken for raw packed codes)."""
import io
import os
import struct
import subprocess
import zipfile

import numpy as np
import pytest

import dh

BUILD = os.environ.get("DH_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
DH = os.path.join(BUILD, "src", "dh")


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_members_by_name(tmp_path, save):
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 256, size=(50, 8), dtype=np.uint8)
    labels = rng.integers(0, 10, size=50).astype(np.int32)
    feats = rng.standard_normal((50, 7)).astype(np.float32)
    p = tmp_path / "a.npz"
    save(p, codes=codes, labels=labels, feats=feats)
    assert np.array_equal(dh.data.npz_load(p, "codes"), codes)
    assert np.array_equal(dh.data.npz_load(p, "labels.npy"), labels)
    assert np.array_equal(dh.npy_load(f"{p}:feats"), feats)
    ix = dh.Index.from_npy(f"{p}:codes")                    # any .npy path takes a member
    assert np.array_equal(ix.export()[0], codes)
    with pytest.raises(dh.DhError, match="codes, labels, feats|codes, feats, labels"):
        dh.npy_load(p)                                       # several members, none named
    with pytest.raises(dh.DhError, match="no member 'nope'"):
        dh.data.npz_load(p, "nope")
    single = tmp_path / "one.npz"
    save(single, codes)                                      # arr_0
    assert np.array_equal(dh.npy_load(single), codes)


def test_zip64_member(tmp_path):
    a = np.arange(1000, dtype=np.float64).reshape(100, 10)
    buf = io.BytesIO()
    np.save(buf, a)
    p = tmp_path / "z64.npz"
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("x.npy", "w", force_zip64=True) as f:
            f.write(buf.getvalue())
    assert np.array_equal(dh.data.npz_load(p, "x"), a)


def test_malformed_archives(tmp_path):
    p = tmp_path / "a.npz"
    np.savez_compressed(p, x=np.zeros((64, 64), np.float32))
    raw = p.read_bytes()
    cases = {
        "truncated": raw[:len(raw) // 2],
        "no_eocd": raw[:-22],
        "corrupt_stream": raw[:60] + bytes(b ^ 0xFF for b in raw[60:90]) + raw[90:],
    }
    for name, data in cases.items():
        q = tmp_path / f"{name}.npz"
        q.write_bytes(data)
        with pytest.raises(dh.DhError):
            dh.data.npz_load(q, "x")
    # a "bomb": the central directory declares a huge uncompressed size
    i = raw.rfind(b"PK\x01\x02")
    bomb = bytearray(raw)
    struct.pack_into("<I", bomb, i + 24, 0xFFFFFFF0)
    (tmp_path / "bomb.npz").write_bytes(bytes(bomb))
    with pytest.raises(dh.DhFormatError, match="implausible"):
        dh.data.npz_load(tmp_path / "bomb.npz", "x")


@pytest.mark.skipif(not os.path.exists(DH), reason="dh tool not built")
def test_cli_tells_files_by_magic(tmp_path):
    codes = np.random.default_rng(1).integers(0, 256, size=(20, 8), dtype=np.uint8)
    np.savez(tmp_path / "c.npz", codes=codes)
    # a .npz is not raw codes (it used to be read as 53 "codes" of zip bytes): its one
    # array is read ...
    r = subprocess.run([DH, "index", "build", "--bits", "64", "-o", tmp_path / "x.dhi",
                        tmp_path / "c.npz"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert np.array_equal(dh.Index.load(tmp_path / "x.dhi").export()[0], codes)
    # ... several arrays need a name, and the message lists them
    np.savez(tmp_path / "two.npz", codes=codes, other=codes[:3])
    r = subprocess.run([DH, "index", "build", "--bits", "64", "-o", tmp_path / "x.dhi",
                        tmp_path / "two.npz"], capture_output=True, text=True)
    assert r.returncode != 0 and "codes, other" in r.stderr
    r = subprocess.run([DH, "index", "build", "-o", tmp_path / "x.dhi",
                        f"{tmp_path}/two.npz:other"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert np.array_equal(dh.Index.load(tmp_path / "x.dhi").export()[0], codes[:3])
    codes.tofile(tmp_path / "c.bin")                         # raw codes need --raw
    r = subprocess.run([DH, "index", "build", "--bits", "64", "-o", tmp_path / "y.dhi",
                        tmp_path / "c.bin"], capture_output=True, text=True)
    assert r.returncode == 2 and "--raw" in r.stderr
    r = subprocess.run([DH, "index", "build", "--bits", "64", "--raw", "-o", tmp_path / "y.dhi",
                        tmp_path / "c.bin"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr

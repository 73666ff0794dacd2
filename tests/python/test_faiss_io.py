"""FAISS binary index files both ways (dh_index_import_faiss / _export_faiss, the
dh.Index FAISS attributes, dh index import/export --faiss): stored files written by
FAISS 1.7.3 (tests/python/data/faiss, read without FAISS), live round trips against
Debian's python3-faiss when installed, and malformed files."""
import os
import subprocess

import numpy as np
import pytest

import dh

DATA = os.path.join(os.path.dirname(__file__), "data", "faiss")
BUILD = os.environ.get("DH_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
DH = os.path.join(BUILD, "src", "dh")


def test_stored_flat_file_reads_as_faiss_wrote_it():
    e = np.load(os.path.join(DATA, "flat64_expected.npz"))
    ix = dh.Index.from_faiss(os.path.join(DATA, "flat64.bin"))
    assert (ix.ntotal, ix.d, ix.code_size) == (40, 64, 8)
    codes, ids = ix.export()
    assert np.array_equal(codes, e["codes"]) and np.array_equal(ids, np.arange(40))
    D, I = ix.search(e["queries"], 7)
    assert np.array_equal(D, e["D"]) and np.array_equal(I, e["I"])  # FAISS's own answer


def test_stored_idmap2_file_keeps_ids():
    e = np.load(os.path.join(DATA, "idmap2_128_expected.npz"))
    ix = dh.Index.from_faiss(os.path.join(DATA, "idmap2_128.bin"))
    assert (ix.ntotal, ix.d) == (25, 128)
    codes, ids = ix.export()
    assert np.array_equal(codes, e["codes"]) and np.array_equal(ids, e["ids"])
    D, I = ix.search(e["queries"], 5)
    assert np.array_equal(D, e["D"]) and np.array_equal(I, e["I"])
    assert np.array_equal(ix.reconstruct(int(e["ids"][7])), e["codes"][7])
    assert np.array_equal(ix.reconstruct_n(3, 4), e["codes"][3:7])
    with pytest.raises(KeyError):
        ix.reconstruct(-5)


def test_export_then_import_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, size=(100, 4), dtype=np.uint8)
    ix = dh.Index(32)
    ix.add(x)
    ix.to_faiss(tmp_path / "flat.bin")
    assert (tmp_path / "flat.bin").read_bytes()[:4] == b"IBxF"
    back = dh.Index.from_faiss(tmp_path / "flat.bin")
    assert np.array_equal(back.export()[0], x)
    ix.remove_ids([0, 17])  # ids no longer 0..n-1: an ID map is written
    ix.to_faiss(tmp_path / "map.bin")
    assert (tmp_path / "map.bin").read_bytes()[:4] == b"IBM2"
    back = dh.Index.from_faiss(tmp_path / "map.bin")
    assert np.array_equal(back.export()[1], ix.export()[1])
    ix.reset()
    assert ix.ntotal == 0 and len(ix) == 0


def test_odd_code_length_cannot_be_faiss(tmp_path):
    ix = dh.Index(12)
    ix.add(np.zeros((2, 2), np.uint8))
    with pytest.raises(dh.DhError, match="multiple of 8"):
        ix.to_faiss(tmp_path / "x.bin")


@pytest.mark.parametrize("mutate,msg", [
    (lambda b: b[:30], "truncated|longer than the file"),
    (lambda b: b"IBHh" + b[4:], "is not IndexBinaryFlat"),
    (lambda b: b[:4] + (12).to_bytes(4, "little") + b[8:], "multiple of 8"),
    (lambda b: b + b"\0", "trailing bytes"),
    (lambda b: b[:12] + (10 ** 12).to_bytes(8, "little") + b[20:], "differ|longer"),
])
def test_malformed_files_are_refused(tmp_path, mutate, msg):
    raw = open(os.path.join(DATA, "flat64.bin"), "rb").read()
    p = tmp_path / "bad.bin"
    p.write_bytes(mutate(raw))
    with pytest.raises(dh.DhError, match=msg):
        dh.Index.from_faiss(p)


def test_live_round_trips_with_faiss(tmp_path):
    faiss = pytest.importorskip("faiss")
    rng = np.random.default_rng(7)
    x = rng.integers(0, 256, size=(500, 16), dtype=np.uint8)
    q = rng.integers(0, 256, size=(20, 16), dtype=np.uint8)
    for kind in ("flat", "idmap", "idmap2"):
        f = faiss.IndexBinaryFlat(128)
        if kind == "flat":
            f.add(x)
        else:
            f = (faiss.IndexBinaryIDMap if kind == "idmap" else faiss.IndexBinaryIDMap2)(f)
            f.add_with_ids(x, rng.choice(10 ** 9, 500, replace=False).astype(np.int64))
        faiss.write_index_binary(f, str(tmp_path / f"{kind}.bin"))
        ours = dh.Index.from_faiss(tmp_path / f"{kind}.bin")
        fD, fI = f.search(q, 10)
        D, I = ours.search(q, 10)
        assert np.array_equal(D, fD) and np.array_equal(I, fI), kind
        ours.to_faiss(tmp_path / f"{kind}_back.bin")  # and FAISS reads ours
        g = faiss.read_index_binary(str(tmp_path / f"{kind}_back.bin"))
        gD, gI = g.search(q, 10)
        assert np.array_equal(gD, fD) and np.array_equal(gI, fI), kind


@pytest.mark.skipif(not os.path.exists(DH), reason="dh tool not built")
def test_cli_import_export(tmp_path):
    r = subprocess.run([DH, "index", "import", "--faiss", os.path.join(DATA, "idmap2_128.bin"),
                        "-o", tmp_path / "a.dhi"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([DH, "index", "export", tmp_path / "a.dhi", "--faiss", "-o",
                        tmp_path / "b.bin"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "b.bin").read_bytes() == open(os.path.join(DATA, "idmap2_128.bin"), "rb").read()

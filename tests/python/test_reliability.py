"""Issue 19: arguments checked before ctypes converts them (ctypes wraps integers to
the C type and str(None) is the file name "None")."""
import pathlib

import numpy as np
import pytest

import dh


@pytest.fixture
def index():
    ix = dh.Index(64)
    ix.add(np.random.default_rng(0).integers(0, 256, size=(50, 8), dtype=np.uint8))
    yield ix
    ix.close()


def test_range_search_radius_range(index):
    q = np.zeros((1, 8), dtype=np.uint8)
    lims, D, I = index.range_search(q, 0)
    assert len(I) < 50
    with pytest.raises(ValueError, match="radius"):
        index.range_search(q, -1)  # wrapped to 2**32 - 1: every row
    with pytest.raises(ValueError, match="radius"):
        index.range_search(q, 2**32)  # wrapped to 0
    with pytest.raises(TypeError):
        index.range_search(q, 2.5)
    lims, D, I = index.range_search(q, np.int64(64))  # numpy integers are fine
    assert len(I) == 50


def test_search_k_range(index):
    q = np.zeros((1, 8), dtype=np.uint8)
    with pytest.raises(ValueError, match="k"):
        index.search(q, -1)
    with pytest.raises(ValueError, match="k"):
        index.search(q, 2**32 + 1)


def test_index_n_bits_not_wrapped():
    with pytest.raises(ValueError, match="n_bits"):
        dh.Index(2**32 + 64)  # wrapped to a 64-bit index
    with pytest.raises(ValueError, match="n_bits"):
        dh.Index(-64)
    with pytest.raises(TypeError):
        dh.Index(64.0)
    with pytest.raises(ValueError, match="reserve"):
        dh.Index(64, reserve=-1)


def test_paths_checked(index, tmp_path):
    p = tmp_path / "x.dhi"
    index.save(p)
    assert len(dh.Index.load(p)) == 50  # os.PathLike
    assert len(dh.Index.load(str(p).encode())) == 50  # bytes
    with pytest.raises(ValueError, match="NUL"):
        dh.Index.load(str(p) + "\0junk")  # used to load x.dhi
    with pytest.raises(TypeError):
        dh.Index.load(None)  # used to open a file named "None"
    with pytest.raises(TypeError):
        index.save(None)
    with pytest.raises(ValueError, match="NUL"):
        dh.npy_load(str(tmp_path / "a.npy") + "\0")


@pytest.mark.skipif(not dh.has_training(), reason="search-only build: no dh.Model")
def test_model_paths_checked(tmp_path):
    with pytest.raises(TypeError):
        dh.Model.load(None)
    with pytest.raises(ValueError, match="NUL"):
        dh.Model.load(str(tmp_path / "m.dhm") + "\0x")


def test_cli_refuses_fifo(tmp_path):
    import os
    import subprocess
    build = os.environ.get("DH_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
    tool = os.path.join(build, "src", "dh")
    if not os.path.exists(tool):
        pytest.skip("dh tool not built")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for args in (["info", fifo], ["index", "info", fifo]):  # both used to block forever
        r = subprocess.run([tool, *map(str, args)], capture_output=True, text=True, timeout=20)
        assert r.returncode != 0
        assert "regular file" in r.stderr
    with pytest.raises(dh.DhError, match="FIFO"):
        dh.Index.load(fifo)

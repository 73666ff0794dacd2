"""The Python package as a user meets it: pip-installable (pyproject, offline), a
version, standard exception classes keeping dh_status, reprs and context managers,
lists / non-contiguous arrays accepted, and the DeepHash estimator end to end."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import dh

PKG = os.path.join(os.path.dirname(__file__), "..", "..", "bindings", "python")


def test_version_is_the_library_version():
    assert dh.__version__ == dh.version()
    major, minor, patch = (int(v) for v in dh.__version__.split("."))
    assert major == 1 and dh._lib.lib.dh_version() == major * 10000 + minor * 100 + patch


def test_errors_are_standard_exceptions(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        dh.Index.load(tmp_path / "missing.dhi")
    assert isinstance(e.value, dh.DhError) and e.value.status == -8
    with pytest.raises(ValueError) as e:  # DH_E_INVALID_ARG
        dh.Index(5000)
    assert isinstance(e.value, dh.DhInvalidArgument) and e.value.status == -1
    (tmp_path / "bad.dhi").write_bytes(b"not an index at all")
    with pytest.raises(dh.DhFormatError) as e:
        dh.Index.load(tmp_path / "bad.dhi")
    assert isinstance(e.value, ValueError)
    # the function's name is not repeated when the library's message starts with it
    text = str(e.value)
    assert text.count("dh_index_load") <= 1, text


def test_lists_and_strided_arrays_are_accepted():
    ix = dh.Index(16)
    ix.add([[1, 2], [3, 4], [1, 2]])                         # a list of packed rows
    big = np.zeros((3, 4), np.uint8)
    big[:, ::2] = [[1, 2], [3, 4], [9, 9]]
    D, I = ix.search(big[:, ::2], 2)                         # non-contiguous view
    assert I[0].tolist() == [0, 2] and D[0].tolist() == [0, 0]
    with pytest.raises(ValueError):
        ix.add([[1.5, 2], [3, 4]])                           # neither packed rows nor K signs
    ix.add(np.array([[True] * 16, [False] * 16]))            # bool rows: True is bit 1
    assert np.array_equal(ix.export(start=3)[0], [[255, 255], [0, 0]])


@pytest.mark.skipif(not dh.has_training(), reason="search-only build")
def test_reprs_and_context_managers(tmp_path):
    with dh.Model.create("mlp:8-16", n_bits=12, head="tanh") as m:
        assert repr(m) == "<dh.Model mlp:8-16 K=12 head=tanh input=(8,)>"
    assert "closed" in repr(m)
    with dh.Index(64) as ix:
        assert "64" in repr(ix)
    with dh.Loss("csq", 16, 4) as loss:
        assert repr(loss).startswith("<dh.Loss csq K=16")
    ds = dh.Dataset.from_features(np.zeros((5, 8), np.float32), class_ids=(np.arange(5) % 2).astype(np.int32))
    with ds:
        assert repr(ds) == "<dh.Dataset n=5 rows of 8 classes=2>"


@pytest.mark.skipif(not dh.has_training(), reason="search-only build")
def test_deephash_estimator(tmp_path):
    rng = np.random.default_rng(0)
    C, n, d = 4, 400, 16
    y = np.arange(n) % C
    x = rng.standard_normal((n, d)).astype(np.float32)
    x[np.arange(n), y] += 3.0
    h = dh.DeepHash(method="csq", bits=16, encoder="mlp:16-32", epochs=8, lr=1e-3,
                    optimizer="adam", batch_size=64).fit(x, y)  # 1.2's recipe: 48 steps
    assert "fitted" in repr(h) and "not fitted" not in repr(h)
    codes = h.transform(x)
    assert codes.shape == (n, 2) and codes.dtype == np.uint8
    D, I = h.index(x).search(x[:40], 5)                     # raw queries are encoded
    same = (y[I] == y[:40, None]).mean()
    assert same > 0.8, same                                 # chance is 0.25
    h.save(tmp_path / "h.safetensors")
    h2 = dh.DeepHash.load(tmp_path / "h.safetensors")
    assert np.array_equal(h2.transform(x), codes)
    with pytest.raises(ValueError, match="not fitted"):
        dh.DeepHash().transform(x)


@pytest.mark.skipif(shutil.which("pip3") is None and shutil.which("pip") is None,
                    reason="pip is not installed")
def test_pip_installs_offline(tmp_path):
    target, src = tmp_path / "site", tmp_path / "src"
    shutil.copytree(PKG, src, ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                          "__pycache__"))  # pip builds in place
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation",
                        "--no-deps", "--no-index", "--target", str(target), str(src)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    env = dict(os.environ, PYTHONPATH=str(target))
    r = subprocess.run([sys.executable, "-c", "import dh, os; print(dh.__version__); "
                        "print(os.path.dirname(dh.__file__))"], capture_output=True, text=True,
                       env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    version, where = r.stdout.split()
    assert version == dh.__version__ and where.startswith(str(target))

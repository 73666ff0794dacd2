"""The dh tool end to end: train -> info -> encode -> index search -> eval -> search,
exit codes and error messages, and the quick demo (the main job)."""
import json
import os
import subprocess

import numpy as np
import pytest

import dh as dhlib

BUILD = os.environ.get("DH_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
DH = os.path.join(BUILD, "src", "dh")

pytestmark = pytest.mark.skipif(not os.path.exists(DH), reason="dh tool not built")
training = pytest.mark.skipif(not dhlib.has_training(), reason="search-only build")


def dh(*args, check=True):
    r = subprocess.run([DH, *map(str, args)], capture_output=True, text=True, timeout=600)
    if check and r.returncode != 0:
        raise AssertionError(f"dh {' '.join(map(str, args))} -> {r.returncode}\n{r.stderr}")
    return r


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(3)
    n, D, C = 900, 16, 5
    y = np.arange(n, dtype=np.int32) % C
    x = rng.uniform(-1.5, 1.5, size=(n, D)).astype(np.float32)
    x[np.arange(n), y] += 2.0
    x[np.arange(n), y + C] += 2.0
    np.save(d / "x.npy", x)
    np.save(d / "y.npy", y)
    return d


@pytest.fixture(scope="module")
def model(data):
    m = data / "m.safetensors"
    dh("train", "--data", f"npy:{data}/x.npy:{data}/y.npy", "--encoder", "mlp:16-32", "--bits",
       16, "--method", "csq", "--epochs", 4, "--optimizer", "adam", "--lr", "0.003", "--quiet",
       "-o", m)
    return m


@training
def test_train_info_encode_search_eval(data, model):
    assert "mlp:16-32" in dh("info", model).stdout
    spec = f"npy:{data}/x.npy:{data}/y.npy"
    dh("encode", "--model", model, "--data", spec, "-o", data / "db.dhi")
    dh("encode", "--model", model, "--data", spec, "-o", data / "codes.npy", "--labels-out",
       data / "labels.npy")
    codes = np.load(data / "codes.npy")
    assert codes.shape == (900, 16) and codes.dtype == np.int8
    assert set(np.unique(codes)) <= {-1, 1}
    assert np.array_equal(np.load(data / "labels.npy"), np.load(data / "y.npy"))
    assert "900 live codes" in dh("info", data / "db.dhi").stdout
    res = json.loads(dh("index", "search", data / "db.dhi", "--queries", data / "codes.npy",
                        "-k", 5, "--json").stdout)
    assert res["k"] == 5 and len(res["results"]) == 900
    ev = json.loads(dh("eval", "--query-codes", data / "codes.npy", "--db-codes",
                       data / "codes.npy", "--query-labels", data / "labels.npy", "--db-labels",
                       data / "labels.npy", "--json").stdout)
    assert ev["map"] > 0.6, ev
    out = json.loads(dh("search", "--index", data / "db.dhi", "--model", model, "--data", spec,
                        "-k", 3, "--json").stdout)
    assert out["n_bits"] == 16 and len(out["results"]) == 900
    assert len(out["results"][0]["ids"]) == 3
    # a query's nearest code is at distance 0 (itself or an identical code), and the
    # model-side search agrees with searching the encoded codes
    assert all(q["distances"][0] == 0 for q in out["results"])
    assert out["results"] == res["results"][:0] + [
        {"query": q["query"], "ids": q["ids"][:3], "distances": q["distances"][:3]}
        for q in res["results"]]


@training
def test_encode_formats_agree(data, model):
    spec = f"npy:{data}/x.npy:{data}/y.npy"
    for fmt in ("packed", "packbits", "float32", "continuous"):
        dh("encode", "--model", model, "--data", spec, "-o", data / f"c_{fmt}.npy", "--format", fmt)
    signs = np.load(data / "c_float32.npy")
    packed = np.load(data / "c_packed.npy")
    assert np.array_equal(np.unpackbits(packed, axis=1, bitorder="little").astype(np.int64) * 2 - 1,
                          signs.astype(np.int64))
    assert np.array_equal(np.load(data / "c_packbits.npy"),
                          np.packbits(signs > 0, axis=1, bitorder="big"))
    cont = np.load(data / "c_continuous.npy")
    assert np.array_equal(np.where(cont >= 0, 1.0, -1.0), signs)


@training
def test_usage_errors_name_the_flag():
    r = dh("train", "-o", "x.safetensors", check=False)
    assert r.returncode == 2 and "--data" in r.stderr
    r = dh("train", "--data", "fashion-mnist", "-o", "x", "--bits", "4097", check=False)
    assert r.returncode == 2 and "--bits" in r.stderr
    r = dh("train", "--data", "nonsense:spec", "-o", "x", check=False)
    assert r.returncode == 2 and "data spec" in r.stderr
    r = dh("encode", "--model", "/nonexistent.safetensors", "--data", "fashion-mnist", "-o",
           "/tmp/x.npy", check=False)
    assert r.returncode == 3 and "nonexistent" in r.stderr
    r = dh("frobnicate", check=False)
    assert r.returncode == 2
    for cmd in ("train", "encode", "search", "demo", "info", "eval", "index"):
        assert dh(cmd, "--help").stdout.startswith("usage: dh " + cmd)


def test_info_rejects_garbage(tmp_path):
    p = tmp_path / "junk.bin"
    p.write_bytes(b"not a libdh file at all")
    r = dh("info", p, check=False)
    assert r.returncode == 1 and "not a libdh" in r.stderr


@training
def test_train_list_methods():
    names = dh("train", "--list-methods").stdout.split()
    assert {"dpsh", "hashnet", "csq", "greedyhash", "orthohash"} <= set(names)


@training
@pytest.mark.skipif(not os.path.isdir("/usr/share/datasets/fashion-mnist")
                    and not os.environ.get("DH_FASHION_MNIST_DIR"),
                    reason="dataset-fashion-mnist not installed")
def test_demo_quick_writes_results(tmp_path):
    r = dh("demo", "--quick", "--out", tmp_path / "demo")
    assert "mAP@all" in r.stdout
    m = json.loads((tmp_path / "demo" / "metrics.json").read_text())
    assert m["quick"] is True and m["bits"] == 64
    assert m["map_all"] > 0.4, m  # chance is 0.1
    for f in ("pr_curve.png", "pr_curve.csv", "retrieval_grid.png", "tsne.png", "model.safetensors",
              "database.dhi"):
        assert (tmp_path / "demo" / f).stat().st_size > 0
    assert (tmp_path / "demo" / "pr_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # dh eval with a model: the full protocol encoded on the fly
    ev = json.loads(dh("eval", "--model", tmp_path / "demo" / "model.safetensors", "--data",
                       "fashion-mnist", "--protocol", "fashion-mnist", "--json").stdout)
    assert ev["n_queries"] == 10000 and ev["n_db"] == 60000 and ev["map"] > 0.4, ev
    r = dh("eval", "--model", "x.safetensors", "--json", check=False)
    assert r.returncode == 2 and "--protocol" in r.stderr


@training
def test_killed_training_leaves_a_resumable_checkpoint(data, tmp_path):
    """SIGKILL at arbitrary moments (also during checkpoint writes: one is written
    every epoch, and epochs are short) never leaves a torn checkpoint: each time the
    run resumes from the last complete one, and the final run finishes."""
    import random
    import signal
    import time
    ck = tmp_path / "run.ckpt"
    args = [DH, "train", "--data", f"npy:{data}/x.npy:{data}/y.npy", "--encoder", "mlp:16-64",
            "--bits", "16", "--method", "hashnet", "--epochs", "100000", "--batch-size", "64",
            "--optimizer", "adam", "--lr", "0.001", "--checkpoint", str(ck), "--resume", "--quiet",
            "-o", str(tmp_path / "m.safetensors")]
    rng = random.Random(5)
    kills = 0
    for _ in range(5):
        before = ck.stat().st_mtime_ns if ck.exists() else 0
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # wait for this run's first checkpoint (however loaded the machine is), then kill
        # it at a random moment of the following epochs and their checkpoint writes
        deadline = time.time() + 120
        while time.time() < deadline and p.poll() is None and (
                not ck.exists() or ck.stat().st_mtime_ns == before):
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.3))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        _, err = p.communicate()
        assert p.returncode in (0, -signal.SIGKILL), err
        # the checkpoint on disk is complete: a safetensors header follows its length
        assert ck.read_bytes()[8:9] == b"{"
    assert kills > 0 and ck.exists()
    r = subprocess.run(args[:args.index("--epochs") + 1] + ["1"] + args[args.index("--epochs") + 2:],
                       capture_output=True, text=True, timeout=600)
    # resuming a run whose checkpoint is already past epoch 1 finishes at once
    assert r.returncode == 0, r.stderr

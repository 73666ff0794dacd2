"""Unsupervised methods from Python: losses without labels, the trainer on an
unlabelled dataset, labels never changing the codes, shallow baselines as models,
feature banks and their bad inputs."""
import numpy as np
import pytest

import dh

pytestmark = pytest.mark.skipif(not dh.has_training(), reason="search-only build")


def images(n=96, seed=0):
    """12 x 12 grey images; class c lights quadrant c."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 4).astype(np.int32)
    x = rng.integers(20, 80, size=(n, 12, 12, 1)).astype(np.uint8)
    for i, c in enumerate(y):
        r, q = (c // 2) * 6, (c % 2) * 6
        x[i, r:r + 6, q:q + 6] += 150
    return x, y


def test_flags_and_loss_without_labels():
    assert dh.method_flags("cibhash") & dh.loss.FLAG_TWO_VIEWS
    assert dh.method_flags("itq") & dh.loss.FLAG_SHALLOW
    assert dh.method_flags("csq") == 0
    loss = dh.Loss("cibhash", n_bits=16)
    U = np.random.default_rng(1).normal(size=(8, 16)).astype(np.float32)
    v, dU = loss.forward_backward(U)
    assert np.isfinite(v) and dU.shape == U.shape and np.abs(dU).sum() > 0
    with pytest.raises(dh.DhError, match="negatives"):
        loss.forward_backward(U[:2])  # one image, two views


def test_feature_bank_bad_input():
    loss = dh.Loss("ssdh", n_bits=16, n_train=10)
    F = np.random.default_rng(2).random((10, 5)).astype(np.float32)
    F[3, 1] = np.nan
    with pytest.raises(dh.DhError, match="not finite"):
        loss.set_features(F)
    with pytest.raises(dh.DhError):
        loss.set_features(F[:4])
    loss.set_features(np.nan_to_num(F))
    assert loss.get_tensor("thresholds").shape == (2,)
    km = dh.Loss("kmeans", n_bits=16, n_train=10)
    assert km.n_classes == 10 and km.get_tensor("centers").shape == (10, 16)


def train_codes(method, labelled):
    x, y = images()
    ds = (dh.Dataset.from_images(x, class_ids=y, n_classes=4) if labelled
          else dh.Dataset.from_images(x))
    loss = dh.Loss(method, n_bits=16, n_train=len(ds), n_classes=4 if method == "kmeans" else 0)
    enc = "pixels" if dh.method_flags(method) & dh.loss.FLAG_SHALLOW else "smallcnn"
    model = dh.Model.create(encoder=enc, n_bits=16, head=loss.head_hint()[0],
                            input_shape=(1, 12, 12))
    t = dh.Trainer(model, loss, ds, epochs=2, batch_size=32, seed=3, keep_best=0)
    t.run()
    return dh.encode_dataset(model, ds), y


@pytest.mark.parametrize("method", ["cibhash", "kmeans", "itq"])
def test_trainer_on_unlabelled_data_ignores_labels(method):
    a, y = train_codes(method, True)
    b, _ = train_codes(method, False)
    assert a.shape == (96, 2) and np.array_equal(a, b)


def test_itq_codes_follow_the_classes():
    codes, y = train_codes("itq", False)
    bits = np.unpackbits(codes, axis=1)
    d = (bits[:, None, :] != bits[None, :, :]).sum(-1)
    same = y[:, None] == y[None, :]
    assert d[same].mean() + 2 < d[~same].mean()


def test_cli_unsupervised_on_feature_rows(tmp_path):
    """dh train --data npy:F.npy --method ssdh|itq (no labels), then encode + eval with them."""
    import os
    import subprocess
    build = os.environ.get("DH_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                         "build"))
    exe = os.path.join(build, "src", "dh")
    if not os.path.exists(exe):
        pytest.skip("dh tool not built")
    rng = np.random.default_rng(4)
    y = (np.arange(800) % 4).astype(np.int32)
    x = rng.normal(size=(800, 16)).astype(np.float32)
    x[np.arange(800), y] += 3
    np.save(tmp_path / "f.npy", x)
    np.save(tmp_path / "y.npy", y)

    def run(*a):
        r = subprocess.run([exe, *map(str, a)], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        return r.stdout + r.stderr

    for m, extra in (("itq", []), ("ssdh", ["--epochs", "3", "--margin", "1"])):
        model = tmp_path / f"{m}.safetensors"
        run("train", "--data", f"npy:{tmp_path / 'f.npy'}", "--method", m, "--bits", 16,
            "--threads", 1, "--quiet", "-o", model, *extra)
        codes = tmp_path / f"{m}.npy"
        run("encode", "--model", model, "--data", f"npy:{tmp_path / 'f.npy'}:{tmp_path / 'y.npy'}",
            "--split", "train", "--format", "packed", "--labels-out", tmp_path / "l.npy",
            "-o", codes)
        out = run("eval", "--query-codes", codes, "--db-codes", codes, "--query-labels",
                  tmp_path / "l.npy", "--db-labels", tmp_path / "l.npy", "--bits", 16, "--json")
        import json
        assert json.loads(out[out.index("{"):out.rindex("}") + 1])["map"] > 0.4, (m, out)

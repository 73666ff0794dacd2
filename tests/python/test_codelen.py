"""The one code-length rule from Python: any K in 1..4096 (dh.h DH_MAX_BITS) trains,
validates, indexes, saves/loads and evaluates; packed codes are ceil(K/8) bytes with
zero padding bits (ignored on in-memory input, refused in .npy files); K = 0 and
K = 4097 are clear errors."""
import json
import os
import subprocess

import numpy as np
import pytest

import dh

training = pytest.mark.skipif(not dh.has_training(), reason="search-only build")


def naive_dist(a, b, k):
    """Hamming distances over the first k bits only (padding ignored)."""
    ua = np.unpackbits(a, axis=1, bitorder="little")[:, :k]
    ub = np.unpackbits(b, axis=1, bitorder="little")[:, :k]
    return (ua[:, None, :] != ub[None, :, :]).sum(-1)


def naive_map(q, ql, db, dl, k):
    """mAP over the whole database, ties in database order (stable sort)."""
    d = naive_dist(q, db, k)
    aps = []
    for i in range(len(q)):
        rel = (dl[np.argsort(d[i], kind="stable")] == ql[i]).astype(float)
        hits = np.cumsum(rel)
        aps.append((rel * hits / np.arange(1, len(rel) + 1)).sum() / max(hits[-1], 1))
    return float(np.mean(aps))


def make(n=600, D=24, C=6, seed=3):
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % C).astype(np.int32)
    x = rng.uniform(-1.5, 1.5, size=(n, D)).astype(np.float32)
    for c in range(C):
        x[y == c, c::C] += 1.5
    return dh.Dataset.from_features(x, class_ids=y, n_classes=C), y


@training
@pytest.mark.parametrize("K", [12, 24, 48])
def test_train_index_save_load_eval(tmp_path, K):
    ds, y = make()
    loss = dh.Loss("dch", n_bits=K, n_classes=6, n_train=len(ds))
    model = dh.Model.create(encoder="mlp:24-48", n_bits=K, head=loss.head_hint()[0])
    assert model.n_bits == K
    t = dh.Trainer(model, loss, ds, epochs=4, optimizer="adam", lr=1e-3, batch_size=100,
                   eval_every=1, checkpoint_path=str(tmp_path / "ck"))
    t.set_validation(ds, ds)  # a 12-bit model used to fail here, at its first validation
    final = t.run()
    assert final["map"] is not None and final["map"] > 0.4
    codes = dh.encode_dataset(model, ds)
    cb = (K + 7) // 8
    assert codes.shape == (600, cb) and codes.dtype == np.uint8
    if K % 8:
        assert not (codes[:, -1] >> (K % 8)).any()  # zero padding bits
    model.save(tmp_path / "m.safetensors")
    again = dh.Model.load(tmp_path / "m.safetensors")
    assert again.n_bits == K
    np.testing.assert_array_equal(dh.encode_dataset(again, ds), codes)
    ix = dh.Index(K)
    assert ix.code_size == cb
    ix.add(codes)
    ix.save(tmp_path / "i.dhi")
    ld = dh.Index.load(tmp_path / "i.dhi")
    assert ld.n_bits == K and len(ld) == 600
    D, I = ld.search(codes[:20], 30)
    ref = naive_dist(codes[:20], codes, K)
    for q in range(20):
        order = np.argsort(ref[q], kind="stable")[:30]
        np.testing.assert_array_equal(I[q], order)
        np.testing.assert_array_equal(D[q], ref[q][order])
    exported = ld.export()[0]
    np.testing.assert_array_equal(exported, codes)
    m = dh.eval.mean_average_precision(exported, exported, y, y)
    assert abs(m - naive_map(exported, y, exported, y, K)) < 1e-12
    assert m > 0.5
    r = dh.eval.evaluate(exported, exported, y, y, ns=(100,), n_bits=K)
    assert len(r["pr_precision"]) == K + 1 and abs(r["map"] - m) < 1e-12


@pytest.mark.parametrize("K", [1, 7, 12, 63, 65, 100, 4095, 4096])
def test_odd_k_index_eval_npy(tmp_path, K):
    rng = np.random.default_rng(K)
    n, cb = (120 if K > 1000 else 300), (K + 7) // 8
    dirty = rng.integers(0, 256, size=(n, cb), dtype=np.uint8)  # padding bits set too
    keep = (1 << (K % 8)) - 1 if K % 8 else 0xFF
    clean = dirty.copy()
    clean[:, -1] &= keep
    ix = dh.Index(K)
    ix.add(dirty)
    np.testing.assert_array_equal(ix.export()[0], clean)
    D, I = ix.search(dirty[:5], 10)
    ref = naive_dist(clean[:5], clean, K)
    for q in range(5):
        order = np.argsort(ref[q], kind="stable")[:10]
        np.testing.assert_array_equal(I[q], order)
    np.testing.assert_array_equal(dh.hamming_distances(dirty[:5], dirty, K), ref)
    labels = (np.arange(n) % 4).astype(np.int32)
    m = dh.eval.mean_average_precision(dirty[:9], dirty, labels[:9], labels, n_bits=K)
    assert abs(m - naive_map(clean[:9], labels[:9], clean, labels, K)) < 1e-12
    ix.export_npy(tmp_path / "c.npy", "packed")
    assert np.load(tmp_path / "c.npy").shape == (n, cb)
    back = dh.Index.from_npy(tmp_path / "c.npy", n_bits=K)
    assert back.n_bits == K
    np.testing.assert_array_equal(back.export()[0], clean)
    signs = np.where(np.unpackbits(clean, axis=1, bitorder="little")[:, :K], 1.0, -1.0)
    np.save(tmp_path / "s.npy", signs.astype(np.float32))
    assert dh.Index.from_npy(tmp_path / "s.npy").n_bits == K


def test_bad_k_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError):  # refused by the bindings' integer check already
        dh.Index(0)
    with pytest.raises(dh.DhError) as e:
        dh.Index(4097)
    assert "1..4096" in str(e.value)
    for K in (0, 4097):
        c = np.zeros((2, (K + 7) // 8), np.uint8)
        with pytest.raises((dh.DhError, ValueError)):  # K = 0: no byte to pass
            dh.hamming_distances(c, c, K)
    c, lab = np.zeros((2, 513), np.uint8), np.zeros(2, np.int32)
    with pytest.raises(dh.DhError) as e:
        dh.eval.mean_average_precision(c, c, lab, lab, n_bits=4097)
    assert "n_bits" in str(e.value) and "1..4096" in str(e.value)
    if dh.has_training():
        for K in (0, 4097):
            with pytest.raises(dh.DhError) as e:
                dh.Model.create(encoder="mlp:8-16", n_bits=K)
            assert "dh_model_create" in str(e.value)
            with pytest.raises(dh.DhError):
                dh.Loss("csq", n_bits=K, n_classes=3)
    # a packed .npy file whose padding bits are set is refused when read as 12 bits
    bad = np.array([[0x01, 0x0F], [0x00, 0x10]], np.uint8)
    np.save(tmp_path / "pad.npy", bad)
    with pytest.raises(dh.DhError) as e:
        dh.Index.from_npy(tmp_path / "pad.npy", n_bits=12)
    assert "row 1" in str(e.value) and "padding" in str(e.value)
    assert dh.Index.from_npy(tmp_path / "pad.npy").n_bits == 16


BUILD = os.environ.get("DH_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
DH = os.path.join(BUILD, "src", "dh")


def run_dh(*args, check=True):
    r = subprocess.run([DH, *map(str, args)], capture_output=True, text=True, timeout=600)
    if check and r.returncode != 0:
        raise AssertionError(f"dh {' '.join(map(str, args))} -> {r.returncode}\n{r.stderr}")
    return r


@training
@pytest.mark.skipif(not os.path.exists(DH), reason="dh tool not built")
def test_cli_12_bits(tmp_path):
    """dh train --bits 12 -> encode -> index build/search -> eval, packed and sign rows."""
    rng = np.random.default_rng(1)
    n, C = 400, 4
    y = np.arange(n, dtype=np.int32) % C
    x = rng.uniform(-1.5, 1.5, size=(n, 16)).astype(np.float32)
    x[np.arange(n), y] += 2.5
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    spec, m = f"npy:{tmp_path}/x.npy:{tmp_path}/y.npy", tmp_path / "m.safetensors"
    run_dh("train", "--data", spec, "--encoder", "mlp:16-32", "--bits", 12, "--method", "dch",
           "--epochs", 3, "--optimizer", "adam", "--lr", "0.003", "--quiet", "-o", m)
    run_dh("encode", "--model", m, "--data", spec, "-o", tmp_path / "s.npy")
    run_dh("encode", "--model", m, "--data", spec, "-o", tmp_path / "p.npy", "--format", "packed")
    signs, packed = np.load(tmp_path / "s.npy"), np.load(tmp_path / "p.npy")
    assert signs.shape == (n, 12) and packed.shape == (n, 2)
    assert not (packed[:, 1] >> 4).any()
    run_dh("index", "build", "-o", tmp_path / "i.dhi", "--bits", 12, tmp_path / "p.npy")
    info = json.loads(run_dh("index", "info", tmp_path / "i.dhi", "--json").stdout)
    assert info["n_bits"] == 12 and info["code_bytes"] == 2 and info["count"] == n
    res = json.loads(run_dh("index", "search", tmp_path / "i.dhi", "--queries", tmp_path / "s.npy",
                            "-k", 3, "--json").stdout)
    assert all(q["distances"][0] == 0 for q in res["results"])
    common = ["--query-labels", tmp_path / "y.npy", "--db-labels", tmp_path / "y.npy", "--json"]
    ev_s = json.loads(run_dh("eval", "--query-codes", tmp_path / "s.npy", "--db-codes",
                             tmp_path / "s.npy", *common).stdout)
    ev_p = json.loads(run_dh("eval", "--query-codes", tmp_path / "p.npy", "--db-codes",
                             tmp_path / "p.npy", "--bits", 12, *common).stdout)
    assert ev_s["n_bits"] == ev_p["n_bits"] == 12 and ev_s["map"] == ev_p["map"] > 0.5
    r = run_dh("train", "--data", spec, "-o", tmp_path / "x", "--bits", 4097, check=False)
    assert r.returncode == 2 and "--bits" in r.stderr
    r = run_dh("eval", "--query-codes", tmp_path / "p.npy", "--db-codes", tmp_path / "p.npy",
               "--bits", 20, *common, check=False)
    assert r.returncode != 0 and "--bits" in r.stderr

"""Fine-grained models (feature-map pools) and the CUB / Aircraft list readers."""
import numpy as np
import pytest

import dh
import dh.finegrained as fg

pytestmark = pytest.mark.skipif(not dh.has_training(), reason="search-only build")


@pytest.mark.parametrize("pool,dim", [("gap", 64), ("attn", 64 * 4), ("part", 64 * 3)])
def test_create_encode_save_load(tmp_path, pool, dim):
    m = fg.create_model("smallcnn", n_bits=16, pool=pool, parts=2 if pool == "part" else 0,
                        seed=3)
    x = np.random.default_rng(0).integers(0, 255, size=(5, 28, 28, 1), dtype=np.uint8)
    codes, u = m.encode(x, return_continuous=True)
    assert codes.shape == (5, 2) and u.shape == (5, 16)
    c1 = m.encode(x[2:3])
    assert np.array_equal(c1, codes[2:3])  # independent of the rest of the batch
    m.save(tmp_path / "m.safetensors")
    m2 = dh.Model.load(tmp_path / "m.safetensors")
    assert np.array_equal(m2.encode(x), codes)


@pytest.mark.parametrize("pool", ["attn", "part"])
def test_global_encoder(tmp_path, pool):
    """global_branch="encoder": Z = [smallcnn's fc-512; l_1..l_T]."""
    m = fg.create_model("smallcnn", n_bits=16, pool=pool, parts=2 if pool == "part" else 0,
                        seed=3, global_branch="encoder")
    from dh.model import _m_opts
    o = _m_opts(m._h).contents
    assert (o.fmap_global, o.fmap_pool) == (fg.FMAP_GLOBAL_ENCODER, fg.POOLS[pool])
    x = np.random.default_rng(0).integers(0, 255, size=(5, 28, 28, 1), dtype=np.uint8)
    codes, u = m.encode(x, return_continuous=True)
    _, u1 = m.encode(x[2:3], return_continuous=True)
    assert np.allclose(u1, u[2:3], atol=1e-5)  # independent of the rest of the batch
    m.save(tmp_path / "m.safetensors")
    raw = (tmp_path / "m.safetensors").read_bytes()
    assert b'"fmap_global":"encoder"' in raw
    m2 = dh.Model.load(tmp_path / "m.safetensors")
    assert _m_opts(m2._h).contents.fmap_global == fg.FMAP_GLOBAL_ENCODER
    c2, u2 = m2.encode(x, return_continuous=True)
    assert np.array_equal(u2, u) and np.array_equal(c2, codes)
    # the pool global writes no key (files as before)
    fg.create_model("smallcnn", n_bits=16, pool=pool, seed=3).save(tmp_path / "p.safetensors")
    assert b"fmap_global" not in (tmp_path / "p.safetensors").read_bytes()
    # a bad value in the file is a format error
    (tmp_path / "bad.safetensors").write_bytes(
        raw.replace(b'"fmap_global":"encoder"', b'"fmap_global":"encodex"'))
    with pytest.raises(dh.DhError):
        dh.Model.load(tmp_path / "bad.safetensors")


def test_bad_options():
    with pytest.raises(dh.DhError, match="fmap_global"):
        fg.create_model("smallcnn", n_bits=8, pool="gap", global_branch="encoder")
    with pytest.raises(dh.DhError, match="fmap_global"):
        fg.create_model("smallcnn", n_bits=8, pool="attn", global_branch=5)
    with pytest.raises(KeyError):
        fg.create_model("smallcnn", n_bits=8, pool="attn", global_branch="fc")
    with pytest.raises(dh.DhError):
        fg.create_model("mlp:8-4", n_bits=8, pool="attn")
    with pytest.raises(dh.DhError):
        fg.create_model("smallcnn", n_bits=8, pool="attn", parts=17)
    with pytest.raises(dh.DhError):
        fg.create_model("smallcnn", n_bits=8, pool=9)
    with pytest.raises(TypeError):
        fg.create_model("smallcnn", n_bits=8, bogus=1)


def test_train_step_runs():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 255, size=(64, 28, 28, 1), dtype=np.uint8)
    y = (np.arange(64) % 4).astype(np.int32)
    ds = dh.Dataset.from_images(x, class_ids=y, n_classes=4)
    for gb in ("pool", "encoder"):
        m = fg.create_model("smallcnn", n_bits=16, pool="attn", seed=1, global_branch=gb)
        loss = dh.Loss("csq", n_bits=16, n_classes=4)
        p = dh.Trainer(m, loss, ds, epochs=1, batch_size=32, optimizer="adam", lr=1e-3).run()
        assert np.isfinite(p["loss"])


def _ppm(path, value):
    path.write_bytes(b"P6\n2 2\n255\n" + bytes([value]) * 12)


def test_cub_and_aircraft_lists(tmp_path):
    cub = tmp_path / "CUB_200_2011"
    (cub / "images" / "001.A").mkdir(parents=True)
    (cub / "images" / "002.B").mkdir()
    for i, rel in enumerate(["001.A/x.jpg", "002.B/y.jpg", "002.B/z.jpg"]):
        _ppm(cub / "images" / rel, 10 + i)
    (cub / "images.txt").write_text("1 001.A/x.jpg\n2 002.B/y.jpg\n3 002.B/z.jpg\n")
    (cub / "image_class_labels.txt").write_text("1 1\n2 2\n3 2\n")
    (cub / "train_test_split.txt").write_text("1 1\n2 0\n3 1\n")
    tr = fg.load_dataset("cub", cub, "train", height=2, width=2)
    assert len(tr) == 2 and list(tr.class_ids()) == [0, 1]
    assert tr.image(1)[0, 0, 0] == 12
    assert fg.write_list("cub", cub, "all", tmp_path / "all.list") == (3, 2)

    air = tmp_path / "data"
    (air / "images").mkdir(parents=True)
    _ppm(air / "images" / "0001.jpg", 1)
    _ppm(air / "images" / "0002.jpg", 2)
    (air / "variants.txt").write_text("Cessna 172\nF/A-18\n")
    (air / "images_variant_test.txt").write_text("0001 F/A-18\n0002 Cessna 172\n")
    te = fg.load_dataset("aircraft", air, "test", height=2, width=2)
    assert list(te.class_ids()) == [1, 0]
    (air / "images_variant_test.txt").write_text("0001 Boeing\n")
    with pytest.raises(dh.DhError, match="images_variant_test.txt:1"):
        fg.load_dataset("aircraft", air, "test")

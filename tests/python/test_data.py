"""dh.data: .npy interoperability with numpy, datasets, protocols and the loader."""
import os

import numpy as np
import pytest

import dh
from dh import data


def test_npy_roundtrip_with_numpy(tmp_path):
    for dt in (np.float32, np.float64, np.uint8, np.int8, np.int32, np.int64):
        a = (np.arange(24).reshape(2, 3, 4) - 5).astype(dt)
        p = str(tmp_path / "a.npy")
        np.save(p, a)
        b = data.npy_load(p)
        assert b.dtype == a.dtype and b.shape == a.shape and np.array_equal(a, b)
        data.npy_save(p, a)
        assert np.array_equal(np.load(p), a)
    np.save(str(tmp_path / "b.npy"), np.array([True, False]))
    assert data.npy_load(str(tmp_path / "b.npy")).tolist() == [1, 0]
    np.save(str(tmp_path / "s.npy"), np.float32(3.5))
    assert data.npy_load(str(tmp_path / "s.npy")).shape == ()


def test_npy_errors(tmp_path):
    p = str(tmp_path / "f.npy")
    np.save(p, np.asfortranarray(np.ones((2, 3), np.float32)))
    with pytest.raises(dh.DhError) as e:
        data.npy_load(p)
    assert "fortran" in str(e.value) and e.value.status == -9
    np.save(p, np.ones(3, ">f4"))
    with pytest.raises(dh.DhError):
        data.npy_load(p)
    with open(p, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00garbage")
    with pytest.raises(dh.DhError) as e:
        data.npy_load(p)
    assert e.value.status == -4
    with pytest.raises(dh.DhError) as e:
        data.npy_load(str(tmp_path / "missing.npy"))
    assert e.value.status == -8


def test_dataset_from_arrays_subset_loader():
    rng = np.random.default_rng(0)
    im = rng.integers(0, 256, size=(20, 6, 6, 3), dtype=np.uint8)
    cls = (np.arange(20) % 4).astype(np.int32)
    ds = data.Dataset.from_images(im, class_ids=cls)
    assert len(ds) == 20 and ds.n_classes == 4 and ds.image_shape == (6, 6, 3)
    assert np.array_equal(ds.image(7), im[7])
    assert np.array_equal(ds.class_ids(), cls)
    assert np.array_equal(ds.labels().argmax(1), cls)
    f = ds.floats(3, mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])
    assert np.allclose(f, (im[3].transpose(2, 0, 1) / 255.0 - 0.5) / 0.5, atol=1e-6)
    sub = ds.subset([19, 2])
    assert np.array_equal(sub.image(0), im[19]) and list(sub.origin()) == [19, 2]
    del ds  # the subset keeps the pixels alive
    assert np.array_equal(sub.image(1), im[2])
    ds = data.Dataset.from_images(im, class_ids=cls)
    L = data.Loader(ds, batch_size=6, seed=3, augment=data.AUG_FLIP | data.AUG_RANDOM_CROP,
                    mean=[0.5] * 3, std=[0.25] * 3, two_views=1)
    assert len(L) == 4 and L.sample_shape == (3, 6, 6)
    batches = list(L)
    assert [b["x"].shape[0] for b in batches] == [6, 6, 6, 2]
    idx = np.concatenate([b["indices"] for b in batches])
    assert sorted(idx.tolist()) == list(range(20))
    assert np.array_equal(np.concatenate([b["class_ids"] for b in batches]), cls[idx])
    L.seek(0, 2)
    again = L.next()
    assert np.array_equal(again["x"], batches[2]["x"])
    assert np.array_equal(again["x2"], batches[2]["x2"])
    assert L.position() == (0, 3)


def test_protocols_and_splits():
    assert "cifar10" in data.protocols() and data.protocol_topk("nuswide21") == 5000
    feats = np.arange(60000, dtype=np.float32).reshape(-1, 1)
    ds = data.Dataset.from_features(feats, class_ids=(np.arange(60000) % 10).astype(np.int32))
    t, q, d = data.protocol_split("cifar10", ds, seed=1)
    assert (len(t), len(q), len(d)) == (5000, 1000, 54000)
    allidx = np.concatenate([t.origin(), q.origin(), d.origin()])
    assert len(np.unique(allidx)) == 60000
    lt = data.split_longtail(ds, 10, max_per_class=100)
    assert np.bincount(lt.class_ids())[0] == 100 and np.bincount(lt.class_ids())[9] == 10
    with pytest.raises(dh.DhError):
        data.protocol_split("nope", ds)


def test_imagelist_and_idx(tmp_path):
    stb = pytest.importorskip("PIL.Image", reason="PIL writes the test images")
    for i in range(3):
        stb.fromarray(np.full((10, 12, 3), 40 * i, np.uint8)).save(tmp_path / f"{i}.png")
    (tmp_path / "l.txt").write_text("0.png 1 0\n1.png 0 1\n2.png 1 1\n")
    ds = data.Dataset.imagelist(str(tmp_path / "l.txt"), height=8, width=8)
    assert ds.is_multilabel and ds.image_shape == (8, 8, 3)
    assert int(ds.image(2)[4, 4, 0]) == 80
    (tmp_path / "bad.txt").write_text("0.png 1 0\n1.png 0 1 1\n")
    with pytest.raises(dh.DhError) as e:
        data.Dataset.imagelist(str(tmp_path / "bad.txt"))
    assert "bad.txt:2:" in str(e.value)


def test_fashion_mnist_if_installed():
    try:
        data.Dataset.fashion_mnist_dir()
    except dh.DhError:
        pytest.skip("Fashion-MNIST not installed")
    te = data.Dataset.fashion_mnist("test")
    assert len(te) == 10000 and te.image_shape == (28, 28, 1)
    assert np.array_equal(np.bincount(te.class_ids()), [1000] * 10)
    if os.environ.get("DH_SLOW_TESTS"):
        tr = data.Dataset.fashion_mnist("train")
        t, q, d = data.protocol_split("fashion-mnist", tr, te, seed=0)
        assert (len(t), len(q), len(d)) == (10000, 10000, 60000)

"""Weak supervision from Python (docs/data.md#tags, docs/methods.md#weak): tag readers
through Dataset.load_tags, word vectors, the co-occurrence embedding against a numpy
PPMI + SVD reference, the wdht loss, codes independent of the labels, and a
NUS-WIDE-layout miniature (ImageList + AllTags1k.txt + TagList1k.txt, generated)
trained end to end by `dh train --tags ... --method wdht`."""
import os
import subprocess

import numpy as np
import pytest

import dh

pytestmark = pytest.mark.skipif(not dh.has_training(), reason="search-only build")
BUILD = os.environ.get("DH_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))


def ppmi_reference(Y):
    C = Y.T.astype(np.float64) @ Y
    np.fill_diagonal(C, 0)
    row = C.sum(1)
    tot = C.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        P = np.log(C * tot / np.outer(row, row))
    P[~np.isfinite(P)] = 0
    return np.maximum(P, 0)


def test_cooccurrence_embedding_matches_numpy():
    rng = np.random.default_rng(4)
    Y = (rng.random((300, 12)) < 0.25).astype(np.float32)
    Y[:, 3] = np.maximum(Y[:, 3], Y[:, 4])  # some structure
    for d in (3, 12):
        E = dh.data.embed_cooccurrence(Y, d)
        U, S, Vt = np.linalg.svd(ppmi_reference(Y))
        ref = U[:, :d] * np.sqrt(S[:d])
        # signs of singular vectors are arbitrary: compare the Gram matrices
        np.testing.assert_allclose(E @ E.T, ref @ ref.T, atol=2e-4 * np.abs(ref @ ref.T).max())
        big = np.abs(E).argmax(0)
        assert (E[big, np.arange(d)] > 0).all()  # the documented sign rule
    with pytest.raises(dh.DhError, match="dim"):
        dh.data.embed_cooccurrence(Y, 13)


def test_load_tags_and_word_vectors(tmp_path):
    lst = tmp_path / "tags.txt"
    lst.write_text("a.jpg sky sea\nb.jpg Sea\nc.jpg\n")
    ds = dh.Dataset.from_features(np.zeros((3, 2), np.float32), class_ids=np.array([0, 1, 0],
                                  np.int32), n_classes=2)
    tags = ds.load_tags(str(lst), format="list")
    assert tags.names == ["Sea", "sea", "sky"] and len(tags) == 3
    np.testing.assert_array_equal(ds.tags(), [[0, 1, 1], [1, 0, 0], [0, 0, 0]])
    assert ds.n_classes == 2  # labels stay, for evaluation
    glove = tmp_path / "glove.txt"
    glove.write_text("sea 1 2\nsky 3 4\nthe 0 0\n")
    E, found = dh.data.word_vectors(str(glove), tags)
    assert found == 3  # "Sea" through lower case
    np.testing.assert_array_equal(E, [[1, 2], [1, 2], [3, 4]])
    bad = tmp_path / "bad.txt"
    bad.write_text("sea 1 2\nsky 3\n")
    with pytest.raises(dh.DhError, match="bad.txt:2"):
        dh.data.word_vectors(str(bad), tags)
    with pytest.raises(dh.DhError, match="not in the tag list"):
        voc = tmp_path / "voc.txt"
        voc.write_text("sky\n")
        ds.load_tags(str(lst), format="list", vocabulary=str(voc))
    t2 = ds.load_tags(str(lst), format="list", vocabulary=str(voc), unknown="skip")
    assert t2.names == ["sky"]


def test_wdht_loss_and_tag_vectors():
    rng = np.random.default_rng(2)
    loss = dh.Loss("wdht", 16, 5)
    assert dh.loss.method_tag_flags("wdht") == dh.loss.FLAG_TAGS
    assert dh.method_flags("tagrefine") == dh.loss.FLAG_TAGS  # since 1.3
    assert dh.loss.method_tag_flags("itq") == 0
    loss.set_tag_vectors(rng.normal(size=(5, 4)).astype(np.float32))
    assert "align" in loss.param_names() and "tag_vectors" in loss.state_names()
    U = np.tanh(rng.normal(size=(6, 16))).astype(np.float32)
    Y = (rng.random((6, 5)) < 0.4).astype(np.float32)
    v, dU = loss.forward_backward(U, labels=Y)
    assert np.isfinite(v) and np.abs(dU).sum() > 0


def test_fashion_tags_and_no_labels_in_codes():
    rng = np.random.default_rng(0)
    n = 120
    y = (np.arange(n) % 10).astype(np.int32)
    X = (rng.random((n, 10)) * 0.3 + np.eye(10, dtype=np.float32)[y]).astype(np.float32)

    def codes(labels):
        ds = dh.Dataset.from_features(X, class_ids=labels, n_classes=10)
        tags = dh.data.synthesize_tags(ds, keep=0.5, noise=0.2, seed=3)
        tags.attach(ds)
        loss = dh.Loss("wdht", 16, ds.n_tags, n_train=n, seed=1)
        model = dh.Model.create("mlp:10-32", n_bits=16, seed=1)
        dh.Trainer(model, loss, ds, epochs=2, batch_size=30, seed=5, keep_best=0).run()
        return dh.encode_dataset(model, ds)

    # the tags are drawn from the true classes; the trainer then never sees the labels:
    # same tags (same classes) with the label *rows* of another run give the same codes
    a = codes(y)
    ds2 = dh.Dataset.from_features(X, class_ids=y, n_classes=10)
    tags = dh.data.synthesize_tags(ds2, keep=0.5, noise=0.2, seed=3)
    shuffled = dh.Dataset.from_features(X, class_ids=rng.permutation(y), n_classes=10)
    tags.attach(shuffled)
    loss = dh.Loss("wdht", 16, shuffled.n_tags, n_train=n, seed=1)
    model = dh.Model.create("mlp:10-32", n_bits=16, seed=1)
    dh.Trainer(model, loss, shuffled, epochs=2, batch_size=30, seed=5, keep_best=0).run()
    np.testing.assert_array_equal(a, dh.encode_dataset(model, shuffled))
    # tags-as-labels through the trainer option
    loss = dh.Loss("dpsh", 16, shuffled.n_tags, n_train=n)
    model = dh.Model.create("mlp:10-32", n_bits=16, head="identity", seed=1)
    dh.Trainer(model, loss, shuffled, epochs=1, batch_size=30, supervision="tags",
               keep_best=0).run()


def write_pgm(path, img):
    with open(path, "wb") as f:
        f.write(b"P5\n%d %d\n255\n" % (img.shape[1], img.shape[0]))
        f.write(img.astype(np.uint8).tobytes())


def test_nuswide_layout_miniature_trains(tmp_path):
    """NUS-WIDE's layout in miniature: ImageList/Imagelist.txt, the concept labels in a
    'path l1 .. lC' list, NUS_WID_Tags/AllTags1k.txt (one 0/1 row per image) and
    TagList1k.txt; dh train learns from the tags, dh eval scores with the labels."""
    rng = np.random.default_rng(7)
    n, C, T = 48, 3, 9
    (tmp_path / "images").mkdir()
    (tmp_path / "NUS_WID_Tags").mkdir()
    (tmp_path / "ImageList").mkdir()
    rows, tag_rows, names = [], [], []
    for i in range(n):
        c = i % C
        img = rng.integers(0, 60, (28, 28))
        img[(c * 9):(c * 9 + 9), :] += 180
        name = f"images/{i:04d}.pgm"
        write_pgm(tmp_path / name, img)
        names.append(name)
        lab = [0] * C
        lab[c] = 1
        rows.append(name + " " + " ".join(map(str, lab)))
        t = np.zeros(T, int)
        t[c * 3:(c * 3 + 3)] = rng.random(3) < 0.6  # the concept's tags, some missing
        t[rng.integers(T)] |= rng.random() < 0.3     # a wrong one now and then
        tag_rows.append(" ".join(map(str, t)))
    (tmp_path / "ImageList" / "Imagelist.txt").write_text("\n".join(names) + "\n")
    (tmp_path / "labels.txt").write_text("\n".join(rows) + "\n")
    (tmp_path / "NUS_WID_Tags" / "AllTags1k.txt").write_text("\n".join(tag_rows) + "\n")
    (tmp_path / "NUS_WID_Tags" / "TagList1k.txt").write_text(
        "\n".join(f"tag{k}" for k in range(T)) + "\n")
    exe = os.path.join(BUILD, "src", "dh")
    model = tmp_path / "m.safetensors"
    r = subprocess.run([exe, "train", "--data", f"list:{tmp_path}/labels.txt:{tmp_path}",
                        "--tags", str(tmp_path / "NUS_WID_Tags" / "AllTags1k.txt"),
                        "--tag-format", "matrix", "--tag-list",
                        str(tmp_path / "NUS_WID_Tags" / "TagList1k.txt"), "--method", "wdht",
                        "--bits", "16", "--epochs", "3", "--batch-size", "16", "--size", "28",
                        "--threads", "2", "--quiet", "-o", str(model)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    m = dh.Model.load(str(model))
    ds = dh.Dataset.imagelist(str(tmp_path / "labels.txt"), root=str(tmp_path), height=28,
                              width=28)
    codes = dh.encode_dataset(m, ds)
    mp = dh.eval.mean_average_precision(codes, codes, ds.labels(), ds.labels())
    assert 0 < mp <= 1
    # a malformed row is a clear error with the file and line
    bad = tmp_path / "NUS_WID_Tags" / "bad.txt"
    bad.write_text("\n".join(tag_rows[:5] + ["0 1"] + tag_rows[6:]) + "\n")
    r = subprocess.run([exe, "train", "--data", f"list:{tmp_path}/labels.txt:{tmp_path}",
                        "--tags", str(bad), "--tag-format", "matrix", "--tag-list",
                        str(tmp_path / "NUS_WID_Tags" / "TagList1k.txt"), "--method", "wdht",
                        "--bits", "16", "--quiet", "-o", str(model)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "bad.txt:6" in r.stderr

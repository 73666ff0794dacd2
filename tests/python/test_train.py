"""The trainer from Python: numpy data in, progress callbacks, stop by callback,
validation with best weights, codes out, search and metrics."""
import numpy as np
import pytest

import dh

pytestmark = pytest.mark.skipif(not dh.has_training(), reason="search-only build")


def make(n=600, D=12, C=4, seed=0):
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % C).astype(np.int32)
    x = rng.uniform(-1.5, 1.5, size=(n, D)).astype(np.float32)
    x[np.arange(n), y] += 2.5
    return dh.Dataset.from_features(x, class_ids=y, n_classes=C), y


def test_train_from_numpy_and_search():
    ds, y = make()
    loss = dh.Loss("csq", n_bits=16, n_classes=4, n_train=len(ds))
    model = dh.Model.create(encoder="mlp:12-32", n_bits=16, head=loss.head_hint()[0])
    events = []
    t = dh.Trainer(model, loss, ds, epochs=4, optimizer="adam", lr=3e-3, batch_size=50,
                   eval_every=1)
    t.set_validation(ds, ds)
    final = t.run(callback=lambda p: events.append(p) and False)
    epochs = [e for e in events if e["event"] == dh.train.EVENT_EPOCH]
    assert [e["epoch"] for e in epochs] == [0, 1, 2, 3]
    assert sum(e["event"] == dh.train.EVENT_BATCH for e in events) == 4 * 12
    assert final["best_map"] is not None and final["best_map"] > 0.8
    codes = dh.encode_dataset(model, ds)
    assert codes.shape == (600, 2) and codes.dtype == np.uint8
    ix = dh.Index(16)
    ix.add(codes)
    D, I = ix.search(codes, 10)
    assert (D[:, 0] == 0).all()
    assert (y[I] == y[:, None]).mean() > 0.6  # precision@10; chance is 0.25


def test_callback_can_stop_training():
    ds, _ = make()
    loss = dh.Loss("dpsh", n_bits=16, n_classes=4, n_train=len(ds))
    model = dh.Model.create(encoder="mlp:12-32", n_bits=16, head=loss.head_hint()[0])
    t = dh.Trainer(model, loss, ds, epochs=5)
    with pytest.raises(dh.DhError) as e:
        t.run(callback=lambda p: p["event"] == dh.train.EVENT_EPOCH)
    assert e.value.status == -11 and "callback" in str(e.value)
    assert t.progress()["epoch"] == 0


def test_bad_options_are_rejected():
    ds, _ = make()
    loss = dh.Loss("csq", n_bits=16, n_classes=4)
    model = dh.Model.create(encoder="mlp:12-32", n_bits=32)
    with pytest.raises(TypeError):
        dh.Trainer(model, loss, ds, epoks=3)
    with pytest.raises(dh.DhError) as e:
        dh.Trainer(model, loss, ds)
    assert "K" in str(e.value) and e.value.status == -3

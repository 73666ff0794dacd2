"""Incremental hashing from Python: the DIHN and DIH losses against numpy references,
fixed codes, and dh.incremental_session (old index codes bit-for-bit unchanged, ids,
errors)."""
import numpy as np
import pytest

import dh

pytestmark = pytest.mark.skipif(not dh.has_training(), reason="search-only build")

K, C = 8, 5


def onehot(y, C=C):
    out = np.zeros((len(y), C), np.float32)
    out[np.arange(len(y)), y] = 1
    return out


def dihn_reference(U, Yb, idx, V, Yn, Vo, Yo, gamma=200.0, mu=50.0):
    """DIHN value and gradient written with numpy (docs/methods.md#dihn)."""
    Bdb = np.concatenate([V, Vo]).astype(np.float64)
    Ydb = np.concatenate([Yn, Yo])
    S = (Yb @ Ydb.T > 0)
    S_r = (Yn @ Ydb.T > 0)  # the init samples every new row (n_new < 2000)
    r = S_r.sum() / (S_r.size - S_r.sum())
    T = np.where(S, K, -K * r)
    R = U.astype(np.float64) @ Bdb.T - T
    n, B = len(Bdb), len(U)
    D = U - V[idx]
    val = ((R ** 2).sum() + gamma * (D ** 2).sum() + mu * U.sum()) / (n * B)
    grad = (2 * R @ Bdb + 2 * gamma * D + mu) / (n * B)
    return val, grad


def test_dihn_matches_numpy_reference():
    rng = np.random.default_rng(1)
    n_new, n_old, B = 20, 30, 12
    Yn, Yo = onehot(rng.integers(0, C, n_new)), onehot(rng.integers(0, C, n_old))
    Vo = np.where(rng.standard_normal((n_old, K)) >= 0, 1, -1).astype(np.float32)
    loss = dh.Loss("dihn", n_bits=K, n_classes=C, n_train=n_new)
    loss.init(Yn)
    dh.set_fixed_codes(loss, Vo, Yo)
    assert loss.state_names() == ["codes", "old_codes", "old_labels"]
    np.testing.assert_array_equal(loss.get_tensor("old_codes"), Vo)
    U = rng.uniform(-0.9, 0.9, (B, K)).astype(np.float32)
    idx = rng.integers(0, n_new, B).astype(np.int64)
    yb = rng.integers(0, C, B).astype(np.int32)
    v, dU = loss.forward_backward(U, class_ids=yb, indices=idx)
    rv, rg = dihn_reference(U, onehot(yb), idx, loss.get_tensor("codes"), Yn, Vo, Yo)
    assert v == pytest.approx(rv, rel=1e-5)
    np.testing.assert_allclose(dU, rg, rtol=1e-4, atol=1e-7)
    # the discrete update changes only the new rows
    V0 = loss.get_tensor("codes")
    loss.update_codes(U, idx)
    np.testing.assert_array_equal(loss.get_tensor("old_codes"), Vo)
    assert set(np.unique(loss.get_tensor("codes"))) <= {-1.0, 1.0}
    assert not np.array_equal(V0, loss.get_tensor("codes"))


def test_dih_regresses_to_prefix_stable_targets():
    a = dh.Loss("dih", n_bits=K, n_classes=3, seed=7)
    b = dh.Loss("dih", n_bits=K, n_classes=C, seed=7)
    Ta, Tb = a.get_tensor("centers"), b.get_tensor("centers")
    np.testing.assert_array_equal(Ta, Tb[:3])
    U = np.random.default_rng(2).uniform(-0.9, 0.9, (6, K)).astype(np.float32)
    y = np.array([0, 1, 2, 3, 4, 0], np.int32)
    v, dU = b.forward_backward(U, class_ids=y)
    T = Tb[y]
    assert v == pytest.approx(((U - T) ** 2).mean(), rel=1e-6)
    np.testing.assert_allclose(dU, 2 * (U - T) / U.size, rtol=1e-5, atol=1e-8)


def make(classes, per, seed, D=12):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.asarray(classes, np.int32), per)
    x = rng.uniform(-1.0, 1.0, size=(len(y), D)).astype(np.float32)
    x[np.arange(len(y)), y] += 2.0
    return dh.Dataset.from_features(x, class_ids=y, n_classes=C), y


def test_session_appends_and_keeps_old_codes():
    old, y_old = make([0, 1, 2], 40, 1)
    new, y_new = make([3, 4], 40, 2)
    model = dh.Model.create(encoder="mlp:12-32", n_bits=16, head="tanh", seed=3)
    index = dh.Index(16)
    opts = dict(epochs=5, optimizer="adam", lr=3e-3, batch_size=30)
    first = dh.incremental_session(model, dh.Loss("adsh", n_bits=16, n_classes=C,
                                                  n_train=len(old)), old, index, **opts)
    assert first == 0 and len(index) == 120
    before = index.export("packed")[0].copy()
    loss = dh.Loss("dihn", n_bits=16, n_classes=C, n_train=len(new))
    first = dh.incremental_session(model, loss, new, index, index_labels=y_old, **opts)
    assert first == 120 and len(index) == 200
    codes, ids = index.export("packed")
    np.testing.assert_array_equal(codes[:120], before)
    np.testing.assert_array_equal(ids, np.arange(200))
    # the appended codes are DIHN's learned codes
    np.testing.assert_array_equal(codes[120:], dh.pack_codes(loss.get_tensor("codes")))
    q = dh.encode_dataset(model, new)
    ap = dh.eval.mean_average_precision(q, codes, y_new, np.concatenate([y_old, y_new]))
    assert ap > 0.7


def test_session_errors_leave_index_unchanged():
    new, _ = make([3, 4], 20, 2)
    model = dh.Model.create(encoder="mlp:12-32", n_bits=16, head="tanh")
    index = dh.Index(16)
    index.add(np.zeros((3, 2), np.uint8))
    with pytest.raises(dh.DhError) as e:  # dihn needs the old items' labels
        dh.incremental_session(model, dh.Loss("dihn", n_bits=16, n_classes=C,
                                              n_train=len(new)), new, index, epochs=1)
    assert "index_labels" in str(e.value)
    with pytest.raises(dh.DhError):  # n_train must count the new items
        dh.incremental_session(model, dh.Loss("dihn", n_bits=16, n_classes=C, n_train=7),
                               new, index, index_labels=[0, 1, 2], epochs=1)
    with pytest.raises(dh.DhError):  # dih learns no codes
        dh.incremental_session(model, dh.Loss("dih", n_bits=16, n_classes=C), new, index,
                               new_codes="learned", epochs=1)
    with pytest.raises(TypeError):
        dh.incremental_session(model, dh.Loss("dih", n_bits=16, n_classes=C), new, index,
                               epochz=1)
    with pytest.raises(dh.DhError):
        dh.set_fixed_codes(dh.Loss("csq", n_bits=16, n_classes=C), np.ones((2, 16)), [0, 1])
    assert len(index) == 3
    np.testing.assert_array_equal(index.export("packed")[0], np.zeros((3, 2), np.uint8))


def model_outputs(model, ds):
    out = dh.encode_dataset(model, ds, continuous=True)
    return out[1] if isinstance(out, tuple) else out


def test_session_distillation_options():
    """distill_codes / distill_features reach the C options: a strong teacher keeps
    old-class outputs near the session-start network's; bad weights are refused."""
    old, y_old = make([0, 1, 2], 40, 1)
    new, _ = make([3, 4], 40, 2)
    model = dh.Model.create(encoder="mlp:12-32", n_bits=16, head="tanh", seed=3)
    index = dh.Index(16)
    opts = dict(epochs=5, optimizer="adam", lr=3e-3, batch_size=30)
    dh.incremental_session(model, dh.Loss("adsh", n_bits=16, n_classes=C, n_train=len(old)),
                           old, index, **opts)
    path_codes = index.export("packed")[0].copy()
    drift = {}
    for w in (0.0, 1e4):
        m = dh.Model.create(encoder="mlp:12-32", n_bits=16, head="tanh", seed=3)
        ix = dh.Index(16)
        dh.incremental_session(m, dh.Loss("adsh", n_bits=16, n_classes=C, n_train=len(old)),
                               old, ix, **opts)
        before = model_outputs(m, old)
        dh.incremental_session(m, dh.Loss("dihn", n_bits=16, n_classes=C, n_train=len(new)),
                               new, ix, index_labels=y_old, distill_codes=w,
                               distill_features=w, **opts)
        drift[w] = np.abs(model_outputs(m, old) - before).mean()
        np.testing.assert_array_equal(ix.export("packed")[0][:120], path_codes)
    assert drift[1e4] < 0.5 * drift[0.0], drift
    for bad in (-2.0, float("nan")):
        with pytest.raises(dh.DhError) as e:
            dh.incremental_session(model, dh.Loss("dih", n_bits=16, n_classes=C), new, index,
                                   distill_codes=bad, epochs=1)
        assert "distill" in str(e.value)
    assert len(index) == 120


def test_session_old_samples():
    """old_samples reaches C: the dihn loss must count new items + samples."""
    old, y_old = make([0, 1, 2], 40, 1)
    new, _ = make([3, 4], 40, 2)
    model = dh.Model.create(encoder="mlp:12-32", n_bits=16, head="tanh", seed=3)
    index = dh.Index(16)
    opts = dict(epochs=2, optimizer="adam", lr=3e-3, batch_size=30)
    dh.incremental_session(model, dh.Loss("adsh", n_bits=16, n_classes=C, n_train=len(old)),
                           old, index, **opts)
    before = index.export("packed")[0].copy()
    with pytest.raises(dh.DhError) as e:
        dh.incremental_session(model, dh.Loss("dihn", n_bits=16, n_classes=C,
                                              n_train=len(new) + len(old)),
                               new, index, index_labels=y_old, index_images=old,
                               old_samples=30, **opts)
    assert "old_samples" in str(e.value)
    dh.incremental_session(model, dh.Loss("dihn", n_bits=16, n_classes=C,
                                          n_train=len(new) + 30),
                           new, index, index_labels=y_old, index_images=old, old_samples=30,
                           **opts)
    assert len(index) == 200
    np.testing.assert_array_equal(index.export("packed")[0][:120], before)

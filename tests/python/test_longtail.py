"""Long-tail hashing: the lthnet and dualproxy losses against PyTorch references
(value, dL/dU with dualproxy's straight-through sign branch, parameter gradients),
class-balanced weights, and the meta-embedding through the Python API."""
import numpy as np
import pytest

import dh

torch = pytest.importorskip("torch")
if not dh.has_training():
    pytest.skip("search-only build", allow_module_level=True)

B, K, C = 7, 16, 5
COUNTS = np.array([600, 200, 60, 20, 6], dtype=np.int64)


def _batch(seed=0):
    r = np.random.default_rng(seed)
    U = np.tanh(r.normal(size=(B, K))).astype(np.float32)
    Y = np.zeros((B, C), dtype=np.float32)
    Y[np.arange(B), np.arange(B) % C] = 1
    Y[6, 1] = 1  # a multi-label row
    return U, Y


def _cb(beta):
    en = (1 - beta ** COUNTS.astype(np.float64)) / (1 - beta)
    w = 1 / en
    return w / w.max()


def _weighted_ce(logits, Y, w):
    q = Y / Y.sum(1, keepdims=True)
    wi = (Y * w).sum(1) / Y.sum(1)
    return (wi * -(q * torch.log_softmax(logits, 1)).sum(1)).mean()


def test_class_balanced_weights():
    w = dh.longtail.class_balanced_weights(COUNTS, 0.99)
    np.testing.assert_allclose(w, _cb(0.99), rtol=1e-6)
    assert w[-1] == 1.0 and np.all(np.diff(w) > 0)
    np.testing.assert_array_equal(dh.longtail.class_balanced_weights(COUNTS, 0.0), 1.0)
    with pytest.raises(dh.DhError):
        dh.longtail.class_balanced_weights(COUNTS, 1.0)
    with pytest.raises(dh.DhError):
        dh.longtail.class_balanced_weights(np.array([3, -1]), 0.9)


def test_lthnet_matches_torch():
    loss = dh.Loss("lthnet", K, C, cb_beta=0.99, quant_weight=0.1)
    loss.init(class_counts=COUNTS)
    U, Y = _batch(1)
    v, dU = loss.forward_backward(U, Y)
    W = torch.tensor(loss.get_tensor("classifier.weight"), dtype=torch.float64,
                     requires_grad=True)
    b = torch.tensor(loss.get_tensor("classifier.bias"), dtype=torch.float64, requires_grad=True)
    u = torch.tensor(U, dtype=torch.float64, requires_grad=True)
    w = torch.tensor(_cb(0.99))
    ref = _weighted_ce(u @ W.T + b, torch.tensor(Y, dtype=torch.float64), w) + \
        0.1 * ((u.abs() - 1) ** 2).mean()
    ref.backward()
    assert v == pytest.approx(ref.item(), rel=1e-5)
    np.testing.assert_allclose(dU, u.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_dualproxy_matches_torch():
    tau, lh, la, lq = 0.3, 0.7, 0.2, 0.05
    loss = dh.Loss("dualproxy", K, C, cb_beta=0.9, tau=tau, center_weight=lh, pair_weight=la,
                   quant_weight=lq)
    loss.init(class_counts=COUNTS)
    U, Y = _batch(2)
    v, dU = loss.forward_backward(U, Y)
    F = torch.tensor(loss.get_tensor("feature_proxies"), dtype=torch.float64, requires_grad=True)
    H = torch.tensor(loss.get_tensor("hash_proxies"), dtype=torch.float64, requires_grad=True)
    u = torch.tensor(U, dtype=torch.float64, requires_grad=True)
    Yt = torch.tensor(Y, dtype=torch.float64)
    w = torch.tensor(_cb(0.9))
    nrm = torch.nn.functional.normalize
    bst = u + (torch.where(u >= 0, 1.0, -1.0) - u).detach()  # sign, straight-through
    h = torch.tanh(H)
    ref = (_weighted_ce(nrm(u, dim=1) @ nrm(F, dim=1).T / tau, Yt, w)
           + lh * _weighted_ce(nrm(bst, dim=1) @ nrm(h, dim=1).T / tau, Yt, w)
           + la * (1 - (nrm(F, dim=1) * nrm(h, dim=1)).sum(1)).mean()
           + lq * ((u.abs() - 1) ** 2).mean())
    ref.backward()
    assert v == pytest.approx(ref.item(), rel=1e-5)
    np.testing.assert_allclose(dU, u.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_methods_listed_and_defaults():
    assert {"lthnet", "dualproxy"} <= set(dh.loss_methods())
    o = dh.Loss("dualproxy", K, C).options()
    assert o["cb_beta"] == pytest.approx(0.999) and o["tau"] == pytest.approx(0.2)
    with pytest.raises(dh.DhError):
        dh.Loss("lthnet", K, C, cb_beta=1.5)


def test_meta_embedding_model(tmp_path):
    r = np.random.default_rng(3)
    x = r.normal(size=(60, 8)).astype(np.float32)
    cls = (np.arange(60) % 3).astype(np.int32)
    x[np.arange(60), cls] += 3
    ds = dh.Dataset.from_features(x, class_ids=cls, n_classes=3)
    m = dh.Model.create("mlp:8-12", n_bits=16)
    assert dh.longtail.meta_classes(m) == 0
    dh.longtail.add_meta_embedding(m, 3)
    assert dh.longtail.meta_classes(m) == 3
    assert not np.any(dh.longtail.class_memory(m))
    loss = dh.Loss("lthnet", 16, 3)
    t = dh.Trainer(m, loss, ds, epochs=3, batch_size=20, optimizer="adam", lr=1e-2)
    events = []
    t.run(callback=dh.longtail.memory_refresher(m, ds, then=lambda p: events.append(p["event"])))
    M = dh.longtail.class_memory(m)
    assert M.shape == (3, 12) and np.all(np.isfinite(M)) and np.any(M)
    p = tmp_path / "m.dhm"
    m.save(str(p))
    m2 = dh.Model.load(str(p))
    assert dh.longtail.meta_classes(m2) == 3
    np.testing.assert_array_equal(m.encode(x), m2.encode(x))
    with pytest.raises(dh.DhError):
        dh.longtail.add_meta_embedding(m2, 3)
    np.testing.assert_array_equal(dh.longtail.class_memory(m2), M)
    with pytest.raises(dh.DhError):
        dh.longtail.update_class_memory(dh.Model.create("mlp:8-12", n_bits=16), ds)

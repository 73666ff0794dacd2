"""dh.Loss: the Python view of dh_loss_* (values, gradients, errors, tensors) checked
against small numpy references and PyTorch-free finite differences."""
import numpy as np
import pytest

import dh

pytestmark = pytest.mark.skipif(not dh.has_training(), reason="search-only libdh")


def _batch(B=10, K=16, C=4, seed=0):
    rng = np.random.default_rng(seed)
    U = rng.uniform(-1.5, 1.5, (B, K)).astype(np.float32)
    y = np.zeros((B, C), np.float32)
    y[np.arange(B), rng.integers(0, C, B)] = 1
    return U, y


def test_methods_listed_and_unknown_method_names_them():
    names = dh.loss_methods()
    assert {"dpsh", "hashnet", "csq", "adsh", "sprch", "twostage"} <= set(names)
    with pytest.raises(dh.DhError) as e:
        dh.Loss("nosuch", 16, 4)
    assert e.value.status == -8 and "csq" in str(e.value)
    with pytest.raises(TypeError):
        dh.Loss("csq", 16, 4, not_an_option=1)


def test_csq_matches_numpy_reference():
    U, y = _batch()
    with dh.Loss("csq", 16, 4) as loss:
        T = loss.get_tensor("centers")
        v, dU = loss.forward_backward(U, y)
        z = U.astype(np.float64)
        t = T[y.argmax(1)].astype(np.float64)
        sp = np.logaddexp(0, 2 * z)
        ref = (sp - z * (t + 1)).mean() + 1e-4 * ((np.abs(np.tanh(z)) - 1) ** 2).mean()
        assert abs(v - ref) < 1e-5
        u = np.tanh(z)
        g = (u - t) / U.size + 1e-4 * 2 / U.size * (np.abs(u) - 1) * np.sign(u) * (1 - u * u)
        np.testing.assert_allclose(dU, g, rtol=1e-4, atol=1e-7)


def test_dch_gradient_by_finite_differences():
    U, y = _batch(seed=3)
    loss = dh.Loss("dch", 16, 4)
    v, dU = loss.forward_backward(U, y)
    rng = np.random.default_rng(1)
    for _ in range(10):
        i, k = rng.integers(0, U.shape[0]), rng.integers(0, U.shape[1])
        Up, Um = U.copy(), U.copy()
        Up[i, k] += 1e-3
        Um[i, k] -= 1e-3
        fd = (loss.forward_backward(Up, y)[0] - loss.forward_backward(Um, y)[0]) / 2e-3
        assert abs(fd - dU[i, k]) < 2e-3 * np.abs(dU).max() + 1e-6


def test_class_ids_equal_one_hot_and_single_label_errors():
    U, y = _batch()
    loss = dh.Loss("greedyhash", 16, 4)
    v1, d1 = loss.forward_backward(U, y)
    v2, d2 = loss.forward_backward(U, class_ids=y.argmax(1).astype(np.int32))
    assert v1 == v2 and np.array_equal(d1, d2)
    y[0, :] = 1
    with pytest.raises(dh.DhError, match="single-label"):
        loss.forward_backward(U, y)
    assert loss.param_names() == ["classifier.weight"]
    assert loss.head_hint() == ("identity", 1.0)
    assert loss.recipe()["optimizer"] == "sgd"


def test_bad_shapes_and_types_are_clear():
    U, y = _batch()
    loss = dh.Loss("hashnet", 16, 4)
    with pytest.raises(TypeError):
        loss.forward_backward(U.astype(np.float64), y)
    with pytest.raises(ValueError):
        loss.forward_backward(U[:, :8].copy(), y)
    with pytest.raises(ValueError):
        loss.forward_backward(U, y[:3].copy())
    U[0, 0] = np.nan
    with pytest.raises(dh.DhError, match="not finite"):
        loss.forward_backward(U, y)
    assert loss.head_hint()[0] == "scaled_tanh"
    assert abs(loss.options()["scale"] - 10 / 16) < 1e-12


def test_adsh_flow_updates_codes():
    rng = np.random.default_rng(0)
    n, K, C = 60, 12, 3
    Y = np.eye(C, dtype=np.float32)[np.arange(n) % C]
    loss = dh.Loss("adsh", K, C, n_train=n)
    loss.init(Y)
    idx = rng.choice(n, 20, replace=False).astype(np.int64)
    U = np.tanh(rng.normal(size=(20, K))).astype(np.float32)
    loss.forward_backward(U, Y[idx], indices=idx)
    loss.update_codes()  # from the cached outputs
    V = loss.get_tensor("codes")
    assert V.shape == (n, K) and set(np.unique(V)) <= {-1.0, 1.0}
    loss.update_codes(U, idx)
    with pytest.raises(dh.DhError):
        loss.update_codes()  # cache was consumed


def test_centers_and_gv_and_twostage():
    T, md = dh.centers_generate(10, 16, dh.loss.CENTERS_HADAMARD)
    assert T.shape == (10, 16) and md == 8
    assert dh.centers_gv_distance(100, 48) == (16, 17)
    T, md = dh.centers_generate(100, 48, dh.loss.CENTERS_GV, seed=3)
    assert md >= 16
    with pytest.raises(dh.DhError):
        dh.centers_generate(40, 16, dh.loss.CENTERS_HADAMARD)
    Y = np.eye(3, dtype=np.float32)[np.arange(30) % 3]
    H = dh.twostage_solve_codes(Y, 8)
    same = (H @ H.T > 0)
    want = (Y @ Y.T > 0)
    assert (same == want).mean() > 0.9

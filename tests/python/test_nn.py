"""dh.Encoder: shapes, forward/backward round trips, determinism, errors."""
import numpy as np
import pytest

import dh

pytestmark = pytest.mark.skipif(not dh.has_training(), reason="search-only build")


def test_shapes_and_repr():
    enc = dh.Encoder("smallcnn", seed=3)
    assert enc.feature_dim == 512
    assert enc.input_shape == (1, 28, 28)
    assert enc.feature_map_shape == (64, 7, 7)
    assert enc.spec == "smallcnn" and "smallcnn" in repr(enc)
    mlp = dh.Encoder("mlp:10-8-4")
    assert mlp.input_shape == (10,) and mlp.feature_dim == 4 and mlp.feature_map_shape is None
    enc.close()
    enc.close()  # idempotent


def test_forward_backward_roundtrip():
    enc = dh.Encoder("smallcnn", in_channels=3, in_height=32, seed=1)
    x = np.random.default_rng(0).standard_normal((4, 3, 32, 32)).astype(np.float32)
    f_eval = enc.forward(x)
    assert f_eval.shape == (4, 512) and np.all(f_eval >= 0)  # ends in ReLU
    f, fmap = enc.forward_fmap(x, training=True)
    assert fmap.shape == (4, 64, 8, 8)
    dx = enc.backward(np.ones_like(f), want_dx=True)
    assert dx.shape == x.shape and np.isfinite(dx).all()
    enc.zero_grad()
    assert enc.backward_fmap(dfmap=np.ones_like(fmap)) is None


def test_same_seed_same_features():
    x = np.random.default_rng(1).standard_normal((3, 8)).astype(np.float32)
    a = dh.Encoder("mlp:8-16", seed=5).forward(x)
    b = dh.Encoder("mlp:8-16", seed=5).forward(x)
    c = dh.Encoder("mlp:8-16", seed=6).forward(x)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_errors_raise_dherror_with_message():
    with pytest.raises(dh.DhError) as e:
        dh.Encoder("vgg11")
    assert "vgg11" in str(e.value)
    with pytest.raises(dh.DhError):
        dh.Encoder("mlp:10--3")
    enc = dh.Encoder("mlp:6-4")
    with pytest.raises(ValueError):
        enc.forward(np.zeros((2, 5), np.float32))
    with pytest.raises(TypeError):
        enc.forward(np.zeros((2, 6), np.float64))
    with pytest.raises(dh.DhError) as e:
        enc.backward(np.zeros((2, 4), np.float32))  # no training forward yet
    assert e.value.status == -10
    with pytest.raises(dh.DhError):
        enc.forward(np.zeros((1, 6), np.float32), training=True)  # BN needs 2 values


def test_inference_is_per_sample():
    """Eval mode uses running statistics: a sample's features do not depend on the
    rest of the batch (agreement with PyTorch is checked by tests/check_nn_golden.c)."""
    enc = dh.Encoder("smallcnn", seed=11)
    x = np.random.default_rng(2).standard_normal((5, 1, 28, 28)).astype(np.float32)
    feats = enc.forward(x)
    feats2 = enc.forward(np.ascontiguousarray(x[:2]))
    assert np.allclose(feats[:2], feats2, rtol=1e-5, atol=1e-6)
    train_feats = enc.forward(x, training=True)  # batch statistics differ
    assert not np.allclose(train_feats, feats)


def _dnnl_isa_line(env_extra):
    """oneDNN's reported ISA when a child process runs one encoder forward."""
    import os
    import subprocess
    import sys
    code = ("import numpy as np, dh; e = dh.Encoder('smallcnn', seed=1); "
            "e.forward(np.zeros((2, 1, 28, 28), np.float32))")
    env = dict(os.environ, ONEDNN_VERBOSE="1", **env_extra)
    env.pop("ONEDNN_MAX_CPU_ISA", None)
    env.pop("DNNL_MAX_CPU_ISA", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120).stdout
    return next((ln for ln in out.splitlines() if ",cpu,isa:" in ln), "")


def test_dh_isa_avx2_caps_onednn():
    """DH_ISA=avx2 makes the encoders run oneDNN's AVX2 kernels (lib/nn/dnnl_shim.c)."""
    if not dh.cpu_has_isa(dh.ISA_AVX2):
        pytest.skip("no AVX2")
    capped = _dnnl_isa_line({"DH_ISA": "avx2"})
    assert capped.endswith("isa:Intel AVX2"), capped
    if dh.cpu_has_isa(dh.ISA_AVX512BW):
        assert "AVX-512" in _dnnl_isa_line({"DH_ISA": ""})


def _resnet_child(layout):
    """resnet18-cifar eval forward in a child: (features, oneDNN conv exec lines)."""
    import os
    import subprocess
    import sys
    code = ("import numpy as np, sys, dh; e = dh.Encoder('resnet18-cifar', seed=1); "
            "x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32); "
            "np.save(sys.argv[1], e.forward(x))")
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "f.npy")
        env = dict(os.environ, ONEDNN_VERBOSE="1")
        env.pop("DH_NN_CONV_LAYOUT", None)
        if layout:
            env["DH_NN_CONV_LAYOUT"] = layout
        r = subprocess.run([sys.executable, "-c", code, out], env=env, capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        convs = [ln for ln in r.stdout.splitlines() if ",exec," in ln and ",convolution," in ln]
        return np.load(out), convs


def test_inference_convs_share_one_blocked_layout():
    """Inference plans keep every convolution with 8/16-aligned channels in one blocked
    layout (lib/nn/ops_conv.c conv_block_tag): no NHWC convolutions between blocked
    ones, and the same features as oneDNN's own layout choice."""
    if not dh.cpu_has_isa(dh.ISA_AVX2):
        pytest.skip("no AVX2")
    f_blk, convs = _resnet_child(None)
    f_any, _ = _resnet_child("any")
    np.testing.assert_allclose(f_blk, f_any, rtol=1e-4, atol=1e-5)
    inner = [ln for ln in convs if "_ic3oc" not in ln]  # the 3-channel stem may differ
    assert inner and not [ln for ln in inner if "src_f32::blocked:acdb" in ln], inner[:3]

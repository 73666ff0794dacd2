"""dh.model: Model create/encode/save/load/load_backbone, files readable without
libdh (numpy + json), and the Optimizer against torch.optim when torch exists."""
import json
import struct

import numpy as np
import pytest

import dh

pytestmark = pytest.mark.skipif(not dh.has_training(), reason="search-only build")
if dh.has_training():
    from dh.model import Model, Optimizer, schedule_lr


def read_safetensors(path):
    """A few lines of numpy/json: what any reader needs (no libdh)."""
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    dtypes = {"F32": np.float32, "I64": np.int64}
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + b:8 + n + end], dtypes[e["dtype"]]).reshape(e["shape"])
    return out, meta


def mlp(head="tanh"):
    return Model.create("mlp:10-16", n_bits=20, head=head, seed=3)


def test_encode_codes_are_packed_signs():
    m = mlp()
    x = np.random.default_rng(0).standard_normal((7, 10)).astype(np.float32)
    codes, u = m.encode(x, return_continuous=True)
    assert codes.shape == (7, 3) and u.shape == (7, 20)
    want = np.packbits(u >= 0, axis=1, bitorder="little")
    assert np.array_equal(codes, want)
    assert np.array_equal(m.encode(x), codes)
    with pytest.raises(dh.DhError) as e:
        m.encode(np.zeros((2, 11), np.float32))
    assert e.value.status == -3  # DH_E_SHAPE


def test_save_is_plain_safetensors_and_load_roundtrips(tmp_path):
    m = mlp("bn")
    m.set_tensor("loss.centers", np.arange(40, dtype=np.float32).reshape(2, 20))
    m.set_metadata("loss", "csq")
    p = tmp_path / "m.safetensors"
    m.save(p)
    tensors, meta = read_safetensors(p)
    assert meta["format"] == "libdh-model" and meta["encoder"] == "mlp:10-16"
    assert meta["n_bits"] == "20" and meta["head"] == "bn" and meta["loss"] == "csq"
    assert tensors["head.weight"].shape == (20, 16)
    assert tensors["head.bn.num_batches_tracked"].dtype == np.int64
    assert np.array_equal(tensors["loss.centers"][1], np.arange(20, 40, dtype=np.float32))
    x = np.random.default_rng(1).standard_normal((5, 10)).astype(np.float32)
    m2 = Model.load(p)
    assert np.array_equal(m2.encode(x), m.encode(x))
    assert m2.get_metadata("loss") == "csq" and m2.get_metadata("nope") is None
    assert np.array_equal(m2.get_tensor("loss.centers"), tensors["loss.centers"])
    bad = bytearray(open(p, "rb").read())
    open(tmp_path / "t.safetensors", "wb").write(bad[:-4])
    with pytest.raises(dh.DhError) as e:
        Model.load(tmp_path / "t.safetensors")
    assert e.value.status == -4 and "data section" in str(e.value)


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for k, v in tensors.items():
        b = np.ascontiguousarray(v).tobytes()
        header[k] = {"dtype": {np.float32: "F32", np.int64: "I64"}[v.dtype.type],
                     "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def test_load_backbone_from_python_written_file(tmp_path):
    src = mlp()
    p = tmp_path / "full.safetensors"
    src.save(p)
    tensors, _ = read_safetensors(p)
    backbone = {k: v for k, v in tensors.items() if not k.startswith("head.")}
    backbone["fc.weight"] = np.ones((3, 3), np.float32)  # a classifier the encoder lacks
    write_safetensors(tmp_path / "bb.safetensors", backbone)
    dst = Model.create("mlp:10-16", n_bits=20, seed=99)
    loaded, ignored = dst.load_backbone(tmp_path / "bb.safetensors")
    assert loaded == len(backbone) - 1 and ignored == 1
    with pytest.raises(dh.DhError):
        dst.load_backbone(tmp_path / "bb.safetensors", strict=True)
    wrong = dict(backbone)
    k = next(k for k in wrong if k.endswith("weight") and wrong[k].ndim == 2)
    wrong[k] = np.zeros((wrong[k].shape[0] + 1, wrong[k].shape[1]), np.float32)
    write_safetensors(tmp_path / "wrong.safetensors", wrong)
    with pytest.raises(dh.DhError) as e:
        dst.load_backbone(tmp_path / "wrong.safetensors")
    assert e.value.status == -3 and k in str(e.value)


def test_uint8_images_smallcnn():
    m = Model.create("smallcnn", n_bits=16, input_shape=(1, 28, 28), mean=[0.5], std=[0.25])
    assert m.input_shape == (1, 28, 28)
    img = np.random.default_rng(2).integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)
    codes, u = m.encode(img, return_continuous=True)
    x = ((img.astype(np.float32) / 255 - 0.5) / 0.25).transpose(0, 3, 1, 2).copy()
    codes2, u2 = m.encode(x, return_continuous=True)
    assert np.allclose(u, u2, atol=1e-4)
    with pytest.raises(dh.DhError):
        m.encode(np.zeros((1, 32, 32, 1), np.uint8))


def test_scaled_tanh_beta():
    m = Model.create("mlp:10-16", n_bits=8, head="scaled_tanh", head_beta=2.0)
    assert m.head_beta == 2.0
    m.head_beta = 5.0
    assert m.head_beta == 5.0


def test_schedule_values():
    assert schedule_lr(0, lr=0.1, schedule="step", step_size=3, gamma=0.5) == 0.1
    assert abs(schedule_lr(6, lr=0.1, schedule="step", step_size=3, gamma=0.5) - 0.025) < 1e-15
    assert schedule_lr(100, lr=0.1, schedule="cosine", t_max=10, eta_min=0.0) == 0.0


def test_optimizer_matches_torch_adamw():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x0 = rng.standard_normal(50).astype(np.float32)
    grads = [rng.standard_normal(50).astype(np.float32) for _ in range(5)]
    data, grad = x0.copy(), np.zeros(50, np.float32)
    opt = Optimizer("adamw", lr=1e-2, weight_decay=0.1)
    opt.add_param("w", data, grad)
    p = torch.nn.Parameter(torch.from_numpy(x0.copy()))
    topt = torch.optim.AdamW([p], lr=1e-2, weight_decay=0.1, foreach=False)
    for g in grads:
        grad[:] = g
        opt.step()
        p.grad = torch.from_numpy(g.copy())
        topt.step()
    assert opt.step_count == 5
    np.testing.assert_allclose(data, p.detach().numpy(), rtol=2e-6, atol=1e-7)


def test_optimizer_with_model_changes_codes():
    m = mlp()
    opt = Optimizer("sgd", lr=0.5)
    opt.add_model(m)
    with pytest.raises(dh.DhError):
        Optimizer("sgd", lr=-1.0)
    opt.zero_grad()
    opt.step()  # zero gradients: SGD without decay leaves the weights unchanged
    assert opt.step_count == 1

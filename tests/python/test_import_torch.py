"""A trained PyTorch hashing model brought in whole: a tiny torch model (libdh's mlp
encoder layout + a hash layer, or OrthoHash's hash_fc + BatchNorm1d) is trained a few
steps, converted by scripts/torch2safetensors.py model, loaded with
Model.load_weights, and libdh's continuous outputs and codes equal torch's (eval mode)."""
import os
import subprocess
import sys

import numpy as np
import pytest

import dh

pytestmark = pytest.mark.skipif(not dh.has_training(), reason="search-only build")
torch = pytest.importorskip("torch")
nn = torch.nn
SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "torch2safetensors.py")
D_IN, WIDTHS, K = 16, (32, 24), 12


class Net(nn.Module):
    """libdh's mlp:16-32-24 (fc_i, bn_i, relu) plus a hash layer."""

    def __init__(self, bn_head):
        super().__init__()
        dims = (D_IN,) + WIDTHS
        for i in range(1, len(dims)):
            setattr(self, f"fc{i}", nn.Linear(dims[i - 1], dims[i]))
            setattr(self, f"bn{i}", nn.BatchNorm1d(dims[i]))
        self.bn_head = bn_head
        if bn_head:  # OrthoHash: hash_fc = Linear + BatchNorm1d, a cosine classifier ce_fc
            self.hash_fc = nn.Sequential(nn.Linear(WIDTHS[-1], K), nn.BatchNorm1d(K))
            self.ce_fc = nn.Linear(K, 3, bias=False)
        else:  # DeepHash-pytorch: hash_layer, tanh
            self.hash_layer = nn.Linear(WIDTHS[-1], K)

    def forward(self, x):
        for i in range(1, len(WIDTHS) + 1):
            x = torch.relu(getattr(self, f"bn{i}")(getattr(self, f"fc{i}")(x)))
        return self.hash_fc(x) if self.bn_head else torch.tanh(self.hash_layer(x))


def trained(bn_head, seed=0):
    torch.manual_seed(seed)
    net = Net(bn_head)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(256, D_IN)
    for _ in range(30):  # moves the weights and the BN running statistics
        opt.zero_grad()
        u = net(x)
        (u - torch.sign(x[:, :K])).pow(2).mean().backward()
        opt.step()
    return net.eval()


def convert(tmp_path, net, *args):
    pth, out = tmp_path / "m.pth", tmp_path / "m.safetensors"
    torch.save(net.state_dict(), pth)
    r = subprocess.run([sys.executable, SCRIPT, "model", str(pth), str(out), *args],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.parametrize("bn_head", [False, True])
def test_torch_model_imported_whole(tmp_path, bn_head):
    net = trained(bn_head)
    st = convert(tmp_path, net, "--preset", "orthohash" if bn_head else "hash-layer")
    m = dh.Model.create("mlp:16-32-24", n_bits=K, head="bn" if bn_head else "tanh")
    loaded, ignored = m.load_weights(st, strict=True)
    # fc1,bn1 (5 tensors each bn), fc2, bn2, head (+ bn): every model tensor from the file
    assert loaded == (2 * 2 + 2 * 5 + (1 + 5 if bn_head else 2)) and ignored == 0
    x = np.random.default_rng(1).standard_normal((64, D_IN)).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    codes, u = m.encode(x, return_continuous=True)
    np.testing.assert_allclose(u, ref, rtol=1e-5, atol=1e-5)
    ref_codes = np.packbits((ref >= 0).astype(np.uint8), axis=1, bitorder="little")
    assert np.array_equal(codes, ref_codes)
    # saved and reloaded, the model encodes the same
    m.save(tmp_path / "libdh.safetensors")
    assert np.array_equal(dh.Model.load(tmp_path / "libdh.safetensors").encode(x), codes)


def test_load_weights_errors_name_the_tensor(tmp_path):
    net = trained(False)
    st = convert(tmp_path, net)                      # default preset: hash-layer
    wrong = dh.Model.create("mlp:16-32-24", n_bits=K + 4, head="tanh")
    x = np.random.default_rng(2).standard_normal((8, D_IN)).astype(np.float32)
    before = wrong.encode(x, return_continuous=True)[1]
    with pytest.raises(dh.DhError, match="head.weight"):
        wrong.load_weights(st)
    # nothing was loaded: the encoder tensors matched, but the file did not fit as a whole
    np.testing.assert_array_equal(before, wrong.encode(x, return_continuous=True)[1])
    # a key map that leaves the hash layer unmapped: the head is missing (named), and
    # partial mode keeps the head's values while loading the encoder
    st2 = convert(tmp_path, net, "--preset", "none")
    m = dh.Model.create("mlp:16-32-24", n_bits=K, head="tanh")
    with pytest.raises(dh.DhError, match="head.weight"):
        m.load_weights(st2)
    with pytest.raises(dh.DhError, match="hash_layer"):
        m.load_weights(st2, strict=True, allow_missing=True)
    loaded, ignored = m.load_weights(st2, allow_missing=True)
    assert loaded == 14 and ignored == 2


def test_dh_import_command(tmp_path):
    build = os.environ.get("DH_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                        "build"))
    tool = os.path.join(build, "src", "dh")
    if not os.path.exists(tool):
        pytest.skip("dh tool not built")
    net = trained(True, seed=3)
    st = convert(tmp_path, net, "--preset", "orthohash")
    out = tmp_path / "imported.safetensors"
    r = subprocess.run([tool, "import", str(st), "-o", str(out), "--encoder", "mlp:16-32-24",
                        "--bits", str(K), "--head", "bn", "--strict"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    assert "20 tensors loaded, 0 in the file not used" in r.stderr
    x = np.random.default_rng(4).standard_normal((32, D_IN)).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    codes, u = dh.Model.load(out).encode(x, return_continuous=True)
    np.testing.assert_allclose(u, ref, rtol=1e-5, atol=1e-5)
    # a wrong code length fails, names the tensor, and writes nothing
    bad = tmp_path / "bad.safetensors"
    r = subprocess.run([tool, "import", str(st), "-o", str(bad), "--encoder", "mlp:16-32-24",
                        "--bits", "16", "--head", "bn"], capture_output=True, text=True)
    assert r.returncode == 1 and "head.weight" in r.stderr and not bad.exists()

"""The C examples on generated miniature data sets in the real formats: a CIFAR-10
binary folder and a NUS-WIDE-style image list with PNG files and a pretrained-weights
safetensors file. The Fashion-MNIST example runs on the packaged data set when
DH_SLOW_TESTS is set (the quick demo covers that path otherwise)."""
import os
import re
import struct
import subprocess
import zlib

import numpy as np
import pytest

BUILD = os.environ.get("DH_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
EX = os.path.join(BUILD, "examples")

pytestmark = pytest.mark.skipif(not os.path.exists(os.path.join(EX, "cifar10_retrieval")),
                                reason="examples not built")


def run(*args):
    r = subprocess.run([*map(str, args)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def class_image(rng, c, size, channels=3):
    """A noisy image whose colour and stripe direction depend on the class."""
    img = rng.integers(0, 60, size=(size, size, channels)).astype(np.int32)
    img[..., c % channels] += 120
    if c >= channels:
        img[::4, :, :] += 60
    if c >= 2 * channels:
        img[:, ::4, :] += 60
    return np.clip(img, 0, 255).astype(np.uint8)


def write_png(path, img):
    h, w, c = img.shape
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))

    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))
    color = {1: 0, 3: 2}[c]
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    path.write_bytes(png)


def test_cifar10_example_on_miniature_folder(tmp_path):
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    for name in names:
        rows = []
        for k in range(60):
            c = k % 10
            img = class_image(rng, c, 32)  # HWC -> CIFAR's planar CHW
            rows.append(bytes([c]) + img.transpose(2, 0, 1).tobytes())
        (tmp_path / name).write_bytes(b"".join(rows))
    out = run(os.path.join(EX, "cifar10_retrieval"), tmp_path, "--bits", 16, "--epochs", 4,
              "--small", "5,15")
    assert "50 query" in out and "150 train" in out
    m = float(re.search(r"mAP@all = ([0-9.]+)", out).group(1))
    assert m > 0.3, out  # chance is 0.1


def test_nuswide_example_on_miniature_list_with_weights(tmp_path):
    import dh
    rng = np.random.default_rng(1)
    C = 5
    (tmp_path / "img").mkdir()
    lines = []
    for i in range(150):
        c = i % C
        labels = np.zeros(C, dtype=int)
        labels[c] = 1
        if i % 3 == 0:
            labels[(c + 1) % C] = 1  # multi-label rows
        write_png(tmp_path / "img" / f"{i:04d}.png", class_image(rng, c, 40))
        lines.append(f"img/{i:04d}.png " + " ".join(map(str, labels)))
    (tmp_path / "list.txt").write_text("\n".join(lines) + "\n")
    # "pretrained" weights: a resnet18 saved by libdh has torchvision tensor names
    weights = tmp_path / "resnet18.safetensors"
    m = dh.Model.create(encoder="resnet18", n_bits=16, input_shape=(3, 32, 32))
    m.save(str(weights))
    out = run(os.path.join(EX, "nuswide_retrieval"), tmp_path / "list.txt", tmp_path, "--weights",
              weights, "--bits", 16, "--epochs", 2, "--size", 32, "--small", "4,12")
    assert re.search(r"loaded 1[0-9][0-9] pretrained tensors", out), out
    assert "20 query" in out
    m = float(re.search(r"mAP@\d+ = ([0-9.]+)", out).group(1))
    assert 0.0 < m <= 1.0


@pytest.mark.skipif(not os.environ.get("DH_SLOW_TESTS"), reason="set DH_SLOW_TESTS=1")
def test_fashion_mnist_example():
    out = run(os.path.join(EX, "fashion_mnist_retrieval"), 1)
    assert float(re.search(r"mAP@all = ([0-9.]+)", out).group(1)) > 0.5


def _have(mod):
    try:
        __import__(mod)
        return True
    except ImportError:
        return False


@pytest.mark.skipif(not (_have("matplotlib") and _have("sklearn")),
                    reason="python3-matplotlib and python3-sklearn not installed")
@pytest.mark.skipif(not os.path.isdir("/usr/share/datasets/fashion-mnist"),
                    reason="dataset-fashion-mnist not installed")
def test_python_example_plots_pr_curve_and_tsne(tmp_path):
    script = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "python",
                          "train_and_search.py")
    import sys
    out = run(sys.executable, script, "--quick", "--epochs", 1, "--out", tmp_path / "pr.png",
              "--tsne", tmp_path / "tsne.png")
    assert "mAP@all" in out
    for f in ("pr.png", "tsne.png"):
        assert (tmp_path / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

"""Pictures drawn by the dh tool (cairo + pango): the PR chart, and the t-SNE / PCA maps of
codes coloured by class. The maps must place each cluster of codes apart: every class
colour of the palette is present, and the classes' pixel centroids are far apart."""
import os
import subprocess

import numpy as np
import pytest

BUILD = os.environ.get("DH_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
DH = os.path.join(BUILD, "src", "dh")
pytestmark = pytest.mark.skipif(not os.path.exists(DH), reason="dh tool not built")
mpimg = pytest.importorskip("matplotlib.image")

# chart.c's palette (Tableau 10), first three colours, 0..255
PALETTE = np.array([[31, 119, 180], [255, 127, 14], [44, 160, 44]], dtype=float)


def clustered_codes(tmp_path, n=300, K=64, C=3, flips=3, seed=5):
    rng = np.random.default_rng(seed)
    centers = rng.integers(0, 2, size=(C, K))
    y = np.arange(n) % C
    bits = centers[y].copy()
    for i in range(n):
        bits[i, rng.choice(K, flips, replace=False)] ^= 1
    packed = np.packbits(bits.astype(np.uint8), axis=1, bitorder="little")
    np.save(tmp_path / "c.npy", packed)
    np.save(tmp_path / "y.npy", y.astype(np.int32))
    return y


def run_eval(tmp_path, *extra):
    r = subprocess.run([DH, "eval", "--query-codes", tmp_path / "c.npy", "--db-codes",
                        tmp_path / "c.npy", "--query-labels", tmp_path / "y.npy", "--db-labels",
                        tmp_path / "y.npy", *map(str, extra)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    return r


def class_centroids(png):
    img = mpimg.imread(str(png))[..., :3] * 255.0
    cents = []
    for col in PALETTE:
        mask = np.abs(img - col).max(axis=2) < 40
        assert mask.sum() > 50, f"colour {col} missing from {png}"
        ys, xs = np.nonzero(mask)
        cents.append((xs.mean(), ys.mean()))
    return np.array(cents), img.shape


@pytest.mark.parametrize("flag", ["--tsne-png", "--pca-png"])
def test_code_map_separates_clusters(tmp_path, flag):
    clustered_codes(tmp_path)
    png = tmp_path / "map.png"
    run_eval(tmp_path, flag, png, "--map-points", 300)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    cents, shape = class_centroids(png)
    # legend swatches are small; the clusters dominate each colour's centroid
    d = np.linalg.norm(cents[:, None] - cents[None], axis=2)
    assert d[np.triu_indices(3, 1)].min() > 0.08 * min(shape[:2]), d


def test_pr_chart_is_drawn(tmp_path):
    clustered_codes(tmp_path)
    png = tmp_path / "pr.png"
    run_eval(tmp_path, "--pr-png", png)
    img = mpimg.imread(str(png))
    assert img.shape[0] >= 500 and img.shape[1] >= 700
    # the curve's colour (palette 0) is drawn, and the margins are white (nothing clipped)
    rgb = img[..., :3] * 255.0
    assert (np.abs(rgb - PALETTE[0]).max(axis=2) < 40).sum() > 200
    assert np.all(rgb[:, :3] > 250) and np.all(rgb[:, -3:] > 250)

"""DeepHash-pytorch interop in `dh eval`: its saved-code folder (tst/trn_binary.npy as ±1
float rows, tst/trn_label.npy as multi-hot floats) read with --deephash-dir, and its PR-by-
rank JSON ({"index", "P", "R"}, pr_curve's definition) written with --pr-rank-json; both
checked against numpy implementations of DeepHash-pytorch's formulas (stable tie order)."""
import json
import os
import subprocess

import numpy as np
import pytest

BUILD = os.environ.get("DH_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
DH = os.path.join(BUILD, "src", "dh")
pytestmark = pytest.mark.skipif(not os.path.exists(DH), reason="dh tool not built")


def deephash_dir(d, nq=60, nd=700, K=32, C=5, seed=3):
    rng = np.random.default_rng(seed)
    centers = rng.choice([-1.0, 1.0], size=(C, K))
    def part(n):
        y = rng.integers(0, C, size=n)
        B = centers[y] * np.where(rng.random((n, K)) < 0.2, -1.0, 1.0)
        L = np.eye(C, dtype=np.float32)[y]
        L[rng.random(n) < 0.1, (y[:1] + 1) % C] = 1.0   # some multi-label rows
        return B.astype(np.float32), L
    qB, qL = part(nq)
    rB, rL = part(nd)
    for name, a in (("tst_binary", qB), ("trn_binary", rB), ("tst_label", qL), ("trn_label", rL)):
        np.save(os.path.join(d, name + ".npy"), a)
    return qB, qL, rB, rL


def ranking(qB, rB):
    K = qB.shape[1]
    ham = 0.5 * (K - qB @ rB.T)
    return np.argsort(ham, axis=1, kind="stable")           # ties in database order


def test_deephash_dir_and_pr_rank_json(tmp_path):
    qB, qL, rB, rL = deephash_dir(str(tmp_path))
    r = subprocess.run([DH, "eval", "--deephash-dir", tmp_path, "--json", "--pr-rank-json",
                        tmp_path / "pr.json", "--pr-rank-at", "1,10,100,500,700,5000"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    rank = ranking(qB, rB)
    gnd = (qL @ rL.T > 0).astype(np.float64)
    # CalcTopMap over the whole database
    aps = []
    for i in range(len(qB)):
        g = gnd[i][rank[i]]
        if g.sum() == 0:
            aps.append(0.0)
            continue
        pos = np.nonzero(g)[0] + 1.0
        aps.append(np.mean(np.arange(1, len(pos) + 1) / pos))
    assert abs(out["map"] - np.mean(aps)) < 1e-9, (out["map"], np.mean(aps))
    pr = json.loads((tmp_path / "pr.json").read_text())
    assert pr["index"] == [1, 10, 100, 500, 700]            # 5000 > n_db is dropped
    for j, k in enumerate(pr["index"]):                      # DeepHash-pytorch's pr_curve
        hits = np.array([gnd[i][rank[i][:k]].sum() for i in range(len(qB))])
        tot = gnd.sum(axis=1)
        P = np.where(tot > 0, hits / k, 0.0).mean()
        R = np.where(tot > 0, hits / np.maximum(tot, 1), 0.0).mean()
        assert abs(pr["P"][j] - P) < 1e-9 and abs(pr["R"][j] - R) < 1e-9, (k, pr, P, R)


def test_deephash_dir_errors(tmp_path):
    deephash_dir(str(tmp_path))
    os.remove(tmp_path / "trn_label.npy")
    r = subprocess.run([DH, "eval", "--deephash-dir", tmp_path], capture_output=True, text=True)
    assert r.returncode != 0 and "trn_label.npy" in r.stderr
    r = subprocess.run([DH, "eval", "--deephash-dir", tmp_path, "--query-codes", "x.npy"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "all four" in r.stderr

"""dh.eval against a numpy reference evaluator (stable argsort per query), plus the
tie-aware mode against brute force over database orders, conventions and errors."""
import itertools

import numpy as np
import pytest

import dh

E = dh.eval


def make(seed, nq=30, nd=400, bits=32, classes=5, flip=0.15, multi=False):
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 2, (classes, bits), dtype=np.uint8)
    ql, dl = rng.integers(0, classes, nq), rng.integers(0, classes, nd)
    qb = centres[ql] ^ (rng.random((nq, bits)) < flip)
    db = centres[dl] ^ (rng.random((nd, bits)) < flip)
    if multi:
        ql = (np.eye(classes, dtype=np.uint8)[ql] | (rng.random((nq, classes)) < 0.2)).astype(np.uint8)
        dl = (np.eye(classes, dtype=np.uint8)[dl] | (rng.random((nd, classes)) < 0.2)).astype(np.uint8)
        ql[0] = 0  # a query without labels
    else:
        ql, dl = ql.astype(np.int32), dl.astype(np.int32)
    return qb.astype(np.uint8), db.astype(np.uint8), ql, dl


def pack(bits):
    return np.packbits(bits, axis=1, bitorder="little")


def relevance(ql, dl):
    if ql.ndim == 1:
        return (ql[:, None] == dl[None, :]) & (ql[:, None] >= 0)
    return (ql.astype(np.int64) @ dl.T.astype(np.int64)) > 0


def reference(qb, db, ql, dl, topk=None, ns=(), radius=2, no_relevant="zero"):
    """Sort-based evaluator: stable argsort by Hamming distance (database order in ties)."""
    dist = (qb[:, None, :] != db[None, :, :]).sum(-1)
    rel = relevance(ql, dl)
    nd = db.shape[0]
    k = topk or nd
    ap, p, r, prp, prr, ball = [], [], [], [], [], []
    for q in range(qb.shape[0]):
        order = np.argsort(dist[q], kind="stable")
        rr = rel[q][order]
        R = rr.sum()
        hits = np.cumsum(rr[:k])
        # precision at each hit, added left to right (as CalcTopMap's loop does)
        prec = (hits / np.arange(1, k + 1))[rr[:k]]
        a = np.cumsum(prec)[-1] / hits[-1] if hits[-1] else 0.0
        labeled = ql[q] >= 0 if ql.ndim == 1 else ql[q].any()
        in_map = {"zero": True, "skip": hits[-1] > 0, "skip_unlabeled": labeled}[no_relevant]
        ap.append(a if in_map else np.nan)
        if not {"zero": True, "skip": R > 0, "skip_unlabeled": labeled}[no_relevant]:
            continue
        cum = np.cumsum(rr)
        p.append([cum[n - 1] / n for n in ns])
        r.append([cum[n - 1] / R if R else 0.0 for n in ns])
        ret = np.array([(dist[q] <= h).sum() for h in range(qb.shape[1] + 1)])
        hit = np.array([(rel[q] & (dist[q] <= h)).sum() for h in range(qb.shape[1] + 1)])
        prp.append(np.where(ret > 0, hit / np.maximum(ret, 1), 0.0))
        prr.append(hit / R if R else np.zeros_like(ret, dtype=float))
        ball.append((prp[-1][radius], prr[-1][radius], ret[radius] == 0))
    ap = np.array(ap)
    mean = lambda v: np.mean(v, axis=0) if len(v) else 0.0  # noqa: E731
    return {"map": float(np.nanmean(ap)) if np.any(~np.isnan(ap)) else 0.0, "ap": ap,
            "p": mean(p), "r": mean(r), "prp": mean(prp), "prr": mean(prr),
            "ball": mean(np.array(ball, dtype=float))}


@pytest.mark.parametrize("bits,multi,topk,policy", [
    (8, False, None, "zero"), (16, False, 50, "skip"), (32, True, None, "skip_unlabeled"),
    (64, True, 7, "zero"), (24, False, 400, "skip"), (128, True, None, "skip")])
def test_matches_numpy_reference(bits, multi, topk, policy):
    qb, db, ql, dl = make(bits + int(multi), bits=bits, multi=multi)
    ns = [1, 10, 400, 77]
    want = reference(qb, db, ql, dl, topk=topk, ns=ns, no_relevant=policy)
    got = E.evaluate(pack(qb), pack(db), ql, dl, topk=topk, ns=ns, no_relevant=policy,
                     per_query=True)
    np.testing.assert_array_equal(got["ap"], want["ap"])  # bit-identical, NaN where skipped
    assert got["map"] == pytest.approx(want["map"], abs=1e-12)
    np.testing.assert_allclose([got["precision_at_n"][n] for n in ns], want["p"], atol=1e-12)
    np.testing.assert_allclose([got["recall_at_n"][n] for n in ns], want["r"], atol=1e-12)
    np.testing.assert_allclose(got["pr_precision"], want["prp"], atol=1e-12)
    np.testing.assert_allclose(got["pr_recall"], want["prr"], atol=1e-12)
    np.testing.assert_allclose([got["ball_precision"], got["ball_recall"],
                                got["ball_empty_fraction"]], want["ball"], atol=1e-12)


def test_single_functions_agree_with_evaluate():
    qb, db, ql, dl = make(3)
    q, d = pack(qb), pack(db)
    full = E.evaluate(q, d, ql, dl, topk=100, ns=[5, 50], radius=3)
    assert E.mean_average_precision(q, d, ql, dl, topk=100) == full["map"]
    p, r = E.precision_at_n(q, d, ql, dl, [5, 50])
    assert list(p) == [full["precision_at_n"][5], full["precision_at_n"][50]]
    assert list(r) == [full["recall_at_n"][5], full["recall_at_n"][50]]
    curve = E.pr_curve(q, d, ql, dl)
    np.testing.assert_array_equal(curve.precision, full["pr_precision"])
    assert list(curve.x) == list(range(33))
    ball = E.hamming_ball(q, d, ql, dl, radius=3)
    assert ball == {"precision": full["ball_precision"], "recall": full["ball_recall"],
                    "empty_fraction": full["ball_empty_fraction"]}
    by_rank = E.pr_curve(q, d, ql, dl, by="rank", points=[5, 50])
    np.testing.assert_array_equal(by_rank.precision, p)
    default_rank = E.pr_curve(q, d, ql, dl, by="rank")
    assert list(default_rank.x) == [100, 200, 300, 400]


def test_sign_rows_bool_and_float_labels_give_the_same_result():
    qb, db, ql, dl = make(4, multi=True)
    base = E.mean_average_precision(pack(qb), pack(db), ql, dl)
    signs = lambda b, t: (2 * b.astype(np.int64) - 1).astype(t)  # noqa: E731
    for t in (np.float32, np.float64, np.int8):
        assert E.mean_average_precision(signs(qb, t), signs(db, t), ql, dl) == base
    assert E.mean_average_precision(qb.astype(bool), db.astype(bool), ql, dl) == base
    assert E.mean_average_precision(pack(qb), pack(db), ql.astype(bool), dl.astype(np.float32)) == base


def test_expected_ties_equal_mean_over_database_orders():
    rng = np.random.default_rng(9)
    qb = rng.integers(0, 2, (3, 8)).astype(np.uint8)
    qb[:, 3:] = 0
    db = np.zeros((6, 8), np.uint8)
    db[:, :3] = rng.integers(0, 2, (6, 3))  # distances 0..3 only: large ties
    ql, dl = rng.integers(0, 2, 3).astype(np.int32), rng.integers(0, 3, 6).astype(np.int32)
    for k in (None, 2, 4):
        aps = []
        for perm in itertools.permutations(range(6)):
            perm = list(perm)
            aps.append(E.mean_average_precision(pack(qb), pack(db[perm]), ql, dl[perm],
                                                topk=k, per_query=True)[1])
        _, exp = E.mean_average_precision(pack(qb), pack(db), ql, dl, topk=k,
                                          ties="expected", per_query=True)
        np.testing.assert_allclose(exp, np.mean(aps, axis=0), atol=1e-12)


def test_threads_do_not_change_results():
    qb, db, ql, dl = make(5, nq=64, nd=3000)
    a = E.evaluate(pack(qb), pack(db), ql, dl, per_query=True, n_threads=1)
    b = E.evaluate(pack(qb), pack(db), ql, dl, per_query=True, n_threads=2)
    np.testing.assert_array_equal(a["ap"], b["ap"])
    assert a["map"] == b["map"] and a["precision_at_n"] == b["precision_at_n"]


def test_progress_callback_and_stop():
    qb, db, ql, dl = make(6, nq=400, nd=2000)
    seen = []
    E.mean_average_precision(pack(qb), pack(db), ql, dl, progress=seen.append)
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(dh.DhError) as e:
        E.mean_average_precision(pack(qb), pack(db), ql, dl, progress=lambda f: True)
    assert e.value.status == -11  # DH_E_INTERRUPTED

    def boom(f):
        raise KeyError("from the callback")
    with pytest.raises(KeyError):
        E.mean_average_precision(pack(qb), pack(db), ql, dl, progress=boom)


def test_errors_name_the_argument():
    qb, db, ql, dl = make(7)
    q, d = pack(qb), pack(db)
    with pytest.raises(dh.DhError, match="topk") as e:
        E.mean_average_precision(q, d, ql, dl, topk=401)
    assert e.value.status == -1
    with pytest.raises(dh.DhError, match="ns\\[0\\] = 0"):
        E.precision_at_n(q, d, ql, dl, [0])
    with pytest.raises(dh.DhError, match="radius"):
        E.hamming_ball(q, d, ql, dl, radius=33)
    with pytest.raises(ValueError, match="bits"):
        E.mean_average_precision(q, d[:, :2], ql, dl)
    with pytest.raises(ValueError, match="codes but"):
        E.mean_average_precision(q, d, ql[:5], dl)
    with pytest.raises(ValueError, match="ties"):
        E.mean_average_precision(q, d, ql, dl, ties="random")
    with pytest.raises(TypeError, match="class ids"):
        E.mean_average_precision(q, d, ql.astype(np.float32), dl)
    with pytest.raises(TypeError, match="codes must be"):
        E.mean_average_precision(q.astype(np.int32), d, ql, dl)
    with pytest.raises(dh.DhError, match="NaN"):
        E.mean_average_precision(q, d, np.full((30, 2), np.nan, np.float32),
                                 np.ones((400, 2), np.float32))


def _cli():
    import os
    build = os.environ.get("DH_BUILD_DIR")
    path = os.path.join(build, "src", "dh") if build else None
    if not path or not os.path.exists(path):
        pytest.skip("the dh tool is not built (DH_BUILD_DIR unset or no src/dh)")
    return path


def test_cli_json_and_csv_match_the_bindings(tmp_path):
    import json
    import subprocess
    dh_tool = _cli()
    qb, db, ql, dl = make(11, nq=40, nd=500, bits=32)
    files = {"q": pack(qb), "d": (2.0 * db - 1).astype(np.float32), "ql": ql,
             "dl": dl.astype(np.int64)}
    for k, v in files.items():
        np.save(tmp_path / f"{k}.npy", v)
    csv = tmp_path / "pr.csv"
    cmd = [dh_tool, "eval", "--query-codes", str(tmp_path / "q.npy"), "--db-codes",
           str(tmp_path / "d.npy"), "--query-labels", str(tmp_path / "ql.npy"),
           "--db-labels", str(tmp_path / "dl.npy"), "--topk", "100", "--ties", "expected",
           "--at", "10,500", "--radius", "3", "--pr-csv", str(csv), "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    got = json.loads(out)
    want = E.evaluate(pack(qb), pack(db), ql, dl, topk=100, ties="expected", ns=[10, 500],
                      radius=3)
    assert got["map"] == want["map"] and got["topk"] == 100 and got["ties"] == "expected"
    assert got["precision_at_n"] == {"10": want["precision_at_n"][10],
                                     "500": want["precision_at_n"][500]}
    assert got["ball_empty_fraction"] == want["ball_empty_fraction"]
    rows = np.loadtxt(csv, delimiter=",", skiprows=1)
    np.testing.assert_array_equal(rows[:, 1], want["pr_precision"])
    np.testing.assert_array_equal(rows[:, 0], np.arange(33))
    text = subprocess.run(cmd[:-3], capture_output=True, text=True, check=True).stdout
    assert "mAP@100" in text and "P@H<=3" in text


@pytest.mark.parametrize("args,code,needle", [
    (["--db-labels", "X"], 2, "--query-codes is required"),
    (["--ties", "random"], 2, "--ties: unknown value 'random'"),
    (["--radius", "-1"], 2, "--radius"),
    (["--bogus"], 2, "unknown option '--bogus'"),
])
def test_cli_usage_errors_name_the_flag(args, code, needle):
    import subprocess
    r = subprocess.run([_cli(), "eval"] + args, capture_output=True, text=True)
    assert r.returncode == code and needle in r.stderr


def test_cli_file_errors_name_the_file(tmp_path):
    import subprocess
    dh_tool = _cli()
    np.save(tmp_path / "c.npy", np.zeros((3, 4), np.uint8))
    np.save(tmp_path / "l.npy", np.zeros(3, np.int32))
    np.save(tmp_path / "l5.npy", np.zeros(5, np.int32))
    base = ["eval", "--query-codes", str(tmp_path / "c.npy"), "--db-codes",
            str(tmp_path / "c.npy"), "--query-labels", str(tmp_path / "l.npy")]
    r = subprocess.run([dh_tool] + base + ["--db-labels", str(tmp_path / "missing.npy")],
                       capture_output=True, text=True)
    assert r.returncode == 3 and "--db-labels" in r.stderr and "missing.npy" in r.stderr
    r = subprocess.run([dh_tool] + base + ["--db-labels", str(tmp_path / "l5.npy")],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "5 labels for 3 codes" in r.stderr
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY garbage")
    r = subprocess.run([dh_tool] + base + ["--db-labels", str(tmp_path / "bad.npy")],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "bad.npy" in r.stderr
    r = subprocess.run([dh_tool] + base + ["--db-labels", str(tmp_path / "l.npy"), "--topk",
                                           "9"], capture_output=True, text=True)
    assert r.returncode == 1 and "topk" in r.stderr

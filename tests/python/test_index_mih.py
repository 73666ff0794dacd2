"""dh.Index with multi-index hashing tables: exactly numpy brute force / the scan."""
import numpy as np
import pytest

import dh


def popcount_dist(q, db):
    x = np.bitwise_xor(q[:, None, :], db[None, :, :])
    return np.unpackbits(x, axis=2).sum(axis=2).astype(np.int32)


def ref_knn(q, db, k):
    d = popcount_dist(q, db)
    order = np.argsort(d, axis=1, kind="stable")[:, :k]  # ties by insertion order
    return np.take_along_axis(d, order, axis=1), order.astype(np.int64)


def clustered(rng, n, K):
    cent = rng.integers(0, 256, (8, K // 8), dtype=np.uint8)
    db = cent[rng.integers(0, 8, n)]
    for _ in range(2):
        rows = np.arange(n)
        bits = rng.integers(0, K, n)
        db[rows, bits // 8] ^= (1 << (bits % 8)).astype(np.uint8)
    return db


@pytest.mark.parametrize("K", [16, 64, 128])
@pytest.mark.parametrize("m", ["auto", 1, 3])
def test_mih_knn_and_range_equal_numpy(K, m):
    rng = np.random.default_rng(K)
    db = clustered(rng, 800, K)
    q = np.concatenate([db[:5], rng.integers(0, 256, (3, K // 8), dtype=np.uint8)])
    ix = dh.Index(K, search_mode="mih")
    ix.add(db)
    ix.build_mih(m)
    tables, rows, nbytes = ix.mih_info
    assert tables >= 1 and rows == 800 and nbytes > 0
    if m != "auto":
        assert tables == m
    for k in (1, 7, 50, 900):
        D, I = ix.search(q, k)
        RD, RI = ref_knn(q, db, min(k, 800))
        assert np.array_equal(D[:, :min(k, 800)], RD)
        assert np.array_equal(I[:, :min(k, 800)], RI)
        if k > 800:
            assert (I[:, 800:] == -1).all()
    d = popcount_dist(q, db)
    for r in range(0, 6):
        lims, D, I = ix.range_search(q, r)
        for i in range(len(q)):
            want = np.nonzero(d[i] <= r)[0]
            want = want[np.argsort(d[i][want], kind="stable")]
            assert np.array_equal(I[lims[i]:lims[i + 1]], want)
            assert np.array_equal(D[lims[i]:lims[i + 1]], d[i][want])


def test_mih_option_modes_and_files(tmp_path):
    rng = np.random.default_rng(3)
    db = clustered(rng, 3000, 64)
    q = db[:20].copy()
    ix = dh.Index(64, multi_index="auto")
    ix.add(db)  # more than 1024 rows: the tables are built by add
    assert ix.mih_info[0] >= 1 and ix.mih_info[1] == 3000
    ref = dh.Index(64, search_mode="scan")
    ref.add(db)
    RD, RI = ref.search(q, 10)
    for mode in ("auto", "scan", "mih"):
        ix.set_search_mode(mode)
        D, I = ix.search(q, 10)
        assert np.array_equal(D, RD) and np.array_equal(I, RI)
    p = tmp_path / "mih.dhi"
    ix.save(p)
    for mm in (False, True):
        b = dh.Index.load(p, mmap=mm)
        assert b.mih_info[:2] == ix.mih_info[:2]
        b.set_search_mode("mih")
        D, I = b.search(q, 10)
        assert np.array_equal(D, RD) and np.array_equal(I, RI)
        b.close()
    ix.drop_mih()
    assert ix.mih_info == (0, 0, 0)


def test_mih_bad_arguments():
    with pytest.raises(ValueError):
        dh.Index(64, multi_index="lots")
    with pytest.raises(ValueError):
        dh.Index(64, search_mode="fast")
    with pytest.raises(dh.DhError):
        dh.Index(16, multi_index=17)  # m > K
    ix = dh.Index(16)
    with pytest.raises(dh.DhError):
        ix.build_mih(17)
    with pytest.raises(ValueError):
        ix.build_mih(0)
    ix.build_mih(1)  # one table: valid
    assert ix.mih_info[0] == 1

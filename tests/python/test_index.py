"""dh.Index and the packing helpers against numpy brute force."""
import threading

import numpy as np
import pytest

import dh
from dh import index as dhi


def popcount_dist(q, db):
    """[nq, nb] Hamming distances of packed uint8 codes, by numpy."""
    x = np.bitwise_xor(q[:, None, :], db[None, :, :])
    return np.unpackbits(x, axis=2).sum(axis=2).astype(np.int32)


def ref_knn(q, db, k, ids=None):
    d = popcount_dist(q, db)
    order = np.argsort(d, axis=1, kind="stable")[:, :k]  # stable: ties by insertion order
    D = np.take_along_axis(d, order, axis=1)
    I = order if ids is None else ids[order]
    return D, I.astype(np.int64)


def rand_codes(rng, n, K):
    return rng.integers(0, 256, size=(n, K // 8), dtype=np.uint8)


@pytest.mark.parametrize("K", [8, 24, 64, 72, 128, 256, 512])
def test_search_matches_numpy_on_every_isa(K):
    rng = np.random.default_rng(K)
    db, q = rand_codes(rng, 3000, K), rand_codes(rng, 17, K)
    ix = dh.Index(K)
    ix.add(db)
    D0, I0 = ref_knn(q, db, 25)
    for isa in range(dh.ISA_SCALAR, dh.ISA_AVX512VPOPCNT + 1):
        if not dh.cpu_has_isa(isa):
            continue
        dh.set_isa(isa)
        for threads in (1, 2):
            dh.set_num_threads(threads)
            D, I = ix.search(q, 25)
            assert D.dtype == np.int32 and I.dtype == np.int64
            np.testing.assert_array_equal(D, D0)
            np.testing.assert_array_equal(I, I0)
    dh.set_isa(dh.ISA_AUTO)
    dh.set_num_threads(0)


def test_ties_follow_insertion_order_and_padding_matches_faiss():
    ix = dh.Index(16)
    codes = np.zeros((5, 2), dtype=np.uint8)
    ix.add(codes, ids=np.array([9, 7, 5, 3, 1], dtype=np.int64))
    D, I = ix.search(codes[:1], 8)
    assert I.tolist() == [[9, 7, 5, 3, 1, -1, -1, -1]]
    assert D[0, 5:].tolist() == [np.iinfo(np.int32).max] * 3


def test_sign_rows_and_bit_orders_are_equivalent():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((40, 64)).astype(np.float32)
    packed = dh.pack_codes(x)
    np.testing.assert_array_equal(packed, np.packbits(x >= 0, axis=1, bitorder="little"))
    msb = dh.pack_codes(x, bitorder="big")
    np.testing.assert_array_equal(msb, np.packbits(x >= 0, axis=1))
    np.testing.assert_array_equal(dh.reverse_bit_order(msb, 64), packed)
    np.testing.assert_array_equal(dh.unpack_codes(packed, 64), np.where(x >= 0, 1, -1))
    for rows, order in ((x, "little"), (x.astype(np.float64), "little"),
                        (np.where(x >= 0, 1, -1).astype(np.int8), "little"), (packed, "little"),
                        (msb, "big")):
        ix = dh.Index(64)
        ix.add(rows, bitorder=order)
        codes, ids = ix.export("packed")
        np.testing.assert_array_equal(codes, packed)
        np.testing.assert_array_equal(ids, np.arange(40))
        D, I = ix.search(rows[:3], 1, bitorder=order)
        assert D[:, 0].tolist() == [0, 0, 0]


def test_range_search_inclusive_radius():
    rng = np.random.default_rng(5)
    db, q = rand_codes(rng, 2000, 64), rand_codes(rng, 6, 64)
    ix = dh.Index(64)
    ix.add(db)
    lims, D, I = ix.range_search(q, 24)
    d = popcount_dist(q, db)
    assert lims[0] == 0 and len(lims) == 7
    for i in range(6):
        hits = np.nonzero(d[i] <= 24)[0]  # inclusive; FAISS would use radius 25
        order = hits[np.argsort(d[i, hits], kind="stable")]
        np.testing.assert_array_equal(I[lims[i]:lims[i + 1]], order)
        np.testing.assert_array_equal(D[lims[i]:lims[i + 1]], d[i, order])


def test_remove_keeps_ids_and_save_load_mmap(tmp_path):
    rng = np.random.default_rng(9)
    db, q = rand_codes(rng, 500, 128), rand_codes(rng, 4, 128)
    ids = np.arange(1000, 1500, dtype=np.int64)
    ix = dh.Index(128)
    ix.add_with_ids(db, ids)
    assert ix.remove_ids([1000, 1007, 77]) == 2
    keep = np.ones(500, bool)
    keep[[0, 7]] = False
    D0, I0 = ref_knn(q, db[keep], 10, ids[keep])
    D, I = ix.search(q, 10)
    np.testing.assert_array_equal(I, I0)
    path = tmp_path / "x.dhi"
    ix.save(path)
    for mm in (False, True):
        with dh.Index.load(path, mmap=mm) as ld:
            assert len(ld) == 498 and ld.n_bits == 128 and ld.n_removed == 2
            assert ld.readonly == mm
            D2, I2 = ld.search(q, 10)
            np.testing.assert_array_equal(I2, I0)
            np.testing.assert_array_equal(D2, D0)
    with dh.Index.load(path, mmap=True) as ro:
        with pytest.raises(dh.DhError) as e:
            ro.add(db[:1])
        assert e.value.status == -10 and "read-only" in str(e.value)


def test_npy_import_export(tmp_path):
    rng = np.random.default_rng(11)
    signs = np.where(rng.standard_normal((30, 48)) >= 0, 1.0, -1.0).astype(np.float32)
    np.save(tmp_path / "codes.npy", signs)
    np.save(tmp_path / "packbits.npy", np.packbits(signs > 0, axis=1))
    np.save(tmp_path / "bool.npy", signs > 0)
    a = dh.Index.from_npy(tmp_path / "codes.npy")
    b = dh.Index.from_npy(tmp_path / "packbits.npy", bitorder="big")
    c = dh.Index.from_npy(tmp_path / "bool.npy")
    for other in (b, c):
        np.testing.assert_array_equal(other.export()[0], a.export()[0])
    a.export_npy(tmp_path / "out.npy", "int8", ids_path=tmp_path / "ids.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), signs.astype(np.int8))
    np.testing.assert_array_equal(np.load(tmp_path / "ids.npy"), np.arange(30))
    assert a.add_npy(tmp_path / "codes.npy") == 30 and len(a) == 60


def test_errors_carry_messages(tmp_path):
    with pytest.raises(dh.DhError) as e:
        dh.Index(4097)
    assert "outside 1..4096" in str(e.value)
    ix = dh.Index(64)
    with pytest.raises(dh.DhError) as e:
        ix.search(np.zeros((1, 8), np.uint8), 0)
    assert "k must be at least 1" in str(e.value)
    with pytest.raises(dh.DhError) as e:
        ix.add(np.zeros((2, 8), np.uint8), ids=np.array([1, -2], dtype=np.int64))
    assert "ids[1]" in str(e.value)
    with pytest.raises(ValueError):
        ix.add(np.zeros((2, 9), np.uint8))
    with pytest.raises(TypeError):
        ix.add(np.zeros((2, 64), np.int32))
    with pytest.raises(dh.DhError) as e:
        dh.Index.load(tmp_path / "missing.dhi")
    assert e.value.status == -8 and "missing.dhi" in str(e.value)
    (tmp_path / "junk.dhi").write_bytes(b"\0" * 100)
    with pytest.raises(dh.DhError) as e:
        dh.Index.load(tmp_path / "junk.dhi")
    assert e.value.status == -4 and "magic" in str(e.value)
    nan = np.zeros((1, 64), np.float32)
    nan[0, 5] = np.nan
    with pytest.raises(dh.DhError, match="column 5"):
        ix.add(nan)
    assert len(ix) == 0


def test_hamming_distances_helper():
    rng = np.random.default_rng(2)
    a, b = rand_codes(rng, 5, 72), rand_codes(rng, 9, 72)
    np.testing.assert_array_equal(dh.hamming_distances(a, b, 72), popcount_dist(a, b))


def test_concurrent_searches_from_threads():
    rng = np.random.default_rng(4)
    db, q = rand_codes(rng, 20000, 64), rand_codes(rng, 50, 64)
    ix = dh.Index(64)
    ix.add(db)
    want = ix.search(q, 10)[1]
    bad = []

    def worker():
        for _ in range(5):
            if not np.array_equal(ix.search(q, 10)[1], want):
                bad.append(1)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not bad


def test_export_slices_and_repr():
    ix = dhi.Index(32, reserve=10)
    ix.add(np.arange(40, dtype=np.uint8).reshape(10, 4))
    codes, ids = ix.export("packed", start=3, n=2)
    assert ids.tolist() == [3, 4] and codes[0].tolist() == [12, 13, 14, 15]
    assert "K=32 n=10" in repr(ix)
    ix.close()
    assert "closed" in repr(ix)
    with pytest.raises(ValueError):
        len(ix)


def _cli():
    import os
    exe = os.path.join(os.environ.get("DH_BUILD_DIR", ""), "src", "dh")
    if not os.path.exists(exe):
        pytest.skip("the dh tool is not built (DH_BUILD_DIR/src/dh)")
    return exe


def test_cli_build_search_remove_info(tmp_path):
    import json
    import subprocess
    exe = _cli()
    rng = np.random.default_rng(21)
    signs = np.where(rng.standard_normal((300, 64)) >= 0, 1, -1).astype(np.int8)
    np.save(tmp_path / "db.npy", signs)
    np.save(tmp_path / "q.npy", np.packbits(signs[:3] > 0, axis=1))  # numpy order
    idx = str(tmp_path / "db.dhi")

    def run(*args, ok=True):
        p = subprocess.run([exe, "index", *args], capture_output=True, text=True)
        assert (p.returncode == 0) == ok, p.stderr
        return p

    run("build", "-o", idx, str(tmp_path / "db.npy"))
    out = run("search", idx, "--queries", str(tmp_path / "q.npy"), "--bitorder", "big",
              "-k", "4", "--json").stdout
    res = json.loads(out)
    want_D, want_I = ref_knn(np.packbits(signs[:3] > 0, axis=1, bitorder="little"),
                             np.packbits(signs > 0, axis=1, bitorder="little"), 4)
    assert [r["ids"] for r in res["results"]] == want_I.tolist()
    assert [r["distances"] for r in res["results"]] == want_D.tolist()
    assert "removed 2 rows" in run("remove", idx, "--ids", "0,1,999").stdout
    info = json.loads(run("info", idx, "--json").stdout)
    assert info["count"] == 298 and info["removed"] == 2 and info["n_bits"] == 64
    text = run("search", idx, "--queries", str(tmp_path / "q.npy"), "--bitorder", "big",
               "--radius", "0").stdout.splitlines()
    assert text[0].startswith("#") and text[1:] == ["2 0 2 0"]  # rows 0, 1 are gone
    # errors name the flag or the file, with the documented exit codes
    p = run("search", idx, "--queries", str(tmp_path / "q.npy"), "-k", "0", ok=False)
    assert p.returncode == 2 and "-k" in p.stderr
    p = run("info", str(tmp_path / "none.dhi"), ok=False)
    assert p.returncode == 3 and "none.dhi" in p.stderr
    p = run("search", idx, "--frobnicate", "1", ok=False)
    assert p.returncode == 2 and "--frobnicate" in p.stderr
    assert "usage: dh index build" in run("build", "--help").stdout

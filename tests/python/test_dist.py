"""dh.dist (libdh_mpi through mpi4py): run under mpirun (ctest mpi_python, 2 ranks).
Skipped cleanly when mpi4py or libdh_mpi is missing."""
import numpy as np
import pytest

MPI = pytest.importorskip("mpi4py.MPI")
dh = pytest.importorskip("dh")
try:
    import dh.dist as dist
except OSError as e:  # no libdh_mpi in this build
    pytest.skip(f"libdh_mpi not available: {e}", allow_module_level=True)

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()


def _data(n=900, bits=64, seed=3):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, (n, bits // 8), dtype=np.uint8)  # few bit patterns: ties
    queries = np.concatenate([codes[:5], rng.integers(0, 4, (6, bits // 8), dtype=np.uint8)])
    return codes, queries


def _mine(n):
    return n * rank // size, n * (rank + 1) // size


def test_search_equals_one_index():
    codes, q = _data()
    ids = np.arange(len(codes), dtype=np.int64) * 3 + 1
    whole = dh.Index(64)
    whole.add(codes, ids=ids)
    lo, hi = _mine(len(codes))
    part = dh.Index(64)
    part.add(codes[lo:hi], ids=ids[lo:hi])
    with dist.Shard(comm, index=part) as s:
        assert s.total == len(codes) and s.layout == "contiguous"
        for k in (1, 17, 2000):
            D, I = s.search(q, k)
            if rank == 0:
                D0, I0 = whole.search(q, k)
                assert np.array_equal(I, I0) and np.array_equal(D, D0)
            else:
                assert D is None and I is None
        D, I = s.search(q, 9, root=dist.ALL)
        assert np.array_equal(I, whole.search(q, 9)[1])
        lims, D, I = s.range_search(q, 3)
        if rank == 0:
            l0, D0, I0 = whole.range_search(q, 3)
            assert np.array_equal(lims, l0) and np.array_equal(I, I0) and np.array_equal(D, D0)


def test_missing_file_fails_on_every_rank(tmp_path_factory):
    path = comm.bcast(str(tmp_path_factory.mktemp("d")) if rank == 0 else None)
    with pytest.raises(dh.DhError) as e:
        dist.Shard(comm, path=path + "/nothing-%d.dhi")
    assert "rank 0" in str(e.value)


def test_evaluate_equals_single_node():
    codes, q = _data(700, 32)
    rng = np.random.default_rng(5)
    y = rng.integers(0, 5, len(codes)).astype(np.int32)
    qy = rng.integers(0, 5, len(q)).astype(np.int32)
    lo, hi = _mine(len(codes))
    ref = dh.eval.evaluate(q, codes, qy, y, ns=(10, 100), radius=3)
    got = dist.evaluate(comm, q, codes[lo:hi], qy, y[lo:hi], ns=(10, 100), radius=3)
    assert got["map"] == pytest.approx(ref["map"], rel=1e-12)
    assert got["precision_at_n"] == ref["precision_at_n"]
    assert np.array_equal(got["pr_precision"], ref["pr_precision"])
    assert got["ball_precision"] == ref["ball_precision"]


@pytest.mark.skipif(not dh.has_training(), reason="training build only")
def test_data_parallel_trainer_runs_in_step():
    rng = np.random.default_rng(11)
    X = rng.standard_normal((128, 16)).astype(np.float32)
    y = rng.integers(0, 3, 128).astype(np.int32)
    ds = dh.Dataset.from_features(X, class_ids=y, n_classes=3)
    model = dh.Model.create(encoder="mlp:16-32", n_bits=16)
    loss = dh.Loss("csq", 16, 3)
    t = dh.Trainer(model, loss, ds, epochs=1, batch_size=32)
    dist.data_parallel(t, comm)
    losses = []
    t.run(callback=lambda p: losses.append(p["loss"]) if p["event"] == 0 else None)
    every = comm.allgather(losses)
    assert len(losses) == 4 and all(v == losses for v in every)

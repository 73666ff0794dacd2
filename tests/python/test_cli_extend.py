"""`dh extend` end to end on small generated feature rows (mlp models, seconds): session 0
with dh train + dh encode (or dh extend --create), then a class-incremental session. Old
index rows stay bit-identical, ids continue, the label file is concatenated in its own
format, the new model loads, and bad inputs give the documented exit codes without
touching any file."""
import os
import shutil
import subprocess

import numpy as np
import pytest

import dh as dhlib

BUILD = os.environ.get("DH_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
DH = os.path.join(BUILD, "src", "dh")

pytestmark = [pytest.mark.skipif(not os.path.exists(DH), reason="dh tool not built"),
              pytest.mark.skipif(not dhlib.has_training(), reason="search-only build")]

N, D, C, OLD = 1000, 16, 5, 3  # classes 0-2 first, then 3-4


def dh(*args, check=True):
    r = subprocess.run([DH, *map(str, args)], capture_output=True, text=True, timeout=600)
    if check and r.returncode != 0:
        raise AssertionError(f"dh {' '.join(map(str, args))} -> {r.returncode}\n{r.stderr}")
    return r


@pytest.fixture(scope="module")
def s0(tmp_path_factory):
    """Session 0: a model trained on classes 0-2 only, their index and int32 labels."""
    d = tmp_path_factory.mktemp("extend")
    rng = np.random.default_rng(3)
    y = (np.arange(N) % C).astype(np.int32)
    x = rng.uniform(-1.5, 1.5, size=(N, D)).astype(np.float32)
    x[np.arange(N), y] += 2.0
    x[np.arange(N), y + C] += 2.0
    np.save(d / "x.npy", x)
    np.save(d / "y.npy", y)
    old = y < OLD
    np.save(d / "x_old.npy", x[old])
    np.save(d / "y_old.npy", y[old])
    spec = f"npy:{d}/x_old.npy:{d}/y_old.npy"
    dh("train", "--data", spec, "--encoder", f"mlp:{D}-32", "--bits", 16, "--method", "adsh",
       "--epochs", 4, "--optimizer", "adam", "--lr", "0.003", "--quiet", "-o", d / "m0.safetensors")
    dh("encode", "--model", d / "m0.safetensors", "--data", spec, "-o", d / "db0.dhi",
       "--labels-out", d / "l0.npy")
    return d


@pytest.fixture
def work(s0, tmp_path):
    """Fresh copies of session 0's files (extend replaces them in place by default)."""
    for f in ("m0.safetensors", "db0.dhi", "l0.npy"):
        shutil.copy(s0 / f, tmp_path / f)
    return tmp_path


def session(s0, w, *extra, check=True):
    return dh("extend", "--model", w / "m0.safetensors", "--index", w / "db0.dhi",
              "--index-labels", w / "l0.npy", "--data", f"npy:{s0}/x.npy:{s0}/y.npy",
              "--epochs", 3, "--optimizer", "adam", "--lr", "0.001", "-o", w / "m1.safetensors",
              *extra, check=check)


def rows(path):
    ix = dhlib.Index.load(str(path))
    return ix.export("packed")


def test_extend_in_place_keeps_old_rows(s0, work):
    old_codes, old_ids = rows(work / "db0.dhi")
    assert len(old_ids) == 600 and list(old_ids) == list(range(600))
    r = session(s0, work, "--classes", "3-4", "--per-class", 100, "--verbose")
    assert "ids 600..799" in r.stdout and "epoch 3/3" in r.stderr
    codes, ids = rows(work / "db0.dhi")  # default: --index replaced
    assert codes.shape == (800, 2)
    assert np.array_equal(codes[:600], old_codes) and np.array_equal(ids[:600], old_ids)
    assert list(ids[600:]) == list(range(600, 800))
    labels = np.load(work / "l0.npy")  # default: --index-labels replaced, same format
    assert labels.dtype == np.int32 and labels.shape == (800,)
    assert np.array_equal(labels[:600], np.load(s0 / "y_old.npy"))
    assert sorted(np.bincount(labels[600:], minlength=C).tolist()) == [0, 0, 0, 100, 100]
    assert (labels[600:] >= OLD).all()
    m = dhlib.Model.load(str(work / "m1.safetensors"))
    assert m.n_bits == 16 and m.get_metadata("extend.method") == "dihn"
    assert "mlp" in dh("info", work / "m1.safetensors").stdout
    assert not list(work.glob("*.extend-tmp*"))
    # the extended index answers all classes: mAP of every item against it
    x, y = np.load(s0 / "x.npy"), np.load(s0 / "y.npy")
    onehot = lambda v: np.eye(C, dtype=np.float32)[v]
    ap = dhlib.eval.mean_average_precision(m.encode(x), codes, onehot(y), onehot(labels))
    assert ap > 0.4, ap  # chance is about 0.2; 0.57 when written


def test_network_codes_and_second_session(s0, work):
    """--codes network: the new rows are the saved model's codes of the new items
    (classes 3-4 without --per-class: all of them, in file order); a second session on
    the result continues the ids again and keeps every earlier row."""
    session(s0, work, "--classes", "3-4", "--codes", "network", "--index-out", work / "db1.dhi",
            "--labels-out", work / "l1.npy")
    x, y = np.load(s0 / "x.npy"), np.load(s0 / "y.npy")
    codes, ids = rows(work / "db1.dhi")
    m = dhlib.Model.load(str(work / "m1.safetensors"))
    assert np.array_equal(codes[600:], m.encode(x[y >= OLD]))
    assert np.array_equal(np.load(work / "l1.npy")[600:], y[y >= OLD])
    # the inputs of an --index-out session are untouched
    assert np.array_equal(rows(work / "db0.dhi")[0], rows(s0 / "db0.dhi")[0])
    assert np.array_equal(np.load(work / "l0.npy"), np.load(s0 / "l0.npy"))
    dh("extend", "--model", work / "m1.safetensors", "--index", work / "db1.dhi",
       "--index-labels", work / "l1.npy", "--data", f"npy:{s0}/x.npy:{s0}/y.npy", "--classes",
       "4", "--per-class", 10, "--method", "adsh", "--epochs", 1, "-o", work / "m2.safetensors")
    codes2, ids2 = rows(work / "db1.dhi")
    assert np.array_equal(codes2[:1000], codes) and list(ids2) == list(range(1010))


def test_old_images_must_be_the_index_rows(s0, work):
    before = {f: (work / f).read_bytes() for f in ("db0.dhi", "l0.npy")}
    r = session(s0, work, "--classes", "3-4", "--per-class", 50, "--old-data",
                f"npy:{s0}/x.npy:{s0}/y.npy", "--old-classes", "1-3", check=False)
    assert r.returncode == 1 and "in order" in r.stderr, r.stderr
    r = session(s0, work, "--classes", "3-4", "--per-class", 50, "--old-data",
                f"npy:{s0}/x.npy:{s0}/y.npy", "--old-classes", "0-2", "--old-per-class", 10,
                check=False)
    assert r.returncode == 1 and "30 items" in r.stderr and "600 rows" in r.stderr, r.stderr
    assert {f: (work / f).read_bytes() for f in before} == before
    assert not (work / "m1.safetensors").exists()
    r = session(s0, work, "--classes", "3-4", "--per-class", 50, "--old-data",
                f"npy:{s0}/x.npy:{s0}/y.npy", "--old-classes", "0-2")
    assert "650" not in r.stdout and "ids 600..699" in r.stdout
    assert np.array_equal(rows(work / "db0.dhi")[0][:600], rows(s0 / "db0.dhi")[0])


def test_old_samples(s0, work):
    r = session(s0, work, "--classes", "3-4", "--per-class", 50, "--old-data",
                f"npy:{s0}/x.npy:{s0}/y.npy", "--old-classes", "0-2", "--old-samples", 100)
    assert "ids 600..699" in r.stdout
    assert np.array_equal(rows(work / "db0.dhi")[0][:600], rows(s0 / "db0.dhi")[0])
    r = session(s0, work, "--classes", "3-4", "--per-class", 50, "--old-samples", 100,
                check=False)
    assert r.returncode == 2 and "--old-data" in r.stderr, r.stderr


def test_multi_hot_labels_keep_their_format(s0, work):
    """[n, 3] float32 rows (the file predates classes 3-4) -> [n + m, 5] float32."""
    y_old = np.load(s0 / "y_old.npy")
    np.save(work / "hot.npy", np.eye(OLD, dtype=np.float32)[y_old])
    dh("extend", "--model", work / "m0.safetensors", "--index", work / "db0.dhi",
       "--index-labels", work / "hot.npy", "--data", f"npy:{s0}/x.npy:{s0}/y.npy", "--classes",
       "3-4", "--per-class", 20, "--epochs", 1, "-o", work / "m1.safetensors", "--index-out",
       work / "db1.dhi", "--labels-out", work / "hot1.npy")
    hot = np.load(work / "hot1.npy")
    assert hot.dtype == np.float32 and hot.shape == (640, C)
    assert np.array_equal(hot[:600], np.eye(C, dtype=np.float32)[y_old])
    assert hot[600:, :OLD].sum() == 0 and (hot[600:].sum(1) == 1).all()


def test_create_then_extend_with_the_same_selection(s0, tmp_path):
    """Session 0 by dh extend --create; the old images of the next session are selected
    with the same classes, per-class count and seed, so they are the index rows."""
    spec = f"npy:{s0}/x.npy:{s0}/y.npy"
    dh("extend", "--create", "--encoder", f"mlp:{D}-32", "--bits", 16, "--method", "adsh",
       "--data", spec, "--classes", "0-2", "--per-class", 150, "--seed", 7, "--epochs", 2,
       "-o", tmp_path / "m0.safetensors", "--index-out", tmp_path / "db.dhi", "--labels-out",
       tmp_path / "l.npy")
    codes0, ids0 = rows(tmp_path / "db.dhi")
    assert list(ids0) == list(range(450)) and np.load(tmp_path / "l.npy").shape == (450,)
    r = dh("extend", "--model", tmp_path / "m0.safetensors", "--index", tmp_path / "db.dhi",
           "--index-labels", tmp_path / "l.npy", "--data", spec, "--classes", "3-4",
           "--per-class", 100, "--old-data", spec, "--old-classes", "0-2", "--old-per-class", 150,
           "--old-seed", 7, "--epochs", 2, "-o", tmp_path / "m1.safetensors")
    assert "ids 450..649" in r.stdout
    assert np.array_equal(rows(tmp_path / "db.dhi")[0][:450], codes0)


BAD = [  # (extra arguments or replaced inputs, exit code, text in the message)
    ({"--index-labels": "y.npy"}, 1, "1000 rows"),         # label count mismatch
    ({"--model": "missing.safetensors"}, 3, "missing"),    # missing files
    ({"--index": "missing.dhi"}, 3, "missing"),
    ({"--index-labels": "missing.npy"}, 3, "missing"),
    (["--classes", "3-x"], 2, "--classes"),                # bad --classes
    (["--classes", "4-3"], 2, "--classes"),
    (["--classes", "3-7"], 2, "--classes"),                # past the data's classes
    (["--index-out", "other.dhi"], 2, "--labels-out"),
    (["--bits", 32], 2, "--bits"),
    (["--method", "nonsense"], 2, "--method"),
    (["--codes", "maybe"], 2, "--codes"),
    (["--old-classes", "0-2"], 2, "--old-data"),
    (["--frobnicate"], 2, "--frobnicate"),
    (["-o", "no/such/dir/m.safetensors"], 3, "no/such/dir"),     # first write fails
    (["--index-out", "db1.dhi", "--labels-out", "no/such/dir/l.npy"], 3, "no/such/dir"),  # last
]


@pytest.mark.parametrize("change,code,text", BAD, ids=[str(b[0]) for b in BAD])
def test_bad_inputs_change_nothing(s0, work, change, code, text):
    shutil.copy(s0 / "y.npy", work / "y.npy")
    (work / "m1.safetensors").write_bytes(b"previous model")
    files = sorted(p.name for p in work.iterdir())
    before = {f: (work / f).read_bytes() for f in files}
    args = {"--model": "m0.safetensors", "--index": "db0.dhi", "--index-labels": "l0.npy"}
    extra = []
    if isinstance(change, dict):
        args.update(change)
    else:
        extra = [a if not str(a).endswith((".dhi", ".npy", ".safetensors")) else work / a
                 for a in change]
    cmd = ["extend", *[t for k, v in args.items() for t in (k, work / v)], "--data",
           f"npy:{s0}/x.npy:{s0}/y.npy", "--classes", "3-4", "--per-class", 20, "--epochs", 1,
           "-o", work / "m1.safetensors", *extra]
    r = dh(*cmd, check=False)
    assert r.returncode == code and text in r.stderr, (r.returncode, r.stderr)
    assert sorted(p.name for p in work.iterdir()) == files  # no new file, no temporary left
    assert {f: (work / f).read_bytes() for f in files} == before


def test_help_documents_every_flag():
    text = dh("extend", "--help").stdout
    assert text.startswith("usage: dh extend")
    for flag in ("--model", "--index", "--index-labels", "--data", "--split", "--classes",
                 "--per-class", "--seed", "--method", "--bits", "--old-data", "--old-classes",
                 "--old-per-class", "--old-seed", "--old-samples", "--epochs", "--lr", "--optimizer",
                 "--batch-size", "--distill-codes", "--distill-features", "--codes", "-o, --out",
                 "--index-out", "--labels-out", "--verbose", "--create", "--encoder",
                 "--threads"):
        assert flag in text, flag
    assert "extend" in dh("--help").stdout

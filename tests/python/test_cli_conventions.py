"""The dh tool's command-line conventions (issue 18 part 5): getopt_long parsing
(--opt=value, bundled short options, `--`), `-` as stdin/stdout, `dh help CMD` ==
`dh CMD --help`, -V, one -q/-v rule, progress lines on a terminal and one summary line
otherwise; `dh encode --deephash-dir` -> `dh eval --deephash-dir`; the examples' --help."""
import json
import os
import pty
import re
import select
import subprocess
import tempfile

import numpy as np
import pytest

import dh as dhlib

BUILD = os.environ.get("DH_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
DH = os.path.abspath(os.path.join(BUILD, "src", "dh"))
EX = os.path.join(BUILD, "examples")

pytestmark = pytest.mark.skipif(not os.path.exists(DH), reason="dh tool not built")
training = pytest.mark.skipif(not dhlib.has_training(), reason="search-only build")


def dh(*args, check=True, stdin=None, text=True, cwd=None):
    r = subprocess.run([DH, *map(str, args)], capture_output=True, text=text, input=stdin,
                       timeout=600, cwd=cwd)
    if check and r.returncode != 0:
        raise AssertionError(f"dh {' '.join(map(str, args))} -> {r.returncode}\n{r.stderr}")
    return r


def on_tty(*args):
    """Run dh with stderr on a pseudo-terminal; (rc, stdout bytes, stderr text)."""
    master, slave = pty.openpty()
    out_file = tempfile.TemporaryFile()      # not a pipe: the child never blocks on stdout
    p = subprocess.Popen([DH, *map(str, args)], stdout=out_file, stderr=slave)
    os.close(slave)
    err = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:          # EIO: the child closed the terminal
            break
        if not chunk:
            break
        err += chunk
    rc = p.wait(timeout=600)
    os.close(master)
    out_file.seek(0)
    out = out_file.read()
    return rc, out, err.decode(errors="replace")


@pytest.fixture(scope="module")
def codes(tmp_path_factory):
    d = tmp_path_factory.mktemp("conv")
    rng = np.random.default_rng(5)
    n, K, C = 6000, 32, 6
    y = (np.arange(n) % C).astype(np.int32)
    centers = rng.choice([-1.0, 1.0], size=(C, K))
    B = (centers[y] * np.where(rng.random((n, K)) < 0.25, -1.0, 1.0)).astype(np.float32)
    np.save(d / "c.npy", B)
    np.save(d / "y.npy", y)
    dh("index", "build", "-q", "-o", d / "db.dhi", d / "c.npy")
    return d


# ---- parsing ------------------------------------------------------------------------

def test_opt_equals_value_and_bundled_short_options(codes):
    a = dh("index", "search", codes / "db.dhi", "--queries", codes / "c.npy", "-k", "5")
    b = dh("index", "search", f"--queries={codes / 'c.npy'}", codes / "db.dhi", "-qk5")
    c = dh("index", "search", codes / "db.dhi", "--queries", codes / "c.npy", "--k=5", "-q")
    assert a.stdout == b.stdout == c.stdout and a.stdout.count("\n") == 6000 * 5 + 1
    assert a.stderr.count("\n") == 1 and b.stderr == "" and c.stderr == ""   # -q: nothing
    # options after an operand, also under POSIXLY_CORRECT (getopt would stop at the operand)
    d = subprocess.run([DH, "index", "search", str(codes / "db.dhi"), "--queries",
                        str(codes / "c.npy"), "-qk5"], capture_output=True, text=True,
                       env={**os.environ, "POSIXLY_CORRECT": "1"}, timeout=120)
    assert d.returncode == 0 and d.stdout == a.stdout


def test_chunked_search_equals_numpy(codes):
    """Queries are searched (and printed) in chunks of 4096 for the progress line: the
    6000 queries' radius and k-NN results are still every query's, in order."""
    B = (np.load(codes / "c.npy") > 0).astype(np.float32)
    ham = B.shape[1] - (B @ B.T + (1 - B) @ (1 - B).T)
    out = json.loads(dh("index", "search", codes / "db.dhi", "--queries", codes / "c.npy",
                        "--radius", 6, "--json", "-q").stdout)
    assert [r["query"] for r in out["results"]] == list(range(6000))
    assert [len(r["ids"]) for r in out["results"]] == list((ham <= 6).sum(1))
    out = json.loads(dh("index", "search", codes / "db.dhi", "--queries", codes / "c.npy",
                        "-k", 2, "--json", "-q").stdout)
    assert [r["distances"] for r in out["results"]] == np.sort(ham, 1)[:, :2].astype(int).tolist()


def test_double_dash_ends_options(codes, tmp_path):
    os.symlink(codes / "c.npy", tmp_path / "-k")            # a file named like an option
    r = dh("index", "build", "-q", "-o", tmp_path / "x.dhi", "--", "-k", cwd=tmp_path)
    assert "6000 codes of 32 bits" in r.stdout
    r = dh("index", "build", "-o", tmp_path / "y.dhi", "-k", cwd=tmp_path, check=False)
    assert r.returncode == 2 and "--k needs a value" in r.stderr, r.stderr


@pytest.mark.parametrize("args,needle", [
    (["eval", "--bogus"], "unknown option '--bogus'"),
    (["eval", "--d", "x"], "ambiguous option '--d'"),
    (["eval", "--json=1"], "--json takes no value"),
    (["eval", "--topk"], "--topk needs a value"),
    (["index", "search", "-x"], "unknown option '-x'"),
    (["info", "--nope", "f"], "unknown option '--nope'"),
])
def test_usage_errors(args, needle):
    r = dh(*args, check=False)
    assert r.returncode == 2 and needle in r.stderr, r.stderr


def test_help_cmd_equals_cmd_help_and_version():
    listing = dh("--help").stdout
    cmds = [l.split()[0] for l in listing.split("commands:\n")[1].split("\n\n")[0].splitlines()]
    assert {"eval", "index", "info"} <= set(cmds)
    for cmd in cmds:
        a, b, c = dh("help", cmd), dh(cmd, "--help"), dh(cmd, "-h")
        assert a.stdout == b.stdout == c.stdout and a.stdout.startswith("usage: dh " + cmd), cmd
    for sub in ("build", "add", "remove", "search", "info", "export", "import", "split"):
        a, b = dh("help", "index", sub), dh("index", sub, "--help")
        assert a.stdout == b.stdout and a.stdout.startswith("usage: dh index " + sub)
    # --help is an option, not another option's value
    assert dh("eval", "--query-codes", "--help", check=False).returncode == 2
    v = dh("-V").stdout
    assert v == dh("--version").stdout and v.startswith("dh ") and dhlib.version() in v


def test_every_flag_in_a_usage_text_is_parsed():
    """Each --flag a command's --help names is in its option table (train's recipe flags
    are handed to cmd_train_knobs.c through a list in cmd_train.c: a flag added to the
    usage text but not to the table fails here). `--flag 1 --zz-sentinel`: a known flag
    takes '1' (or rejects it) and the sentinel stops the command before it runs."""
    refs = {("demo", "--list-methods"), ("extend", "--list-methods"), ("import", "--preset")}
    listing = dh("--help").stdout
    cmds = [l.split()[0] for l in listing.split("commands:\n")[1].split("\n\n")[0].splitlines()]
    cmds = [[c] for c in cmds if c != "index"] + [["index", s] for s in (
        "build", "add", "remove", "search", "info", "export", "import", "split")]
    checked = 0
    for cmd in cmds:
        text = dh(*cmd, "--help").stdout
        for f in sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text)) - {"--help"}):
            if (cmd[0], f) in refs:
                continue
            r = dh(*cmd, f, "1", "--zz-sentinel", check=False)
            assert r.returncode == 2, (cmd, f, r.stderr)
            assert f"option '{f}'" not in r.stderr, (cmd, f, r.stderr)
            checked += 1
    assert checked > 50


# ---- '-' for stdin / stdout -----------------------------------------------------------

def test_stdin_stdout(codes, tmp_path):
    q = (codes / "c.npy").read_bytes()
    file_out = dh("index", "search", codes / "db.dhi", "--queries", codes / "c.npy", "-qk3")
    pipe_out = subprocess.run([DH, "index", "search", str(codes / "db.dhi"), "--queries", "-",
                               "-qk3"], input=q, capture_output=True, timeout=120)
    assert pipe_out.returncode == 0 and pipe_out.stdout.decode() == file_out.stdout
    # the index itself from stdin, and written to stdout
    built = subprocess.run([DH, "index", "build", "-o", "-", str(codes / "c.npy")],
                           capture_output=True, timeout=120)
    assert built.returncode == 0 and built.stdout == (codes / "db.dhi").read_bytes()
    assert "stdout: 6000 codes" in built.stderr.decode()         # the report moved to stderr
    # eval: labels from stdin, the PR csv to stdout, metrics to stderr
    ev = ["eval", "--query-codes", codes / "c.npy", "--db-codes", codes / "c.npy", "--json"]
    ref = json.loads(dh(*ev, "--query-labels", codes / "y.npy", "--db-labels",
                        codes / "y.npy", "--pr-csv", tmp_path / "pr.csv").stdout)
    r = subprocess.run([DH, *map(str, ev), "--query-labels", "-", "--db-labels",
                        str(codes / "y.npy"), "--pr-csv", "-"], input=(codes / "y.npy").read_bytes(),
                       capture_output=True, timeout=120)
    assert r.returncode == 0 and r.stdout == (tmp_path / "pr.csv").read_bytes()
    report, summary = r.stderr.decode().split("dh eval: ")
    assert json.loads(report)["map"] == ref["map"] and "6000 queries" in summary
    # stdin is read once
    r = subprocess.run([DH, *map(str, ev), "--query-labels", "-", "--db-labels", "-"],
                       input=(codes / "y.npy").read_bytes(), capture_output=True, timeout=120)
    assert r.returncode == 2 and b"--db-labels: stdin ('-') can be read only once" in r.stderr


# ---- progress, -q, -v -----------------------------------------------------------------

def test_summary_line_when_not_a_terminal(codes):
    r = dh("index", "search", codes / "db.dhi", "--queries", codes / "c.npy", "--json")
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("dh index: 6000 queries in ")
    assert "\r" not in r.stderr
    r = dh("eval", "--query-codes", codes / "c.npy", "--db-codes", codes / "c.npy",
           "--query-labels", codes / "y.npy", "--db-labels", codes / "y.npy")
    assert r.stderr.count("\n") == 1 and "6000 queries against 6000 database codes" in r.stderr
    r = dh("eval", "-q", "--query-codes", codes / "c.npy", "--db-codes", codes / "c.npy",
           "--query-labels", codes / "y.npy", "--db-labels", codes / "y.npy")
    assert r.stderr == "" and "mAP@all" in r.stdout


def test_progress_line_on_a_terminal(codes):
    rc, out, err = on_tty("index", "search", codes / "db.dhi", "--queries", codes / "c.npy")
    assert rc == 0 and out.count(b"\n") == 60001
    assert "\r" in err and "4096/6000 queries" in err and "ETA" in err, err
    assert err.rstrip().endswith("queries/s)")              # then the summary line
    rc, out, err = on_tty("eval", "--query-codes", codes / "c.npy", "--db-codes",
                          codes / "c.npy", "--query-labels", codes / "y.npy", "--db-labels",
                          codes / "y.npy")
    assert rc == 0 and "/6000 queries" in err and "\r" in err
    rc, out, err = on_tty("index", "search", "-q", codes / "db.dhi", "--queries",
                          codes / "c.npy")
    assert rc == 0 and err == ""                             # --quiet: nothing


# ---- encode: -, chunks, -v, --deephash-dir ----------------------------------------------

@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("convm")
    rng = np.random.default_rng(7)
    n, D, C = 5000, 16, 5
    y = (np.arange(n) % C).astype(np.int32)
    x = rng.normal(size=(n, D)).astype(np.float32)
    x[np.arange(n), y] += 3.0
    np.save(d / "x.npy", x)
    np.save(d / "y.npy", y)
    dh("train", "--data", f"npy:{d}/x.npy:{d}/y.npy", "--encoder=mlp:16-32", "--bits", 24,
       "--method", "csq", "--epochs", 2, "-q", "-o", d / "m.safetensors")
    return d


@training
def test_encode_stdout_chunks_and_verbosity(model):
    spec = f"npy:{model}/x.npy:{model}/y.npy"
    r = dh("encode", "--model", model / "m.safetensors", "--data", spec, "-o", model / "c.npy")
    assert r.stderr.count("\n") == 1 and "5000 samples ->" in r.stderr
    piped = subprocess.run([DH, "encode", "--model", str(model / "m.safetensors"), "--data", spec,
                            "-qo", "-"], capture_output=True, timeout=120)
    assert piped.returncode == 0 and piped.stderr == b""
    assert piped.stdout == (model / "c.npy").read_bytes()
    # encoded in chunks of 2048 rows: the same codes as the library in one call
    with dhlib.Model.load(model / "m.safetensors") as m:
        ref = m.encode(np.load(model / "x.npy"))
    assert np.array_equal(np.load(model / "c.npy") > 0, dhlib.unpack_codes(ref, 24) > 0)
    v = dh("encode", "-v", "--model", model / "m.safetensors", "--data", spec, "-o",
           model / "c2.npy")
    assert v.stderr.count("\n") == 2 and "5000 samples of" in v.stderr
    # the model from stdin
    r = dh("encode", "--model", "-", "--data", spec, "-q", "-o", model / "c3.npy",
           stdin="", check=False)
    assert r.returncode == 3 and "stdin is empty" in r.stderr
    with open(model / "m.safetensors", "rb") as f:
        r = subprocess.run([DH, "encode", "--model", "-", "--data", spec, "-q", "-o",
                            str(model / "c3.npy")], stdin=f, capture_output=True, timeout=120)
    assert r.returncode == 0 and (model / "c3.npy").read_bytes() == (model / "c.npy").read_bytes()


@training
def test_encode_deephash_dir_round_trip(model, tmp_path):
    spec = f"npy:{model}/x.npy:{model}/y.npy"
    out = tmp_path / "dhp"
    r = dh("encode", "--model", model / "m.safetensors", "--data", spec, "--deephash-dir", out)
    assert "tst,trn" in r.stderr
    tb, rb = np.load(out / "tst_binary.npy"), np.load(out / "trn_binary.npy")
    tl, rl = np.load(out / "tst_label.npy"), np.load(out / "trn_label.npy")
    assert tb.dtype == rb.dtype == tl.dtype == rl.dtype == np.float32
    assert tb.shape == (5000, 24) and set(np.unique(tb)) == {-1.0, 1.0}
    y = np.load(model / "y.npy")
    assert np.array_equal(tl, np.eye(5, dtype=np.float32)[y])          # one-hot rows
    codes = np.load(model / "c.npy")                                    # dh encode's int8 rows
    assert np.array_equal(tb, codes.astype(np.float32))
    a = json.loads(dh("eval", "--deephash-dir", out, "--json", "-q").stdout)
    b = json.loads(dh("eval", "--query-codes", model / "c.npy", "--db-codes", model / "c.npy",
                      "--query-labels", model / "y.npy", "--db-labels", model / "y.npy",
                      "--json", "-q").stdout)
    assert a["map"] == b["map"] and a["n_queries"] == 5000 and a["map"] > 0.5
    # the four files are the output: no -o beside them
    r = dh("encode", "--model", model / "m.safetensors", "--data", spec, "--deephash-dir", out,
           "-o", out / "x.npy", check=False)
    assert r.returncode == 2 and "--deephash-dir writes its own four files" in r.stderr


# ---- examples ---------------------------------------------------------------------------

@pytest.mark.skipif(not os.path.exists(os.path.join(EX, "cifar10_retrieval")),
                    reason="examples not built")
@pytest.mark.parametrize("ex,bad", [
    ("cifar10_retrieval", ["DIR", "--bits", "x"]),
    ("nuswide_retrieval", ["L", "R", "--epochs", "--help2"]),
    ("fashion_mnist_retrieval", ["twelve"]),
])
def test_examples_help_is_not_a_number(ex, bad):
    for h in ("--help", "-h"):
        r = subprocess.run([os.path.join(EX, ex), h], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and r.stdout.startswith("usage:"), (ex, r.stderr)
    r = subprocess.run([os.path.join(EX, ex), *bad], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, (ex, r.stdout, r.stderr)

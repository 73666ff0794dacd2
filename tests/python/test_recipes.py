"""Recipes and trainer knobs (issue 14): dh.loss.recipe / recipes, the trainer's keywords
reaching the C options, DeepHash passing trainer keywords through, and
`dh train --show-recipe` printing the resolved recipe with the flags given."""
import math
import os
import subprocess

import numpy as np
import pytest

import dh

pytestmark = pytest.mark.skipif(not dh.has_training(), reason="search-only build")

BUILD = os.environ.get("DH_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
DH = os.path.join(BUILD, "src", "dh")
SUPERVISED = ["dpsh", "hashnet", "dch", "dsh", "dtsh", "triplet", "greedyhash", "csq", "dpn",
              "orthohash", "mdsh", "sprch"]


def test_recipe_dict_reference_and_variants():
    r = dh.loss.recipe("dsh", "scratch", "reference", input_size=28)
    assert (r["optimizer"], r["lr"], r["epochs"], r["batch_size"]) == ("adam", 1e-3, 20, 128)
    assert r["weight_decay"] == 4e-3 and r["lr_min_ratio"] == 0 and r["crop_padding"] == 2
    assert r["setting"] == "scratch" and r["variant"] == "reference"
    assert math.isnan(r["margin"])
    c = dh.loss.recipe("cibhash")  # validated unsupervised defaults (docs/recipes.md)
    assert c["tau"] == 0.7 and dh.loss.recipe("cibhash", variant="paper")["tau"] == 0.3
    assert dh.loss.recipe("bihalf")["epochs"] == 1 and math.isnan(r["tau"])
    assert dh.Loss("cibhash", n_bits=16, recipe="default").options()["tau"] == 0.7
    assert dh.Loss("ssdh", n_bits=16, n_train=8, recipe="default").options()["margin"] == 0.0
    assert dh.Loss("ssdh", n_bits=16, n_train=8, recipe="paper").options()["margin"] == 2.0
    assert dh.loss.recipe("wdht")["lr"] == 3e-3 and dh.loss.recipe("wdht", variant="paper")["lr"] == 1e-3
    h = dh.loss.recipe("hashnet", variant="dhp")
    assert h["scale"] == 0.1 and h["loss_schedule"] == 0 and h["optimizer"] == "rmsprop"
    assert dh.loss.recipe("csq", "pretrained", input_size=224)["augment"] & 1  # resized crop
    with pytest.raises(dh.DhError, match="no recipe variant"):
        dh.loss.recipe("csq", variant="dhp")


def test_recipe_rows_cover_every_method():
    rows = dh.loss.recipes()
    methods = set(dh.loss_methods())
    assert {r["method"] for r in rows} == methods
    for m in methods:
        for s in ("scratch", "pretrained"):
            assert dh.loss.recipe(m, s)["epochs"] > 0
    assert sorted(r["method"] for r in rows if r["variant"] == "reference") == sorted(SUPERVISED)


def test_loss_takes_recipe_constants():
    loss = dh.Loss("hashnet", 16, 4, recipe="dhp")
    assert loss.options()["scale"] == pytest.approx(0.1)
    assert dh.Loss("hashnet", 16, 4).options()["scale"] == pytest.approx(10 / 16)
    assert dh.Loss("hashnet", 16, 4, recipe="dhp", scale=0.5).options()["scale"] == 0.5


KNOBS = dict(crop_padding=5, flip_prob=0.3, crop_scale=(0.2, 0.8), crop_ratio=(0.5, 2.0),
             jitter=(0.1, 0.2, 0.3), grayscale_prob=0.15, blur_prob=0.35, lr_min_ratio=0.05,
             decay_scope="weights", augment="resized-crop,flip,jitter,gray,blur")


def check_knobs(o):
    assert o["crop_padding"] == 5
    for k, v in dict(flip_prob=0.3, scale_min=0.2, scale_max=0.8, ratio_min=0.5, ratio_max=2.0,
                     brightness=0.1, contrast=0.2, saturation=0.3, grayscale_prob=0.15,
                     blur_prob=0.35, lr_min_ratio=0.05).items():
        assert o[k] == pytest.approx(v), k
    assert o["decay_scope"] == "weights"
    assert o["augment"] == "resized-crop,flip,jitter,gray,blur"


def test_resolve_options_keywords():
    o = dh.train.resolve_options("csq", "smallcnn", 28, recipe="reference", **KNOBS)
    check_knobs(o)
    assert o["recipe"] == "reference" and o["recipe_setting"] == "scratch"
    d = dh.train.resolve_options("csq", "smallcnn", 32)
    assert d["crop_padding"] == 4 and d["augment"] == "crop,flip"
    assert dh.train.resolve_options("csq", "smallcnn", 28)["crop_padding"] == 2
    big = dh.train.resolve_options("csq", "resnet18", 224)
    assert big["augment"] == "resized-crop,flip" and big["recipe_setting"] == "pretrained"
    assert dh.train.resolve_options("csq", "smallcnn", 28, augment="none")["augment"] == "none"
    with pytest.raises(TypeError):
        dh.train.resolve_options("csq", bogus=1)
    with pytest.raises(dh.DhError, match="flip_prob"):
        dh.train.resolve_options("csq", "smallcnn", 28, flip_prob=1.5)


def _images(n=96, side=28, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, side, side, 1), dtype=np.uint8)
    return x, (np.arange(n) % 4).astype(np.int32)


def test_trainer_keywords_reach_c_options():
    x, y = _images()
    ds = dh.Dataset.from_images(x, y, n_classes=4)
    loss = dh.Loss("csq", 16, 4)
    model = dh.Model.create("smallcnn", n_bits=16, head=loss.head_hint()[0],
                            input_shape=(1, 28, 28))
    t = dh.Trainer(model, loss, ds, epochs=1, **KNOBS)
    check_knobs(t.options())
    t2 = dh.Trainer(model, loss, ds, epochs=1)
    o = t2.options()
    assert o["crop_padding"] == 2 and o["augment"] == "crop,flip" and o["recipe"] == "default"


def test_deephash_passes_trainer_keywords(monkeypatch):
    seen = {}
    real = dh.estimator.Trainer

    def spy(model, loss, ds, **opts):
        t = real(model, loss, ds, **opts)
        seen.update(t.options())
        seen["loss_scale"] = loss.options()["scale"]
        return t

    monkeypatch.setattr(dh.estimator, "Trainer", spy)
    x, y = _images(64)
    h = dh.DeepHash(method="hashnet", bits=16, epochs=1, recipe="dhp", crop_padding=3,
                    blur_prob=0.25, jitter=0.2, lr_min_ratio=0.5, margin=1.0)
    h.fit(x, y)
    assert seen["crop_padding"] == 3 and seen["blur_prob"] == 0.25
    assert seen["brightness"] == pytest.approx(0.2) and seen["saturation"] == pytest.approx(0.2)
    assert seen["lr_min_ratio"] == 0.5 and seen["recipe"] == "dhp"
    assert seen["loss_scale"] == pytest.approx(0.1)  # the dhp row's alpha reached the loss
    with pytest.raises(TypeError, match="unknown option"):
        dh.DeepHash(bogus=1)


def cli(*args, check=True):
    r = subprocess.run([DH, "train", *map(str, args)], capture_output=True, text=True,
                       timeout=120)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def fields(out):
    return {line.split(":", 1)[0]: line.split(":", 1)[1].strip()
            for line in out.splitlines() if ":" in line}


@pytest.mark.skipif(not os.path.exists(DH), reason="dh tool not built")
def test_cli_show_recipe_defaults_and_every_method():
    f = fields(cli("--method", "dsh", "--show-recipe").stdout)
    assert f["recipe"] == "dsh / scratch / default"
    assert f["weight-decay"] == "0.004 (all tensors)"
    assert f["crop-padding"] == "2" and f["augment"] == "none"  # chosen on validation
    assert fields(cli("--method", "dsh", "--size", "32", "--show-recipe").stdout)[
        "crop-padding"] == "4"
    h = fields(cli("--method", "hashnet", "--recipe", "dhp", "--show-recipe").stdout)
    assert h["scale"] == "0.1" and h["optimizer"] == "rmsprop"  # a row's method constant
    big = fields(cli("--method", "csq", "--encoder", "resnet18", "--show-recipe").stdout)
    assert big["augment"] == "resized-crop,flip" and big["recipe"] == "csq / pretrained / paper"  # the default falls back to the paper row
    for m in dh.loss_methods():
        f = fields(cli("--method", m, "--show-recipe").stdout)
        r = dh.loss.recipe(m, "scratch", input_size=28)
        assert f["recipe"] == f"{m} / scratch / {r['variant']}"
        assert int(f["epochs"]) == r["epochs"] and float(f["lr"]) == pytest.approx(r["lr"])


@pytest.mark.skipif(not os.path.exists(DH), reason="dh tool not built")
def test_cli_flags_reach_the_trainer():
    out = cli("--method", "hashnet", "--recipe", "dhp", "--crop-padding", "5", "--flip-prob",
              "0.3", "--crop-scale", "0.2,0.8", "--crop-ratio", "0.5,2", "--jitter",
              "0.1,0.2,0.3", "--gray-prob", "0.15", "--blur-prob", "0.35", "--lr-floor",
              "0.05", "--decay-scope", "weights", "--schedule", "cosine", "--augment",
              "crop,flip,blur", "--show-recipe").stdout
    f = fields(out)
    assert f["recipe"] == "hashnet / scratch / dhp"
    assert f["crop-padding"] == "5" and f["flip-prob"] == "0.3"
    assert f["crop-scale"] == "0.2,0.8" and f["crop-ratio"] == "0.5,2"
    assert f["jitter"] == "0.1,0.2,0.3" and f["gray-prob"] == "0.15" and f["blur-prob"] == "0.35"
    assert f["schedule"] == "cosine, lr-floor 0.05 (x lr)"
    assert f["weight-decay"].endswith("(weights only)") and f["augment"] == "crop,flip,blur"
    assert f["scale"] == "0.1" and f["loss-schedule"] == "0"
    r = cli("--method", "csq", "--recipe", "nope", "--show-recipe", check=False)
    assert r.returncode != 0 and "no recipe variant" in r.stderr
    r = cli("--method", "csq", "--flip-prob", "1.5", "--show-recipe", check=False)
    assert r.returncode != 0


def test_ctypes_mirrors_match_the_c_layout():
    """The option structs 1.3 grew: each ctypes mirror has the size and field offsets
    recorded in tests/abi/layout.expected (a short mirror lets *_init write past it)."""
    import ctypes
    src = os.environ.get("DH_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
    rows = [line.split() for line in open(os.path.join(src, "tests", "abi", "layout.expected"))
            if line.strip()]
    mirrors = {"dh_trainer_options": dh.train.TrainerOptions,
               "dh_loss_recipe": dh.loss.LossRecipe,
               "dh_loader_options": dh.data.LoaderOptions}
    for name, cls in mirrors.items():
        want = {f: int(v) for s, f, v in rows if s == name}
        assert ctypes.sizeof(cls) == want["sizeof"], name
        for f, _ in cls._fields_:
            assert getattr(cls, f).offset == want[f], (name, f)

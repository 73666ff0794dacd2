#!/usr/bin/env python3
"""Seed corpus for tests/fuzz/fuzz_checkpoint.c: real checkpoints of the fuzz target's
trainer (MLP 8-16, 8 bits, HashNet, 16 rows, batch 8) and one mutation per check of the
checkpoint loader (lib/train/checkpoint.c). Run from the repository root:
  DH_LIBRARY=build/libdh.so PYTHONPATH=bindings/python /usr/bin/python3 \
      tests/fuzz/gen_checkpoint_corpus.py tests/fuzz/corpus/checkpoint
"""
import json
import os
import struct
import sys
import tempfile

import numpy as np

import dh


def train(path, epochs):
    n, d, c = 16, 8, 2
    x = np.array([[((i * 7 + j * 3) % 11) / 11.0 - 0.5 for j in range(d)] for i in range(n)],
                 dtype=np.float32)
    y = (np.arange(n) % c).astype(np.int32)
    ds = dh.Dataset.from_features(x, class_ids=y, n_classes=c)
    loss = dh.Loss("hashnet", n_bits=8, n_classes=c, n_train=n)
    model = dh.Model.create(encoder="mlp:8-16", n_bits=8, head=loss.head_hint()[0])
    dh.Trainer(model, loss, ds, epochs=epochs, batch_size=8, keep_best=0,
               checkpoint_path=path).run()
    with open(path, "rb") as f:
        return f.read()


def split(blob):
    (hl,) = struct.unpack("<Q", blob[:8])
    return json.loads(blob[8:8 + hl]), blob[8 + hl:]


def join(header, data):
    h = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + data


def set_tensor(blob, name, index, fmt, value):
    """Overwrite element `index` of tensor `name` (struct format fmt)."""
    header, data = split(blob)
    start = header[name]["data_offsets"][0] + index * struct.calcsize(fmt)
    data = data[:start] + struct.pack(fmt, value) + data[start + struct.calcsize(fmt):]
    return join(header, data)


def set_meta(blob, key, value):
    header, data = split(blob)
    header["__metadata__"][key] = value
    return join(header, data)


def drop(blob, name):
    """Remove a tensor and its bytes (later offsets shift down)."""
    header, data = split(blob)
    a, b = header.pop(name)["data_offsets"]
    for k, v in header.items():
        if k != "__metadata__" and v["data_offsets"][0] >= b:
            v["data_offsets"] = [v["data_offsets"][0] - (b - a), v["data_offsets"][1] - (b - a)]
    return join(header, data[:a] + data[b:])


def main(out):
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        one = train(os.path.join(tmp, "a.ckpt"), 1)   # next epoch 1: resume trains epoch 2
        two = train(os.path.join(tmp, "b.ckpt"), 2)   # next epoch 2: nothing left to train
    header, _ = split(one)
    names = [k for k in header if k != "__metadata__"]
    optim = next(k for k in names if k.startswith("optim."))
    model_t = next(k for k in names if k.startswith("model."))
    var = next((k for k in names if k.endswith("running_var")), None)
    seeds = {
        "ok_epoch1.ckpt": one,
        "ok_done.ckpt": two,
        "bad_format.ckpt": set_meta(one, "format", "libdh-model"),
        "bad_version.ckpt": set_meta(one, "version", "2"),
        "other_bits.ckpt": set_meta(one, "n_bits", "16"),
        "missing_optim.ckpt": drop(one, optim),
        "missing_model.ckpt": drop(one, model_t),
        "batches_3.ckpt": set_tensor(one, "trainer.state", 7, "<q", 3),
        "epoch_negative.ckpt": set_tensor(one, "trainer.state", 1, "<q", -5),
        "epoch_2e31.ckpt": set_tensor(one, "trainer.state", 1, "<q", 1 << 31),
        "step_negative.ckpt": set_tensor(one, "trainer.state", 2, "<q", -1),
        "best_epoch_2e40.ckpt": set_tensor(one, "trainer.state", 6, "<q", 1 << 40),
        "beta_nan.ckpt": set_tensor(one, "trainer.values", 2, "<d", float("nan")),
        "beta_zero.ckpt": set_tensor(one, "trainer.values", 2, "<d", 0.0),
        "map_7.ckpt": set_tensor(one, "trainer.values", 0, "<d", 7.0),
        "truncated.ckpt": one[: len(one) // 2],
    }
    if var:
        seeds["running_var_negative.ckpt"] = set_tensor(one, var, 0, "<f", -1.0)
    for name, blob in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(blob)
    print(f"wrote {len(seeds)} seeds to {out}; tensors: {', '.join(names)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/corpus/checkpoint")

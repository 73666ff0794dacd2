#!/usr/bin/python3
"""Throughput of libdh's batch pipeline (dh.data.Loader) against torchvision's
DataLoader doing the same work, measured in one process, alternating sides.

Cases:
  fmnist-mem   Fashion-MNIST training set (60,000 28x28 images) from memory, random
               crop (padding 4) + horizontal flip + normalisation, batch 256.
  jpeg-disk    a list of --n-jpeg JPEG files (320x240) decoded from disk, random
               resized crop to 224 + flip + colour jitter + normalisation, batch 64,
               no cache (every image decoded each epoch).
Each side runs --reps epochs-worth of batches (best kept). The torchvision side uses
DataLoader(num_workers=--threads) with equivalent transforms. Output, one line each:
  case=fmnist-mem threads=2 dh_img_s=... torch_img_s=... ratio_vs_torch ...
ratio_vs_torch = dh images/s / torchvision images/s (> 1: libdh is faster).

  /usr/bin/python3 bench/bench_data.py --quick
  /usr/bin/python3 bench/bench_data.py --threads 2 --reps 3
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bindings", "python"))

import dh  # noqa: E402
from dh import data  # noqa: E402

try:
    import torch  # noqa: E402
    import torchvision.transforms as T  # noqa: E402
    from PIL import Image  # noqa: E402
except ImportError:  # pragma: no cover - reported, not hidden
    torch = None


def dh_epoch(ds, max_batches, **opts):
    L = data.Loader(ds, **opts)
    n, t0 = 0, time.perf_counter()
    for b, batch in enumerate(L):
        n += batch["x"].shape[0]
        if b + 1 >= max_batches:
            break
    return n / (time.perf_counter() - t0)


def torch_epoch(tds, max_batches, batch_size, threads):
    dl = torch.utils.data.DataLoader(tds, batch_size=batch_size, shuffle=True,
                                     num_workers=threads, drop_last=False)
    n, t0 = 0, time.perf_counter()
    for b, (x, _) in enumerate(dl):
        n += x.shape[0]
        if b + 1 >= max_batches:
            break
    return n / (time.perf_counter() - t0)


class ArrayDS:  # torch Dataset over uint8 HWC images in memory
    def __init__(self, images, labels, tf):
        self.im, self.lab, self.tf = images, labels, tf

    def __len__(self):
        return len(self.im)

    def __getitem__(self, i):
        return self.tf(Image.fromarray(self.im[i][:, :, 0])), int(self.lab[i])


class FileDS:
    def __init__(self, paths, tf):
        self.paths, self.tf = paths, tf

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        return self.tf(Image.open(self.paths[i]).convert("RGB")), 0


def compare(name, run_dh, run_torch, reps, threads):
    best_d = best_t = 0.0
    for r in range(reps):
        sides = [("d", run_dh), ("t", run_torch)]
        for tag, f in (sides if r % 2 == 0 else sides[::-1]):
            if tag == "t" and run_torch is None:
                continue
            v = f()
            if tag == "d":
                best_d = max(best_d, v)
            else:
                best_t = max(best_t, v)
    ratio = f"{best_d / best_t:.2f}" if best_t else "n/a"
    print(f"case={name} threads={threads} dh_img_s={best_d:.0f} torch_img_s={best_t:.0f} "
          f"ratio_vs_torch {ratio}", flush=True)


def case_fmnist(args):
    try:
        ds = data.Dataset.fashion_mnist("train")
    except dh.DhError as e:
        print(f"case=fmnist-mem skipped: {e}")
        return
    nb = args.batches
    opts = dict(batch_size=256, seed=1, n_threads=args.threads, prefetch=1,
                augment=data.AUG_RANDOM_CROP | data.AUG_FLIP, mean=[0.286], std=[0.353])
    run_torch = None
    if torch is not None:
        im = np.stack([ds.image(i) for i in range(len(ds))])
        tds = ArrayDS(im, ds.class_ids(), T.Compose([
            T.RandomCrop(28, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
            T.Normalize([0.286], [0.353])]))

        def run_torch():
            return torch_epoch(tds, nb, 256, args.threads)
    compare("fmnist-mem", lambda: dh_epoch(ds, nb, **opts), run_torch, args.reps, args.threads)


def case_jpeg(args):
    if torch is None:
        print("case=jpeg-disk skipped: PIL/torchvision needed to write the JPEG files")
        return
    tmp = tempfile.mkdtemp(prefix="dh_bench_data_")
    try:
        rng = np.random.default_rng(0)
        lines, paths = [], []
        base = rng.integers(0, 256, size=(240, 320, 3), dtype=np.uint8)
        for i in range(args.n_jpeg):
            p = os.path.join(tmp, f"{i:05d}.jpg")
            Image.fromarray(np.roll(base, i, axis=1)).save(p, quality=90)
            lines.append(f"{i:05d}.jpg {i % 10}\n")
            paths.append(p)
        with open(os.path.join(tmp, "list.txt"), "w") as f:
            f.writelines(lines)
        ds = data.Dataset.imagelist(os.path.join(tmp, "list.txt"), height=240, width=320,
                                    resize_mode=data.RESIZE_STRETCH, cache_bytes=0)
        nb = max(1, args.n_jpeg // 64)
        opts = dict(batch_size=64, seed=1, n_threads=args.threads, out_height=224,
                    out_width=224, augment=data.AUG_RESIZED_CROP | data.AUG_FLIP |
                    data.AUG_COLOR_JITTER, mean=[0.485, 0.456, 0.406],
                    std=[0.229, 0.224, 0.225])
        tds = FileDS(paths, T.Compose([
            T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ColorJitter(0.4, 0.4, 0.4),
            T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])]))
        compare("jpeg-disk", lambda: dh_epoch(ds, nb, **opts),
                lambda: torch_epoch(tds, nb, 64, args.threads), args.reps, args.threads)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--batches", type=int, default=60, help="batches per fmnist run")
    ap.add_argument("--n-jpeg", type=int, default=512)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.reps, args.batches, args.n_jpeg = 2, 20, 128
    if torch is not None:
        torch.set_num_threads(1)
    case_fmnist(args)
    case_jpeg(args)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Where an encoder step's time goes (issue 17): one libdh (and with --torch one PyTorch)
training or inference step of bench_encoder.py's cases, timed per oneDNN primitive from
ONEDNN_VERBOSE, every convolution's GFLOP/s set against this machine's FMA limit
(bench/fma_limit.c, the same thread count), and the step time direct convolution cannot
beat: every convolution at 100 % of the limit plus the rest as measured.

    DH_LIBRARY=build/libdh.so.1 PYTHONPATH=bindings/python /usr/bin/python3 \\
        bench/encoder_profile.py --case resnet18-cifar --batch 64 --isa avx2 --torch

--isa avx2 caps both sides (DH_ISA, ONEDNN_MAX_CPU_ISA, ATEN_CPU_CAPABILITY) as
docs/benchmarks.md's AVX2 runs do; --isa native leaves them alone (the limit is then
AVX-512's where the CPU has it). Times under verbose are a few percent above the plain
step; the plain step is timed too (--steps each, after two warm-up steps)."""
import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MARK, END = "=====MARK=====", "=====END====="


def child(side, case, batch, train, threads, steps):
    sys.path.insert(0, HERE)
    import numpy as np
    import bench_encoder as be
    import dh
    dh.set_num_threads(threads)
    if side == "torch":  # the libdh side never loads PyTorch (nor its oneDNN)
        import torch
        torch.set_num_threads(threads)
        s = be.TorchSide(case)
        s.set_mode(train)
    else:
        s = be.DhSide(case)
    x = np.random.default_rng(0).standard_normal((batch,) + be.CASES[case][1]).astype(np.float32)
    f = s.step_fn(x, train)
    f(), f()
    print(MARK, flush=True)
    t = time.perf_counter()
    for _ in range(steps):
        f()
    print(f"{END} {(time.perf_counter() - t) / steps * 1000:.3f}", flush=True)


def fma_limit(isa, threads):
    exe = os.path.join(tempfile.mkdtemp(prefix="dh-fma-"), "fma_limit")
    subprocess.run([os.environ.get("CC", "cc"), "-O2", "-fopenmp",
                    os.path.join(HERE, "fma_limit.c"), "-o", exe], check=True)
    r = subprocess.run([exe, isa, str(threads)], check=True, capture_output=True, text=True)
    return float(re.search(r"gflops=([\d.]+)", r.stdout).group(1))


def run_side(side, args, env, verbose):
    e = dict(env, ONEDNN_VERBOSE="1" if verbose else "0")
    cmd = [sys.executable, os.path.abspath(__file__), "--child", side, "--case", args.case,
           "--batch", str(args.batch), "--mode", args.mode, "--threads", str(args.threads),
           "--steps", str(args.steps)]
    out = subprocess.run(cmd, env=e, check=True, capture_output=True, text=True).stdout
    body, tail = out.split(MARK, 1)[1].split(END, 1)
    return body, float(tail.split()[0])


def conv_flops(shape):
    g = {k: int(v) for k, v in re.findall(r"([a-z]+)(\d+)", shape)}
    return 2.0 * g["mb"] * g["ic"] * g["oc"] * g["oh"] * g["ow"] * g["kh"] * g["kw"] / \
        g.get("g", 1), f"ic{g['ic']} oc{g['oc']} {g['oh']}x{g['ow']} k{g['kh']} s{g['sh']}"


def report(side, body, steps, limit, plain_ms, verbose_ms, top):
    t, fl, other = collections.defaultdict(float), collections.defaultdict(float), \
        collections.defaultdict(float)
    for ln in body.splitlines():
        if not ln.startswith("onednn_verbose,exec,cpu,"):
            continue
        p = ln.split(",")
        ms = float(p[-1]) / steps
        if p[3] == "convolution":
            f, name = conv_flops(p[-2])
            t[(p[5], name, p[4])] += ms
            fl[(p[5], name, p[4])] += f / steps
        else:
            other[f"{p[3]} {p[4]}"] += ms
    conv_ms, conv_f = sum(t.values()), sum(fl.values())
    other_ms = sum(other.values())
    print(f"\n{side}: step {plain_ms:.1f} ms plain; under verbose: convolutions {conv_ms:.1f} ms "
          f"({conv_f / 1e9:.1f} GFLOP, {conv_f / conv_ms / 1e6:.1f} GFLOP/s = "
          f"{conv_f / conv_ms / 1e6 / limit * 100:.0f} % of the {limit:.0f} GFLOP/s FMA limit), "
          f"other oneDNN primitives {other_ms:.1f} ms")
    for k in sorted(t, key=lambda k: -t[k])[:top]:
        g = fl[k] / t[k] / 1e6
        print(f"  {t[k]:7.1f} ms {g:6.1f} GFLOP/s {g / limit * 100:4.0f} %  {k[0]:17s} {k[1]:22s}"
              f" {k[2]}")
    for k, v in sorted(other.items(), key=lambda kv: -kv[1])[:5]:
        print(f"  {v:7.1f} ms {'':25s} {k}")
    rest = max(verbose_ms - conv_ms, 0.0)  # everything but the convolutions, same run
    floor = conv_f / limit / 1e6 + rest
    print(f"  direct-convolution floor: {floor:.1f} ms (every convolution at the limit; the "
          f"other {rest:.1f} ms of the verbose step, {verbose_ms:.1f} ms, as measured)")
    return floor


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--case", default="resnet18-cifar")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--mode", choices=["train", "infer"], default="train")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--isa", choices=["avx2", "native"], default="avx2")
    ap.add_argument("--torch", action="store_true", help="profile PyTorch's step too")
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--child", choices=["dh", "torch"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.case, args.batch, args.mode == "train", args.threads,
                     args.steps)
    env = dict(os.environ)
    if args.isa == "avx2":
        env.update(DH_ISA="avx2", ONEDNN_MAX_CPU_ISA="AVX2", ATEN_CPU_CAPABILITY="avx2")
        isa = "avx2"
    else:
        isa = "avx512" if "avx512f" in open("/proc/cpuinfo").read() else "avx2"
    limit = fma_limit(isa, args.threads)
    sys.path.insert(0, HERE)
    from popcount_limit import cpu_model
    cpu = cpu_model()
    print(f"{args.case} {args.mode} batch {args.batch}, {args.threads} threads, isa {args.isa}, "
          f"CPU {cpu}; FMA limit ({isa}, {args.threads} threads) {limit:.1f} GFLOP/s")
    sides = ["dh", "torch"] if args.torch else ["dh"]
    plain = {}
    for s in sides + sides:  # alternate the sides; keep each side's best plain step
        plain[s] = min(plain.get(s, 1e30), run_side(s, args, env, False)[1])
    floors = {}
    for s in sides:
        body, vms = run_side(s, args, env, True)
        floors[s] = report("libdh" if s == "dh" else "torch", body, args.steps, limit,
                           plain[s], vms, args.top)
    if args.torch:
        print(f"\nratio torch/libdh (plain steps) {plain['torch'] / plain['dh']:.2f}; "
              f"the most direct convolution allows libdh: {plain['torch'] / floors['dh']:.2f}")


if __name__ == "__main__":
    main()

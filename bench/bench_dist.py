#!/usr/bin/env python3
"""libdh_mpi scaling on this machine: sharded k-NN and data-parallel training at 1, 2
and 4 ranks, each against its peer in the same run (one process: one index with every
row; the plain one-process trainer). Prints one line per run and the ratios.

    python3 bench/bench_dist.py [--build build-mpi] [--n-db 2000000] [--queries 1000]
                                [-k 100] [--bits 64] [--images 2048] [--batch 64]

Every rank runs with OMP_NUM_THREADS=1 and Open MPI's yield-when-idle (so waiting ranks
do not spin on the cores the others compute on). This VM has 2 cores: 2 ranks can use
both, 4 ranks are oversubscribed -- the numbers past 2 ranks measure contention, not
scaling (docs/scale.md models more nodes from the compute and message sizes here)."""
import argparse
import os
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build-mpi")
    ap.add_argument("--n-db", type=int, default=2_000_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("-k", type=int, default=100)
    ap.add_argument("--bits", type=int, default=64)
    ap.add_argument("--images", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--ranks", default="1,2,4")
    a = ap.parse_args()
    exe = os.path.join(a.build, "lib", "dist", "bench_dist")
    if not os.path.exists(exe):
        sys.exit(f"{exe} not found (build with DH_WITH_MPI=ON)")
    env = dict(os.environ, OMP_NUM_THREADS="1", OMPI_MCA_mpi_yield_when_idle="1")
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((l.split(":", 1)[1].strip() for l in cpu.splitlines()
                  if l.startswith("Model name")), "?")
    print(f"CPU: {model}, {os.cpu_count()} cores visible; ISA {env.get('DH_ISA', 'auto')}")
    root = ["--allow-run-as-root"] if os.geteuid() == 0 else []
    for what, args in (("search", [str(a.n_db), str(a.queries), str(a.k), str(a.bits)]),
                       ("train", [str(a.images), str(a.batch)])):
        for np_ in a.ranks.split(","):
            cmd = ["mpirun", *root, "--oversubscribe", "-np", np_, exe, what, *args]
            r = subprocess.run(cmd, env=env, capture_output=True, text=True)
            sys.stdout.write(r.stdout)
            if r.returncode:
                sys.stdout.write(r.stderr)


if __name__ == "__main__":
    main()

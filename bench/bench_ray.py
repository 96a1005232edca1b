"""Scale-out benchmark: `python -m neurodash precompute` in one process (the floor) against the same
precompute with `--engine ray` on a local Ray with 1 and 2 workers, and `--engine shards` (the
shard machinery in one process, no Ray), each from nothing (a fresh NEURODASH_HOME per run, a fresh
process, Ray's start-up included), printed as ratios to the floor.

Usage: python -m bench.bench_ray [--n 4000] [--shards 4] [--repeats 2] [--quick]
On a 2-core machine two workers can at best halve the extraction; Ray's start-up (~5-10 s here)
and the merge are the fixed cost the ratio shows. Figures are only meaningful when `uptime` shows a
load average below 1.

The ImageNet-scale figure (50,000 images at 224², ResNet-50, 5 layers, CLIP ViT-B concepts, 20,000
concepts, against CLIP-Dissect's ~4 minutes on one GPU) needs a GPU machine; none was lent to
issue 14, so it was not run.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import ratio_report

ROOT = Path(__file__).resolve().parent.parent


def precompute(n: int, extra: list[str]):
    def run():
        with tempfile.TemporaryDirectory(prefix="bench-ray-") as home:
            env = {**os.environ, "NEURODASH_HOME": home, "OMP_NUM_THREADS": "1"}
            subprocess.run([sys.executable, "-m", "neurodash", "precompute", "--probe-n", str(n), *extra],
                           cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    return run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="n=400, one repeat (a smoke run)")
    args = ap.parse_args()
    if args.quick:
        args.n, args.repeats = 400, 1
    print(f"load average: {os.getloadavg()[0]:.2f} (figures are valid below 1)")
    sh = ["--shards", str(args.shards)]
    ratio_report("single process", {
        "single process": precompute(args.n, []),
        "shards in one process": precompute(args.n, ["--engine", "shards", *sh]),
        "ray, 1 worker": precompute(args.n, ["--engine", "ray", "--workers", "1", *sh]),
        "ray, 2 workers": precompute(args.n, ["--engine", "ray", "--workers", "2", *sh]),
    }, repeats=args.repeats, title=f"precompute of the shapes world, n={args.n}, from nothing")


if __name__ == "__main__":
    main()

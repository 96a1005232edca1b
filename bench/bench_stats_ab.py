"""A/B of neurodash.stats at two git revisions, in one process (issue 15): interleaved runs, min of
a few repeats, and whether the two give the same bits.

    python -m bench.bench_stats_ab main inverse_auprc:b,auprc:s        # main vs this checkout
    python -m bench.bench_stats_ab HEAD~3 recall:b --repeats 3 --threads 1 --cpu

ROWS: metric:b (bool concepts at 2%) or metric:s (uniform float32), bench_stats' part-1 shapes
(n=50,000, N=512, C=1,000; --quick: 5,000 × 64 × 200). The old revision's neurodash/stats is
copied (git archive) into a temporary package with its imports renamed, so both run side by side
on the same arrays. A speed-up measured this way holds under load far better than a ratio to the
floor does (both sides suffer the same load); --cpu times process CPU instead of wall clock
(meaningful with --threads 1).
"""
from __future__ import annotations

import argparse
import importlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from bench.common import part1_arrays
from neurodash.stats.metrics import similarity


def old_similarity(rev: str, into: Path):
    """`similarity` of neurodash/stats at git revision `rev`, imported as package `stats_<rev>`."""
    name = "stats_" + "".join(ch if ch.isalnum() else "_" for ch in rev)
    data = subprocess.run(["git", "archive", rev, "neurodash/stats"], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    pkg = into / name
    (into / "neurodash" / "stats").rename(pkg)
    for f in pkg.glob("*.py"):
        f.write_text(f.read_text().replace("neurodash.stats", name))
    sys.path.insert(0, str(into))
    return importlib.import_module(f"{name}.metrics").similarity


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rev", help="the old revision (e.g. main)")
    ap.add_argument("rows", help="comma-separated metric:b / metric:s")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None, help="limit BLAS (and neurodash's blocks) to this")
    ap.add_argument("--cpu", action="store_true", help="process CPU time instead of wall clock")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    clock = time.process_time if args.cpu else time.perf_counter
    n, N, C = (5000, 64, 200) if args.quick else (50_000, 512, 1_000)
    acts, binary, binary_f, soft = part1_arrays(n, N, C)
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(limits=args.threads, user_api="blas"):
        old = old_similarity(args.rev, Path(tmp))
        print(f"load average {os.getloadavg()[0]:.2f}; old = {args.rev}, new = this checkout; "
              f"{'CPU' if args.cpu else 'wall'} seconds, min of {args.repeats}, interleaved")
        for row in args.rows.split(","):
            metric, kind = row.split(":")
            X = binary if kind == "b" else soft
            best = {"floor": np.inf, "old": np.inf, "new": np.inf}
            for _ in range(args.repeats):
                for key, fn in (("floor", lambda: acts.T @ binary_f), ("old", lambda: old(acts, X, metric)),
                                ("new", lambda: similarity(acts, X, metric))):
                    t0 = clock()
                    out = fn()
                    best[key] = min(best[key], clock() - t0)
                    if key != "floor":
                        best[key + "_out"] = out
            a, b = best["old_out"], best["new_out"]
            f = best["floor"]
            print(f"  {row:<22s} floor {f:.3f}  old {best['old']:.3f} ({best['old'] / f:.2f}x)  "
                  f"new {best['new']:.3f} ({best['new'] / f:.2f}x)  speed-up {best['old'] / best['new']:.2f}x  "
                  f"same bits {np.array_equal(a, b, equal_nan=True)} (max |diff| {np.nanmax(np.abs(a - b)):.1e})",
                  flush=True)
        print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

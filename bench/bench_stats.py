"""Speed of neurodash.stats, as ratios to a floor timed in the same run (see bench/README.md).

    python -m bench.bench_stats               # full size (issue 15 table): several minutes
    python -m bench.bench_stats --quick       # small shapes, seconds (smoke run)
    python -m bench.bench_stats --threads 1   # everything on one BLAS thread (less distorted by load)

Part 1: n images × N neurons × C concepts (default 50,000 × 512 × 1,000), α = 0.01. Binary
concepts at 2% are passed as bool (how a workspace stores ground truth); soft concepts are
uniform float32. Floor = the dense float32 product acts.T @ concepts (same shapes).
Part 2: BE for one neuron, K resamples, C2 bool concepts (default 100 × 50,000 × 20,000);
floor = one dense (K×n) @ (n×C2) float32 product; also compared with a loop of K separate
identifications (a few timed, scaled to K).

Every line prints the floor's seconds. The run first compares the multi-threaded floor with a
single-threaded one and reads the load average: on a loaded machine no target is called met.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
from threadpoolctl import threadpool_limits

from bench.common import best_times, machine_load, part1_arrays, print_load, ratio_report
from neurodash.stats.bootstrap import bootstrap_winners, resample_counts
from neurodash.stats.metrics import similarity

BINARY_TARGETS = {  # issue 15's table, binary concepts at 2%
    "recall": 0.5, "precision": 0.5, "f1": 0.5, "iou": 0.5, "accuracy": 0.5, "balanced_accuracy": 0.5,
    "pearson": 1.25, "cosine": 1.25, "auroc": 0.5, "inverse_auroc": 3.0, "auprc": 5.0,
    "inverse_auprc": 5.0, "spearman": 5.0, "wpmi": 1.25, "mad": 1.25, "soft_wpmi": 0.5,
}
SOFT_TARGETS = {"pearson": 1.25, "auroc": 3.0, "auprc": 5.0, "spearman": 5.0, "wpmi": 1.25, "soft_wpmi": 0.5}
BE_TARGETS = {"iou": 3.0, "recall": 3.0, "auroc": 3.0, "pearson": 3.0}


def part1(n, N, C, repeats, judge):
    acts, binary, binary_f, soft = part1_arrays(n, N, C)

    def sim(metric, concepts):
        return lambda: similarity(acts, concepts, metric)

    funcs = {"floor acts.T@concepts": lambda: acts.T @ binary_f}
    funcs.update({m: sim(m, binary) for m in BINARY_TARGETS})
    funcs["iou (float32 0/1, binary=True)"] = lambda: similarity(acts, binary_f, "iou", binary=True)
    ratio_report("floor acts.T@concepts", funcs, repeats=repeats, targets=BINARY_TARGETS, judge=judge,
                 title=f"binary concepts (bool, 2%), n={n}, N={N}, C={C}")

    funcs = {"floor acts.T@soft": lambda: acts.T @ soft}
    funcs.update({f"{m} (soft)": sim(m, soft) for m in SOFT_TARGETS})
    ratio_report("floor acts.T@soft", funcs, repeats=repeats, judge=judge,
                 targets={f"{m} (soft)": t for m, t in SOFT_TARGETS.items()},
                 title=f"soft concepts (uniform [0,1] float32), n={n}, N={N}, C={C}")


def part2(n, C2, K, repeats, loop_samples, judge):
    rng = np.random.default_rng(1)
    concepts = rng.random((n, C2), dtype=np.float32) < 0.02  # bool: 1 byte per entry
    truth = 17
    a = (concepts[:, truth] * 2.0 + rng.standard_normal(n)).astype(np.float32)
    W = resample_counts(n, K, seed=0).astype(np.float32)
    chunk = 1000
    block = concepts[:, :chunk].astype(np.float32)

    def floor():  # one dense (K×n)@(n×C2) product, in column blocks of the same total size, written
        for _ in range(0, C2, chunk):  # as (block.T @ W).T: OpenBLAS is several times faster on it
            block.T @ W

    funcs = {"floor (K×n)@(n×C)": floor}
    for m in BE_TARGETS:
        funcs[f"BE {m}"] = (lambda m=m: bootstrap_winners(a, concepts, m, K=K, seed=0))
    ratios = ratio_report("floor (K×n)@(n×C)", funcs, repeats=repeats, judge=judge,
                          targets={f"BE {m}": t for m, t in BE_TARGETS.items()},
                          title=f"BE one neuron, K={K}, n={n}, C={C2} (bool, 2%)")
    for m in ("iou", "pearson"):
        def one_identification(k=[0]):
            rows = np.repeat(np.arange(n), W[:, k[0] % K].astype(np.int64))
            k[0] += 1
            return np.nanargmax(similarity(a[rows], concepts[rows], m)[0])
        t = best_times({"one": one_identification}, repeats=loop_samples)["one"]
        be = ratios[f"BE {m}"] * ratios["floor_s"]
        print(f"  loop of K={K} identifications ({m}): ~{t * K:.1f} s (one takes {t:.2f} s); "
              f"BE {be:.2f} s is {t * K / be:.0f}x faster")
    res = bootstrap_winners(a, concepts, "iou", K=K, seed=0)
    print(f"  (sanity: BE iou winner counts for the planted concept {truth}: "
          f"{int((res.winners == truth).sum())}/{K})")


def calibrate(n, N, C):
    rng = np.random.default_rng(2)
    acts = rng.standard_normal((n, N), dtype=np.float32)
    conc = (rng.random((n, C), dtype=np.float32) < 0.02).astype(np.float32)
    return machine_load(lambda: acts.T @ conc)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small shapes for a smoke run")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="limit BLAS to this many threads")
    ap.add_argument("--skip-be", action="store_true")
    ap.add_argument("--skip-part1", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    shape = (5000, 64, 200) if args.quick else (50_000, 512, 1_000)
    be_shape = (5000, 2000, 20, 2) if args.quick else (50_000, 20_000, 100, 3)
    info = calibrate(*shape)
    print_load(info)
    judge = not info["loaded"] and not args.quick
    if args.quick:
        print("quick shapes: no target is judged")
    if args.threads is not None:
        judge = False
        print(f"BLAS limited to {args.threads} thread(s): single-threaded ratios, no target is judged")
    with threadpool_limits(limits=args.threads, user_api="blas"):
        if not args.skip_part1:
            part1(*shape, args.repeats, judge)
        if not args.skip_be:
            part2(*be_shape[:3], args.repeats, be_shape[3], judge)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f} (this run counts ~1-{info['threads']}); "
          f"total bench time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()

"""Speed of neurodash.stats, as ratios to a floor timed in the same run (see bench/README.md).

    /work/venv/bin/python bench/bench_stats.py            # full size (issue 3): a few minutes
    /work/venv/bin/python bench/bench_stats.py --quick    # small shapes, seconds (smoke run)

Part 1: n images × N neurons × C concepts (default 50,000 × 512 × 1,000), binary concepts at 2%
frequency unless said; floor = the dense float32 product acts.T @ concepts.
Part 2: BE for one neuron, K resamples, C2 concepts (default 100 × 50,000 × 20,000);
floor = one dense (K×n) @ (n×C2) float32 product; also compared with a loop of K separate
identifications (a few timed, scaled to K).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from bench.common import best_times, ratio_report

from neurodash.stats.bootstrap import bootstrap_winners, resample_counts
from neurodash.stats.metrics import similarity


def part1(n, N, C, repeats):
    rng = np.random.default_rng(0)
    acts = rng.standard_normal((n, N), dtype=np.float32)
    binary = (rng.random((n, C), dtype=np.float32) < 0.02).astype(np.float32)
    soft = rng.random((n, C), dtype=np.float32)

    def sim(metric, concepts):
        return lambda: similarity(acts, concepts, metric)

    binary_metrics = ["recall", "precision", "f1", "iou", "accuracy", "balanced_accuracy"]
    funcs = {"floor acts.T@concepts": lambda: acts.T @ binary}
    targets = {}
    for m in binary_metrics:
        funcs[m] = sim(m, binary)
        targets[m] = 0.5
    for m in ("pearson", "cosine"):
        funcs[m] = sim(m, binary)
        targets[m] = 1.25
    funcs["auroc (binary concepts)"] = sim("auroc", binary)
    targets["auroc (binary concepts)"] = 0.5
    funcs["auprc (binary concepts)"] = sim("auprc", binary)
    targets["auprc (binary concepts)"] = 5.0
    ratio_report("floor acts.T@concepts", funcs, repeats=repeats, targets=targets,
                 title=f"binary concepts (2%), n={n}, N={N}, C={C}")

    funcs = {"floor acts.T@soft": lambda: acts.T @ soft,
             "auroc (soft concepts)": sim("auroc", soft),
             "auprc (soft concepts)": sim("auprc", soft),
             "pearson (soft concepts)": sim("pearson", soft),
             "spearman (soft concepts)": sim("spearman", soft)}
    ratio_report("floor acts.T@soft", funcs, repeats=repeats,
                 targets={"auroc (soft concepts)": 3.0, "auprc (soft concepts)": 5.0,
                          "pearson (soft concepts)": 1.25},
                 title=f"soft concepts (uniform [0,1]), n={n}, N={N}, C={C}")


def part2(n, C2, K, repeats, loop_samples):
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
    for m in ("iou", "pearson", "auroc"):
        funcs[f"BE {m}"] = (lambda m=m: bootstrap_winners(a, concepts, m, K=K, seed=0))
    ratios = ratio_report("floor (K×n)@(n×C)", funcs, repeats=repeats,
                          targets={f"BE {m}": 3.0 for m in ("iou", "pearson", "auroc")},
                          title=f"BE one neuron, K={K}, n={n}, C={C2} (binary, 2%)")
    for m in ("iou", "pearson"):
        def one_identification(k=[0]):
            rows = np.repeat(np.arange(n), W[:, k[0] % K].astype(np.int64))
            k[0] += 1
            return np.nanargmax(similarity(a[rows], concepts[rows], m)[0])
        t = best_times({"one": one_identification}, repeats=loop_samples)["one"]
        be = ratios[f"BE {m}"] * ratios["floor_s"]
        print(f"  loop of K={K} identifications ({m}): ~{t * K:.1f} s (one takes {t:.2f} s); "
              f"BE {be:.2f} s is {t * K / be:.0f}x faster  target >= 20x: "
              f"{'met' if t * K / be >= 20 else 'MISSED'}")
    res = bootstrap_winners(a, concepts, "iou", K=K, seed=0)
    print(f"  (sanity: BE iou winner counts for the planted concept {truth}: "
          f"{int((res.winners == truth).sum())}/{K})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small shapes for a smoke run")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-be", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    if args.quick:
        part1(5000, 64, 200, args.repeats)
        if not args.skip_be:
            part2(5000, 2000, 20, args.repeats, 2)
    else:
        part1(50_000, 512, 1_000, args.repeats)
        if not args.skip_be:
            part2(50_000, 20_000, 100, args.repeats, 3)
    print(f"\ntotal bench time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()

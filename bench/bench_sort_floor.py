"""The sorts the rank metrics cannot avoid, as ratios to bench_stats' floor (same shapes, same run).

    python -m bench.bench_sort_floor            # n=50,000, N=512, C=1,000 (bench_stats' part 1)
    python -m bench.bench_sort_floor --quick    # small shapes (smoke run)
    python -m bench.bench_sort_floor --threads 1

A rank metric needs the order of every neuron column (inverse AUROC, Spearman, inverse AUPRC) or of
every concept column (soft AUROC/AUPRC/Spearman), and inverse AUPRC needs, for each (neuron,
concept), its positives sorted by the neuron (n·2% small integers each). Each such sort, done the
fastest way found here, is a lower bound on the metric's time; when it alone exceeds the metric's
target (issue 15's table) the target is out of reach on this machine with sort-based exact ranks.
Candidates timed: the compiled radix sort with ranks that the unweighted float32 metrics use
(neurodash.stats.kernels.rank_lines), numpy's two-digit radix argsort that ranks.sort_rows uses
(weighted paths), numpy float32 sort of the values alone (no order), numpy argsort, and torch.sort
(CPU, as many threads as the BLAS); for the positives, numpy's radix sort of uint16 (kind="stable",
what the weighted inverse AUPRC does; the unweighted one walks each neuron's order instead).
The bounds below use the compiled sort.
"""
from __future__ import annotations

import argparse
import os

import numpy as np
from threadpoolctl import threadpool_limits

from bench.common import best_times, machine_load, part1_arrays, print_load
from neurodash.stats.parallel import run_blocks
from neurodash.stats.kernels import rank_lines
from neurodash.stats.ranks import sort_rows, transpose


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    n, N, C = (5000, 64, 200) if args.quick else (50_000, 512, 1_000)
    acts, labels, labels_f, soft = part1_arrays(n, N, C)
    info = machine_load(lambda: acts.T @ labels_f)
    print_load(info)
    AT, ST = transpose(acts), transpose(soft)
    # inverse AUPRC: per concept, the positives' "count at or above" (uint16 below 2^16 rows) for
    # every neuron, sorted along each neuron: C sorts of (N, ~2% n) small integers
    k = max(1, int(labels.sum(axis=0).mean()))
    pos = np.random.default_rng(1).integers(1, n + 1, size=(N, k)).astype(np.uint16 if n < 2**16 else np.int32)
    with threadpool_limits(limits=args.threads, user_api="blas"):
        funcs = {
            "floor acts.T@concepts": lambda: acts.T @ labels_f,
            "neuron columns: compiled radix + ranks (kernels.rank_lines)": lambda: rank_lines(AT),
            "neuron columns: radix argsort (ranks.sort_rows)": lambda: sort_rows(AT),
            "neuron columns: float32 values only (no order)": lambda: np.sort(AT, axis=1),
            "neuron columns: np.argsort": lambda: np.argsort(AT, axis=1),
            "concept columns: compiled radix + ranks (kernels.rank_lines)": lambda: rank_lines(ST),
            "concept columns: radix argsort (ranks.sort_rows)": lambda: sort_rows(ST),
            f"positives: {C} sorts of ({N}, {k}) {pos.dtype}": lambda: run_blocks(
                lambda a, b: [np.sort(pos, axis=1, kind="stable") for _ in range(a, b)], C, C * pos.size),
        }
        try:
            import torch
            torch.set_num_threads(args.threads or info["threads"])
            t_AT = torch.from_numpy(AT)
            funcs["neuron columns: torch.sort (CPU)"] = lambda: torch.sort(t_AT, dim=1)
        except ImportError:
            pass
        times = best_times(funcs, repeats=args.repeats)
    floor = times.pop("floor acts.T@concepts")
    print(f"\nfloor acts.T@concepts ({n}x{N} by {n}x{C}): {floor:.3f} s (min of {args.repeats}, interleaved)")
    r = {name: t / floor for name, t in times.items()}
    for name, x in r.items():
        print(f"  {name:<55s} {times[name]:8.3f} s  {x:6.2f}x floor")
    neuron = r["neuron columns: compiled radix + ranks (kernels.rank_lines)"]
    concept = r["concept columns: compiled radix + ranks (kernels.rank_lines)"]
    positives = r[f"positives: {C} sorts of ({N}, {k}) {pos.dtype}"]
    print("\nlower bounds from these sorts alone (target from issue 15):")
    for row, bound, target in [
        ("inverse_auroc (neuron sort; the rank sums add a list pass)", neuron, 3.0),
        ("spearman binary (neuron sort + the product ~1x)", neuron + 1.0, 5.0),
        ("inverse_auprc (neuron sort; the walk adds its list passes)", neuron, 5.0),
        ("inverse_auprc the numpy way (neuron sort + positives' sorts)", neuron + positives, 5.0),
        ("auroc soft (concept sort)", concept, 3.0),
        ("auprc soft (concept sort)", concept, 5.0),
        ("spearman soft (neuron + concept sorts + the product ~1x)", neuron + concept + 1.0, 5.0),
    ]:
        verdict = "above target: out of reach with exact sorted ranks" if bound > target else "below target"
        print(f"  {row:<58s} >= {bound:5.2f}x  (target <= {target:g}x: {verdict})")
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}"
          + ("  (LOADED at the start: ratios distorted)" if info["loaded"] else ""))


if __name__ == "__main__":
    main()

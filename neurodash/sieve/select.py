"""SIEVE Select: a neuron is selective when P99 / median of its probe activations exceeds β."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BETA = 10.0  # the paper's β
TOP = 20     # top samples Hypothesize crops


@dataclass
class SelectResult:
    """Per-neuron selectivity.

    ratio: P99 / median, with the rule for median <= 0 below; selective: ratio > beta;
    top_ids: for each selective neuron, its `top` probe images by activation (descending).
    """

    ratio: np.ndarray
    selective: np.ndarray
    p99: np.ndarray
    median: np.ndarray
    beta: float
    top_ids: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def selective_neurons(self) -> np.ndarray:
        return np.flatnonzero(self.selective)


def selectivity_ratio(p99: np.ndarray, median: np.ndarray) -> np.ndarray:
    """P99 / median, defined everywhere (no division warnings).

    The ratio is only meaningful for a positive median. Post-ReLU layers often have median 0, so:
    - median > 0:            P99 / median (>= 1, since P99 >= median);
    - median <= 0 < P99:     +inf. At least half the probe leaves the neuron at or below zero
                             while its top 1% is positive: as long-tailed as a response gets, so
                             it is selective for any β;
    - P99 <= 0 (and median): 0. Even its 99th percentile is not positive: the neuron is silent
                             (dead) on the probe and there is nothing to explain.
    """
    p99 = np.asarray(p99, dtype=np.float64)
    median = np.asarray(median, dtype=np.float64)
    out = np.zeros(np.broadcast(p99, median).shape, dtype=np.float64)
    pos = median > 0
    np.divide(p99, median, out=out, where=pos)
    out[~pos & (p99 > 0)] = np.inf
    return out


def select(acts: np.ndarray, beta: float = BETA, *, top: int = TOP, block: int = 256) -> SelectResult:
    """SIEVE Select on probe activations (n, N). Percentiles use numpy's default (linear)."""
    acts = np.asarray(acts) if not isinstance(acts, np.memmap) else acts
    top_ids: dict[int, np.ndarray] = {}
    if acts.ndim != 2 or acts.shape[0] == 0:
        raise ValueError(f"expected activations (n, N) with n > 0, got shape {acts.shape}")
    n, N = acts.shape
    k = min(int(top), n)
    p99, median = np.empty(N), np.empty(N)
    for s in range(0, N, block):  # column blocks bound the float64 copy of a memory-mapped matrix
        cols = np.asarray(acts[:, s:s + block], dtype=np.float64)
        if not np.isfinite(cols).all():
            raise ValueError("activations contain NaN or inf")
        median[s:s + block], p99[s:s + block] = np.percentile(cols, [50, 99], axis=0)
        ratio = selectivity_ratio(p99[s:s + block], median[s:s + block])
        chosen = np.flatnonzero(ratio > beta)
        if k > 0 and chosen.size:
            sub = cols[:, chosen]
            part = np.argpartition(-sub, k - 1, axis=0)[:k] if k < n else np.tile(np.arange(n)[:, None], (1, chosen.size))
            for c, j in enumerate(chosen):
                ids = part[:, c]
                # best first; equal activations by the lower image id, reproducibly
                top_ids[int(s + j)] = ids[np.lexsort((ids, -sub[ids, c]))]
    ratio = selectivity_ratio(p99, median)
    selective = ratio > beta
    return SelectResult(ratio, selective, p99, median, float(beta), top_ids)

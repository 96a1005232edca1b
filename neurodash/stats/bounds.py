"""Faithfulness bounds from "Faithful and Stable Neuron Explanations" (arXiv 2512.18092).

Table 1: r(f, D, δ) = sqrt(log(2/δ) / (2·m)) with m the metric's effective sample size; Appendix B
derives m for recall / precision / IoU as the size of the subgroup the metric conditions on.
The paper's recall and precision are NeuronEval's swapped, so in our orientation (DESIGN.md):
  accuracy: m = n;  recall = |f∧c|/|f|: m = |f|;  precision = |f∧c|/|c|: m = |c|;
  iou: m = |f∨c|;  auroc: m = ρ(1−ρ)·n with ρ the share of positive labels (labels = f for auroc,
  c for inverse_auroc; Agarwal et al. 2004 via Table 1).
Thm 3.1 replaces δ by δ/|C| (union bound); Cor. 3.2 gives the band sim(f,ĉ) ≥ sim(f,c*) − 2r.
Thm 4.1: p solves r(f, D, p/|C|) = Δ/2, i.e. p = 2·|C|·exp(−m·Δ²/2); coverage bound as derived in
Appendix A (Eq. 16), with Eq. 9 as printed beside it.
Metrics without a rate in the paper get NaN here (the UI shows an empirical bootstrap interval).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.stats import binom

from neurodash.stats.metrics import METRICS, get_metric

# Derived from the registry (each Metric carries its own effective-size rule), kept for callers.
RATE_METRICS = tuple(name for name, m in METRICS.items() if m.has_rate)


def effective_size(metric, n, n_f, n_c, n_union):
    """Effective sample size m of Table 1 / App. B in our orientation (array-broadcasting), from
    the metric's registry entry; NaN for metrics without a rate."""
    size = get_metric(metric).effective_size
    n, n_f, n_c, n_union = (np.asarray(x, dtype=np.float64) for x in (n, n_f, n_c, n_union))
    if size is None:
        return np.full(np.broadcast(n, n_f, n_c, n_union).shape, np.nan)
    return np.asarray(size(n, n_f, n_c, n_union), dtype=np.float64)


def _rate(m, delta):
    delta = np.asarray(delta, dtype=np.float64)
    if np.any((delta <= 0) | (delta > 1)):
        raise ValueError("delta must be in (0, 1]")
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.sqrt(np.log(2.0 / delta) / (2.0 * m))
    return np.where(m > 0, r, np.where(np.isnan(m), np.nan, np.inf))


def rate_from_counts(metric, n, n_f, n_c, n_union, delta):
    """r(f, D, δ) from effective sizes (the Planner: no data needed). inf where m = 0, NaN for
    metrics without a rate."""
    out = _rate(effective_size(metric, n, n_f, n_c, n_union), delta)
    return float(out) if np.ndim(out) == 0 else out


def _counts_from_masks(neuron_active, concept_present):
    F = np.asarray(neuron_active, dtype=bool)
    P = np.asarray(concept_present, dtype=bool)
    if F.shape[0] != P.shape[0]:
        raise ValueError(f"neuron_active has {F.shape[0]} rows but concept_present has {P.shape[0]}")
    scalar = F.ndim == 1 and P.ndim == 1
    F2 = F[:, None] if F.ndim == 1 else F
    P2 = P[:, None] if P.ndim == 1 else P
    n = F2.shape[0]
    n11 = F2.T.astype(np.float64) @ P2.astype(np.float64)
    n_f = F2.sum(axis=0, dtype=np.float64)[:, None]
    n_c = P2.sum(axis=0, dtype=np.float64)[None, :]
    return n, n_f, n_c, n_f + n_c - n11, scalar


def _finish(x, scalar):
    return float(x[0, 0]) if scalar else x


def convergence_rate(metric, neuron_active, concept_present, delta):
    """Table 1 rate for each (neuron, concept): (N, C), or a float for 1-D inputs."""
    n, n_f, n_c, n_union, scalar = _counts_from_masks(neuron_active, concept_present)
    return _finish(_rate(effective_size(metric, n, n_f, n_c, n_union), delta), scalar)


def union_delta(delta: float, n_concepts: int) -> float:
    """Thm 3.1: the per-concept confidence that makes the bound hold for all |C| at once."""
    if n_concepts < 1:
        raise ValueError("n_concepts must be at least 1")
    return delta / n_concepts


def band(metric, neuron_active, concept_present, delta, n_concepts):
    """Cor. 3.2: with probability ≥ 1−δ, sim(f, ĉ) ≥ sim(f, c*) − band, band = 2·r(δ/|C|)."""
    r = convergence_rate(metric, neuron_active, concept_present, union_delta(delta, n_concepts))
    return 2 * r


def error_probability_from_size(m, gap, n_concepts):
    """p solving r(f, D, p/|C|) = Δ/2 in closed form: p = 2|C|·exp(−m·Δ²/2), clipped to [0, 1].
    1 where m = 0 or Δ ≤ 0 (no guarantee); NaN where the metric has no rate."""
    m = np.asarray(m, dtype=np.float64)
    gap = np.asarray(gap, dtype=np.float64)
    p = 2.0 * n_concepts * np.exp(-m * gap * gap / 2.0)
    p = np.where((m > 0) & (gap > 0), np.clip(p, 0.0, 1.0), 1.0)
    return np.where(np.isnan(m), np.nan, p)


def error_probability(metric, neuron_active, concept_present, gap, n_concepts):
    """Thm 4.1's single-trial error probability p for each (neuron, concept) (scalar for 1-D)."""
    n, n_f, n_c, n_union, scalar = _counts_from_masks(neuron_active, concept_present)
    p = error_probability_from_size(effective_size(metric, n, n_f, n_c, n_union), gap, n_concepts)
    return _finish(np.atleast_2d(p), scalar)


def _check_coverage_args(K: int, k_S: int, p) -> float | None:
    """The shared edge cases of both Thm 4.1 forms: a value to return, or None to compute."""
    if not (0 <= k_S <= K):
        raise ValueError(f"k_S must be in [0, K={K}], got {k_S}")
    if p is None or math.isnan(float(p)):
        return float("nan")
    if p >= 1:
        return 0.0  # vacuous: every trial may err
    return None


def coverage_lower_bound(K: int, k_S: int, p: float) -> float:
    """Thm 4.1 as derived in Appendix A (Eq. 16): c* ∉ S implies k* ≤ K − k(S) with
    k* ~ Bin(K, 1 − p), so P(c* ∈ S) ≥ P(Bin(K, p) ≤ k(S) − 1) = Σ_{i=0}^{k(S)−1} C(K,i) p^i (1−p)^{K−i}.

    Grows with the set (0 for an empty set, 1 − p^K when the set holds every winner).
    Vacuous (0) when p ≥ 1; NaN when p is NaN (metric without a rate).
    """
    early = _check_coverage_args(K, k_S, p)
    if early is not None:
        return early
    return float(binom.cdf(k_S - 1, K, p)) if k_S >= 1 else 0.0


def coverage_lower_bound_printed(K: int, k_S: int, p: float) -> float:
    """Thm 4.1, Eq. 9 as printed: Σ_{i=0}^{K−k(S)−1} C(K,i) p^i (1−p)^{K−i}, the Binomial(K, p) CDF
    at K − k(S) − 1 (an empty sum, 0, when k(S) = K). Falls as the set grows, so it contradicts
    its own derivation; shown only beside `coverage_lower_bound`, labelled as the printed form.
    Vacuous (0) when p ≥ 1; NaN when p is NaN.
    """
    early = _check_coverage_args(K, k_S, p)
    if early is not None:
        return early
    return float(binom.cdf(K - k_S - 1, K, p)) if K - k_S - 1 >= 0 else 0.0


def expected_counts(n, concept_freq, alpha, overlap=1.0):
    """Effective sizes expected for a probe of n images (Planner): n_f = ⌈α·n⌉, n_c = freq·n,
    |f∧c| = overlap·min(n_f, n_c) (overlap=1: the neuron fires exactly on the concept, the
    smallest union, so the most cautious IoU rate)."""
    n = np.asarray(n, dtype=np.float64)
    n_f = np.ceil(np.round(alpha * n, 9))
    n_c = concept_freq * n
    both = overlap * np.minimum(n_f, n_c)
    return n_f, n_c, n_f + n_c - both


def planner_rates(metric, sizes, *, concept_freq, alpha, n_concepts, delta, overlap=1.0):
    """Cor. 3.2 band 2·r(δ/|C|) at each probe size in `sizes` (array)."""
    n = np.asarray(sizes, dtype=np.float64)
    n_f, n_c, n_union = expected_counts(n, concept_freq, alpha, overlap)
    return 2 * np.asarray(rate_from_counts(metric, n, n_f, n_c, n_union, union_delta(delta, n_concepts)))


def probe_size_for_band(metric, target_band, *, concept_freq, alpha, n_concepts, delta,
                        overlap=1.0, max_n=10**12) -> int | None:
    """Smallest probe size n whose Cor. 3.2 band 2·r(δ/|C|) is ≤ target_band; None if the metric
    has no rate or no n ≤ max_n reaches it."""
    if not get_metric(metric).has_rate:
        return None
    if target_band <= 0:
        raise ValueError("target_band must be positive")

    def ok(n):
        return planner_rates(metric, [n], concept_freq=concept_freq, alpha=alpha,
                             n_concepts=n_concepts, delta=delta, overlap=overlap)[0] <= target_band

    hi = 1
    while not ok(hi):
        hi *= 2
        if hi > max_n:
            return None
    lo = hi // 2  # ok(lo) is False (or lo = 0)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi

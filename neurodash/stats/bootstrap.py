"""Bootstrap ensemble (faithfulness paper Sec. 4.1) and the BE prediction set (Alg. 1).

A bootstrap resample of the probe is a multinomial count vector w (length n, sum n). The metric
on the resample equals the weighted metric (metrics.py guarantees weighted == repeated rows), so
K resamples are K weight columns of one batched computation: products like (W∘a)ᵀ @ concepts,
never K Python passes over the data.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurodash.stats import engine as _e
from neurodash.stats import metrics as _m


@dataclass(frozen=True)
class BootstrapResult:
    winners: np.ndarray  # int (K,) winning concept per resample; -1 where every score was NaN
    scores: np.ndarray  # float (K,) the winner's score on its resample


def resample_counts(n: int, K: int, seed: int = 0) -> np.ndarray:
    """(n, K) float: column k counts how often each row is drawn in resample k (n draws with
    replacement). Seeded, independent of anything else."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(K, n))
    flat = (draws + (np.arange(K) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=K * n).reshape(K, n).T.astype(np.float64)


def _winners(scores: np.ndarray):
    """Row-wise argmax ignoring NaN (lowest index on ties); -1 and NaN where a row is all NaN."""
    filled = np.where(np.isnan(scores), -np.inf, scores)
    win = np.argmax(filled, axis=1)
    best = filled[np.arange(len(win)), win]
    empty = ~np.isfinite(best) & np.isnan(scores).all(axis=1)
    return np.where(empty, -1, win), np.where(empty, np.nan, best)


def bootstrap_scores(acts, concepts, metric, *, K: int = 100, seed: int = 0, alpha=None,
                     binary: bool | None = None) -> np.ndarray:
    """(K, C) scores of one neuron on each of K resamples: the K count vectors are one (n, K)
    weight matrix against the concept matrix in its own dtype, chunked over concepts (metrics.
    score_batch), so memory stays flat. `binary` as in metrics.similarity."""
    m = _m.get_metric(metric)
    if m.name == "soft_wpmi":
        raise ValueError("soft_wpmi needs the whole layer for its marginal; use bootstrap_winners_many")
    a = np.asarray(acts)
    if a.ndim != 1:
        raise ValueError(f"acts must be one neuron's activations (n,), got shape {a.shape}")
    A = _m.check_acts(a)
    Cn = _m.check_concepts(concepts, A.shape[0])
    if K < 1:
        raise ValueError("K must be at least 1")
    dtype = _m.work_dtype(A, Cn)
    W = resample_counts(A.shape[0], K, seed).astype(dtype)
    nb = _m.Neurons(A, W, m.default_alpha if alpha is None else float(alpha), dtype)
    return _m.score_batch(nb, Cn, m, binary=_m.concepts_are_binary(Cn, binary))


def bootstrap_winners(acts, concepts, metric, *, K: int = 100, seed: int = 0, alpha=None,
                      binary: bool | None = None) -> BootstrapResult:
    """K bootstrap resamples of the probe; the winning concept of each and its score."""
    win, best = _winners(bootstrap_scores(acts, concepts, metric, K=K, seed=seed, alpha=alpha, binary=binary))
    return BootstrapResult(winners=win, scores=best)


def bootstrap_winners_many(acts, concepts, metric, *, K: int = 100, seed: int = 0, alpha=None,
                           progress=None, binary: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Winners int (N, K) and scores (N, K) for every neuron; all neurons see the same K
    resamples (so resample k is one alternative probe for the whole layer)."""
    m = _m.get_metric(metric)
    A = _m.check_acts(acts)
    Cn = _m.check_concepts(concepts, A.shape[0])
    n, N = A.shape
    binary = _m.concepts_are_binary(Cn, binary)
    dtype = _m.work_dtype(A, Cn)
    W = resample_counts(n, K, seed).astype(dtype)
    alpha = m.default_alpha if alpha is None else float(alpha)
    winners = np.empty((N, K), dtype=np.int64)
    scores = np.empty((N, K))
    if m.name == "soft_wpmi":
        return _soft_wpmi_many(A, Cn, W, alpha, dtype, progress, binary)
    cache: dict = {}  # weight-only concept sums are the same for every neuron
    for r in range(N):
        nb = _m.Neurons(A[:, r:r + 1], W, alpha, dtype)
        winners[r], scores[r] = _winners(_m.score_batch(nb, Cn, m, cache, binary))
        if progress is not None:
            progress((r + 1) / N, f"bootstrap neuron {r + 1}/{N}")
    return winners, scores


def _soft_wpmi_many(A, Cn, W, alpha, dtype, progress, binary):
    """soft_wpmi's marginal runs over neurons within each resample: log P(d|E) for every
    (neuron, resample), per concept block, then the per-resample marginal and a running argmax."""
    n, N = A.shape
    K = W.shape[1]
    C = Cn.shape[1]
    best = np.full((N, K), -np.inf)
    winners = np.full((N, K), -1, dtype=np.int64)
    step = max(1, _e.CHUNK_ELEMENTS // (N * K))
    nbs = [_m.Neurons(A[:, r:r + 1], W, alpha, dtype) for r in range(N)]
    for j0 in range(0, C, step):
        X = Cn[:, j0:j0 + step]
        log_p = np.stack([_m.soft_log_p(nb, X, binary) for nb in nbs])  # (N, K, m)
        s = _m.soft_wpmi_from_log_p(log_p)
        s[np.array([nb.constant[0] for nb in nbs])] = np.nan
        s = np.where(np.isnan(s), -np.inf, s)
        local = np.argmax(s, axis=2)
        val = np.take_along_axis(s, local[..., None], axis=2)[..., 0]
        better = val > best
        best = np.where(better, val, best)
        winners = np.where(better, local + j0, winners)
        if progress is not None:
            progress(min(1.0, (j0 + step) / C), f"soft_wpmi concepts {min(C, j0 + step)}/{C}")
    return winners, np.where(winners < 0, np.nan, best)


def concept_histogram(winners, n_concepts: int) -> np.ndarray:
    """How often each concept won (C,), ignoring -1 (no winner)."""
    w = np.asarray(winners).ravel()
    return np.bincount(w[w >= 0], minlength=n_concepts)[:n_concepts] if n_concepts else np.zeros(0, int)


def stability(winners) -> float:
    """Share of resamples won by the most frequent concept."""
    w = np.asarray(winners).ravel()
    if len(w) == 0:
        return float("nan")
    valid = w[w >= 0]
    return float(np.bincount(valid).max() / len(w)) if len(valid) else 0.0


def prediction_set(winners, t: float | None = None, n_concepts: int | None = None) -> list[int]:
    """Algorithm 1 (BE): concepts by descending frequency until the running count reaches t
    (default 0.95·K). Equal frequencies are taken in ascending concept index. Concepts that never
    won are never added, so the loop also stops once every winner is in the set.

    (The printed pseudo-code adds c_{r_j} but counts k_{r_{j+1}}; we count the concept added.)
    """
    w = np.asarray(winners).ravel()
    K = len(w)
    t = 0.95 * K if t is None else float(t)
    size = n_concepts if n_concepts is not None else (int(w.max()) + 1 if K and w.max() >= 0 else 0)
    counts = concept_histogram(w, size)
    order = np.argsort(-counts, kind="stable")
    chosen, running = [], 0
    for c in order:
        if running >= t or counts[c] == 0:
            break
        chosen.append(int(c))
        running += int(counts[c])
    return chosen


def set_count(winners, S) -> int:
    """k(S): how many resamples predicted a concept in S (Thm 4.1)."""
    w = np.asarray(winners).ravel()
    return int(np.isin(w, np.asarray(list(S), dtype=np.int64)).sum())


def score_interval(scores, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of one (neuron, concept) score across resamples — the
    empirical interval shown for metrics without a convergence rate (label it as such)."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    s = s[~np.isnan(s)]
    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1)")
    if len(s) == 0:
        return float("nan"), float("nan")
    lo, hi = np.quantile(s, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def top_gap(scores) -> float:
    """Plug-in Δ of Thm 4.1: best minus second-best score over concepts (NaN ignored); NaN when
    fewer than two concepts have a score."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    s = s[~np.isnan(s)]
    if len(s) < 2:
        return float("nan")
    top2 = np.partition(s, len(s) - 2)[-2:]
    return float(top2[1] - top2[0])

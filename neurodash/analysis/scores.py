"""Concept scores with their bands: one path for every band the dashboard shows.

- "table1": the metric has a Table 1 rate: band = Cor. 3.2's 2·r(δ/|C|) from the pair's effective
  sample size (`pair_counts` → `stats.bounds.rate_from_counts`), the interval score ∓ r clipped to
  the metric's range. Neuron cards and the layer table both come through `table1_bands`.
- "empirical": no rate: the bootstrap percentile interval of the score at level 1−δ
  (EMPIRICAL_K resamples, one batched computation).
- "none": pixel IoU (its per-image counts are not kept) and soft-WPMI (its marginal spans the
  layer, so a one-neuron bootstrap would bound another score).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neurodash.protocol import ProbeView
from neurodash.stats import bootstrap as B
from neurodash.stats import bounds
from neurodash.stats import metrics as M

EMPIRICAL_K = 100
NO_BAND = ("pixel_iou", "soft_wpmi")


@dataclass
class ConceptScore:
    concept: str
    index: int
    score: float
    band: float            # Table 1: Cor. 3.2 band 2r; empirical: interval width; nan for "none"
    lo: float              # score ∓ r (Table 1) or the bootstrap percentile interval (empirical)
    hi: float
    band_kind: str         # "table1" | "empirical" | "none"


def has_rate(metric: str) -> bool:
    return metric in M.METRICS and bool(M.METRICS[metric].has_rate)


def pair_counts(ws: ProbeView, metric: str, neurons, concepts):
    """(n, n_f, n_c, n_union) per (neuron, concept) pair, the neuron binarized at the metric's α."""
    neurons, concepts = np.asarray(neurons, dtype=int), np.asarray(concepts, dtype=int)
    uniq, inverse = np.unique(neurons, return_inverse=True)
    active = M.binarize(np.asarray(ws.acts[:, uniq]), M.METRICS[metric].default_alpha)[:, inverse]
    present = np.asarray(ws.concepts[:, concepts]) >= 0.5
    n_f = active.sum(0)
    n_c = present.sum(0)
    n_union = (active | present).sum(0)
    return active.shape[0], n_f, n_c, n_union


def table1_bands(ws: ProbeView, metric: str, neurons, concepts, delta: float) -> np.ndarray:
    """Cor. 3.2 band 2·r(δ/|C|) per (neuron, concept) pair; nan for metrics without a rate."""
    if not has_rate(metric):
        return np.full(len(neurons), np.nan)
    n, n_f, n_c, n_union = pair_counts(ws, metric, neurons, concepts)
    rate = bounds.rate_from_counts(metric, n, n_f, n_c, n_union,
                                   bounds.union_delta(delta, len(ws.concept_names)))
    return 2 * np.asarray(rate, dtype=float).reshape(-1)


def empirical_interval(ws: ProbeView, neuron: int, metric: str, idx, delta: float,
                       K: int = EMPIRICAL_K, seed: int = 0):
    """Percentile interval (level 1−δ) of the score over K bootstrap resamples of the probe."""
    sims = B.bootstrap_scores(np.asarray(ws.acts[:, neuron]), ws.concepts[:, idx], metric, K=K, seed=seed)
    lo, hi = zip(*(B.score_interval(sims[:, j], 1 - delta) for j in range(len(idx))))
    return np.asarray(lo), np.asarray(hi)


def concept_scores(ws: ProbeView, neuron: int, metric: str, idx, scores, delta: float) -> list[ConceptScore]:
    """ConceptScore of the concepts `idx` for one neuron, `scores` its row of the metric matrix.
    A score that is undefined (nan: e.g. a neuron that never varies) has no band either."""
    return [c if math.isfinite(c.score) else
            ConceptScore(c.concept, c.index, math.nan, math.nan, math.nan, math.nan, c.band_kind)
            for c in _concept_scores(ws, neuron, metric, idx, scores, delta)]


def _concept_scores(ws, neuron, metric, idx, scores, delta) -> list[ConceptScore]:
    names = ws.concept_names
    idx = np.asarray(idx, dtype=int)
    if has_rate(metric):
        band = table1_bands(ws, metric, np.full(len(idx), neuron), idx, delta)
        # the population score lies in the metric's range, so the interval is clipped to it
        lo_range, hi_range = M.METRICS[metric].range
        return [ConceptScore(names[c], int(c), float(scores[c]), float(band[j]),
                             float(max(scores[c] - band[j] / 2, lo_range)),
                             float(min(scores[c] + band[j] / 2, hi_range)), "table1")
                for j, c in enumerate(idx)]
    if metric in NO_BAND:
        return [ConceptScore(names[c], int(c), float(scores[c]), math.nan, math.nan, math.nan, "none")
                for c in idx]
    lo, hi = empirical_interval(ws, neuron, metric, idx, delta)
    return [ConceptScore(names[c], int(c), float(scores[c]), float(hi[j] - lo[j]), float(lo[j]),
                         float(hi[j]), "empirical") for j, c in enumerate(idx)]


def ranked(scores) -> np.ndarray:
    """Concept indices by falling score (NaN last; ties by index)."""
    return np.argsort(-np.nan_to_num(np.asarray(scores, dtype=float), nan=-np.inf), kind="stable")

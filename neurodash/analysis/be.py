"""The bootstrap ensemble (BE) report of one neuron: winners' histogram, the Alg. 1 prediction
set, stability, and Thm 4.1's coverage bound in its derived form (Appendix A, Eq. 16) with the
form printed as Eq. 9 beside it for readers of the paper."""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

import numpy as np

from neurodash.protocol import WorkspaceView
from neurodash.analysis.scores import has_rate, pair_counts, ranked
from neurodash.cache import CacheError
from neurodash.stats import bootstrap as B
from neurodash.stats import bounds
from neurodash.stats import metrics as M

log = logging.getLogger("neurodash")


class BEError(ValueError):
    """BE cannot run with these arguments (the message says why)."""


@dataclass
class BEReport:
    neuron: int
    metric: str
    K: int
    seed: int
    t: float
    delta: float
    concept_names: list[str]
    histogram: list[int]          # winner counts per concept (C,)
    prediction_set: list[int]
    prediction_names: list[str]
    stability: float
    best: int                     # plug-in winner on the whole probe
    second: int
    gap: float                    # plug-in Δ = score(best) − score(second)
    p: float                      # Thm 4.1 error probability (nan: metric has no rate)
    coverage: float               # Thm 4.1 as derived (Eq. 16): P(Bin(K,p) ≤ k(S) − 1)
    coverage_printed: float       # Eq. 9 as printed: P(Bin(K,p) ≤ K − k(S) − 1)
    vacuous: bool                 # p ≥ 1, no rate, or a bound ≤ 0: the coverage bound says nothing
    has_rate: bool
    note: str = ""

    def to_json(self) -> dict:
        return asdict(self)


def bootstrap(ws: WorkspaceView, neuron: int, *, metric: str, K: int = 100, seed: int = 0, t=None,
              delta: float = 0.05) -> BEReport:
    """BE report for one neuron (cached in the workspace per neuron/metric/K/seed/t/δ)."""
    neuron = ws.neuron(neuron)
    if metric == "pixel_iou":
        raise BEError("the bootstrap ensemble runs on image-level metrics, not pixel_iou")
    if metric not in M.METRICS:
        raise BEError(f"unknown metric {metric!r}; choose from {', '.join(M.METRICS)}")
    t_eff = 0.95 * K if t is None else float(t)
    name = f"bootstrap/n{neuron}_{metric}_K{K}_s{seed}_t{t_eff:g}_d{delta:g}.json"
    if ws.cache is not None and ws.cache.has(name):
        try:
            return BEReport(**ws.cache.read_json(name))
        except (CacheError, TypeError) as err:
            ws.cache.recomputed(name, err)
    report = _compute(ws, neuron, metric, K, seed, t_eff, delta)
    if ws.cache is not None:
        ws.cache.write_json(name, report.to_json())
    return report


def cached(ws: WorkspaceView, neuron: int, *, metric: str, K: int = 100, seed: int = 0, t=None,
           delta: float = 0.05) -> BEReport | None:
    """The BE report if it was computed before (by anyone), else None; never computes."""
    t_eff = 0.95 * K if t is None else float(t)
    name = f"bootstrap/n{int(neuron)}_{metric}_K{K}_s{seed}_t{t_eff:g}_d{delta:g}.json"
    if ws.cache is None or not ws.cache.has(name):
        return None
    try:
        return BEReport(**ws.cache.read_json(name))
    except (CacheError, TypeError) as err:
        log.warning("%s; ignoring it", err)
        return None


def _winners(ws: WorkspaceView, neuron: int, metric: str, K: int, seed: int) -> np.ndarray:
    if metric == "soft_wpmi":
        # soft-WPMI's marginal runs over the layer's neurons, so resample the whole layer
        return B.bootstrap_winners_many(np.asarray(ws.acts), ws.concepts, metric, K=K, seed=seed)[0][neuron]
    return np.asarray(B.bootstrap_winners(np.asarray(ws.acts[:, neuron]), ws.concepts, metric, K=K,
                                          seed=seed).winners)


def _compute(ws, neuron, metric, K, seed, t_eff, delta) -> BEReport:
    names = ws.concept_names
    C = len(names)
    winners = _winners(ws, neuron, metric, K, seed)
    pset = [int(i) for i in B.prediction_set(winners, t=t_eff, n_concepts=C)]
    scores = ws.metric_matrix(metric)[neuron]
    order = ranked(scores)
    best, second = int(order[0]), int(order[1]) if C > 1 else int(order[0])
    gap = float(scores[best] - scores[second])
    rate = has_rate(metric)
    p = coverage = printed = math.nan
    if rate:
        # p of the plug-in winner: its effective sample size (Table 1) with the plug-in gap Δ
        n, n_f, n_c, n_union = pair_counts(ws, metric, [neuron], [best])
        size = bounds.effective_size(metric, n, n_f, n_c, n_union)
        p = float(np.asarray(bounds.error_probability_from_size(size, gap, C)).reshape(-1)[0])
        # Thm 4.1's k(S) counts the resamples won by a concept in S, not the set's size
        k_S = B.set_count(winners, pset)
        coverage = float(bounds.coverage_lower_bound(K, k_S, p))
        printed = float(bounds.coverage_lower_bound_printed(K, k_S, p))
        note = "Δ is the plug-in gap between the best and second-best concept on the probe."
    else:
        note = f"{metric} has no convergence rate in Table 1: no coverage guarantee."
    return BEReport(
        neuron=neuron, metric=metric, K=int(K), seed=int(seed), t=float(t_eff), delta=float(delta),
        concept_names=names, histogram=[int(x) for x in B.concept_histogram(winners, C)],
        prediction_set=pset, prediction_names=[names[i] for i in pset],
        stability=float(B.stability(winners)), best=best, second=second, gap=gap, p=p,
        coverage=coverage, coverage_printed=printed,
        vacuous=bool((not rate) or not (p < 1) or not (coverage > 0)), has_rate=rate, note=note)

"""NeuronEval's sanity checks (ICML 2025, arXiv 2506.05774) on any (acts, concepts) data.

For each (neuron, true concept) pair the concept is perturbed two ways:
  Missing Labels: each positive (c ≥ 0.5) is kept with probability 0.5, else set to 0
                  (an over-specialized explanation);
  Extra Labels:   each negative becomes 1 with probability n⁺/(n − n⁺), doubling the positives
                  in expectation (an over-generalized explanation).
A case counts as a decrease when s(a, c) − s(a, c') > ε, ε = 0.001 of the metric's range. For
metrics whose range depends on the data (mad, wpmi, soft_wpmi) ε = 0.001·|s(a, c)|.
Decrease Acc is the share of cases that decrease; a metric passes when both exceed 90%.
Cases whose original or perturbed score is NaN are left out of the share.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from neurodash.stats import metrics as _m

PASS_LEVEL = 0.9
EPSILON_SHARE = 0.001


def perturb(c: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(missing, extra) versions of one concept column."""
    pos = c >= _m.CONCEPT_THRESHOLD
    n_pos = int(pos.sum())
    missing = np.where(pos & (rng.random(len(c)) >= 0.5), 0.0, c)
    p_add = n_pos / (len(c) - n_pos) if n_pos < len(c) else 0.0
    extra = np.where(~pos & (rng.random(len(c)) < p_add), 1.0, c)
    return missing, extra


def _epsilon(metric: _m.Metric, original: np.ndarray) -> np.ndarray:
    lo, hi = metric.range
    if math.isfinite(lo) and math.isfinite(hi):
        return np.full(original.shape, EPSILON_SHARE * (hi - lo))
    return EPSILON_SHARE * np.abs(original)


def sanity_tests(acts, concepts, pairs, metrics, *, seed: int = 0, trials: int = 1, alpha=None,
                 binary: bool | None = None) -> pd.DataFrame:
    """Decrease Acc for Missing and Extra Labels per metric over the given (neuron, concept) pairs.

    Returns a DataFrame indexed by metric with columns missing_labels, extra_labels (in [0, 1])
    and passed (both > 0.9). Seeded: the same seed gives the same perturbations for every metric.
    `binary` as in metrics.similarity (perturbing 0/1 labels gives 0/1 labels).
    """
    A = _m.check_acts(acts)
    Cn = _m.check_concepts(concepts, A.shape[0])  # columns are copied one pair at a time
    pairs = [(int(r), int(t)) for r, t in pairs]
    if not pairs:
        raise ValueError("sanity_tests needs at least one (neuron, concept) pair")
    for r, t in pairs:
        if not (0 <= r < A.shape[1] and 0 <= t < Cn.shape[1]):
            raise ValueError(f"pair ({r}, {t}) is outside acts ({A.shape[1]} neurons) / concepts ({Cn.shape[1]})")
    if isinstance(metrics, str):
        metrics = [metrics]
    rng = np.random.default_rng(seed)
    # Columns: for each trial and pair, [original, missing, extra]. Same perturbations for all metrics.
    cols, owners = [], []
    for _ in range(trials):
        for r, t in pairs:
            c = Cn[:, t].astype(np.float64)
            missing, extra = perturb(c, rng)
            cols += [c, missing, extra]
            owners.append(r)
    binary = _m.concepts_are_binary(Cn, binary)
    X = np.stack(cols, axis=1)
    if binary:
        X = X >= _m.CONCEPT_THRESHOLD
    owners = np.array(owners)
    rows = []
    for name in metrics:
        metric = _m.get_metric(name)
        # soft_wpmi's marginal runs over the layer, so it needs every neuron; others only the pairs'.
        if metric.name == "soft_wpmi":
            S = _m.similarity(A, X, metric, alpha=alpha, binary=binary)
            sel = owners
        else:
            used, sel = np.unique(owners, return_inverse=True)
            S = _m.similarity(A[:, used], X, metric, alpha=alpha, binary=binary)
        case = np.arange(len(owners))
        orig = S[sel, 3 * case]
        eps = _epsilon(metric, orig)
        shares = []
        for k in (1, 2):
            pert = S[sel, 3 * case + k]
            valid = ~(np.isnan(orig) | np.isnan(pert))
            dec = (orig - pert) > eps
            shares.append(float(dec[valid].mean()) if valid.any() else float("nan"))
        passed = bool(all(s > PASS_LEVEL for s in shares if not math.isnan(s)) and not any(map(math.isnan, shares)))
        rows.append({"metric": metric.name, "missing_labels": shares[0], "extra_labels": shares[1], "passed": passed})
    return pd.DataFrame(rows).set_index("metric")


@dataclass(frozen=True)
class KnownNeurons:
    acts: np.ndarray  # (n, N) float
    concepts: np.ndarray  # (n, C) bool
    pairs: list  # [(neuron, its true concept)]
    frequency: np.ndarray  # (N,) the true concept's frequency per neuron
    setting: dict  # the parameters, for reports


def simulate_known_neurons(n: int = 20000, frequencies=(0.1, 0.01), neurons_per_frequency: int = 10,
                           *, noise: float = 0.0, seed: int = 0) -> KnownNeurons:
    """Neurons with a known concept, for the theoretical sanity check (NeuronEval's setting).

    As in NeuronEval's theoretical check, each neuron is its own binary concept (activation =
    concept label, so with ties included any α up to the frequency binarizes it back exactly);
    `noise` > 0 adds noise·N(0, 1) to model a less faithful neuron. Each neuron has a concept of
    its own, drawn with the given frequency. Nothing here is fitted to any published table.
    """
    rng = np.random.default_rng(seed)
    freq = np.repeat(np.asarray(frequencies, dtype=np.float64), neurons_per_frequency)
    concepts = rng.random((n, len(freq))) < freq[None, :]
    acts = concepts.astype(np.float64)
    if noise > 0:
        acts = acts + noise * rng.standard_normal(acts.shape)
    setting = dict(n=n, frequencies=tuple(frequencies), neurons_per_frequency=neurons_per_frequency,
                   noise=noise, seed=seed)
    return KnownNeurons(acts, concepts, [(r, r) for r in range(len(freq))], freq, setting)

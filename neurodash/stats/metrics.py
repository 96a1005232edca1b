"""The metric registry: every metric is (acts n×N, concepts n×C) -> scores N×C.

Orientation is NeuronEval's: the explanation's concept predicts the neuron. With f the binarized
neuron (top ⌈α·n⌉ activations, ties at the cut included) and c the concept present where its
activation is ≥ 0.5: recall = |f∧c|/|f|, precision = |f∧c|/|c|. AUROC/AUPRC score the concept
activation against f as labels; the inverse_* variants score the raw neuron against c as labels.

Weights: `weights=w` (non-negative, length n) gives exactly the metric on the data with row i
repeated w[i] times (a bootstrap resample is a count vector). Internally every metric runs on a
batch of G "neuron columns" each with its own weight column, which is what lets bootstrap.py do
K resamples as one batched computation (see `score_batch`).

Undefined cases give NaN silently: a constant neuron (every metric), a binarization that selects
every input (metrics that use f), and 0/0 denominators such as a concept with no positives.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from neurodash.stats import engine as _e
from neurodash.stats.bodies import (_accuracy, _auprc, _auroc, _balanced_accuracy, _cosine, _f1,
                                    _inverse_auprc, _inverse_auroc, _inverse_balanced_accuracy, _iou,
                                    _mad, _pearson, _precision, _recall, _soft_wpmi, _spearman, _wpmi,
                                    soft_log_p, soft_wpmi_from_log_p, unit_product_is_safe)
# re-exported: callers use metrics.<name> for the engine's public pieces
from neurodash.stats.engine import (CONCEPT_THRESHOLD, DEFAULT_ALPHA, SOFT_WPMI_TOP_K, Chunk, Neurons,  # noqa: F401
                                    check_acts, check_concepts, check_weights, concepts_are_binary, tdot,
                                    work_dtype)

# ----------------------------------------------------------------------------- the registry
# Table 1 / App. B effective sample sizes m(n, |f|, |c|, |f∨c|) in our orientation (bounds.py turns
# m into the rate r = sqrt(log(2/δ) / (2m))); a metric without one has no rate in the paper.

def _size_n(n, n_f, n_c, n_union):
    return n + 0 * (n_f + n_c)


def _size_f(n, n_f, n_c, n_union):
    return n_f + 0 * n_c


def _size_c(n, n_f, n_c, n_union):
    return n_c + 0 * n_f


def _size_union(n, n_f, n_c, n_union):
    return n_union + 0 * n_f + 0 * n_c


def _size_auc(pos_of):
    """ρ(1−ρ)·n with ρ the share of positive labels (Agarwal et al. 2004 via Table 1)."""
    def size(n, n_f, n_c, n_union):
        pos = pos_of(n_f, n_c)
        with np.errstate(invalid="ignore", divide="ignore"):
            rho = np.where(n > 0, pos / np.where(n > 0, n, 1), 0.0)
        return rho * (1 - rho) * n + 0 * (n_f + n_c)
    return size


@dataclass(frozen=True)
class Metric:
    """One registry entry: everything the rest of neurodash knows about a metric."""
    name: str
    default_alpha: float
    binary_neuron: bool  # uses the binarized neuron f
    range: tuple[float, float]  # (lo, hi); infinite where the scale depends on the data
    description: str
    body: Callable = field(repr=False)  # (Neurons, Chunk) -> (G, m) float64 scores
    # Table 1 effective sample size (n, n_f, n_c, n_union) -> m; None: the paper gives no rate
    effective_size: Callable | None = field(default=None, repr=False)

    @property
    def has_rate(self) -> bool:
        """Table 1 of the faithfulness paper gives a convergence rate."""
        return self.effective_size is not None


_UNIT = (0.0, 1.0)
_CORR = (-1.0, 1.0)
_FREE = (-math.inf, math.inf)
A_ = DEFAULT_ALPHA
METRICS: dict[str, Metric] = {m.name: m for m in [
    Metric("recall", A_, True, _UNIT, "share of the neuron's active inputs that show the concept", _recall, _size_f),
    Metric("precision", A_, True, _UNIT, "share of the concept's inputs on which the neuron is active", _precision,
           _size_c),
    Metric("f1", A_, True, _UNIT, "harmonic mean of recall and precision", _f1),
    Metric("iou", A_, True, _UNIT, "intersection over union of active inputs and concept inputs", _iou, _size_union),
    Metric("accuracy", A_, True, _UNIT, "share of inputs where concept and binarized neuron agree", _accuracy,
           _size_n),
    Metric("balanced_accuracy", A_, True, _UNIT, "mean of recall on active and on inactive inputs",
           _balanced_accuracy),
    Metric("inverse_balanced_accuracy", A_, True, _UNIT, "balanced accuracy with the concept as labels",
           _inverse_balanced_accuracy),
    Metric("auroc", A_, True, _UNIT, "AUROC of the concept activation against the binarized neuron", _auroc,
           _size_auc(lambda n_f, n_c: n_f)),
    Metric("inverse_auroc", A_, False, _UNIT, "AUROC of the raw neuron against the concept labels", _inverse_auroc,
           _size_auc(lambda n_f, n_c: n_c)),
    Metric("auprc", A_, True, _UNIT, "average precision of the concept activation against the binarized neuron",
           _auprc),
    Metric("inverse_auprc", A_, False, _UNIT, "average precision of the raw neuron against the concept labels",
           _inverse_auprc),
    Metric("pearson", A_, False, _CORR, "Pearson correlation of neuron and concept activations", _pearson),
    Metric("spearman", A_, False, _CORR, "Spearman rank correlation (average ranks for ties)", _spearman),
    Metric("cosine", A_, False, _CORR, "cosine similarity of neuron and concept activations", _cosine),
    Metric("mad", A_, False, _FREE, "mean activation with the concept minus mean without", _mad),
    Metric("wpmi", A_, True, _FREE, "mean log concept activation on active inputs minus log mean (λ=1)", _wpmi),
    Metric("soft_wpmi", A_, False, _FREE,
           "CLIP-Dissect soft-WPMI over the top-100 inputs; marginal over the given neurons", _soft_wpmi),
]}
del A_


def get_metric(metric: str | Metric) -> Metric:
    if isinstance(metric, Metric):
        return metric
    try:
        return METRICS[metric]
    except KeyError:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}") from None



def _chunk_width(metric: Metric, nb: Neurons, C: int, binary: bool | None = None) -> int:
    if metric.name == "soft_wpmi":
        return C  # the marginal couples neurons, not concepts; gathered block is G×100×m
    per_col = nb.n
    if binary and nb.W is None and (metric.name in COUNT_METRICS or (
            metric.name == "inverse_auprc" and nb.dtype == np.float32)):
        # only the label counts (or, for inverse AUPRC, one compiled walk per neuron over the
        # labels' CSR: kernels.walk) are read: the temporaries are (n, m) bools at most (1 byte an
        # element) and one CSR; fewer, wider chunks save per-chunk passes and sorts. (Inverse AUROC
        # gets wider chunks still, just below.)
        per_col = max(1, nb.n // 8)
    # unweighted: one blocked product (moments.blocked_product), no (n, m) copy of the concepts;
    # a chunk's temporaries are its (G, m) results and one converted row block
    if (metric.name == "inverse_auroc" and nb.W is None) or (metric.name == "pearson" and binary):
        per_col = max(2 * nb.G, 2048)
    if metric.name in ("pearson", "cosine", "mad") or (metric.name == "spearman" and binary):
        if unit_product_is_safe(nb, "ranks" if metric.name == "spearman" else "acts"):
            per_col = max(nb.G, 2048)
    if (metric.name in ("auprc", "auroc", "spearman", "inverse_auprc") and not nb.weights_per_column
            and not binary):
        # weighted: several (m, n) int64 temporaries while sorting; unweighted (compiled kernels):
        # the transposed values and their ranks, ≤ 8 bytes an element. Unweighted float32
        # Spearman takes half as many, twice as wide chunks: each chunk alternates a compiled sort
        # with a BLAS product, and the BLAS threads still spin for a while after the product
        per_col = nb.n * (1 if nb.W is None and metric.name in ("auroc", "auprc") else 3)
        if metric.name == "spearman" and nb.W is None and nb.dtype == np.float32:
            per_col = max(1, nb.n // 2)
    return max(1, min(C, _e.CHUNK_ELEMENTS // per_col))


# metrics whose body reads only n11 and n_c (the label counts) when the concepts are binary
COUNT_METRICS = frozenset({"recall", "precision", "f1", "iou", "accuracy", "balanced_accuracy",
                           "inverse_balanced_accuracy", "auroc", "auprc", "wpmi"})


def score_batch(nb: Neurons, concepts: np.ndarray, metric: str | Metric,
                cache: dict | None = None, binary: bool = False) -> np.ndarray:
    """Scores (G, C) for a prepared batch of neuron columns; concepts already checked, `binary`
    from concepts_are_binary.

    `cache` (a dict, initially empty) lets repeated calls with the same weights and concepts
    reuse the weight-only concept sums (bootstrap over many neurons)."""
    m = get_metric(metric)
    C = concepts.shape[1]
    out = np.empty((nb.G, C))
    if m.name == "soft_wpmi":
        step = max(1, _e.CHUNK_ELEMENTS // (nb.G * SOFT_WPMI_TOP_K))
        for j0 in range(0, C, step):
            out[:, j0:j0 + step] = soft_log_p(nb, concepts[:, j0:j0 + step], binary)
        out = soft_wpmi_from_log_p(out)
    else:
        step = _chunk_width(m, nb, C, binary)
        for j0 in range(0, C, step):
            sub = None if cache is None else cache.setdefault((m.name, j0, step), {})
            out[:, j0:j0 + step] = m.body(nb, Chunk(concepts[:, j0:j0 + step], nb, sub, binary))
    bad = nb.binary_degenerate if m.binary_neuron else nb.constant
    if bad.any():
        out[bad] = np.nan
    return out


def similarity(acts, concepts, metric: str | Metric, *, alpha: float | None = None,
               weights=None, binary: bool | None = None) -> np.ndarray:
    """Scores (N, C) float64 of every neuron against every concept (see module docstring).

    `binary`: the concepts are 0/1 labels (None: bool or integer dtype means yes, float means
    soft; see concepts_are_binary). Concepts stay in the dtype they come in."""
    return similarities(acts, concepts, [metric], alpha=alpha, weights=weights, binary=binary)[get_metric(metric).name]


def similarities(acts, concepts, metrics, *, alpha: float | None = None, weights=None,
                 binary: bool | None = None) -> dict[str, np.ndarray]:
    """{name: (N, C) scores} for several metrics in one pass over the inputs: the checks run once
    and everything that depends only on the neurons (each neuron's top rows, ranks, centring) is
    computed once per α and shared by every metric. Same values as one `similarity` call each."""
    ms = [get_metric(m) for m in metrics]
    A = check_acts(acts)
    Cn = check_concepts(concepts, A.shape[0])
    W = None if weights is None else check_weights(weights, A.shape[0])[:, None]
    binary = concepts_are_binary(Cn, binary)
    dtype = work_dtype(A, Cn)
    batches: dict[float, Neurons] = {}
    out = {}
    for m in ms:
        a = m.default_alpha if alpha is None else float(alpha)
        if not 0 < a <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {a}")
        nb = batches.setdefault(a, Neurons(A, W, a, dtype))
        out[m.name] = score_batch(nb, Cn, m, binary=binary)
    return out


def binarize(acts, alpha: float = DEFAULT_ALPHA, weights=None) -> np.ndarray:
    """Bool (n, N): each neuron's top ⌈α·n⌉ activations (by cumulative weight), ties at the cut
    included."""
    A = check_acts(acts)
    W = None if weights is None else check_weights(weights, A.shape[0])[:, None]
    nb = Neurons(A, W, float(alpha), work_dtype(A))
    return A >= nb.thresholds[None, :]


def confusion_counts(neuron_active, concept_present, weights=None) -> dict[str, np.ndarray]:
    """Weighted confusion counts (N, C) float64: n11, n10, n01, n00 with f = neuron, c = concept."""
    F = np.asarray(neuron_active, dtype=bool)
    P = np.asarray(concept_present, dtype=bool)
    F = F[:, None] if F.ndim == 1 else F
    P = P[:, None] if P.ndim == 1 else P
    if F.shape[0] != P.shape[0]:
        raise ValueError(f"neuron_active has {F.shape[0]} rows but concept_present has {P.shape[0]}")
    w = np.ones(F.shape[0]) if weights is None else check_weights(weights, F.shape[0])
    FW = sparse.csr_array(F.T * w[None, :])
    n11 = np.asarray(FW @ P.astype(np.float64), dtype=np.float64)
    n_f = np.asarray(FW.sum(axis=1)).reshape(-1, 1)
    n_c = (w @ P)[None, :]
    tot = w.sum()
    return {"n11": n11, "n10": n_f - n11, "n01": n_c - n11, "n00": tot - n_f - n_c + n11}

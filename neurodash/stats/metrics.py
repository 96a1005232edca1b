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
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import sparse
from scipy.special import logsumexp

from neurodash.stats import ranks as _ranks

DEFAULT_ALPHA = 0.01
CONCEPT_THRESHOLD = 0.5
# Peak extra memory is a few temporaries of this many elements, whatever C is.
CHUNK_ELEMENTS = 1 << 24
# CLIP-Dissect soft-WPMI constants (Trustworthy-ML-Lab/CLIP-dissect similarity.py).
SOFT_WPMI_TOP_K = 100
SOFT_WPMI_P_START, SOFT_WPMI_P_END = 0.998, 0.97
SOFT_WPMI_MIN_PROB = 1e-7
WPMI_LAMBDA = 1.0
WPMI_MIN_PROB = 1e-8


@dataclass(frozen=True)
class Metric:
    name: str
    default_alpha: float
    binary_neuron: bool  # uses the binarized neuron f
    has_rate: bool  # Table 1 of the faithfulness paper gives a convergence rate
    range: tuple[float, float]  # (lo, hi); infinite where the scale depends on the data
    description: str


_UNIT = (0.0, 1.0)
_CORR = (-1.0, 1.0)
_FREE = (-math.inf, math.inf)
METRICS: dict[str, Metric] = {m.name: m for m in [
    Metric("recall", DEFAULT_ALPHA, True, True, _UNIT, "share of the neuron's active inputs that show the concept"),
    Metric("precision", DEFAULT_ALPHA, True, True, _UNIT, "share of the concept's inputs on which the neuron is active"),
    Metric("f1", DEFAULT_ALPHA, True, False, _UNIT, "harmonic mean of recall and precision"),
    Metric("iou", DEFAULT_ALPHA, True, True, _UNIT, "intersection over union of active inputs and concept inputs"),
    Metric("accuracy", DEFAULT_ALPHA, True, True, _UNIT, "share of inputs where concept and binarized neuron agree"),
    Metric("balanced_accuracy", DEFAULT_ALPHA, True, False, _UNIT, "mean of recall on active and on inactive inputs"),
    Metric("inverse_balanced_accuracy", DEFAULT_ALPHA, True, False, _UNIT, "balanced accuracy with the concept as labels"),
    Metric("auroc", DEFAULT_ALPHA, True, True, _UNIT, "AUROC of the concept activation against the binarized neuron"),
    Metric("inverse_auroc", DEFAULT_ALPHA, False, True, _UNIT, "AUROC of the raw neuron against the concept labels"),
    Metric("auprc", DEFAULT_ALPHA, True, False, _UNIT, "average precision of the concept activation against the binarized neuron"),
    Metric("inverse_auprc", DEFAULT_ALPHA, False, False, _UNIT, "average precision of the raw neuron against the concept labels"),
    Metric("pearson", DEFAULT_ALPHA, False, False, _CORR, "Pearson correlation of neuron and concept activations"),
    Metric("spearman", DEFAULT_ALPHA, False, False, _CORR, "Spearman rank correlation (average ranks for ties)"),
    Metric("cosine", DEFAULT_ALPHA, False, False, _CORR, "cosine similarity of neuron and concept activations"),
    Metric("mad", DEFAULT_ALPHA, False, False, _FREE, "mean activation with the concept minus mean without"),
    Metric("wpmi", DEFAULT_ALPHA, True, False, _FREE, "mean log concept activation on active inputs minus log mean (λ=1)"),
    Metric("soft_wpmi", DEFAULT_ALPHA, False, False, _FREE, "CLIP-Dissect soft-WPMI over the top-100 inputs; marginal over the given neurons"),
]}


def get_metric(metric: str | Metric) -> Metric:
    if isinstance(metric, Metric):
        return metric
    try:
        return METRICS[metric]
    except KeyError:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}") from None


# ----------------------------------------------------------------------------- input checks

def work_dtype(*arrays: np.ndarray) -> type:
    """float32 stays float32 (speed); anything in float64 (or integer) computes in float64."""
    for a in arrays:
        if a.dtype == np.float32 or a.dtype == np.float16 or a.dtype == bool:
            continue
        return np.float64
    return np.float32


def check_acts(acts) -> np.ndarray:
    A = np.asarray(acts)
    if A.ndim == 1:
        A = A[:, None]
    if A.ndim != 2 or A.shape[0] == 0:
        raise ValueError(f"acts must be (n images, N neurons) with n ≥ 1, got shape {A.shape}")
    if A.dtype == bool or not np.issubdtype(A.dtype, np.number):
        raise ValueError(f"acts must be numeric, got dtype {A.dtype}")
    lo, hi = np.min(A), np.max(A)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        bad = int(np.flatnonzero(~np.isfinite(A).all(axis=0))[0])
        raise ValueError(f"acts column {bad} (neuron {bad}) contains NaN or Inf")
    return A


def check_concepts(concepts, n: int) -> np.ndarray:
    Cn = np.asarray(concepts)
    if Cn.ndim == 1:
        Cn = Cn[:, None]
    if Cn.ndim != 2 or Cn.shape[0] != n:
        raise ValueError(f"concepts must be (n={n} images, C concepts), got shape {Cn.shape}")
    if Cn.dtype == bool:
        return Cn
    if not np.issubdtype(Cn.dtype, np.number):
        raise ValueError(f"concepts must be numeric or bool, got dtype {Cn.dtype}")
    lo, hi = np.min(Cn), np.max(Cn)
    if not (lo >= 0 and hi <= 1):  # also catches NaN
        ok = np.isfinite(Cn) & (Cn >= 0) & (Cn <= 1)
        bad = int(np.flatnonzero(~ok.all(axis=0))[0])
        what = "NaN or Inf" if not np.isfinite(Cn[:, bad]).all() else "values outside [0, 1]"
        raise ValueError(f"concepts column {bad} (concept {bad}) contains {what}")
    return Cn


def check_weights(weights, n: int) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"weights must be a length-{n} vector, got shape {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("weights must be finite and non-negative")
    if w.sum() <= 0:
        raise ValueError("weights must not all be zero")
    return w


def _top_count(alpha: float, total: np.ndarray) -> np.ndarray:
    """⌈α·total⌉, at least 1; rounding first so that 0.01·300 gives 3, not 4."""
    return np.maximum(np.ceil(np.round(alpha * np.asarray(total, dtype=np.float64), 9)), 1.0)


def _blocked_transpose(A: np.ndarray, dtype) -> np.ndarray:
    """(n, G) -> contiguous (G, n); row blocks keep the copy cache-friendly (~5x np.ascontiguousarray)."""
    n, G = A.shape
    out = np.empty((G, n), dtype=dtype)
    for i in range(0, n, 256):
        out[:, i:i + 256] = A[i:i + 256].T
    return out


def tdot(L: np.ndarray, X: np.ndarray) -> np.ndarray:
    """L.T @ X for L (n, G), X (n, m). With few columns in L (a bootstrap's K weight columns)
    OpenBLAS is several times faster on (X.T @ L).T than on L.T @ X; same numbers."""
    if L.shape[1] <= 128:
        return (X.T @ L).T
    return L.T @ X


def _csr_from_mask(mask: np.ndarray, data_of=None, dtype=np.float64) -> sparse.csr_array:
    """CSR of a dense bool (R, n) mask; one flat scan (about 2x faster than np.nonzero on 2-D).
    `data_of(rows, cols)` gives the stored values (default 1)."""
    R, n = mask.shape
    flat = np.flatnonzero(mask)
    indptr = np.searchsorted(flat, np.arange(R + 1, dtype=np.int64) * n)
    rows = np.repeat(np.arange(R, dtype=np.int64), np.diff(indptr))
    cols = flat - rows * n
    data = np.ones(len(flat), dtype=dtype) if data_of is None else data_of(rows, cols).astype(dtype)
    return sparse.csr_array((data, cols, indptr), shape=(R, n))


def _div(num, den):
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.true_divide(num, den)
    return np.where(np.broadcast_to(den, out.shape) == 0, np.nan, out)


# ----------------------------------------------------------------------------- neuron side

class Neurons:
    """G neuron columns A (n, 1 or G) with weight columns W (None, (n, 1) or (n, G)).

    Everything that depends only on the neurons (binarization, ranks, centring) is computed once
    and shared by all concept chunks.
    """

    def __init__(self, A: np.ndarray, W: np.ndarray | None, alpha: float, dtype):
        self.A, self.W, self.alpha, self.dtype = A, W, alpha, dtype
        self.n = A.shape[0]
        self.G = max(A.shape[1], 1 if W is None else W.shape[1])
        self.shared_acts = A.shape[1] == 1 and self.G > 1
        if W is None:
            self.tot = np.full((self.G, 1), float(self.n))
        else:
            self.tot = np.broadcast_to(W.sum(axis=0, dtype=np.float64)[:, None], (self.G, 1))

    # -- helpers
    @property
    def weights_per_column(self) -> bool:
        return self.W is not None and self.W.shape[1] > 1

    def wsum(self, X: np.ndarray) -> np.ndarray:
        """Σ_i w_i X_ij for each weight column: (1 or G, m) float64."""
        if self.W is None:
            return X.sum(axis=0, dtype=np.float64)[None, :]
        return np.asarray(tdot(self.W.astype(X.dtype, copy=False), X), dtype=np.float64)

    @cached_property
    def AT(self) -> np.ndarray:
        return _blocked_transpose(self.A, self.dtype)

    @cached_property
    def WT(self) -> np.ndarray | None:
        return None if self.W is None else np.ascontiguousarray(self.W.T)

    @cached_property
    def WA(self) -> np.ndarray:
        """w ∘ a as (n, G) in the work dtype."""
        A = self.A.astype(self.dtype, copy=False)
        return A if self.W is None else A * self.W.astype(self.dtype)

    @cached_property
    def constant(self) -> np.ndarray:
        """(G,) True where the neuron takes one value on all rows of positive weight."""
        if self.W is None:
            c = self.A.max(axis=0) == self.A.min(axis=0)
        else:
            live = self.W > 0
            hi = np.where(live, self.A, -np.inf).max(axis=0)
            lo = np.where(live, self.A, np.inf).min(axis=0)
            c = hi == lo
        return np.broadcast_to(c, (self.G,))

    # -- binarization
    @cached_property
    def thresholds(self) -> np.ndarray:
        """(G,) cut value: the ⌈α·n⌉-th largest activation (by cumulative weight when weighted)."""
        k = _top_count(self.alpha, self.tot[:, 0])
        if self.W is None:
            kk = int(k[0])
            part = np.partition(self.AT, self.n - kk, axis=1)
            return part[:, self.n - kk]
        XT = self.AT[:1] if self.shared_acts else self.AT
        order = np.broadcast_to(_ranks.sort_rows(-XT)[0], (self.G, self.n))
        vals = np.take_along_axis(np.broadcast_to(XT, (self.G, self.n)), order, axis=1)
        ws = np.take_along_axis(np.broadcast_to(self.WT, (self.G, self.n)), order, axis=1)
        first = np.argmax(np.cumsum(ws, axis=1) >= k[:, None] - 1e-9, axis=1)
        return vals[np.arange(self.G), first]

    @cached_property
    def FW(self) -> sparse.csr_array:
        """(G, n) sparse: the weight of each active row (1 unweighted), rows of zero weight dropped."""
        AT = self.AT if not self.shared_acts else np.broadcast_to(self.AT, (self.G, self.n))
        mask = AT >= self.thresholds[:, None]
        if self.W is not None:
            mask &= self.WT > 0
        if self.W is None:
            return _csr_from_mask(mask, dtype=self.dtype)
        WT = np.broadcast_to(self.WT, (self.G, self.n))
        return _csr_from_mask(mask, lambda g, rows: WT[g, rows], dtype=self.dtype)

    @cached_property
    def n_f(self) -> np.ndarray:
        return np.asarray(self.FW.sum(axis=1), dtype=np.float64)[:, None]

    @cached_property
    def binary_degenerate(self) -> np.ndarray:
        """(G,) constant neuron, or a binarization that selects every input (f carries nothing)."""
        return self.constant | (self.n_f[:, 0] >= self.tot[:, 0] - 1e-9)

    @cached_property
    def FW_dense(self) -> np.ndarray:
        """(n, G) dense weights at active rows (for the per-column-weight rank paths)."""
        return self.FW.T.toarray().astype(np.float64)

    # -- continuous
    @cached_property
    def centred(self) -> np.ndarray:
        """a - weighted mean, (n, G) in the work dtype."""
        mean = self.wsum_acts / self.tot[:, 0]
        return (self.A.astype(self.dtype, copy=False) - mean.astype(self.dtype)[None, :])

    @cached_property
    def wsum_acts(self) -> np.ndarray:
        return np.broadcast_to(self.WA.sum(axis=0, dtype=np.float64), (self.G,))

    @cached_property
    def act_ranks(self):
        """(order, below, group) of each neuron column under its weights, sorted position (G, n)."""
        if self.shared_acts:  # one sort of the shared column, K weightings
            order1, xs = _ranks.sort_rows(self.AT[:1])
            start, end = _ranks.sorted_groups(xs)
            ws = self.WT[:, order1[0]].astype(np.float64)
            cw = np.cumsum(ws, axis=1)
            start, end = np.broadcast_to(start, ws.shape), np.broadcast_to(end, ws.shape)
            below = np.take_along_axis(cw - ws, start, axis=1)
            group = np.take_along_axis(cw, end, axis=1) - below
            return np.broadcast_to(order1, ws.shape), below, group
        return _ranks.paired_ranks(self.AT, self.WT)

    @cached_property
    def rank_values(self) -> np.ndarray:
        """(n, G) weighted average ranks of each neuron column, row order."""
        order, below, group = self.act_ranks
        vals = _ranks.rank_values_sorted(below, group, self.W is None)
        return _blocked_transpose(_ranks.unsort(np.ascontiguousarray(order), vals), self.dtype)

    @cached_property
    def at_or_above_T(self) -> np.ndarray:
        """(G, n) weight of rows whose activation is ≥ this row's (row order)."""
        order, below, _ = self.act_ranks
        vals = self.tot - below
        if self.W is None:
            vals = vals.astype(np.int32)  # integer counts sort fastest
        return _ranks.unsort(np.ascontiguousarray(order), vals)


# ----------------------------------------------------------------------------- concept side

def is_binary(X: np.ndarray) -> bool:
    """All values 0 or 1 (values are known to lie in [0, 1]): the nonzeros are exactly the ones."""
    return X.dtype == bool or np.count_nonzero(X) == np.count_nonzero(X == 1)


_USES_BINARY_FAST_PATH = {"auroc", "auprc", "pearson", "cosine", "spearman"}


class Chunk:
    """A block of concept columns (n, m) with lazily derived forms."""

    def __init__(self, X: np.ndarray, nb: Neurons, cache: dict | None = None, binary: bool | None = None):
        # `cache` holds weight-only concept sums, shared when several batches use the same weights;
        # `binary` (all values 0/1), when the caller already knows it for the whole matrix.
        self.raw, self.nb, self.cache = X, nb, cache
        if binary is not None:
            self.__dict__["is_binary"] = binary

    def wsum(self, key: str, make) -> np.ndarray:
        """nb.wsum(make()), cached under `key`; `make` builds the (n, m) array only when needed."""
        if self.cache is None:
            return self.nb.wsum(make())
        if key not in self.cache:
            self.cache[key] = self.nb.wsum(make())
        return self.cache[key]

    @cached_property
    def P(self) -> np.ndarray:
        return self.raw if self.raw.dtype == bool else self.raw >= CONCEPT_THRESHOLD

    @cached_property
    def Pf(self) -> np.ndarray:
        return self.P.astype(self.nb.dtype)

    @cached_property
    def X(self) -> np.ndarray:
        return self.Pf if self.raw.dtype == bool else self.raw.astype(self.nb.dtype, copy=False)

    @cached_property
    def is_binary(self) -> bool:
        return is_binary(self.raw)

    @cached_property
    def n_c(self) -> np.ndarray:
        if self.nb.W is None:
            return np.count_nonzero(self.P, axis=0).astype(np.float64)[None, :]
        return self.wsum("n_c", lambda: self.Pf)

    @cached_property
    def n11(self) -> np.ndarray:
        FW = self.nb.FW
        if FW.nnz <= self.nb.n:  # few active rows in all (a bootstrap's K columns): sparse × dense
            return np.asarray(FW @ self.Pf, dtype=np.float64)
        density = np.count_nonzero(self.P) / max(self.P.size, 1)
        if density < 0.05:  # sparse × sparse: cost ~ Σ_rows (#active neurons × #present concepts)
            return (FW @ _csr_from_mask(self.P, dtype=FW.dtype)).toarray().astype(np.float64)
        return np.asarray(FW @ self.Pf, dtype=np.float64)


# ----------------------------------------------------------------------------- metric bodies
# Each takes (Neurons, Chunk) and returns (G, m) float64 before the NaN rules are applied.

def _counts(nb: Neurons, ch: Chunk):
    n11, n_f, n_c, tot = ch.n11, nb.n_f, ch.n_c, nb.tot
    return n11, n_f - n11, n_c - n11, tot - n_f - n_c + n11


def _recall(nb, ch):
    return _div(ch.n11, nb.n_f)


def _precision(nb, ch):
    return _div(ch.n11, ch.n_c)


def _f1(nb, ch):
    return _div(2 * ch.n11, nb.n_f + ch.n_c)


def _iou(nb, ch):
    return _div(ch.n11, nb.n_f + ch.n_c - ch.n11)


def _accuracy(nb, ch):
    n11, _, _, n00 = _counts(nb, ch)
    return _div(n11 + n00, nb.tot)


def _balanced_accuracy(nb, ch):
    n11, _, _, n00 = _counts(nb, ch)
    return (_div(n11, nb.n_f) + _div(n00, nb.tot - nb.n_f)) / 2


def _inverse_balanced_accuracy(nb, ch):
    n11, _, _, n00 = _counts(nb, ch)
    return (_div(n11, ch.n_c) + _div(n00, nb.tot - ch.n_c)) / 2


def _auc_from_rank_sum(rank_sum, pos, tot):
    return _div(rank_sum - pos * (pos + 1) / 2, pos * (tot - pos))


def _auroc(nb, ch):
    if ch.is_binary:  # binary scores: AUROC = (1 + TPR - FPR) / 2
        n11, _, n01, _ = _counts(nb, ch)
        return (1 + _div(n11, nb.n_f) - _div(n01, nb.tot - nb.n_f)) / 2
    if nb.weights_per_column:
        return _per_column_rank_metric(nb, ch, "auroc")
    order, below, group = _ranks.paired_ranks(np.ascontiguousarray(ch.X.T), _shared_wt(nb))
    # ranks ≤ n are exact in float32; float32 work keeps the sparse product in float32
    R = _ranks.to_row_order(order, _ranks.rank_values_sorted(below, group, nb.W is None), dtype=nb.dtype)
    return _auc_from_rank_sum(np.asarray(nb.FW @ R, dtype=np.float64), nb.n_f, nb.tot)


def _inverse_auroc(nb, ch):
    R = nb.rank_values  # (n, G)
    WR = R if nb.W is None else R * nb.W
    S = np.asarray(tdot(WR.astype(nb.dtype), ch.Pf), dtype=np.float64)
    return _auc_from_rank_sum(S, ch.n_c, nb.tot)


def _shared_wt(nb: Neurons):
    return None if nb.W is None else nb.WT.astype(np.float64)


def _average_precision(V, ws, pos_total):
    """AP from the positives alone. V (q, k): for each of q score columns, the weight at or above
    each of the k positives' scores (ascending V = descending score); ws (k,) or (q, k) the
    positives' weights, or None for unit weights. AP = Σ_i w_i·TP≥(i)/V(i) / pos_total, with TP≥ the positives'
    weight at or above i's score (ties share the group's end). Returns (q,)."""
    if ws is None:
        Vs = np.sort(V, axis=1)
        _, end = _ranks.sorted_groups(Vs)
        total = ((end + 1.0) / Vs).sum(axis=1)  # V ≥ 1 here: a positive counts itself
    else:
        o = np.argsort(V, axis=1)
        Vs = np.take_along_axis(V, o, axis=1)
        Ws = ws[o] if ws.ndim == 1 else np.take_along_axis(ws, o, axis=1)
        _, end = _ranks.sorted_groups(Vs)
        tp = np.take_along_axis(np.cumsum(Ws, axis=1), end, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            total = np.where(Ws > 0, Ws * tp / Vs, 0.0).sum(axis=1)
    return _div(total, pos_total)


def _auprc(nb, ch):
    if ch.is_binary:  # two thresholds: concept present, then everything
        n11, n_f, n_c, tot = ch.n11, nb.n_f, ch.n_c, nb.tot
        top = np.where(n_c > 0, _div(n11 * n11, n_c), 0.0)
        return _div(top + (n_f - n11) * _div(n_f, tot), n_f)
    if nb.weights_per_column:
        return _per_column_rank_metric(nb, ch, "auprc")
    order, below, _ = _ranks.paired_ranks(np.ascontiguousarray(ch.X.T), _shared_wt(nb))
    tot = float(nb.tot[0, 0])
    unit = nb.W is None  # unit weights: counts are integers, sorted fastest as int32
    NgeT = (tot - below).astype(np.int32 if unit else np.float64)  # weight at or above, sorted position
    NgeT = _ranks.unsort(order, NgeT)  # (m, n) in row order
    FW = nb.FW
    out = np.empty((nb.G, NgeT.shape[0]))
    for g in range(nb.G):
        sl = slice(FW.indptr[g], FW.indptr[g + 1])
        rows = FW.indices[sl]
        ws = None if unit else FW.data[sl].astype(np.float64)
        out[g] = _average_precision(NgeT[:, rows], ws, nb.n_f[g, 0])
    return out


def _inverse_auprc(nb, ch):
    NgeT = nb.at_or_above_T  # (G, n)
    WT = None if nb.W is None else np.broadcast_to(nb.WT, (nb.G, nb.n)).astype(np.float64)
    out = np.empty((nb.G, ch.P.shape[1]))
    n_c = np.broadcast_to(ch.n_c, (nb.G, ch.P.shape[1]))
    for j in range(ch.P.shape[1]):
        rows = np.flatnonzero(ch.P[:, j])
        if len(rows) == 0:
            out[:, j] = np.nan
        else:
            out[:, j] = _average_precision(NgeT[:, rows], None if WT is None else WT[:, rows], n_c[:, j])
    return out


def _moments(nb: Neurons, key: str, centred) -> tuple[np.ndarray, np.ndarray]:
    """(w∘centred (n, G) in the work dtype, Σ w·centred² (G, 1)), computed once per batch."""
    cache = nb.__dict__.setdefault("_moments", {})
    if key not in cache:
        X = centred()
        Wc = X if nb.W is None else X * nb.W.astype(nb.dtype)
        var = np.broadcast_to((Wc * X).sum(axis=0, dtype=np.float64), (nb.G,))[:, None]
        cache[key] = (Wc, var)
    return cache[key]


def _pearson_from(nb: Neurons, key: str, centred, ch_X: np.ndarray, binary: bool, n_c=None, wsum=None):
    """Weighted Pearson of centred neuron columns (n, G) (`centred()` builds them, cached under
    `key`) with concept columns (n, m). Centring the neurons removes the rank-one correction, so the
    cost is one product (w∘a)ᵀ X plus O(n·m) concept sums."""
    wsum = wsum or (lambda key_, make: nb.wsum(make()))
    Wc, var_a = _moments(nb, key, centred)
    if binary:
        s1 = n_c if n_c is not None else nb.wsum(ch_X)
        num = np.asarray(tdot(Wc, ch_X), dtype=np.float64)
        var_c = s1 - s1 * s1 / nb.tot
    else:
        mu = ch_X.mean(axis=0, dtype=np.float64).astype(nb.dtype)
        D = ch_X - mu
        num = np.asarray(tdot(Wc, D), dtype=np.float64)
        s1 = wsum("d1", lambda: D)
        var_c = wsum("d2", lambda: D * D) - s1 * s1 / nb.tot
    var_c = np.where(var_c <= 1e-12 * np.maximum(nb.tot, 1), 0.0, var_c)
    return np.clip(_div(num, np.sqrt(var_a * var_c)), -1.0, 1.0)


def _pearson(nb, ch):
    X = ch.X  # for a 0/1 concept the values already are the labels
    return _pearson_from(nb, "acts", lambda: nb.centred, X, ch.is_binary, ch.n_c if ch.is_binary else None,
                         ch.wsum)


def _rank_centred(nb: Neurons) -> np.ndarray:
    Ra = nb.rank_values
    mean = (Ra * (1.0 if nb.W is None else nb.W)).sum(axis=0) / nb.tot[:, 0]
    return (Ra - mean[None, :]).astype(nb.dtype)


def _spearman(nb, ch):
    if ch.is_binary:  # the ranks of a 0/1 column are an increasing affine map of it
        return _pearson_from(nb, "ranks", lambda: _rank_centred(nb), ch.X, True, ch.n_c)
    if nb.weights_per_column:
        return _per_column_rank_metric(nb, ch, "spearman")
    Rcon = _ranks.average_ranks(ch.X, None if nb.W is None else nb.W[:, 0]).astype(nb.dtype)
    return _pearson_from(nb, "ranks", lambda: _rank_centred(nb), Rcon, False)


def _cosine(nb, ch):
    WA, sa = _moments(nb, "raw", lambda: nb.A.astype(nb.dtype, copy=False))
    num = np.asarray(tdot(WA, ch.X), dtype=np.float64)
    sc = ch.n_c if ch.is_binary else ch.wsum("x2", lambda: ch.X * ch.X)
    return np.clip(_div(num, np.sqrt(sa * sc)), -1.0, 1.0)


def _mad(nb, ch):
    s_in = np.asarray(tdot(nb.WA, ch.Pf), dtype=np.float64)
    s_all = nb.wsum_acts[:, None]
    return _div(s_in, ch.n_c) - _div(s_all - s_in, nb.tot - ch.n_c)


def _wpmi(nb, ch):
    L = np.log(np.maximum(ch.X, WPMI_MIN_PROB))
    mean_active = _div(np.asarray(nb.FW @ L, dtype=np.float64), nb.n_f)
    mean_c = ch.wsum("x1", lambda: ch.X) / nb.tot
    with np.errstate(divide="ignore"):
        log_mean = np.where(mean_c > 0, np.log(np.where(mean_c > 0, mean_c, 1.0)), np.nan)
    return mean_active - WPMI_LAMBDA * log_mean


def soft_log_p(nb: Neurons, X: np.ndarray) -> np.ndarray:
    """CLIP-Dissect log P(d|E): Σ over the top-k input positions (by activation, ties by row index,
    a row of weight w filling w positions) of log(1 + p_i (P(d|x) − 1) + 1e-7). (G, m)."""
    tot = nb.tot[:, 0]
    top = int(max(1, min(SOFT_WPMI_TOP_K, math.floor(float(tot.min()) + 1e-9))))
    p = SOFT_WPMI_P_START - np.arange(top) / top * (SOFT_WPMI_P_START - SOFT_WPMI_P_END)
    XT = nb.AT[:1] if nb.shared_acts else nb.AT
    order = _ranks.sort_rows(-XT)[0]
    if nb.W is None:
        rows = np.broadcast_to(order[:, :top], (nb.G, top))
    else:
        order = np.broadcast_to(order, (nb.G, nb.n))
        ws = np.take_along_axis(np.broadcast_to(nb.WT, (nb.G, nb.n)), order, axis=1)
        cw = np.cumsum(ws, axis=1)
        span = float(cw[:, -1].max()) + 1.0
        offs = np.arange(nb.G)[:, None] * span
        flat = np.searchsorted((cw + offs).ravel(), (np.arange(top)[None, :] + offs).ravel(), side="right")
        flat = flat.reshape(nb.G, top)
        rows = np.take_along_axis(order, flat - np.arange(nb.G)[:, None] * nb.n, axis=1)
    Pd = X[rows].astype(np.float64)  # (G, top, m): gather first, then widen
    return np.log(1.0 + p[None, :, None] * (Pd - 1.0) + SOFT_WPMI_MIN_PROB).sum(axis=1)


def soft_wpmi_from_log_p(log_p: np.ndarray) -> np.ndarray:
    """Score = log P(d|E) − λ·log mean over the given neurons of P(d|E) (log-sum-exp), axis 0."""
    marginal = logsumexp(log_p, axis=0, keepdims=True) - math.log(log_p.shape[0])
    return log_p - WPMI_LAMBDA * marginal


def _soft_wpmi(nb, ch):
    return soft_wpmi_from_log_p(soft_log_p(nb, ch.X))


def _prefix_weights(order: np.ndarray, cuts: np.ndarray, Wc: np.ndarray):
    """Σ of the weight rows at sorted positions < c, for each column's cut positions c.

    order (s, n), cuts (s, q) positions in [0, n], Wc (n, G). Instead of a cumulative sum over
    all n rows per column and weighting, the rows are bucketed between consecutive cuts and the
    buckets summed with one sparse (buckets × n) @ (n × G) product. Returns (s, q, G) float64,
    the same array twice (callers slice their own cut ranges)."""
    s_, n = order.shape
    q = cuts.shape[1]
    cs = np.sort(cuts, axis=1)
    # bucket of sorted position p in column r: number of cuts ≤ p (0..q)
    offs = (np.arange(s_) * (n + 1))[:, None]
    bucket = np.searchsorted((cs + offs).ravel(), (np.arange(n)[None, :] + offs).ravel(), side="right")
    bucket = bucket.reshape(s_, n) - np.arange(s_)[:, None] * q
    # buckets rise with the sorted position, so the rows of `order` are already grouped by bucket
    rows = (np.arange(s_)[:, None] * (q + 1) + bucket).ravel()
    indptr = np.zeros(s_ * (q + 1) + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=s_ * (q + 1)), out=indptr[1:])
    S = sparse.csr_array((np.ones(s_ * n, dtype=Wc.dtype), order.ravel(), indptr), shape=(s_ * (q + 1), n))
    sums = np.asarray(S @ Wc).reshape(s_, q + 1, -1)
    prefix = np.cumsum(sums, axis=1)  # prefix[r, t] = weight at positions < cs[r, t] (exact: counts)
    where = np.searchsorted((cs + offs).ravel(), (cuts + offs).ravel()).reshape(s_, q) - np.arange(s_)[:, None] * q
    out = np.take_along_axis(prefix, where[..., None], axis=1).astype(np.float64)
    return out, out


def _per_column_rank_metric(nb: Neurons, ch: Chunk, kind: str) -> np.ndarray:
    """Rank metrics on soft concepts when every neuron column has its own weights (bootstrap).

    Each concept column is sorted once and its order shared by the K weightings. The resamples'
    ranks genuinely differ, so some O(K·n) work per column is unavoidable: AUROC/AUPRC only need
    the weight below the rows active in some resample (one sparse bucket-sum product per block of
    columns, `_prefix_weights`); Spearman needs every rank (a gather and a cumulative sum).
    """
    n, G = nb.n, nb.G
    exact32 = nb.dtype == np.float32 and float(nb.tot.max()) < 2**24  # integer counts stay exact
    wdt = np.float32 if exact32 else np.float64
    Wc = np.ascontiguousarray(np.broadcast_to(nb.W, (n, G)), dtype=wdt)
    X = ch.X
    m = X.shape[1]
    out = np.empty((G, m))
    tot = nb.tot[:, 0]
    Fd = nb.FW_dense  # (n, G)
    U = np.flatnonzero(Fd.any(axis=1))  # rows active in at least one resample
    FU = Fd[U]  # (u, G)
    if kind == "spearman":
        Ra = nb.rank_values.astype(np.float64)
        Wf = Wc.astype(np.float64)
        ra_c = Ra - ((Ra * Wf).sum(axis=0) / tot)[None, :]
        var_a = (Wf * ra_c * ra_c).sum(axis=0)
    step = max(1, CHUNK_ELEMENTS // (n * G))
    if kind != "spearman":  # temporaries: (s, n) ints and (s, 2u + 1, G) bucket sums
        step = max(1, min(CHUNK_ELEMENTS // n, CHUNK_ELEMENTS // ((2 * len(U) + 1) * G)))
    for j0 in range(0, m, step):
        cols = slice(j0, min(m, j0 + step))
        order, xs = _ranks.sort_rows(np.ascontiguousarray(X[:, cols].T))  # (s, n)
        s_ = order.shape[0]
        start, end = _ranks.sorted_groups(xs)
        start, end = np.broadcast_to(start, order.shape), np.broadcast_to(end, order.shape)
        if kind == "spearman":
            Ws = Wc[order]  # (s, n, G) weights in each column's sorted order
            cw = np.cumsum(Ws, axis=1)
            below = np.take_along_axis(cw - Ws, start[..., None], axis=1).astype(np.float64)
            rc = below + (np.take_along_axis(cw, end[..., None], axis=1) - below + 1.0) / 2.0
            wrc = Ws * rc
            num = (wrc * ra_c[order]).sum(axis=1)  # ra_c is centred under the same weights
            s1 = wrc.sum(axis=1)
            var_c = (wrc * rc).sum(axis=1) - s1 * s1 / tot[None, :]
            out[:, cols] = np.clip(_div(num.T, np.sqrt(var_a[:, None] * var_c.T)), -1, 1)
            continue
        if len(U) == 0:
            out[:, cols] = np.nan
            continue
        inv = np.empty_like(order)
        np.put_along_axis(inv, order, np.arange(n), axis=1)
        pu = inv[:, U]  # (s, u) sorted positions of the active rows
        st = np.take_along_axis(start, pu, axis=1)
        en = np.take_along_axis(end, pu, axis=1)
        below, upto = _prefix_weights(order, np.concatenate([st, en + 1], axis=1), Wc)
        below, upto = below[:, :len(U)], upto[:, len(U):]
        if kind == "auroc":
            rank_sum = np.einsum("sug,ug->sg", below + (upto - below + 1.0) / 2.0, FU)
            out[:, cols] = _auc_from_rank_sum(rank_sum.T, nb.n_f, nb.tot)
        else:  # auprc: TP(i) = weight of positives at or above i's value (tie group start)
            o = np.argsort(pu, axis=1)
            pus = np.take_along_axis(pu, o, axis=1)
            suffix = np.flip(np.cumsum(np.flip(FU[o], axis=1), axis=1), axis=1)  # (s, u, G)
            suffix = np.concatenate([suffix, np.zeros((s_, 1, G))], axis=1)
            offs = (np.arange(s_) * (n + 1))[:, None]
            t = np.searchsorted((pus + offs).ravel(), (st + offs).ravel()).reshape(st.shape) - np.arange(s_)[:, None] * pus.shape[1]
            tp = np.take_along_axis(suffix, t[..., None], axis=1)
            nge = tot[None, None, :] - below
            with np.errstate(divide="ignore", invalid="ignore"):
                contrib = np.where(FU[None] > 0, FU[None] * tp / nge, 0.0).sum(axis=1)  # (s, G)
            out[:, cols] = _div(contrib.T, nb.n_f)
    return out


_BODIES = {
    "recall": _recall, "precision": _precision, "f1": _f1, "iou": _iou, "accuracy": _accuracy,
    "balanced_accuracy": _balanced_accuracy, "inverse_balanced_accuracy": _inverse_balanced_accuracy,
    "auroc": _auroc, "inverse_auroc": _inverse_auroc, "auprc": _auprc, "inverse_auprc": _inverse_auprc,
    "pearson": _pearson, "spearman": _spearman, "cosine": _cosine, "mad": _mad, "wpmi": _wpmi,
    "soft_wpmi": _soft_wpmi,
}


def _chunk_width(metric: Metric, nb: Neurons, C: int, binary: bool | None = None) -> int:
    if metric.name == "soft_wpmi":
        return C  # the marginal couples neurons, not concepts; gathered block is G×100×m
    per_col = nb.n
    if (metric.name in ("auprc", "auroc", "spearman", "inverse_auprc") and not nb.weights_per_column
            and not binary):
        per_col = nb.n * 3  # several (m, n) int64 temporaries while sorting
    return max(1, min(C, CHUNK_ELEMENTS // per_col))


def score_batch(nb: Neurons, concepts: np.ndarray, metric: str | Metric,
                cache: dict | None = None) -> np.ndarray:
    """Scores (G, C) for a prepared batch of neuron columns; concepts already checked.

    `cache` (a dict, initially empty) lets repeated calls with the same weights and concepts
    reuse the weight-only concept sums (bootstrap over many neurons)."""
    m = get_metric(metric)
    body = _BODIES[m.name]
    C = concepts.shape[1]
    out = np.empty((nb.G, C))
    if m.name == "soft_wpmi":
        step = max(1, CHUNK_ELEMENTS // (nb.G * SOFT_WPMI_TOP_K))
        for j0 in range(0, C, step):
            out[:, j0:j0 + step] = soft_log_p(nb, concepts[:, j0:j0 + step])
        out = soft_wpmi_from_log_p(out)
    else:
        binary = None
        if m.name in _USES_BINARY_FAST_PATH:  # one contiguous pass instead of one per chunk
            binary = cache.get("binary") if cache is not None else None
            if binary is None:
                binary = is_binary(concepts)
                if cache is not None:
                    cache["binary"] = binary
        step = _chunk_width(m, nb, C, binary)
        for j0 in range(0, C, step):
            sub = None if cache is None else cache.setdefault((m.name, j0, step), {})
            out[:, j0:j0 + step] = body(nb, Chunk(concepts[:, j0:j0 + step], nb, sub, binary))
    bad = nb.binary_degenerate if m.binary_neuron else nb.constant
    if bad.any():
        out[bad] = np.nan
    return out


def similarity(acts, concepts, metric: str | Metric, *, alpha: float | None = None,
               weights=None) -> np.ndarray:
    """Scores (N, C) float64 of every neuron against every concept (see module docstring)."""
    m = get_metric(metric)
    A = check_acts(acts)
    Cn = check_concepts(concepts, A.shape[0])
    alpha = m.default_alpha if alpha is None else float(alpha)
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    W = None if weights is None else check_weights(weights, A.shape[0])[:, None]
    nb = Neurons(A, W, alpha, work_dtype(A, Cn))
    return score_batch(nb, Cn, m)


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

"""The batched engine behind every metric: G neuron columns (`Neurons`) against blocks of concept
columns (`Chunk`), with the input checks and the small numeric helpers they share.

Everything that depends only on the neurons (each neuron's top rows, ranks, centring) is computed
once per `Neurons` and shared by every metric and concept chunk; a `Chunk` derives the concept-side
forms (labels, counts, sparse rows) lazily, in the dtype the concepts came in.
"""
from __future__ import annotations

import math
from functools import cached_property

import numpy as np
from scipy import sparse

from neurodash.stats import kernels
from neurodash.stats import ranks as _ranks
from neurodash.stats.moments import blocked_product, centring_is_safe, column_sums, labels_csr, sparse_product
from neurodash.stats.parallel import run_blocks
from neurodash.stats.topk import column_tops, ordered_top_rows

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
    if np.issubdtype(A.dtype, np.integer):
        return A
    if not _sums_are_finite(A) and not np.isfinite(A).all():
        bad = int(np.flatnonzero(~np.isfinite(A).all(axis=0))[0])
        raise ValueError(f"acts column {bad} (neuron {bad}) contains NaN or Inf")
    return A


def _per_row_block(X: np.ndarray, elements: int, fn) -> list:
    """fn(block) for each row block of about `elements` elements of X, the blocks on every core."""
    rows = max(1, elements // max(X.shape[1], 1))
    out: list = [None] * (-(-X.shape[0] // rows))

    def blocks(b0, b1):
        for b in range(b0, b1):
            out[b] = fn(X[b * rows:(b + 1) * rows])

    run_blocks(blocks, len(out), X.size)
    return out


def _block_sum_is_finite(block: np.ndarray) -> bool:
    with np.errstate(over="ignore", invalid="ignore"):  # per thread: set where the sum runs
        return bool(np.isfinite(np.add.reduce(block, axis=None)))


def _sums_are_finite(A: np.ndarray) -> bool:
    """One pass (row blocks on every core): NaN/Inf (or an overflow) make some block's sum
    non-finite; a finite result proves every value finite."""
    return all(_per_row_block(A, 1 << 20, _block_sum_is_finite))


def _in_unit_interval(X: np.ndarray) -> bool:
    """Whether every value of X is in [0, 1] (NaN is not): float32/float64 in one compiled pass per
    row block, other dtypes by their min and max; blocks on every core."""
    if X.dtype in (np.float32, np.float64):
        return all(_per_row_block(X, 1 << 18, kernels.in_unit_interval))
    ranges = _per_row_block(X, 1 << 18, lambda blk: (np.min(blk), np.max(blk)))
    return bool(np.min([lo for lo, _ in ranges]) >= 0 and np.max([hi for _, hi in ranges]) <= 1)


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
    if not _in_unit_interval(Cn):  # also catches NaN
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


def top_count(alpha: float, total: np.ndarray) -> np.ndarray:
    """⌈α·total⌉, at least 1; rounding first so that 0.01·300 gives 3, not 4."""
    return np.maximum(np.ceil(np.round(alpha * np.asarray(total, dtype=np.float64), 9)), 1.0)


def tdot(L: np.ndarray, X: np.ndarray) -> np.ndarray:
    """L.T @ X for L (n, G), X (n, m). With few columns in L (a bootstrap's K weight columns)
    OpenBLAS is several times faster on (X.T @ L).T than on L.T @ X; same numbers."""
    if L.shape[1] <= 128:
        return (X.T @ L).T
    return L.T @ X


def csr_from_mask(mask: np.ndarray, data_of=None, dtype=np.float64) -> sparse.csr_array:
    """CSR of a dense bool (R, n) mask; one flat scan (about 2x faster than np.nonzero on 2-D).
    `data_of(rows, cols)` gives the stored values (default 1)."""
    R, n = mask.shape
    flat = np.flatnonzero(mask)
    indptr = np.searchsorted(flat, np.arange(R + 1, dtype=np.int64) * n)
    rows = np.repeat(np.arange(R, dtype=np.int64), np.diff(indptr))
    cols = flat - rows * n
    data = np.ones(len(flat), dtype=dtype) if data_of is None else data_of(rows, cols).astype(dtype)
    return sparse.csr_array((data, cols, indptr), shape=(R, n))


def safe_div(num, den):
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
        return _ranks.transpose(self.A, self.dtype)

    @cached_property
    def WT(self) -> np.ndarray | None:
        return None if self.W is None else np.ascontiguousarray(self.W.T)

    @cached_property
    def WA(self) -> np.ndarray:
        """w ∘ a as (n, G) in the work dtype."""
        A = self.A.astype(self.dtype, copy=False)
        return A if self.W is None else A * self.W.astype(self.dtype)

    def unit_moments(self, key: str = "acts"):
        """Unweighted: (values (n, G) in the work dtype, Σ per column, centred Σ² per column, whether
        a product of these values may be centred afterwards), one blocked float64 pass, cached.
        key: "acts" (the activations) or "ranks" (their average ranks)."""
        cache = self.__dict__.setdefault("_unit_moments", {})
        if key not in cache:
            V = self.A.astype(self.dtype, copy=False) if key == "acts" else self.rank_values
            s1, s2 = column_sums(V, squares=True)
            ss = np.maximum(s2 - s1 * s1 / self.n, 0.0)
            cache[key] = (V, s1, ss, centring_is_safe(V.dtype, self.n, s1, ss))
        return cache[key]

    @cached_property
    def constant(self) -> np.ndarray:
        """(G,) True where the neuron takes one value on all rows of positive weight."""
        tops = self.__dict__.get("tops", self.__dict__.get("_soft_tops"))
        if self.W is None and "acts" not in self.__dict__.get("_unit_moments", {}) and tops is not None:
            # from top rows already found: a column is constant iff every row is at or above its
            # k-th largest value and its largest value is that k-th largest
            count = np.diff(tops.indptr)
            c = count == self.n
            for g in np.flatnonzero(c):
                c[g] = tops.values[tops.indptr[g]:tops.indptr[g + 1]].max() == tops.kth[g]
        elif self.W is None:
            # a centred Σ² well above what rounding leaves of a constant column proves the column
            # varies; only the rest (normally none) are compared exactly
            _, s1, ss, _ = self.unit_moments("acts")
            s2 = ss + s1 * s1 / self.n
            c = np.zeros(self.G, dtype=bool)
            maybe = np.flatnonzero(ss <= 8.0 * (self.n + 2) * np.finfo(np.float64).eps * s2)
            if maybe.size:
                sub = self.A[:, maybe]
                c[maybe] = sub.max(axis=0) == sub.min(axis=0)
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
        k = top_count(self.alpha, self.tot[:, 0])
        if self.W is None:
            return self.tops.kth
        XT = self.AT[:1] if self.shared_acts else self.AT
        order = np.broadcast_to(_ranks.sort_rows(-XT)[0], (self.G, self.n))
        vals = np.take_along_axis(np.broadcast_to(XT, (self.G, self.n)), order, axis=1)
        ws = np.take_along_axis(np.broadcast_to(self.WT, (self.G, self.n)), order, axis=1)
        first = np.argmax(np.cumsum(ws, axis=1) >= k[:, None] - 1e-9, axis=1)
        return vals[np.arange(self.G), first]

    @cached_property
    def k_active(self) -> int:
        """⌈α·n⌉ (unweighted)."""
        return int(top_count(self.alpha, self.tot[:, 0])[0])

    @cached_property
    def tops(self):
        """Unweighted: each neuron's rows at or above its ⌈α·n⌉-th largest activation, found once
        (topk.column_tops) and shared by every metric and concept chunk."""
        return column_tops(self.A, self.k_active)

    @cached_property
    def FW(self) -> sparse.csr_array:
        """(G, n) sparse: the weight of each active row (1 unweighted), rows of zero weight dropped."""
        if self.W is None:
            t = self.tops
            return sparse.csr_array((np.ones(len(t.rows), dtype=self.dtype), t.rows, t.indptr),
                                    shape=(self.G, self.n))
        AT = self.AT if not self.shared_acts else np.broadcast_to(self.AT, (self.G, self.n))
        mask = AT >= self.thresholds[:, None]
        if self.W is not None:
            mask &= self.WT > 0
        WT = np.broadcast_to(self.WT, (self.G, self.n))
        return csr_from_mask(mask, lambda g, rows: WT[g, rows], dtype=self.dtype)

    @cached_property
    def active_by_row(self) -> sparse.csc_array:
        """FW by input row (CSC of (G, n)): indptr over rows, indices the neurons active on each."""
        return self.FW.tocsc()

    @cached_property
    def n_f(self) -> np.ndarray:
        return np.asarray(self.FW.sum(axis=1), dtype=np.float64)[:, None]

    @cached_property
    def binary_degenerate(self) -> np.ndarray:
        """(G,) a binarization that selects every input (f carries nothing). A constant neuron is one
        of these (every row ties at the cut), so no separate pass over the activations is needed."""
        return self.n_f[:, 0] >= self.tot[:, 0] - 1e-9

    @cached_property
    def active_union(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows active in some column, (u, G) their weights in the work dtype)."""
        if self.FW.nnz > 4 * self.n:  # many neurons: the union is nearly every row, don't look
            return np.arange(self.n), np.zeros((0, self.G), dtype=self.dtype)
        union = np.unique(self.FW.indices)
        if len(union) * 8 > self.n:
            return union, np.zeros((0, self.G), dtype=self.dtype)
        return union, np.ascontiguousarray(self.FW[:, union].toarray().T, dtype=self.dtype)

    @cached_property
    def FW_dense(self) -> np.ndarray:
        """(n, G) dense weights at active rows (for the per-column-weight rank paths)."""
        return self.FW.T.toarray().astype(np.float64)

    @cached_property
    def soft_rows(self) -> np.ndarray:
        """(G, top) CLIP-Dissect's top input positions: by activation, ties by row index, a row of
        weight w filling w positions. One selection per neuron, shared by every concept chunk."""
        top = soft_top_count(self.tot)
        if self.W is None:
            # reuse the binarization's top rows when they are already there, else select only `top`
            have = "tops" in self.__dict__ and self.k_active >= top
            if not have:
                self.__dict__["_soft_tops"] = column_tops(self.A, top)  # kept: `constant` reads it
            return ordered_top_rows(self.tops if have else self.__dict__["_soft_tops"], top)
        XT = self.AT[:1] if self.shared_acts else self.AT
        order = _ranks.sort_rows(-XT)[0]
        order = np.broadcast_to(order, (self.G, self.n))
        ws = np.take_along_axis(np.broadcast_to(self.WT, (self.G, self.n)), order, axis=1)
        cw = np.cumsum(ws, axis=1)
        span = float(cw[:, -1].max()) + 1.0
        offs = np.arange(self.G)[:, None] * span
        flat = np.searchsorted((cw + offs).ravel(), (np.arange(top)[None, :] + offs).ravel(), side="right")
        flat = flat.reshape(self.G, top)
        return np.take_along_axis(order, flat - np.arange(self.G)[:, None] * self.n, axis=1)

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
        if self.W is None:  # sorted and scattered back block by block (no (G, n) order array)
            return _ranks.transpose(_ranks.row_ranks(self.AT, "rank"), self.dtype)
        order, below, group = self.act_ranks
        vals = _ranks.rank_values_sorted(below, group, self.W is None)
        return _ranks.transpose(_ranks.unsort(np.ascontiguousarray(order), vals), self.dtype)

    @cached_property
    def rank_rows_and_squares(self) -> tuple[np.ndarray, np.ndarray]:
        """Unweighted float32: ((G, n) average ranks of each neuron, (G,) their Σ r²), one compiled
        sort per neuron (kernels.rank_lines), left in row form (a product reads it transposed)."""
        return kernels.rank_lines(self.AT)

    @cached_property
    def at_or_above_rows(self) -> np.ndarray:
        """Unweighted: (G, n) count of rows whose activation is ≥ each row's, one row per neuron
        (uint16 below 2^16 rows: small integers sort fastest)."""
        return _ranks.row_ranks(self.AT, "at_or_above")

    @cached_property
    def at_or_above(self) -> np.ndarray:
        """(n, G) weight of rows whose activation is ≥ this row's (row order; int32 unweighted:
        integer counts sort fastest)."""
        if self.W is None:
            return _ranks.transpose(self.at_or_above_rows)
        order, below, _ = self.act_ranks
        return _ranks.transpose(_ranks.unsort(np.ascontiguousarray(order), self.tot - below))


# ----------------------------------------------------------------------------- concept side

def concepts_are_binary(concepts: np.ndarray, binary: bool | None = None) -> bool:
    """Whether concepts are 0/1 labels, known from how they were made, never by scanning them:
    the caller says so (`binary`), or the dtype does (bool; an integer matrix in [0, 1] holds
    only 0 and 1). A float matrix is soft unless the caller says binary=True, which means "read
    the values as labels, present where ≥ 0.5" (for 0/1 values that changes nothing)."""
    if binary is not None:
        return bool(binary)
    return concepts.dtype == bool or np.issubdtype(concepts.dtype, np.integer)


class Chunk:
    """A block of concept columns (n, m) with lazily derived forms."""

    def __init__(self, X: np.ndarray, nb: Neurons, cache: dict | None = None, binary: bool = False):
        # `cache` holds weight-only concept sums, shared when several batches use the same weights;
        # `binary`: the concepts are 0/1 labels (concepts_are_binary), so X is the labels.
        self.raw, self.nb, self.cache = X, nb, cache
        self.is_binary = bool(binary)

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
    def label_matrix(self) -> np.ndarray:
        """The labels as they came where they already are 0/1 (bool, or an integer matrix, which
        concepts_are_binary reads as 0/1), else P: what a blocked product converts block by block."""
        if self.raw.dtype == bool or np.issubdtype(self.raw.dtype, np.integer):
            return self.raw
        return self.P

    @cached_property
    def Pf(self) -> np.ndarray:
        return self.P.astype(self.nb.dtype)

    @cached_property
    def X(self) -> np.ndarray:
        if self.is_binary or self.raw.dtype == bool:
            return self.Pf
        return self.raw.astype(self.nb.dtype, copy=False)

    @cached_property
    def labels(self) -> sparse.csr_array:
        """The labels P as CSR (n, m) in the work dtype, built once per chunk."""
        return labels_csr(self.P, dtype=self.nb.dtype)

    @cached_property
    def n_c(self) -> np.ndarray:
        if self.nb.W is None:
            if "labels" in self.__dict__:  # the CSR already holds every label: count its columns
                counts = np.bincount(self.labels.indices, minlength=self.P.shape[1])
            else:
                counts = np.count_nonzero(self.P, axis=0)
            return counts.astype(np.float64)[None, :]
        if self.cache is not None and "n_c" in self.cache:
            return self.cache["n_c"]
        # Σ_i w_i c_i per weight column: the labels in their compact dtype, converted block by block
        counts = blocked_product(self.nb.W.astype(self.nb.dtype, copy=False), self.label_matrix, self.nb.dtype)[0]
        if self.cache is not None:
            self.cache["n_c"] = counts
        return counts

    @cached_property
    def n11(self) -> np.ndarray:
        FW = self.nb.FW
        union, FU = self.nb.active_union
        if len(union) * 8 <= self.nb.n:  # few rows active anywhere (a bootstrap's K resamples of one
            # neuron): gather those concept rows in their compact dtype, one small dense product
            return np.asarray(tdot(FU, self.P[union].astype(FU.dtype)), dtype=np.float64)
        if "labels" in self.__dict__ or label_density(self.P) < 0.05:
            # sparse × sparse: cost ~ Σ_rows (#active neurons × #present concepts)
            return sparse_product(FW, self.labels)
        # dense labels: column blocks converted one at a time (no (n, m) float copy)
        m = self.P.shape[1]
        step = max(1, CHUNK_ELEMENTS // max(self.nb.n, 1))
        out = np.empty((FW.shape[0], m))
        for j0 in range(0, m, step):
            out[:, j0:j0 + step] = FW @ self.P[:, j0:j0 + step].astype(self.nb.dtype)
        return out


DENSITY_SAMPLE_STEP = 16  # every 16th row: the sparse-or-dense choice, not a value, depends on it


def label_density(P: np.ndarray) -> float:
    """Share of present labels, estimated from a strided sample of rows (only chooses a path: both
    give exact counts, so the scores never depend on it)."""
    sample = P[::DENSITY_SAMPLE_STEP]
    return np.count_nonzero(sample) / max(sample.size, 1)


def soft_top_count(tot: np.ndarray) -> int:
    """CLIP-Dissect's top-k, capped by the (weighted) probe size."""
    return int(max(1, min(SOFT_WPMI_TOP_K, math.floor(float(np.min(tot)) + 1e-9))))

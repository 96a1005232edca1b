"""Metric bodies: each takes (Neurons, Chunk) and returns (G, m) float64 scores before the NaN
rules are applied (metrics.score_batch applies them). The registry in metrics.py names them."""
from __future__ import annotations

import math

import numpy as np
from scipy import sparse
from scipy.special import logsumexp

from neurodash.stats import engine as _e
from neurodash.stats import kernels
from neurodash.stats import ranks as _ranks
from neurodash.stats.engine import (CONCEPT_THRESHOLD, SOFT_WPMI_MIN_PROB, SOFT_WPMI_P_END, SOFT_WPMI_P_START,
                                    WPMI_LAMBDA, WPMI_MIN_PROB, Chunk, Neurons, safe_div, tdot)
from neurodash.stats.moments import (PRODUCT_BLOCK_ELEMENTS, blocked_product, centring_is_safe, column_sums,
                                     labels_csr, sparse_product)
from neurodash.stats.parallel import run_blocks

def _counts(nb: Neurons, ch: Chunk):
    n11, n_f, n_c, tot = ch.n11, nb.n_f, ch.n_c, nb.tot
    return n11, n_f - n11, n_c - n11, tot - n_f - n_c + n11


def _recall(nb, ch):
    return safe_div(ch.n11, nb.n_f)


def _precision(nb, ch):
    return safe_div(ch.n11, ch.n_c)


def _f1(nb, ch):
    return safe_div(2 * ch.n11, nb.n_f + ch.n_c)


def _iou(nb, ch):
    return safe_div(ch.n11, nb.n_f + ch.n_c - ch.n11)


def _accuracy(nb, ch):
    n11, _, _, n00 = _counts(nb, ch)
    return safe_div(n11 + n00, nb.tot)


def _balanced_accuracy(nb, ch):
    n11, _, _, n00 = _counts(nb, ch)
    return (safe_div(n11, nb.n_f) + safe_div(n00, nb.tot - nb.n_f)) / 2


def _inverse_balanced_accuracy(nb, ch):
    n11, _, _, n00 = _counts(nb, ch)
    return (safe_div(n11, ch.n_c) + safe_div(n00, nb.tot - ch.n_c)) / 2


def _auc_from_rank_sum(rank_sum, pos, tot):
    return safe_div(rank_sum - pos * (pos + 1) / 2, pos * (tot - pos))


def _auroc(nb, ch):
    if ch.is_binary:  # binary scores: AUROC = (1 + TPR - FPR) / 2
        n11, _, n01, _ = _counts(nb, ch)
        return (1 + safe_div(n11, nb.n_f) - safe_div(n01, nb.tot - nb.n_f)) / 2
    if nb.weights_per_column:
        return _per_column_rank_metric(nb, ch, "auroc")
    if nb.W is None and nb.dtype == np.float32:
        # one radix sort per concept column; each (row, active neuron) pair adds the row's rank
        by_row = nb.active_by_row
        S = kernels.walk(_ranks.transpose(ch.X), by_row.indptr, by_row.indices, nb.G, precision=False)
        return _auc_from_rank_sum(S.T, nb.n_f, nb.tot)
    if nb.W is None:  # one sort per concept column, shared by every neuron
        R = _ranks.transpose(_ranks.row_ranks(_ranks.transpose(ch.X)), nb.dtype)
        return _auc_from_rank_sum(sparse_product(nb.FW, R), nb.n_f, nb.tot)
    order, below, group = _ranks.paired_ranks(_ranks.transpose(ch.X), _shared_wt(nb))
    # ranks ≤ n are exact in float32; float32 work keeps the sparse product in float32
    R = _ranks.to_row_order(order, _ranks.rank_values_sorted(below, group, nb.W is None), dtype=nb.dtype)
    return _auc_from_rank_sum(sparse_product(nb.FW, R), nb.n_f, nb.tot)


def _inverse_auroc(nb, ch):
    if nb.W is None and nb.dtype == np.float32:
        # one radix sort per neuron; each (row, present concept) pair adds the row's rank
        labels = ch.labels
        S = kernels.walk(nb.AT, labels.indptr, labels.indices, ch.P.shape[1], precision=False)
        return _auc_from_rank_sum(S, ch.n_c, nb.tot)
    R = nb.rank_values  # (n, G)
    if nb.W is None:  # rank sums over each concept's positives: one blocked product that also counts them
        S, n_c, _ = blocked_product(R, ch.label_matrix, nb.dtype, "labels")
        ch.__dict__.setdefault("n_c", n_c[None, :])
        return _auc_from_rank_sum(S, ch.n_c, nb.tot)
    WR = R if nb.W is None else R * nb.W
    S = np.asarray(tdot(WR.astype(nb.dtype, copy=False), ch.Pf), dtype=np.float64)
    return _auc_from_rank_sum(S, ch.n_c, nb.tot)


def _shared_wt(nb: Neurons):
    return None if nb.W is None else nb.WT.astype(np.float64)


def _count_sort_kind(V: np.ndarray) -> str:
    """numpy's fastest sort of integer counts: "stable" is a radix sort for 16-bit integers (~1.4x
    its SIMD quicksort), but a merge sort for wider ones (then the default is faster). Integers
    sort to the same values either way."""
    return "stable" if V.dtype.itemsize <= 2 else "quicksort"


def _rows_transposed(M: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """M[rows].T as a C-ordered (G, k) array: the rows are gathered whole (read in sequence) and
    transposed in tiles of 32 that stay in L1 (~7x np.ascontiguousarray on small integers)."""
    Mr = M[rows]
    out = np.empty((M.shape[1], len(rows)), dtype=M.dtype)
    for i in range(0, len(rows), 32):
        out[:, i:i + 32] = Mr[i:i + 32].T
    return out


def _average_precision(V, ws, pos_total, presorted=False):
    """AP from the positives alone. V (q, k): for each of q score columns, the weight at or above
    each of the k positives' scores (ascending V = descending score); ws (k,) or (q, k) the
    positives' weights, or None for unit weights. AP = Σ_i w_i·TP≥(i)/V(i) / pos_total, with TP≥ the positives'
    weight at or above i's score (ties share the group's end). Returns (q,).
    `presorted` (unit weights): V's rows are already sorted ascending (in place by the caller)."""
    if ws is None:
        # integer counts: a radix sort for 16-bit ones (_count_sort_kind), the same values faster
        Vs = V if presorted else np.sort(V, axis=1, kind=_count_sort_kind(V))
        # V ≥ 1 here (a positive counts itself); widened first, then one SIMD division in place
        # (the same bits as 1.0 / Vs, ~20x faster than numpy's mixed uint16/float64 loop)
        inv = Vs.astype(np.float64)
        np.divide(1.0, inv, out=inv)
        k = Vs.shape[1]
        total = inv @ np.arange(1.0, k + 1.0)  # Σ_t (t + 1) / V_t, as if no two positives tied
        # a tie group [s, e] shares TP = e + 1: its members add Σ_t (e − t) / V_s = L(L − 1)/2 / V_s
        # (L = e − s + 1, every member has the same V); ties are rare, one comparison pass finds them
        row, start, end = _ranks.tie_runs(Vs)
        if row.size:
            length = (end - start + 1).astype(np.float64)
            total = total + np.bincount(row, weights=length * (length - 1) / 2 * inv[row, start],
                                        minlength=Vs.shape[0])
    else:
        o = np.argsort(V, axis=1)
        Vs = np.take_along_axis(V, o, axis=1)
        Ws = ws[o] if ws.ndim == 1 else np.take_along_axis(ws, o, axis=1)
        _, end = _ranks.sorted_groups(Vs)
        tp = np.take_along_axis(np.cumsum(Ws, axis=1), end, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            total = np.where(Ws > 0, Ws * tp / Vs, 0.0).sum(axis=1)
    return safe_div(total, pos_total)


def _auprc(nb, ch):
    if ch.is_binary:  # two thresholds: concept present, then everything
        n11, n_f, n_c, tot = ch.n11, nb.n_f, ch.n_c, nb.tot
        top = np.where(n_c > 0, safe_div(n11 * n11, n_c), 0.0)
        return safe_div(top + (n_f - n11) * safe_div(n_f, tot), n_f)
    if nb.weights_per_column:
        return _per_column_rank_metric(nb, ch, "auprc")
    if nb.W is None and nb.dtype == np.float32:
        # one radix sort per concept column, walked from the top: each (row, active neuron) pair
        # adds its precision term (no per-(neuron, concept) sort)
        by_row = nb.active_by_row
        S = kernels.walk(_ranks.transpose(ch.X), by_row.indptr, by_row.indices, nb.G, precision=True)
        return safe_div(S.T, nb.n_f)
    tot = float(nb.tot[0, 0])
    unit = nb.W is None  # unit weights: counts are small integers (uint16 below 2^16 rows)
    FW = nb.FW
    if unit:  # (n, m) counts at or above: a neuron's active rows are then whole rows to gather
        Nge = _ranks.transpose(_ranks.row_ranks(_ranks.transpose(ch.X), "at_or_above"))
        out = np.empty((nb.G, Nge.shape[1]))
    else:
        order, below, _ = _ranks.paired_ranks(_ranks.transpose(ch.X), _shared_wt(nb))
        NgeT = _ranks.unsort(order, (tot - below).astype(np.float64))  # (m, n) weight at or above
        out = np.empty((nb.G, NgeT.shape[0]))

    def neurons(g0, g1):
        for g in range(g0, g1):
            sl = slice(FW.indptr[g], FW.indptr[g + 1])
            rows = FW.indices[sl]
            if unit:
                V = _rows_transposed(Nge, rows)
                V.sort(axis=1, kind=_count_sort_kind(V))  # in place
                out[g] = _average_precision(V, None, nb.n_f[g, 0], presorted=True)
            else:
                out[g] = _average_precision(NgeT[:, rows], FW.data[sl].astype(np.float64), nb.n_f[g, 0])

    run_blocks(neurons, nb.G, FW.nnz * out.shape[1], blocks_per_thread=4, blas_inside=True)
    return out


def _inverse_auprc(nb, ch):
    """AP of each neuron over each concept's positives. Unweighted float32: one compiled walk down
    each neuron's order (kernels.walk). Otherwise, per concept, the positives' "weight at or above"
    under every neuron, sorted."""
    if nb.W is None and nb.dtype == np.float32:
        # one radix sort per neuron, walked from the top: each (row, present concept) pair adds
        # its precision term (no per-(neuron, concept) sort)
        labels = ch.labels
        S = kernels.walk(nb.AT, labels.indptr, labels.indices, ch.P.shape[1], precision=True)
        return safe_div(S, ch.n_c)
    # (n, G) row order: a concept's positives are then a gather of whole rows (a few KB each, read
    # in sequence) instead of G scattered reads per positive
    Nge = nb.at_or_above
    WT = None if nb.W is None else np.broadcast_to(nb.WT, (nb.G, nb.n)).astype(np.float64)
    m = ch.P.shape[1]
    out = np.empty((nb.G, m))
    n_c = np.broadcast_to(ch.n_c, (nb.G, m))
    PT = _ranks.transpose(ch.P)
    flat = np.flatnonzero(PT)  # each concept's positive rows, one scan
    starts = np.searchsorted(flat, np.arange(m + 1, dtype=np.int64) * nb.n)
    rows_of = flat - np.repeat(np.arange(m, dtype=np.int64) * nb.n, np.diff(starts))

    def concepts(j0, j1):
        for j in range(j0, j1):
            rows = rows_of[starts[j]:starts[j + 1]]
            if len(rows) == 0:
                out[:, j] = np.nan
            elif WT is None:
                V = _rows_transposed(Nge, rows)
                V.sort(axis=1, kind=_count_sort_kind(V))  # in place
                out[:, j] = _average_precision(V, None, n_c[:, j], presorted=True)
            else:
                out[:, j] = _average_precision(Nge[rows].T, WT[:, rows], n_c[:, j])

    run_blocks(concepts, m, nb.G * len(flat), blocks_per_thread=4, blas_inside=True)
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


def _product(V: np.ndarray, X: np.ndarray, dtype) -> np.ndarray:
    """Vᵀ X as float64; labels in their compact dtype go through moments.blocked_product (converted
    one row block at a time), float concepts straight to BLAS."""
    if X.dtype != np.dtype(dtype):
        return blocked_product(V, X, dtype)[0]
    return np.asarray(tdot(V, X), dtype=np.float64)


def _pearson_from(nb: Neurons, key: str, centred, ch_X: np.ndarray, binary: bool, n_c=None, wsum=None,
                  record_n_c=None):
    """Weighted Pearson of centred neuron columns (n, G) (`centred()` builds them, cached under
    `key`) with concept columns (n, m). Centring the neurons removes the rank-one correction, so the
    cost is one product (w∘a)ᵀ X plus O(n·m) concept sums. For labels, `n_c` is |c| per weight
    column if known; else `record_n_c(counts=None)` returns it (computing it, or keeping `counts`)."""
    wsum = wsum or (lambda key_, make: nb.wsum(make()))
    Wc, var_a = _moments(nb, key, centred)
    if binary:
        if n_c is None and record_n_c is not None and nb.weights_per_column:
            # K resamples: the weighted centred columns and the weight columns (for |c| per
            # resample) against the labels in one product, one pass over the concept chunk
            cache = nb.__dict__.setdefault("_moments", {})
            if key + "+w" not in cache:  # built once per batch, not per chunk
                cache[key + "+w"] = np.concatenate([Wc, nb.W.astype(Wc.dtype, copy=False)], axis=1)
            both = _product(cache[key + "+w"], ch_X, nb.dtype)
            num, s1 = both[:nb.G], record_n_c(both[nb.G:])
        else:
            if n_c is None:
                n_c = record_n_c() if record_n_c is not None else nb.wsum(ch_X)
            s1 = n_c
            num = _product(Wc, ch_X, nb.dtype)
        var_c = s1 - s1 * s1 / nb.tot
    else:
        mu = ch_X.mean(axis=0, dtype=np.float64).astype(nb.dtype)
        D = ch_X - mu
        num = np.asarray(tdot(Wc, D), dtype=np.float64)
        s1 = wsum("d1", lambda: D)
        var_c = wsum("d2", lambda: D * D) - s1 * s1 / nb.tot
    var_c = np.where(var_c <= 1e-12 * np.maximum(nb.tot, 1), 0.0, var_c)
    return np.clip(safe_div(num, np.sqrt(var_a * var_c)), -1.0, 1.0)


def _pearson_unit(nb: Neurons, key: str, ch: Chunk, X: np.ndarray | None = None):
    """Unweighted Pearson as one blocked product of the raw columns, centred afterwards:
    Σ(a − ā)(x − x̄) = Σ a·x − ā·Σx. X: the concept values (default: the chunk's labels or values
    as they came). None when the neuron values are too far from zero for a float32 product centred
    afterwards (the caller then centres first)."""
    V, s_a, ss_a, safe = nb.unit_moments(key)
    if not safe:
        return None
    n = float(nb.n)
    if X is None and ch.is_binary:
        num, s_x, _ = blocked_product(V, ch.label_matrix, nb.dtype, "labels")
        ch.__dict__.setdefault("n_c", s_x[None, :])  # exact counts: the same as counting them
        ss_c = s_x - s_x * s_x / n
    else:
        num, s_x, s2 = blocked_product(V, ch.raw if X is None else X, nb.dtype, "values")
        ss_c = s2 - s_x * s_x / n
    num -= np.outer(s_a / n, s_x)
    ss_c = np.where(ss_c <= 1e-12 * max(n, 1.0), 0.0, ss_c)
    return np.clip(safe_div(num, np.sqrt(ss_a[:, None] * ss_c[None, :])), -1.0, 1.0)


def _pearson_unit_ranked(nb: Neurons, RT: np.ndarray, squares: np.ndarray):
    """Unweighted float32 Spearman from concept ranks RT (m, n) in row form (no transposed copy)
    with their Σ r² per row (`squares`; Σ r = n(n + 1)/2 for average ranks; both exact in float64):
    the product RT @ (neuron ranks) in row blocks of n added in float64 (as blocked_product does),
    centred afterwards. None when centring afterwards is unsafe (the caller centres first)."""
    VT, squares_a = nb.rank_rows_and_squares  # (G, n): read transposed by the product, no copy
    m, n = RT.shape
    s_a = np.full(nb.G, n * (n + 1) / 2)  # Σ of average ranks, ties or not
    ss_a = squares_a - s_a * s_a / n
    if not centring_is_safe(np.float32, n, s_a, ss_a):
        return None
    rows = int(min(max(PRODUCT_BLOCK_ELEMENTS // max(m, 1), 256), n))
    num = np.zeros((m, nb.G))
    for r0 in range(0, n, rows):
        num += RT[:, r0:r0 + rows] @ VT[:, r0:r0 + rows].T
    s_x = np.full(m, n * (n + 1) / 2)
    num = num.T - np.outer(s_a / n, s_x)
    ss_c = squares - s_x * s_x / n
    ss_c = np.where(ss_c <= 1e-12 * max(n, 1.0), 0.0, ss_c)
    return np.clip(safe_div(num, np.sqrt(ss_a[:, None] * ss_c[None, :])), -1.0, 1.0)


def unit_product_is_safe(nb: Neurons, key: str = "acts") -> bool:
    """Whether the unweighted product paths (one blocked product, no (n, m) concept copy) apply."""
    if nb.W is not None:
        return False
    return nb.unit_moments(key)[3]


def _pearson(nb, ch):
    if nb.W is None:
        out = _pearson_unit(nb, "acts", ch)
        if out is not None:
            return out
    if not ch.is_binary:
        return _pearson_from(nb, "acts", lambda: nb.centred, ch.X, False, None, ch.wsum)
    X = ch.label_matrix  # 0/1 in its compact dtype: converted block by block inside the product
    if "n_c" in ch.__dict__ or (ch.cache is not None and "n_c" in ch.cache):
        return _pearson_from(nb, "acts", lambda: nb.centred, X, True, ch.n_c)

    def record_n_c(counts=None):
        if counts is not None:
            ch.__dict__["n_c"] = counts
            if ch.cache is not None:
                ch.cache["n_c"] = counts
        return ch.n_c

    return _pearson_from(nb, "acts", lambda: nb.centred, X, True, None, ch.wsum, record_n_c)


def _rank_centred(nb: Neurons) -> np.ndarray:
    Ra = nb.rank_values
    mean = (Ra * (1.0 if nb.W is None else nb.W)).sum(axis=0) / nb.tot[:, 0]
    return (Ra - mean[None, :]).astype(nb.dtype)


def _spearman(nb, ch):
    if ch.is_binary:  # the ranks of a 0/1 column are an increasing affine map of it
        if nb.W is None:
            out = _pearson_unit(nb, "ranks", ch)
            if out is not None:
                return out
        return _pearson_from(nb, "ranks", lambda: _rank_centred(nb), ch.X, True, ch.n_c)
    if nb.weights_per_column:
        return _per_column_rank_metric(nb, ch, "spearman")
    if nb.W is None:  # one sort per concept column; the ranks stay (m, n), as the sort leaves them
        if nb.dtype == np.float32:  # one compiled sort per concept column
            RT, squares = kernels.rank_lines(_ranks.transpose(ch.X))
            out = _pearson_unit_ranked(nb, RT, squares)
            if out is not None:
                return out
            Rcon = _ranks.transpose(RT, nb.dtype)
        else:  # float64: the ranks in the work dtype, one blocked product centred afterwards
            Rcon = _ranks.transpose(_ranks.row_ranks(_ranks.transpose(ch.X)), nb.dtype)
            out = _pearson_unit(nb, "ranks", ch, Rcon)
            if out is not None:
                return out
    else:
        Rcon = _ranks.average_ranks(ch.X, nb.W[:, 0]).astype(nb.dtype)
    return _pearson_from(nb, "ranks", lambda: _rank_centred(nb), Rcon, False)


def _cosine(nb, ch):
    if nb.W is None:  # raw Σa² from one blocked pass, no (n, G) temporary; one blocked product
        V, s1, ss, _ = nb.unit_moments("acts")
        sa = (ss + s1 * s1 / nb.n)[:, None]
        X = ch.label_matrix if ch.is_binary else ch.raw
        num, _, sc = blocked_product(V, X, nb.dtype, "labels" if ch.is_binary else "values")
        sc = sc[None, :]
    else:
        WA, sa = _moments(nb, "raw", lambda: nb.A.astype(nb.dtype, copy=False))
        sc = ch.n_c if ch.is_binary else ch.wsum("x2", lambda: ch.X * ch.X)
        num = np.asarray(tdot(WA, ch.X), dtype=np.float64)
    return np.clip(safe_div(num, np.sqrt(sa * sc)), -1.0, 1.0)


def _mad(nb, ch):
    if nb.W is None:  # one blocked product with the labels, which also counts them
        V, s1, _, _ = nb.unit_moments("acts")
        s_in, n_c, _ = blocked_product(V, ch.label_matrix, nb.dtype, "labels")
        ch.__dict__.setdefault("n_c", n_c[None, :])
        s_all = s1[:, None]
    else:
        s_in = np.asarray(tdot(nb.WA, ch.Pf), dtype=np.float64)
        s_all = nb.wsum_acts[:, None]
    return safe_div(s_in, ch.n_c) - safe_div(s_all - s_in, nb.tot - ch.n_c)


def _wpmi(nb, ch):
    if ch.is_binary:  # log max(x, 1e-8) is 0 where a label is present, log 1e-8 where absent
        absent = float(np.log(np.maximum(np.zeros(1, dtype=ch.X.dtype), WPMI_MIN_PROB))[0])
        mean_active = safe_div((nb.n_f - ch.n11) * absent, nb.n_f)
        mean_c = ch.n_c / nb.tot
    else:
        X = ch.X
        L = np.empty(X.shape, dtype=X.dtype)

        def logs(r0, r1):  # row blocks on every core
            np.maximum(X[r0:r1], WPMI_MIN_PROB, out=L[r0:r1])
            np.log(L[r0:r1], out=L[r0:r1])

        run_blocks(logs, X.shape[0], X.size)
        mean_active = safe_div(sparse_product(nb.FW, L), nb.n_f)
        mean_c = (column_sums(X)[0][None, :] if nb.W is None else ch.wsum("x1", lambda: X)) / nb.tot
    with np.errstate(divide="ignore"):
        log_mean = np.where(mean_c > 0, np.log(np.where(mean_c > 0, mean_c, 1.0)), np.nan)
    return mean_active - WPMI_LAMBDA * log_mean


def soft_log_p(nb: Neurons, X: np.ndarray, binary: bool = False) -> np.ndarray:
    """CLIP-Dissect log P(d|E): Σ over the top-k input positions (by activation, ties by row index,
    a row of weight w filling w positions) of log(1 + p_i (P(d|x) − 1) + 1e-7). (G, m).

    The positions come once per neuron (`nb.soft_rows`); the concept rows are gathered in blocks of
    neurons that stay in cache. For 0/1 labels each term is one of two logs, so the sum is a
    constant plus, for each present label, its position's difference: a sparse (G × n) @ (n × m)
    product of the positions (weighted by those differences) with the labels."""
    rows = nb.soft_rows
    top = rows.shape[1]
    p = SOFT_WPMI_P_START - np.arange(top) / top * (SOFT_WPMI_P_START - SOFT_WPMI_P_END)
    m = X.shape[1]
    if binary:
        P = X if X.dtype == bool else X >= CONCEPT_THRESHOLD
        absent = np.log(1.0 + p * (0.0 - 1.0) + SOFT_WPMI_MIN_PROB)
        present = np.log(1.0 + p * (1.0 - 1.0) + SOFT_WPMI_MIN_PROB)
        # a row filling several positions appears several times; the product sums its differences
        S = sparse.csr_array((np.tile(present - absent, nb.G), rows.ravel(), np.arange(nb.G + 1) * top),
                             shape=(nb.G, nb.n))
        return absent.sum() + sparse_product(S, labels_csr(P))
    out = np.empty((nb.G, m))
    if nb.dtype == np.float32:
        return _soft_log_p_float32(rows, p, X, out)
    block = max(1, (1 << 20) // max(1, top * m))  # (block, top, m) float64 stays in cache

    def neurons(b0, b1):
        for g0 in range(b0 * block, min(nb.G, b1 * block), block):
            Pd = X[rows[g0:g0 + block]].astype(np.float64)  # gather first, then widen
            # 1 + p (Pd − 1) + 1e-7, in place, same operations in the same order as written
            Pd -= 1.0
            Pd *= p[None, :, None]
            Pd += 1.0
            Pd += SOFT_WPMI_MIN_PROB
            np.log(Pd, out=Pd)
            out[g0:g0 + block] = Pd.sum(axis=1)

    run_blocks(neurons, -(-nb.G // block), nb.G * top * m, blocks_per_thread=2)
    return out


def _soft_log_p_float32(rows: np.ndarray, p: np.ndarray, X: np.ndarray, out: np.ndarray) -> np.ndarray:
    """soft_log_p's sum for float32 work: each term as (1 − p + 1e-7) + p·x, a sum of non-negative
    parts (1 − p is formed in float64 and rounded once), so float32 keeps ~7 digits of every log
    where 1 + p (x − 1) would cancel; the logs are SIMD float32 and the sums float64."""
    G, top = rows.shape
    scale = p.astype(np.float32)[None, :, None]
    shift = (1.0 - p + SOFT_WPMI_MIN_PROB).astype(np.float32)[None, :, None]
    block = max(1, (1 << 19) // max(1, top * X.shape[1]))  # (block, top, m) float32: ~2 MB

    compiled = X.dtype == np.float32 and X.strides[1] == X.itemsize

    def neurons(b0, b1):
        buf = np.empty((block, top, X.shape[1]), dtype=np.float32) if compiled else None
        for g0 in range(b0 * block, min(G, b1 * block), block):
            if compiled:  # gather, multiply and add in one compiled pass into a reused buffer
                Pd = buf[:min(block, G - g0)]
                kernels.gather_affine(X, rows[g0:g0 + block], scale[0, :, 0], shift[0, :, 0], Pd)
            else:
                Pd = X[rows[g0:g0 + block]].astype(np.float32, copy=False)  # a fresh gathered copy
                Pd *= scale
                Pd += shift
            np.log(Pd, out=Pd)
            if compiled:
                kernels.sum_middle_axis(Pd, out[g0:g0 + block])
            else:
                np.add.reduce(Pd, axis=1, dtype=np.float64, out=out[g0:g0 + block])

    run_blocks(neurons, -(-G // block), G * top * X.shape[1], blocks_per_thread=2)
    return out


def soft_wpmi_from_log_p(log_p: np.ndarray) -> np.ndarray:
    """Score = log P(d|E) − λ·log mean over the given neurons of P(d|E) (log-sum-exp), axis 0."""
    marginal = logsumexp(log_p, axis=0, keepdims=True) - math.log(log_p.shape[0])
    return log_p - WPMI_LAMBDA * marginal


def _soft_wpmi(nb, ch):
    return soft_wpmi_from_log_p(soft_log_p(nb, ch.X, ch.is_binary))


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
    step = max(1, _e.CHUNK_ELEMENTS // (n * G))
    if kind != "spearman":  # temporaries: (s, n) ints and (s, 2u + 1, G) bucket sums
        step = max(1, min(_e.CHUNK_ELEMENTS // n, _e.CHUNK_ELEMENTS // ((2 * len(U) + 1) * G)))
    for j0 in range(0, m, step):
        cols = slice(j0, min(m, j0 + step))
        order, xs = _ranks.sort_rows(_ranks.transpose(X[:, cols]))  # (s, n)
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
            out[:, cols] = np.clip(safe_div(num.T, np.sqrt(var_a[:, None] * var_c.T)), -1, 1)
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
            out[:, cols] = safe_div(contrib.T, nb.n_f)
    return out

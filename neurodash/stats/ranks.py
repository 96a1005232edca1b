"""Weighted average ranks, computed as if each row were repeated `weight` times.

A row of weight w with value v gets the average rank of v's tie group in the repeated data:
(weight strictly below v) + (weight of the tie group + 1) / 2. With unit weights this is
scipy.stats.rankdata(method="average"). Weighted ranks are what make rank metrics (AUROC, AUPRC,
Spearman) agree with the same metric on a bootstrap resample given as a count vector.
"""
from __future__ import annotations

import numpy as np


def sorted_groups(xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows sorted ascending along the last axis: each position's tie-group start and end
    index (inclusive), same shape as `xs`. Work is one comparison pass plus O(#tied positions):
    ties are rare in soft scores, and long tie runs are handled in bulk."""
    shape, n = xs.shape, xs.shape[-1]
    pos = np.arange(n)
    flat_xs = xs.reshape(-1, n)
    eq = flat_xs[:, 1:] == flat_xs[:, :-1]  # position p ties with p + 1
    hits = np.flatnonzero(eq)
    if hits.size == 0:
        pos = np.broadcast_to(pos, shape)
        return pos, pos
    start = np.broadcast_to(pos, flat_xs.shape).copy()
    end = start.copy()
    row, p = np.divmod(hits, n - 1)
    first = np.ones(len(hits), dtype=bool)
    first[1:] = (hits[1:] != hits[:-1] + 1) | (row[1:] != row[:-1])
    firsts = np.flatnonzero(first)
    lasts = np.r_[firsts[1:] - 1, len(hits) - 1]
    g_row, g_start, g_end = row[firsts], p[firsts], p[lasts] + 1
    length = g_end - g_start + 1
    rr = np.repeat(g_row, length)
    offset = np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
    pp = np.repeat(g_start, length) + offset
    start[rr, pp] = np.repeat(g_start, length)
    end[rr, pp] = np.repeat(g_end, length)
    return start.reshape(shape), end.reshape(shape)


def sort_rows(XT: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort each row of XT (R, n) ascending, ties by ascending index (a stable order).

    Returns (order int64 (R, n), keys (R, n)) where equal keys mean equal values. float32 rows are
    sorted as packed uint64 keys (value bits above, index below): one SIMD sort, ~2x faster than
    np.argsort and ~10x faster than a stable argsort.
    """
    if XT.dtype == np.float32 and XT.shape[-1] < 2**32:
        u = (XT + np.float32(0)).view(np.uint32)  # + 0 turns -0.0 into +0.0
        hi = u ^ np.where(u >> np.uint32(31), np.uint32(0xFFFFFFFF), np.uint32(0x80000000))
        keys = (hi.astype(np.uint64) << np.uint64(32)) | np.arange(XT.shape[-1], dtype=np.uint64)
        keys.sort(axis=-1)
        return (keys & np.uint64(0xFFFFFFFF)).view(np.int64), keys >> np.uint64(32)
    order = np.argsort(XT, axis=-1, kind="stable")
    return order, np.take_along_axis(XT, order, axis=-1)


def _is_broadcast(a: np.ndarray) -> bool:
    return a.ndim > 1 and a.strides[0] == 0


def paired_ranks(XT: np.ndarray, WT: np.ndarray | None):
    """Row g of XT (G, n) ranked under row g of WT ((G, n), (1, n) or None).

    Returns (order, below, group) all (G, n) in sorted position: `below` is the weight strictly
    below the value, `group` the weight of its tie group. Average rank = below + (group + 1) / 2.
    Unweighted: integer arrays, read-only broadcasts of arange when there are no ties.
    """
    order, xs = sort_rows(XT)
    start, end = sorted_groups(xs)
    if WT is None:
        if _is_broadcast(start):
            return order, start, np.broadcast_to(np.ones(1, dtype=np.int64), start.shape)
        return order, start, (end + 1) - start
    ws = np.take_along_axis(np.broadcast_to(WT, XT.shape), order, axis=1).astype(np.float64)
    cw = np.cumsum(ws, axis=1)
    below = np.take_along_axis(cw - ws, start, axis=1)
    return order, below, np.take_along_axis(cw, end, axis=1) - below


def rank_values_sorted(below: np.ndarray, group: np.ndarray, unweighted: bool) -> np.ndarray:
    """Average ranks in sorted position: below + (group + 1) / 2. Unweighted ranks (half-integers
    ≤ n) are exact in float32; with no ties they are just 1..n (no work)."""
    if unweighted and below.shape[-1] < 2**22:
        if _is_broadcast(below) and _is_broadcast(group):
            return np.broadcast_to(np.arange(1, below.shape[-1] + 1, dtype=np.float32), below.shape)
        return ((2 * below + group + 1) * 0.5).astype(np.float32)
    return below + (group + 1.0) / 2.0


def column_ranks(X: np.ndarray, W: np.ndarray):
    """Every column of X (n, m) ranked under every weight column of W (n, K).

    The sort of each column is shared by all K weightings. Returns (order (m, n), below (m, n, K),
    group (m, n, K)), in each column's sorted position.
    """
    XT = np.ascontiguousarray(X.T)
    order, xs = sort_rows(XT)
    start, end = sorted_groups(xs)
    ws = W[order]  # (m, n, K)
    cw = np.cumsum(ws, axis=1)
    below = np.take_along_axis(cw - ws, start[..., None], axis=1)
    group = np.take_along_axis(cw, end[..., None], axis=1) - below
    return order, below, group


def unsort(order: np.ndarray, sorted_vals: np.ndarray) -> np.ndarray:
    """Scatter (G, n) values given in sorted position back to row order, kept as (G, n)."""
    out = np.empty(np.broadcast(order, sorted_vals).shape, dtype=np.result_type(sorted_vals))
    np.put_along_axis(out, order, sorted_vals, axis=1)
    return out


def to_row_order(order: np.ndarray, sorted_vals: np.ndarray, dtype=None) -> np.ndarray:
    """Scatter (G, n) values given in sorted position back to row order, returned as a C-ordered
    (n, G) array (what sparse products want)."""
    G, n = np.broadcast(order, sorted_vals).shape
    out = np.empty((n, G), dtype=dtype or np.result_type(sorted_vals))
    np.put_along_axis(out.T, order, sorted_vals, axis=1)
    return out


def average_ranks(X: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """Weighted average ranks of each column of X (n, m) under one weight vector w (n,) or None.
    Returns float64 (n, m) in row order."""
    XT = np.ascontiguousarray(np.asarray(X).T)
    WT = None if w is None else np.asarray(w, dtype=np.float64)[None, :]
    order, below, group = paired_ranks(XT, WT)
    return to_row_order(order, rank_values_sorted(below, group, WT is None), dtype=np.float64)

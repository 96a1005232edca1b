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
    index (inclusive), same shape as `xs`."""
    n = xs.shape[-1]
    pos = np.arange(n)
    if not (xs[..., 1:] == xs[..., :-1]).any():  # no ties (the usual case for soft scores)
        pos = np.broadcast_to(pos, xs.shape)
        return pos, pos
    new_group = np.ones(xs.shape, dtype=bool)
    new_group[..., 1:] = xs[..., 1:] != xs[..., :-1]
    start = np.maximum.accumulate(np.where(new_group, pos, 0), axis=-1)
    is_end = np.ones(xs.shape, dtype=bool)
    is_end[..., :-1] = new_group[..., 1:]
    end = np.flip(np.minimum.accumulate(np.flip(np.where(is_end, pos, n - 1), -1), axis=-1), -1)
    return start, end


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


def paired_ranks(XT: np.ndarray, WT: np.ndarray | None):
    """Row g of XT (G, n) ranked under row g of WT ((G, n), (1, n) or None).

    Returns (order, below, group) all (G, n) in sorted position: `below` is the weight strictly
    below the value, `group` the weight of its tie group. Average rank = below + (group + 1) / 2.
    """
    order, xs = sort_rows(XT)
    start, end = sorted_groups(xs)
    if WT is None:
        below = start.astype(np.float64)
        return order, below, (end + 1) - below
    ws = np.take_along_axis(np.broadcast_to(WT, XT.shape), order, axis=1).astype(np.float64)
    cw = np.cumsum(ws, axis=1)
    below = np.take_along_axis(cw - ws, start, axis=1)
    return order, below, np.take_along_axis(cw, end, axis=1) - below


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


def to_row_order(order: np.ndarray, sorted_vals: np.ndarray) -> np.ndarray:
    """Scatter (G, n) values given in sorted position back to row order, returned as (n, G)."""
    out = np.empty_like(sorted_vals)
    np.put_along_axis(out, order, sorted_vals, axis=1)
    return out.T


def average_ranks(X: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """Weighted average ranks of each column of X (n, m) under one weight vector w (n,) or None.
    Returns float64 (n, m) in row order."""
    XT = np.ascontiguousarray(np.asarray(X).T)
    WT = None if w is None else np.asarray(w, dtype=np.float64)[None, :]
    order, below, group = paired_ranks(XT, WT)
    return to_row_order(order, below + (group + 1.0) / 2.0)

"""Weighted average ranks, computed as if each row were repeated `weight` times.

A row of weight w with value v gets the average rank of v's tie group in the repeated data:
(weight strictly below v) + (weight of the tie group + 1) / 2. With unit weights this is
scipy.stats.rankdata(method="average"). Weighted ranks are what make rank metrics (AUROC, AUPRC,
Spearman) agree with the same metric on a bootstrap resample given as a count vector.
"""
from __future__ import annotations

import sys

import numpy as np

from neurodash.stats import kernels
from neurodash.stats.parallel import run_blocks


def tie_runs(xs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of equal keys in rows sorted ascending along the last axis (flattened to (R, n)):
    (row, start, end) arrays, end inclusive, one entry per run of two or more. One comparison pass;
    ties are rare in real-valued data, so everything after it is small."""
    n = xs.shape[-1]
    flat_xs = xs.reshape(-1, n)
    hits = np.flatnonzero(flat_xs[:, 1:] == flat_xs[:, :-1])  # position p ties with p + 1
    if hits.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    row, p = np.divmod(hits, n - 1)
    first = np.ones(len(hits), dtype=bool)
    first[1:] = (hits[1:] != hits[:-1] + 1) | (row[1:] != row[:-1])
    firsts = np.flatnonzero(first)
    lasts = np.r_[firsts[1:] - 1, len(hits) - 1]
    return row[firsts], p[firsts], p[lasts] + 1


def _run_members(runs):
    """(row, position, run index) of every position inside a run."""
    g_row, g_start, g_end = runs
    length = g_end - g_start + 1
    which = np.repeat(np.arange(len(length)), length)
    offset = np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
    return g_row[which], g_start[which] + offset, which


def sorted_groups(xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows sorted ascending along the last axis: each position's tie-group start and end
    index (inclusive), same shape as `xs` (read-only broadcasts of arange when nothing ties)."""
    shape, n = xs.shape, xs.shape[-1]
    pos = np.arange(n)
    runs = tie_runs(xs)
    if runs[0].size == 0:
        pos = np.broadcast_to(pos, shape)
        return pos, pos
    start = np.broadcast_to(pos, (int(np.prod(shape[:-1])), n)).copy()
    end = start.copy()
    rr, pp, which = _run_members(runs)
    start[rr, pp] = runs[1][which]
    end[rr, pp] = runs[2][which]
    return start.reshape(shape), end.reshape(shape)


def unit_rank_values(runs, shape) -> np.ndarray:
    """Unweighted average ranks (1..n, ties share their mean) in sorted position, from tie_runs:
    a broadcast of 1..n when nothing ties, else one copy with the runs patched. float32 holds the
    half-integers exactly for n < 2^22."""
    n = shape[-1]
    dt = np.float32 if n < 2**22 else np.float64
    base = np.arange(1, n + 1, dtype=dt)
    if runs[0].size == 0:
        return np.broadcast_to(base, shape)
    vals = np.empty(shape, dtype=dt)
    vals[...] = base
    rr, pp, which = _run_members(runs)
    vals[rr, pp] = ((runs[1] + runs[2]) / 2.0 + 1.0)[which]
    return vals


def unit_at_or_above(runs, shape) -> np.ndarray:
    """Unweighted count of values ≥ each one (n − its tie group's start), sorted position; uint16
    when n < 2^16 (16-bit sorts of these counts are ~2x faster than 32-bit ones), else int32."""
    n = shape[-1]
    dt = np.uint16 if n < 2**16 else np.int32
    base = (n - np.arange(n)).astype(dt)
    if runs[0].size == 0:
        return np.broadcast_to(base, shape)
    vals = np.empty(shape, dtype=dt)
    vals[...] = base
    rr, pp, which = _run_members(runs)
    vals[rr, pp] = (n - runs[1])[which]
    return vals


def _radix_sorts(XT: np.ndarray) -> bool:
    """Whether the 16-bit radix path applies (float32 rows shorter than 2^32)."""
    return XT.dtype == np.float32 and XT.shape[1] < 2**32 and sys.byteorder == "little"


def _steps(r0: int, r1: int, n: int):
    """Row ranges of a radix sort: a few rows per pass, so the temporaries stay in cache."""
    step = max(1, (1 << 17) // n)
    return [(a, min(r1, a + step)) for a in range(r0, r1, step)]


def _sorted_keys(X: np.ndarray, keys: np.ndarray, order: np.ndarray) -> None:
    """Stable sort of float32 rows X (r, n): keys (r, n) uint32, order-preserving bits of the values
    sorted ascending (equal keys = equal values); order (r, n) int64, the source index of each
    sorted position (ties by index).

    An LSD radix sort in two 16-bit digits, each a stable argsort of uint16 (numpy's radix sort):
    ~12 ns an element, where a comparison sort of packed (value, index) uint64 keys took ~14 on AVX2
    and ~33 on AVX-512 cores whose compress-store is slow (AMD Zen 4), so it is never the slower."""
    u = (X + np.float32(0)).view(np.uint32)  # + 0 turns -0.0 into +0.0
    # order-preserving map of float bits to unsigned: flip all bits of negatives, the sign bit of
    # the rest (an arithmetic shift of the sign gives the all-ones mask)
    flip = (u.view(np.int32) >> np.int32(31)).view(np.uint32)
    flip |= np.uint32(0x80000000)
    u ^= flip
    low = u.astype(np.uint16)  # truncates to the low 16 bits
    high = (u >> np.uint32(16)).astype(np.uint16)
    for i in range(X.shape[0]):  # 1-D takes: ~3x faster than 2-D take_along_axis
        by_low = np.argsort(low[i], kind="stable")
        np.take(by_low, np.argsort(high[i].take(by_low), kind="stable"), out=order[i])
        np.take(u[i], order[i], out=keys[i])


def row_ranks(XT: np.ndarray, kind: str = "rank") -> np.ndarray:
    """Unweighted ranks of each row of XT (R, n), in row order (R, n), without the (R, n) order
    and key arrays sort_rows returns: each cache-sized block of rows is sorted (radix for
    float32), its tie runs found and its values scattered back while still in cache.

    kind "rank": average ranks 1..n (ties share their mean), unit_rank_values' dtype;
    kind "at_or_above": the count of values ≥ each one, unit_at_or_above's dtype. Same values as
    unsort(order, unit_*(tie_runs(keys), shape)) from sort_rows."""
    R, n = XT.shape
    if kind == "rank" and XT.dtype == np.float32 and XT.flags.c_contiguous:
        return kernels.rank_lines(XT)[0]  # one compiled radix sort and rank pass per row
    fill = unit_rank_values if kind == "rank" else unit_at_or_above
    out = np.empty((R, n), dtype=fill((np.zeros(0, np.int64),) * 3, (1, n)).dtype)
    if not _radix_sorts(XT):
        order, xs = sort_rows(XT)
        out[...] = unsort(order, fill(tie_runs(xs), xs.shape))
        return out

    def block(r0, r1):
        steps = _steps(r0, r1, n)
        rows = steps[0][1] - steps[0][0]
        keys = np.empty((rows, n), dtype=np.uint32)  # reused: no fresh pages per step
        order = np.empty((rows, n), dtype=np.int64)
        for a, b in steps:
            k, o = keys[:b - a], order[:b - a]
            _sorted_keys(XT[a:b], k, o)
            vals = fill(tie_runs(k), (b - a, n))
            for i in range(b - a):  # one 1-D scatter per row: ~3x put_along_axis' 2-D fancy index
                out[a + i][o[i]] = vals[i]

    run_blocks(block, R, R * n)
    return out


def sort_rows(XT: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort each row of XT (R, n) ascending, ties by ascending index (a stable order).

    Returns (order int64 (R, n), keys (R, n)) where equal keys mean equal values. float32 rows are
    radix-sorted (`_sorted_keys`: uint32 keys, ~3x np.argsort and ~6x a stable argsort) in
    cache-sized row blocks on every core (parallel.run_blocks).
    """
    R, n = XT.shape
    if _radix_sorts(XT):
        order = np.empty((R, n), dtype=np.int64)
        keys = np.empty((R, n), dtype=np.uint32)

        def block(r0, r1):
            for a, b in _steps(r0, r1, n):
                _sorted_keys(XT[a:b], keys[a:b], order[a:b])

        run_blocks(block, R, R * n)
        return order, keys
    order = np.empty((R, n), dtype=np.int64)
    vals = np.empty((R, n), dtype=XT.dtype)

    def block_any(r0, r1):
        order[r0:r1] = np.argsort(XT[r0:r1], axis=-1, kind="stable")
        vals[r0:r1] = np.take_along_axis(XT[r0:r1], order[r0:r1], axis=-1)

    run_blocks(block_any, R, R * n)
    return order, vals


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


def unsort(order: np.ndarray, sorted_vals: np.ndarray) -> np.ndarray:
    """Scatter (G, n) values given in sorted position back to row order, kept as (G, n)."""
    shape = np.broadcast(order, sorted_vals).shape
    out = np.empty(shape, dtype=np.result_type(sorted_vals))
    order, sorted_vals = np.broadcast_to(order, shape), np.broadcast_to(sorted_vals, shape)

    def block(r0, r1):
        for r in range(r0, r1):  # one 1-D scatter per row: ~3x put_along_axis' 2-D fancy index
            out[r][order[r]] = sorted_vals[r]

    run_blocks(block, shape[0], out.size)
    return out


def transpose(A: np.ndarray, dtype=None) -> np.ndarray:
    """(r, c) -> contiguous (c, r) in `dtype`, in tiles that keep both sides in cache (~4x
    np.ascontiguousarray). Tall inputs go in strips of 16 rows (each output row gets 16
    contiguous elements per tile), wide ones in strips of 32 columns; measured best on both."""
    r, c = A.shape
    out = np.empty((c, r), dtype=dtype or A.dtype)
    tall = r >= c
    strip, span = (16, 1024) if tall else (32, 1024)

    def block(b0, b1):
        for s in range(b0 * strip, min(r if tall else c, b1 * strip), strip):
            for t in range(0, c if tall else r, span):
                if tall:
                    out[t:t + span, s:s + strip] = A[s:s + strip, t:t + span].T
                else:
                    out[s:s + strip, t:t + span] = A[t:t + span, s:s + strip].T

    run_blocks(block, -(-(r if tall else c) // strip), A.size)
    return out


def to_row_order(order: np.ndarray, sorted_vals: np.ndarray, dtype=None) -> np.ndarray:
    """Scatter (G, n) values given in sorted position back to row order, returned as a C-ordered
    (n, G) array (what sparse products want): a row-local scatter, then a blocked transpose."""
    return transpose(unsort(order, sorted_vals), dtype or np.result_type(sorted_vals))


def average_ranks(X: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """Weighted average ranks of each column of X (n, m) under one weight vector w (n,) or None.
    Returns float64 (n, m) in row order."""
    XT = transpose(np.asarray(X))
    if w is None:
        order, xs = sort_rows(XT)
        return to_row_order(order, unit_rank_values(tie_runs(xs), xs.shape), dtype=np.float64)
    WT = np.asarray(w, dtype=np.float64)[None, :]
    order, below, group = paired_ranks(XT, WT)
    return to_row_order(order, rank_values_sorted(below, group, WT is None), dtype=np.float64)

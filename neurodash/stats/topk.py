"""Each column's k largest values, exactly, without sorting or transposing the whole matrix.

Binarizing a neuron needs the ⌈α·n⌉-th largest activation, soft-WPMI its top 100 rows in order.
A full sort (or a partition of the transposed matrix) touches every element several times. Here a
strided sample of rows gives each column a cut that at least k rows pass with near certainty; one
comparison pass over the matrix keeps only those candidates (a few k per column), and the exact
answer is found among them. A column where fewer than k rows pass the cut (very unlikely, e.g. an
adversarial row order) is redone exactly, so the result never depends on the sample.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurodash.stats.parallel import run_blocks
from neurodash.stats.ranks import transpose

# Below this many rows (or when k is a large share of them) a plain partition is as fast.
MIN_ROWS = 8192
MAX_SHARE = 0.05
# Every SAMPLE_STEP-th row estimates the cut (a smaller sample: a cheaper cut, a few more candidates).
SAMPLE_STEP = 16


@dataclass(frozen=True)
class ColumnTops:
    """Rows whose value is ≥ the column's k-th largest, grouped by column (CSR-like)."""
    indptr: np.ndarray  # (G + 1,) column g's entries are [indptr[g], indptr[g + 1])
    rows: np.ndarray  # int64, ascending within a column
    values: np.ndarray  # the matrix's values at those rows
    kth: np.ndarray  # (G,) the k-th largest value of each column (ties at it are all included)


def _exact(A: np.ndarray, k: int, cols: np.ndarray) -> tuple[list, list, np.ndarray]:
    """Plain path for the given columns: partition each column, keep rows ≥ its k-th largest."""
    n = A.shape[0]
    rows, vals = [], []
    kth = np.empty(len(cols), dtype=A.dtype)
    for i, g in enumerate(cols):
        col = np.ascontiguousarray(A[:, g])
        kth[i] = np.partition(col, n - k)[n - k]
        r = np.flatnonzero(col >= kth[i])
        rows.append(r)
        vals.append(col[r])
    return rows, vals, kth


def column_tops(A: np.ndarray, k: int) -> ColumnTops:
    """For each column of A (n, G): its k-th largest value and every row at or above it."""
    n, G = A.shape
    k = int(min(max(k, 1), n))
    if n < MIN_ROWS or k > MAX_SHARE * n:
        rows, vals, kth = _exact(A, k, np.arange(G))
        return _pack(rows, vals, kth)
    step = SAMPLE_STEP
    sample = transpose(A[::step])  # (G, s): a strided sample of the rows
    s = sample.shape[1]
    expect = k * s / n  # rows of the sample expected above the true k-th largest
    q = int(min(s, np.ceil(expect + 4.0 * np.sqrt(expect) + 2)))  # ~4σ margin below the cut
    cut = np.empty(G, dtype=sample.dtype)

    def cuts(g0, g1):
        cut[g0:g1] = np.partition(sample[g0:g1], s - q, axis=1)[:, s - q]

    run_blocks(cuts, G, sample.size)
    step = max(1, (1 << 18) // G)  # row blocks: the comparison mask stays in cache
    starts = range(0, n, step)
    parts: list = [None] * len(starts)
    small = np.int32 if step * G < 2**31 else np.int64  # int32 division is ~10x faster (SIMD)

    def compare(b0, b1):  # each block's candidates, kept in block order (the same on any thread count)
        for b in range(b0, b1):
            i = starts[b]
            blk = A[i:i + step]
            local = np.flatnonzero(blk >= cut[None, :])
            rr = local.astype(small) // small(G)
            gg = local.astype(small) - rr * small(G)
            # the values while the block is still in cache (a later gather would miss on each)
            vv = blk.ravel()[local] if blk.flags.c_contiguous else blk[rr, gg]
            parts[b] = (rr + small(i), gg, vv)

    run_blocks(compare, len(starts), A.size, blocks_per_thread=4)
    # group by column, rows ascending within each: a stable sort by column, which for G < 2^16
    # is numpy's radix sort of uint16 (blocks are in row order, so rows stay ascending)
    gg = np.concatenate([p[1] for p in parts])
    by_col = np.argsort(gg.astype(np.uint16) if G < 2**16 else gg, kind="stable")
    r = np.concatenate([p[0] for p in parts]).take(by_col)
    v = np.concatenate([p[2] for p in parts]).take(by_col)
    counts = np.bincount(gg, minlength=G)
    indptr = np.zeros(G + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    # k-th largest among each column's candidates: a padded (G, max count) partition
    width = int(counts.max())
    pad = np.full((G, width), -np.inf, dtype=np.float64 if A.dtype == np.float64 else np.float32)
    # each candidate's flat slot: its position in the column + the column's row of the pad
    # (repeats of per-column offsets, not gathers by a per-candidate column index)
    pad.ravel()[np.arange(len(r)) + np.repeat(np.arange(G) * width - indptr[:-1], counts)] = v
    short = np.flatnonzero(counts < k)
    kth = np.partition(pad, width - k, axis=1)[:, width - k].astype(A.dtype) if width >= k else \
        np.full(G, -np.inf, dtype=A.dtype)
    keep = v >= np.repeat(kth, counts)
    if short.size == 0:
        kept = np.zeros(len(keep) + 1, dtype=np.int64)
        np.cumsum(keep, out=kept[1:])
        return ColumnTops(kept[indptr], r[keep].astype(np.int64), v[keep], kth)
    rows = [r[indptr[c]:indptr[c + 1]] for c in range(G)]
    vals = [v[indptr[c]:indptr[c + 1]] for c in range(G)]
    rows = [x[y >= kth[c]] for c, (x, y) in enumerate(zip(rows, vals))]
    vals = [y[y >= kth[c]] for c, y in enumerate(vals)]
    ex_rows, ex_vals, ex_kth = _exact(A, k, short)
    for i, c in enumerate(short):
        rows[c], vals[c], kth[c] = ex_rows[i], ex_vals[i], ex_kth[i]
    return _pack(rows, vals, kth)


def _pack(rows: list, vals: list, kth: np.ndarray) -> ColumnTops:
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(x) for x in rows], out=indptr[1:])
    cat = (lambda xs, dt: np.concatenate(xs) if xs else np.zeros(0, dt))
    return ColumnTops(indptr, cat(rows, np.int64).astype(np.int64), cat(vals, kth.dtype), kth)


def ordered_top_rows(tops: ColumnTops, top: int) -> np.ndarray:
    """(G, top) each column's first `top` rows by value descending, ties by ascending row (what
    a stable argsort of −a gives). Needs `top` ≤ the k the tops were built with."""
    G = len(tops.indptr) - 1
    cols = np.repeat(np.arange(G), np.diff(tops.indptr))
    # values are finite (checked acts), so −value orders descending; lexsort's last key is primary
    order = np.lexsort((tops.rows, -tops.values.astype(np.float64), cols))
    start = tops.indptr[:-1]
    take = (start[:, None] + np.arange(top)[None, :]).ravel()
    return tops.rows[order[take]].reshape(G, top)

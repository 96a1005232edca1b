"""Compiled loops for the rank metrics: a radix sort of each row, then one walk down the sorted order.

Each rank metric needs one sort per column (of the concept, or of the neuron), and then, for every
(row, target) pair where the row counts for the target (a neuron active on it, a concept present on
it), that row's rank or its precision term. numpy has neither a fast sort of float32 rows on every
CPU (its AVX-512 sort is ~3x slower than AVX2 on AMD cores) nor a scatter-add that keeps running
counts, so the numpy paths paid for argsorts, (n, m) rank matrices and per-(neuron, concept)
sorts. Here each row is sorted once (LSD radix, three 11-bit digits: ~9 ns an element) and each
(row, target) pair is touched once (rank sums read the lists in input order, precision sums
walk them from the top).

The kernels are compiled by numba on first use and cached on disk; they release the GIL, so
parallel.run_blocks runs blocks of rows on every core. Sums are float64: rank sums of half-integer
ranks are exact; precision terms are added in the walk's order.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from neurodash.stats.parallel import run_blocks

DIGIT_BITS = 11
BUCKETS = 1 << DIGIT_BITS
SIGN = np.uint32(0x80000000)


@njit(nogil=True, cache=True)
def _radix_sort(row, keys, keys2, order, order2, hist):
    """Stable ascending sort of a float32 row (n,) (ties by index). Returns (sorted keys, order):
    views of the scratch buffers keys/keys2 (uint32, n), order/order2 (int32, n); hist (3, BUCKETS)
    int64. Keys are the float bits mapped to unsigned in value order (-0.0 as +0.0)."""
    n = row.shape[0]
    bits = row.view(np.uint32)
    hist[:] = 0
    for i in range(n):
        u = bits[i]
        if u == SIGN:  # -0.0 sorts with +0.0
            u = np.uint32(0)
        if u & SIGN:
            u = ~u
        else:
            u = u | SIGN
        keys[i] = u
        hist[0, u & 2047] += 1
        hist[1, (u >> 11) & 2047] += 1
        hist[2, u >> 22] += 1
    src_k, dst_k, src_o, dst_o = keys, keys2, order, order2
    for i in range(n):
        src_o[i] = i
    for d in range(3):
        shift = DIGIT_BITS * d
        h = hist[d]
        single = False
        total = 0
        for b in range(BUCKETS):
            c = h[b]
            if c == n:
                single = True  # every key has this digit: the pass would not move anything
            h[b] = total
            total += c
        if single:
            continue
        for i in range(n):
            q = (src_k[i] >> shift) & 2047
            p = h[q]
            h[q] = p + 1
            dst_k[p] = src_k[i]
            dst_o[p] = src_o[i]
        src_k, dst_k = dst_k, src_k
        src_o, dst_o = dst_o, src_o
    return src_k, src_o


@njit(nogil=True, cache=True)
def _scratch(n):
    return (np.empty(n, np.uint32), np.empty(n, np.uint32), np.empty(n, np.int32), np.empty(n, np.int32),
            np.empty((3, BUCKETS), np.int64))


@njit(nogil=True, cache=True)
def average_rank_rows(X, out, squares, r0, r1):
    """Rows r0..r1 of X (R, n) float32: out[r] (float32) the average ranks 1..n (ties share their
    mean), squares[r] (float64) Σ rank² (exact: ranks are half-integers)."""
    n = X.shape[1]
    keys, keys2, order, order2, hist = _scratch(n)
    for r in range(r0, r1):
        sk, so = _radix_sort(X[r], keys, keys2, order, order2, hist)
        o = out[r]
        sq = 0.0
        s = 0
        while s < n:
            e = s
            while e + 1 < n and sk[e + 1] == sk[s]:
                e += 1
            val = (s + e) / 2.0 + 1.0
            sq += (e - s + 1) * val * val
            v32 = np.float32(val)
            for p in range(s, e + 1):
                o[so[p]] = v32
            s = e + 1
        squares[r] = sq


@njit(nogil=True, cache=True)
def rank_sum_rows(X, indptr, targets, out, r0, r1):
    """For each row r in r0..r1 of X (R, n) float32 (one score column: a concept or a neuron):
    out[r, t] = Σ of the average ranks (ascending, 1..n) of the inputs i that list t
    (targets[indptr[i]:indptr[i + 1]]). The ranks are scattered back to input order first, so the
    lists are read in sequence. out (R, T) float64: sums of half-integers, exact."""
    n = X.shape[1]
    keys, keys2, order, order2, hist = _scratch(n)
    rank = np.empty(n, np.float64)
    for r in range(r0, r1):
        sk, so = _radix_sort(X[r], keys, keys2, order, order2, hist)
        s = 0
        while s < n:
            e = s
            while e + 1 < n and sk[e + 1] == sk[s]:
                e += 1
            val = (s + e) / 2.0 + 1.0
            for p in range(s, e + 1):
                rank[so[p]] = val
            s = e + 1
        acc = out[r]
        acc[:] = 0.0
        for i in range(n):
            v = rank[i]
            for k in range(indptr[i], indptr[i + 1]):
                acc[targets[k]] += v


@njit(nogil=True, cache=True)
def precision_rows(X, indptr, targets, out, r0, r1):
    """For each row r in r0..r1 of X (R, n) float32, walked from the highest score down:
    out[r, t] = Σ over the inputs i that list t of TP(i) / N≥(i), with N≥(i) the inputs scoring ≥ i
    and TP(i) the inputs listing t that score ≥ i (a tie group counts whole). out / (t's input
    count) is t's average precision. out (R, T) float64."""
    n = X.shape[1]
    keys, keys2, order, order2, hist = _scratch(n)
    tp = np.zeros(out.shape[1], np.float64)
    for r in range(r0, r1):
        sk, so = _radix_sort(X[r], keys, keys2, order, order2, hist)
        acc = out[r]
        acc[:] = 0.0
        tp[:] = 0.0
        e = n - 1
        while e >= 0:
            s = e
            while s > 0 and sk[s - 1] == sk[e]:
                s -= 1
            inv = 1.0 / (n - s)
            if s == e:  # no tie (the common case): one visit of the input's list
                i = so[e]
                for k in range(indptr[i], indptr[i + 1]):
                    t = targets[k]
                    tp[t] += 1.0
                    acc[t] += tp[t] * inv
            else:  # a tie group shares TP: count the whole group first
                for p in range(s, e + 1):
                    i = so[p]
                    for k in range(indptr[i], indptr[i + 1]):
                        tp[targets[k]] += 1.0
                for p in range(s, e + 1):
                    i = so[p]
                    for k in range(indptr[i], indptr[i + 1]):
                        t = targets[k]
                        acc[t] += tp[t] * inv
            e = s - 1


@njit(nogil=True, cache=True)
def block_column_sums(X, rows, s1, s2, b0, b1, squares):
    """Row blocks b0..b1 of X (n, m) float32/float64 (block b: rows [b·rows, (b+1)·rows)):
    s1[b] = Σ of the block's rows in float64, s2[b] = Σ of their squares (when `squares`), each
    row added in turn: the same order, so the same bits, as np.add.reduce(block as float64, axis=0)."""
    n, m = X.shape
    for b in range(b0, b1):
        a1 = s1[b]
        a1[:] = 0.0
        if squares:
            a2 = s2[b]
            a2[:] = 0.0
        for i in range(b * rows, min(n, (b + 1) * rows)):
            x = X[i]
            if squares:
                for j in range(m):
                    v = np.float64(x[j])
                    a1[j] += v
                    a2[j] += v * v
            else:
                for j in range(m):
                    a1[j] += np.float64(x[j])


# ----------------------------------------------------------------------------- callers

def rank_rows(XT: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average ranks of each row of a C-ordered float32 XT (R, n): (ranks float32 (R, n), Σ rank²
    float64 (R,)), row blocks on every core."""
    R, n = XT.shape
    out = np.empty((R, n), dtype=np.float32)
    squares = np.empty(R)
    run_blocks(lambda r0, r1: average_rank_rows(XT, out, squares, r0, r1), R, R * n)
    return out, squares


def walk(XT: np.ndarray, indptr: np.ndarray, targets: np.ndarray, n_targets: int, precision: bool) -> np.ndarray:
    """rank_sum_rows (precision False) or precision_rows over every row of a C-ordered float32 XT
    (R, n), row blocks on every core; the lists in int32 where they fit (half the cache).
    Returns (R, n_targets) float64."""
    R, n = XT.shape
    if len(targets) < 2**31:
        indptr, targets = indptr.astype(np.int32, copy=False), targets.astype(np.int32, copy=False)
    kernel = precision_rows if precision else rank_sum_rows
    out = np.empty((R, n_targets))
    run_blocks(lambda r0, r1: kernel(XT, indptr, targets, out, r0, r1), R, R * n + R * len(targets))
    return out

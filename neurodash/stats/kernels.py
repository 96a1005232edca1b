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

from neurodash.stats.parallel import run_blocks

_COMPILED = None


def compiled():
    """The numba module (stats/compiled.py), imported on first use."""
    global _COMPILED
    if _COMPILED is None:
        from neurodash.stats import compiled as module
        _COMPILED = module
    return _COMPILED


def _bits(X: np.ndarray) -> np.ndarray:
    if X.dtype != np.float32 or X.ndim != 2 or not X.flags.c_contiguous:
        raise ValueError("the rank kernels take C-ordered 2-D float32 arrays (one score line per row)")
    return X.view(np.uint32)


def rank_lines(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average ranks of each row of float32 X (R, n): (ranks float32 (R, n), Σ rank² float64 (R,)),
    blocks of rows on every core."""
    bits = _bits(X)
    R, n = X.shape
    out = np.empty((R, n), dtype=np.float32)
    squares = np.empty(R)
    none = np.zeros(1, np.int32)
    c = compiled()
    run_blocks(lambda r0, r1: c.score_rows(bits, r0, r1, c.RANKS, none, none, out, squares), R, R * n)
    return out, squares


def walk(X: np.ndarray, indptr: np.ndarray, targets: np.ndarray, n_targets: int, precision: bool) -> np.ndarray:
    """Rank sums (precision False) or precision sums of each row of float32 X (R, n) over the lists
    (indptr, targets): input i lists targets[indptr[i]:indptr[i + 1]]. Blocks of rows on every
    core. Returns (R, n_targets) float64."""
    bits = _bits(X)
    R, n = X.shape
    if len(targets) < 2**31:  # compact lists: more of them stay in cache during the walk
        indptr = indptr.astype(np.int32, copy=False)
        targets = targets.astype(np.uint16 if n_targets <= 2**16 else np.int32, copy=False)
    out = np.empty((R, n_targets))
    c = compiled()
    mode = c.PRECISION if precision else c.RANK_SUMS
    run_blocks(lambda r0, r1: c.score_rows(bits, r0, r1, mode, indptr, targets, out, out[:, 0]),
               R, R * n + R * len(targets))
    return out


def block_column_sums(X: np.ndarray, rows: int, s1: np.ndarray, s2: np.ndarray, b0: int, b1: int,
                      squares: bool) -> None:
    """Row blocks b0..b1 of float32/float64 X (block b: rows [b·rows, (b+1)·rows)) into s1[b] (Σ) and,
    when `squares`, s2[b] (Σ of squares), float64, each row added in turn: the same order, so the
    same bits, as np.add.reduce(block as float64, axis=0)."""
    compiled().block_column_sums(X, rows, s1, s2, b0, b1, squares)


def in_unit_interval(X: np.ndarray) -> bool:
    """Whether every value of a 2-D float32/float64 X is in [0, 1] (NaN is not), one pass."""
    return bool(compiled().all_in_unit_interval(X))


def gather_affine(X: np.ndarray, rows: np.ndarray, scale: np.ndarray, shift: np.ndarray, out: np.ndarray) -> None:
    """out (b, t, m) float32 = X[rows] · scale[t] + shift[t] for float32 X (n, m) with contiguous rows
    (any row stride), rows (b, t): one pass instead of numpy's gather, multiply and add (same bits)."""
    compiled().gather_affine(X, rows, scale, shift, out)


def sum_middle_axis(P: np.ndarray, out: np.ndarray) -> None:
    """out (b, m) float64 = Σ over the middle axis of float32 P (b, t, m), the order (and bits) of
    np.add.reduce(P, axis=1, dtype=np.float64), without numpy's buffered casting."""
    compiled().sum_middle_axis(P, out)


def labels_to_float(X: np.ndarray, out: np.ndarray, counts: np.ndarray) -> None:
    """out (r, m) float = bool X (r, m) (rows contiguous) as 0/1, counts (m,) int64 += each column's
    present labels: one pass for what a float copy and a count would read twice."""
    compiled().labels_to_float(X, out, counts)

"""The numba-compiled loops behind neurodash.stats.kernels (imported on first use: numba takes
~0.25 s to import, which `import neurodash.stats` should not pay). See kernels.py for what they do.
Compiled on first call and cached on disk; every loop releases the GIL."""
from __future__ import annotations

import numpy as np
from numba import njit

DIGIT_BITS = 11
BUCKETS = 1 << DIGIT_BITS
SIGN = np.uint32(0x80000000)


@njit(nogil=True, cache=True)
def _key(u):
    """Float32 bits (uint32) to an unsigned key in value order; -0.0 keys as +0.0."""
    if u == SIGN:
        u = np.uint32(0)
    if u & SIGN:
        return ~u
    return u | SIGN


@njit(nogil=True, cache=True)
def _sort_keys(keys, keys2, order, order2, hist):
    """Stable ascending LSD radix sort of keys (n,) uint32 (hist: (3, BUCKETS) int64 scratch).
    Returns (sorted keys, order int32): views of the scratch buffers (keys is overwritten). A digit
    every key shares is skipped."""
    n = keys.shape[0]
    hist[:] = 0
    for i in range(n):  # the three digits' histograms, one pass (the keys are in cache)
        u = keys[i]
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
                single = True
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
def _ranks_into(sk, so, out):
    """Average ranks 1..n (ties share their mean) written to out (input order); returns Σ rank²
    (exact in float64: ranks are half-integers)."""
    n = sk.shape[0]
    sq = 0.0
    s = 0
    while s < n:
        e = s
        while e + 1 < n and sk[e + 1] == sk[s]:
            e += 1
        val = (s + e) / 2.0 + 1.0
        sq += (e - s + 1) * val * val
        for p in range(s, e + 1):
            out[so[p]] = val
        s = e + 1
    return sq


@njit(nogil=True, cache=True)
def _rank_sums_into(ranks, indptr, targets, acc):
    """acc[t, b] = Σ of ranks[i, b] over the inputs i listing t, ranks (n, LANES) holding LANES
    score lines side by side in input order: the lists are read once, in sequence, for LANES
    lines at a time (a fixed-width add per list entry, which the compiler vectorizes)."""
    acc[:] = 0.0
    for i in range(ranks.shape[0]):
        for k in range(indptr[i], indptr[i + 1]):
            t = targets[k]
            for b in range(LANES):
                acc[t, b] += ranks[i, b]


@njit(nogil=True, cache=True)
def _precision_into(sk, so, indptr, targets, acc, tp):
    """acc[t] = Σ over the inputs i listing t of TP(i) / N≥(i), walked from the highest score down:
    N≥(i) the inputs scoring ≥ i, TP(i) the inputs listing t that score ≥ i (a tie group counts
    whole). acc / (t's input count) is t's average precision."""
    n = sk.shape[0]
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


RANKS, RANK_SUMS, PRECISION = 0, 1, 2
LANES = 8  # score lines whose rank sums share one pass over the lists (8 float32: one vector)


@njit(nogil=True, cache=True)
def score_rows(bits, r0, r1, mode, indptr, targets, out, squares):
    """Rows r0..r1 of float32 scores given as their bits (a uint32 view (R, n)), each radix-sorted
    once, then by `mode`: RANKS: out[r] (float32, (R, n)) its average ranks, squares[r] their Σ r²;
    RANK_SUMS: out[r, t] (float64, (R, T)) the sum of its ranks over the inputs listing t (the
    lists: indptr, targets), LANES rows at a time;
    PRECISION: out[r] (float64, (R, T)) = _precision_into over the lists."""
    n = bits.shape[1]
    keys, keys2 = np.empty(n, np.uint32), np.empty(n, np.uint32)
    order, order2 = np.empty(n, np.int32), np.empty(n, np.int32)
    hist = np.zeros((3, BUCKETS), np.int64)
    tp = np.zeros(out.shape[1] if mode == PRECISION else 1, np.float64)
    if mode == RANK_SUMS:  # LANES lines ranked side by side, then one pass over the lists
        lanes = np.zeros((n, LANES), np.float32)  # half-integer ranks < 2^22: exact in float32
        acc = np.zeros((out.shape[1], LANES), np.float64)
        for g0 in range(r0, r1, LANES):
            g1 = min(r1, g0 + LANES)
            for r in range(g0, g1):
                row = bits[r]
                for i in range(n):
                    keys[i] = _key(row[i])
                sk, so = _sort_keys(keys, keys2, order, order2, hist)
                _ranks_into(sk, so, lanes[:, r - g0])
            _rank_sums_into(lanes, indptr, targets, acc)  # lanes past g1 - g0: ignored
            for r in range(g0, g1):
                out[r, :] = acc[:, r - g0]
        return
    for r in range(r0, r1):
        row = bits[r]
        for i in range(n):
            keys[i] = _key(row[i])
        sk, so = _sort_keys(keys, keys2, order, order2, hist)
        if mode == RANKS:
            squares[r] = _ranks_into(sk, so, out[r])
        else:
            _precision_into(sk, so, indptr, targets, out[r], tp)


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


@njit(nogil=True, cache=True)
def all_in_unit_interval(X):
    """Whether every value of X (2-D float) is in [0, 1] (NaN is not): one pass, no temporaries,
    stops after the first row with a value outside (a branch-free row loop vectorizes)."""
    for i in range(X.shape[0]):
        row = X[i]
        inside = True
        for j in range(X.shape[1]):
            v = row[j]
            inside &= (v >= 0.0) & (v <= 1.0)
        if not inside:
            return False
    return True


@njit(nogil=True, cache=True)
def gather_affine(X, rows, scale, shift, out):
    """out[b, t, :] = X[rows[b, t], :] · scale[t] + shift[t] in float32: the gather, multiply and add
    in one pass, rounded after the product and after the sum as numpy's separate multiply and add
    are (numba contracts to a fused multiply-add only under fastmath, which is off)."""
    for b in range(rows.shape[0]):
        for t in range(rows.shape[1]):
            src = X[rows[b, t]]
            dst = out[b, t]
            s = scale[t]
            h = shift[t]
            for j in range(src.shape[0]):
                dst[j] = src[j] * s + h


@njit(nogil=True, cache=True)
def sum_middle_axis(P, out):
    """out[b, j] = Σ_t P[b, t, j] in float64, t in turn: the order (so the bits) of
    np.add.reduce(P, axis=1, dtype=np.float64)."""
    for b in range(P.shape[0]):
        acc = out[b]
        acc[:] = 0.0
        for t in range(P.shape[1]):
            row = P[b, t]
            for j in range(row.shape[0]):
                acc[j] += np.float64(row[j])


@njit(nogil=True, cache=True)
def labels_to_float(X, out, counts):
    """out = X (bool (r, m), rows contiguous) as 0/1 floats, and counts[j] += the labels present in
    column j (int64): the conversion and the column counts in one pass."""
    for i in range(X.shape[0]):
        src = X[i]
        dst = out[i]
        for j in range(src.shape[0]):
            v = src[j]
            dst[j] = v
            counts[j] += v

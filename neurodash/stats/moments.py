"""Column sums in float64 without a float64 copy, and label matrices as CSR in one pass.

Pearson, cosine, MAD and Spearman reduce to one BLAS product of the neuron columns with the concept
columns plus per-column sums: Σ(a − ā)(x − x̄) = Σ a·x − ā·Σx, so the product can take the raw
columns and be centred afterwards by a rank-one correction (no centred (n, G) copy). The sums are
accumulated in float64 over row blocks that stay in cache: float32 data is widened one block at a
time, never as a whole matrix.
"""
from __future__ import annotations

import threading

import numpy as np
from scipy import sparse

from neurodash.stats import kernels
from neurodash.stats.parallel import run_blocks

BLOCK_ELEMENTS = 1 << 16  # one widened float64 row block: 512 KB, stays in cache
ROW_BLOCK_BYTES = 1 << 20  # rows scanned per step when building a CSR (a cache-sized slab)
# |mean| ≤ this many standard deviations: a float32 product centred afterwards keeps ~7 digits of
# the centred numerator relative to its scale; beyond it the caller centres the columns first.
MAX_MEAN_IN_SDS = 8.0


def column_sums(X: np.ndarray, squares: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """(Σ_i x_ij, Σ_i x_ij² or None), float64 (m,), for X (n, m) of any numeric or bool dtype.

    Partial sums per fixed row block, added in block order: the same bits on any number of threads."""
    n, m = X.shape
    rows = max(16, BLOCK_ELEMENTS // max(m, 1))
    nblk = max(1, -(-n // rows))
    s1 = np.zeros((nblk, m))
    s2 = np.zeros((nblk, m)) if squares else None

    if X.dtype in (np.float32, np.float64) and X.strides[1] == X.itemsize and m > 1:
        # one compiled pass per block (no widened copy), the same bits as the numpy loop below
        # (a single column is not: numpy then sums it pairwise, as a 1-D reduction)
        s2_blocks = s2 if squares else s1
        run_blocks(lambda b0, b1: kernels.block_column_sums(X, rows, s1, s2_blocks, b0, b1, squares),
                   nblk, X.size, blocks_per_thread=2)
        return np.add.reduce(s1, axis=0), (np.add.reduce(s2, axis=0) if squares else None)

    def blocks(b0, b1):
        for b in range(b0, b1):
            blk = X[b * rows:(b + 1) * rows].astype(np.float64)
            np.add.reduce(blk, axis=0, out=s1[b])
            if squares:
                np.multiply(blk, blk, out=blk)
                np.add.reduce(blk, axis=0, out=s2[b])

    run_blocks(blocks, nblk, X.size, blocks_per_thread=2)
    return np.add.reduce(s1, axis=0), (np.add.reduce(s2, axis=0) if squares else None)


def centring_is_safe(dtype, total: float, s1: np.ndarray, centred_ss: np.ndarray) -> bool:
    """Whether a product in `dtype` may be centred afterwards (rank-one correction) instead of
    before: always in float64; in float32 when every column's |mean| ≤ MAX_MEAN_IN_SDS standard
    deviations (a constant column, which every metric reports as NaN, does not count)."""
    if dtype == np.float64:
        return True
    mean = s1 / total
    live = centred_ss > 0
    return bool(np.all(mean[live] ** 2 <= MAX_MEAN_IN_SDS ** 2 * centred_ss[live] / total))


def labels_csr(P: np.ndarray, dtype=np.float64) -> sparse.csr_array:
    """CSR (n, m) of a bool label matrix P (n, m), any strides: row slabs scanned on every core,
    each slab's nonzeros found in one flat pass (no copy of the whole matrix)."""
    n, m = P.shape
    rows = max(1, ROW_BLOCK_BYTES // max(m, 1))
    nblk = max(1, -(-n // rows))
    parts: list = [None] * nblk

    small = np.int32 if rows * m < 2**31 and n < 2**31 else np.int64  # int32 division: SIMD, ~10x faster

    def blocks(b0, b1):
        for b in range(b0, b1):
            local = np.flatnonzero(P[b * rows:(b + 1) * rows]).astype(small)
            r = local // small(m)
            parts[b] = (r + small(b * rows), local - r * small(m))

    run_blocks(blocks, nblk, P.size, blocks_per_thread=4)
    r = np.concatenate([p[0] for p in parts])
    cols = np.concatenate([p[1] for p in parts])
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=n), out=indptr[1:])
    return sparse.csr_array((np.ones(len(cols), dtype=dtype), cols, indptr), shape=(n, m))


PRODUCT_BLOCK_ELEMENTS = 1 << 23  # one converted row block of X: 32 MB of float32 (fits the L3), few BLAS calls


def blocked_product(V: np.ndarray, X: np.ndarray, dtype, sums: str | None = None):
    """(Vᵀ X as float64 (G, m), Σx (m,) or None, Σx² (m,) or None) for V (n, G) in `dtype` and
    X (n, m) of any dtype (bool labels, uint8, float16, float32).

    X is converted to `dtype` one row block at a time, right before that block's BLAS product, so
    no (n, m) float copy of the concepts exists and the converted block is still in cache when the
    product reads it; the blocks' products are added in float64. `sums`: None; "labels" (X holds
    0/1: Σx = Σx² = the count, exact from a float32 matrix-vector product below 2^24 rows); or
    "values" (Σx and Σx² in float64, column_sums of each block)."""
    n, G = V.shape
    m = X.shape[1]
    rows = int(min(max(PRODUCT_BLOCK_ELEMENTS // max(m, 1), 256), n))
    out = np.zeros((G, m))
    s1 = np.zeros(m) if sums else None
    s2 = np.zeros(m) if sums == "values" else None
    same = X.dtype == np.dtype(dtype)
    buf = None if same else np.empty((min(rows, n), m), dtype=dtype)
    tmp = np.empty((G, m), dtype=dtype)
    ones = np.ones(min(rows, n), dtype=dtype)
    exact_counts = dtype == np.float64 or n < 2**24
    # bool labels counted while they are converted (one compiled pass; integer counts, exact)
    counted = sums == "labels" and X.dtype == bool and X.strides[1] == 1 and not same
    lock = threading.Lock()
    for r0 in range(0, n, rows):
        r1 = min(n, r0 + rows)
        if same:
            Xb = X[r0:r1]
        elif counted:
            Xb = buf[:r1 - r0]

            def convert_and_count(a, b, Xb=Xb, r0=r0):
                local = np.zeros(m, dtype=np.int64)
                kernels.labels_to_float(X[r0 + a:r0 + b], Xb[a:b], local)
                with lock:
                    np.add(s1, local, out=s1)  # exact integers: the order of the additions does not matter

            run_blocks(convert_and_count, r1 - r0, (r1 - r0) * m)
        else:
            Xb = buf[:r1 - r0]
            # row slices on every core (the BLAS product after it uses them all; a single-threaded
            # copy would leave one idle); the buffer is reused, so its pages are never fresh
            def convert(a, b, Xb=Xb, r0=r0):
                np.copyto(Xb[a:b], X[r0 + a:r0 + b], casting="unsafe")

            run_blocks(convert, r1 - r0, (r1 - r0) * m)
        Vb = V[r0:r1]
        if G <= 128:  # OpenBLAS is several times faster on (Xᵀ V)ᵀ with few columns in V
            np.matmul(Xb.T, Vb, out=tmp.T)
        else:
            np.matmul(Vb.T, Xb, out=tmp)
        out += tmp
        if counted:
            pass  # counted while converting
        elif sums == "labels" and exact_counts:
            s1 += ones[:r1 - r0] @ Xb
        elif sums:
            a, b = column_sums(Xb, squares=sums == "values")
            s1 += a
            if s2 is not None:
                s2 += b
    if sums == "labels":
        s2 = s1
    return out, s1, s2


def sparse_product(S: sparse.csr_array, X) -> np.ndarray:
    """S (G, n) CSR @ X (n, m) sparse or dense, as a dense float64 (G, m): blocks of S's rows side by
    side on every core (scipy's sparse kernels release the GIL); each row's result is computed as
    in one product, so the bits do not depend on the thread count."""
    G, m = S.shape[0], X.shape[1]
    out = np.empty((G, m))

    def rows(g0, g1):
        part = S[g0:g1] @ X
        out[g0:g1] = part.toarray() if sparse.issparse(part) else part

    run_blocks(rows, G, S.nnz * 16 + (X.nnz if sparse.issparse(X) else 0))
    return out

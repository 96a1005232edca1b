"""The compiled rank kernels against scipy and scikit-learn, ties, signed zeros and thread counts."""
import numpy as np
import pytest
from scipy import sparse
from scipy.stats import rankdata
from sklearn.metrics import average_precision_score

from neurodash.stats import kernels, moments, parallel


def rows_with_ties(rng, R=9, n=3000):
    X = rng.standard_normal((R, n)).astype(np.float32)
    X[0] = np.round(X[0], 1)  # heavy ties
    X[1] = 0.25  # constant: one tie group
    X[2, ::2] = -0.0  # signed zeros tie with +0.0
    X[2, 1::2] = 0.0
    X[3] = np.sort(X[3])  # already sorted
    X[4] = -np.sort(-X[4])  # reversed
    X[5, :7] = [np.float32(3.4e38), -np.float32(3.4e38), 1e-45, -1e-45, 0.0, -0.0, 1.0]  # extremes, subnormals
    return X


def test_average_ranks_equal_scipy_with_their_squares():
    X = rows_with_ties(np.random.default_rng(0))
    ranks, squares = kernels.rank_lines(X)
    expected = rankdata(X.astype(np.float64), axis=1)
    np.testing.assert_array_equal(ranks, expected.astype(np.float32))
    np.testing.assert_array_equal(squares, (expected ** 2).sum(axis=1))


def test_rank_sums_over_lists_equal_ranks_times_membership():
    rng = np.random.default_rng(1)
    X = rows_with_ties(rng)
    member = rng.random((X.shape[1], 11)) < 0.05
    lists = sparse.csr_array(member)
    got = kernels.walk(X, lists.indptr, lists.indices, 11, precision=False)
    np.testing.assert_array_equal(got, rankdata(X.astype(np.float64), axis=1) @ member)


def test_precision_walk_gives_sklearn_average_precision():
    rng = np.random.default_rng(2)
    X = rows_with_ties(rng)
    member = rng.random((X.shape[1], 7)) < 0.08
    lists = sparse.csr_array(member)
    sums = kernels.walk(X, lists.indptr, lists.indices, 7, precision=True)
    got = sums / member.sum(axis=0)
    for r in range(X.shape[0]):
        for t in range(7):
            assert got[r, t] == pytest.approx(average_precision_score(member[:, t], X[r].astype(np.float64)),
                                              rel=1e-12, abs=1e-12)


def test_same_bits_on_any_thread_count(monkeypatch):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 2000)).astype(np.float32)
    lists = sparse.csr_array(rng.random((2000, 5)) < 0.1)
    monkeypatch.setattr(parallel, "MIN_PARALLEL_WORK", 1)
    runs = []
    for workers in (1, 3):
        monkeypatch.setattr(parallel, "threads", lambda w=workers: w)
        runs.append((kernels.rank_lines(X), kernels.walk(X, lists.indptr, lists.indices, 5, True),
                     moments.column_sums(X.T.copy(), squares=True)))
    (r1, w1, c1), (r3, w3, c3) = runs
    np.testing.assert_array_equal(r1[0], r3[0])
    np.testing.assert_array_equal(w1, w3)
    np.testing.assert_array_equal(c1[0], c3[0])
    np.testing.assert_array_equal(c1[1], c3[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_column_sums_keep_numpys_bits(dtype, monkeypatch):
    """Row by row in float64, as np.add.reduce(axis=0) of the widened block adds them."""
    monkeypatch.setattr(moments, "BLOCK_ELEMENTS", 300)  # several row blocks
    X = (np.random.default_rng(4).standard_normal((997, 13)) * 1e3).astype(dtype)
    s1, s2 = moments.column_sums(X, squares=True)
    rows = max(16, moments.BLOCK_ELEMENTS // 13)
    parts = [X[b:b + rows].astype(np.float64) for b in range(0, 997, rows)]
    np.testing.assert_array_equal(s1, np.add.reduce([np.add.reduce(p, axis=0) for p in parts], axis=0))
    np.testing.assert_array_equal(s2, np.add.reduce([np.add.reduce(p * p, axis=0) for p in parts], axis=0))


def test_gather_affine_keeps_numpys_bits():
    """One pass of gather, multiply and add rounds as numpy's three separate steps (no fused FMA)."""
    rng = np.random.default_rng(5)
    X = rng.random((3000, 50), dtype=np.float32)[:, 3:47]  # a column slice: rows contiguous, strided
    rows = rng.integers(0, 3000, size=(7, 100))
    p = 0.998 - np.arange(100) / 100 * (0.998 - 0.97)
    scale, shift = p.astype(np.float32), (1.0 - p + 1e-7).astype(np.float32)
    out = np.empty((7, 100, X.shape[1]), dtype=np.float32)
    kernels.gather_affine(X, rows, scale, shift, out)
    expected = X[rows] * scale[None, :, None]
    expected += shift[None, :, None]
    np.testing.assert_array_equal(out, expected)


def test_sum_middle_axis_keeps_numpys_bits():
    P = (np.random.default_rng(6).standard_normal((4, 100, 37)) * 10).astype(np.float32)
    out = np.empty((4, 37))
    kernels.sum_middle_axis(P, out)
    np.testing.assert_array_equal(out, np.add.reduce(P, axis=1, dtype=np.float64))


def test_labels_converted_and_counted_in_one_pass(monkeypatch):
    monkeypatch.setattr(moments, "PRODUCT_BLOCK_ELEMENTS", 1000)  # several row blocks
    monkeypatch.setattr(parallel, "MIN_PARALLEL_WORK", 1)  # and several threads per block
    rng = np.random.default_rng(7)
    V = rng.standard_normal((2000, 5)).astype(np.float32)
    P = rng.random((2000, 60)) < 0.1
    out, s1, s2 = moments.blocked_product(V, P[:, 5:55], np.float32, "labels")
    np.testing.assert_array_equal(s1, P[:, 5:55].sum(axis=0).astype(np.float64))
    assert s2 is s1
    np.testing.assert_allclose(out, V.astype(np.float64).T @ P[:, 5:55], rtol=1e-5, atol=1e-4)

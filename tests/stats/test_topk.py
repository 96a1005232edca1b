"""Each column's k largest values by sampled cut + candidates must equal a full sort, ties and all."""
import numpy as np
import pytest

from neurodash.stats import topk
from neurodash.stats.topk import column_tops, ordered_top_rows


def by_sort(A, k):
    kth = -np.sort(-A, axis=0)[k - 1]
    return kth, [np.flatnonzero(A[:, g] >= kth[g]) for g in range(A.shape[1])]


def check(A, k):
    t = column_tops(A, k)
    kth, rows = by_sort(A, k)
    np.testing.assert_array_equal(t.kth, kth)
    for g in range(A.shape[1]):
        got = t.rows[t.indptr[g]:t.indptr[g + 1]]
        np.testing.assert_array_equal(got, rows[g])
        np.testing.assert_array_equal(t.values[t.indptr[g]:t.indptr[g + 1]], A[got, g])
    return t


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 100, 500])
def test_sampled_path_equals_sort(dtype, k):
    rng = np.random.default_rng(k)
    A = rng.standard_normal((20000, 7)).astype(dtype)
    A[:, 1] = np.round(A[:, 1], 1)  # heavy ties at the cut
    A[:, 2] = 3.0  # constant: every row ties
    A[:, 3] = np.maximum(A[:, 3], 0) * (rng.random(20000) < 0.004)  # ReLU-like: 99.6% zeros
    A[:, 4] = np.sort(A[:, 4])  # sorted rows: the strided sample is not a random one
    A[:, 5] = -np.sort(-A[:, 5])
    check(A, k)


def test_fallback_when_the_sample_misleads(monkeypatch):
    # the sampled rows (multiples of 8) hold the largest values, so the sample's cut lets fewer
    # than k rows through in column 0: that column must be redone exactly
    A = np.zeros((16384, 3), np.float32)
    A[::8, 0] = 1000 + np.arange(2048)
    A[1::8, 0] = np.arange(2048)
    A[:, 1] = np.arange(16384)
    A[:, 2] = np.random.default_rng(0).standard_normal(16384)
    redone = []
    exact = topk._exact
    monkeypatch.setattr(topk, "_exact", lambda A_, k_, cols: redone.append(list(cols)) or exact(A_, k_, cols))
    check(A, 300)
    assert redone == [[0]]


def test_small_inputs_take_the_exact_path():
    A = np.random.default_rng(1).integers(0, 5, size=(50, 4)).astype(float)
    check(A, 7)
    assert topk.MIN_ROWS > 50


def test_ordered_top_rows_is_a_stable_descending_sort():
    rng = np.random.default_rng(2)
    A = np.round(rng.standard_normal((30000, 6)), 1).astype(np.float32)  # many ties
    rows = ordered_top_rows(column_tops(A, 120), 100)
    exp = np.argsort(-A, axis=0, kind="stable")[:100].T
    np.testing.assert_array_equal(rows, exp)

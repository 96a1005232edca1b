"""Blocked column sums and products, label CSR, and the rank-one centring they allow."""
import numpy as np
import pytest
from scipy import sparse

from neurodash.stats import moments, parallel
from neurodash.stats.metrics import similarity
from tests.stats import stats_oracle as oracle


def test_column_sums_are_float64_sums_of_any_dtype(monkeypatch):
    monkeypatch.setattr(moments, "BLOCK_ELEMENTS", 64)  # many row blocks
    rng = np.random.default_rng(0)
    for X in (rng.standard_normal((301, 7)).astype(np.float32), rng.random((301, 7)) < 0.3,
              rng.integers(0, 2, (301, 7)).astype(np.uint8)):
        s1, s2 = moments.column_sums(X, squares=True)
        X64 = X.astype(np.float64)
        np.testing.assert_allclose(s1, X64.sum(axis=0), rtol=1e-13, atol=1e-12)
        np.testing.assert_allclose(s2, (X64 * X64).sum(axis=0), rtol=1e-13)
        assert moments.column_sums(X)[1] is None


def test_labels_csr_holds_every_label(monkeypatch):
    monkeypatch.setattr(moments, "ROW_BLOCK_BYTES", 40)  # several slabs
    P = np.random.default_rng(1).random((233, 50)) < 0.1
    for view in (P, P[:, 7:31], P[::2]):  # any strides
        L = moments.labels_csr(view, dtype=np.float32)
        assert L.dtype == np.float32
        np.testing.assert_array_equal(L.toarray(), view)


@pytest.mark.parametrize("G", [3, 200])  # both operand orders of the product
@pytest.mark.parametrize("sums", [None, "labels", "values"])
def test_blocked_product_matches_one_product(G, sums, monkeypatch):
    monkeypatch.setattr(moments, "PRODUCT_BLOCK_ELEMENTS", 1000)  # rows per block hit the 256 floor
    rng = np.random.default_rng(2)
    V = rng.standard_normal((1100, G)).astype(np.float32)
    X = rng.random((1100, 9)) < 0.2 if sums == "labels" else rng.random((1100, 9)).astype(np.float32)
    out, s1, s2 = moments.blocked_product(V, X, np.float32, sums)
    X64 = X.astype(np.float64)
    np.testing.assert_allclose(out, V.astype(np.float64).T @ X64, rtol=1e-5, atol=1e-4)
    if sums is None:
        assert s1 is None and s2 is None
    else:
        np.testing.assert_allclose(s1, X64.sum(axis=0), rtol=1e-12)
        np.testing.assert_allclose(s2, (X64 * X64).sum(axis=0), rtol=1e-12)


def test_sparse_product_same_bits_on_any_thread_count(monkeypatch):
    rng = np.random.default_rng(3)
    S = sparse.random_array((40, 3000), density=0.05, format="csr", rng=rng)
    X = rng.standard_normal((3000, 6))
    monkeypatch.setattr(parallel, "threads", lambda: 1)
    one = moments.sparse_product(S, X)
    monkeypatch.setattr(parallel, "threads", lambda: 3)
    monkeypatch.setattr(parallel, "MIN_PARALLEL_WORK", 1)
    np.testing.assert_array_equal(moments.sparse_product(S, X), one)
    np.testing.assert_allclose(one, S @ X, rtol=1e-12)


def test_centring_afterwards_only_when_float32_keeps_the_digits():
    s1, ss = np.array([0.0, 10.0]), np.array([100.0, 100.0])  # total 100: sd 1, means 0 and 0.1
    assert moments.centring_is_safe(np.float32, 100, s1, ss)
    assert not moments.centring_is_safe(np.float32, 100, np.array([0.0, 900.0]), ss)  # mean 9 sd
    assert moments.centring_is_safe(np.float64, 100, np.array([0.0, 1e9]), ss)
    assert moments.centring_is_safe(np.float32, 100, np.array([0.0, 1e9]), np.array([100.0, 0.0]))  # constant


@pytest.mark.parametrize("name", ["pearson", "cosine", "spearman"])
def test_float32_neurons_far_from_zero_still_match_the_oracle(name):
    """A float32 neuron whose mean is 10,000 standard deviations: centring after the product would
    lose every digit, so the engine centres first (the fallback path) and still matches."""
    rng = np.random.default_rng(4)
    acts = np.round(rng.standard_normal((300, 3)), 2)
    acts[:, 1] += 1e4
    concepts = np.round(rng.random((300, 4)), 1)
    concepts[:, 0] = rng.random(300) < 0.2
    acts32, concepts32 = acts.astype(np.float32), concepts.astype(np.float32)
    exp = oracle.matrix(name, acts32.astype(np.float64), concepts32.astype(np.float64), alpha=0.1)
    got = similarity(acts32, concepts32, name, alpha=0.1)
    np.testing.assert_allclose(got, exp, rtol=2e-4, atol=2e-4)

"""The engine's input checks, the binary rule and the shared neuron-side work."""
import numpy as np
import pytest

from neurodash.stats import engine
from neurodash.stats.engine import Neurons, check_acts, check_concepts, concepts_are_binary


def test_check_acts_one_pass_still_names_the_bad_column():
    A = np.ones((20, 3), np.float32)
    A[5, 2] = np.inf
    with pytest.raises(ValueError, match="column 2"):
        check_acts(A)
    A[5, 2] = np.nan
    with pytest.raises(ValueError, match="column 2"):
        check_acts(A)
    big = np.full((10, 2), 3e38, np.float32)  # the sum overflows, every value is finite: accepted
    assert check_acts(big) is big
    assert check_acts(np.arange(6).reshape(3, 2)).shape == (3, 2)  # integers need no check
    with pytest.raises(ValueError, match="numeric"):
        check_acts(np.zeros((3, 2), bool))


def test_concepts_keep_their_dtype_and_binary_comes_from_how_they_were_made():
    for dt in (bool, np.uint8, np.float16, np.float32):
        c = check_concepts(np.eye(4, 3).astype(dt), 4)
        assert c.dtype == np.dtype(dt)
    assert concepts_are_binary(np.zeros((2, 2), bool))
    assert concepts_are_binary(np.zeros((2, 2), np.uint8))
    assert not concepts_are_binary(np.zeros((2, 2), np.float32))  # a float matrix is never scanned
    assert concepts_are_binary(np.zeros((2, 2), np.float32), binary=True)
    assert not concepts_are_binary(np.zeros((2, 2), bool), binary=False)


def test_neurons_select_top_rows_once(monkeypatch):
    calls = []
    real = engine.column_tops
    monkeypatch.setattr(engine, "column_tops", lambda A, k: calls.append(k) or real(A, k))
    A = np.random.default_rng(0).standard_normal((10000, 4)).astype(np.float32)
    nb = Neurons(A, None, 0.02, np.float32)
    assert nb.FW.nnz == 4 * 200 and nb.thresholds.shape == (4,)
    assert nb.soft_rows.shape == (4, 100)
    np.testing.assert_array_equal(nb.soft_rows, np.argsort(-A, axis=0, kind="stable")[:100].T)
    assert calls == [200]


def test_constant_from_top_rows_needs_every_row_tied_at_the_top():
    """`constant` read from the top rows (soft-WPMI's) agrees with max == min, including a column
    whose every row reaches the k-th largest value without being constant."""
    n = 300
    A = np.random.default_rng(1).standard_normal((n, 4)).astype(np.float32)
    A[:, 1] = 2.5  # constant
    A[:, 2] = 1.0
    A[0, 2] = 5.0  # every row ≥ the 2nd largest (1.0), yet not constant
    nb = Neurons(A, None, 0.01, np.float32)
    nb.soft_rows  # finds only soft-WPMI's top rows
    assert "_soft_tops" in nb.__dict__ and "tops" not in nb.__dict__
    np.testing.assert_array_equal(nb.constant, A.max(axis=0) == A.min(axis=0))
    nb2 = Neurons(A, None, 0.5, np.float32)
    nb2.FW  # the binarization's top rows
    np.testing.assert_array_equal(nb2.constant, [False, True, False, False])

"""Weighted average ranks and the packed float32 sort."""
import numpy as np
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from neurodash.stats.ranks import average_ranks, sort_rows


@settings(max_examples=30, deadline=None)
@given(x=hnp.arrays(np.float64, st.integers(1, 30), elements=st.sampled_from([0.0, 0.5, 1.0, 2.0])),
       data_=st.data())
def test_weighted_ranks_equal_repeated_rankdata(x, data_):
    from scipy.stats import rankdata
    w = np.array(data_.draw(st.lists(st.integers(1, 3), min_size=len(x), max_size=len(x))))
    rows = np.repeat(np.arange(len(x)), w)
    rep = rankdata(x[rows])
    got = average_ranks(x[:, None], w)[:, 0]
    np.testing.assert_allclose(got[rows], rep)


def test_packed_float32_sort_is_a_stable_sort():
    rng = np.random.default_rng(8)
    X = rng.integers(-3, 4, size=(5, 200)).astype(np.float32) / 2
    X[0, :7] = -0.0
    X[1] = rng.standard_normal(200).astype(np.float32)
    order, keys = sort_rows(X)
    np.testing.assert_array_equal(order, np.argsort(X + 0.0, axis=1, kind="stable"))
    vals = np.take_along_axis(X, order, axis=1)
    np.testing.assert_array_equal(keys[:, 1:] == keys[:, :-1], vals[:, 1:] == vals[:, :-1])


def test_unit_ranks_from_tie_runs_equal_rankdata():
    from scipy.stats import rankdata
    from neurodash.stats.ranks import tie_runs, unit_at_or_above, unit_rank_values, unsort
    rng = np.random.default_rng(5)
    X = np.round(rng.standard_normal((4, 300)), 1).astype(np.float32)  # long tie runs
    X[1] = np.arange(300)  # no ties at all in this row
    X[2] = 7.0  # one run over the whole row
    order, keys = sort_rows(X)
    runs = tie_runs(keys)
    ranks = unsort(order, unit_rank_values(runs, X.shape))
    np.testing.assert_array_equal(ranks, rankdata(X, axis=1))
    at_or_above = unsort(order, unit_at_or_above(runs, X.shape))
    np.testing.assert_array_equal(at_or_above, (X[:, None, :] >= X[:, :, None]).sum(axis=2))
    none = tie_runs(np.sort(rng.standard_normal((3, 50)), axis=1))
    assert none[0].size == 0

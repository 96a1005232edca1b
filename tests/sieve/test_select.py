"""SIEVE Select on synthetic activations whose P99 and median are known by construction."""

import numpy as np
import pytest

from neurodash.sieve import select, selectivity_ratio


def _column(median_value: float, p99_value: float, n: int = 1001) -> np.ndarray:
    # n = 1001: linear-interpolated percentiles land exactly on order statistics 500 (median) and 990 (P99)
    x = np.linspace(0.0, 1.0, n)
    col = np.where(x < 0.5, median_value * x / 0.5, median_value)
    col[500:991] = np.linspace(median_value, p99_value, 491)
    col[991:] = p99_value + np.arange(1, n - 990)
    return col


def test_ratio_matches_known_percentiles():
    acts = np.stack([_column(1.0, 50.0), _column(2.0, 10.0), _column(3.0, 30.0)], axis=1)
    np.testing.assert_allclose(np.percentile(acts, 50, axis=0), [1, 2, 3])
    np.testing.assert_allclose(np.percentile(acts, 99, axis=0), [50, 10, 30])
    res = select(acts, beta=10)
    np.testing.assert_allclose(res.ratio, [50.0, 5.0, 10.0])
    # strictly greater than beta: a ratio of exactly 10 is not selective
    assert res.selective.tolist() == [True, False, False]
    assert sorted(res.top_ids) == [0]
    assert select(acts, beta=4).selective.tolist() == [True, True, True]


def test_median_zero_or_negative_follows_the_documented_rule():
    n = 1000
    relu_sparse = np.zeros(n); relu_sparse[-50:] = np.arange(1, 51)   # median 0, P99 > 0
    dead = np.zeros(n)                                                 # median 0, P99 0
    negative = -np.linspace(1, 2, n); negative[-20:] = 5.0             # median < 0 < P99
    all_negative = -np.linspace(1, 2, n)                               # P99 < 0
    acts = np.stack([relu_sparse, dead, negative, all_negative], axis=1)
    with np.errstate(all="raise"):  # no division warnings hide inside
        res = select(acts, beta=10)
    assert np.isinf(res.ratio[0]) and res.ratio[0] > 0
    assert res.ratio[1] == 0.0
    assert np.isinf(res.ratio[2])
    assert res.ratio[3] == 0.0
    assert res.selective.tolist() == [True, False, True, False]


def test_selectivity_ratio_elementwise():
    out = selectivity_ratio(np.array([4.0, 3.0, 0.0, -1.0]), np.array([2.0, 0.0, 0.0, -2.0]))
    assert out.tolist() == [2.0, np.inf, 0.0, 0.0]


def test_top_images_of_selective_neurons_are_their_highest_activations():
    rng = np.random.default_rng(0)
    acts = rng.exponential(1.0, size=(500, 6)) ** 4  # heavy tails: P99/median large
    acts[:, 5] = 1.0 + rng.random(500) * 0.1           # flat: not selective
    res = select(acts, beta=10, top=20)
    assert not res.selective[5] and res.selective[:5].all()
    for j, ids in res.top_ids.items():
        assert len(ids) == 20
        assert set(ids) == set(np.argsort(-acts[:, j])[:20])
        assert np.all(np.diff(acts[ids, j]) <= 0)


def test_memmap_input_and_bad_input(tmp_path):
    acts = np.random.default_rng(1).random((300, 4)).astype(np.float16)
    mm = np.lib.format.open_memmap(tmp_path / "a.npy", mode="w+", dtype=np.float16, shape=acts.shape)
    mm[:] = acts
    np.testing.assert_allclose(select(mm).ratio, select(acts).ratio)
    with pytest.raises(ValueError, match="NaN"):
        select(np.array([[np.nan], [1.0]]))
    with pytest.raises(ValueError, match="expected activations"):
        select(np.zeros(5))

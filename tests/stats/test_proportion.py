"""Binomial intervals and the rate comparison, against scipy/statsmodels-free hand values."""

import numpy as np
import pytest
from scipy import stats

from neurodash.stats.proportion import (binomial_interval, clopper_pearson_interval, compare_rates,
                                        wilson_interval)


def test_wilson_hand_value():
    # k=7, n=20, z=1.959964: centre (0.35 + z²/40)/(1 + z²/20), half-width from the Wilson formula
    lo, hi = wilson_interval(7, 20)
    assert lo == pytest.approx(0.18117, abs=1e-4) and hi == pytest.approx(0.56718, abs=1e-4)


def test_wilson_edges_and_empty():
    assert wilson_interval(0, 20)[0] == 0.0 and wilson_interval(20, 20)[1] == 1.0
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_clopper_pearson_matches_scipy_binomtest():
    for k, n in [(0, 10), (3, 10), (10, 10), (17, 40)]:
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.9, method="exact")
        assert clopper_pearson_interval(k, n, 0.9) == pytest.approx((ci.low, ci.high), abs=1e-9)
        w = stats.binomtest(k, n).proportion_ci(confidence_level=0.9, method="wilson")
        assert binomial_interval(k, n, 0.9, "wilson") == pytest.approx((w.low, w.high), abs=1e-9)


def test_coverage_of_wilson_is_near_nominal():
    rng = np.random.default_rng(0)
    p, n = 0.3, 30
    ks = rng.binomial(n, p, size=4000)
    covered = np.mean([lo <= p <= hi for lo, hi in (wilson_interval(int(k), n) for k in ks)])
    assert 0.92 < covered < 0.98


def test_bad_arguments():
    with pytest.raises(ValueError):
        wilson_interval(5, 3)
    with pytest.raises(ValueError):
        wilson_interval(1, 3, confidence=1.0)
    with pytest.raises(ValueError, match="unknown interval"):
        binomial_interval(1, 3, method="jeffreys")


def test_compare_rates():
    strong = compare_rates(18, 20, 2, 20)
    assert strong.difference == pytest.approx(0.8) and strong.p_value < 1e-5
    assert compare_rates(2, 20, 18, 20).p_value > 0.99
    assert compare_rates(5, 20, 5, 20).p_value > 0.5
    assert compare_rates(0, 0, 1, 2).p_value == 1.0

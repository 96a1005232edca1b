"""BE reports on a small built workspace: histogram, set, cache, Thm 4.1 bounds."""

import pytest

from neurodash import analysis
from neurodash.analysis import BEReport


def test_bootstrap_report(built):
    ws, _, _ = built
    be = analysis.bootstrap(ws, 4, metric="iou", K=40, seed=1)
    assert isinstance(be, BEReport) and sum(be.histogram) == 40 and be.K == 40
    assert be.prediction_set and set(be.prediction_names) <= set(ws.concept_names)
    assert 0 <= be.stability <= 1 and be.gap >= 0 and be.vacuous == (not be.p < 1 or be.coverage <= 0)
    files = list((ws.cache.path / "bootstrap").glob("*.json"))
    again = analysis.bootstrap(ws, 4, metric="iou", K=40, seed=1)
    assert again == be and list((ws.cache.path / "bootstrap").glob("*.json")) == files
    assert analysis.bootstrap(ws, 4, metric="pearson", K=20).vacuous  # no rate: no coverage guarantee
    # the derived Thm 4.1 bound is reported with the printed Eq. 9 beside it
    from neurodash.stats import bounds
    if be.p == be.p:  # a rate exists
        winners_k = sum(be.histogram[i] for i in be.prediction_set)
        assert be.coverage == pytest.approx(bounds.coverage_lower_bound(40, winners_k, be.p))
        assert be.coverage_printed == pytest.approx(bounds.coverage_lower_bound_printed(40, winners_k, be.p))
    with pytest.raises(ValueError, match="pixel_iou"):
        analysis.bootstrap(ws, 4, metric="pixel_iou")
    with pytest.raises(ValueError, match="unknown metric"):
        analysis.bootstrap(ws, 4, metric="vibes")

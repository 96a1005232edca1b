"""neurodash.reports.planner on hand-made settings with known answers."""

import math

import numpy as np
import pytest

from neurodash import reports
from neurodash.stats import bounds


def test_planner_needed_is_the_smallest_size_reaching_the_target():
    s = reports.PlannerSetting(freq=0.05, alpha=0.01, agreement=1.0, n_concepts=100, delta=0.05)
    needed = reports.planner_needed(s, 0.1).set_index("metric")
    # accuracy: 2·sqrt(log(2·|C|/δ)/(2n)) ≤ 0.1  <=>  n ≥ 2·log(4000)/0.01
    assert needed.loc["accuracy", "probe_size"] == math.ceil(2 * math.log(4000) / 0.01)
    for m, row in needed.iterrows():
        n = int(row["probe_size"])
        kw = dict(concept_freq=0.05, alpha=0.01, n_concepts=100, delta=0.05, overlap=1.0)
        assert bounds.planner_rates(m, [n], **kw)[0] <= 0.1 < bounds.planner_rates(m, [n - 1], **kw)[0]
    curves = reports.planner_curves(s, [100, 1000, 10000])
    acc = curves[curves.metric == "accuracy"]["band"].to_numpy()
    assert np.all(np.diff(acc) < 0)  # more images, narrower band


def test_planner_rejects_bad_settings():
    with pytest.raises(ValueError, match="freq"):
        reports.PlannerSetting(freq=0.0, alpha=0.01, agreement=1, n_concepts=10, delta=0.05).check()
    s = reports.PlannerSetting(freq=0.1, alpha=0.01, agreement=1, n_concepts=10, delta=0.05)
    with pytest.raises(ValueError, match="target"):
        reports.planner_needed(s, 0.0)

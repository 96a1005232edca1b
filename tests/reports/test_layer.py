"""neurodash.reports.layer: coverage summary and the layer view filters on hand-made inputs."""

import math

import numpy as np
import pandas as pd
import pytest

from neurodash import reports


def test_coverage_summary_counts_vacuous_as_zero_claim():
    be = pd.DataFrame({"neuron": [0, 1, 2, 3], "gt_in_set": [True, True, False, True],
                       "be_coverage": [0.9, 0.0, 0.5, 0.7], "be_vacuous": [False, True, False, False],
                       "be_set_size": [1, 3, 2, 1]})
    s = reports.coverage_summary(be)
    assert s["observed"] == 0.75 and math.isclose(s["claimed"], 0.525)
    assert s["informative"] == 3 and math.isclose(s["observed_informative"], 2 / 3)
    with pytest.raises(ValueError, match="ground truth"):
        reports.coverage_summary(be.drop(columns="gt_in_set"))


def test_filter_and_plottable():
    view = pd.DataFrame({"neuron": [0, 1, 2], "iou_concept": ["red circle", "blue", "Red square"],
                         "selective": [True, False, True], "n_flags": [0, 2, None],
                         "selectivity": [2.0, np.inf, 5.0]})
    assert reports.filter_layer(view, text="red")["neuron"].tolist() == [0, 2]
    assert reports.filter_layer(view, selective_only=True, flagged_only=True).empty
    assert reports.filter_layer(view, flagged_only=True)["neuron"].tolist() == [1]
    p = reports.plottable(view, ["selectivity"])
    assert p["selectivity"].tolist() == [2.0, 50.0, 5.0] and p["selectivity_infinite"].tolist() == [False, True, False]
    assert np.isinf(view["selectivity"]).sum() == 1  # the input is untouched

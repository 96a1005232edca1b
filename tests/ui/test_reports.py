"""neurodash.reports: the plain data the pages show, on hand-made inputs with known answers."""

import math

import numpy as np
import pandas as pd
import pytest

from neurodash import reports
from neurodash.stats import bounds
from neurodash.workspace import BEReport


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


def test_quantile_bins_pick_ranks_inside_each_range():
    acts = np.arange(1000, dtype=float)  # image i has activation i: rank r is image 999 - r
    bins = reports.quantile_bins(acts, per_bin=5)
    assert [b["label"] for b in bins][0] == "top 1%–5%"
    first = bins[0]
    assert len(first["ids"]) == 5
    ranks = 999 - first["ids"]
    assert ranks.min() >= 10 and ranks.max() <= 49
    assert np.all(np.diff(first["acts"]) < 0)  # falling activation
    last = bins[-1]
    assert (999 - last["ids"]).max() == 999  # reaches the bottom of the probe


def test_binarization_threshold_matches_top_alpha():
    acts = np.array([5.0, 1.0, 3.0, 4.0, 2.0, 0.0, 6.0, 7.0, 8.0, 9.0])
    assert reports.binarization_threshold(acts, 0.2) == 8.0  # top ⌈0.2·10⌉ = 2 values: 9, 8
    assert reports.binarization_threshold(acts, 0.01) == 9.0


def test_top_two_gap_and_search():
    S = np.array([[0.1, 0.5, 0.3], [0.2, 0.2, np.nan]])
    assert np.allclose(reports.top_two_gap(S), [0.2, 0.0])
    table = pd.DataFrame({"neuron": [0, 1, 2], "iou_concept": ["a", "b", "a"], "iou_score": [0.1, 0.5, 0.3]})
    hits = reports.neurons_for_concept(table, "iou", "a")
    assert hits["neuron"].tolist() == [2, 0]
    with pytest.raises(KeyError):
        reports.neurons_for_concept(table, "f1", "a")


def _be(hist, pset, names=("red", "blue", "circle", "square"), p=0.2, coverage=0.9, vacuous=False, has_rate=True):
    return BEReport(neuron=0, metric="iou", K=sum(hist), seed=0, t=0.95 * sum(hist), delta=0.05,
                    concept_names=list(names), histogram=list(hist), prediction_set=list(pset),
                    prediction_names=[names[i] for i in pset], stability=max(hist) / sum(hist), best=pset[0],
                    second=1, gap=0.1, p=p, coverage=coverage, vacuous=vacuous, has_rate=has_rate)


def test_be_summary_marks_set_and_truth_and_vacuous():
    s = reports.be_summary(_be([70, 25, 5, 0], [0, 1]), true_concept="square")
    bars = s["bars"].set_index("concept")
    assert bars.loc["red", "in_set"] and bars.loc["blue", "in_set"] and not bars.loc["circle", "in_set"]
    assert bars.loc["square", "is_true"] and bars.loc["square", "count"] == 0  # shown although it never won
    assert s["covers_truth"] is False and s["set_size"] == 2 and s["coverage_text"] == "≥ 0.900"
    v = reports.be_summary(_be([100, 0, 0, 0], [0], p=1.5, coverage=0.0, vacuous=True), true_concept="red")
    assert v["coverage_text"].startswith("vacuous") and v["covers_truth"] is True


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

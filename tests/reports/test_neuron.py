"""neurodash.reports.neuron: the Neuron page data on hand-made inputs with known answers."""


import math

import numpy as np
import pandas as pd
import pytest

from neurodash import reports
from neurodash.analysis import BEReport


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
                    second=1, gap=0.1, p=p, coverage=coverage, coverage_printed=0.0, vacuous=vacuous,
                    has_rate=has_rate)


def test_be_summary_marks_set_and_truth_and_vacuous():
    s = reports.be_summary(_be([70, 25, 5, 0], [0, 1]), true_concept="square")
    bars = s["bars"].set_index("concept")
    assert bars.loc["red", "in_set"] and bars.loc["blue", "in_set"] and not bars.loc["circle", "in_set"]
    assert bars.loc["square", "is_true"] and bars.loc["square", "count"] == 0  # shown although it never won
    assert s["covers_truth"] is False and s["set_size"] == 2 and s["coverage_text"] == "≥ 0.900"
    v = reports.be_summary(_be([100, 0, 0, 0], [0], p=1.5, coverage=0.0, vacuous=True), true_concept="red")
    assert v["coverage_text"].startswith("vacuous") and v["covers_truth"] is True


def test_units_for_concept_ranks_every_unit_by_that_concepts_score():
    S = np.array([[0.9, 0.2, 0.1], [0.3, 0.5, 0.4], [0.1, 0.1, 0.8], [0.2, 0.6, np.nan]])
    hits = reports.units_for_concept(S, ["a", "b", "c"], "b")
    assert hits["neuron"].tolist() == [3, 1, 0, 2]  # by b's score, ties by unit id
    assert hits["rank_in_unit"].tolist() == [1, 1, 2, 1 + 1]  # unit 2: c (0.8) beats b; b ties a at 0.1
    assert hits["best_concept"].tolist() == ["b", "b", "a", "c"]
    assert reports.units_for_concept(S, ["a", "b", "c"], "c", top=2)["neuron"].tolist() == [2, 1]
    with pytest.raises(KeyError):
        reports.units_for_concept(S, ["a", "b", "c"], "zzz")


def test_cor32_table_one_row_per_metric():
    from neurodash.analysis import ConceptScore, NeuronCard

    def cs(name, score, band, kind="table1"):
        return ConceptScore(name, 0, score, band, score - band / 2, score + band / 2, kind)

    card = NeuronCard(neuron=0, layer="l", n_images=10, top_ids=np.arange(2), top_acts=np.ones(2), top_maps=None,
                      hist_counts=np.ones(2), hist_edges=np.arange(3), top1_threshold=1.0, selectivity=2.0,
                      selective=False, ground_truth=None,
                      concepts={"iou": [cs("a", 0.5, 0.2), cs("b", 0.4, 0.2)], "recall": [cs("a", 0.9, 0.05),
                                cs("c", 0.7, 0.05)], "pearson": [cs("d", 0.3, 0.1, "empirical")]})
    t = reports.cor32_table(card, 50).set_index("metric")
    assert t.loc["iou", "reading"].startswith("inside the band") and math.isclose(t.loc["iou", "gap"], 0.1)
    assert t.loc["recall", "reading"].startswith("outside the band") and t.loc["recall", "runner-up"] == "c"
    assert t.loc["pearson", "reading"].startswith("no Table 1 rate") and np.isnan(t.loc["pearson", "band 2r"])
    assert "|C| = 50" in reports.cor32_table(card, 50).attrs["statement"]


def test_one_threshold_line_when_binarization_is_the_top_percent():
    from types import SimpleNamespace

    acts = np.arange(1000, dtype=float)
    card = SimpleNamespace(hist_edges=[0, 1], hist_counts=[1], top1_threshold=990.0)
    assert len(reports.card_histogram(card, acts, 0.01)["thresholds"]) == 1
    assert len(reports.card_histogram(card, acts, 0.2)["thresholds"]) == 2

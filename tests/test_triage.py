"""Automatic triage flags, their reasons and severity on hand-made evidence rows."""

import math

import pandas as pd

from neurodash.triage import (FLAGS, REASON_SEP, WEIGHTS, Thresholds, assess, flag_table, neuron_flags,
                              workspace_warnings)


def test_unknown_evidence_gives_none():
    assert neuron_flags() == {k: None for k in FLAGS}
    assert assess() == {"flags": {k: None for k in FLAGS}, "reasons": [], "severity": 0.0}


def test_each_flag_raised_and_cleared():
    th = Thresholds(min_stability=0.8, max_set_size=1, min_ar=0.5)
    bad = neuron_flags(set_size=2, stability=0.9, gap=0.01, band=0.05, selective=False, ar=0.2, th=th)
    assert all(bad.values()), bad
    good = neuron_flags(set_size=1, stability=0.95, gap=0.2, band=0.05, selective=True, ar=0.9, th=th)
    assert not any(good.values()), good
    assert "metric_fails_sanity" not in FLAGS  # a workspace-wide property is never a per-unit flag


def test_unstable_by_stability_alone_and_band_needs_both():
    f = neuron_flags(set_size=1, stability=0.5)
    assert f["unstable_be"] is True
    assert neuron_flags(gap=0.1)["band_overlap"] is None  # band unknown: cannot say
    assert neuron_flags(gap=0.1, band=0.1)["band_overlap"] is False  # equal gap is not an overlap
    assert neuron_flags(ar=float("nan"))["low_ar"] is None


def test_reasons_quote_the_evidence_and_severity_ranks():
    a = assess(ar=0.0, gap=0.0, band=0.1)
    assert a["reasons"][0] == "low AR: renders of the concept fire it 0.00 of the time (< 0.5)"
    assert a["reasons"][1] == "band overlaps the runner-up: gap 0.000 < band 2r 0.100"
    # both flags at full strength: 3 × 1 + 1 × 1
    assert a["severity"] == WEIGHTS["low_ar"] + WEIGHTS["band_overlap"] == 4.0
    # a flag just past its threshold counts half its weight
    assert math.isclose(assess(gap=0.0999999, band=0.1)["severity"], 0.5, abs_tol=1e-3)
    # a low AR outranks a band overlap; more flags rank higher
    assert assess(ar=0.4)["severity"] > assess(gap=0.0, band=0.1)["severity"]
    assert assess(ar=0.4, selective=False, selectivity=2.0)["severity"] > assess(ar=0.4)["severity"]
    r = assess(set_size=3, stability=0.4)["reasons"][0]
    assert "3 concepts" in r and "0.40" in r
    assert "P99/median 2 ≤ β 10" in assess(selective=False, selectivity=2.0)["reasons"][0]


def test_flag_table_labels_counts_severity():
    ev = pd.DataFrame({"set_size": [1, 3, None], "stability": [1.0, 0.4, None], "gap": [0.3, 0.0, 0.1],
                       "band": [0.1, 0.1, 0.2], "selective": [True, False, None]}, index=[5, 6, 7])
    t = flag_table(ev)
    assert list(t.index) == [5, 6, 7]
    assert t.loc[5, "n_flags"] == 0 and t.loc[5, "flags"] == "" and t.loc[5, "severity"] == 0
    assert t.loc[6, "n_flags"] == 3
    assert "unstable BE set" in t.loc[6, "flags"] and "not selective" in t.loc[6, "flags"]
    assert len(t.loc[6, "reasons"].split(REASON_SEP)) == 3
    assert t.loc[7, "band_overlap"] == True  # noqa: E712 (nullable boolean)
    assert pd.isna(t.loc[7, "unstable_be"]) and pd.isna(t.loc[7, "low_ar"])
    assert t.loc[6, "severity"] > t.loc[7, "severity"] > 0
    assert math.isclose(t["n_flags"].sum(), 4)


def test_workspace_warning_once_for_a_failing_metric():
    sanity = pd.DataFrame({"missing_labels": [0.5, 0.95], "extra_labels": [0.99, 0.97], "passed": [False, True]},
                          index=["iou", "recall"])
    assert workspace_warnings(sanity, "recall") == []
    (w,) = workspace_warnings(sanity, "iou")
    assert w.startswith("iou fails NeuronEval's sanity tests") and "0.50" in w
    assert workspace_warnings(None, "iou") == []

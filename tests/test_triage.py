"""Automatic triage flags on hand-made evidence rows."""

import math

import pandas as pd

from neurodash.triage import FLAGS, Thresholds, flag_table, neuron_flags


def test_unknown_evidence_gives_none():
    assert neuron_flags() == {k: None for k in FLAGS}


def test_each_flag_raised_and_cleared():
    th = Thresholds(min_stability=0.8, max_set_size=1, min_ar=0.5)
    bad = neuron_flags(set_size=2, stability=0.9, gap=0.01, band=0.05, selective=False, ar=0.2,
                       sanity_passed=False, th=th)
    assert all(bad.values()), bad
    good = neuron_flags(set_size=1, stability=0.95, gap=0.2, band=0.05, selective=True, ar=0.9,
                        sanity_passed=True, th=th)
    assert not any(good.values()), good


def test_unstable_by_stability_alone_and_band_needs_both():
    f = neuron_flags(set_size=1, stability=0.5)
    assert f["unstable_be"] is True
    assert neuron_flags(gap=0.1)["band_overlap"] is None  # band unknown: cannot say
    assert neuron_flags(gap=0.1, band=0.1)["band_overlap"] is False  # equal gap is not an overlap
    assert neuron_flags(ar=float("nan"))["low_ar"] is None


def test_flag_table_labels_and_counts():
    ev = pd.DataFrame({"set_size": [1, 3, None], "stability": [1.0, 0.4, None], "gap": [0.3, 0.0, 0.1],
                       "band": [0.1, 0.1, 0.2], "selective": [True, False, None]}, index=[5, 6, 7])
    t = flag_table(ev)
    assert list(t.index) == [5, 6, 7]
    assert t.loc[5, "n_flags"] == 0 and t.loc[5, "flags"] == ""
    assert t.loc[6, "n_flags"] == 3
    assert "unstable BE set" in t.loc[6, "flags"] and "not selective" in t.loc[6, "flags"]
    assert t.loc[7, "band_overlap"] == True  # noqa: E712 (nullable boolean)
    assert pd.isna(t.loc[7, "unstable_be"]) and pd.isna(t.loc[7, "low_ar"])
    assert math.isclose(t["n_flags"].sum(), 4)

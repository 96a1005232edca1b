"""NeuronEval sanity tests on a small built workspace."""

import pandas as pd

from neurodash import analysis


def test_sanity_report_cached(built):
    ws, _, _ = built
    sr = analysis.sanity_report(ws, metrics=["iou", "recall"])
    assert list(sr.index) == ["iou", "recall"] and {"missing_labels", "extra_labels", "passed"} <= set(sr.columns)
    pd.testing.assert_frame_equal(analysis.sanity_report(ws, metrics=["iou", "recall"]), sr, check_names=False)

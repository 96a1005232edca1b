"""neurodash.reports.verify: a one-concept result judged again once the layer's keep-threshold is known."""

import math

from neurodash import reports
from neurodash.sieve import VerifyResult


def _result(ar):
    return VerifyResult(neuron=1, concept="red circle", generator="world", m=10, seed=0, hits=int(ar * 10), ar=ar,
                        interval=(0.1, 0.9), control="blue star", control_hits=0, control_ar=0.0,
                        control_interval=(0.0, 0.3), threshold=0.5, threshold_source="given", passed=ar >= 0.5,
                        p_vs_control=0.01, activation_threshold=1.0, activations=[0.0] * 10)


def test_judge_against_the_mean_ar():
    (r,) = reports.judge([_result(0.4)], 0.3, "mean AR of 7 SIEVE hypotheses on this layer")
    assert r.passed and r.verdict == "verified" and r.threshold == 0.3 and "mean AR" in r.threshold_source
    (r,) = reports.judge([_result(0.4)], 0.5, "fixed 0.5")
    assert not r.passed


def test_keep_threshold_from_a_run():
    t, source = reports.keep_threshold({"mean_ar": 0.25, "hypotheses": [{}] * 4}, 0.5)
    assert t == 0.25 and source == "mean AR of 4 SIEVE hypotheses on this layer"
    t, source = reports.keep_threshold({"mean_ar": math.nan, "hypotheses": []}, 0.5)
    assert t == 0.5 and "no SIEVE hypotheses" in source

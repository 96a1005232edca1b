"""neurodash.ui.vega: the Neuron page's Vega-Lite specs carry the data drawn (bins, thresholds, bands,
BE wins) in the order and colours the page promises."""

import pandas as pd

from neurodash.ui import vega
from neurodash.ui.colors import OTHER_COLOR, SET_COLOR, TRUE_COLOR


def test_activation_histogram_bins_thresholds_and_log_axis():
    hist = {"edges": [0.0, 1.0, 2.0, 3.0], "counts": [900, 0, 7], "thresholds": {"binarized": 1.5, "top 1%": 2.5}}
    spec = vega.activation_histogram(hist)
    bars, rules = spec["layer"]
    assert bars["data"]["values"] == [{"lo": 0.0, "hi": 1.0, "count": 900}, {"lo": 2.0, "hi": 3.0, "count": 7}]
    assert bars["encoding"]["y"]["scale"]["type"] == "log" and bars["encoding"]["y2"]["datum"] < 1  # bars of 1 show
    assert bars["encoding"]["y"]["axis"]["values"] == [1, 10, 100, 1000]
    assert rules["data"]["values"] == [{"threshold": "binarized: 1.5", "value": 1.5},
                                       {"threshold": "top 1%: 2.5", "value": 2.5}]
    assert rules["encoding"]["color"]["scale"]["domain"] == ["binarized: 1.5", "top 1%: 2.5"]  # in the legend


def test_histogram_without_thresholds_is_bars_only():
    spec = vega.activation_histogram({"edges": [0.0, 1.0], "counts": [3]})
    assert len(spec["layer"]) == 1


def _rows(metrics):
    out = []
    for m in metrics:
        for i, c in enumerate(["c", "a", "b"]):  # best first, not alphabetical
            out.append({"metric": m, "concept": f"{m}-{c}", "score": 0.9 - 0.3 * i, "lo": 0.8 - 0.3 * i,
                        "hi": float("nan") if i == 2 else 1.0 - 0.3 * i, "band_kind": "Table 1 bound"})
    return pd.DataFrame(out)


def test_concept_scores_one_metric_keeps_rank_order_and_marks_the_chosen():
    spec = vega.concept_scores(_rows(["iou"]))
    assert spec["title"] == {"text": "Top concepts per metric", "subtitle": "iou (Table 1 bound)"}
    assert spec["width"] == "container"
    bars, band = spec["layer"]
    rows = bars["data"]["values"]
    assert [r["concept"] for r in rows] == ["iou-c", "iou-a", "iou-b"]
    assert bars["encoding"]["x"]["sort"] == ["iou-c", "iou-a", "iou-b"] == band["encoding"]["x"]["sort"]
    assert [r["role"] for r in rows] == ["chosen", "other", "other"]
    assert bars["encoding"]["color"]["scale"]["range"] == [SET_COLOR, OTHER_COLOR]
    assert rows[2]["hi"] is None  # NaN is not JSON: no band end is drawn
    assert (band["encoding"]["y"]["field"], band["encoding"]["y2"]["field"]) == ("lo", "hi")


def test_concept_scores_several_metrics_are_panels():
    spec = vega.concept_scores(_rows(["iou", "recall"]))
    assert [p["title"] for p in spec["hconcat"]] == ["iou (Table 1 bound)", "recall (Table 1 bound)"]
    assert [r["concept"] for r in spec["hconcat"][1]["layer"][0]["data"]["values"]] == ["recall-c", "recall-a",
                                                                                          "recall-b"]


def test_be_histogram_labels_shares_sorts_and_outlines_the_truth():
    counts = pd.DataFrame({"concept": ["a", "b", "c"], "count": [10, 90, 0], "in_set": [False, True, False],
                           "is_true": [True, False, False]})
    spec = vega.be_histogram(counts, "t")
    bars, text = spec["layer"]
    rows = bars["data"]["values"]
    assert [r["concept"] for r in rows] == ["b", "a", "c"] == bars["encoding"]["y"]["sort"]  # most wins on top
    assert [r["label"] for r in rows] == ["90 (90%)", "10 (10%)", "0 (0%)"]
    assert [r["set"] for r in rows] == ["in the set", "not in the set", "not in the set"]
    assert [r["truth"] for r in rows] == [False, True, False]
    assert bars["encoding"]["stroke"]["condition"] == {"test": "datum.truth", "value": TRUE_COLOR}
    assert text["encoding"]["text"]["field"] == "label"


def test_float32_nan_is_null_not_json_nan():
    import json

    spec = vega.concept_scores(_rows(["iou"]).astype({"hi": "float32", "score": "float32"}))
    rows = spec["layer"][0]["data"]["values"]
    assert rows[2]["hi"] is None and isinstance(rows[0]["score"], float)
    json.dumps(spec, allow_nan=False)  # what the browser parses must be strict JSON

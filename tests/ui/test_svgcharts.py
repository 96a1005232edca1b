"""neurodash.ui.svgcharts: the Neuron page's static SVG charts carry and draw the data (bins, thresholds,
bands, BE wins) in the order and colours the page promises, as well-formed SVG."""

import math
import xml.etree.ElementTree as ET

import pandas as pd

from neurodash.ui import svgcharts
from neurodash.ui.colors import OTHER_COLOR, SET_COLOR, TRUE_COLOR
from neurodash.ui.svgplot import Linear, Log, nice_ticks, wrap
from tests.helpers import chart_title, concept_panels, marks


def _parse(svg: str):
    assert svg.startswith("<svg") and 'xmlns="http://www.w3.org/2000/svg"' in svg  # st.image needs both
    return ET.fromstring(svg)


def test_activation_histogram_bins_thresholds_and_log_axis():
    hist = {"edges": [0.0, 1.0, 2.0, 3.0], "counts": [900, 0, 7], "thresholds": {"binarized": 1.5, "top 1%": 2.5}}
    svg = _parse(svgcharts.activation_histogram(hist))
    assert chart_title(svg) == "Activation histogram"
    bars = marks(svg)
    assert [(b["lo"], b["hi"], b["count"]) for b in bars] == [("0", "1", "900"), ("2", "3", "7")]  # no empty bar
    heights = [float(el.get("height")) for el in svg.iter() if el.get("class") == "bar"]
    assert heights[0] > heights[1] > 0  # a log axis: 7 images still show, below 900
    assert heights[0] / heights[1] < 900 / 7
    assert [(t["label"], t["value"]) for t in marks(svg, "threshold")] == [("binarized", "1.5"), ("top 1%", "2.5")]
    texts = [el.text for el in svg.iter() if el.text]
    assert "binarized: 1.5" in texts and "top 1%: 2.5" in texts  # named with their values in the legend
    assert {"1", "10", "100", "1,000"} <= set(texts)  # decade ticks past the top


def test_histogram_without_thresholds_is_bars_only():
    svg = _parse(svgcharts.activation_histogram({"edges": [0.0, 1.0], "counts": [3]}))
    assert len(marks(svg)) == 1 and not marks(svg, "threshold")


def _rows(metrics):
    out = []
    for m in metrics:
        for i, c in enumerate(["c", "a", "b"]):  # best first, not alphabetical
            out.append({"metric": m, "concept": f"{m}-{c}", "score": 0.9 - 0.3 * i, "lo": 0.8 - 0.3 * i,
                        "hi": float("nan") if i == 2 else 1.0 - 0.3 * i, "band_kind": "Table 1 bound"})
    return pd.DataFrame(out)


def test_concept_scores_one_metric_keeps_rank_order_and_marks_the_chosen():
    svg = _parse(svgcharts.concept_scores(_rows(["iou"])))
    assert chart_title(svg) == "Top concepts per metric"
    (title, bars), = concept_panels(svg).items()
    assert title == "iou (Table 1 bound)"
    assert [b["concept"] for b in bars] == ["iou-c", "iou-a", "iou-b"]
    assert [b["role"] for b in bars] == ["chosen", "other", "other"]
    fills = [el.get("fill") for el in svg.iter() if el.get("class") == "bar"]
    assert fills == [SET_COLOR, OTHER_COLOR, OTHER_COLOR]
    assert bars[2]["hi"] == "nan" and len([el for el in svg.iter() if el.get("class") == "band"]) == 2  # no band end
    texts = [el.text for el in svg.iter() if el.text]
    assert "0.900" in texts and "0.600" in texts  # each bar's score is printed (no tooltip needed)
    tops = [float(el.get("y")) for el in svg.iter() if el.get("class") == "bar"]
    assert tops[0] < tops[1] < tops[2]  # a higher score reaches higher (smaller y)


def test_concept_scores_several_metrics_are_panels_in_rows():
    svg = _parse(svgcharts.concept_scores(_rows(["iou", "recall", "auroc", "pearson"])))
    panels = concept_panels(svg)
    assert list(panels) == [f"{m} (Table 1 bound)" for m in ("iou", "recall", "auroc", "pearson")]
    assert [b["concept"] for b in panels["recall (Table 1 bound)"]] == ["recall-c", "recall-a", "recall-b"]
    assert float(svg.get("width")) == svgcharts.WIDTH  # three panels a row: the drawing keeps the column's width
    one_row = _parse(svgcharts.concept_scores(_rows(["iou", "recall"])))
    assert float(svg.get("height")) > float(one_row.get("height"))


def test_negative_and_missing_scores():
    rows = pd.DataFrame({"metric": ["pearson"] * 3, "concept": ["a", "b", "c"], "score": [0.4, -0.2, math.nan],
                         "lo": [0.3, -0.3, math.nan], "hi": [0.5, -0.1, math.nan], "band_kind": ["empirical"] * 3})
    svg = _parse(svgcharts.concept_scores(rows))
    rects = [el for el in svg.iter() if el.get("class") == "bar"]
    assert float(rects[2].get("height")) == 0  # no score, no bar: its data is still there
    assert "n/a" in [el.text for el in svg.iter()]
    zero_axis = float(rects[0].get("y")) + float(rects[0].get("height"))
    assert abs(float(rects[1].get("y")) - zero_axis) < 0.01  # a negative bar hangs below the zero line


def test_be_histogram_labels_shares_sorts_and_outlines_the_truth():
    counts = pd.DataFrame({"concept": ["a", "b", "c"], "count": [10, 90, 0], "in_set": [False, True, False],
                           "is_true": [True, False, False]})
    svg = _parse(svgcharts.be_histogram(counts, "t"))
    bars = marks(svg)
    assert [b["concept"] for b in bars] == ["b", "a", "c"]  # most wins on top
    assert [b["label"] for b in bars] == ["90 (90%)", "10 (10%)", "0 (0%)"]
    assert [b["set"] for b in bars] == ["in the set", "not in the set", "not in the set"]
    rects = [el for el in svg.iter() if el.get("class") == "bar"]
    assert [r.get("fill") for r in rects] == [SET_COLOR, OTHER_COLOR, OTHER_COLOR]
    assert [r.get("stroke") for r in rects] == [None, TRUE_COLOR, None]
    assert "90 (90%)" in [el.text for el in svg.iter()]


def test_scales_ticks_and_wrapping():
    assert nice_ticks(0, 1, 5) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(-0.13, 0.87, 5) == [-0.0, 0.2, 0.4, 0.6, 0.8]  # round values inside the range
    assert nice_ticks(3, 1234, 6) == [200, 400, 600, 800, 1000, 1200]  # the step nearest range/count
    assert nice_ticks(0, 2.8, 8) == [0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert nice_ticks(2, 2) == [2]
    assert Linear((0, 10), (100, 0))(2.5) == 75
    assert abs(Log((1, 100), (0, 10))(10) - 5) < 1e-9
    assert wrap("checkered yellow triangle", 12) == ["checkered", "yellow tria…"]  # two lines, the last clipped
    assert wrap("striped orange circle", 30) == ["striped orange circle"]

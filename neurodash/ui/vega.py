"""Vega-Lite specs of the Neuron page's charts (activation histogram, concept scores, BE winners).

Why not Plotly here: the Neuron page is what a shared link opens, and Plotly's 4.7 MB browser bundle
is about a second of that cold open; Streamlit's Vega-Lite chart loads a fraction of it. The specs
are plain dicts built from plain data (neurodash.reports); no statistics here. Every layer carries
its own inline data (`data.values`): Streamlit would move top-level data to Arrow, and inline values
keep the spec readable in tests. Concept names are data values: Vega draws them as text on a canvas
and its tooltips escape HTML, so they are never read as markup.
"""

from __future__ import annotations

import math

import pandas as pd

from neurodash.ui.colors import OTHER_COLOR, SET_COLOR, TRUE_COLOR

THRESHOLD_COLORS = [SET_COLOR, "#1f77b4", "#ff7f0e"]
THRESHOLD_DASHES = [[6, 4], [2, 3], [8, 3, 2, 3]]
PANEL_WIDTH = 300  # one panel per metric when several are compared (concat charts cannot stretch)


def _values(df: pd.DataFrame) -> list[dict]:
    """JSON-ready rows: NaN becomes null (JSON has no NaN), numpy scalars become Python ones."""
    def plain(v):
        v = v.item() if hasattr(v, "item") else v
        return None if isinstance(v, float) and math.isnan(v) else v

    return [{k: plain(v) for k, v in row.items()} for row in df.to_dict("records")]


def _with_data(data: dict, layers: list[dict]) -> list[dict]:
    """The layers, each carrying the data itself (see the module's note on inline data)."""
    return [{"data": data, **layer} for layer in layers]


def activation_histogram(hist: dict, title: str = "Activation histogram") -> dict:
    """Bars of the activation histogram (log count axis: the top images' tail stays visible; empty bins
    have no bar) with a vertical rule per named threshold, each in the legend as "label: value".

    hist: {"edges": [...], "counts": [...], "thresholds": {label: value}}.
    """
    edges, counts = hist["edges"], hist["counts"]
    bins = [{"lo": float(a), "hi": float(b), "count": int(c)}
            for a, b, c in zip(edges[:-1], edges[1:], counts) if c > 0]
    rules = [{"threshold": f"{label}: {value:.3g}", "value": float(value)}
             for label, value in hist.get("thresholds", {}).items()]
    names = [r["threshold"] for r in rules]
    ticks = [10 ** p for p in range(len(str(max(counts, default=1))) + 1)]  # 1, 10, 100, … past the top
    bars = {
        "data": {"values": bins},
        "mark": {"type": "bar", "color": OTHER_COLOR, "binSpacing": 0},
        "encoding": {
            "x": {"field": "lo", "type": "quantitative", "title": "activation", "bin": {"binned": True}},
            "x2": {"field": "hi"},
            "y": {"field": "count", "type": "quantitative", "title": "images (log)", "scale": {"type": "log"},
                  "axis": {"values": ticks, "format": ",d", "grid": True}},
            "y2": {"datum": 0.7},  # the bars' foot on the log axis, below a count of 1
            "tooltip": [{"field": "lo", "title": "from", "format": ".3g"},
                        {"field": "hi", "title": "to", "format": ".3g"}, {"field": "count", "title": "images"}],
        },
    }
    layers = [bars]
    if rules:
        layers.append({
            "data": {"values": rules},
            "mark": {"type": "rule", "strokeWidth": 2},
            "encoding": {
                "x": {"field": "value", "type": "quantitative"},
                "color": {"field": "threshold", "type": "nominal", "title": None,
                          "scale": {"domain": names, "range": THRESHOLD_COLORS[: len(names)]},
                          "legend": {"orient": "top", "labelLimit": 400}},
                "strokeDash": {"field": "threshold", "type": "nominal", "legend": None,
                               "scale": {"domain": names, "range": THRESHOLD_DASHES[: len(names)]}},
                "tooltip": [{"field": "threshold", "title": "threshold"}],
            },
        })
    return {"title": title, "height": 260, "layer": layers}


def _concept_panel(sub: pd.DataFrame, title: str, width) -> dict:
    sub = sub.assign(rank=range(1, len(sub) + 1), role=["chosen"] + ["other"] * (len(sub) - 1))
    data = {"values": _values(sub[["concept", "score", "lo", "hi", "band_kind", "rank", "role"]])}
    # an explicit order: layers whose sorts are fields would have their union sorted alphabetically
    x = {"field": "concept", "type": "nominal", "title": None, "sort": [str(c) for c in sub["concept"]],
         "axis": {"labelAngle": -35, "labelLimit": 160, "labelOverlap": False}}
    tooltip = [{"field": "rank"}, {"field": "concept"}, {"field": "score", "format": ".3f"},
               {"field": "lo", "format": ".3f"}, {"field": "hi", "format": ".3f"}, {"field": "band_kind", "title": "band"}]
    return {
        "title": title, "width": width, "height": 260,
        "layer": _with_data(data, [
            {"mark": {"type": "bar"},
             "encoding": {"x": x, "y": {"field": "score", "type": "quantitative", "title": "score"},
                          "color": {"field": "role", "type": "nominal", "legend": None,
                                    "scale": {"domain": ["chosen", "other"], "range": [SET_COLOR, OTHER_COLOR]}},
                          "tooltip": tooltip}},
            {"mark": {"type": "rule", "color": "#333333", "strokeWidth": 1.5},
             "encoding": {"x": x, "y": {"field": "lo", "type": "quantitative"}, "y2": {"field": "hi"},
                          "tooltip": tooltip}},
        ]),
    }


def concept_scores(rows: pd.DataFrame, title: str = "Top concepts per metric") -> dict:
    """One panel per metric: the top concepts' scores (the chosen one in red) with their interval
    [lo, hi] as an error rule; the panel title names the band's kind.

    rows columns: metric, concept, score, lo, hi, band_kind.
    """
    metrics = list(dict.fromkeys(rows["metric"]))
    panels = []
    for metric in metrics:
        sub = rows[rows["metric"] == metric]
        kinds = ", ".join(sorted(set(sub["band_kind"].astype(str))))
        panels.append(_concept_panel(sub, f"{metric} ({kinds})", "container" if len(metrics) == 1 else PANEL_WIDTH))
    if len(panels) == 1:
        return {**panels[0], "title": {"text": title, "subtitle": panels[0]["title"]}}
    return {"title": title, "hconcat": panels, "resolve": {"scale": {"color": "shared"}}}


def be_histogram(counts: pd.DataFrame, title: str) -> dict:
    """Bootstrap winner counts per concept, most wins on top; prediction-set members in red, the
    ground-truth concept outlined in green; each bar labelled with its share of the resamples.

    counts columns: concept, count, in_set (bool), is_true (bool).
    """
    counts = counts.sort_values("count", ascending=False, kind="stable")
    total = max(int(counts["count"].sum()), 1)
    values = [{"concept": str(r.concept), "count": int(r.count), "label": f"{int(r.count)} ({r.count / total:.0%})",
               "set": "in the set" if r.in_set else "not in the set", "truth": bool(r.is_true)}
              for r in counts.itertuples()]
    top = int(counts["count"].max()) if len(counts) else 0
    y = {"field": "concept", "type": "nominal", "title": None, "sort": [v["concept"] for v in values],
         "axis": {"labelLimit": 220}}
    x = {"field": "count", "type": "quantitative", "title": "bootstrap wins",
         "scale": {"domain": [0, top * 1.25 + 1]}}
    tooltip = [{"field": "concept"}, {"field": "count", "title": "wins"}, {"field": "set", "title": "BE set"},
               {"field": "truth", "title": "ground truth"}]
    return {
        "title": title, "height": {"step": 26},
        "layer": _with_data({"values": values}, [
            {"mark": {"type": "bar", "strokeWidth": 3},
             "encoding": {"y": y, "x": x, "tooltip": tooltip,
                          "color": {"field": "set", "type": "nominal", "title": None, "legend": {"orient": "bottom"},
                                    "scale": {"domain": ["in the set", "not in the set"],
                                              "range": [SET_COLOR, OTHER_COLOR]}},
                          "stroke": {"condition": {"test": "datum.truth", "value": TRUE_COLOR}, "value": None}}},
            {"mark": {"type": "text", "align": "left", "dx": 4},
             "encoding": {"y": y, "x": x, "text": {"field": "label"}}},
        ]),
    }

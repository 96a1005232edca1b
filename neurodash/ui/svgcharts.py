"""The Neuron page's charts as static SVG: activation histogram, concept scores with bands, BE winners.

Drawn with neurodash.ui.svgplot (why SVG and not Vega-Lite: see there). What a tooltip used to say
is printed on the chart: each concept bar carries its score, each BE bar its wins and share; the full
numbers are in the Cor. 3.2 tables below the chart. Built from plain data (neurodash.reports); no
statistics here.
"""

from __future__ import annotations

import math

import pandas as pd

from neurodash.ui.colors import OTHER_COLOR, SET_COLOR, TRUE_COLOR
from neurodash.ui.svgplot import INK, Linear, Log, Svg, clip, nice_ticks, number, wrap, x_axis, y_axis

THRESHOLD_COLORS = [SET_COLOR, "#1f77b4", "#ff7f0e"]
THRESHOLD_DASHES = [[6, 4], [2, 3], [8, 3, 2, 3]]
WIDTH = 900  # the main column's width at a wide layout; st.image scales the drawing to the column
PANELS_PER_ROW = 3  # one panel per metric when several are compared
LOG_FOOT = 0.7  # the bars' foot on the log count axis, below a count of 1 (a bar of 1 image shows)


def _float(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def activation_histogram(hist: dict, title: str = "Activation histogram") -> str:
    """Bars of the activation histogram (log count axis: the top images' tail stays visible; empty bins
    have no bar) with a vertical rule per named threshold, named with its value in the legend above.

    hist: {"edges": [...], "counts": [...], "thresholds": {label: value}}.
    """
    edges = [float(e) for e in hist["edges"]]
    counts = [int(c) for c in hist["counts"]]
    rules = [(str(label), float(value)) for label, value in hist.get("thresholds", {}).items()]
    left, right, top, bottom = 62, 16, 58, 48
    svg = Svg(WIDTH, 310, title)
    lo = min([edges[0]] + [v for _, v in rules if math.isfinite(v)])
    hi = max([edges[-1]] + [v for _, v in rules if math.isfinite(v)])
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    x = Linear((lo, hi), (left, WIDTH - right))
    peak = max(counts, default=1)
    y_ticks = [10 ** p for p in range(len(str(max(peak, 1))) + 1)]  # 1, 10, 100, … past the top
    y = Log((LOG_FOOT, y_ticks[-1]), (svg.height - bottom, top))
    svg.text(left, 20, title, size=15, weight="bold")
    y_axis(svg, y, y_ticks, left, WIDTH - right, "images (log)", labels=[f"{t:,}" for t in y_ticks])
    for a, b, c in zip(edges[:-1], edges[1:], counts):
        if c > 0:
            svg.rect(x(a), y(c), x(b) - x(a), y(LOG_FOOT) - y(c), OTHER_COLOR, class_="bar", data_lo=f"{a:.6g}",
                     data_hi=f"{b:.6g}", data_count=c)
    x_axis(svg, x, nice_ticks(lo, hi, 8), svg.height - bottom, "activation", (left + WIDTH - right) / 2)
    legend_x = left
    for i, (label, value) in enumerate(rules):
        colour, dash = THRESHOLD_COLORS[i % 3], THRESHOLD_DASHES[i % 3]
        name = f"{label}: {number(value)}"
        if math.isfinite(value):
            svg.line(x(value), top - 4, x(value), svg.height - bottom, stroke=colour, width=2, dash=dash,
                     class_="threshold", data_label=label, data_value=f"{value:.6g}")
        svg.line(legend_x, 40, legend_x + 26, 40, stroke=colour, width=2, dash=dash)
        svg.text(legend_x + 32, 44, name, size=12)
        legend_x += 44 + 7 * len(name)
    return svg.render()


def _panel(svg: Svg, sub: pd.DataFrame, title: str, x0: float, width: float, plot_top: float, plot_bottom: float,
           flat_labels: bool) -> None:
    scores = [_float(v) for v in sub["score"]]
    los, his = [_float(v) for v in sub["lo"]], [_float(v) for v in sub["hi"]]
    seen = [v for v in scores + los + his if math.isfinite(v)]
    d_lo, d_hi = min(seen + [0.0]), max(seen + [0.0])
    if d_hi - d_lo < 1e-9:
        d_hi = d_lo + 1.0
    y = Linear((d_lo, d_hi + 0.06 * (d_hi - d_lo)), (plot_bottom, plot_top))  # headroom for the value labels
    left, right = x0 + 60, x0 + width - 8
    svg.open(class_="panel", data_title=title)
    svg.text(x0 + 4, plot_top - 24, title, size=13, weight="bold")
    y_axis(svg, y, nice_ticks(d_lo, d_hi, 5), left, right, "score")
    slot = (right - left) / max(len(sub), 1)
    bar_w = min(slot * 0.62, 90)
    zero = y(0.0)
    svg.line(left, zero, right, zero, stroke=INK)
    for i, (concept, s, lo, hi) in enumerate(zip(sub["concept"], scores, los, his)):
        cx = left + slot * (i + 0.5)
        attrs = dict(class_="bar", data_concept=str(concept), data_score=f"{s:.6g}", data_lo=f"{lo:.6g}",
                     data_hi=f"{hi:.6g}", data_role="chosen" if i == 0 else "other", data_rank=i + 1)
        if math.isfinite(s):
            svg.rect(cx - bar_w / 2, min(y(s), zero), bar_w, abs(zero - y(s)), SET_COLOR if i == 0 else OTHER_COLOR,
                     **attrs)
        else:
            svg.rect(cx, zero, 0, 0, "none", **attrs)  # its data, nothing drawn
        if math.isfinite(lo) and math.isfinite(hi):
            svg.line(cx, y(lo), cx, y(hi), stroke="#333333", width=1.5, class_="band")
            for end in (lo, hi):
                svg.line(cx - 4, y(end), cx + 4, y(end), stroke="#333333", width=1.5)
        label_at = min(y(v) for v in (s, hi, 0.0) if math.isfinite(v))
        svg.text(cx, label_at - 5, "n/a" if not math.isfinite(s) else f"{s:.3f}", size=11, anchor="middle")
        if flat_labels:  # wide slots: the name under its bar, on up to two lines
            for k, line in enumerate(wrap(concept, int(slot / 6.5))):
                svg.text(cx, plot_bottom + 18 + 14 * k, line, size=12, anchor="middle")
        else:
            svg.text(cx + 4, plot_bottom + 14, clip(concept, 24), size=11, anchor="end", rotate=-40)
    svg.close()


def concept_scores(rows: pd.DataFrame, title: str = "Top concepts per metric") -> str:
    """One panel per metric: the top concepts' scores (the chosen one in red, its value on the bar)
    with their interval [lo, hi] as an error bar; the panel title names the band's kind.

    rows columns: metric, concept, score, lo, hi, band_kind.
    """
    metrics = list(dict.fromkeys(rows["metric"]))
    per_row = min(max(len(metrics), 1), PANELS_PER_ROW)  # rows of panels: the drawing keeps the column's width
    panel_w = WIDTH / per_row
    most = max((int((rows["metric"] == m).sum()) for m in metrics), default=1)
    flat = (panel_w - 68) / max(most, 1) >= 100  # room for names under the bars; else they are slanted
    row_h = 290 if flat else 360
    # the title is the document's <title> only: the page's subheader above the chart already says it
    svg = Svg(WIDTH, 12 + row_h * max(-(-len(metrics) // per_row), 1), title)
    for i, metric in enumerate(metrics):
        sub = rows[rows["metric"] == metric]
        kinds = ", ".join(sorted(set(sub["band_kind"].astype(str))))
        top = 12 + row_h * (i // per_row)
        _panel(svg, sub, f"{metric} ({kinds})", (i % per_row) * panel_w, panel_w, top + 38, top + 240, flat)
    return svg.render()


def be_histogram(counts: pd.DataFrame, title: str) -> str:
    """Bootstrap winner counts per concept, most wins on top; prediction-set members in red, the
    ground-truth concept outlined in green; each bar labelled with its wins and share of the resamples.

    counts columns: concept, count, in_set (bool), is_true (bool).
    """
    counts = counts.sort_values("count", ascending=False, kind="stable")
    total = max(int(counts["count"].sum()), 1)
    top = int(counts["count"].max()) if len(counts) else 0
    row, label_w, width = 26, 190, 560
    svg = Svg(width, 40 + row * max(len(counts), 1) + 40, title)
    svg.text(4, 20, title, size=14, weight="bold")
    x = Linear((0, top * 1.25 + 1), (label_w, width - 10))
    for i, r in enumerate(counts.itertuples()):
        y0 = 32 + i * row
        wins = int(r.count)
        label = f"{wins} ({wins / total:.0%})"
        svg.text(label_w - 6, y0 + row / 2 + 4, clip(r.concept, 30), size=12, anchor="end")
        svg.rect(label_w, y0 + 3, x(wins) - label_w, row - 6, SET_COLOR if r.in_set else OTHER_COLOR,
                 stroke=TRUE_COLOR if r.is_true else None, stroke_width=3 if r.is_true else None, class_="bar",
                 data_concept=str(r.concept), data_count=wins, data_label=label,
                 data_set="in the set" if r.in_set else "not in the set", data_truth=str(bool(r.is_true)).lower())
        svg.text(x(wins) + 4, y0 + row / 2 + 4, label, size=11)
    y_leg = svg.height - 14
    for j, (name, fill, stroke) in enumerate((("in the set", SET_COLOR, None), ("not in the set", OTHER_COLOR, None),
                                             ("ground truth (outline)", "none", TRUE_COLOR))):
        lx = label_w + j * 120
        svg.rect(lx, y_leg - 10, 12, 12, fill, stroke=stroke, stroke_width=2 if stroke else None)
        svg.text(lx + 16, y_leg, name, size=11)
    return svg.render()

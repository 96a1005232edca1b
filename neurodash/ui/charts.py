"""Plotly figures of the Layer, Planner and Coverage pages. Input is plain data from neurodash.reports; no
statistics here. The Neuron page draws static SVG instead (neurodash.ui.svgcharts: a shared link opens it cold)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from neurodash.ui.colors import SET_COLOR, TRUE_COLOR

_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), height=320, template="plotly_white")


def plot_text(values) -> list[str]:
    """User text (concept names) for Plotly labels: Plotly reads a subset of HTML in text (<a href>,
    <b>, <br>, ...), so & < > become entities, which Plotly shows as the characters themselves."""
    return [str(v).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") for v in values]


def layer_scatter(df: pd.DataFrame, x: str, y: str, color: str | None, title: str) -> go.Figure:
    """One point per neuron; customdata carries the neuron id so a click can open it."""
    marker = dict(size=8)
    if color and color in df and df[color].notna().any():
        marker.update(color=df[color], colorscale="Viridis", showscale=True, colorbar=dict(title=color))
    text = plot_text(df["best_concept"]) if "best_concept" in df else None
    fig = go.Figure(go.Scatter(
        x=df[x], y=df[y], mode="markers", marker=marker, text=text, customdata=df["neuron"],
        hovertemplate="neuron %{customdata}<br>%{text}<br>" + x + " %{x:.3g}<br>" + y + " %{y:.3g}<extra></extra>",
    ))
    fig.update_layout(title=title, xaxis_title=x, yaxis_title=y, **_LAYOUT)
    return fig


_DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]


def planner_curves(curves: pd.DataFrame, target: float, needed: pd.DataFrame, current_n: int | None = None) -> go.Figure:
    """Band 2r(δ/|C|) against probe size per metric (log-log), the target as a horizontal line, the
    workspace's probe size as a vertical one. Curves that coincide stay visible by dash and width."""
    fig = go.Figure()
    for i, (metric, sub) in enumerate(curves.groupby("metric", sort=False)):
        fig.add_trace(go.Scatter(x=sub["n"], y=sub["band"], mode="lines", name=metric,
                                 line=dict(dash=_DASHES[i % len(_DASHES)], width=4 - 0.5 * (i % 4))))
    fig.add_hline(y=target, line_dash="dot", line_color="#555555", annotation_text=f"target {target:g}")
    if current_n:  # a trace, not add_vline: shapes on a log axis take log10 coordinates
        lo, hi = float(curves["band"].min()), float(curves["band"].max())
        fig.add_trace(go.Scatter(x=[current_n, current_n], y=[lo, hi], mode="lines+text", name=f"this workspace (n = {current_n})",
                                 line=dict(color="black", width=1.5), text=["", f"n = {current_n}"],
                                 textposition="top right", hovertemplate=f"this workspace: n = {current_n}<extra></extra>"))
    for _, row in needed.dropna(subset=["probe_size"]).iterrows():
        fig.add_trace(go.Scatter(x=[row["probe_size"]], y=[row["band_at_size"]], mode="markers",
                                 marker=dict(size=9, symbol="x", color="black"), showlegend=False,
                                 hovertemplate=f"{row['metric']}: n=%{{x}}<extra></extra>"))
    fig.update_layout(title="Band 2r(δ/|C|) vs probe size", xaxis_title="probe size n", yaxis_title="band",
                      xaxis_type="log", yaxis_type="log", **{**_LAYOUT, "height": 420})
    return fig


def coverage_by_size(rows) -> go.Figure:
    """Observed coverage and the mean claimed bound against the probe size (log x); rows: the
    study's per-size records (neurodash.coverage)."""
    rows = pd.DataFrame(rows)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=rows["n"], y=rows["observed"], mode="lines+markers", name="observed: set holds "
                             "the fresh-probe best concept", line_color=TRUE_COLOR))
    fig.add_trace(go.Scatter(x=rows["n"], y=rows["claimed"], mode="lines+markers", name="claimed by Thm 4.1 "
                             "(mean bound)", line_color="#1f77b4"))
    fig.add_trace(go.Scatter(x=rows["n"], y=rows["non_vacuous_share"], mode="lines+markers", name="share of units "
                             "with a non-vacuous bound", line=dict(color="#7f7f7f", dash="dot")))
    fig.update_layout(title="Coverage across probe sizes", xaxis_type="log", xaxis_title="probe size n",
                      yaxis_range=[0, 1.05], yaxis_title="share of units", **_LAYOUT)
    return fig


def coverage_bars(summary: pd.DataFrame, be: pd.DataFrame | None = None) -> go.Figure:
    """Left: observed share of units whose BE set holds the true concept vs the bound's claim. Right
    (with the per-unit table `be`): units by BE set size, stacked by whether their set holds the truth,
    so one sees what a set's size buys."""
    two = be is not None
    fig = make_subplots(rows=1, cols=2 if two else 1, column_widths=[0.35, 0.65] if two else None,
                        subplot_titles=["share of units over the layer", "units by BE set size"] if two else None)
    fig.add_trace(go.Bar(x=summary["what"], y=summary["value"], marker_color=[TRUE_COLOR, "#1f77b4"][: len(summary)],
                         text=[f"{v:.2f}" for v in summary["value"]], textposition="outside", showlegend=False),
                  row=1, col=1)
    if two:
        sizes = be["be_set_size"].astype(int)
        held = be["gt_in_set"].astype(bool)
        for flag, color, name in ((True, TRUE_COLOR, "set holds the truth"), (False, SET_COLOR, "set misses it")):
            counts = sizes[held == flag].value_counts().sort_index()
            fig.add_trace(go.Bar(x=counts.index, y=counts.values, marker_color=color, name=name,
                                 hovertemplate="set size %{x}: %{y} units<extra>" + name + "</extra>"), row=1, col=2)
        fig.update_layout(barmode="stack")
        fig.update_xaxes(title_text="BE prediction-set size", dtick=1, row=1, col=2)
        fig.update_yaxes(title_text="units", row=1, col=2)
    fig.update_yaxes(range=[0, 1.15], title_text="share", row=1, col=1)
    fig.update_layout(legend=dict(orientation="h", yanchor="bottom", y=1.08, xanchor="right", x=1.0),
                      **{**_LAYOUT, "height": 380, "margin": dict(l=10, r=10, t=60, b=10)})
    return fig

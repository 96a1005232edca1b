"""Layer: every neuron in a sortable, filterable table and a scatter; a row or point opens the neuron."""

import streamlit as st

from neurodash import ui

ctx = ui.current()
ws = ctx.ws
st.header(f"Layer {ui.literal(ws.layer)} · {ws.n_neurons} neurons")

all_metrics = ui.be_metrics() + [m for m in ws.default_metrics() if m not in ui.be_metrics()]
metrics = st.multiselect("metrics", all_metrics, default=ui.page_metrics(ws, ctx.metric), key="layer_metrics")
with ui.guard("Cannot build the layer table", stop=True):
    table = ui.layer_table(ws, metrics or [ctx.metric])
be = ui.layer_be_section(ctx, "layer")
flags = None
with ui.guard("Cannot compute the automatic flags"):
    _evidence, flags = ui.auto_flags(ctx, be=be)
view = ui.reports.layer_view(table, be, flags, ui.annotations(ws))
ui.workspace_warnings(ctx)

f1, f2, f3 = st.columns([2, 1, 1])
text = f1.text_input("filter: concept contains", key="layer_filter")
selective_only = f2.checkbox("selective only", key="layer_selective")
flagged_only = f3.checkbox("flagged only", key="layer_flagged")
shown = ui.reports.filter_layer(view, text=text, selective_only=selective_only, flagged_only=flagged_only)
thumbs = ui.thumbnails(ws)
shown = shown.assign(open=[ctx.link("neuron", neuron=int(j)) for j in shown["neuron"]],
                     top_image=[thumbs[int(j)] for j in shown["neuron"]])
if "severity" in shown:
    shown = shown.sort_values(["severity", "neuron"], ascending=[False, True], kind="stable")
front = [c for c in ("neuron", "top_image", "open", "severity", "auto_flags") if c in shown]
shown = shown[front + [c for c in shown.columns if c not in front]]
labels = ui.reports.column_groups(shown.columns, metrics or [ctx.metric])

st.caption(f"{len(shown)} of {len(view)} neurons, most severe flags first. Click a row (or a scatter point below) to "
           "open its neuron; sort by clicking a header. "
           f"Bands are Cor. 3.2's 2r(δ/|C|), δ = {ui.DELTA} (empty: the metric has no Table 1 rate).")
event = st.dataframe(
    shown, hide_index=True, key="layer_table", on_select="rerun", selection_mode="single-row", height=520,
    row_height=44,
    column_config={**{c: st.column_config.Column(label) for c, label in labels.items()},
                   **{c: st.column_config.NumberColumn(labels.get(c, c), format="%.4f") for c in shown.columns
                      if c.endswith(("_score", "_band")) or c.startswith("gt_pixel") or c == "be_stability"},
                   "top_image": st.column_config.ImageColumn("top image", width="small"),
                   "open": st.column_config.LinkColumn("link", display_text="open ↗"),
                   "severity": st.column_config.NumberColumn("flags · severity", format="%.2f")},
)
if event is not None and event.selection.rows:
    ui.open_neuron(int(shown.iloc[event.selection.rows[0]]["neuron"]))

o1, o2 = st.columns([1, 3])
target = o1.number_input("neuron", min_value=0, max_value=ws.n_neurons - 1, value=ctx.neuron, key="layer_open_n")
if o1.button("Open neuron", key="layer_open"):
    ui.open_neuron(int(target))

st.subheader("Scatter")
numeric = [c for c in view.columns if c != "neuron" and str(view[c].dtype) in ("float64", "float32", "int64", "Int64")]
default_x = "selectivity" if "selectivity" in numeric else numeric[0]
score_cols = [c for c in numeric if c.endswith("_score")]
s1, s2, s3 = st.columns(3)
x = s1.selectbox("x", numeric, index=numeric.index(default_x), key="layer_x")
y = s2.selectbox("y", numeric, index=numeric.index(score_cols[0]) if score_cols else 0, key="layer_y")
color_opts = ["(none)"] + numeric
color = s3.selectbox("colour", color_opts, index=color_opts.index("be_stability") if "be_stability" in color_opts else 0,
                     key="layer_color")
data = ui.reports.plottable(shown, [x, y])
if data.get(f"{x}_infinite", data.get(f"{y}_infinite")) is not None:
    st.caption("Infinite selectivity (median ≤ 0 < P99) is drawn at 10× the largest finite value.")
fig = ui.charts.layer_scatter(data, x, y, None if color == "(none)" else color,
                              f"{y} vs {x}" + ("" if color == "(none)" else f", colour = {color}"))
if x == "selectivity":
    fig.update_xaxes(type="log")
picked = st.plotly_chart(fig, key="layer_scatter", on_select="rerun", selection_mode="points")
if picked is not None and picked.selection.points:
    point = picked.selection.points[0].get("customdata")
    ui.open_neuron(int(point[0] if isinstance(point, (list, tuple)) else point))

ui.downloads(view, f"layer_{ws.layer}", key="layer_dl")

"""Neuron: its top images, activation histogram, top concepts with bands, BE, sanity, selectivity."""

import streamlit as st

from neurodash import ui

ctx = ui.current()
ws, j = ctx.ws, ctx.neuron
C = len(ws.concept_names)

with ui.guard(f"Cannot show neuron {j}", stop=True):
    card = ui.neuron_card(ws, j, ui.page_metrics(ws, ctx.metric), delta=ui.DELTA)

st.header(f"Neuron {j} · {ws.layer}")
c1, c2, c3, c4 = st.columns(4)
c1.metric("SIEVE selectivity (P99/median)", f"{card.selectivity:.3g}",
          "selective" if card.selective else "not selective", delta_color="normal" if card.selective else "inverse")
c2.metric("top-1% threshold", f"{card.top1_threshold:.3g}")
if card.ground_truth is not None:
    gt_label = {"pixel_iou": "pixel IoU", "iou": "IoU"}[card.ground_truth_metric]
    c3.metric("ground-truth concept", card.ground_truth.concept, f"{gt_label} {card.ground_truth.score:.3f}",
              delta_color="off")
note = ui.annotation(ws, j)  # read fresh: the card is cached, triage edits are not
c4.metric("triage status", note.status, ", ".join(note.flags) or None, delta_color="off")

# ---- images ---------------------------------------------------------------------------------------
st.subheader("Top images")
g1, g2 = st.columns([3, 1])
k = g1.slider("how many", 4, ui.TOP_K, 12, step=1, key="neuron_k")
heat = g2.toggle("activation heatmaps", value=True, key="neuron_heat")
with ui.guard("Cannot load the top images"):
    ids, acts, maps, images = ui.top_images(ws, j, k)
    ui.image_grid(images, [f"#{i} · {a:.2f}" for i, a in zip(ids, acts)], heat=maps if heat else None,
                  columns=min(k, 10), key="top")
if st.toggle("show quantile bins below the top", value=False, key="neuron_bins"):
    with ui.guard("Cannot load the quantile bins"):
        for b in ui.quantile_bins(ws, j):
            st.caption(b["label"])
            ui.image_grid(b["images"], [f"#{i} · {a:.2f}" for i, a in zip(b["ids"], b["acts"])], columns=10, size=96)

# ---- histogram and concepts -------------------------------------------------------------------------
with ui.guard("Cannot draw the histogram"):
    st.plotly_chart(ui.charts.activation_histogram(ui.histogram(ws, card, ctx.metric)), key="neuron_hist")
rows = ui.reports.concept_rows(card)
st.subheader("Top concepts and their bands")
shown = st.multiselect("metrics in the chart", list(card.concepts), default=[m for m in [ctx.metric] if m in card.concepts],
                       key="neuron_chart_metrics")
if shown:
    st.plotly_chart(ui.charts.concept_scores(rows[rows["metric"].isin(shown)]), key="neuron_concepts")
st.caption("Table 1 bands: Cor. 3.2 band 2r(δ/|C|), interval score ± r. Metrics without a Table 1 rate get an "
           "empirical bootstrap interval, labelled as such.")
for metric in card.concepts:
    st.markdown(ui.reports.cor32_reading(card, metric, C))
st.dataframe(rows, hide_index=True, key="neuron_concept_table",
             column_config={c: st.column_config.NumberColumn(format="%.4f") for c in ("score", "band", "lo", "hi")})
ui.downloads(rows, f"neuron{j}_concepts", key="neuron_dl")

# ---- bootstrap ensemble -------------------------------------------------------------------------------
st.subheader("Bootstrap ensemble (BE)")
ui.be_section(ctx, card)

# ---- sanity checks ---------------------------------------------------------------------------------
st.subheader("Sanity checks (NeuronEval) on this workspace")
ui.sanity_badges(ctx, list(card.concepts))

"""Neuron: the explanation at one glance (concept, score and band, BE, SIEVE verdict, triage and flags),
then top images, histogram, concept scores, BE and the workspace's sanity checks.

The page is one st.fragment with its own neuron picker (number, previous / next, link): a switch of
unit, like every control of the page, reruns this fragment only, not the sidebar and the app script
(the sidebar's metric or workspace still rerun everything). A shared link opens this page in a fresh
browser, so its first view uses few widget kinds (each loads its own scripts before anything shows):
its charts are static SVG images (neurodash.ui.svgcharts), "how many" is a number box, and what is
optional (metric comparison, Cor. 3.2) is drawn only once its expander is opened.
"""

import math

import streamlit as st

from neurodash import ui

ui.current()  # stops here, with a message, when the sidebar has no workspace open


@st.fragment
def neuron_page() -> None:
    ctx = ui.neuron_page_top()  # the title and the picker
    ws, j = ctx.ws, ctx.neuron
    C = len(ws.concept_names)

    with ui.guard(f"Cannot show neuron {j}", stop=True):
        card = ui.neuron_card(ws, j, ui.page_metrics(ws, ctx.metric), delta=ui.DELTA)

    be = None
    with ui.guard("The bootstrap ensemble failed"):
        be = ui.neuron_be(ctx, card)
    flags = None
    with ui.guard("Cannot compute the automatic flags"):
        _evidence, table = ui.auto_flags(ctx, unit_be=be)
        flags = ui.reports.unit_flags(table, j)
    note = ui.annotation(ws, j)  # read fresh: the card is cached, triage edits are not
    head = ui.reports.neuron_header(card, ctx.metric, be=be, verdict=ui.verdict_for(ctx, card), flags=flags, note=note)

    # ---- header: the explanation at one glance ----------------------------------------------------------
    # two rows: a concept name ("checkered yellow triangle") needs a wide card to be read whole
    c1, c5 = st.columns([2, 1])
    c2, c3, c4 = st.columns(3)
    c1.metric(f"explanation ({ctx.metric})", ui.literal(head["concept"]),
              ui.literal(f"{head['score_text']} · {head['band_text']}"), delta_color="off", delta_arrow="off")
    c2.metric("BE stability", head["be_text"], ui.literal(head["be_detail"]), delta_color="off", delta_arrow="off")
    c3.metric("SIEVE verdict", head["verdict_text"], ui.literal(head["verdict_detail"]), delta_color="off",
              delta_arrow="off")
    c4.metric("triage status", ui.literal(head["triage_text"]), ui.literal(head["triage_detail"]), delta_color="off",
              delta_arrow="off")
    c5.metric("flag severity", head["severity_text"].split(" · ")[0],
              (head["severity_text"].split(" · ", 1)[1] if " · " in head["severity_text"] else None),
              delta_color="off", delta_arrow="off",
              help="Sum over raised automatic flags of weight × strength (Triage page); flags need BE / AR for "
                   "their full evidence.")
    if head["reasons"]:  # each reason names its flag; text, not a table: the first view then needs no grid JS
        st.markdown("**automatic flags**  \n" + "  \n".join(f"• {ui.literal(r)}" for r in head["reasons"]))
    ui.workspace_warnings(ctx)
    d1, d2, d3 = st.columns(3)
    selective = "selective" if card.selective else "not selective"
    ratio = f"{card.selectivity:.3g}" if math.isfinite(card.selectivity) else "∞ (median activation 0)"
    d1.caption(f"selectivity P99/median {ratio} ({selective}, β = 10)")
    d2.caption(f"top-1% activation {card.top1_threshold:.3g}")
    if card.ground_truth is not None:
        gt_label = {"pixel_iou": "pixel IoU", "iou": "IoU"}[card.ground_truth_metric]
        d3.caption(f"ground truth ({gt_label} {card.ground_truth.score:.3f}):")
        d3.text(card.ground_truth.concept)

    # ---- images ---------------------------------------------------------------------------------------
    st.subheader("Top images")
    g1, g2 = st.columns([3, 1])
    k = int(g1.number_input("how many", 4, ui.TOP_K, 12, step=1, key="neuron_k"))
    heat = g2.toggle("activation heatmaps", value=True, key="neuron_heat")
    with ui.guard("Cannot load the top images"):
        ids, acts, _maps, _images = ui.top_images(ws, j, k)
        ui.image_grid(ui.top_tiles(ws, j, k, heat=heat, size=256), [f"#{i} · {a:.2f}" for i, a in zip(ids, acts)],
                      columns=min(k, 8), key="top")
    if st.toggle("show quantile bins below the top", value=False, key="neuron_bins"):
        with ui.guard("Cannot load the quantile bins"):
            for b in ui.quantile_bins(ws, j):
                st.caption(b["label"])
                ui.image_grid(b["images"], [f"#{i} · {a:.2f}" for i, a in zip(b["ids"], b["acts"])], columns=10,
                              size=96)

    # ---- histogram and concepts -------------------------------------------------------------------------
    with ui.guard("Cannot draw the histogram"):
        st.image(ui.histogram_figure(ws, card, ctx.metric), width="stretch")
    st.subheader("Top concepts and their bands")
    st.image(ui.concept_figure(ws, card, [ctx.metric]), width="stretch")
    others = [m for m in card.concepts if m != ctx.metric]
    if others:  # lazy, like the Cor. 3.2 expander below: drawn only while it is open
        compare = st.expander("Compare with the other metrics", key="neuron_compare_open", on_change="rerun")
        if compare.open:
            with compare:
                extra = st.multiselect("metrics", others, default=others, key="neuron_chart_extra")
                st.image(ui.concept_figure(ws, card, [ctx.metric] + [m for m in extra if m != ctx.metric]),
                         width="stretch")
    # lazy: its two tables and the exports are built and drawn only while it is open, not on every unit switch
    cor32 = st.expander("Cor. 3.2: is the chosen concept separated from the runner-up? (every metric)",
                        key="neuron_cor32_open", on_change="rerun")
    if cor32.open:
        with cor32:
            reading = ui.reports.cor32_table(card, C)
            st.caption(reading.attrs["statement"])
            st.dataframe(reading, hide_index=True, key="neuron_cor32", column_config={
                c: st.column_config.NumberColumn(format="%.3f") for c in ("score", "band 2r", "gap")})
            st.caption("Bands: Table 1 bound 2r(δ/|C|); metrics without a Table 1 rate get an empirical bootstrap "
                       "interval, labelled as such. Every concept row:")
            rows = ui.reports.concept_rows(card)
            st.dataframe(rows, hide_index=True, key="neuron_concept_table", column_config={
                c: st.column_config.NumberColumn(format="%.4f") for c in ("score", "band", "lo", "hi")})
            ui.downloads(rows, f"neuron{j}_concepts", key="neuron_dl")

    # ---- bootstrap ensemble -------------------------------------------------------------------------------
    st.subheader(f"Bootstrap ensemble (BE, {ctx.metric})")
    ui.be_section(ctx, be)

    # ---- sanity checks ---------------------------------------------------------------------------------
    st.subheader("Sanity checks (NeuronEval) on this workspace")
    ui.sanity_badges(ctx, list(card.concepts))

    # the previous and next units are one click away: have them ready (a background thread, cache only)
    ui.prefetch_neurons(ws, [j + 1, j - 1], metrics=list(card.concepts), delta=ui.DELTA, k=k, heat=heat, size=256,
                        chart_metric=ctx.metric)


neuron_page()

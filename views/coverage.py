"""Coverage (shapes world): do BE sets hold the ground-truth concept as often as Thm 4.1 claims?"""

import streamlit as st

from neurodash import ui

ctx = ui.current()
ws = ctx.ws
st.header(f"Coverage · {ui.literal(ws.layer)}")
if not ws.has_ground_truth:
    st.info("Coverage needs ground truth: choose the concept source 'ground_truth' on the shapes world.")
    st.stop()
st.caption("For every neuron: does its BE prediction set hold the ground-truth concept (the concept with the best "
           "pixel IoU against the world's masks)? Next to it, the share Thm 4.1 claims: the mean over neurons of its "
           "lower bound as derived in Appendix A (Eq. 16, P(Bin(K, p) ≤ k(S) − 1); Eq. 9 as printed is in the table "
           "as be_coverage_printed), counting vacuous bounds (p ≥ 1, or no rate) as 0. Δ in the bound is the "
           "plug-in gap between the best and second-best concept on the probe.")
be = ui.layer_be_section(ctx, "coverage", expanded=True)
if be is None:
    st.info("Run BE over the layer (above) to compare.")
    st.stop()
with ui.guard("Cannot summarise the coverage", stop=True):
    s = ui.reports.coverage_summary(be)
c1, c2, c3, c4 = st.columns(4)
c1.metric("observed: set holds the truth", f"{s['observed']:.2f}")
c2.metric("claimed by Thm 4.1", f"{s['claimed']:.2f}")
c3.metric("non-vacuous bounds", f"{s['informative']} of {s['neurons']}")
c4.metric("mean set size", f"{s['mean_set_size']:.2f}")
if s["informative"]:
    st.caption(f"Among the {s['informative']} neurons with a non-vacuous bound: observed "
                f"{s['observed_informative']:.2f}, claimed {s['claimed_informative']:.2f}.")
st.plotly_chart(ui.charts.coverage_bars(s["bars"], be), key="coverage_chart")
st.dataframe(be, hide_index=True, key="coverage_table")
ui.downloads(be, f"coverage_{ws.layer}", key="coverage_dl")

st.subheader("Across probe sizes")
st.caption("The same comparison for probe sizes around this one. The truth here is each unit's best concept by "
           "the BE metric on a fresh probe 10x larger than the largest size (another seed), so it is not the "
           "plug-in winner of the probe BE resamples. Each size is its own workspace (precomputed once, cached).")
sizes = ui.coverage.default_sizes(ws.n_images)
study = ui.coverage.cached_study(ws, sizes, metric="iou", K=100)
if st.button(f"Run the study (n = {', '.join(map(str, sizes))}; BE iou, K = 100)", key="coverage_study_go"):
    ui.jobs.start("coverage_study", lambda progress, cancel: ui.coverage.run_and_store(
        ws, sizes, metric="iou", K=100, progress=progress, cancel=cancel))
done = ui.jobs.watch("coverage_study", "Coverage study")
if done is not None and done["job"].state == "done":
    study = done["job"].result()
elif done is not None and done["job"].state == "failed":
    st.error(f"The coverage study failed: {done['job'].error}")
if study is not None:
    st.plotly_chart(ui.charts.coverage_by_size(study["sizes"]), key="coverage_by_size")
    st.dataframe(study["sizes"], hide_index=True, key="coverage_by_size_table")

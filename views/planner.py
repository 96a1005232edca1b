"""Planner: how many probe images are needed for a target band (faithfulness paper, Fig. 3a)."""

import streamlit as st

from neurodash import ui

st.header("Planner: probe size for a target band")
st.caption(
    "Cor. 3.2: with probability ≥ 1−δ the chosen concept scores within 2·r(f, D, δ/|C|) of the best. "
    "The rate r of each metric shrinks with its effective sample size (Table 1, App. B): n for accuracy, "
    "|f| for recall, |c| for precision, |f∨c| for IoU, ρ(1−ρ)·n for AUROC. Expected sizes below come from "
    "the frequencies you set."
)

ctx = ui.current(required=False)
defaults = ui.planner_defaults(ctx)

c1, c2, c3 = st.columns(3)
freq = c1.number_input("concept frequency ρ(c)", min_value=1e-5, max_value=0.99, value=defaults["freq"],
                       step=0.001, format="%.4f", key="planner_freq")
alpha = c2.number_input("neuron active share α", min_value=1e-5, max_value=0.99, value=defaults["alpha"],
                        step=0.001, format="%.4f", key="planner_alpha",
                        help="share of probe images where the binarized neuron is on (top ⌈α·n⌉)")
agreement = c3.slider("overlap of neuron and concept", 0.0, 1.0, 1.0, key="planner_agreement",
                      help="|f∧c| as a share of min(|f|, |c|): 1 = one contains the other (smallest union: the most cautious IoU rate), 0 = disjoint")
c4, c5, c6 = st.columns(3)
n_concepts = c4.number_input("|C| (concepts)", min_value=1, max_value=10_000_000, value=defaults["n_concepts"],
                             key="planner_C")
delta = c5.number_input("δ", min_value=1e-6, max_value=0.5, value=0.05, format="%.4f", key="planner_delta")
target = c6.number_input("target band 2r", min_value=1e-4, max_value=10.0, value=0.1, format="%.4f",
                         key="planner_target")

with ui.guard("Cannot plan with these values", stop=True):
    plan = ui.planner(freq=freq, alpha=alpha, agreement=agreement, n_concepts=int(n_concepts), delta=delta,
                      target=target)

st.plotly_chart(ui.charts.planner_curves(plan["curves"], target, plan["needed"],
                                         current_n=ctx.ws.n_images if ctx is not None else None), key="planner_chart")
st.subheader("Probe size that reaches the target")
st.dataframe(plan["needed"], hide_index=True, key="planner_table",
             column_config={"probe_size": st.column_config.NumberColumn("probe size n", format="%d"),
                            "band_at_size": st.column_config.NumberColumn("band at that n", format="%.4f")})
if ctx is not None:
    st.caption(f"Current workspace probe: {ctx.ws.n_images} images, |C| = {len(ctx.ws.concept_names)}.")
ui.downloads(plan["needed"], "planner", key="planner_dl")

"""Page sections shared by pages or too long for a page file: BE controls and results, sanity badges."""

from __future__ import annotations

import streamlit as st

from neurodash import reports
from neurodash.stats import metrics as _metrics
from neurodash.ui import charts, loaders
from neurodash.ui.widgets import guard

DELTA = 0.05
BE_STATE = "nd__be_params"


def page_metrics(ws, chosen: str) -> list[str]:
    """The metrics a neuron page scores: the workspace defaults plus the sidebar's chosen one."""
    ms = list(ws.default_metrics())
    return ms if chosen in ms else ms + [chosen]


def be_metrics() -> list[str]:
    return list(_metrics.METRICS)


def be_section(ctx, card) -> dict | None:
    """BE controls (K, seed, metric, t) and, once run, its results for the current neuron.

    The chosen settings stay for the session: switching neurons shows the new neuron's BE at once.
    """
    ws, j = ctx.ws, ctx.neuron
    names = be_metrics()
    default_metric = ctx.metric if ctx.metric in names else names[0]
    with st.form("be_form", border=True):
        c1, c2, c3, c4 = st.columns(4)
        K = c1.number_input("K resamples", min_value=10, max_value=2000, value=100, step=10, key="be_K")
        seed = c2.number_input("seed", min_value=0, value=0, step=1, key="be_seed")
        metric = c3.selectbox("metric", names, index=names.index(default_metric), key="be_metric")
        share = c4.slider("t (share of K)", 0.5, 1.0, 0.95, step=0.01, key="be_t",
                          help="Alg. 1: concepts are added by falling frequency until their wins reach t")
        if st.form_submit_button("Run BE", type="primary"):
            st.session_state[BE_STATE] = {"metric": metric, "K": int(K), "seed": int(seed), "t": float(share) * int(K)}
    p = st.session_state.get(BE_STATE)
    if p is None:
        st.caption("Choose K, seed, metric and t, then **Run BE**; the settings then apply to every neuron you open.")
        return None
    with guard("The bootstrap ensemble failed"):
        with st.spinner(f"BE: {p['K']} resamples…"):
            report = loaders.bootstrap(ws, j, metric=p["metric"], K=p["K"], seed=p["seed"], t=p["t"], delta=DELTA)
        truth = card.ground_truth.concept if card.ground_truth is not None else None
        s = reports.be_summary(report, truth)
        left, right = st.columns([3, 2])
        left.plotly_chart(charts.be_histogram(
            s["bars"], f"BE winners ({p['metric']}, K={p['K']}, seed={p['seed']}); red = prediction set"),
            key="be_chart")
        with right:
            a, b = st.columns(2)
            a.metric("stability", f"{s['stability']:.2f}", help="share of resamples won by the most frequent concept")
            b.metric("set size", s["set_size"])
            st.markdown("**Prediction set:** " + ", ".join(f"`{n}`" for n in s["set_names"]))
            st.markdown(f"**Thm 4.1 coverage bound:** {s['coverage_text']}  \n"
                        f"p = {s['p']:.3g}, plug-in Δ = {s['gap']:.4f} ({s['best']} vs {s['second']})")
            st.caption(s["note"] or "Δ is the plug-in gap between the best and second-best concept on the probe.")
            if s["covers_truth"] is True:
                st.success(f"The BE set covers the ground-truth concept **{truth}**.")
            elif s["covers_truth"] is False:
                st.warning(f"The BE set misses the ground-truth concept **{truth}**.")
        return s
    return None


def sanity_badges(ctx, metrics: list[str]) -> None:
    """A pass/fail badge per metric from NeuronEval's missing/extra-labels tests on this workspace."""
    testable = [m for m in metrics if m in _metrics.METRICS]
    if not testable:
        st.caption("No testable metrics chosen.")
        return
    with guard("The sanity checks failed"):
        with st.spinner("Sanity checks (once per workspace)…"):
            df = loaders.sanity_report(ctx.ws, testable)
        cols = st.columns(len(testable))
        for col, m in zip(cols, testable):
            if m not in df.index:
                col.markdown(f":gray-badge[{m}: not tested]")
                continue
            row = df.loc[m]
            ok = bool(row["passed"])
            col.markdown(f":{'green' if ok else 'red'}-badge[{m}: {'passes' if ok else 'fails'}]")
            col.caption(f"missing {row['missing_labels']:.2f} · extra {row['extra_labels']:.2f}")
        st.caption("Decrease Acc in the missing-labels and extra-labels tests; a metric passes when both exceed 0.9 "
                   "(pairs: each neuron with its best-IoU concept).")


LAYER_BE_STATE = "nd__layer_be_params"
LAYER_AR_STATE = "nd__layer_ar_params"


def _with_progress(text: str, work):
    """Run work(progress) under a progress bar that disappears when it is done."""
    from neurodash.ui.widgets import progress_callback

    bar = st.progress(0.0, text=text)
    try:
        return work(progress_callback(bar))
    finally:
        bar.empty()


def layer_be_section(ctx, key: str, *, expanded: bool = False):
    """Controls for BE over the whole layer; returns its table once run in this session (else None)."""
    ws = ctx.ws
    names = be_metrics()
    with st.expander("Bootstrap ensemble over the layer", expanded=expanded):
        with st.form(f"{key}_be_form", border=False):
            c1, c2, c3, c4 = st.columns(4)
            metric = c1.selectbox("metric", names, index=names.index(ctx.metric) if ctx.metric in names else 0,
                                  key=f"{key}_be_metric")
            K = c2.number_input("K", min_value=10, max_value=1000, value=100, step=10, key=f"{key}_be_K")
            seed = c3.number_input("seed", min_value=0, value=0, key=f"{key}_be_seed")
            share = c4.slider("t (share of K)", 0.5, 1.0, 0.95, step=0.01, key=f"{key}_be_t")
            if st.form_submit_button(f"Run BE on all {ws.n_neurons} neurons"):
                st.session_state[LAYER_BE_STATE] = {"metric": metric, "K": int(K), "seed": int(seed),
                                                    "t": float(share) * int(K)}
    p = st.session_state.get(LAYER_BE_STATE)
    if p is None:
        return None
    with guard("BE over the layer failed"):
        be = _with_progress(f"BE ({p['metric']}, K={p['K']}) over {ws.n_neurons} neurons…",
                            lambda prog: loaders.layer_be(ws, metric=p["metric"], K=p["K"], seed=p["seed"], t=p["t"],
                                                          delta=DELTA, progress=prog))
        st.caption(f"BE over the layer: metric {p['metric']}, K = {p['K']}, seed {p['seed']}, t = {p['t']:g}.")
        return be
    return None


def layer_ar_section(ctx, key: str):
    """Controls for the AR of each neuron's chosen concept (world renderer); returns it once run."""
    with st.expander("Activation Rate of each neuron's chosen concept (SIEVE Verify)"):
        with st.form(f"{key}_ar_form", border=False):
            c1, c2 = st.columns(2)
            m = c1.number_input("renders per concept m", min_value=4, max_value=200, value=20, key=f"{key}_ar_m")
            seed = c2.number_input("seed", min_value=0, value=0, key=f"{key}_ar_seed")
            if st.form_submit_button("Measure AR (world renderer)"):
                st.session_state[LAYER_AR_STATE] = {"metric": ctx.metric, "m": int(m), "seed": int(seed)}
    p = st.session_state.get(LAYER_AR_STATE)
    if p is None or p["metric"] != ctx.metric:
        return None
    with guard("Measuring the AR failed"):
        return _with_progress("Rendering each chosen concept and reading the neurons…",
                              lambda prog: loaders.chosen_concept_ar(ctx.ws, p["metric"], m=p["m"], seed=p["seed"],
                                                                     progress=prog))
    return None


def auto_flags(ctx, *, be=None, ar=None, sanity: bool = True):
    """Automatic triage flags of every neuron from what is computed (BE, AR) plus the sanity report."""
    from neurodash import triage

    ws = ctx.ws
    table = loaders.layer_table(ws, [ctx.metric])
    report = None
    if sanity and ctx.metric in _metrics.METRICS:
        with guard("Sanity checks unavailable"):
            report = loaders.sanity_report(ws, [ctx.metric])
    evidence = reports.triage_evidence(ws, table, ctx.metric, be=be, ar=ar, sanity=report)
    return evidence, triage.flag_table(evidence)

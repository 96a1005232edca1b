"""Page sections shared by pages or too long for a page file: BE controls and results, sanity badges."""

from __future__ import annotations

import streamlit as st

from neurodash import analysis, reports, triage
from neurodash.sieve.renders import DEFAULT_M
from neurodash.stats import metrics as _metrics
from neurodash.ui import loaders, svgcharts
from neurodash.ui.widgets import guard

DELTA = 0.05
BE_STATE = "nd__be_params"


def page_metrics(ws, chosen: str) -> list[str]:
    """The metrics a neuron page scores: the workspace defaults plus the sidebar's chosen one."""
    ms = list(ws.default_metrics())
    return ms if chosen in ms else ms + [chosen]


def be_metrics() -> list[str]:
    return list(_metrics.METRICS)


def _be_params(ctx) -> dict | None:
    """The session's BE settings (K, seed, t) with the sidebar's metric, or None before a first run."""
    p = st.session_state.get(BE_STATE)
    return None if p is None else {**p, "metric": ctx.metric}


def neuron_be(ctx, card) -> dict | None:
    """This unit's BE summary under the sidebar's metric: computed when the session ran BE, else read
    from the cache when anyone computed it with the default settings; None otherwise."""
    if ctx.metric not in be_metrics():
        return None
    ws, j = ctx.ws, ctx.neuron
    truth = card.ground_truth.concept if card.ground_truth is not None else None
    p = _be_params(ctx)
    if p is None:
        report = analysis.be.cached(ws, j, metric=ctx.metric, delta=DELTA)
        if report is None:
            return None
        p = {"metric": ctx.metric, "K": report.K, "seed": report.seed, "t": report.t}
    else:
        with st.spinner(f"BE ({ctx.metric}): {p['K']} resamples…"):
            report = loaders.bootstrap(ws, j, metric=ctx.metric, K=p["K"], seed=p["seed"], t=p["t"], delta=DELTA)
    return {**reports.be_summary(report, truth), "params": p, "truth": truth}


def be_section(ctx, s: dict | None) -> None:
    """BE controls (K, seed, t; the metric is the sidebar's) and the unit's BE summary `s` (neuron_be)."""
    if ctx.metric not in be_metrics():
        st.caption(f"BE runs on image-level metrics; {ctx.metric} is not one. Choose another metric in the sidebar.")
        return
    with st.form("be_form", border=True):
        c1, c2, c3 = st.columns(3)
        K = c1.number_input("K resamples", min_value=10, max_value=2000, value=100, step=10, key="be_K")
        seed = c2.number_input("seed", min_value=0, value=0, step=1, key="be_seed")
        share = c3.number_input("t (share of K)", 0.5, 1.0, 0.95, step=0.01, key="be_t",
                                help="Alg. 1: concepts are added by falling frequency until their wins reach t")
        if st.form_submit_button(f"Run BE ({ctx.metric})", type="primary"):
            st.session_state[BE_STATE] = {"K": int(K), "seed": int(seed), "t": float(share) * int(K)}
            st.rerun()  # the header above shows the new BE too
    if s is None:
        st.caption(f"Choose K, seed and t, then **Run BE**; the metric is the sidebar's ({ctx.metric}), and the "
                   "settings then apply to every unit you open.")
        return
    p = s["params"]
    left, right = st.columns([3, 2])
    left.image(svgcharts.be_histogram(
        s["bars"], f"BE winners ({p['metric']}, K={p['K']}, seed={p['seed']}); red = prediction set"),
        width="stretch")
    with right:
        a, b, c = st.columns(3)
        a.metric("stability", f"{s['stability']:.2f}", help="share of resamples won by the most frequent concept")
        b.metric("set size", s["set_size"])
        c.metric("Thm 4.1 coverage", s["coverage_text"])
        st.caption("Prediction set:")
        st.text("\n".join(s["set_names"]))  # literal, a name a line: no data grid to load on a shared link
        st.caption(f"p = {s['p']:.3g}, plug-in Δ = {s['gap']:.4f} (best vs second on the probe). "
                   + (s["note"] or ""))
        if s["covers_truth"] is not None:
            st.caption("Ground-truth concept " + ("in" if s["covers_truth"] else "NOT in") + " the set:")
            st.text(s["truth"])


def sanity_badges(ctx, metrics: list[str]) -> None:
    """A pass/fail badge per metric from NeuronEval's missing/extra-labels tests on this workspace."""
    testable = [m for m in metrics if m in _metrics.METRICS]
    if not testable:
        st.caption("No testable metrics chosen.")
        return
    with guard("The sanity checks failed"):
        with st.spinner("Sanity checks (once per workspace)…"):
            df = loaders.sanity_report(ctx.ws, testable)
        badges = []  # one line, not a column per metric: the first view of a shared link stays light
        for m in testable:
            if m not in df.index:
                badges.append(f":gray-badge[{m}: not tested]")
                continue
            row = df.loc[m]
            ok = bool(row["passed"])
            badges.append(f":{'green' if ok else 'red'}-badge[{m}: {'passes' if ok else 'fails'}] "
                          f"missing {row['missing_labels']:.2f} · extra {row['extra_labels']:.2f}")
        st.markdown(" &ensp; ".join(badges))
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


def _layer_be_params(ctx) -> dict | None:
    p = st.session_state.get(LAYER_BE_STATE)
    return None if p is None or ctx.metric not in be_metrics() else {**p, "metric": ctx.metric}


def layer_be_section(ctx, key: str, *, expanded: bool = False):
    """Controls for BE over the whole layer (the sidebar's metric); returns its table once run (else None)."""
    ws = ctx.ws
    if ctx.metric not in be_metrics():
        st.caption(f"BE over the layer runs on image-level metrics; {ctx.metric} is not one.")
        return None
    with st.expander(f"Bootstrap ensemble over the layer ({ctx.metric})", expanded=expanded):
        with st.form(f"{key}_be_form", border=False):
            c2, c3, c4 = st.columns(3)
            K = c2.number_input("K", min_value=10, max_value=1000, value=100, step=10, key=f"{key}_be_K")
            seed = c3.number_input("seed", min_value=0, value=0, key=f"{key}_be_seed")
            share = c4.slider("t (share of K)", 0.5, 1.0, 0.95, step=0.01, key=f"{key}_be_t")
            if st.form_submit_button(f"Run BE on all {ws.n_neurons} neurons"):
                st.session_state[LAYER_BE_STATE] = {"K": int(K), "seed": int(seed), "t": float(share) * int(K)}
    p = _layer_be_params(ctx)
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
            m = c1.number_input("renders per concept m", min_value=4, max_value=200, value=DEFAULT_M, key=f"{key}_ar_m")
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


def measured_ar(ctx):
    """The chosen concepts' AR when this session measured it for the sidebar's metric (never computes)."""
    p = st.session_state.get(LAYER_AR_STATE)
    if p is None or p["metric"] != ctx.metric:
        return None
    return loaders.chosen_concept_ar(ctx.ws, p["metric"], m=p["m"], seed=p["seed"], compute=False)


def computed_layer_be(ctx):
    """BE over the layer when this session ran it for the sidebar's metric (never computes)."""
    p = _layer_be_params(ctx)
    if p is None:
        return None
    return loaders.layer_be(ctx.ws, metric=p["metric"], K=p["K"], seed=p["seed"], t=p["t"], delta=DELTA,
                            compute=False)


def auto_flags(ctx, *, be=None, ar=None, unit_be: dict | None = None):
    """Automatic triage flags (with severity and reasons) of every unit from what is computed.

    be / ar: the layer's BE table and chosen-concept AR (None: not computed; the session's are used
    when computed). unit_be: the current unit's own BE summary, used where the layer's BE is missing.
    """
    ws = ctx.ws
    table = loaders.layer_table(ws, [ctx.metric])
    be = computed_layer_be(ctx) if be is None else be
    ar = measured_ar(ctx) if ar is None else ar
    if be is None and unit_be is not None:
        be = reports.unit_be_rows(ctx.neuron, unit_be)
    evidence = reports.triage_evidence(ws, table, ctx.metric, be=be, ar=ar)
    return evidence, triage.flag_table(evidence)


def workspace_warnings(ctx) -> None:
    """Shown once per page: what is wrong with the whole workspace (a metric failing its sanity tests)."""
    if ctx.metric not in _metrics.METRICS:
        return
    with guard("Sanity checks unavailable"):
        with st.spinner("Sanity checks (once per workspace)…"):
            report = loaders.sanity_report(ctx.ws, [ctx.metric])
        for text in triage.workspace_warnings(report, ctx.metric):
            st.warning(text)  # built from the metric registry's names and numbers only


VERDICTS = "nd__verdicts"


def remember_verdicts(ctx, results) -> None:
    """Keep this session's Verify verdicts so the Neuron page header can show them."""
    store = st.session_state.setdefault(VERDICTS, {})
    for r in results:
        store[(ctx.ws.version, int(r.neuron), r.concept)] = {
            "verdict": r.verdict, "ar": r.ar, "concept": r.concept, "threshold_source": r.threshold_source}


def verdict_for(ctx, card) -> dict | None:
    """The SIEVE verdict of the unit's explanation under the sidebar metric, else of its latest verified
    concept, from this session's Verify runs; None when none ran."""
    store = st.session_state.get(VERDICTS, {})
    scores = card.concepts.get(ctx.metric) or []
    if scores and (ctx.ws.version, ctx.neuron, scores[0].concept) in store:
        return store[(ctx.ws.version, ctx.neuron, scores[0].concept)]
    mine = [v for (version, j, _c), v in store.items() if version == ctx.ws.version and j == ctx.neuron]
    return mine[-1] if mine else None

"""Verify (SIEVE): Select across the layer, Hypothesize for the neuron, Verify concepts by rendering them."""

import streamlit as st

from neurodash import ui

MEAN_AR_RULE = "mean AR of SIEVE's hypotheses on this layer (paper)"
FIXED = 0.5

ctx = ui.current()
ws, j = ctx.ws, ctx.neuron
st.header(f"Verify (SIEVE) · neuron {j} · {ui.literal(ws.layer)}")

# ---- Select ---------------------------------------------------------------------------------------------
st.subheader("Select: which neurons are selective")
beta = st.slider("β (selective when P99/median > β)", 1.0, 100.0, 10.0, step=0.5, key="verify_beta")
with ui.guard("Select failed"):
    sel = ui.sieve_select(ws, beta)
    summary = ui.reports.select_summary(sel, j)
    a, b = st.columns(2)
    a.metric("selective neurons", f"{summary['n_selective']} of {summary['n_neurons']}")
    b.metric(f"neuron {j}", summary["this_text"], "selective" if summary["this_selective"] else "not selective",
             delta_color="off", delta_arrow="off")
    with st.expander("Selectivity of every neuron"):
        st.dataframe(summary["table"], hide_index=True, key="verify_select_table")

# ---- Hypothesize ---------------------------------------------------------------------------------------
st.subheader("Hypothesize: clusters of the top-image crops, named by CLIP")
hyps = []
with ui.guard("Hypothesize failed"):
    with st.spinner("Cropping, embedding and clustering the top images…"):
        hyps = ui.hypotheses(ws, j)
    for h in hyps:
        st.caption(f"Cluster {h.cluster} ({len(h.image_ids)} crops), named by CLIP:")
        st.text(", ".join(f"{c} ({s:.3f})" for c, s in zip(h.concepts, h.scores)))
        ui.image_grid(h.crops[:10], [f"#{i}" for i in h.image_ids[:10]], columns=10, size=80)

# ---- Verify --------------------------------------------------------------------------------------------
st.subheader("Verify: render the concept, measure the Activation Rate")
suggested = list(dict.fromkeys(c for h in hyps for c in h.concepts))
names = ws.concept_names
if not suggested:  # no hypotheses (no CLIP, or it failed): start from the neuron's chosen concept
    with ui.guard("Cannot read the neuron's chosen concept"):
        suggested = [ui.neuron_card(ws, j, [ctx.metric], delta=ui.DELTA).concepts[ctx.metric][0].concept]
with st.form("verify_form"):
    concepts = st.multiselect("concepts to verify", list(dict.fromkeys(suggested + names)),
                              default=suggested[:1] or names[:1], key="verify_concepts", accept_new_options=True)
    c1, c2, c3, c4 = st.columns(4)
    generator_name = c1.selectbox("generator", ["world", "diffusers"], key="verify_generator",
                                  help="world: the shapes-world renderer (exact, offline). diffusers: a local "
                                       "text-to-image pipeline (nothing is downloaded).")
    m = c2.number_input("renders m", min_value=2, max_value=200, value=ui.DEFAULT_M, key="verify_m")
    seed = c3.number_input("seed", min_value=0, value=0, key="verify_seed")
    control = c4.selectbox("control concept", ["(automatic)"] + names, key="verify_control")
    d1, d2 = st.columns(2)
    model_dir = d1.text_input("diffusers pipeline (local directory or cached model id)", key="verify_model")
    hard = d1.checkbox("hard renders (world): one instance of the concept, of random size", key="verify_hard",
                       help="By default the world renders 2-3 medium-sized instances, like a detector's top images.")
    # The paper's rule is the default: the layer's mean AR is computed once in the background (and
    # cached); the one-concept result shows at once against the fixed 0.5, then against the mean.
    rule = d2.radio("keep the hypothesis when AR ≥", [MEAN_AR_RULE, "0.5"], key="verify_rule", horizontal=True)
    go = st.form_submit_button("Render and verify", type="primary")

if go:
    with ui.guard("Cannot start the render"):
        # a local pipeline directory only under the data roots (a model id is looked up in its cache)
        options = ({"model": ui.pickers.diffusers_model(model_dir)} if generator_name == "diffusers"
                   else {"hard": bool(hard)})
        generator = ui.get_generator(generator_name, **options)
        ctrl = None if control == "(automatic)" else control
        picked = list(concepts)
        # the layer's keep-threshold job starts once this result is in (below): they would share the CPU
        ui.jobs.start("verify", lambda progress, cancel: ui.reports.verify_many(
            ws, j, picked, generator=generator, m=int(m), seed=int(seed), control=ctrl, threshold=FIXED,
            progress=progress, cancel=cancel), neuron=j, generator=generator, m=int(m), seed=int(seed),
            rule=rule, beta=beta)

done = ui.jobs.watch("verify", f"Verify of neuron {j}: rendering the concept and its control, reading the unit")
if done is not None:
    job, meta = done["job"], done["meta"]
    if job.state == "cancelled":
        st.warning("The render was cancelled; nothing else changed.")
    elif job.state == "failed":
        st.error(f"The render failed: {ui.literal(job.error)}")
    elif meta["neuron"] != j:
        st.caption(f"The last verification was for neuron {meta['neuron']}; run it again for neuron {j}.")
    else:
        results = job.result()
        if meta["rule"] == MEAN_AR_RULE:
            keep = ui.keep_threshold_job(ws, meta["generator"], m=meta["m"], seed=meta["seed"], beta=meta["beta"])
            if ui.jobs.watch_job(keep, "Layer keep-threshold (SIEVE over every selective unit, once per layer)",
                                 key="verify_keep"):
                with ui.guard("The layer keep-threshold failed; verdicts use the fixed 0.5"):
                    run = keep.result()
                    results = ui.reports.judge(results, *ui.reports.keep_threshold(run, FIXED))
            else:
                results = ui.reports.judge(results, FIXED, f"fixed {FIXED:g} while the layer's mean AR is computed "
                                                           "(verdicts update when it is ready)")
        else:
            results = ui.reports.judge(results, FIXED, f"fixed {FIXED:g}")
        ui.remember_verdicts(ctx, results)
        table = ui.reports.verify_rows(results)
        st.dataframe(table, hide_index=True, key="verify_results",
                     column_config={c: st.column_config.NumberColumn(format="%.3f") for c in table.columns
                                    if table[c].dtype.kind == "f"})
        for r in results:
            st.markdown(":green-badge[verified]" if r.passed else ":red-badge[rejected]")
            st.text(f"{r.concept}: AR {r.ar:.2f} [{r.interval[0]:.2f}, {r.interval[1]:.2f}] vs control "
                    f"{r.control} {r.control_ar:.2f} [{r.control_interval[0]:.2f}, {r.control_interval[1]:.2f}]; "
                    f"threshold {r.threshold:.2f} ({r.threshold_source}); top-1% activation "
                    f"{r.activation_threshold:.3g}.")
            with ui.guard("Cannot show the renders"):
                images = ui.rendered_images(ws, r.concept, meta["generator"], meta["m"], meta["seed"])
                if images is not None:
                    ui.image_grid(images[:20], [f"{a:.2f}{' ✓' if a > r.activation_threshold else ''}"
                                                for a in r.activations[:20]], columns=10, size=80)
        ui.downloads(table, f"verify_neuron{j}", key="verify_dl")

# ---- layer table ---------------------------------------------------------------------------------------
st.subheader("Mean AR per explanation source (this layer)")
st.caption("Every source explains SIEVE's selective neurons; ARs are measured on fresh renders (world renderer).")
if st.button("Compute the layer's mean-AR table", key="verify_layer_go"):
    st.session_state["nd__verify_layer"] = True
if st.session_state.get("nd__verify_layer"):
    with ui.guard("The layer table failed"):
        bar = st.progress(0.0, text="SIEVE over the layer…")
        table = ui.sieve_layer_table(ws, beta=beta, progress=ui.progress_callback(bar))
        bar.empty()
        st.dataframe(table, hide_index=True, key="verify_layer_table")
        ui.downloads(table, f"sieve_layer_{ws.layer}", key="verify_layer_dl")

"""Triage: the queue of units by the severity of their automatic flags, with reasons; manual flags,
status and notes saved in the workspace."""

import streamlit as st

from neurodash import ui

ctx = ui.current()
ws, j = ctx.ws, ctx.neuron
st.header(f"Triage · {ui.literal(ws.layer)}")
st.caption(f"Automatic flags use the sidebar's metric ({ctx.metric}). A flag is unknown until its evidence is "
           "computed: run BE over the layer and the AR measurement below. Severity = Σ weight × strength over raised "
           "flags (low AR 3, unstable BE 2, band overlap 1, not selective 1; strength 0.5–1 by how far past its "
           "threshold); the queue is sorted by it.")
ui.workspace_warnings(ctx)

be = ui.layer_be_section(ctx, "triage")
ar = ui.layer_ar_section(ctx, "triage")
with ui.guard("Cannot compute the automatic flags", stop=True):
    evidence, flags = ui.auto_flags(ctx, be=be, ar=ar)
    table = ui.reports.triage_table(evidence, flags, ui.annotations(ws))
known = [name for name, col in (("BE", "stability"), ("AR", "ar")) if col in evidence]
st.caption("Evidence in the flags: band and selectivity" + (", " + " and ".join(known) if known else
                                                           " (BE and AR not computed yet)") + ".")

# ---- the current neuron's record --------------------------------------------------------------------
st.subheader(f"Neuron {j}")
row = table[table["neuron"] == j].iloc[0]
a, b, c = st.columns(3)
a.metric("severity", f"{row['severity']:.2f}", f"rank {int(table.index[table['neuron'] == j][0]) + 1} of {len(table)}",
         delta_color="off", delta_arrow="off")
b.metric(f"chosen concept ({ctx.metric})", ui.literal(row["concept"]), f"score {row['score']:.3f}", delta_color="off",
         delta_arrow="off")
c.metric("gap to runner-up / band", f"{row['gap']:.3f} / {row['band']:.3f}")
if row["reasons"]:
    st.dataframe({"reason": row["reasons"].split(ui.triage.REASON_SEP)}, hide_index=True, key="triage_reasons")
else:
    st.caption("No automatic flag raised on the evidence computed so far.")
note = ui.annotation(ws, j)
flag_choices = list(dict.fromkeys(list(ui.triage.FLAGS.values()) + ["polysemantic", "dead", "interesting"]
                                  + list(note.flags)))
with st.form(f"triage_form_{j}"):
    c1, c2 = st.columns([1, 2])
    status = c1.selectbox("status", ui.STATUSES, index=ui.STATUSES.index(note.status) if note.status in ui.STATUSES else 0,
                          key=f"triage_status_{j}")
    manual = c2.multiselect("manual flags", flag_choices, default=list(note.flags), key=f"triage_flags_{j}",
                            accept_new_options=True)
    text = st.text_area("note", value=note.note, key=f"triage_note_{j}")
    save = st.form_submit_button("Save", type="primary")
if save:
    with ui.guard("Could not save; nothing was changed"):
        saved = ws.annotations.update(j, status=status, flags=manual, note=text)
        st.success(f"Saved neuron {j} ({saved.updated}).")
        table = ui.reports.triage_table(evidence, flags, ui.annotations(ws))
if row["auto_flags"] and st.button("Copy the automatic flags into the manual flags", key="triage_copy"):
    with ui.guard("Could not save; nothing was changed"):
        ws.annotations.update(j, add_flags=[f.strip() for f in row["auto_flags"].split(",")])
        st.rerun()

# ---- every neuron ------------------------------------------------------------------------------------
st.subheader("Queue: most severe first")
f1, f2 = st.columns(2)
only_flagged = f1.checkbox("only neurons with automatic flags", key="triage_only_flagged")
only_noted = f2.checkbox("only neurons with a saved record", key="triage_only_noted")
shown = table
if only_flagged:
    shown = shown[shown["n_flags"] > 0]
if only_noted:
    shown = shown[shown["updated"] != ""]
st.caption(f"{len(shown)} of {len(table)} units; {int((table['n_flags'] > 0).sum())} with automatic flags. "
           "Click a row to open its unit here.")
event = st.dataframe(shown, hide_index=True, key="triage_table", on_select="rerun", selection_mode="single-row",
                     column_config={**{c: st.column_config.NumberColumn(format="%.3f")
                                       for c in ("score", "gap", "band", "stability", "ar", "severity") if c in shown},
                                    "severity": st.column_config.ProgressColumn(
                                        "severity", format="%.2f", min_value=0.0,
                                        max_value=float(sum(ui.triage.WEIGHTS.values())))})
if event is not None and event.selection.rows:
    ui.open_neuron(int(shown.iloc[event.selection.rows[0]]["neuron"]), page="views/triage.py")
ui.downloads(table, f"triage_{ws.layer}", key="triage_dl")

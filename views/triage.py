"""Triage: automatic flags for every neuron, plus manual flags, status and notes saved in the workspace."""

import streamlit as st

from neurodash import ui

ctx = ui.current()
ws, j = ctx.ws, ctx.neuron
st.header(f"Triage · {ws.layer}")
st.caption("Automatic flags use the sidebar's metric (" + ctx.metric + "). A flag is blank until its evidence is "
           "computed: run BE and the AR measurement below. " +
           "; ".join(f"**{v}**" for v in ui.triage.FLAGS.values()) + ".")

be = ui.layer_be_section(ctx, "triage")
ar = ui.layer_ar_section(ctx, "triage")
with ui.guard("Cannot compute the automatic flags", stop=True):
    evidence, flags = ui.auto_flags(ctx, be=be, ar=ar, sanity=True)
    table = ui.reports.triage_table(evidence, flags, ui.annotations(ws))

# ---- the current neuron's record --------------------------------------------------------------------
st.subheader(f"Neuron {j}")
row = table[table["neuron"] == j].iloc[0]
st.markdown(f"Automatic flags: **{row['auto_flags'] or 'none raised'}**  ·  chosen concept `{row['concept']}` "
            f"({ctx.metric} {row['score']:.3f}, gap to runner-up {row['gap']:.3f}, band {row['band']:.3f})")
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
        st.success(f"Saved neuron {j}: {saved.status}" + (f", flags {', '.join(saved.flags)}" if saved.flags else "")
                   + f" ({saved.updated}).")
        table = ui.reports.triage_table(evidence, flags, ui.annotations(ws))
if row["auto_flags"] and st.button("Copy the automatic flags into the manual flags", key="triage_copy"):
    with ui.guard("Could not save; nothing was changed"):
        ws.annotations.update(j, add_flags=[f.strip() for f in row["auto_flags"].split(",")])
        st.rerun()

# ---- every neuron ------------------------------------------------------------------------------------
st.subheader("All neurons")
f1, f2 = st.columns(2)
only_flagged = f1.checkbox("only neurons with automatic flags", key="triage_only_flagged")
only_noted = f2.checkbox("only neurons with a saved record", key="triage_only_noted")
shown = table
if only_flagged:
    shown = shown[shown["n_flags"] > 0]
if only_noted:
    shown = shown[shown["updated"] != ""]
event = st.dataframe(shown, hide_index=True, key="triage_table", on_select="rerun", selection_mode="single-row",
                     column_config={c: st.column_config.NumberColumn(format="%.4f")
                                    for c in ("score", "gap", "band", "stability", "ar") if c in shown})
if event is not None and event.selection.rows:
    ui.open_neuron(int(shown.iloc[event.selection.rows[0]]["neuron"]), page="views/triage.py")
ui.downloads(table, f"triage_{ws.layer}", key="triage_dl")

"""The Neuron page header (the explanation at one glance), the sidebar metric driving the page,
previous/next, and severity-ranked flags in the Triage queue (AppTest)."""

from neurodash import analysis
from tests.helpers import app_test, chart_title, concept_panels, frame, open_page, run_query, svg_charts


def _metric(at, label: str):
    return next(m for m in at.main.metric if m.label == label)


def _workspace(home):
    """The workspace the app opens by default (other tests may have added others to this home)."""
    import os
    from dataclasses import replace

    from neurodash.recipe import Recipe
    from neurodash.workspace import Workspace

    recipe = replace(Recipe.default(), probe_n=int(os.environ["NEURODASH_PROBE_SIZE"]))
    return Workspace.open(recipe, home=str(home))


def _plain(text: str) -> str:
    return text.replace("\\", "")  # the header escapes markdown characters


def test_header_shows_the_explanation_and_its_status(ready_home):
    at = run_query(app_test(), neuron=3)
    ws = _workspace(ready_home)
    row = analysis.layer_table(ws, metrics=["iou"]).set_index("neuron").loc[3]
    expl = _metric(at, "explanation (iou)")
    assert _plain(expl.value) == row["iou_concept"]
    assert f"iou {row['iou_score']:.3f}" in _plain(expl.proto.delta)
    assert _metric(at, "BE stability").value == "not run"
    assert _metric(at, "SIEVE verdict").value == "not run"
    assert _metric(at, "triage status").value == "unreviewed"
    # status metrics carry no arrow and no colour
    from streamlit.proto.Metric_pb2 import Metric

    for label in ("explanation (iou)", "BE stability", "SIEVE verdict", "triage status", "flag severity"):
        m = _metric(at, label)
        assert m.proto.direction == Metric.MetricDirection.NONE and m.proto.color == Metric.MetricColor.GRAY, label


def test_the_sidebar_metric_drives_chart_header_and_be(ready_home):
    at = run_query(app_test(), neuron=2)
    at.selectbox(key="nd_metric").set_value("recall").run()
    assert not at.exception, at.exception
    assert _metric(at, "explanation (recall)")
    concepts = next(c for c in svg_charts(at) if "Top concepts" in chart_title(c))
    assert [title.split(" ")[0] for title in concept_panels(concepts)] == ["recall"]
    at.number_input(key="be_K").set_value(20)
    next(b for b in at.get("button") if getattr(b, "label", "") == "Run BE (recall)").click().run()
    assert not at.exception, at.exception
    titles = [chart_title(c) for c in svg_charts(at)]
    assert any("BE winners (recall, K=20" in t for t in titles), titles
    assert _metric(at, "BE stability").value.startswith("stability")
    assert at.query_params["metric"] == "recall"


def test_previous_and_next(ready_home):
    at = run_query(app_test(), neuron=4)
    at.button(key="nd__next").click().run()
    assert at.header[0].value.startswith("Neuron 5 ·") and at.query_params["neuron"] == "5"
    at.button(key="nd__prev").click().run()
    at.button(key="nd__prev").click().run()
    assert at.header[0].value.startswith("Neuron 3 ·")
    run_query(at, neuron=0)
    at2 = run_query(app_test(), neuron=0)
    assert at2.button(key="nd__prev").disabled


def test_triage_queue_sorted_by_severity_with_reasons(ready_home):
    at = open_page("views/triage.py")
    table = frame(at, "auto_flags")
    assert {"severity", "auto_flags", "reasons"} <= set(table.columns)
    sev = table["severity"].tolist()
    assert sev == sorted(sev, reverse=True)
    assert not table["auto_flags"].str.contains("sanity").any()  # workspace-wide, never per unit
    flagged = table[table["n_flags"] > 0]
    assert (flagged["reasons"] != "").all() and (table.loc[table["n_flags"] == 0, "severity"] == 0).all()


def test_measure_ar_feeds_the_flags(ready_home):
    at = app_test()
    at.run()
    at.switch_page("views/triage.py")
    at.run()
    at.number_input(key="triage_ar_m").set_value(4)
    next(b for b in at.get("button") if getattr(b, "label", "") == "Measure AR (world renderer)").click().run()
    assert not at.exception, at.exception
    assert not [e for e in at.error if "AR" in e.value], [e.value for e in at.error]
    table = frame(at, "auto_flags")
    assert table["ar"].notna().all() and table["ar"].between(0, 1).all()
    low = table[table["ar"] < 0.5]
    assert low["auto_flags"].str.contains("low AR").all()
    assert low["reasons"].str.contains("low AR: renders of the concept fire it").all()
